"""Public mode on PostgreSQL with a synchronous standby that vanished
(docs/scale-out.md "A standby that vanished"): every COMMIT then waits for
a standby that never answers.

- SIGTERM with such a COMMIT in flight: licsrv cancels it after its grace
  (3/4 of shutdown_timeout_ms), answers the hung client 503
  store_unavailable -- never valid: PostgreSQL committed it on the primary
  only -- says so in its log, and exits within a bound. Before the bound it
  waited for its writer thread forever.
- The same when the cancel cannot end the statement (the backend does not
  run: SIGSTOP): licsrv shuts its connection 2 s after the cancel, and exits.
- While serving nothing bounds such a COMMIT (statement_timeout is disarmed
  before the wait); an operator's pg_cancel_backend ends it, PostgreSQL
  reports it committed with a WARNING, and licsrv answers 503, not valid."""
import os
import signal
import subprocess
import threading
import time

import pytest

import pgutil
import srvchain
from test_scaleout import account, node, register, serve, sync_pair

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")


@pytest.fixture
def stuck(tmp_path):
    """One licsrv on a primary whose synchronous standby was just killed
    (after one registration went through): yields (primary, server, account)."""
    primary, standby = pgutil.PgServer(), pgutil.PgServer()
    s = None
    try:
        sync_pair(primary, standby)
        url = primary.url() + "?connect_timeout=2"
        d1 = node(tmp_path, "n1", url)
        s = serve(d1, url)
        a = account(d1, url, 100, [s])
        st, v = register(s.port, a, os.urandom(16))
        assert st == 200 and v["status"] == "valid", (st, v)
        standby.kill9()
        yield primary, s, a
    finally:
        if s is not None:
            s.kill()
            s.close()
        standby.cleanup()
        primary.cleanup()


def wait_syncrep(primary, within=10.0):
    """Until a backend waits for the (gone) synchronous standby."""
    t0 = time.monotonic()
    while int(primary.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'")) < 1:
        assert time.monotonic() - t0 < within, "no COMMIT waits for the standby"
        time.sleep(0.05)


def hung_register(port, acct, project, out):
    """A registration on its own thread; out gets (status, body) or the error."""
    def run():
        try:
            out.append(register(port, acct, project, timeout=40))
        except OSError as e:  # the connection closed without an answer
            out.append(e)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def sigterm(s, bound=15):
    """SIGTERM; (exit code or None when still running after bound s, seconds)."""
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    try:
        rc = s.proc.wait(timeout=bound)
    except subprocess.TimeoutExpired:
        rc = None
    return rc, time.monotonic() - t0


def canceled_lines(s):
    return [srvchain.logfmt(l) or {} for l in s.log().splitlines() if "store_write_canceled" in l]


def test_sigterm_with_a_commit_stuck_on_a_vanished_standby(stuck):
    primary, s, a = stuck
    got, project = [], os.urandom(16)
    t = hung_register(s.port, a, project, got)
    wait_syncrep(primary)
    time.sleep(0.3)
    assert not got, f"answered while the standby is gone: {got}"

    rc, took = sigterm(s)
    assert rc == 0, f"licsrv did not exit within 15 s of SIGTERM (rc {rc}): {s.log()[-3000:]}"
    s.close()  # the log kept; a sanitizer report (leaks show at exit) fails
    assert s.sanitizer_report() is None, s.sanitizer_report()
    assert 3.0 <= took < 10.0, took  # the grace: 3/4 of the default 5 s drain
    t.join(timeout=10)
    assert got, "the client thread did not finish"
    if isinstance(got[0], tuple):  # answered: 503 store_unavailable, never valid
        st, body = got[0]
        assert st == 503 and b"store_unavailable" in bytes(body), got
    log = s.log()
    assert any((srvchain.logfmt(l) or {}).get("grace_ms") == "3750"
               for l in log.splitlines() if "store_write_cancel " in l), log[-3000:]
    assert any(c.get("committed") == "primary_only" and c.get("cause") == "stop" and
               "not valid" in c.get("detail", "") for c in canceled_lines(s)), log[-3000:]
    # The registration is on the primary only: why it was not answered valid.
    assert primary.psql("SELECT count(*) FROM licsrv_registrations WHERE project_id = "
                        f"decode('{project.hex()}', 'hex')") == "1"


def test_sigterm_when_the_cancel_does_not_end_the_statement(stuck):
    primary, s, a = stuck
    got = []
    t = hung_register(s.port, a, os.urandom(16), got)
    wait_syncrep(primary)
    pid = int(primary.psql("SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"))
    os.kill(pid, signal.SIGSTOP)  # the cancel reaches a backend that does not run
    try:
        rc, took = sigterm(s)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert rc == 0, f"licsrv did not exit within 15 s of SIGTERM (rc {rc}): {s.log()[-3000:]}"
    s.close()  # the log kept; a sanitizer report (leaks show at exit) fails
    assert s.sanitizer_report() is None, s.sanitizer_report()
    assert 5.0 <= took < 12.0, took  # the grace, then 2 s for the cancel
    t.join(timeout=10)
    assert got, "the client thread did not finish"
    if isinstance(got[0], tuple):  # never valid
        assert got[0][0] == 503, got
    log = s.log()
    assert any((srvchain.logfmt(l) or {}).get("action") == "connection_closed"
               for l in log.splitlines() if "store_write_cancel " in l), log[-3000:]
    assert any(c.get("committed") == "unknown" and c.get("cause") == "stop"
               for c in canceled_lines(s)), log[-3000:]


def test_a_sync_wait_canceled_by_postgresql_is_answered_503_not_valid(stuck):
    """While serving nothing bounds the wait (statement_timeout is disarmed
    before a COMMIT waits for the standby); an operator's pg_cancel_backend
    ends it, and PostgreSQL then reports the COMMIT as a success with a
    WARNING: licsrv answers 503, not valid, and goes on serving."""
    primary, s, a = stuck
    got = []
    t = hung_register(s.port, a, os.urandom(16), got)
    wait_syncrep(primary)
    assert primary.psql("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity "
                        "WHERE wait_event = 'SyncRep'") == "1"
    t.join(timeout=15)
    assert got and isinstance(got[0], tuple), got
    st, body = got[0]
    assert st == 503 and b"store_unavailable" in bytes(body), got
    assert any(c.get("cause") == "postgresql_warning" and c.get("committed") == "primary_only"
               for c in canceled_lines(s)), s.log()[-3000:]
    # licsrv goes on: with the vanished standby out of the list (what
    # Patroni does) a registration is valid again, without a restart
    primary.psql("ALTER SYSTEM SET synchronous_standby_names = ''")
    primary.psql("SELECT pg_reload_conf()")
    t0 = time.monotonic()
    while True:
        st, v = register(s.port, a, os.urandom(16), timeout=20)
        if st == 200:
            break
        assert time.monotonic() - t0 < 10, (st, v)
        time.sleep(0.2)
    assert v["status"] == "valid", v
    s.finish()
