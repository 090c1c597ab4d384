"""The Java agent and status (build/java/liblic.jar) against real licsrv
servers with licenses of a few seconds' heartbeat and grace: licensed, grace
when the server stops, unlicensed at grace_until itself; a JVM restarted in
grace keeps the original deadline; failover to a standby; and `status`
re-checks the signed session state, so a hand-written status.json makes
nobody licensed."""
import json
import os
import subprocess
import time

import pytest

import javautil
import srvutil
from test_agent import Agent, lic_server, ts, NODE  # noqa: F401 (fixtures below)
from test_agent import agents, servers  # noqa: F401

javautil.need_jar()


class JavaAgent(Agent):
    def __init__(self, state, urls, trust, extra=()):
        super().__init__(state, urls, trust, extra)
        self.args = ["java", "-XX:TieredStopAtLevel=1", "-jar", javautil.JAR] + self.args[1:]


def jstatus(state, *extra):
    return javautil.run(["status", "--state", state, *extra])


def test_java_agent_grace_then_unlicensed_on_time(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=6)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = JavaAgent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 10)
    assert st["reason"] == "valid" and st["server"] == url and st["node"] == NODE
    assert st["features"] == ["export", "schedule"] and st["last_error"] == ""
    assert st["heartbeat"] == 2 and st["grace"] == 6 and st["expires"] == "2099-01-01T00:00:00Z"
    assert ts(st["grace_until"]) == ts(st["last_valid"]) + 6
    assert os.stat(os.path.join(a.state, "session.state")).st_mode & 0o777 == 0o600
    r = jstatus(a.state, "--trust", srv.trust)
    # a 2 s heartbeat may pass while the JVM starts: stale until the agent's next answer
    assert r.returncode == 0, r
    assert "licensed (valid)" in r.stdout or "grace (stale)" in r.stdout, r
    first = ts(st["checked_at"])
    st = a.wait(lambda s: ts(s["checked_at"]) >= first + 2, 5)
    assert st["state"] == "licensed"

    srv.stop()
    st = a.wait_state("grace", 5)
    assert st["reason"] == "check_failed" and "127.0.0.1" in st["last_error"]
    deadline = ts(st["grace_until"])
    r = jstatus(a.state, "--trust", srv.trust)
    assert r.returncode == 0 and "grace (" in r.stdout, r
    st = a.wait_state("unlicensed", deadline - time.time() + 3)
    seen = time.time()
    assert st["reason"] == "grace_expired"
    assert abs(seen - deadline) <= 1.0, (seen, deadline)
    r = jstatus(a.state, "--trust", srv.trust)
    assert r.returncode == 1 and "unlicensed (grace_expired)" in r.stdout, r
    assert a.stop() == 0


def test_java_agent_restarted_in_grace_keeps_the_deadline(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=8)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = JavaAgent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 10)
    deadline = ts(st["grace_until"])
    srv.stop()
    assert a.stop() == 0
    os.unlink(a.status)
    b = JavaAgent(tmp_path / "state", [url], srv.trust).start()
    agents.append(b)
    st = b.wait_state("grace", 8)
    assert ts(st["grace_until"]) == deadline, (st, deadline)
    st = b.wait_state("unlicensed", deadline - time.time() + 3)
    assert abs(time.time() - deadline) <= 1.0
    assert b.stop() == 0


def test_java_agent_fails_over_to_a_standby(tmp_path, agents, servers):
    sysroot = srvutil.fake_machine(str(tmp_path / "machine"))
    primary = lic_server(tmp_path, "primary", heartbeat=1, grace=30, sysroot=sysroot)
    servers.append(primary)
    standby = lic_server(tmp_path, "standby", heartbeat=1, grace=30, sysroot=sysroot)
    servers.append(standby)
    urls = ["http://127.0.0.1:%d" % s.port for s in (primary, standby)]
    a = JavaAgent(tmp_path / "state", urls, primary.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 10)
    assert st["server"] == urls[0]
    primary.stop()
    st = a.wait(lambda s: s["server"] == urls[1] and s["state"] == "licensed", 10)
    assert st["last_error"] == ""
    assert a.stop() == 0


def test_forged_status_json_makes_nobody_licensed(tmp_path, agents, servers):
    forged = {"state": "licensed", "reason": "valid", "grace_until": "2099-01-01T00:00:00Z",
              "features": ["invented"], "server": "http://nowhere"}
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "status.json").write_text(json.dumps(forged))
    r = jstatus(empty)
    assert r.returncode == 1 and "licensed" not in r.stdout, r
    # a real session whose grace ran out, and a status.json edited to say licensed
    srv = lic_server(tmp_path, "srv", heartbeat=1, grace=2)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    a = JavaAgent(tmp_path / "state", [url], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 10)
    srv.stop()
    a.wait_state("unlicensed", 8)
    assert a.stop() == 0
    with open(a.status, "w") as f:
        json.dump(forged, f)
    r = jstatus(a.state, "--json", "--trust", srv.trust)
    assert r.returncode == 1, r
    d = json.loads(r.stdout)
    assert d["state"] == "unlicensed" and "invented" not in d["features"], d
    # an edited session.state (a byte of the signed verdict) checks no more
    p = os.path.join(a.state, "session.state")
    b = bytearray(open(p, "rb").read())
    i = b.find(b"license holds")
    b[i] ^= 1
    open(p, "wb").write(bytes(b))
    r = jstatus(a.state, "--json", "--trust", srv.trust)
    assert r.returncode == 1 and "ignored" in json.loads(r.stdout)["last_error"], r


