package com.licsrv.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The session as a pure state machine under a fake clock and fake servers. */
class SessionTest {
  @TempDir
  Path dir;

  private static Session session(FakeServer f, Path state, String... hosts) {
    Session.Builder b = Session.newBuilder(f.verifier().build(), FakeServer.urls(hosts))
        .clock(new FakeClock(f.now)).jitter(d -> d);
    if (state != null) {
      b.stateDir(state);
    }
    return b.build();
  }

  @Test
  void beforeAnyCheckItIsUnlicensedNoVerdict() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    assertEquals(Session.State.UNLICENSED, s.state());
    assertEquals(Session.Reason.NO_VERDICT, s.snapshot(f.now.get()).reason);
  }

  @Test
  void validVerdictLicensesUntilItsHeartbeatThenStale() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    long t0 = f.now.get();
    assertEquals(t0 + 100, s.tick(t0));
    assertEquals(Session.State.LICENSED, s.snapshot(t0 + 99).state);
    Session.Snapshot later = s.snapshot(t0 + 100);
    assertEquals(Session.State.GRACE, later.state);
    assertEquals(Session.Reason.STALE, later.reason);
    assertEquals(t0 + 1000, later.graceUntil);
    assertEquals(List.of("pdf"), later.features);
  }

  @Test
  void failedChecksKeepGraceAndUnlicensedExactlyAtGraceUntil() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    long t0 = f.now.get();
    s.tick(t0);
    f.down.add("a");
    long t = t0 + 100;
    long wake = s.tick(t);
    Session.Snapshot g = s.snapshot(t);
    assertEquals(Session.State.GRACE, g.state);
    assertEquals(Session.Reason.CHECK_FAILED, g.reason);
    assertTrue(g.lastError.contains("connection refused"));
    while (wake < t0 + 1000) {
      t = wake;
      wake = s.tick(t);
    }
    assertEquals(t0 + 1000, wake, "the session wakes at grace_until itself");
    assertEquals(Session.State.GRACE, s.snapshot(t0 + 999).state);
    Session.Snapshot u = s.snapshot(t0 + 1000);
    assertEquals(Session.State.UNLICENSED, u.state);
    assertEquals(Session.Reason.GRACE_EXPIRED, u.reason);
  }

  @Test
  void backoffDoublesFromAMinuteUpToTheHeartbeat() throws Exception {
    assertEquals(60, Session.backoff(7200, 1));
    assertEquals(120, Session.backoff(7200, 2));
    assertEquals(3840, Session.backoff(7200, 7));
    assertEquals(7200, Session.backoff(7200, 8));
    assertEquals(7200, Session.backoff(7200, 30));
    assertEquals(10, Session.backoff(10, 1));
    FakeServer f = new FakeServer();
    f.heartbeat = 300;
    f.grace = 10000;
    Session s = session(f, null, "a");
    long t = f.now.get();
    s.tick(t);
    f.down.add("a");
    t += 300;
    long[] gaps = new long[4];
    for (int i = 0; i < 4; i++) {
      long w = s.tick(t);
      gaps[i] = w - t;
      t = w;
    }
    assertEquals(60, gaps[0]);
    assertEquals(120, gaps[1]);
    assertEquals(240, gaps[2]);
    assertEquals(300, gaps[3]);
  }

  @Test
  void jitterStaysWithinTenPercent() {
    for (int i = 0; i < 2000; i++) {
      long j = Session.jitter(1000);
      assertTrue(j >= 900 && j <= 1100, Long.toString(j));
    }
    assertEquals(1, Session.jitter(1));
  }

  @Test
  void aSignedDenialEndsTheLicenseAtOnce() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    long t0 = f.now.get();
    s.tick(t0);
    f.status = Status.REVOKED;
    s.checkNow();
    s.tick(t0 + 1);
    Session.Snapshot d = s.snapshot(t0 + 1);
    assertEquals(Session.State.UNLICENSED, d.state);
    assertEquals(Session.Reason.DENIED, d.reason);
    assertEquals(Optional.of(Status.REVOKED), d.denial);
    assertEquals("revoked", d.reasonName());
  }

  @Test
  void failoverAsksStandbysInOrderAndTheLastAnswerFirst() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a", "b", "c");
    f.down.add("a");
    f.down.add("b");
    long t = f.now.get();
    s.tick(t);
    assertEquals("http://c:7470", s.snapshot(t).server);
    assertEquals(Session.State.LICENSED, s.snapshot(t).state);
    f.down.clear();
    f.calls.clear();
    s.tick(t + 100);
    assertEquals(1, f.calls.getOrDefault("c", 0));
    assertEquals(0, f.calls.getOrDefault("a", 0));
  }

  @Test
  void restartDuringAnOutageKeepsTheOriginalDeadline() throws Exception {
    FakeServer f = new FakeServer();
    long t0 = f.now.get();
    session(f, dir, "a").tick(t0);
    assertTrue(Files.exists(dir.resolve(Session.FILE)));
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dir.resolve(Session.FILE))));
    f.down.add("a");
    f.now.set(t0 + 500);
    Session again = session(f, dir, "a");
    again.tick(t0 + 500);
    Session.Snapshot g = again.snapshot(t0 + 500);
    assertEquals(Session.State.GRACE, g.state);
    assertEquals(t0 + 1000, g.graceUntil);
    assertEquals(Session.State.UNLICENSED, again.snapshot(t0 + 1000).state);
  }

  @Test
  void anAnswerEndingInTheNextSecondGivesTheSameDeadlineAfterARestart() throws Exception {
    FakeServer f = new FakeServer();
    f.slow = 1;
    long t0 = f.now.get();
    Session s = session(f, dir, "a");
    s.tick(t0);
    long deadline = s.snapshot(t0 + 1).graceUntil;
    f.down.add("a");
    assertEquals(deadline, session(f, dir, "a").snapshot(t0 + 2).graceUntil);
  }

  @Test
  void anEditedStateFileIsIgnoredAndNamed() throws Exception {
    FakeServer f = new FakeServer();
    long t0 = f.now.get();
    session(f, dir, "a").tick(t0);
    byte[] b = Files.readAllBytes(dir.resolve(Session.FILE));
    int i = new String(b, java.nio.charset.StandardCharsets.ISO_8859_1).indexOf("license holds");
    b[i] ^= 1;
    Files.write(dir.resolve(Session.FILE), b);
    f.down.add("a");
    Session again = session(f, dir, "a");
    Session.Snapshot u = again.snapshot(t0 + 1);
    assertEquals(Session.State.UNLICENSED, u.state);
    assertEquals(Session.Reason.NO_VERDICT, u.reason);
    assertTrue(u.lastError.contains("ignored"), u.lastError);
  }

  @Test
  void aClockSetBackMoreThanAnHourIsUnlicensed() throws Exception {
    FakeServer f = new FakeServer();
    f.heartbeat = 7200;
    f.grace = 86400;
    long t0 = f.now.get();
    Session s = session(f, null, "a");
    s.tick(t0);
    f.down.add("a");
    s.tick(t0 - 3601);
    Session.Snapshot r = s.snapshot(t0 - 3601);
    assertEquals(Session.State.UNLICENSED, r.state);
    assertEquals(Session.Reason.CLOCK_ROLLBACK, r.reason);
    // Within the hour: no rollback, the failed check is a grace like any other.
    assertEquals(Session.Reason.CHECK_FAILED, s.snapshot(t0 - 3600).reason);
  }

  @Test
  void anExpiredLicenseEndsAtItsExpiry() throws Exception {
    FakeServer f = new FakeServer();
    long t0 = f.now.get();
    f.expires = t0 + 50;
    Session s = session(f, null, "a");
    assertEquals(t0 + 50, s.tick(t0));
    Session.Snapshot e = s.snapshot(t0 + 50);
    assertEquals(Session.State.UNLICENSED, e.state);
    assertEquals(Session.Reason.EXPIRED, e.reason);
  }

  @Test
  void graceReturnsToLicensedOnTheNextValidVerdict() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    long t0 = f.now.get();
    s.tick(t0);
    f.down.add("a");
    long wake = s.tick(t0 + 100);
    assertEquals(Session.State.GRACE, s.snapshot(t0 + 100).state);
    f.down.clear();
    f.now.set(wake);
    s.tick(wake);
    Session.Snapshot l = s.snapshot(wake);
    assertEquals(Session.State.LICENSED, l.state);
    assertEquals("", l.lastError);
    assertEquals(wake + 1000, l.graceUntil);
  }

  @Test
  void aDenialIsLiftedByALaterValidVerdict() throws Exception {
    FakeServer f = new FakeServer();
    f.status = Status.SEATS_EXHAUSTED;
    Session s = session(f, null, "a");
    long t0 = f.now.get();
    long wake = s.tick(t0);
    assertEquals(t0 + 60, wake, "a denial is asked again on the backoff schedule");
    assertEquals(Session.Reason.DENIED, s.snapshot(t0).reason);
    f.status = Status.VALID;
    f.now.set(wake);
    s.tick(wake);
    assertEquals(Session.State.LICENSED, s.snapshot(wake).state);
  }

  @Test
  void anUnsignedDenialOnlyCountsAgainstGrace() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    long t0 = f.now.get();
    s.tick(t0);
    f.status = Status.UNKNOWN_LICENSE;
    f.noChain = true;
    s.checkNow();
    s.tick(t0 + 1);
    Session.Snapshot g = s.snapshot(t0 + 1);
    assertEquals(Session.State.GRACE, g.state);
    assertEquals(Session.Reason.CHECK_FAILED, g.reason);
    assertTrue(g.lastError.contains("unsigned"), g.lastError);
  }

  @Test
  void aValidVerdictWhoseTimeAgreesEndsAClockRollback() throws Exception {
    FakeServer f = new FakeServer();
    long t0 = f.now.get();
    Session s = session(f, dir, "a");
    s.tick(t0);
    // The mark was set by a clock that ran ahead; the server agrees with the clock now.
    f.now.set(t0 - 7200);
    s.tick(t0 - 7200);
    Session.Snapshot r = s.snapshot(t0 - 7200);
    assertEquals(Session.State.LICENSED, r.state);
    assertEquals(Session.Reason.VALID, r.reason);
  }

  @Test
  void stateNeverWaitsForACheckInProgress() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a");
    f.entered = new java.util.concurrent.CountDownLatch(1);
    f.release = new java.util.concurrent.CountDownLatch(1);
    Thread ticker = new Thread(() -> s.tick(f.now.get()));
    ticker.start();
    assertTrue(f.entered.await(10, java.util.concurrent.TimeUnit.SECONDS));
    try {
      // Bounded: a state() that waited for the check would time out here, not hang.
      assertEquals(Session.State.UNLICENSED, java.util.concurrent.CompletableFuture
          .supplyAsync(s::state).get(2, java.util.concurrent.TimeUnit.SECONDS));
      assertEquals(Session.Reason.NO_VERDICT, s.snapshot(f.now.get()).reason);
    } finally {
      f.release.countDown();
      ticker.join(10_000);
    }
    assertEquals(Session.State.LICENSED, s.state());
  }

  @Test
  void anUncheckedExceptionBelowIsAFailedCheckNotADeadSession() throws Exception {
    FakeServer f = new FakeServer();
    Session s = session(f, null, "a", "b");
    f.crash = true;
    long t = f.now.get();
    long wake = s.tick(t);
    Session.Snapshot u = s.snapshot(t);
    assertEquals(Session.Reason.NO_VERDICT, u.reason);
    assertTrue(u.lastError.contains("transport bug"), u.lastError);
    assertEquals(t + 60, wake);
    f.crash = false;
    s.tick(wake);
    assertEquals(Session.State.LICENSED, s.snapshot(wake).state);
  }
}
