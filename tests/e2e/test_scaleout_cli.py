"""The data subcommands on a PostgreSQL store (SPEC §4.5: every subcommand
that opens the store takes --store URL): `licsrv release --node` frees a
node of an account on the shared store, and `licsrv status` shows the
database's size (pg_database_size) instead of LMDB's "bytes used of" a map
that PostgreSQL does not have."""
import json
import os
import subprocess

import pytest

import pgutil
import pubutil
import srvutil
from test_scaleout import account, node, pg, register, serve  # noqa: F401 (pg: a fixture)

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")


def cli(*args):
    return subprocess.run([srvutil.licsrv_bin()] + [str(a) for a in args], capture_output=True,
                          text=True, timeout=60)


def last_seen(pg, acct, name):
    return pg.psql("SELECT last_seen FROM licsrv_nodes WHERE owner = "
                   f"decode('{acct.raw.hex()}', 'hex') AND node = '{name}'")


def test_release_node_takes_store(tmp_path, pg):
    url = pg.url()
    d1 = node(tmp_path, "n1", url)
    s = serve(d1, url)
    try:
        a = account(d1, url, 10, [s])
        project = os.urandom(16)
        st, v = register(s.port, a, project, node="rs-7")
        assert st == 200 and v["status"] == "valid", (st, v)
        st, v = pubutil.verify(s.port, a, project, node="rs-7")  # a valid check: last seen
        assert st == 200 and v["status"] == "valid", (st, v)
    finally:
        s.finish()  # the heartbeat batch (node last seen) is flushed at stop
    assert int(last_seen(pg, a, "rs-7")) > 0

    p = cli("release", "--node", "rs-7", "--license", a.id, "--data", d1, "--store", url)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"released node rs-7 of license {a.id}"
    assert last_seen(pg, a, "rs-7") == "0"
    assert pg.psql("SELECT count(*) FROM licsrv_audit WHERE action = 'release' AND "
                   "subject LIKE '%rs-7%'") == "1"
    # again: nothing held any more, said as a failure
    p = cli("release", "--node", "rs-7", "--license", a.id, "--data", d1, "--store", url)
    assert p.returncode == 1 and "holds no seat" in p.stderr, (p.returncode, p.stderr)
    # `store =` from --config works the same (what the other subcommands read)
    conf = tmp_path / "licsrv.conf"
    conf.write_text(f"data = {d1}\nstore = {url}\n")
    p = cli("release", "--node", "nobody", "--license", a.id, "--config", conf)
    assert p.returncode == 1 and "holds no seat" in p.stderr, (p.returncode, p.stderr)
    p = cli("release", "--node", "rs-7", "--license", a.id, "--data", d1, "--store", "/tmp/x")
    assert p.returncode == 2 and "postgresql://" in p.stderr, p.stderr
    assert "--store URL" in cli("release", "--help").stdout


def test_status_shows_the_database_size(tmp_path, pg):
    url = pg.url()
    d1 = node(tmp_path, "n1", url)
    size = int(pg.psql("SELECT pg_database_size(current_database())"))
    p = cli("status", "--data", d1, "--store", url)
    assert p.returncode == 0, p.stderr
    line = [l for l in p.stdout.splitlines() if l.startswith("store: ")]
    assert len(line) == 1, p.stdout
    assert line[0].startswith("store: postgresql, database size "), line
    shown = int(line[0].split()[4])
    assert abs(shown - size) <= 1 << 20 and shown > 0, (shown, size)  # the same database
    assert "MiB" in line[0] and " of " not in line[0], line
    j = json.loads(cli("status", "--data", d1, "--store", url, "--json").stdout)
    assert j["store_backend"] == "postgresql"
    assert j["map_bytes"] is None
    assert abs(j["store_bytes"] - size) <= 1 << 20 and j["store_bytes"] > 0, j
    # LMDB keeps its "bytes used of" the map
    d2 = str(tmp_path / "lmdb")
    pubutil.licsrv("init", "--mode", "public", "--data", d2)
    p = cli("status", "--data", d2)
    assert p.returncode == 0, p.stderr
    assert any(l.startswith("store: ") and " bytes used of " in l for l in p.stdout.splitlines())
    j = json.loads(cli("status", "--data", d2, "--json").stdout)
    assert j["store_backend"] == "lmdb" and j["map_bytes"] > 0 and j["store_bytes"] > 0, j
