package com.licsrv.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.internal.Ed25519;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Trust stores: PEM public keys only, looked up by kid. */
class TrustStoreTest {
  @TempDir
  Path dir;

  @Test
  void theTestRootIsFoundByItsKid() {
    TrustStore t = Vectors.testRoot();
    byte[] raw = t.rawKeys().get(0);
    assertTrue(t.find(Ed25519.kid(raw)).isPresent());
    assertTrue(t.find(new byte[8]).isEmpty());
  }

  @Test
  void aPrivateKeyOrGarbageIsNotATrustedKey() throws Exception {
    assertThrows(FormatException.class,
        () -> TrustStore.fromFiles(List.of(Vectors.testKey("test-root.pem"))));
    Path f = dir.resolve("x.pem");
    Files.writeString(f, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
    assertThrows(FormatException.class, () -> TrustStore.fromFiles(List.of(f)));
  }

  @Test
  void theRepositoryShipsNoBuiltInKey() {
    // keys/trusted/ holds only its README: a build trusts nothing until keys are added.
    assertEquals(0, TrustStore.builtIn().size());
  }
}
