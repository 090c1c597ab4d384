package com.licsrv.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pins and CA files are checked on entry. */
class TlsTest {
  @TempDir
  Path dir;

  @Test
  void aPinIsSha256AndBase64OfThirtyTwoBytes() {
    assertEquals(32, Tls.pin("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=").length);
    for (String bad : List.of("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "sha256/short",
        "sha256/!!!!", "sha1/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")) {
      assertThrows(IllegalArgumentException.class, () -> Tls.pin(bad), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> Tls.pins(List.of()));
  }

  @Test
  void aCaFileWithoutCertificatesIsRefused() throws Exception {
    Path f = dir.resolve("empty.pem");
    Files.writeString(f, "not a certificate\n");
    assertThrows(java.security.GeneralSecurityException.class, () -> Tls.caFile(f));
  }
}
