package com.licsrv.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.VerifyException.Reason;
import com.licsrv.client.internal.Account;
import com.licsrv.client.internal.Cert;
import com.licsrv.client.internal.Ed25519;
import com.licsrv.client.internal.Envelope;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Machine;
import com.licsrv.client.internal.Mp;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** Every vector under tests/vectors/ checks in Java exactly as in C (test_vectors*.c). */
class VectorsTest {
  private static final long CREATED = 1767225600L;
  private static final long EXPIRES = 1798761600L;

  @Test
  void armoredAndRawLicensesAreTheSameCheckedLicense() throws Exception {
    for (String mode : List.of("local", "private")) {
      License a = License.read(Vectors.read("license-" + mode + ".lic"), Vectors.testRoot());
      License r = License.read(Vectors.read("license-" + mode + ".msgpack"), Vectors.testRoot());
      assertEquals(a.id(), r.id());
      assertEquals(mode.equals("local") ? License.Mode.LOCAL : License.Mode.PRIVATE, a.mode());
    }
  }

  @Test
  void localLicenseFieldsMatchTheFixedInputs() throws Exception {
    License l = License.read(Vectors.read("license-local.lic"), Vectors.testRoot());
    assertEquals(UUID.fromString("10111213-1415-1617-1819-1a1b1c1d1e1f"), l.id());
    assertEquals("Vector Customer GmbH", l.customer());
    assertEquals("Vector Project", l.project());
    assertEquals(UUID.fromString("00112233-4455-6677-8899-aabbccddeeff"), l.projectId());
    assertEquals(11, l.major());
    assertEquals(List.of("export", "pdf"), l.features());
    assertEquals(List.of("reports.example.com", "*.example.org"), l.domains());
    assertEquals(List.of(443L, 8443L), l.ports());
    assertEquals(List.of("sales"), l.apps());
    assertEquals(0, l.maxNodes());
    assertEquals(CREATED, l.issued());
    assertEquals(CREATED, l.notBefore());
    assertEquals(EXPIRES, l.expires());
    assertEquals(7200, l.heartbeat());
    assertEquals(86400, l.grace());
    assertEquals("7D2K-9QWX-M3RT-HB5P", l.machineCode().orElseThrow());
    assertArrayEquals(Machine.macHash(Ed25519.hex("5254001234" + "3f")), l.macHashes().get(0));
    assertArrayEquals(Machine.macHash(Ed25519.hex("001b21abcdef")), l.macHashes().get(1));
    assertTrue(l.nodeKey().isEmpty());
    assertTrue(l.supersedes().isEmpty());
  }

  @Test
  void privateLicenseCarriesTheNodeKey() throws Exception {
    License l = License.read(Vectors.read("license-private.lic"), Vectors.testRoot());
    assertEquals(UUID.fromString("20212223-2425-2627-2829-2a2b2c2d2e2f"), l.id());
    assertEquals(3, l.maxNodes());
    byte[] node = Ed25519.rawFromPem(new String(
        java.nio.file.Files.readAllBytes(Vectors.testKey("test-node.pub.pem")),
        java.nio.charset.StandardCharsets.US_ASCII));
    assertArrayEquals(node, l.nodeKey().orElseThrow());
  }

  @Test
  void licenseNotTrustedWithoutTheTestKey() {
    VerifyException e = assertThrows(VerifyException.class,
        () -> License.read(Vectors.read("license-local.lic"), TrustStore.ofRawKeys(List.of())));
    assertEquals(Reason.UNTRUSTED, e.reason());
    VerifyException b = assertThrows(VerifyException.class,
        () -> License.read(Vectors.read("license-local.lic"), TrustStore.builtIn()));
    assertEquals(Reason.UNTRUSTED, b.reason());
  }

  @Test
  void flippedBodyByteIsRefusedAsABadSignature() {
    for (String v : List.of("license-local.msgpack", "license-private.msgpack")) {
      Envelope e = Envelope.decode(Vectors.read(v));
      byte[] body = e.body();
      body[body.length - 1] ^= 1;
      byte[] forged = Vectors.envelope("license", e.kid(), body, sig(Vectors.read(v)));
      VerifyException x = assertThrows(VerifyException.class,
          () -> License.read(forged, Vectors.testRoot()));
      assertEquals(Reason.SIGNATURE, x.reason(), v);
    }
  }

  @Test
  void wrongKidIsRefusedAsUntrusted() {
    byte[] raw = Vectors.read("license-private.msgpack");
    Envelope e = Envelope.decode(raw);
    byte[] kid = e.kid();
    kid[0] ^= 1;
    VerifyException x = assertThrows(VerifyException.class,
        () -> License.read(Vectors.envelope("license", kid, e.body(), sig(raw)), Vectors.testRoot()));
    assertEquals(Reason.UNTRUSTED, x.reason());
  }

