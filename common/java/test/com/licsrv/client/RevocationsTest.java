package com.licsrv.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.VerifyException.Reason;
import com.licsrv.client.internal.Ed25519;
import com.licsrv.client.internal.Envelope;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.MpWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.Base64;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The signed revocation list in Java: the vector of tests/vectors/ (test_vectors_revocations.c
 * checks the same bytes in C), forgeries refused, and the newest-list rule of
 * lic_revocations_remember on the same state file; the local check's clock mark and list.
 */
class RevocationsTest {
  private static final UUID LOCAL_LICENSE = UUID.fromString("10111213-1415-1617-1819-1a1b1c1d1e1f");
  private static final UUID ACCOUNT = UUID.fromString("30313233-3435-3637-3839-3a3b3c3d3e3f");
  private static final UUID OTHER = UUID.fromString("50515253-5455-5657-5859-5a5b5c5d5e5f");

  @TempDir Path dir;

  private static PrivateKey testRoot() throws Exception {
    String pem = new String(Files.readAllBytes(Vectors.testKey("test-root.pem")),
        StandardCharsets.US_ASCII);
    String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    return KeyFactory.getInstance("Ed25519").generatePrivate(
        new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
  }

  /** A list body: seq, license ids, then (product, serial) pairs. */
  private static byte[] body(long seq, UUID[] licenses, long[][] activations) {
    MpWriter w = new MpWriter().map(6).str("typ").str("revocations").str("seq").integer(seq)
        .str("issued").integer(1767225600L).str("licenses").array(licenses.length);
    for (UUID u : licenses) {
      w.bin(Ids.bytes(u));
    }
    w.str("accounts").array(0).str("activations").array(activations.length);
    for (long[] a : activations) {
      w.array(2).integer(a[0]).integer(a[1]);
    }
    return w.toBytes();
  }

  private static byte[] list(long seq, PrivateKey key, byte[] kidOf, UUID... licenses)
      throws Exception {
    return FakeServer.seal("revocations", body(seq, licenses, new long[][] {{7, 4242}}), key,
        Ed25519.kid(kidOf));
  }

  private static byte[] rootRaw() {
    return Vectors.testRoot().rawKeys().get(0);
  }

  @Test
  void vectorReadsArmoredAndRawAsInC() throws Exception {
    for (String f : new String[] {"revocations.rev", "revocations.msgpack"}) {
      Revocations r = Revocations.read(Vectors.read(f), Vectors.testRoot());
      assertEquals(2, r.seq());
      assertEquals(1767225600L, r.issued());
      assertEquals(4, r.size());
      assertTrue(r.hasLicense(LOCAL_LICENSE));
      assertFalse(r.hasLicense(ACCOUNT));
      assertTrue(r.hasAccount(ACCOUNT));
      assertTrue(r.hasActivation(7, 4242));
      assertTrue(r.hasActivation(255, 4294967295L));
      assertFalse(r.hasActivation(7, 4241));
      assertFalse(r.hasActivation(-1, 4242));
    }
    // the envelope holds the body vector byte for byte
    assertArrayEquals(Vectors.read("revocations.body.msgpack"),
        Envelope.decode(Vectors.read("revocations.msgpack")).body());
  }

  @Test
  void forgeriesAreRefused() throws Exception {
    byte[] env = Vectors.read("revocations.msgpack");
    VerifyException e = assertThrows(VerifyException.class,
        () -> Revocations.read(env, TrustStore.ofRawKeys(java.util.List.of(new byte[32]))));
    assertEquals(Reason.UNTRUSTED, e.reason());
    byte[] flipped = env.clone();
    flipped[flipped.length - 80] ^= 1; // the body's last bytes (then "sig" and 66 bytes)
    e = assertThrows(VerifyException.class, () -> Revocations.read(flipped, Vectors.testRoot()));
    assertEquals(Reason.SIGNATURE, e.reason());
    // another key claiming the root's kid
    PrivateKey other = KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPrivate();
    e = assertThrows(VerifyException.class,
        () -> Revocations.read(list(5, other, rootRaw(), LOCAL_LICENSE), Vectors.testRoot()));
    assertEquals(Reason.SIGNATURE, e.reason());
    // a license is not a list
    e = assertThrows(VerifyException.class,
        () -> Revocations.read(Vectors.read("license-local.lic"), Vectors.testRoot()));
    assertEquals(Reason.TYPE, e.reason());
  }

  @Test
  void newestListWinsInTheStateDirectory() throws Exception {
    PrivateKey root = testRoot();
    TrustStore t = Vectors.testRoot();
    Path state = dir.resolve("state");
    assertTrue(Revocations.remember(state, Optional.empty(), t).isEmpty());
    byte[] one = list(1, root, rootRaw(), OTHER);
    byte[] two = list(2, root, rootRaw(), OTHER, LOCAL_LICENSE);
    assertEquals(1, Revocations.remember(state, Optional.of(one), t).get().seq());
    Path kept = state.resolve(Revocations.FILE);
    assertArrayEquals(one, Files.readAllBytes(kept));
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(kept)));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(state)));
    Revocations r = Revocations.remember(state, Optional.of(two), t).get();
    assertTrue(r.hasLicense(LOCAL_LICENSE));
    assertArrayEquals(two, Files.readAllBytes(kept));
    // older: ignored, the kept one answers; the same list again: nothing changes
    assertEquals(2, Revocations.remember(state, Optional.of(one), t).get().seq());
    assertEquals(2, Revocations.remember(state, Optional.of(two), t).get().seq());
    assertArrayEquals(two, Files.readAllBytes(kept));
    // the same seq with other content: refused
    VerifyException e = assertThrows(VerifyException.class, () -> Revocations.remember(state,
        Optional.of(list(2, root, rootRaw(), OTHER)), t));
    assertEquals(Reason.MISMATCHED, e.reason());
    assertTrue(e.getMessage().contains("seq 2 is already kept"), e.getMessage());
    // forged with a higher seq: refused, nothing changes
    PrivateKey other = KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPrivate();
    assertThrows(VerifyException.class, () -> Revocations.remember(state,
        Optional.of(list(9, other, rootRaw(), OTHER)), t));
    assertArrayEquals(two, Files.readAllBytes(kept));
    // the kept one alone
    assertEquals(2, Revocations.remember(state, Optional.empty(), t).get().seq());
    // a damaged kept copy fails closed, and says how to start over
    byte[] bad = two.clone();
    bad[bad.length - 1] ^= 1;
    Files.write(kept, bad);
    e = assertThrows(VerifyException.class, () -> Revocations.remember(state, Optional.empty(), t));
    assertTrue(e.getMessage().contains("remove it to start over"), e.getMessage());
    // armored input is read like raw
    Files.delete(kept);
    assertEquals(2, Revocations.remember(state, Optional.of(Vectors.read("revocations.rev")), t)
        .get().seq());
  }

  private static Clock at(long t) {
    return Clock.fixed(Instant.ofEpochSecond(t), ZoneOffset.UTC);
  }

  @Test
  void localCheckHonoursTheListAndTheClockMark() throws Exception {
    License lic = License.read(Vectors.read("license-local.lic"), Vectors.testRoot());
    Path state = dir.resolve("check");
    Path rev = dir.resolve("r.rev");
    Files.write(rev, Vectors.read("revocations.rev")); // names this license
    long now = 1790000000L;
    LocalCheck.Result r = LocalCheck.check(lic, "reports.example.com", 443, Optional.empty(),
        Optional.empty(), at(now), state, Vectors.testRoot(), Optional.of(rev));
    assertEquals(Status.REVOKED, r.status());
    assertEquals("the license is on the vendor's revocation list (seq 2)", r.reason());
    assertEquals(now + "\n", Files.readString(state.resolve("clock")));
    // the list file gone: the kept copy still counts
    Files.delete(rev);
    r = LocalCheck.check(lic, "reports.example.com", 443, Optional.empty(), Optional.empty(),
        at(now + 10), state, Vectors.testRoot(), Optional.empty());
    assertEquals(Status.REVOKED, r.status());
    // the clock set back two hours: clock_rollback, and the mark stays
    r = LocalCheck.check(lic, "reports.example.com", 443, Optional.empty(), Optional.empty(),
        at(now + 10 - 7200), state, Vectors.testRoot(), Optional.empty());
    assertEquals(Status.CLOCK_ROLLBACK, r.status());
    assertTrue(r.reason().startsWith("this machine's clock is 2h00m behind"), r.reason());
    assertEquals((now + 10) + "\n", Files.readString(state.resolve("clock")));
    // within the hour: not a rollback (the license then decides)
    r = LocalCheck.check(lic, "reports.example.com", 443, Optional.empty(), Optional.empty(),
        at(now + 10 - 3000), state, Vectors.testRoot(), Optional.empty());
    assertEquals(Status.REVOKED, r.status());
    // a damaged mark fails closed
    Files.writeString(state.resolve("clock"), "soon\n");
    VerifyException e = assertThrows(VerifyException.class, () -> LocalCheck.check(lic,
        "reports.example.com", 443, Optional.empty(), Optional.empty(), at(now), state,
        Vectors.testRoot(), Optional.empty()));
    assertTrue(e.getMessage().contains("not a time"), e.getMessage());
    assertFalse(Arrays.equals(new byte[0], Files.readAllBytes(state.resolve(Revocations.FILE))));
  }

  @Test
  void sessionKeepsTheListAServerSendsAndReadsRevoked() throws Exception {
    PrivateKey root = testRoot();
    FakeServer f = new FakeServer();
    Path state = dir.resolve("agent");
    Session s = Session.newBuilder(f.verifier().build(), FakeServer.urls("a"))
        .clock(new FakeClock(f.now)).jitter(d -> d).stateDir(state).build();
    long t = f.now.get();
    s.tick(t); // no list anywhere: as before
    Session.Snapshot in = s.snapshot(t);
    assertEquals(Session.State.LICENSED, in.state);
    assertEquals(0, in.revocationsSeq);
    assertEquals(0, f.seenSeq);
    f.revocations = list(2, root, rootRaw(), OTHER);
    f.revocationsSeq = 2;
    s.checkNow();
    s.tick(++t);
    in = s.snapshot(t);
    assertEquals(2, in.revocationsSeq);
    assertEquals(1, in.revocationsEvents);
    assertFalse(in.revocationsRefused);
    assertTrue(in.revocationsNote.contains("seq 2 from http://a:7470 kept"), in.revocationsNote);
    assertArrayEquals(f.revocations, Files.readAllBytes(state.resolve(Revocations.FILE)));
    s.checkNow();
    s.tick(++t); // the kept seq goes out: not sent again
    assertEquals(2, f.seenSeq);
    assertEquals(1, s.snapshot(t).revocationsEvents);
    // forged: another key under the root's kid, naming our license
    PrivateKey other = KeyPairGenerator.getInstance("Ed25519").generateKeyPair().getPrivate();
    f.revocations = list(3, other, rootRaw(), OTHER, f.licenseId);
    f.revocationsSeq = 3;
    s.checkNow();
    s.tick(++t);
    in = s.snapshot(t);
    assertEquals(Session.State.LICENSED, in.state);
    assertEquals(2, in.revocationsSeq);
    assertTrue(in.revocationsRefused);
    assertTrue(in.revocationsNote.contains("ignored"), in.revocationsNote);
    // genuine, naming our license; the server still says valid
    f.revocations = list(3, root, rootRaw(), OTHER, f.licenseId);
    s.checkNow();
    s.tick(++t);
    in = s.snapshot(t);
    assertEquals(Session.State.UNLICENSED, in.state);
    assertEquals("revoked", in.reasonName());
    assertEquals("the license is on the vendor's revocation list (seq 3)", in.detail);
    assertEquals(3, in.revocationsSeq);
    // a restart reads revoked before any check, and so does the state read alone
    Session r = Session.newBuilder(f.verifier().build(), FakeServer.urls("a"))
        .clock(new FakeClock(f.now)).stateDir(state).build();
    assertEquals("revoked", r.snapshot(t).reasonName());
    assertEquals("revoked",
        Session.readState(state, Vectors.testRoot(), Optional.of(f.verifier().build()),
            new FakeClock(f.now)).reasonName());
  }
}
