package com.licsrv.client;

import com.licsrv.client.internal.Machine;
import com.licsrv.client.internal.Terms;
import java.io.IOException;
import java.time.Clock;
import java.util.Objects;
import java.util.Optional;

/**
 * The offline check of a local-mode license on this machine: the vendor signature, the
 * machine code and at least one licensed network adapter, the dates, major version, domain,
 * port and application. {@code LIC_SYSROOT} points it at a simulated machine (tests).
 * Immutable and thread-safe.
 *
 * <pre>{@code
 * License lic = License.read(Files.readAllBytes(Path.of("report.lic")), TrustStore.builtIn());
 * LocalCheck.Result r = LocalCheck.check(lic, "reports.example.com", 443,
 *     Optional.empty(), Optional.of("11.0.18"), Clock.systemUTC());
 * if (r.status() != Status.VALID) System.err.println(r.reason());
 * }</pre>
 */
public final class LocalCheck {
  private LocalCheck() {}

  /** The outcome of a check: a status and a short human reason. Immutable. */
  public static final class Result {
    private final Status status;
    private final String reason;

    Result(Status status, String reason) {
      this.status = status;
      this.reason = reason;
    }

    /** @return the status ({@link Status#VALID} when the license holds here) */
    public Status status() {
      return status;
    }

    /** @return a short human reason */
    public String reason() {
      return reason;
    }
  }

  /**
   * Checks a (signature-checked) local license on this machine.
   *
   * @param lic the license, from {@link License#read}
   * @param domain the access domain name the report server answers on
   * @param port its port
   * @param app the application name, if any
   * @param version the product version ({@code 11.0.18}; its leading number is the major)
   * @param clock the clock
   * @return the outcome
   * @throws IOException when this machine's identity cannot be read
   * @throws IllegalArgumentException when the license is not a local one
   */
  public static Result check(License lic, String domain, long port, Optional<String> app,
      Optional<String> version, Clock clock) throws IOException {
    Objects.requireNonNull(lic, "lic");
    Objects.requireNonNull(domain, "domain");
    if (lic.mode() != License.Mode.LOCAL) {
      throw new IllegalArgumentException("this is a " + lic.mode().name().toLowerCase(java.util.Locale.ROOT)
          + " license: report servers check it with 'verify' against the license server");
    }
    long major = version.map(Terms::major).orElse(-1L);
    return check(lic, domain, port, app.orElse(null), major, clock.instant().getEpochSecond());
  }

  static Result check(License lic, String domain, long port, String app, long major, long now)
      throws IOException {
    Machine m = Machine.read();
    if (lic.machineCode().isEmpty() || !m.matches(lic.machineCode().get(), lic.macHashes())) {
      return new Result(Status.MACHINE_MISMATCH, "this machine (" + m.code + ") is not the licensed one");
    }
    Terms.Decision d = Terms.window("license", lic.notBefore(), lic.expires(), now);
    if (d.status == Status.VALID) {
      d = Terms.decide("license", lic.major(), lic.domains(), lic.ports(), lic.apps(),
          new Terms.Ask(domain, port, app, major));
    }
    return new Result(d.status, d.reason);
  }
}
