package com.licsrv.client;

import com.licsrv.client.internal.Ed25519;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The vendor root public keys that licenses, accounts and certificates must be signed by.
 *
 * <p>{@link #builtIn()} is the store embedded in the jar at build time (the project's
 * {@code keys/trusted/*.pem}); {@link #fromFiles} replaces it, like every tool's
 * {@code --trust FILE}. Immutable and thread-safe.
 *
 * <pre>{@code
 * TrustStore trust = TrustStore.fromFiles(List.of(Path.of("/etc/reports/vendor.pub.pem")));
 * }</pre>
 */
public final class TrustStore {
  /** At most this many keys in one store (as liblic). */
  public static final int MAX_KEYS = 64;
  private final List<byte[]> keys;

  private TrustStore(List<byte[]> keys) {
    this.keys = keys;
  }

  /**
   * A store of the given SubjectPublicKeyInfo PEM files (Ed25519 public keys).
   *
   * @param pemFiles one or more PEM files
   * @return the store
   * @throws IOException when a file cannot be read
   * @throws FormatException when a file is not an Ed25519 public key
   * @throws IllegalArgumentException when no file or more than {@link #MAX_KEYS} are given
   */
  public static TrustStore fromFiles(Collection<Path> pemFiles) throws IOException {
    List<byte[]> k = new ArrayList<>();
    for (Path p : pemFiles) {
      Objects.requireNonNull(p, "pemFiles");
      if (Files.size(p) > 64 * 1024) {
        throw new FormatException(p + ": too large for a public key", -1);
      }
      try {
        k.add(Ed25519.rawFromPem(Files.readString(p, StandardCharsets.US_ASCII)));
      } catch (FormatException e) {
        throw new FormatException(p + ": " + e.getMessage(), e.offset());
      }
    }
    return of(k);
  }

  /**
   * A store of raw 32-byte Ed25519 public keys (copied).
   *
   * @param rawKeys the keys
   * @return the store
   * @throws IllegalArgumentException when a key is not 32 bytes or there are too many
   */
  public static TrustStore ofRawKeys(Collection<byte[]> rawKeys) {
    return of(new ArrayList<>(rawKeys));
  }

  private static TrustStore of(List<byte[]> k) {
    if (k.size() > MAX_KEYS) {
      throw new IllegalArgumentException("at most " + MAX_KEYS + " trusted keys");
    }
    List<byte[]> copy = new ArrayList<>();
    for (byte[] r : k) {
      if (r.length != 32) {
        throw new IllegalArgumentException("an Ed25519 public key is 32 bytes");
      }
      copy.add(r.clone());
    }
    return new TrustStore(List.copyOf(copy));
  }

  /**
   * The store compiled into the jar (resource {@code /com/licsrv/client/trusted/index}).
   *
   * @return the built-in store, empty when the build shipped no key
   */
  public static TrustStore builtIn() {
    List<byte[]> k = new ArrayList<>();
    try (InputStream idx = TrustStore.class.getResourceAsStream("trusted/index")) {
      if (idx != null) {
        for (String name : new String(idx.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
          if (name.isBlank()) {
            continue;
          }
          try (InputStream in = TrustStore.class.getResourceAsStream("trusted/" + name.trim())) {
            if (in != null) {
              k.add(Ed25519.rawFromPem(new String(in.readAllBytes(), StandardCharsets.US_ASCII)));
            }
          }
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException("cannot read the built-in trust store", e);
    }
    return of(k);
  }

  /**
   * The raw keys (copies), for objects that carry no key id (designer activation codes).
   *
   * @return the 32-byte Ed25519 public keys
   */
  public List<byte[]> rawKeys() {
    List<byte[]> out = new ArrayList<>();
    for (byte[] k : keys) {
      out.add(k.clone());
    }
    return out;
  }

  /** @return how many keys the store holds */
  public int size() {
    return keys.size();
  }

  /**
   * The key with this key id.
   *
   * @param kid 8 bytes
   * @return the raw key (a copy), or empty
   */
  public Optional<byte[]> find(byte[] kid) {
    for (byte[] k : keys) {
      if (Arrays.equals(Ed25519.kid(k), kid)) {
        return Optional.of(k.clone());
      }
    }
    return Optional.empty();
  }
}
