package com.licsrv.client;

import java.security.GeneralSecurityException;

/**
 * No trustworthy answer: a signature, a key, a chain or an exchange did not check.
 *
 * <p>A signed denial is not an exception (it is a {@link Verdict} with a status other than
 * {@link Status#VALID}); this is thrown when nothing that can be trusted was obtained. The
 * {@link #reason()} names the class of failure the same way liblic's error codes do, so C and
 * Java refuse a forged object for the same reason. Instances are immutable and thread-safe.
 *
 * <pre>{@code
 * try {
 *   Verdict v = verifier.verify(URI.create("https://licsrv.example.com:7470"));
 * } catch (VerifyException e) {
 *   log.warn("license check failed ({}): {}", e.reason(), e.getMessage());
 * }
 * }</pre>
 */
public final class VerifyException extends GeneralSecurityException {
  /** Serialization version. */
  private static final long serialVersionUID = 1L;

  /** Why nothing trustworthy was obtained (liblic's LIC_* error of the same name). */
  public enum Reason {
    /** Malformed bytes (liblic LIC_FORMAT / LIC_LIMIT). */
    FORMAT,
    /** An object of another type than expected (LIC_TYPE). */
    TYPE,
    /** Signed by a key that is not trusted (LIC_UNTRUSTED). */
    UNTRUSTED,
    /** The Ed25519 signature does not check (LIC_SIGNATURE). */
    SIGNATURE,
    /** A checked answer that does not answer our question (LIC_MISMATCHED). */
    MISMATCHED,
    /** Outside its validity window (LIC_EXPIRED). */
    EXPIRED,
    /** Network, TLS or HTTP failure (LIC_IO / LIC_DENIED). */
    IO,
    /** A bad argument or option (LIC_INVALID). */
    INVALID
  }

  /** The class of failure. */
  private final Reason reason;

  /**
   * A failed check.
   *
   * @param reason the class of failure
   * @param message what failed, for people (never a secret)
   */
  public VerifyException(Reason reason, String message) {
    super(message);
    this.reason = reason;
  }

  /**
   * A failed check with its cause.
   *
   * @param reason the class of failure
   * @param message what failed, for people
   * @param cause the underlying exception
   */
  public VerifyException(Reason reason, String message, Throwable cause) {
    super(message, cause);
    this.reason = reason;
  }

  /** @return the class of failure */
  public Reason reason() {
    return reason;
  }
}
