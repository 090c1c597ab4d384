"""End-to-end: the PostgreSQL side of `make bench`'s pgreg figure
(tests/bench/pgload.py, docs/bench.md) against a real PostgreSQL 15: the
baseline table has licsrv's registrations columns and key, pgbench's
one-row INSERT script stores exactly one fresh row per transaction it
counts, a failing transaction fails the run instead of being counted, the
cluster is pinned and its CPU time and statements read, and
BENCH_PG_SYNCHRONOUS_COMMIT takes only what it documents."""
import os
import sys

import pytest

import pgutil
import pubutil
import srvutil

sys.path.insert(0, os.path.join(srvutil.SOURCE_DIR, "tests", "bench"))
import pgload  # noqa: E402

why = pgutil.available() or (None if os.access(pgload.PGBENCH, os.X_OK)
                             else pgload.PGBENCH + " is missing")
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")


@pytest.fixture
def pg():
    srv = pgutil.PgServer().start(extra_conf=pgload.STATEMENTS_CONF)
    try:
        yield srv
    finally:
        srv.cleanup()


def test_sync_commit_setting():
    assert pgload.sync_commit({}) == "on"
    assert pgload.sync_commit({pgload.SYNC_ENV: ""}) == "on"
    for v in ("on", "off", "local"):
        assert pgload.sync_commit({pgload.SYNC_ENV: v}) == v
    for v in ("yes", "ON", "remote_apply", "1"):
        with pytest.raises(ValueError, match=pgload.SYNC_ENV):
            pgload.sync_commit({pgload.SYNC_ENV: v})


def test_parse_rejects_what_is_no_report():
    for out in ("", "pgbench: error: connection refused\n", "tps = 12.5 (without initial "
                "connection time)\n"):
        with pytest.raises(ValueError):
            pgload.parse(out)
    with pytest.raises(ValueError):
        pgload.script_text(0)


def columns(pg, table):
    return pg.psql("SELECT string_agg(column_name || ' ' || data_type || ' ' || is_nullable, ','"
                   " ORDER BY ordinal_position) FROM information_schema.columns"
                   f" WHERE table_name = '{table}'")


def key(pg, table):
    return pg.psql("SELECT pg_get_indexdef(indexrelid) FROM pg_index"
                   f" WHERE indrelid = '{table}'::regclass AND indisprimary").split(" USING ", 1)[1]


def test_insert_script_one_fresh_row_per_transaction(pg, tmp_path):
    pubutil.licsrv("init", "--mode", "public", "--data", tmp_path / "n", "--store", pg.url())
    pg.psql(pgload.table_sql())
    assert columns(pg, pgload.TABLE) == columns(pg, "licsrv_registrations")
    assert key(pg, pgload.TABLE) == key(pg, "licsrv_registrations") == "btree (account, project_id)"
    pgload.pin(pg.pid(), {0})
    for pid in [pg.pid()] + pgload.children(pg.pid()):
        try:
            got = os.sched_getaffinity(pid)
        except ProcessLookupError:
            continue  # a backend that exited since it was listed (psql's, for one)
        assert got == {0}, pid
    script = pgload.write_script(str(tmp_path), 3)
    pg.psql("CREATE EXTENSION pg_stat_statements")
    pg.psql(pgload.STATEMENTS_RESET)
    c0 = pgload.cpu_secs(pg.pid())
    tps, n = pgload.run(pg.port, script, clients=4, secs=1)
    assert tps > 0 and n > 0
    assert pgload.cpu_secs(pg.pid()) > c0
    # one statement per transaction: what the figure's "1 per INSERT" says
    assert n <= int(pg.psql(pgload.STATEMENTS_SQL)) <= n + 4
    rows, ids, accts = (int(x) for x in pg.psql(
        f"SELECT count(*), count(DISTINCT project_id), count(DISTINCT account) FROM {pgload.TABLE}"
    ).split("|"))
    assert n <= rows <= n + 4  # a client's last transaction may end after the count
    assert ids == rows and 1 <= accts <= 3
    # the account ids are 16 bytes, as licsrv's
    assert pg.psql(f"SELECT DISTINCT length(account) FROM {pgload.TABLE}") == "16"


def test_a_failing_transaction_fails_the_run(pg, tmp_path):
    pg.psql("CREATE TABLE once (id int PRIMARY KEY)")
    script = tmp_path / "dup.sql"
    script.write_text("INSERT INTO once VALUES (1);\n")  # the second one is a duplicate key
    with pytest.raises(RuntimeError, match="pgbench"):
        pgload.run(pg.port, str(script), clients=1, secs=1)
    assert pg.psql("SELECT count(*) FROM once") == "1"
