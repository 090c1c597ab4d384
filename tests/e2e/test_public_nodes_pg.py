"""Issue 23 item 3, in part: on a PostgreSQL store an account's node records
past unlimited_max_nodes stayed in the database (only the process's memory
was bounded; a restart loaded them all again). The node pushed out of the
account's table is now deleted from the database too, as on LMDB."""
import json
import os
import time

import pytest

import pgutil
import pubutil
import srvchain
from pubutil import register, verify

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")


def serve_one_account(tmp_path, url):
    """A public-mode licsrv on the store at url, with one account of
    capacity 3 and a node table of 2 per account: (server, account)."""
    data = str(tmp_path / "n1")
    pubutil.licsrv("init", "--mode", "public", "--data", data, "--store", url)
    pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB,
                   pubutil.certify(data))
    a = pubutil.account(data, 3, import_it=False)
    pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB, a.path)
    s = srvchain.Server(data, extra=["--store", url, "--account-new-nodes-per-hour", "0",
                                     "--unlimited-max-nodes", "2"],
                        threads=2, provisioned=False).start()
    return s, a


def test_pushed_out_nodes_leave_the_database(tmp_path):
    pg = pgutil.PgServer()
    pg.start()
    s = None
    try:
        url = pg.url()
        s, a = serve_one_account(tmp_path, url)
        pid = os.urandom(16)
        assert register(s.port, a, pid)[1]["status"] == "valid"
        for i in range(5):
            assert verify(s.port, a, pid, node="m%d" % i)[1]["status"] == "valid"
            # past the batch interval (2 s): each heartbeat written before the
            # next push-out (the next test: pending ones)
            time.sleep(2.2)
        deadline = time.monotonic() + 10
        while True:
            p = pubutil.licsrv("nodes", "--data", s.data, "--store", url, "--account", a.id,
                               "--json")
            assert p.returncode == 0, p.stderr
            names = sorted(n["node"] for n in json.loads(p.stdout)["nodes"])
            if names == ["m3", "m4"] or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert names == ["m3", "m4"], names
    finally:
        if s is not None:
            s.finish()
        pg.cleanup()


def test_pushed_out_node_not_written_back_by_its_pending_heartbeat(tmp_path):
    """Issue 23 item 1 on PostgreSQL: a node pushed out of the account's
    table is deleted from the database, but its heartbeat still waiting in
    the writer's batch (up to 2 s) wrote the row back. Checks in quick
    succession: only the table's nodes stay, and the account's record count
    is the rows'."""
    pg = pgutil.PgServer()
    pg.start()
    s = None
    try:
        url = pg.url()
        s, a = serve_one_account(tmp_path, url)
        pid = os.urandom(16)
        assert register(s.port, a, pid, node="m0")[1]["status"] == "valid"
        for i in range(1, 8):  # no pause: each pushed-out node's heartbeat is pending
            assert verify(s.port, a, pid, node="m%d" % i)[1]["status"] == "valid"
        time.sleep(2.5)  # the batch interval: every pending heartbeat is written
        p = pubutil.licsrv("nodes", "--data", s.data, "--store", url, "--account", a.id, "--json")
        assert p.returncode == 0, p.stderr
        names = sorted(n["node"] for n in json.loads(p.stdout)["nodes"])
        assert names == ["m6", "m7"], names
        p = pubutil.licsrv("accounts", "--data", s.data, "--store", url, "--json")
        assert p.returncode == 0, p.stderr
        doc = json.loads(p.stdout)
        rows = doc["accounts"] if isinstance(doc, dict) else doc
        hexid = a.id.replace("-", "")
        want = int(pg.psql(
            "SELECT (SELECT count(*) FROM licsrv_registrations WHERE account = '\\x%s')"
            " + (SELECT count(*) FROM licsrv_nodes WHERE owner = '\\x%s')"
            " + (SELECT count(*) FROM licsrv_audit WHERE subject ILIKE 'account:%s%%')"
            % (hexid, hexid, a.id)))
        assert [r["store_records"] for r in rows if r["id"] == a.id] == [want], (rows, want)
    finally:
        if s is not None:
            s.finish()
        pg.cleanup()
