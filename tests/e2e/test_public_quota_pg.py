"""Issue 23 item 1 on PostgreSQL: one account cannot fill the shared store.
Two `licsrv serve` processes on one real PostgreSQL (tests/e2e/pgutil.py):
each account's records (registrations, node records, audit entries naming
it) are counted by the database in the writing transaction, so the count is
shared: an account at account_store_quota is refused with 507
account_store_full through either process while another account registers
through both; `licsrv accounts --json` shows store_records equal to the rows
SQL counts, after claims, releases, node heartbeats, purge and forget."""
import json
import os
import time

import pytest

import pgutil
import pubutil
import srvchain
from pubutil import register, unregister, verify

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")

NO_LIMITS = ["--account-requests-per-minute", "0", "--account-unregisters-per-hour", "0",
             "--account-new-nodes-per-hour", "0", "--access-log", "errors"]


def node(tmp_path, name, url):
    data = str(tmp_path / name)
    pubutil.licsrv("init", "--mode", "public", "--data", data, "--store", url)
    pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB,
                   pubutil.certify(data))
    return data


def account(data, url, capacity, servers):
    a = pubutil.account(data, capacity, import_it=False)
    pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB, a.path)
    t0 = time.monotonic()
    for s in servers:  # every read copy has it (LISTEN/NOTIFY)
        while verify(s.port, a, os.urandom(16))[1]["status"] == "bad_credentials":
            assert time.monotonic() - t0 < 2.0, "a server does not know the account"
            time.sleep(0.02)
    return a


def body(out):
    return json.loads(out) if out[:1] == b"{" else srvchain.decode_response(
        out, "application/msgpack")


