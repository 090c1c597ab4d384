"""licctl agent and licctl status (SPEC §8) against real licsrv servers with
licenses of a few seconds' heartbeat and grace: grace and its deadline,
restarts during an outage, failover to a standby, revocation, status.json
always whole; the C example on the session (docs/integration.md; the Java
example runs in test_java_session.py)."""
import calendar
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

import srvutil
import tlsutil
from conftest import SANITIZER_ENV, SANITIZER_RE
from srvchain import admin, token_add
from srvutil import Server

NODE = "rs-e2e"


def lic_server(tmp_path, name, heartbeat, grace, sysroot=None):
    """A running licsrv whose license has the given heartbeat/grace (s), with
    an admin token in s.token."""
    s = Server(tmp_path / name, sysroot=sysroot,
               sign_extra=["--heartbeat", str(heartbeat), "--grace", str(grace)])
    s.token = token_add(s.data, "ops")
    return s.start()


def ts(text):
    """RFC 3339 UTC ("...Z") to Unix seconds."""
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


class Agent:
    def __init__(self, state, urls, trust, extra=()):
        self.state = str(state)
        self.status = os.path.join(self.state, "status.json")
        self.args = [srvutil.tool("licctl"), "agent", *urls, "--domain", "localhost",
                     "--port", "8443", "--node", NODE, "--version", "11.0.0",
                     "--trust", trust, "--timeout", "2000", "--state", self.state, *extra]
        self.errpath = self.state + "-agent.log"
        self.proc = None

    def start(self):
        self.err = open(self.errpath, "ab")
        self.proc = subprocess.Popen([str(a) for a in self.args], stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=dict(os.environ, **SANITIZER_ENV))
        return self

    def read(self):
        try:
            with open(self.status, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return json.loads(data)  # a partial file fails here

    def wait(self, pred, timeout, step=0.02):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, "agent exited: %s" % self.log()
            st = self.read()
            if st is not None and pred(st):
                return st
            time.sleep(step)
        raise AssertionError("timed out; last status %r; log %s" % (self.read(), self.log()))

    def wait_state(self, state, timeout):
        return self.wait(lambda st: st["state"] == state, timeout)

    def log(self):
        with open(self.errpath, "r", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None
        finally:
            self.err.close()


@pytest.fixture
def agents():
    started = []
    yield started
    for a in started:
        a.stop()
        assert not SANITIZER_RE.search(a.log()), a.log()


@pytest.fixture
def servers():
    started = []
    yield started
    for s in started:
        s.close()


def status_cmd(state, *extra):
    return subprocess.run([str(srvutil.tool("licctl")), "status", "--state", str(state), *extra],
                          capture_output=True, text=True, timeout=30)


def test_grace_then_unlicensed_on_time(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=6)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    assert st["reason"] == "valid" and st["server"] == url and st["node"] == NODE
    assert st["features"] == ["export", "schedule"] and st["last_error"] == ""
    assert st["heartbeat"] == 2 and st["grace"] == 6 and st["expires"] == "2099-01-01T00:00:00Z"
    for k in ("grace_until", "last_valid", "checked_at", "next_check"):
        ts(st[k])  # RFC 3339 UTC
    assert ts(st["grace_until"]) == ts(st["last_valid"]) + 6
    r = status_cmd(a.state, "--trust", srv.trust)
    assert r.returncode == 0 and "licensed (valid)" in r.stdout, r
    r = status_cmd(a.state, "--trust", srv.trust, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] in ("licensed", "grace"), r
    # status checks the signed chain: without the vendor key it proves nothing
    r = status_cmd(a.state)
    assert r.returncode == 1 and "unlicensed" in r.stdout, r
    assert os.stat(os.path.join(a.state, "session.state")).st_mode & 0o777 == 0o600

    # heartbeats pass: still licensed, checked again
    first = ts(st["checked_at"])
    st = a.wait(lambda s: ts(s["checked_at"]) >= first + 2, 5)
    assert st["state"] == "licensed"

    srv.stop()
    st = a.wait_state("grace", 4)
    assert st["reason"] == "check_failed" and "127.0.0.1" in st["last_error"]
    deadline = ts(st["grace_until"])
    r = status_cmd(a.state, "--trust", srv.trust)
    # status asks no server: it sees the stored verdict older than a heartbeat
    assert r.returncode == 0 and "grace (stale)" in r.stdout, r
    st = a.wait_state("unlicensed", deadline - time.time() + 3)
    seen = time.time()
    assert st["reason"] == "grace_expired"
    assert abs(seen - deadline) <= 1.0, (seen, deadline)
    r = status_cmd(a.state, "--trust", srv.trust)
    assert r.returncode == 1 and "unlicensed (grace_expired)" in r.stdout, r

    assert a.stop() == 0
    states = [re.search(r" state=(\w+)", ln).group(1) for ln in a.log().splitlines()
              if "msg=state" in ln]
    assert states == ["licensed", "grace", "unlicensed"], a.log()


def test_restart_during_outage_keeps_the_deadline(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=8)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    deadline = ts(st["grace_until"])
    srv.stop()
    assert a.stop() == 0
    os.unlink(a.status)  # the restarted agent writes its own

    b = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(b)
    st = b.wait_state("grace", 4)
    assert ts(st["grace_until"]) == deadline, (st, deadline)
    st = b.wait_state("unlicensed", deadline - time.time() + 3)
    assert abs(time.time() - deadline) <= 1.0
    assert b.stop() == 0

    # restarted after the deadline: unlicensed at once, nothing extended
    c = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(c)
    st = c.wait(lambda s: True, 5)
    assert st["state"] == "unlicensed" and st["reason"] == "grace_expired", st


def test_second_agent_on_one_state_directory_refuses(tmp_path, agents, servers):
    """Two agents on one state directory would overwrite each other's status
    and session state: the second refuses, naming the first; once the first
    is gone (even killed), a new one starts."""
    srv = lic_server(tmp_path, "srv", heartbeat=60, grace=600)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 5)
    b = subprocess.run([str(x) for x in Agent(tmp_path / "state", [url], srv.trust).args],
                       capture_output=True, text=True, timeout=30)
    assert b.returncode == 1, b
    assert "another licctl agent (pid %d) runs with this state directory" % a.proc.pid in \
        b.stderr, b.stderr
    assert a.read()["state"] == "licensed" and a.proc.poll() is None
    a.proc.kill()  # no clean exit: the lock dies with the process
    a.proc.wait(timeout=10)
    os.unlink(a.status)  # the new agent writes its own
    c = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(c)
    c.wait_state("licensed", 5)
    assert c.stop() == 0


def test_fifo_state_file_neither_hangs_nor_blocks_sigterm(tmp_path, agents, servers):
    """A FIFO planted at STATE/session.state hung the agent in open() with
    SIGTERM blocked: it is refused as not a regular file, the agent checks
    and writes a real state file over it, and SIGTERM ends it (exit 0)."""
    srv = lic_server(tmp_path, "srv", heartbeat=60, grace=600)
    servers.append(srv)
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    os.mkfifo(state / "session.state", 0o600)
    a = Agent(state, ["http://127.0.0.1:%d" % srv.port], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 10)
    assert os.path.isfile(state / "session.state")  # replaced by the real one
    assert a.stop() == 0
    # a FIFO where licctl status reads (the signed state): refused at once, exit 1
    os.unlink(state / "session.state")
    os.mkfifo(state / "session.state", 0o600)
    r = status_cmd(state, "--trust", srv.trust)
    assert r.returncode == 1 and "is not a regular file (a FIFO)" in r.stderr, r


def test_failover_to_standby_stays_licensed(tmp_path, agents, servers):
    # Two license servers on one machine, each with its own license.
    sysroot = srvutil.fake_machine(str(tmp_path / "machine"))
    primary = lic_server(tmp_path, "primary", heartbeat=1, grace=30, sysroot=sysroot)
    servers.append(primary)
    standby = lic_server(tmp_path, "standby", heartbeat=1, grace=30, sysroot=sysroot)
    servers.append(standby)
    assert primary.license_id != standby.license_id
    purl, surl = ("http://127.0.0.1:%d" % s.port for s in (primary, standby))
    a = Agent(tmp_path / "state", [purl, surl], primary.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    assert st["server"] == purl
    primary.stop()
    deadline = time.monotonic() + 4
    moved = False
    while time.monotonic() < deadline:
        st = a.read()
        assert st["state"] == "licensed", st
        moved = moved or st["server"] == surl
        time.sleep(0.01)
    assert moved, a.read()
    assert "state=grace" not in a.log()


def test_revoked_unlicensed_at_next_check(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=60)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 5)
    st, doc = admin(srv, "POST", "/v1/admin/licenses/revoke", srv.token, {"id": srv.license_id})
    assert st == 200, doc
    revoked_at = time.time()
    st = a.wait_state("unlicensed", 4)
    assert st["reason"] == "revoked" and st["grace_until"] is None and st["features"] == [], st
    assert time.time() - revoked_at <= 2 + 1.0
    # a restart does not bring the old valid verdict back
    assert a.stop() == 0
    srv.stop()
    b = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(b)
    st = b.wait(lambda s: True, 5)
    assert st["state"] == "unlicensed" and st["reason"] == "revoked", st


def test_status_json_always_whole_and_sighup(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=1, grace=10)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 5)
    docs, reads = set(), 0
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        with open(a.status, "rb") as f:
            data = f.read()
        st = json.loads(data)  # never a partial file
        assert st["state"] == "licensed", st
        docs.add(data)
        reads += 1
    assert len(docs) >= 3 and reads > 100, (len(docs), reads)
    assert a.stop() == 0


