"""Admin reads on a PostgreSQL store never hold an event loop (issue 16 part
2: "never a blocking call on a loop"). An admin request that reads the
database (its token lookup, an accounts or audit listing) runs on the store's
reader thread; while PostgreSQL hangs (SIGSTOP on the postmaster and its
backends: TCP connects are accepted by the kernel and then hang, queries on
open connections hang) the public loop keeps answering verify from the read
copy, and the admin loop keeps answering what needs no database (/healthz,
the status page, the seat table), each within a tight bound. The pending
admin read ends with 503 store_unavailable (its connect timed out) or with
its answer once PostgreSQL runs again. Every freeze is undone in a finally."""
import os
import signal
import threading
import time

import pytest

import pgutil
import pubutil
import srvchain
from test_scaleout import account, node, register, serve, token_add

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")

BOUND = 0.5  # seconds: a verify, or an admin answer that needs no database


@pytest.fixture
def pg():
    s = pgutil.PgServer()
    s.start()
    yield s
    s.cleanup()


def cluster_pids(pg):
    """The postmaster and every process it started (its backends)."""
    root = pg.pid()
    pids = [root]
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == root:
            pids.append(int(d))
    return pids


def signal_all(pids, sig):
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def timed(fn):
    t0 = time.monotonic()
    try:
        out = fn()
    except OSError as e:  # a timeout: the loop did not answer
        out = ("error", repr(e))
    return time.monotonic() - t0, out


def in_background(fn):
    box = {}

    def run():
        try:
            box["r"] = fn()
        except OSError as e:
            box["r"] = ("error", repr(e))

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, box


def check_loops_answer(s, a, project, pending, seconds):
    """While pending (a thread) runs, for up to seconds: verify on the public
    loop and the database-free answers of the admin loop, each within BOUND.
    (Admin API requests wait for the database too: their token is in it.)"""
    slow, n, t0 = [], 0, time.monotonic()
    while pending.is_alive() and time.monotonic() - t0 < seconds:
        dt, (st, v) = timed(lambda: pubutil.exchange(
            s.port, "/v1/verify", pubutil.fields(a, project, kind="verify"), timeout=5))
        ok = st == 200 and v["status"] == "valid"
        if not ok or dt > BOUND:
            slow.append(("verify", round(dt, 3), st, v if not ok else ""))
        # the admin loop: its health check and the status page need no database
        # (/healthz may say 503, the store unreachable: it answers, that is the point)
        for path in ("/healthz", "/"):
            dt, r = timed(lambda: srvchain.admin(s, "GET", path, timeout=5))
            if r[0] == "error" or dt > BOUND:
                slow.append((path, round(dt, 3), r[0]))
        n += 1
        time.sleep(0.05)
    return n, slow


def one_server(tmp_path, pg):
    url = pg.url()
    d = node(tmp_path, "n1", url)
    s = serve(d, url, threads=1)
    tok = token_add(d, url, "ops")
    a = account(d, url, 5, (s,))
    project = os.urandom(16)
    assert register(s.port, a, project)[1]["status"] == "valid"
    return s, a, project, tok


def test_admin_listing_on_a_hung_database_holds_no_loop(tmp_path, pg):
    """The reader thread is connected (an admin listing ran before): the next
    listing's query hangs with the database, and is answered after SIGCONT."""
    s, a, project, tok = one_server(tmp_path, pg)
    try:
        st, doc = srvchain.admin(s, "GET", "/v1/admin/accounts", tok)
        assert st == 200 and [r["id"] for r in doc["accounts"]] == [a.id], doc
        pids = cluster_pids(pg)
        signal_all(pids, signal.SIGSTOP)
        try:
            pending, box = in_background(
                lambda: srvchain.admin(s, "GET", "/v1/admin/accounts", tok, timeout=30))
            time.sleep(0.3)  # the listing is waiting on the database now
            assert pending.is_alive(), box
            n, slow = check_loops_answer(s, a, project, pending, 3.0)
            assert n >= 5 and not slow, (n, slow)
            assert pending.is_alive(), box  # still waiting: the database is frozen
        finally:
            signal_all(pids, signal.SIGCONT)
        pending.join(timeout=30)
        assert not pending.is_alive()
        st, doc = box["r"]
        assert (st == 200 and [r["id"] for r in doc["accounts"]] == [a.id]) or \
            (st == 503 and doc["error"] == "store_unavailable"), box
        # everything works again
        st, doc = srvchain.admin(s, "GET", "/v1/admin/audit", tok)
        assert st == 200 and any(e["action"] == "registration.add" for e in doc["audit"]), doc
        assert pubutil.verify(s.port, a, project)[1]["status"] == "valid"
    finally:
        s.finish()


