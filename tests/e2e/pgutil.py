"""pgutil - a real PostgreSQL 15 server for tests (Debian's postgresql package):
initdb in a fresh directory, pg_ctl start on a free loopback port, stop.

initdb refuses to run as root, so as root the cluster belongs to the
`postgres` system user and lives in a 0755 directory that user owns (pytest's
own temporary directories are 0700 root, which postgres cannot enter).
Standard library only. Every start and stop is bounded in time."""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

PG_BIN = "/usr/lib/postgresql/15/bin"
PG_USER = "postgres"


def available():
    """None when a server can be started here, else why not (for pytest.skip)."""
    for tool in ("initdb", "pg_ctl", "postgres"):
        if not os.access(os.path.join(PG_BIN, tool), os.X_OK):
            return f"{PG_BIN}/{tool} is missing (make deps installs postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return f"no '{PG_USER}' system user to own the cluster"
    if not shutil.which("psql"):
        return "psql is missing (postgresql-client)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid):
    """Whether pid runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class PgServer:
    """A throw-away cluster: PgServer().start() ... .stop(). Its url() is a
    libpq connection string for the superuser, database `postgres`."""

    def __init__(self, base=None, port=None):
        self.name = None
        self.port = port or free_port()
        self.base = base
        self.dir = None
        self.data = None
        self._made_base = False

    def _as_owner(self, argv, **kw):
        if os.geteuid() == 0:
            argv = ["runuser", "-u", PG_USER, "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=kw.pop("timeout", 60),
                              **kw)

    def start(self, extra_conf=None):
        if self.base is None:
            self.base = tempfile.mkdtemp(prefix="licsrv-pg-")
            self._made_base = True
        os.chmod(self.base, 0o755)
        self.dir = os.path.join(self.base, f"pg{self.port}")
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        p = self._as_owner([f"{PG_BIN}/initdb", "-D", self.data, "--auth=trust", "-U", "postgres",
                            "--no-sync", "-E", "UTF8", "--locale=C"])
        if p.returncode != 0:
            raise RuntimeError(f"initdb failed: {p.stderr.strip()}")
        if extra_conf:
            conf = os.path.join(self.data, "postgresql.conf")
            self._as_owner(["sh", "-c", f"cat >> '{conf}'"], input=extra_conf)
        self._ctl_start()
        return self

    def _ctl_start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on"
        if getattr(self, "name", None):
            opts += f" -c cluster_name={self.name}"  # the standby's application_name
        p = self._as_owner([f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", opts, "-w", "-t", "30",
                            "-l", os.path.join(self.dir, "log"), "start"])
        if p.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {p.stderr.strip()} {self.log_tail()}")

    def start_standby(self, primary, name="standby1"):
        """A streaming standby of primary (started with replication settings):
        pg_basebackup -R into a fresh directory, then start it on its own port.
        Its cluster_name is its application_name on the primary (for
        synchronous_standby_names)."""
        self.name = name
        if self.base is None:
            self.base = tempfile.mkdtemp(prefix="licsrv-pg-")
            self._made_base = True
        os.chmod(self.base, 0o755)
        self.dir = os.path.join(self.base, f"pg{self.port}")
        os.makedirs(self.dir, mode=0o755, exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam(PG_USER)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        p = self._as_owner([f"{PG_BIN}/pg_basebackup", "-D", self.data, "-h", "127.0.0.1",
                            "-p", str(primary.port), "-U", "postgres", "-R", "-X", "stream",
                            "--no-sync"], timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"pg_basebackup failed: {p.stderr.strip()}")
        self._ctl_start()
        return self

    def promote(self):
        p = self._as_owner([f"{PG_BIN}/pg_ctl", "-D", self.data, "-w", "-t", "30", "promote"])
        if p.returncode != 0:
            raise RuntimeError(f"pg_ctl promote failed: {p.stderr.strip()}")

    def kill9(self):
        """The primary dies at once (SIGKILL to the postmaster; its backends
        exit when they notice), as a crashed machine would."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, 9)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)
        # the backends notice the postmaster's death within moments
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    pass
            except OSError:
                break
            time.sleep(0.05)

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def url(self, db="postgres"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, sql, db="postgres"):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                            "-d", self.url(db), "-c", sql],
                           capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"psql: {p.stderr.strip()}")
        return p.stdout.strip()

    def pid(self):
        """The postmaster's PID while it runs, else None."""
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError, TypeError):
            return None

    def stop(self, mode="fast"):
        """Stop the server (mode fast, immediate) and wait, at most 30 s, for the
        postmaster to be gone (pg_ctl returns once its PID file is removed, a
        moment before the process ends); its files stay until cleanup()."""
        pid = self.pid() if self.data else None
        if pid is None:
            return
        self._as_owner([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.05)

    def restart(self):
        self.stop()
        self._ctl_start()

    def cleanup(self):
        self.stop(mode="immediate")
        if self._made_base and self.base:
            shutil.rmtree(self.base, ignore_errors=True)
        elif self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
