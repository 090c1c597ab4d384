#!/usr/bin/python3
"""with_pg.py TEST [ARGS...] - run a unit test with a throw-away PostgreSQL
server (tests/e2e/pgutil.py) and LIC_TEST_PG_URL naming it; stop it after.
Without PostgreSQL here (pgutil.available() says why) the test runs without
the variable and skips its PostgreSQL group, printing so. Bounded in time."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import pgutil  # noqa: E402


def main():
    if len(sys.argv) < 2:
        print("usage: with_pg.py TEST [ARGS...]", file=sys.stderr)
        return 2
    why = pgutil.available()
    env = dict(os.environ)
    if why is not None:
        print(f"with_pg: no PostgreSQL here ({why}): its tests are skipped", flush=True)
        env.pop("LIC_TEST_PG_URL", None)
        return subprocess.run(sys.argv[1:], env=env, timeout=110).returncode
    pg = pgutil.PgServer()
    try:
        pg.start()
        env["LIC_TEST_PG_URL"] = pg.url()
        return subprocess.run(sys.argv[1:], env=env, timeout=110).returncode
    finally:
        pg.cleanup()


if __name__ == "__main__":
    sys.exit(main())