  @Test
  void wrongTypIsRefusedAsAType() {
    byte[] raw = Vectors.read("license-private.msgpack");
    Envelope e = Envelope.decode(raw);
    VerifyException x = assertThrows(VerifyException.class,
        () -> License.read(Vectors.envelope("account", e.kid(), e.body(), sig(raw)), Vectors.testRoot()));
    assertEquals(Reason.TYPE, x.reason());
    // A license envelope whose typ was relabelled as a license-shaped account: signature over
    // another domain string, so an account reader refuses it by signature.
    VerifyException y = assertThrows(VerifyException.class,
        () -> Account.open(Vectors.envelope("account", e.kid(), e.body(), sig(raw)), Vectors.testRoot()));
    assertEquals(Reason.SIGNATURE, y.reason());
  }

  @Test
  void accountVectorChecks() throws Exception {
    Account a = Account.open(com.licsrv.client.internal.Armor.unarmorAny(Vectors.read("account.acct")),
        Vectors.testRoot());
    assertEquals(UUID.fromString("30313233-3435-3637-3839-3a3b3c3d3e3f"), Ids.uuid(a.id));
    assertEquals("Vector Cloud Customer AG", a.customer);
    assertEquals(5, a.capacity);
    assertEquals(List.of("*.example.net"), a.domains);
    assertArrayEquals(Ed25519.sha256("lsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
        .getBytes(java.nio.charset.StandardCharsets.US_ASCII)), a.tokenHash());
  }

  @Test
  void certAndPublicVerdictChainChecks() throws Exception {
    Cert c = Cert.open(com.licsrv.client.internal.Armor.unarmorAny(Vectors.read("cert.cert")),
        Vectors.testRoot());
    assertEquals(825L * 86400, c.expires - c.notBefore);
    assertEquals("verdict", c.role);
    Verdict v = Chain.publicVerdict(Vectors.read("cert.msgpack"), Vectors.read("verdict-public.msgpack"),
        Vectors.testRoot());
    assertEquals(Status.VALID, v.status());
    assertEquals("vector-node", v.node());
    assertEquals(CREATED + 3600, v.time());
    assertEquals(1, v.seatsUsed());
    assertEquals(5, v.seatsMax());
    assertEquals(UUID.fromString("30313233-3435-3637-3839-3a3b3c3d3e3f"), v.account().orElseThrow());
  }

  @Test
  void publicVerdictWithAFlippedByteIsRefused() {
    byte[] raw = Vectors.read("verdict-public.msgpack");
    Envelope e = Envelope.decode(raw);
    byte[] body = e.body();
    body[10] ^= 1;
    VerifyException x = assertThrows(VerifyException.class, () -> Chain.publicVerdict(
        Vectors.read("cert.msgpack"), Vectors.envelope("verdict", e.kid(), body, sig(raw)),
        Vectors.testRoot()));
    assertEquals(Reason.SIGNATURE, x.reason());
  }

  @Test
  void publicVerdictSignedByAnotherKeyThanTheCertsIsMismatched() {
    byte[] raw = Vectors.read("verdict-public.msgpack");
    Envelope e = Envelope.decode(raw);
    byte[] kid = e.kid();
    kid[7] ^= 1;
    VerifyException x = assertThrows(VerifyException.class, () -> Chain.publicVerdict(
        Vectors.read("cert.msgpack"), Vectors.envelope("verdict", kid, e.body(), sig(raw)),
        Vectors.testRoot()));
    assertEquals(Reason.MISMATCHED, x.reason());
  }

  @Test
  void rifIsSelfSignedByItsPubkey() throws Exception {
    Envelope e = Envelope.open(com.licsrv.client.internal.Armor.unarmorAny(Vectors.read("rif.rif")),
        "rif", "a rif");
    Mp.Obj body = e.bodyObj();
    e.verifyWith(body.binx("pubkey", 32));
    assertEquals("licsrv-report", body.str("product", 1, 128));
    assertFalse(body.has("hostname"));
  }

  private static byte[] sig(byte[] env) {
    return Mp.parse(env).binx("sig", 64);
  }

  @Test
  void everyArmoredVectorHoldsItsRawEnvelopeAndEveryEnvelopeItsBody() {
    String[][] sets = {{"rif.rif", "rif.msgpack", "rif.body.msgpack"},
        {"license-local.lic", "license-local.msgpack", "license-local.body.msgpack"},
        {"license-private.lic", "license-private.msgpack", "license-private.body.msgpack"},
        {"account.acct", "account.msgpack", "account.body.msgpack"},
        {"cert.cert", "cert.msgpack", "cert.body.msgpack"}};
    for (String[] v : sets) {
      byte[] raw = Vectors.read(v[1]);
      assertArrayEquals(raw, com.licsrv.client.internal.Armor.unarmorAny(Vectors.read(v[0])), v[0]);
      assertArrayEquals(Vectors.read(v[2]), Envelope.decode(raw).body(), v[2]);
    }
  }

  @Test
  void rawAccountAndCertEnvelopesCheckLikeTheArmoredOnes() throws Exception {
    assertEquals(5, Account.open(Vectors.read("account.msgpack"), Vectors.testRoot()).capacity);
    assertEquals("verdict", Cert.open(Vectors.read("cert.msgpack"), Vectors.testRoot()).role);
  }
}
