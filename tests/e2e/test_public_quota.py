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


def churn(s, a, stop_after=20000):
    """Register/unregister a new project with a new node name each time
    (a new audit subject each: repeats of one project are merged, see the
    last test) until a register is refused; returns (pairs done, the
    refusal's status, body)."""
    for i in range(stop_after):
        pid = os.urandom(16)
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


def test_register_unregister_churn_audit_is_coalesced(tmp_path):
    """Issue 23 item 1: every register/unregister wrote its own ~150 B audit
    entry kept 180 days. N identical register/unregister pairs of a project
    now leave one entry per action and hour with the count N, shown by
    `licsrv audit` (table and --json) and the admin API; another project's
    entries stay apart."""
    s = pubutil.Server(tmp_path / "data", threads=2, extra=NO_LIMITS).start()
    try:
        a = pubutil.account(s.data, 2)
        pid, other = os.urandom(16), os.urandom(16)
        n = 40
        t0 = int(__import__("time").time())
        for i in range(n):
            assert register(s.port, a, pid, node="n-%d" % i)[1]["status"] == "valid"
            assert unregister(s.port, a, pid)[1]["status"] == "not_registered"
        assert register(s.port, a, other)[1]["status"] == "valid"
        hours = 1 + (int(__import__("time").time()) // 3600 != t0 // 3600)
        tok = srvchain.token_add(s.data, "ops")
        st, doc = srvchain.admin(s, "GET", "/v1/admin/audit", tok)
        assert st == 200, doc
        mine = [e for e in doc["audit"] if a.id in e["subject"]
                and e["action"].startswith("registration.")]
        churn_rows = [e for e in mine if str(__import__("uuid").UUID(bytes=pid)) in e["subject"]]
        assert len(churn_rows) == 2 * hours, mine
        for action in ("registration.add", "registration.remove"):
            assert sum(e["count"] for e in churn_rows if e["action"] == action) == n, churn_rows
        assert all(e["last"] >= e["time"] for e in churn_rows), churn_rows
        assert len(mine) == 2 * hours + 1, mine  # the other project's add, apart
        # The CLI shows the counts too.
        p = pubutil.licsrv("audit", "--data", s.data, "--json")
        assert p.returncode == 0, p.stderr
        rows = [e for e in json.loads(p.stdout)["audit"] if a.id in e["subject"]
                and e["action"] == "registration.add"]
        assert sum(e["count"] for e in rows) == n + 1, rows
        p = pubutil.licsrv("audit", "--data", s.data)
        assert p.returncode == 0, p.stderr
        assert ("(x%d, last " % n) in p.stdout or hours == 2, p.stdout
        # The account's records: its import, these entries and its registration.
        rows = accounts_json(s.data)
        assert rows[a.id]["store_records"] <= 1 + 2 * hours + 1 + 1 + 1, rows[a.id]
    finally:
        s.finish()


def test_refused_registers_keep_a_bounded_failure_list(tmp_path):
    """A register refused (here: the account's capacity taken) recorded a
    failure under its node name in the store with no bound, one node record
    per new name, where a refused verify goes through the account's bounded
    failure list (failure_list_size). Now both do: the store keeps the list's
    most recent names only."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=NO_LIMITS + ["--failure-list-size", "3"]).start()
    try:
        a = pubutil.account(s.data, 1)
        assert register(s.port, a, os.urandom(16))[1]["status"] == "valid"
        for i in range(12):
            st, v = register(s.port, a, os.urandom(16), node="refused-%d" % i)
            assert st == 200 and v["status"] == "capacity_exhausted", (st, v)
    finally:
        s.finish()  # the heartbeat batch is written at close
    p = pubutil.licsrv("nodes", "--data", s.data, "--account", a.id, "--json")
    assert p.returncode == 0, p.stderr
    names = sorted(n["node"] for n in json.loads(p.stdout)["nodes"])
    assert names == ["refused-10", "refused-11", "refused-9"], names