def store_records(data, url):
    p = pubutil.licsrv("accounts", "--data", data, "--store", url, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    rows = doc["accounts"] if isinstance(doc, dict) else doc
    return {r["id"]: r.get("store_records") for r in rows}


def sql_records(pg, aid):
    hexid = aid.replace("-", "")
    return int(pg.psql(
        "SELECT (SELECT count(*) FROM licsrv_registrations WHERE account = '\\x%s')"
        " + (SELECT count(*) FROM licsrv_nodes WHERE owner = '\\x%s')"
        " + (SELECT count(*) FROM licsrv_audit WHERE subject ILIKE 'account:%s%%')"
        % (hexid, hexid, aid)))


def settled(pg, data, url, accts):
    """store_records of each account equals SQL's count (the heartbeat batch
    is written within its interval: wait up to 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        got = store_records(data, url)
        want = {a.id: sql_records(pg, a.id) for a in accts}
        if all(got.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert all(got.get(k) == v for k, v in want.items()), (got, want)
    return got


def test_quota_shared_by_two_processes(tmp_path):
    pg = pgutil.PgServer()
    pg.start()
    servers = []
    try:
        url = pg.url()
        d1, d2 = node(tmp_path, "n1", url), node(tmp_path, "n2", url)
        for d in (d1, d2):
            servers.append(srvchain.Server(
                d, extra=["--store", url, "--account-store-quota", "30"] + NO_LIMITS,
                threads=2, provisioned=False).start())
        s1, s2 = servers
        a = account(d1, url, 3, servers)
        b = account(d1, url, 3, servers)
        # a's churn, alternating the two processes, each pair a new project
        # and a new node name: refused at its quota through either
        refused = None
        for i in range(40):
            s = servers[i % 2]
            pid = os.urandom(16)
            st, out = register(s.port, a, pid, node="flood-%d" % i)
            if st != 200:
                refused = (i, st, out)
                break
            assert out["status"] == "valid", out
            st, out = unregister(servers[(i + 1) % 2].port, a, pid)
            assert st == 200 and out["status"] == "not_registered", (st, out)
        assert refused is not None, "never refused"
        i, st, out = refused
        assert st == 507, refused
        doc = body(out)
        assert doc["error"] == "account_store_full", doc
        assert "account_store_quota = 30" in doc["message"], doc
        print("pairs before the quota of 30 refused a: %d" % i)
        assert 7 <= i <= 15, i  # 2 audit entries and a node record a pair, its import
        for s in servers:  # the count is shared: a at quota through both
            st, out = register(s.port, a, os.urandom(16))
            assert st == 507 and body(out)["error"] == "account_store_full", (st, out)
        # b registers and verifies through both processes
        for s in servers:
            pid = os.urandom(16)
            st, v = register(s.port, b, pid, node="b-%d" % s.port)
            assert st == 200 and v["status"] == "valid", (st, v)
            assert verify(s.port, b, pid, node="b-%d" % s.port)[1]["status"] == "valid"
        st, hb, _ = s1.get("/healthz")
        assert st == 200, hb
        # the operator's figure is the rows, after node heartbeats too
        got = settled(pg, d1, url, [a, b])
        assert 28 <= got[a.id] <= 30, got
        # the admin API of either process gives the same figure
        tok = pubutil.licsrv("token", "add", "ops", "--data", d1, "--store", url).stdout.strip()
        for s in servers:
            st, adm = srvchain.admin(s, "GET", "/v1/admin/accounts", tok)
            assert st == 200, adm
            mine = [r for r in adm["accounts"] if r["id"] == a.id]
            assert mine and mine[0]["store_records"] == got[a.id], adm
        # purge (nothing old: nothing goes) and forget of a: still exact
        p = pubutil.licsrv("purge", "--data", d1, "--store", url)
        assert p.returncode == 0, p.stderr
        settled(pg, d1, url, [a, b])
        p = pubutil.licsrv("forget", "--account", a.id, "--yes", "--data", d1, "--store", url)
        assert p.returncode == 0, p.stderr
        assert sql_records(pg, a.id) == 0
        assert a.id not in store_records(d1, url)
        settled(pg, d1, url, [b])
    finally:
        for s in servers:
            s.finish()
        pg.cleanup()


def test_churn_audit_merged_across_processes(tmp_path):
    """N register/unregister pairs of one project, through two processes in
    turn: two audit entries (one per action; four if the clock hour turned)
    whose counts sum to 2N, shown by `licsrv audit` and its --json; the
    account's records count each entry once."""
    pg = pgutil.PgServer()
    pg.start()
    servers = []
    try:
        url = pg.url()
        d1, d2 = node(tmp_path, "n1", url), node(tmp_path, "n2", url)
        for d in (d1, d2):
            servers.append(srvchain.Server(d, extra=["--store", url] + NO_LIMITS, threads=2,
                                           provisioned=False).start())
        a = account(d1, url, 2, servers)
        pid = os.urandom(16)
        n = 20
        t0 = int(time.time())
        for i in range(n):
            st, v = register(servers[i % 2].port, a, pid)
            assert st == 200 and v["status"] == "valid", (st, v)
            st, v = unregister(servers[(i + 1) % 2].port, a, pid)
            assert st == 200 and v["status"] == "not_registered", (st, v)
        hours = 1 + (int(time.time()) // 3600 != t0 // 3600)
        p = pubutil.licsrv("audit", "--data", d1, "--store", url, "--json")
        assert p.returncode == 0, p.stderr
        rows = [e for e in json.loads(p.stdout)["audit"]
                if e["action"].startswith("registration.") and a.id in e["subject"]]
        assert len(rows) == 2 * hours, rows
        assert sum(e["count"] for e in rows) == 2 * n, rows
        for action in ("registration.add", "registration.remove"):
            assert sum(e["count"] for e in rows if e["action"] == action) == n, rows
        assert all(e["last"] >= e["time"] for e in rows), rows
        p = pubutil.licsrv("audit", "--data", d1, "--store", url)
        assert p.returncode == 0, p.stderr
        assert ("(x%d, last " % n) in p.stdout or hours == 2, p.stdout
        # the import's entry, the merged ones, the node record (rs-1); no
        # registration left
        got = settled(pg, d1, url, [a])
        assert got[a.id] == 1 + 2 * hours + 1, got
    finally:
        for s in servers:
            s.finish()
        pg.cleanup()
