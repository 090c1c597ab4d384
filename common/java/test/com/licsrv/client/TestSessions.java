package com.licsrv.client;

/** Sessions in a known state for tests outside this package (the servlet filter's). */
public final class TestSessions {
  private TestSessions() {}

  /** A session that has just had a valid, signed verdict from a fake server. */
  public static Session licensed() throws Exception {
    FakeServer f = new FakeServer();
    Session s = Session.newBuilder(f.verifier().build(), FakeServer.urls("a"))
        .clock(new FakeClock(f.now)).build();
    s.tick(f.now.get());
    return s;
  }
}
