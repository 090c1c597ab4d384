package com.licsrv.client;

import java.util.Locale;
import java.util.Optional;

/**
 * The status of a verdict or of a local check, as on the wire (docs/formats.md).
 *
 * <p>Enum constants are immutable and thread-safe.
 *
 * <pre>{@code
 * if (verdict.status() == Status.VALID) { ... }
 * Status s = Status.fromWire("seats_exhausted").orElseThrow();
 * }</pre>
 */
public enum Status {
  /** The license holds. */
  VALID("license holds"),
  /** The license has expired. */
  EXPIRED("license has expired"),
  /** The license is not valid yet. */
  NOT_YET_VALID("license is not valid yet"),
  /** The domain is not licensed. */
  DOMAIN_DENIED("domain is not licensed"),
  /** The port is not licensed. */
  PORT_DENIED("port is not licensed"),
  /** The application is not licensed. */
  APP_DENIED("application is not licensed"),
  /** The product version is not licensed. */
  VERSION_DENIED("product version is not licensed"),
  /** All node seats are taken. */
  SEATS_EXHAUSTED("all node seats are taken"),
  /** The license was revoked. */
  REVOKED("license was revoked"),
  /** The server holds no such license. */
  UNKNOWN_LICENSE("no such license here"),
  /** The project is not registered (public mode). */
  NOT_REGISTERED("project is not registered"),
  /** The account's registration capacity is full. */
  CAPACITY_EXHAUSTED("account registration capacity is full"),
  /** The account, token or node secret is wrong. */
  BAD_CREDENTIALS("account or token is wrong"),
  /** The server's clock went back. */
  CLOCK_ROLLBACK("server clock went back"),
  /** The license is bound to another machine (local checks). */
  MACHINE_MISMATCH("license is bound to another machine");

  private final String text;

  Status(String text) {
    this.text = text;
  }

  /** @return the wire name, e.g. {@code seats_exhausted} */
  public String wireName() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** @return a short human text for the status */
  public String text() {
    return text;
  }

  /**
   * The status of a wire name.
   *
   * @param wire the wire name
   * @return the status, or empty when unknown
   */
  public static Optional<Status> fromWire(String wire) {
    for (Status s : values()) {
      if (s.wireName().equals(wire)) {
        return Optional.of(s);
      }
    }
    return Optional.empty();
  }
}
