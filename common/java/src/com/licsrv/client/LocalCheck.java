package com.licsrv.client;

import com.licsrv.client.internal.ClockMark;
import com.licsrv.client.internal.Machine;
import com.licsrv.client.internal.Terms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
 *
 * <p>What a report server must do beyond that: keep a state directory and check with
 * {@link #check(License, String, long, Optional, Optional, Clock, Path, TrustStore, Optional)},
 * which also keeps the clock's high-water mark there (a clock set back more than an hour reads
 * {@link Status#CLOCK_ROLLBACK}, so a license cannot be stretched by setting the clock back) and
 * honours the newest vendor revocation list seen (the one shipped beside the product, or kept
 * from before: {@link Revocations}); a license on it reads {@link Status#REVOKED}. That is
 * {@code licctl check --state DIR --revocations F}, with the same files.
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

  /**
   * The whole offline check, as {@code licctl check} does it: the clock mark in
   * {@code stateDir/clock} first (more than an hour behind it: {@link Status#CLOCK_ROLLBACK}),
   * then the newest revocation list (the given file, kept in {@code stateDir} when newer than the
   * kept one, or the kept one: {@link Revocations#remember}; the license on it:
   * {@link Status#REVOKED}), then {@link #check(License, String, long, Optional, Optional,
   * Clock)}.
   *
   * @param lic the license, from {@link License#read}
   * @param domain the access domain name the report server answers on
   * @param port its port
   * @param app the application name, if any
   * @param version the product version ({@code 11.0.18}; its leading number is the major)
   * @param clock the clock
   * @param stateDir the state directory (created 0700 when missing)
   * @param trust the vendor root keys the revocation list must be signed by
   * @param revocations a revocation list file shipped beside the product, if any
   * @return the outcome
   * @throws IOException when this machine's identity, the list file or the state directory
   *     cannot be read or written
   * @throws VerifyException when the given list does not verify (forged, damaged, not a list), a
   *     different list is kept under its seq, the kept list or the clock mark is damaged
   * @throws IllegalArgumentException when the license is not a local one
   */
  public static Result check(License lic, String domain, long port, Optional<String> app,
      Optional<String> version, Clock clock, Path stateDir, TrustStore trust,
      Optional<Path> revocations) throws IOException, VerifyException {
    Objects.requireNonNull(lic, "lic");
    Objects.requireNonNull(stateDir, "stateDir");
    if (lic.mode() != License.Mode.LOCAL) {
      return check(lic, domain, port, app, version, clock); // throws the mode's message
    }
    long now = clock.instant().getEpochSecond();
    Optional<String> behind = ClockMark.check(stateDir, now);
    Optional<byte[]> file = Optional.empty();
    if (revocations.isPresent()) {
      file = Optional.of(Files.readAllBytes(revocations.get()));
    }
    Optional<Revocations> rv = Revocations.remember(stateDir, file, trust);
    if (behind.isPresent()) {
      return new Result(Status.CLOCK_ROLLBACK, behind.get());
    }
    if (rv.isPresent() && rv.get().hasLicense(lic.id())) {
      return new Result(Status.REVOKED, "the license is on the vendor's revocation list (seq "
          + rv.get().seq() + ")");
    }
    return check(lic, domain, port, app, version, clock);
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