def test_admin_auth_on_an_unreachable_database_answers_503(tmp_path, pg):
    """No admin request before: the reader thread's first connect hangs with
    the database (connect_timeout, 5 s), the loops answer meanwhile, and the
    request ends with 503 store_unavailable; then, resumed, it all works."""
    s, a, project, tok = one_server(tmp_path, pg)
    try:
        pids = cluster_pids(pg)
        signal_all(pids, signal.SIGSTOP)
        try:
            t0 = time.monotonic()
            pending, box = in_background(
                lambda: srvchain.admin(s, "GET", "/v1/admin/audit", tok, timeout=30))
            time.sleep(0.3)
            assert pending.is_alive(), box
            n, slow = check_loops_answer(s, a, project, pending, 8.0)
            assert not slow, (n, slow)
            pending.join(timeout=15)
            took = time.monotonic() - t0
            st, doc = box["r"]
            assert st == 503 and doc["error"] == "store_unavailable", box
            assert 3.0 < took < 9.0, took  # the connect timeout, not a hang
            assert n >= 5, n
        finally:
            signal_all(pids, signal.SIGCONT)
        t0 = time.monotonic()
        while True:  # the reader connects again
            st, doc = srvchain.admin(s, "GET", "/v1/admin/audit", tok)
            if st == 200:
                break
            assert st == 503 and time.monotonic() - t0 < 10, (st, doc)
            time.sleep(0.2)
        assert pubutil.verify(s.port, a, project)[1]["status"] == "valid"
        st, doc = srvchain.admin(s, "GET", "/v1/admin/accounts", None)
        assert st == 401
    finally:
        s.finish()


def test_admin_reads_waiting_on_a_hung_database_are_bounded(tmp_path, pg):
    """At most STORE_READQ_MAX (64) admin reads wait behind a hung one; the
    next answer 503 store_unavailable at once, and the waiting ones are
    answered once PostgreSQL runs again."""
    s, a, project, tok = one_server(tmp_path, pg)
    extra = 6
    try:
        assert srvchain.admin(s, "GET", "/v1/admin/audit", tok)[0] == 200  # connected
        pids = cluster_pids(pg)
        signal_all(pids, signal.SIGSTOP)
        try:
            first, fbox = in_background(
                lambda: srvchain.admin(s, "GET", "/v1/admin/audit", tok, timeout=60))
            time.sleep(0.3)  # the reader thread hangs in its query
            assert first.is_alive(), fbox
            started = [in_background(lambda: srvchain.admin(s, "GET", "/v1/admin/accounts", tok,
                                                            timeout=60))
                       for _ in range(64 + extra)]
            t0 = time.monotonic()
            while sum(1 for t, _ in started if not t.is_alive()) < extra:
                assert time.monotonic() - t0 < 5, [b for _, b in started if b]
                time.sleep(0.05)
            time.sleep(0.3)
            refused = [b["r"] for t, b in started if not t.is_alive()]
            assert len(refused) == extra, refused
            for st, doc in refused:
                assert st == 503 and doc["error"] == "store_unavailable", (st, doc)
                assert "waiting for the database" in doc["message"], doc
            n, slow = check_loops_answer(s, a, project, first, 1.0)
            assert n >= 2 and not slow, (n, slow)
        finally:
            signal_all(pids, signal.SIGCONT)
        for t, _ in [(first, fbox)] + started:
            t.join(timeout=30)
        assert fbox["r"][0] == 200, fbox
        answered = [b["r"][0] for _, b in started]
        assert answered.count(200) == 64 and answered.count(503) == extra, answered
    finally:
        s.finish()