def test_sighup_checks_now(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=120, grace=240)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    first = ts(st["checked_at"])
    assert ts(st["next_check"]) >= first + 119
    time.sleep(1.1)
    a.proc.send_signal(signal.SIGHUP)
    st = a.wait(lambda s: ts(s["checked_at"]) > first, 2)
    assert st["state"] == "licensed"
    assert a.stop() == 0


def tls_handshakes(srv):
    st, body, _ = srv.get("/metrics")
    assert st == 200
    return {m.group(1): int(m.group(2)) for m in re.finditer(
        r'^licsrv_tls_handshakes_total\{result="(\w+)"\} (\d+)$', body.decode(), re.M)}


def test_each_check_resumes_the_last_tls_session(tmp_path, agents, servers):
    """Every check is a new connection: the agent offers the session of its
    last check (liblic's lic_session keeps it), so after the first full
    handshake the server resumes them (docs/server.md, TLS)."""
    d = tmp_path / "pki"
    d.mkdir()
    ca = tlsutil.make_ca(d)
    leaf = tlsutil.make_cert(d, "server", ca=ca)
    srv = Server(tmp_path / "srv", tls=tlsutil.client_ctx(ca.cert_path),
                 extra=["--tls-cert", leaf.cert_path, "--tls-key", leaf.key_path],
                 sign_extra=["--heartbeat", "2", "--grace", "60"])
    srv.start()
    servers.append(srv)
    before = tls_handshakes(srv)
    a = Agent(tmp_path / "state", ["https://127.0.0.1:%d" % srv.port], srv.trust,
              extra=["--cacert", ca.cert_path]).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    first = ts(st["checked_at"])
    st = a.wait(lambda s: ts(s["checked_at"]) >= first + 4, 8)  # two more checks at least
    assert st["state"] == "licensed"
    after = tls_handshakes(srv)
    # the agent's: one full handshake, then resumed ones (this test's own
    # /metrics reads are full handshakes of their own: one per read)
    assert after["resumed"] - before["resumed"] >= 2, (before, after, a.log())
    assert after["full"] - before["full"] <= 1 + 1, (before, after)
    assert a.stop() == 0


