package com.licsrv.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The checks of a verify answer: chain, nonce, node, time, lineage. */
class VerifierTest {
  private static final URI A = URI.create("http://a:7470");

  @Test
  void validAnswerForTheNamedLicense() throws Exception {
    FakeServer f = new FakeServer();
    Verdict v = f.verifier().license(f.licenseId).build().verify(A);
    assertEquals(Status.VALID, v.status());
    assertTrue(v.signed());
    assertEquals(f.licenseId, v.license().orElseThrow());
  }

  @Test
  void anotherLicenseWithoutSupersedesIsRefused() throws Exception {
    FakeServer f = new FakeServer();
    f.answerFor = UUID.fromString("99999999-2425-2627-2829-2a2b2c2d2e2f");
    VerifyException e = assertThrows(VerifyException.class,
        () -> f.verifier().license(f.licenseId).build().verify(A));
    assertEquals(VerifyException.Reason.MISMATCHED, e.reason());
    assertEquals("the server answered for another license", e.getMessage());
  }

  @Test
  void aRenewalOfTheNamedLicenseIsAccepted() throws Exception {
    FakeServer f = new FakeServer();
    f.answerFor = UUID.fromString("99999999-2425-2627-2829-2a2b2c2d2e2f");
    f.supersedes = f.licenseId;
    Verdict v = f.verifier().license(f.licenseId).build().verify(A);
    assertEquals(Status.VALID, v.status());
    assertEquals(f.answerFor, v.license().orElseThrow());
  }

  @Test
  void replayedAnswerIsRefusedByItsNonce() throws Exception {
    FakeServer f = new FakeServer();
    Verifier v = f.verifier().build();
    f.replay = f.post(A, v.request(new byte[32]));
    VerifyException e = assertThrows(VerifyException.class, () -> v.verify(A));
    assertEquals(VerifyException.Reason.MISMATCHED, e.reason());
    assertTrue(e.getMessage().contains("replayed"));
  }

  @Test
  void serverClockOffByMoreThanFiveMinutesIsRefused() throws Exception {
    FakeServer f = new FakeServer();
    Verifier v = f.verifier().clock(new FakeClock(new java.util.concurrent.atomic.AtomicLong(
        f.now.get() + 301))).build();
    VerifyException e = assertThrows(VerifyException.class, () -> v.verify(A));
    assertTrue(e.getMessage().startsWith("server time differs from ours"));
  }

  @Test
  void aDenialIsAVerdictNotAnException() throws Exception {
    FakeServer f = new FakeServer();
    f.status = Status.SEATS_EXHAUSTED;
    Verdict v = f.verifier().build().verify(A);
    assertEquals(Status.SEATS_EXHAUSTED, v.status());
    assertFalse(v.features().isEmpty());
  }

  @Test
  void untrustedRootIsRefused() throws Exception {
    FakeServer f = new FakeServer();
    Verifier v = f.verifier().trust(TrustStore.ofRawKeys(java.util.List.of(new byte[32]))).build();
    assertEquals(VerifyException.Reason.UNTRUSTED,
        assertThrows(VerifyException.class, () -> v.verify(A)).reason());
  }

  @Test
  void tokenIsNeverSentOverPlainHttpOffLoopback() throws Exception {
    FakeServer f = new FakeServer();
    Verifier v = f.verifier().account(UUID.randomUUID(), "lsk_x", UUID.randomUUID()).build();
    VerifyException e = assertThrows(VerifyException.class, () -> v.verify(A));
    assertEquals(VerifyException.Reason.INVALID, e.reason());
    assertEquals(0, f.calls.size());
  }

  @Test
  void aRefusedConnectionReadsLikeLiblics() {
    java.io.IOException e = new java.net.ConnectException();
    e.initCause(new java.nio.channels.ClosedChannelException());
    assertEquals("Connection refused", Verifier.describe(e));
    assertEquals("timed out", Verifier.describe(new java.net.http.HttpTimeoutException("x")));
  }
}
