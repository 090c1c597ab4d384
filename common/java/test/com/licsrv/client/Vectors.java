package com.licsrv.client;

import com.licsrv.client.internal.MpWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** The repository's test vectors and test keys (tests/vectors/README.md). */
public final class Vectors {
  private Vectors() {}

  public static Path source() {
    return Path.of(System.getProperty("lic.source", "."));
  }

  public static byte[] read(String name) {
    try {
      return Files.readAllBytes(source().resolve("tests/vectors").resolve(name));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The TEST root key (keys/test/test-root.pub.pem): never trusted by a build. */
  public static TrustStore testRoot() {
    try {
      return TrustStore.fromFiles(List.of(source().resolve("keys/test/test-root.pub.pem")));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static Path testKey(String name) {
    return source().resolve("keys/test").resolve(name);
  }

  /** An envelope built from its four parts (forgeries). */
  public static byte[] envelope(String typ, byte[] kid, byte[] body, byte[] sig) {
    return new MpWriter().map(4).str("typ").str(typ).str("kid").bin(kid).str("body").bin(body)
        .str("sig").bin(sig).toBytes();
  }
}
