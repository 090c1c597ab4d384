"""pgload - the PostgreSQL side of `make bench`'s pgverify and pgreg figures
(docs/bench.md): the synchronous_commit setting, pgbench's one-row INSERT
script on a table shaped like licsrv's registrations, reading pgbench's
output, and pinning a running cluster to the server's core.

Standard library only, so tests/e2e/test_bench_pg.py can check it alone."""
import os
import re
import subprocess

PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"
SYNC_ENV = "BENCH_PG_SYNCHRONOUS_COMMIT"
# Without a standby, remote_write and remote_apply mean `on`: not offered.
SYNC_MODES = ("on", "off", "local")
TABLE = "bench_registrations"


def sync_commit(env=None):
    """The synchronous_commit of the benchmark's cluster: $BENCH_PG_SYNCHRONOUS_COMMIT,
    default on (every COMMIT waits for its WAL flush, as in production)."""
    v = (os.environ if env is None else env).get(SYNC_ENV, "") or "on"
    if v not in SYNC_MODES:
        raise ValueError("%s must be one of %s, not %r" % (SYNC_ENV, ", ".join(SYNC_MODES), v))
    return v


def table_sql(table=TABLE):
    """The baseline's table: licsrv's own registrations table's columns, types,
    primary key (account, project_id) and defaults, without its NOTIFY trigger
    (so a row costs what a bare INSERT costs)."""
    return ("DROP TABLE IF EXISTS %s; CREATE TABLE %s (LIKE licsrv_registrations INCLUDING ALL)"
            % (table, table))


def script_text(accounts, table=TABLE):
    """One transaction per run of the script: one autocommitted INSERT of a
    fresh registration row (one of `accounts` 16-byte account ids, a random
    UUID as project id, so the primary key never collides)."""
    if accounts < 1:
        raise ValueError("accounts must be at least 1")
    return ("\\set acct random(1, %d)\n"
            "INSERT INTO %s (account, project_id, project, domain, created, last_valid)"
            " VALUES (decode(lpad(to_hex(:acct::integer), 32, '0'), 'hex'), uuid_send(gen_random_uuid()),"
            " 'Reports', 'reports.example.com', 1764547200, 1764547200);\n" % (accounts, table))


def write_script(directory, accounts, table=TABLE):
    path = os.path.join(directory, "pgbench-insert.sql")
    with open(path, "w") as f:
        f.write(script_text(accounts, table))
    return path


def parse(out):
    """pgbench's report -> (tps, transactions processed, failed transactions).
    Raises ValueError when the report has no tps or no count."""
    tps = re.search(r"^tps = ([\d.]+) \(without initial connection time\)", out, re.M)
    n = re.search(r"^number of transactions actually processed: (\d+)", out, re.M)
    if not tps or not n:
        raise ValueError("cannot read pgbench output: %r" % out[-300:])
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    return float(tps.group(1)), int(n.group(1)), int(failed.group(1)) if failed else 0


def args(port, script, clients, secs, threads=1, db="postgres", cpus=None):
    """pgbench on loopback: -n (no vacuum of pgbench's own tables, which do not
    exist), prepared statements (the cheapest INSERT a client can send), clients
    connections for secs seconds; under taskset when cpus is given."""
    a = [PGBENCH, "-n", "-M", "prepared", "-f", script, "-c", str(clients), "-j", str(threads),
         "-T", str(secs), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", db]
    return (["taskset", "-c", cpus] + a) if cpus else a


def run(port, script, clients, secs, threads=1, db="postgres", cpus=None):
    """Runs pgbench (bounded: secs + 60 s); returns (tps, processed). Raises
    RuntimeError when it fails or any transaction failed."""
    p = subprocess.run(args(port, script, clients, secs, threads, db, cpus), capture_output=True,
                       text=True, timeout=secs + 60)
    if p.returncode != 0:
        raise RuntimeError("pgbench failed (%d): %s" % (p.returncode, p.stderr.strip()[:400]))
    tps, n, failed = parse(p.stdout)
    if failed:
        raise RuntimeError("pgbench: %d of %d transactions failed" % (failed, n + failed))
    if n == 0:
        raise RuntimeError("pgbench processed no transaction")
    return tps, n


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def pin(postmaster, cpus):
    """The postmaster and its running children on cpus (a set of core
    numbers); backends forked later inherit the postmaster's."""
    for pid in [postmaster] + children(postmaster):
        try:
            os.sched_setaffinity(pid, cpus)
        except ProcessLookupError:
            pass


def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return [int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15]]


def cpu_secs(postmaster):
    """CPU seconds used so far by the cluster: the postmaster's own and its
    reaped children's (backends that exited), plus its live children's."""
    try:
        u, s, cu, cs = _stat(postmaster)
    except OSError:
        return 0.0
    ticks = u + s + cu + cs
    for pid in children(postmaster):
        try:
            ticks += sum(_stat(pid)[:2])
        except OSError:
            pass  # exited meanwhile: counted in cutime once reaped
    return ticks / os.sysconf("SC_CLK_TCK")


# The statements licsrv sends per registration (pg_stat_statements, in
# Debian's postgresql-15): round trips and parse/plan work are what a
# registration costs PostgreSQL beyond pgbench's one INSERT.
STATEMENTS_CONF = "shared_preload_libraries = 'pg_stat_statements'\n"
STATEMENTS_RESET = "SELECT pg_stat_statements_reset()"
STATEMENTS_SQL = ("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
                  " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
                  " AND query NOT LIKE '%pg_stat_statements%'")
