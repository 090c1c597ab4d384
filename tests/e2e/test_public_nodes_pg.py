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


def test_pushed_out_nodes_leave_the_database(tmp_path):
    pg = pgutil.PgServer()
    pg.start()
    s = None
    try:
        url = pg.url()
        data = str(tmp_path / "n1")
        pubutil.licsrv("init", "--mode", "public", "--data", data, "--store", url)
        pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB,
                       pubutil.certify(data))
        a = pubutil.account(data, 3, import_it=False)
        pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB,
                       a.path)
        s = srvchain.Server(data, extra=["--store", url, "--account-new-nodes-per-hour", "0",
                                         "--unlimited-max-nodes", "2"],
                            threads=2, provisioned=False).start()
        pid = os.urandom(16)
        assert register(s.port, a, pid)[1]["status"] == "valid"
        for i in range(5):
            assert verify(s.port, a, pid, node="m%d" % i)[1]["status"] == "valid"
            # past the batch interval (2 s): the node pushed out next has no
            # heartbeat pending that would write it back (docs/public.md)
            time.sleep(2.2)
        deadline = time.monotonic() + 10
        while True:
            p = pubutil.licsrv("nodes", "--data", data, "--store", url, "--account", a.id,
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
