"""Scale-out without reloads (SPEC §4.5, docs/scale-out.md): another
process's registration reaches a read copy from the notice itself (schema
version 4: the row is in the NOTIFY payload), never a read of the database.
Process A registers and unregisters, process B answers `valid` and then
`not_registered` within a second each, and B's /metrics show it:
licsrv_store_cache_reloads stays flat while licsrv_store_cache_notice_rows
counts the rows. A registration written from the shell (no licsrv origin)
arrives the same way."""
import os
import time

import pytest

import pgutil
import pubutil
import test_scaleout as so
from pubutil import verify

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")


@pytest.fixture
def two(tmp_path):
    pg = pgutil.PgServer()
    pg.start()
    url = pg.url()
    s1 = s2 = None
    try:
        d1, d2 = so.node(tmp_path, "n1", url), so.node(tmp_path, "n2", url)
        s1, s2 = so.serve(d1, url), so.serve(d2, url)
        yield pg, url, s1, s2
    finally:
        for s in (s1, s2):
            if s is None:
                continue
            if s.proc is not None and s.proc.poll() is None:
                s.finish()
            else:
                s.close()
        pg.cleanup()


def cache_counts(s):
    st, body, _ = s.get("/metrics", port=s.admin_port)
    assert st == 200
    vals = {}
    for line in body.decode().splitlines():
        if line.startswith("licsrv_store_cache_"):
            name, v = line.split()
            vals[name] = float(v)
    return vals["licsrv_store_cache_reloads"], vals["licsrv_store_cache_notice_rows"]


def within_a_second(port, acct, project, status):
    t0 = time.monotonic()
    while True:
        got = verify(port, acct, project)[1]["status"]
        if got == status:
            return
        assert time.monotonic() - t0 < 1.0, f"still {got}, not {status}, after a second"
        time.sleep(0.005)


def test_registration_reaches_the_other_copy_from_the_notice(two):
    pg, url, s1, s2 = two
    a = so.account(s1.data, url, 100, (s1, s2))
    reloads0, rows0 = cache_counts(s2)
    projects = [os.urandom(16) for _ in range(20)]
    for i, p in enumerate(projects):
        assert so.register(s1.port, a, p, node=f"rs-{i}")[1]["status"] == "valid"
        within_a_second(s2.port, a, p, "valid")
    for p in projects[:10]:
        assert pubutil.unregister(s1.port, a, p)[1]["status"] == "not_registered"
        within_a_second(s2.port, a, p, "not_registered")
    for p in projects[10:]:
        assert verify(s2.port, a, p)[1]["status"] == "valid"
    reloads, rows = cache_counts(s2)
    assert reloads == reloads0, f"B read the database {reloads - reloads0} times"
    assert rows - rows0 >= 30, (rows0, rows)
    # A's own copy took its writes itself: it read nothing either
    assert so.count_regs(pg, a) == 10


def test_a_row_written_from_the_shell_arrives_from_its_notice(two):
    pg, url, s1, s2 = two
    a = so.account(s1.data, url, 100, (s1, s2))
    before = [cache_counts(s) for s in (s1, s2)]
    p = os.urandom(16)
    t = int(time.time())
    pg.psql("INSERT INTO licsrv_registrations (account, project_id, project, domain, created,"
            f" last_valid) VALUES (decode('{a.raw.hex()}', 'hex'), decode('{p.hex()}', 'hex'),"
            f" 'Répörts', 'reports.example.com', {t}, {t})")
    for s in (s1, s2):
        within_a_second(s.port, a, p, "valid")
    pg.psql(f"DELETE FROM licsrv_registrations WHERE project_id = decode('{p.hex()}', 'hex')")
    for s in (s1, s2):
        within_a_second(s.port, a, p, "not_registered")
    for s, (reloads0, rows0) in zip((s1, s2), before):
        reloads, rows = cache_counts(s)
        assert reloads == reloads0
        assert rows - rows0 == 2
