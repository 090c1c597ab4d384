"""End-to-end: `licctl agent` keeps the revocation list its license server
sends with a verify answer (issue 24, docs/revocation.md): the newest genuine
list lands in the state directory (0600) and its seq goes out with every
check, a forged one is ignored with a log line, and a license on the kept
list reads revoked, also for `licctl status` after the agent stopped."""
import json
import os
import subprocess
import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

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


def kept_seq(state):
    with open(os.path.join(str(state), "revocations.rev"), "rb") as f:
        return lf.envelope_decode(f.read()).body_obj()["seq"]


def test_agent_keeps_the_list_and_reads_revoked(tmp_path, agents, servers):  # noqa: F811
    srv = lic_server(tmp_path, "srv", heartbeat=2, grace=60)
    servers.append(srv)
    state = tmp_path / "state"
    a = Agent(state, ["http://127.0.0.1:%d" % srv.port], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    assert st["revocations_seq"] == 0, st  # a server without a list: as before
    assert not os.path.exists(state / "revocations.rev")
    import_list(srv, tmp_path / "r1.rev", 1, [OTHER])
    st = a.wait(lambda s: s["revocations_seq"] == 1, 6)
    assert st["state"] == "licensed", st
    assert kept_seq(state) == 1
    assert oct(os.stat(state / "revocations.rev").st_mode & 0o777) == "0o600"
    assert "level=info msg=revocations seq=1 note=\"revocation list seq 1 from http" in a.log()
    import_list(srv, tmp_path / "r2.rev", 2, [OTHER, uuid.UUID(srv.license_id).bytes])
    st = a.wait_state("unlicensed", 6)
    assert st["reason"] == "revoked" and st["revocations_seq"] == 2, st
    assert a.log().count("msg=revocations") == 2, a.log()
    assert a.stop() == 0
    srv.stop()
    p = status_cmd(state, "--json", "--trust", srv.trust)
    doc = json.loads(p.stdout)
    assert doc["reason"] == "revoked" and doc["revocations_seq"] == 2, (p.stdout, p.stderr)


def test_forged_list_ignored_with_a_log_line(tmp_path, agents, servers):  # noqa: F811
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
    a = Agent(state, ["http://127.0.0.1:%d" % srv.port], srv.trust).start()
    agents.append(a)
    st = a.wait_state("licensed", 5)
    a.wait(lambda s: "msg=revocations" in a.log(), 5)
    line = [ln for ln in a.log().splitlines() if "msg=revocations" in ln][0]
    assert "level=warn" in line and "seq=0" in line and "ignored" in line, line
    assert st["revocations_seq"] == 0
    assert not os.path.exists(state / "revocations.rev")
    # sent again with every check (the agent holds none), logged each time
    # it is refused, never kept
    st = a.wait(lambda s: a.log().count("msg=revocations") >= 2, 6)
    assert st["state"] == "licensed" and st["revocations_seq"] == 0, st