def test_usage_and_missing_status(tmp_path):
    licctl = str(srvutil.tool("licctl"))
    r = subprocess.run([licctl, "agent", "--domain", "localhost"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("licctl: error: "), r
    r = subprocess.run([licctl, "agent", "ftp://x", "--domain", "a.b", "--port", "1", "--node",
                        "n"], capture_output=True, text=True)
    assert r.returncode == 2, r
    r = status_cmd(tmp_path / "nothing")
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "status.json").write_text("{\"state\": \"lic")
    r = status_cmd(tmp_path / "bad")
    assert r.returncode == 1 and r.stderr.startswith("licctl: error: "), r


def test_forged_status_file_makes_nobody_licensed(tmp_path, agents, servers):
    """A hand-written status.json (licensed until 2099, an invented feature),
    no agent, no server: licctl status checks the signed state, finds none,
    and says unlicensed (exit 1). A session.state edited by hand does no
    better: its verdict no longer checks."""
    forged = tmp_path / "forged"
    forged.mkdir(mode=0o700)
    (forged / "status.json").write_text(json.dumps(
        {"state": "licensed", "reason": "valid", "grace_until": "2099-01-01T00:00:00Z",
         "features": ["everything"], "expires": "never"}))
    r = status_cmd(forged)
    assert r.returncode == 1 and "not signed" in r.stderr and r.stdout == "", r
    assert "everything" not in r.stdout + r.stderr
    # a real agent's state, then its verdict edited by one byte
    srv = lic_server(tmp_path, "srv", heartbeat=60, grace=600)
    servers.append(srv)
    a = Agent(tmp_path / "state", ["http://127.0.0.1:%d" % srv.port], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 10)
    assert a.stop() == 0
    assert status_cmd(a.state, "--trust", srv.trust).returncode == 0
    p = os.path.join(a.state, "session.state")
    data = bytearray(open(p, "rb").read())
    i = data.find(b"export")  # a feature inside the signed verdict
    assert i > 0
    data[i] ^= 0x20
    with open(p, "wb") as f:
        f.write(bytes(data))
    r = status_cmd(a.state, "--trust", srv.trust)
    assert r.returncode == 1 and "unlicensed (no_verdict)" in r.stdout, r


def test_short_heartbeat_warns(tmp_path):
    srv = Server(tmp_path / "srv", sign_extra=["--heartbeat", "1", "--grace", "1"])
    srv.close()
    rif = str(tmp_path / "srv") + "-provision/server.rif"
    key = str(tmp_path / "srv") + "-provision/root.pem"
    base = [srvutil.tool("licgen"), "sign", rif, "--key", key, "--mode", "private", "--customer",
            "C", "--features", "a", "--major", "11", "--expires", "2099-01-01", "--dry-run"]
    r = srvutil.run(base + ["--heartbeat", "5", "--grace", "10"])
    assert "warning" in r.stderr and "below 60" in r.stderr, r.stderr
    r = srvutil.run(base + ["--heartbeat", "60"])
    assert r.stderr == "", r.stderr
    r = srvutil.run(base + ["--heartbeat", "10", "--grace", "5"], check=False)
    assert r.returncode == 2 and "shorter" in r.stderr, r.stderr


def test_c_example_on_the_session(tmp_path, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=60, grace=120)
    servers.append(srv)
    exe = os.path.join(srvutil.BUILD_DIR, "tests", "session_check")
    assert os.access(exe, os.X_OK), exe
    url = "http://127.0.0.1:%d" % srv.port
    state = tmp_path / "example-state"
    r = subprocess.run([exe, "--once", "--trust", srv.trust, str(state), url],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "licensed (valid)" in r.stdout, r
    srv.stop()
    # restarted in the outage: still licensed on the stored verdict
    r = subprocess.run([exe, "--once", "--trust", srv.trust, str(state), url],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "grace (check_failed)" in r.stdout, r
