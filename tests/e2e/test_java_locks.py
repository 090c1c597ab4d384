"""liblic's state locks and the Java client's exclude each other (docs/integration.md):
liblic takes fcntl OFD locks, which conflict with the POSIX record locks of Java's
FileChannel.lock (flock, used before, does not on Linux). A Java agent and a licctl
agent never run on one state directory, whichever came first; two checkers keeping
the revocation list, one Java and one C, wait for each other."""
import os
import subprocess
import threading
import time

import javautil
from test_agent import Agent, lic_server, agents, servers  # noqa: F401 (fixtures)
from test_java_session import JavaAgent
from test_revoke_offline import local, revoke  # noqa: F401 (fixtures)

javautil.need_jar()

HELPER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "HoldLock.java")


def java_lock(mode, path):
    """java HoldLock.java MODE PATH (a source-file program: no build needed)."""
    return subprocess.Popen(["java", "-XX:TieredStopAtLevel=1", HELPER, mode, str(path)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def java_try(path):
    p = java_lock("try", path)
    out, _ = p.communicate(timeout=60)
    assert p.returncode == 0, out
    return out.strip()


def test_java_agent_and_licctl_agent_exclude_each_other(tmp_path, agents, servers):
    srv = lic_server(tmp_path, "srv", heartbeat=60, grace=600)
    servers.append(srv)
    url = "http://127.0.0.1:%d" % srv.port
    state = tmp_path / "state"
    j = JavaAgent(state, [url], srv.trust).start()
    agents.append(j)
    j.wait_state("licensed", 30)
    c = subprocess.run([str(x) for x in Agent(state, [url], srv.trust).args],
                       capture_output=True, text=True, timeout=30)
    assert c.returncode == 1, c
    assert "another licctl agent (pid %d) runs with this state directory" % j.proc.pid in \
        c.stderr, c.stderr
    assert j.stop() == 0
    os.unlink(j.status)
    a = Agent(state, [url], srv.trust).start()
    agents.append(a)
    a.wait_state("licensed", 10)
    assert java_try(state / "agent.lock") == "busy"
    r = javautil.run(JavaAgent(state, [url], srv.trust).args[4:], timeout=60)
    assert r.returncode == 1, r
    assert "another agent (pid %d) runs with this state directory" % a.proc.pid in r.stderr, \
        r.stderr
    assert a.read()["state"] == "licensed" and a.proc.poll() is None
    assert a.stop() == 0
    assert java_try(state / "agent.lock") == "free"


def test_licctl_waits_for_a_java_process_keeping_the_revocation_list(local, revoke):
    """While Java holds STATE/revocations.rev.lock (as Revocations.remember does),
    `licctl check --revocations` waits, then keeps the list once it is let go."""
    check, lic_id, state = local
    listed = revoke("r1.rev", "--license", lic_id)
    h = java_lock("hold", state / "revocations.rev.lock")
    try:
        assert h.stdout.readline().strip() == "locked"
        done = {}

        def run():
            t0 = time.monotonic()
            done["r"] = check("--revocations", listed)
            done["t"] = time.monotonic() - t0
        t = threading.Thread(target=run)
        t.start()
        time.sleep(1.5)
        assert "r" not in done, done
        assert not (state / "revocations.rev").exists()
        h.stdin.close()
        t.join(timeout=30)
    finally:
        if not h.stdin.closed:
            h.kill()
        h.wait(timeout=30)
    assert done["t"] >= 1.4, done
    assert done["r"].code == 1 and "revoked" in done["r"].out + done["r"].err, done["r"]
    assert (state / "revocations.rev").exists()
