package com.licsrv.client;

/**
 * Malformed input: bytes or text that are not a well-formed licsrv object (truncated,
 * oversized, too deep, a wrong type, a duplicate or missing key).
 *
 * <p>Thrown by every reader of the library instead of any JDK exception, with the byte
 * offset where the input went wrong ({@code -1} when no single offset applies). Instances
 * are immutable and thread-safe.
 *
 * <pre>{@code
 * try {
 *   License l = License.read(Files.readAllBytes(path), TrustStore.builtIn());
 * } catch (FormatException e) {
 *   System.err.println("not a license: " + e.getMessage() + " at byte " + e.offset());
 * }
 * }</pre>
 */
public class FormatException extends RuntimeException {
  /** Serialization version. */
  private static final long serialVersionUID = 1L;
  /** The byte offset, or -1. */
  private final long offset;

  /**
   * A malformed-input error.
   *
   * @param message what is wrong, for people
   * @param offset the byte offset, or -1
   */
  public FormatException(String message, long offset) {
    super(message);
    this.offset = offset;
  }

  /** @return the byte offset where the input went wrong, or -1 */
  public long offset() {
    return offset;
  }
}
