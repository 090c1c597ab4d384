"""test_public_scale - an account's size costs its requests nothing: the
store keeps each account's registration count (docs/storage.md, `regcounts`),
so a verify and a register on an account of 20,000 registrations answer the
count right and as fast as on a fresh account; and after a kill -9 while
registrations arrive, the count the store holds equals its rows."""
import http.client
import json
import os
import statistics
import threading
import time
import uuid

import pubutil
import srvchain
from pubutil import register, verify

N = 20000
CLIENTS = 16


# One client fills one account here on purpose: the per-account limits that keep
# a token holder from flooding a shared server (docs/public.md) are off.
NO_ACCOUNT_LIMITS = ["--account-requests-per-minute", "0", "--account-new-nodes-per-hour", "0",
                     "--account-unregisters-per-hour", "0", "--account-store-quota", "0"]


def body(acct, pid, kind="register"):
    return srvchain.encode(pubutil.fields(acct, pid, kind=kind), "msgpack")[0]


class Filler:
    """CLIENTS keep-alive connections registering projects on one account;
    acked holds the project ids answered 200 (durable: SPEC §4.2)."""

    def __init__(self, port, acct, pids):
        self.port, self.acct, self.pids = port, acct, pids
        self.acked, self.errors, self.lock = [], [], threading.Lock()
        self.next = 0

    def _take(self):
        with self.lock:
            if self.next >= len(self.pids):
                return None
            self.next += 1
            return self.pids[self.next - 1]

    def _run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            while (pid := self._take()) is not None:
                c.request("POST", "/v1/register", body=body(self.acct, pid),
                          headers={"Content-Type": "application/msgpack"})
                r = c.getresponse()
                r.read()
                with self.lock:
                    (self.acked if r.status == 200 else self.errors).append(pid if r.status == 200
                                                                            else r.status)
        except (OSError, http.client.HTTPException) as e:  # the server killed under it
            with self.lock:
                self.errors.append(repr(e))
        finally:
            c.close()

    def start(self):
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout):
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "clients still running"


def verify_ms(port, acct, pid, rounds):
    """Median milliseconds of a verify on one keep-alive connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    took = []
    try:
        for _ in range(rounds):
            b = body(acct, pid, kind="verify")
            t0 = time.perf_counter()
            c.request("POST", "/v1/verify", body=b, headers={"Content-Type": "application/msgpack"})
            r = c.getresponse()
            r.read()
            took.append((time.perf_counter() - t0) * 1000)
            assert r.status == 200
    finally:
        c.close()
    return statistics.median(took)


def test_large_account_answers_like_a_fresh_one(tmp_path):
    s = pubutil.Server(tmp_path / "data", extra=NO_ACCOUNT_LIMITS).start()
    try:
        big, fresh = pubutil.account(s.data, 1000000), pubutil.account(s.data, 1000000)
        pids = [os.urandom(16) for _ in range(N)]
        f = Filler(s.port, big, pids).start()
        f.join(120)
        assert f.errors == [] and len(f.acked) == N, f.errors[:5]
        one = os.urandom(16)
        assert register(s.port, fresh, one)[1]["seats"]["used"] == 1
        # a register and a verify on the large account: the count is right
        st, v = register(s.port, big, os.urandom(16))
        assert st == 200 and v["status"] == "valid" and v["seats"]["used"] == N + 1, v
        st, v = verify(s.port, big, pids[N // 2])
        assert st == 200 and v["status"] == "valid" and v["seats"]["used"] == N + 1, v
        st, v = verify(s.port, fresh, one)
        assert v["status"] == "valid" and v["seats"]["used"] == 1, v
        # and as fast: taken in turns so that the machine's noise falls on both
        # (walking 20,000 registrations per verify made it ten times slower)
        b_ms, f_ms = [], []
        for _ in range(5):
            b_ms.append(verify_ms(s.port, big, pids[7], 40))
            f_ms.append(verify_ms(s.port, fresh, one, 40))
        b_med, f_med = statistics.median(b_ms), statistics.median(f_ms)
        assert b_med <= 2.0 * f_med, "verify %.3f ms on %d registrations vs %.3f ms" % (
            b_med, N, f_med)
    finally:
        s.finish()
    rows = json.loads(pubutil.licsrv("accounts", "--data", s.data, "--json").stdout)["accounts"]
    assert {r["id"]: r["registrations"] for r in rows} == {big.id: N + 1, fresh.id: 1}


def test_count_equals_rows_after_kill9_mid_batch(tmp_path):
    s = pubutil.Server(tmp_path / "data", extra=NO_ACCOUNT_LIMITS).start()
    acct = pubutil.account(s.data, 1000000)
    pids = [os.urandom(16) for _ in range(N)]
    f = Filler(s.port, acct, pids).start()
    deadline = time.monotonic() + 30
    while len(f.acked) < 1500 and time.monotonic() < deadline and not f.errors:
        time.sleep(0.01)
    s.kill9()  # registrations in flight: some committed, some not, unanswered
    f.join(30)
    acked = set(f.acked)
    assert 1500 <= len(acked) < N, (len(acked), f.errors[:3])
    d = s.data
    rows = json.loads(pubutil.licsrv("accounts", "registrations", acct.id, "--data", d,
                                     "--json").stdout)["registrations"]
    have = {uuid.UUID(r["project_id"]).bytes for r in rows}
    assert acked <= have  # every answered registration survived
    assert len(have) <= len(acked) + CLIENTS  # at most the ones in flight besides
    listed = json.loads(pubutil.licsrv("accounts", "--data", d, "--json").stdout)["accounts"]
    assert [r["registrations"] for r in listed if r["id"] == acct.id] == [len(rows)]
    # the restarted server answers that count, and keeps it
    s = pubutil.Server(d, extra=NO_ACCOUNT_LIMITS).start()
    try:
        st, v = register(s.port, acct, os.urandom(16))
        assert st == 200 and v["seats"]["used"] == len(rows) + 1, (v, len(rows))
        st, v = verify(s.port, acct, next(iter(acked)))
        assert v["status"] == "valid" and v["seats"]["used"] == len(rows) + 1, v
    finally:
        s.finish()
