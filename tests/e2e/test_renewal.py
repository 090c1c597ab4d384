"""Renewal on the license server (SPEC §4.6, docs/server.md "Renewals"): a
license's lineage (licenses linked by `supersedes`) is answered for by the
license in force now; a renewal imported ahead takes over at its not_before
without a restart, `licctl agent` never leaves `licensed`, seats stay with
the lineage; several lineages need a name, and the denial is in the failure
list; import refuses a successor that changes its predecessor's binding.

Successors are sealed here with the test root key (srvchain.reseal_license):
licgen renew is not needed for what the server does."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest

import srvutil
from conftest import SANITIZER_ENV, SANITIZER_RE
from srvchain import (ROOT_PUB, Server, admin, check_chain, decode_response, encode, node_pub,
                      post, request_fields, reseal_license, token_add)

NODE = "rs-renew"
OK = dict(domain="localhost", port=443, version="11.0.18")


def uid(text):
    return uuid.UUID(text).bytes


def verify(s, lic, node, **kw):
    """One verify naming lic (None: none); the chain checked as a client does,
    which accepts a verdict for a successor of the license it named. Returns
    (verdict body, license id of the chain or None)."""
    q = request_fields(lic=lic, node=node, **dict(OK, **kw))
    body, ctype = encode(q, "msgpack")
    st, out, rtype = post(s.port, "/v1/verify", body, ctype)
    assert st == 200, (st, out)
    doc = decode_response(out, rtype)
    v = check_chain(doc, {k: x for k, x in q.items() if k != "license"}, node_pub(s.data))
    got = str(uuid.UUID(bytes=v["license"])) if v.get("license") else None
    return v, got


def licsrv(s, *args):
    p = subprocess.run([srvutil.licsrv_bin(), *args, "--data", s.data], capture_output=True,
                       text=True, timeout=30, env=dict(s.env, **SANITIZER_ENV))
    assert not SANITIZER_RE.search(p.stderr), p.stderr
    return p


def import_file(s, path):
    return licsrv(s, "import", "--trust", ROOT_PUB, str(path))


def revoke(s, lid):
    st, doc = admin(s, "POST", "/v1/admin/licenses/revoke", s.token, {"id": lid})
    assert st == 200, doc


def renewal(s, path, of, **terms):
    """A successor of license `of` (id text), sealed with the test root key."""
    terms.setdefault("issued", int(time.time()))
    return reseal_license(s.license_file, path, supersedes=uid(of), **terms)


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path / "data", threads=2, domains=("localhost",), ports=(443,))
    s.token = token_add(s.data, "ops")
    # Imports through the admin API trust DATA/trusted/*.pem (and the built-in store).
    os.makedirs(os.path.join(s.data, "trusted"))
    shutil.copy(ROOT_PUB, os.path.join(s.data, "trusted", "test-root.pem"))
    s.start()
    yield s
    s.close()
    assert not s.sanitizer_report(), s.log()


class Agent:
    def __init__(self, state, url, lic):
        self.state = str(state)
        self.status = os.path.join(self.state, "status.json")
        self.errpath = self.state + "-agent.log"
        self.args = [srvutil.tool("licctl"), "agent", url, "--domain", "localhost", "--port", "443",
                     "--node", NODE, "--version", "11.0.18", "--trust", ROOT_PUB, "--license", lic,
                     "--timeout", "2000", "--state", self.state]
        self.err = open(self.errpath, "ab")
        self.proc = subprocess.Popen([str(a) for a in self.args], stdout=subprocess.DEVNULL,
                                     stderr=self.err, env=dict(os.environ, **SANITIZER_ENV))

    def read(self):
        try:
            with open(self.status, "rb") as f:
                return json.loads(f.read())
        except FileNotFoundError:
            return None

    def log(self):
        with open(self.errpath, "r", errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.err.close()
        assert not SANITIZER_RE.search(self.log()), self.log()


def test_agent_runs_across_a_renewal_imported_ahead(server, tmp_path):
    s = server
    now = int(time.time())
    end = now + 8
    # The license in service: heartbeat 1 s, ending in 8 s, two node seats.
    # (The provisioned license is revoked: it is another lineage.)
    old = reseal_license(s.license_file, tmp_path / "old.lic", issued=now - 86400,
                         not_before=now - 86400, expires=end, heartbeat=1, grace=4, max_nodes=2)
    assert import_file(s, tmp_path / "old.lic").returncode == 0
    revoke(s, s.license_id)
    agent = Agent(tmp_path / "state", "http://127.0.0.1:%d" % s.port, old)
    try:
        deadline = time.monotonic() + 10
        while (agent.read() or {}).get("state") != "licensed":
            assert time.monotonic() < deadline, agent.log()
            time.sleep(0.05)
        assert verify(s, old, "rs-2")[0]["status"] == "valid"  # the second seat
        # The renewal, signed ahead: from the old expiry, one node seat.
        new_end = now + 365 * 86400
        new = renewal(s, tmp_path / "new.lic", old, not_before=end, expires=new_end, heartbeat=1,
                      grace=4, max_nodes=1)
        p = import_file(s, tmp_path / "new.lic")
        assert p.returncode == 0, p
        switched, states = None, set()
        while time.time() < end + 3:
            t = time.time()
            v, lic = verify(s, old, "rs-2")
            assert v["status"] == "valid", v
            if lic == new and switched is None:
                switched = t
            if t < end - 0.5:
                assert lic == old, (t, end, v)
            elif t > end + 0.5:
                assert lic == new, (t, end, v)
            st = agent.read()
            states.add(st["state"])
            time.sleep(0.1)
        assert switched is not None and end - 0.5 <= switched <= end + 0.5, (switched, end)
        # The agent went on licensed, now by the renewal (its expiry).
        deadline = time.monotonic() + 5
        while agent.read()["expires"] != time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(new_end)):
            assert time.monotonic() < deadline, (agent.read(), agent.log())
            time.sleep(0.1)
        assert states == {"licensed"} and agent.read()["state"] == "licensed"
        log_states = [ln for ln in agent.log().splitlines() if "msg=state" in ln]
        assert log_states and all(" state=licensed" in ln for ln in log_states), agent.log()
        # the agent says which license answers, and when the renewal took over
        lines = [ln for ln in agent.log().splitlines() if "msg=license" in ln]
        assert len(lines) == 2, agent.log()
        assert "license=%s " % old in lines[0] and "previous=" not in lines[0], lines
        assert "license=%s previous=%s" % (new, old) in lines[1], lines
        assert agent.read()["license"] == new
        print("old %s ends %d; renewal %s answered from %.2f; agent log:\n%s"
              % (old, end, new, switched, agent.log()))
        # Seats moved with the lineage: both nodes hold theirs; the new
        # max_nodes (1) applies to a third.
        v, lic = verify(s, new, "rs-3")
        assert v["status"] == "seats_exhausted" and lic == new, v
        assert v["seats"] == {"used": 2, "max": 1}, v
        time.sleep(2.5)  # the batched seat writes reach the store
        p = licsrv(s, "nodes", "--license", new, "--json")
        assert p.returncode == 0, p
        nodes = {n["node"]: n for n in json.loads(p.stdout)["nodes"]}
        # Listed under the lineage's first license, checked after the switch.
        assert nodes[NODE]["license"] == old and nodes["rs-2"]["license"] == old, nodes
        assert nodes[NODE]["last_valid"] > end and nodes["rs-2"]["last_valid"] > end, nodes
        assert nodes["rs-3"]["last_failure"]["status"] == "seats_exhausted", nodes
        p = licsrv(s, "nodes", "--license", old, "--json")
        assert {n["node"] for n in json.loads(p.stdout)["nodes"]} >= {NODE, "rs-2"}
        p = licsrv(s, "failures", "--license", new, "--json")  # any id of the lineage
        fails = json.loads(p.stdout)["failures"]
        assert [(f["license"], f["node"], f["status"]) for f in fails] == \
            [(old, "rs-3", "seats_exhausted")], fails
        assert agent.read()["state"] == "licensed"
    finally:
        agent.stop()


def licctl_verify(s, *args):
    return subprocess.run([str(srvutil.tool("licctl")), "verify", "http://127.0.0.1:%d" % s.port,
                           "--trust", ROOT_PUB, "--domain", "localhost", "--port", "443",
                           "--node", "rs-cli", "--version", "11.0.18", *args],
                          capture_output=True, text=True, timeout=30)


def test_named_old_id_and_revoked_successor(server, tmp_path):
    s = server
    now = int(time.time())
    old = s.license_id
    new = renewal(s, tmp_path / "new.lic", old, not_before=now - 60, expires=now + 86400)
    assert import_file(s, tmp_path / "new.lic").returncode == 0
    p = licctl_verify(s, "--license", old)
    assert p.returncode == 0 and p.stdout.startswith("valid: license %s," % new), p
    p = licctl_verify(s)  # one lineage: no name needed
    assert p.returncode == 0 and p.stdout.startswith("valid: license %s," % new), p
    lics = {x["id"]: x for x in json.loads(licsrv(s, "licenses", "--json").stdout)["licenses"]}
    assert lics[old]["state"] == "superseded" and lics[new]["state"] == "active", lics
    assert lics[new]["supersedes"] == old and lics[old]["supersedes"] is None, lics
    assert lics[new]["lineage"] == lics[old]["lineage"] == old, lics
    st, doc = admin(s, "GET", "/v1/admin/licenses", s.token)
    by = {x["id"]: x for x in doc["licenses"]}
    assert by[new]["in_force"] and not by[old]["in_force"], doc
    assert by[new]["lineage"] == by[old]["lineage"] == old, doc
    table = licsrv(s, "licenses").stdout
    assert any(ln.startswith(old) and ln.rstrip().endswith("superseded")
               for ln in table.splitlines()), table
    # licsrv status says the same: the old license is not shown as active
    st = {x["id"]: x for x in json.loads(licsrv(s, "status", "--json").stdout)["licenses"]}
    assert st[old]["state"] == "superseded" and st[new]["state"] == "active", st
    assert st[old]["superseded_by"] == new and st[new]["superseded_by"] is None, st
    assert st[new]["in_force"] is True and st[old]["in_force"] is False, st
    assert st[new]["lineage"] == st[old]["lineage"] == old, st
    assert st[new]["supersedes"] == old and st[old]["supersedes"] is None, st
    text = licsrv(s, "status").stdout.splitlines()
    assert any(ln.startswith("license " + old) and ln.endswith("  superseded by " + new)
               for ln in text), text
    assert not any(ln.startswith("license " + new) and "superseded" in ln for ln in text), text
    # export follows the lineage: the renewal's nodes are the lineage's
    deadline = time.monotonic() + 5  # the node record is written in the next batch
    while "rs-cli" not in [n["node"] for n in json.loads(
            licsrv(s, "nodes", "--license", old, "--json").stdout)["nodes"]]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for lid in (old, new):
        ex = json.loads(licsrv(s, "export", "--license", lid).stdout)
        assert ex["license"]["id"] == lid and ex["lineage"] == old, ex
        assert "rs-cli" in [n["node"] for n in ex["nodes"]], ex
    # Revoking the successor leaves the predecessor, still in force.
    revoke(s, new)
    v, lic = verify(s, new, "rs-1")
    assert v["status"] == "valid" and lic == old, v
    # A lineage whose predecessor has ended: the revoked successor answers (revoked).
    gone = reseal_license(s.license_file, tmp_path / "gone.lic", issued=now - 7200,
                          not_before=now - 7200, expires=now - 3600)
    succ = renewal(s, tmp_path / "succ.lic", gone, not_before=now - 3600, expires=now + 86400)
    for f in ("gone.lic", "succ.lic"):
        assert import_file(s, tmp_path / f).returncode == 0
    assert verify(s, gone, "rs-1")[1] == succ
    revoke(s, succ)
    v, lic = verify(s, gone, "rs-1")
    assert v["status"] == "revoked" and lic == succ, v


def nodes_of(s, lid):
    return [n["node"] for n in json.loads(licsrv(s, "nodes", "--license", lid,
                                                 "--json").stdout)["nodes"]]


def test_forget_of_a_renewal_keeps_the_lineage_nodes(server, tmp_path):
    """docs/storage.md: the lineage's nodes are kept under its first license;
    forgetting the renewal leaves them, forgetting the first erases them."""
    s = server
    now = int(time.time())
    old = s.license_id
    new = renewal(s, tmp_path / "new.lic", old, not_before=now - 60, expires=now + 86400)
    assert import_file(s, tmp_path / "new.lic").returncode == 0
    assert licctl_verify(s).returncode == 0
    deadline = time.monotonic() + 5
    while "rs-cli" not in nodes_of(s, old):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert licsrv(s, "forget", "--license", new, "--yes").returncode == 0
    assert nodes_of(s, old) == ["rs-cli"]
    assert licsrv(s, "forget", "--license", old, "--yes").returncode == 0
    ex = licsrv(s, "export", "--license", old)
    assert ex.returncode == 1 and "nothing is stored about this license" in ex.stderr, ex


def test_two_lineages_need_a_name_and_the_denial_is_listed(server, tmp_path):
    s = server
    other = reseal_license(s.license_file, tmp_path / "other.lic", customer="Globex",
                           project="Dashboards")
    assert import_file(s, tmp_path / "other.lic").returncode == 0
    p = licctl_verify(s)
    assert p.returncode == 1, p
    line = p.stdout.strip()
    assert line.startswith("denied: unknown_license: this server holds several licenses: "
                           "name one: "), p
    assert "%s (Test Customer/P)" % s.license_id in line and "%s (Globex/Dashboards)" % other in line
    assert verify(s, other, "rs-cli")[1] == other
    deadline = time.monotonic() + 5
    while True:  # the failure list: written to the store in batches
        p = licsrv(s, "failures", "--json")
        fails = [f for f in json.loads(p.stdout)["failures"] if f["status"] == "unknown_license"]
        if fails or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert fails and fails[0]["license"] is None and fails[0]["node"] == "rs-cli", p.stdout
    assert "several licenses" in fails[0]["reason"]
    p = licsrv(s, "failures")  # TIME (3 words) LICENSE NODE STATUS REASON
    assert any(ln.split()[3:6] == ["-", "rs-cli", "unknown_license"]
               for ln in p.stdout.splitlines()[1:]), p.stdout
    # And in the admin API (the status page's list).
    st, doc = admin(s, "GET", "/v1/admin/failures", s.token)
    assert st == 200 and any(f["last_failure"]["status"] == "unknown_license"
                             for f in doc["failures"]), doc


def test_import_refuses_a_successor_that_changes_the_binding(server, tmp_path):
    s = server
    old = s.license_id
    bad = renewal(s, tmp_path / "bad.lic", old, customer="Someone Else")
    p = import_file(s, tmp_path / "bad.lic")
    assert p.returncode == 1, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licsrv: error: "), p
    assert "renews license %s" % old in lines[0] and "changes its customer" in lines[0], p
    assert "SPEC" not in lines[0]
    # The admin API says the same (422), and nothing was stored.
    with open(tmp_path / "bad.lic", "rb") as f:
        st, doc = admin(s, "POST", "/v1/admin/licenses", s.token, f.read(), "text/plain")
    assert st == 422 and doc["error"] == "wrong_license", doc
    assert "changes its customer" in doc["message"], doc
    assert bad not in licsrv(s, "licenses").stdout
    renewal(s, tmp_path / "proj.lic", old, project_id=os.urandom(16))
    p = import_file(s, tmp_path / "proj.lic")
    assert p.returncode == 1 and "changes its project_id" in p.stderr, p
    # A successor of a license this server never held starts a lineage.
    orphan = renewal(s, tmp_path / "orphan.lic", str(uuid.uuid4()), customer="Someone Else")
    assert import_file(s, tmp_path / "orphan.lic").returncode == 0
    assert verify(s, orphan, "rs-1")[1] == orphan


def health_warnings(s):
    # the admin listener's /healthz names the license (the public one names none)
    st, body, _ = s.get("/healthz", port=s.admin_port)
    assert st == 200, body
    return [w for w in json.loads(body).get("warnings", []) if w["check"] == "expiry"]


def test_a_renewal_imported_ahead_ends_the_expiry_warning(server, tmp_path):
    s = server
    now = int(time.time())
    end = now + 10 * 86400
    old = reseal_license(s.license_file, tmp_path / "old.lic", expires=end)
    assert import_file(s, tmp_path / "old.lic").returncode == 0
    revoke(s, s.license_id)
    time.sleep(1.1)  # /healthz's checks are cached a second
    w = health_warnings(s)
    assert len(w) == 1 and old in w[0]["message"], w
    renewal(s, tmp_path / "new.lic", old, not_before=end, expires=end + 365 * 86400)
    assert import_file(s, tmp_path / "new.lic").returncode == 0
    time.sleep(1.1)
    assert health_warnings(s) == []
    out = licsrv(s, "status").stdout
    assert "license %s  Test Customer  valid until" % old in out and "renewed)" in out, out
    assert "renew soon" not in out, out
    # /metrics still has both expiry times.
    st, body, _ = s.get("/metrics", port=s.admin_port)
    assert st == 200 and body.decode().count("licsrv_license_expiry_timestamp_seconds{") >= 2