def test_report_server_example_serves_only_while_licensed(tmp_path, servers):
    """docs/examples/ReportServer.java, compiled against the jar: 200 while
    licensed, 503 once the license server is gone and grace has run out."""
    import urllib.error
    import urllib.request
    src = os.path.join(srvutil.SOURCE_DIR, "docs", "examples", "ReportServer.java")
    out = tmp_path / "classes"
    subprocess.run(["javac", "--release", "17", "-cp", javautil.JAR, "-d", str(out), src],
                   check=True, timeout=120)
    srv = lic_server(tmp_path, "srv", heartbeat=1, grace=3)
    servers.append(srv)
    port = srvutil.free_port()
    p = subprocess.Popen(["java", "-cp", "%s:%s" % (javautil.JAR, out), "ReportServer", str(port),
                          str(tmp_path / "state"), srv.trust, "http://127.0.0.1:%d" % srv.port],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def get():
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return None, ""

    def wait_for(code, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert p.poll() is None, p.stderr.read().decode()
            got = get()
            if got[0] == code:
                return got
            time.sleep(0.05)
        raise AssertionError("no %d in %.0f s, last %r" % (code, timeout, get()))

    try:
        assert wait_for(200, 20) == (200, "reports\n")
        srv.stop()
        assert wait_for(503, 8) == (503, "unlicensed: reports are off\n")
    finally:
        p.kill()
        p.wait(timeout=10)


def test_integration_doc_java_snippets_are_the_compiled_example():
    """Every ```java block of docs/integration.md is a piece of an example the
    tests compile (whitespace aside), so the doc cannot drift from the code."""
    import re
    doc = open(os.path.join(srvutil.SOURCE_DIR, "docs", "integration.md")).read()
    blocks = re.findall(r"```java\n(.*?)```", doc, re.S)
    assert blocks
    ex = open(os.path.join(srvutil.SOURCE_DIR, "docs", "examples", "ReportServer.java")).read()
    norm = lambda t: " ".join(t.split())  # noqa: E731
    for b in blocks:
        assert norm(b) in norm(ex), b


def test_state_directory_moves_between_the_java_and_the_c_agent(tmp_path, agents, servers):
    """session.state is liblic's format: licctl agent takes over a Java agent's
    state in an outage with the same deadline, and Java's status re-checks a
    licctl agent's state given the agent's options."""
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=20)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    j = JavaAgent(tmp_path / "state", [url], srv.trust).start()
    agents.append(j)
    st = j.wait_state("licensed", 10)
    deadline = ts(st["grace_until"])
    srv.stop()
    assert j.stop() == 0
    os.unlink(j.status)
    c = Agent(tmp_path / "state", [url], srv.trust).start()
    agents.append(c)
    st = c.wait_state("grace", 8)
    assert ts(st["grace_until"]) == deadline, (st, deadline)
    assert c.stop() == 0
    # a state written by licctl agent (no recorded question): the agent's options again
    srv.start()
    c2 = Agent(tmp_path / "cstate", [url], srv.trust).start()
    agents.append(c2)
    c2.wait_state("licensed", 8)
    opts = ["--domain", "localhost", "--port", "8443", "--node", NODE, "--version", "11.0.0"]
    r = jstatus(c2.state, "--trust", srv.trust, *opts)
    assert r.returncode == 0 and ("licensed" in r.stdout or "grace" in r.stdout), r
    other = ["--domain", "localhost", "--port", "8443", "--node", "someone-else", "--version",
             "11.0.0"]
    r = jstatus(c2.state, "--trust", srv.trust, *other)
    assert r.returncode == 1 and "another node" in r.stdout, r
    assert c2.stop() == 0


def test_java_agent_checks_now_when_check_now_appears(tmp_path, agents, servers):
    """licctl agent's SIGHUP, without a signal API: touching STATE/check-now
    makes the Java agent check at once (and it removes the file); SIGHUP
    stops it like SIGTERM (exit 0)."""
    import signal
    srv = lic_server(tmp_path, "srv", heartbeat=120, grace=240)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    state = tmp_path / "state"
    state.mkdir()
    (state / "check-now").write_text("")  # a leftover: removed at start
    a = JavaAgent(state, [url], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 10)
    assert not (state / "check-now").exists()
    for _ in range(2):
        first = ts(st["checked_at"])
        time.sleep(1.1)  # checked_at has one-second resolution
        (state / "check-now").write_text("")
        st = a.wait(lambda s: ts(s["checked_at"]) > first, 8)
        assert st["state"] == "licensed" and ts(st["next_check"]) >= ts(st["checked_at"]) + 100
        deadline = time.monotonic() + 5
        while (state / "check-now").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (state / "check-now").exists()
    assert "check_now" not in a.log(), a.log()
    a.proc.send_signal(signal.SIGHUP)
    assert a.proc.wait(timeout=20) == 0
