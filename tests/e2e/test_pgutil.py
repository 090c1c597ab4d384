"""The PostgreSQL test harness (pgutil) used by the public-mode store tests:
a real server starts on a free port, commits survive a restart, and stopping
it leaves no process behind."""
import subprocess

import pytest

import pgutil

why = pgutil.available()
pytestmark = pytest.mark.skipif(why is not None, reason=why or "")


@pytest.fixture
def pg():
    srv = pgutil.PgServer().start()
    try:
        yield srv
    finally:
        srv.cleanup()


def test_server_answers_and_keeps_commits(pg):
    assert pg.psql("SHOW server_version_num").startswith("15")
    pg.psql("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)")
    pg.psql("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
    pg.restart()
    assert pg.psql("SELECT string_agg(v, ',' ORDER BY id) FROM t") == "one,two"


def test_stop_leaves_nothing_running(pg):
    pid = pg.pid()
    assert pid is not None and pgutil._alive(pid)
    pg.stop()
    assert pg.pid() is None
    assert not pgutil._alive(pid)
    with pytest.raises(RuntimeError):
        pg.psql("SELECT 1")
    assert subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", str(pg.port)],
                          capture_output=True, timeout=10).returncode != 0
