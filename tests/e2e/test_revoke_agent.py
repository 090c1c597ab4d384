"""End-to-end: `licctl agent` keeps the revocation list its license server
sends with a verify answer (issue 24, docs/revocation.md): the newest genuine
list lands in the state directory (0600) and its seq goes out with every
check, a forged one is ignored with a log line, and a license on the kept
list reads revoked, also for `licctl status` after the agent stopped."""
import json
import os
import uuid

import pytest

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import javautil
import lictest_formats as lf
import srvutil
from srvchain import armor, load_root, seal
from test_agent import Agent, agents, lic_server, servers, status_cmd  # noqa: F401

OTHER = uuid.UUID("50515253-5455-5657-5859-5a5b5c5d5e5f").bytes


def import_list(srv, path, seq, licenses, key=None, trust=None):
    body = lf.revocations_body(seq, licenses, [], [(7, 4242)])
    path.write_bytes(armor("revocations", seal("revocations", body, key or load_root())))
    srvutil.run([srvutil.licsrv_bin(), "import", str(path), "--data", srv.data, "--trust",
                 trust or srv.trust], srv.env)


class JavaAgent(Agent):
    """The Java client's agent (liblic.jar), same options and files."""

    def __init__(self, state, urls, trust, extra=()):
        super().__init__(state, urls, trust, extra)
        self.args = ["java", "-XX:TieredStopAtLevel=1", "-jar", javautil.JAR] + self.args[1:]


def status_of(kind, state, *extra):
    if kind == "java":
        return javautil.run(["status", "--state", state, *extra])
    return status_cmd(state, *extra)


def kept_seq(state):
    with open(os.path.join(str(state), "revocations.rev"), "rb") as f:
        return lf.envelope_decode(f.read()).body_obj()["seq"]


@pytest.mark.parametrize("kind", ["c", "java"])
def test_agent_keeps_the_list_and_reads_revoked(tmp_path, agents, servers, kind):  # noqa: F811
    if kind == "java":
        javautil.need_jar()
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=60)
    servers.append(srv)
    state = tmp_path / "state"
    a = (JavaAgent if kind == "java" else Agent)(state, ["http://127.0.0.1:%d" % srv.port],
                                                 srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 10)
    assert st["revocations_seq"] == 0, st  # a server without a list: as before
    assert not os.path.exists(state / "revocations.rev")
    import_list(srv, tmp_path / "r1.rev", 1, [OTHER])
    st = a.wait(lambda s: s["revocations_seq"] == 1, 10)
    assert st["state"] == "licensed", st
    assert kept_seq(state) == 1
    assert oct(os.stat(state / "revocations.rev").st_mode & 0o777) == "0o600"
    assert "level=info msg=revocations seq=1 note=\"revocation list seq 1 from http" in a.log()
    import_list(srv, tmp_path / "r2.rev", 2, [OTHER, uuid.UUID(srv.license_id).bytes])
    st = a.wait_state("unlicensed", 10)
    assert st["reason"] == "revoked" and st["revocations_seq"] == 2, st
    assert a.log().count("msg=revocations") == 2, a.log()
    assert a.stop() == 0
    srv.stop()
    p = status_of(kind, state, "--json", "--trust", srv.trust)
    doc = json.loads(p.stdout)
    assert doc["reason"] == "revoked" and doc["revocations_seq"] == 2, (p.stdout, p.stderr)


@pytest.mark.parametrize("kind", ["c", "java"])
def test_forged_list_ignored_with_a_log_line(tmp_path, agents, servers, kind):  # noqa: F811
    """The server imported a list under a key the agent does not trust (for
    the server a genuine list naming someone else's license): the agent keeps
    nothing, says why, and stays licensed."""
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=60)
    servers.append(srv)
    other = Ed25519PrivateKey.generate()
    pub = tmp_path / "other.pub.pem"
    pub.write_bytes(other.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
    import_list(srv, tmp_path / "f.rev", 5, [OTHER], key=other, trust=str(pub))
    state = tmp_path / "state"
    if kind == "java":
        javautil.need_jar()
    a = (JavaAgent if kind == "java" else Agent)(state, ["http://127.0.0.1:%d" % srv.port],
                                                 srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 10)
    a.wait(lambda s: "msg=revocations" in a.log(), 5)
    line = [ln for ln in a.log().splitlines() if "msg=revocations" in ln][0]
    assert "level=warn" in line and "seq=0" in line and "ignored" in line, line
    assert st["revocations_seq"] == 0
    assert not os.path.exists(state / "revocations.rev")
    # sent again with every check (the agent holds none), logged each time
    # it is refused, never kept
    st = a.wait(lambda s: a.log().count("msg=revocations") >= 2, 6)
    assert st["state"] == "licensed" and st["revocations_seq"] == 0, st
