"""Issue 23 item 1, the store's side: one account cannot fill the shared
store. Each account's records (registrations, node records, audit entries
naming it) are counted by the store in the same write; past
account_store_quota its register is 507 account_store_full while another
account registers and verifies; when the map is 90% used the largest
account is refused first, /healthz stays 200, and what the operator frees
(forget, purge) gives the room back. Servers that one client fills on purpose
run with the per-account rate limits off."""
import concurrent.futures
import json
import os

import pubutil
import srvchain
from pubutil import register, unregister, verify

NO_LIMITS = ["--account-requests-per-minute", "0", "--account-unregisters-per-hour", "0",
             "--account-new-nodes-per-hour", "0", "--access-log", "errors"]


def body(out):
    return json.loads(out) if out[:1] == b"{" else srvchain.decode_response(
        out, "application/msgpack")


def churn(s, a, stop_after=200000, workers=1):
    """Register/unregister a's project with a new node name each time until
    a register is refused; returns (pairs done, the refusal's status, body)."""
    pid = os.urandom(16)
    for i in range(stop_after):
        st, out = register(s.port, a, pid, node="flood-%d" % i)
        if st != 200:
            return i, st, out
        assert out["status"] == "valid", out
        st, out = unregister(s.port, a, pid)
        assert st == 200 and out["status"] == "not_registered", (st, out)
    raise AssertionError("never refused after %d pairs" % stop_after)


def accounts_json(data):
    p = pubutil.licsrv("accounts", "--data", data, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rows = doc["accounts"] if isinstance(doc, dict) else doc
    return {r["id"]: r for r in rows}


def test_account_store_quota(tmp_path):
    """An account at its quota is refused with 507 account_store_full, the
    count shown to the operator; another account goes on; forget frees it."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=NO_LIMITS + ["--account-store-quota", "100"]).start()
    try:
        a, b = pubutil.account(s.data, 3), pubutil.account(s.data, 3)
        n, st, out = churn(s, a)
        assert st == 507, (n, st, out)
        doc = body(out)
        assert doc["error"] == "account_store_full", doc
        assert "account_store_quota = 100" in doc["message"], doc
        assert 45 <= n <= 50, n  # 2 audit entries a pair; the register's 2 more would pass 100
        # Another account registers and verifies; the server is healthy.
        pb = os.urandom(16)
        assert register(s.port, b, pb)[1]["status"] == "valid"
        assert verify(s.port, b, pb)[1]["status"] == "valid"
        st, hb, _ = s.get("/healthz")
        assert st == 200, hb
        # a's figure, for the operator (CLI and admin API).
        rows = accounts_json(s.data)
        assert 98 <= rows[a.id]["store_records"] <= 100, rows[a.id]
        # its import's audit entry, a registration and its audit entry, and (once
        # the heartbeat batch is written) its node record
        assert 3 <= rows[b.id]["store_records"] <= 4, rows[b.id]
        tok = srvchain.token_add(s.data, "ops")
        st, adm = srvchain.admin(s, "GET", "/v1/admin/accounts", tok)
        assert st == 200, adm
        mine = [r for r in adm["accounts"] if r["id"] == a.id]
        assert mine and mine[0]["store_records"] == rows[a.id]["store_records"], adm
        # a's existing registration is still answered; unregister (net zero) too.
        st, out = unregister(s.port, a, os.urandom(16))
        assert st == 200 and out["status"] == "not_registered", (st, out)
        # The operator erases a: its records go, it registers again.
        p = pubutil.licsrv("forget", "--account", a.id, "--yes", "--data", s.data)
        assert p.returncode == 0, p.stderr
        assert a.id not in accounts_json(s.data)
    finally:
        s.finish()


def test_nearly_full_map_refuses_the_largest_account(tmp_path):
    """A small map and the default quota: account A's churn is refused
    (507 account_store_full) when the map is 90% used, before the map is
    full; account B still registers and verifies, /healthz stays 200, no
    store_full and no store_error."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=NO_LIMITS + ["--store-map-size", "1M"])
    s.env["LICSRV_BENCH_NOSYNC"] = "1"  # speed only: the flood needs no syncs
    s.start()
    try:
        a, b = pubutil.account(s.data, 3), pubutil.account(s.data, 3)
        pb = os.urandom(16)
        assert register(s.port, b, pb)[1]["status"] == "valid"
        n, st, out = churn(s, a)
        assert st == 507, (n, st, out)
        doc = body(out)
        assert doc["error"] == "account_store_full" and "90% full" in doc["message"], doc
        # B: its registration holds, a new one registers, verifies go on.
        assert verify(s.port, b, pb)[1]["status"] == "valid"
        pb2 = os.urandom(16)
        b5 = pubutil.account(s.data, 3)
        for acct, pid in ((b, pb2), (b5, os.urandom(16))):
            st, v = register(s.port, acct, pid)
            assert st == 200 and v["status"] == "valid", (st, v)
            assert verify(s.port, acct, pid)[1]["status"] == "valid"
        st, hb, _ = s.get("/healthz")
        assert st == 200, hb
        log = s.log()
        assert "store_error" not in log and "store_map_full" not in log, log[-2000:]
        print("pairs before the 1M map refused the largest account: %d" % n)
        rows = accounts_json(s.data)
        assert rows[a.id]["store_records"] >= 2 * n, rows[a.id]
        # Forgetting A gives the room back: A registers again.
        p = pubutil.licsrv("forget", "--account", a.id, "--yes", "--data", s.data)
        assert p.returncode == 0, p.stderr
        a2 = pubutil.account(s.data, 3)
        assert register(s.port, a2, os.urandom(16))[1]["status"] == "valid"
    finally:
        s.finish()
