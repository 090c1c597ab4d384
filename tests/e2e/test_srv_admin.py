"""End-to-end: the admin API of `licsrv serve` (SPEC §4.1) on its own listener:
bearer tokens, license import/list/show/revoke, nodes and failures, the audit
log. Verdicts are checked by the independent Python client (srvchain.py)."""
import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import srvutil
from srvchain import (OTHER_NODE_PUB, ROOT_PUB, Server, admin, armor, license_body, load_pub,
                      node_pub, reseal_license, seal, token_add, verify)

pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")

OK = dict(domain="localhost", port=443, version="11.2.0")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin")
    s = Server(tmp / "data", threads=2, domains=("localhost",), major=11)
    # Imports through the API trust the built-in store plus DATA/trusted/*.pem.
    os.makedirs(os.path.join(s.data, "trusted"))
    shutil.copy(ROOT_PUB, os.path.join(s.data, "trusted", "test-root.pem"))
    s.start()
    s.tmp = tmp
    s.node_pub = node_pub(s.data)
    s.token = token_add(s.data, "ops-alice")
    yield s
    s.finish()
    assert s.token not in s.log()


@pytest.mark.parametrize("method,path", [
    ("GET", "/v1/admin/licenses"), ("POST", "/v1/admin/licenses"),
    ("POST", "/v1/admin/licenses/show"), ("POST", "/v1/admin/licenses/revoke"),
    ("GET", "/v1/admin/nodes"), ("GET", "/v1/admin/failures"), ("GET", "/v1/admin/audit"),
])
def test_401_without_or_with_a_wrong_token(srv, method, path):
    body = {"id": srv.license_id} if method == "POST" else None
    for tok in (None, "", "wrong-" + srv.token, srv.token[:-1]):
        st, doc = admin(srv, method, path, tok, body)
        assert st == 401 and doc["error"] == "unauthorized", (tok, st, doc)


def test_basic_auth_is_not_bearer(srv):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.admin_port, timeout=5)
    c.request("GET", "/v1/admin/licenses", headers={"Authorization": "Basic " + srv.token})
    r = c.getresponse()
    assert r.status == 401
    c.close()


def test_admin_routes_not_on_the_public_listener(srv):
    st, _, _ = srv.get("/v1/admin/licenses", headers={"Authorization": "Bearer " + srv.token})
    assert st == 404


def test_import_list_show(srv):
    new = reseal_license(srv.license_file, srv.tmp / "new.lic", customer="Second Customer")
    with open(srv.tmp / "new.lic", "rb") as f:
        st, doc = admin(srv, "POST", "/v1/admin/licenses", srv.token, f.read(), "text/plain")
    assert st == 200 and doc == {"id": new, "imported": True}, doc
    v = verify(srv.port, node_pub=srv.node_pub, lic=new, node="rs-new", **OK)
    assert v["status"] == "valid", v
    st, doc = admin(srv, "GET", "/v1/admin/licenses", srv.token)
    assert st == 200
    by_id = {l["id"]: l for l in doc["licenses"]}
    assert set(by_id) >= {srv.license_id, new}
    assert by_id[new]["customer"] == "Second Customer" and by_id[new]["revoked"] is False
    st, doc = admin(srv, "POST", "/v1/admin/licenses/show", srv.token, {"id": new})
    assert st == 200 and doc["id"] == new and doc["terms"]["customer"] == "Second Customer", doc
    assert doc["terms"]["domains"] == ["localhost"]
    st, doc = admin(srv, "POST", "/v1/admin/licenses/show", srv.token, {"id": str(uuid.uuid4())})
    assert st == 404 and doc["error"] == "not_found"
    assert doc["message"] == "no such license", doc
    for bad in ({"id": "nope"}, {"ID": new}, [new], b"{"):
        st, doc = admin(srv, "POST", "/v1/admin/licenses/show", srv.token, bad)
        assert st == 400 and doc["error"] == "bad_request", (bad, doc)


def test_no_stale_error_detail(tmp_path):
    """An unknown id after a refused import (whose detail said "this is a rif,
    not a license") says no such license, not the earlier request's detail:
    one worker thread, so both requests run on it."""
    with Server(tmp_path / "data", threads=1) as s:
        tok = token_add(s.data, "ops")
        rif = srvchain_rif(s)
        st, doc = admin(s, "POST", "/v1/admin/licenses", tok, rif, "text/plain")
        assert st == 400 and "this is a rif, not a license" in doc["message"], doc
        for path in ("/v1/admin/licenses/show", "/v1/admin/licenses/revoke"):
            st, doc = admin(s, "POST", path, tok, {"id": str(uuid.uuid4())})
            assert (st, doc) == (404, {"error": "not_found", "message": "no such license"}), \
                (path, doc)
        s.finish()


def srvchain_rif(s):
    p = s.data + "-provision/server.rif"
    with open(p, "rb") as f:
        return f.read()


def test_import_refusals(srv):
    before = admin(srv, "GET", "/v1/admin/licenses", srv.token)[1]["licenses"]
    # Signed by a root this server does not trust.
    body = license_body(srv.license_file)
    body["id"] = os.urandom(16)
    st, doc = admin(srv, "POST", "/v1/admin/licenses", srv.token,
                    armor("license", seal("license", body, Ed25519PrivateKey.generate())),
                    "application/octet-stream")
    assert st == 422 and doc["error"] == "untrusted", doc
    # Trusted root, but it certifies another license server's node key.
    reseal_license(srv.license_file, srv.tmp / "other.lic", node_key=load_pub(OTHER_NODE_PUB))
    with open(srv.tmp / "other.lic", "rb") as f:
        st, doc = admin(srv, "POST", "/v1/admin/licenses", srv.token, f.read(), "text/plain")
    assert st == 422 and doc["error"] == "wrong_license", doc
    # A valid signature over bytes that are not an envelope / a license.
    for garbage in (b"", b"hello", b"\x84\xa3typ", b"-----BEGIN LICSRV LICENSE-----\n!!\n"):
        st, doc = admin(srv, "POST", "/v1/admin/licenses", srv.token, garbage, "text/plain")
        assert st == 400 and doc["error"] == "bad_request" and doc["message"], (garbage, doc)
    # Nothing of that was imported.
    assert admin(srv, "GET", "/v1/admin/licenses", srv.token)[1]["licenses"] == before
    assert srv.get("/healthz")[0] == 200


def test_revoke(srv):
    lid = reseal_license(srv.license_file, srv.tmp / "rev.lic")
    with open(srv.tmp / "rev.lic", "rb") as f:
        assert admin(srv, "POST", "/v1/admin/licenses", srv.token, f.read(), "text/plain")[0] == 200
    assert verify(srv.port, lic=lid, node="rs-rev", **OK)["status"] == "valid"
    st, doc = admin(srv, "POST", "/v1/admin/licenses/revoke", srv.token, {"id": lid})
    assert st == 200 and doc == {"id": lid, "revoked": True}, doc
    v = verify(srv.port, node_pub=srv.node_pub, lic=lid, node="rs-rev", **OK)
    assert v["status"] == "revoked" and v["reason"], v
    st, doc = admin(srv, "POST", "/v1/admin/licenses/show", srv.token, {"id": lid})
    assert doc["revoked"] is True and doc["revoked_time"] > 0
    assert doc["revoked_at"] == rfc3339(doc["revoked_time"]), doc
    # Importing the same license again never un-revokes it.
    with open(srv.tmp / "rev.lic", "rb") as f:
        assert admin(srv, "POST", "/v1/admin/licenses", srv.token, f.read(), "text/plain")[0] == 200
    assert verify(srv.port, lic=lid, node="rs-rev", **OK)["status"] == "revoked"
    st, doc = admin(srv, "POST", "/v1/admin/licenses/revoke", srv.token, {"id": str(uuid.uuid4())})
    assert st == 404 and doc["error"] == "not_found", doc
    # The others are untouched.
    assert verify(srv.port, lic=srv.license_id, node="rs-rev", **OK)["status"] == "valid"


def rfc3339(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_times_have_rfc3339_twins(srv):
    """Admin JSON keeps Unix seconds and adds KEY_at in UTC RFC 3339 (SPEC §4.1)."""
    assert verify(srv.port, lic=srv.license_id, node="rs-twins", **OK)["status"] == "valid"
    st, doc = admin(srv, "GET", "/v1/admin/licenses", srv.token)
    lic = next(l for l in doc["licenses"] if l["id"] == srv.license_id)
    assert lic["imported_at"] == rfc3339(lic["imported"]), lic
    assert lic["expires_at"] == rfc3339(lic["expires"]), lic
    assert lic["revoked_time"] == 0 and lic["revoked_at"] is None, lic
    st, doc = admin(srv, "POST", "/v1/admin/licenses/show", srv.token, {"id": srv.license_id})
    t = doc["terms"]
    for k in ("issued", "not_before", "expires"):
        assert t[k + "_at"] == rfc3339(t[k]), t
    st, doc = admin(srv, "GET", "/v1/admin/nodes", srv.token)
    n = next(n for n in doc["nodes"] if n["node"] == "rs-twins")
    assert n["last_seen_at"] == rfc3339(n["last_seen"]) and n["last_valid_at"] == rfc3339(n["last_valid"])
    st, doc = admin(srv, "GET", "/v1/admin/audit", srv.token)
    assert doc["audit"] and all(a["time_at"] == rfc3339(a["time"]) for a in doc["audit"]), doc


def test_nodes_sorted_by_last_seen(tmp_path):
    with Server(tmp_path / "data", threads=1) as s:
        tok = token_add(s.data, "ops")
        for name in ("rs-c", "rs-a", "rs-b"):
            assert verify(s.port, lic=s.license_id, node=name, **OK)["status"] == "valid"
            time.sleep(1.1)  # seconds are the clock's resolution
        assert verify(s.port, lic=s.license_id, node="rs-c", **OK)["status"] == "valid"
        st, doc = admin(s, "GET", "/v1/admin/nodes", tok)
        assert [n["node"] for n in doc["nodes"]] == ["rs-c", "rs-b", "rs-a"], doc
        seen = [n["last_seen"] for n in doc["nodes"]]
        assert seen == sorted(seen, reverse=True)
        s.finish()


def test_nodes_and_failures(srv):
    assert verify(srv.port, lic=srv.license_id, node="rs-fine", **OK)["status"] == "valid"
    v = verify(srv.port, lic=srv.license_id, node="rs-broken", **dict(OK, domain="evil.com"))
    assert v["status"] == "domain_denied"
    v = verify(srv.port, lic=srv.license_id, node="rs-old", **dict(OK, version="10.0"))
    assert v["status"] == "version_denied"
    st, doc = admin(srv, "GET", "/v1/admin/nodes", srv.token)
    assert st == 200
    nodes = {(n["license"], n["node"]): n for n in doc["nodes"]}
    fine = nodes[(srv.license_id, "rs-fine")]
    assert fine["last_valid"] > 0 and "last_failure" not in fine
    assert (srv.license_id, "rs-broken") in nodes  # listed from the failure list, no seat
    assert nodes[(srv.license_id, "rs-broken")]["last_valid"] == 0
    st, doc = admin(srv, "GET", "/v1/admin/failures", srv.token)
    assert st == 200
    fails = {n["node"]: n for n in doc["failures"] if n["license"] == srv.license_id}
    assert "rs-fine" not in fails
    assert fails["rs-broken"]["last_failure"]["status"] == "domain_denied"
    assert fails["rs-broken"]["last_failure"]["reason"]
    assert fails["rs-old"]["last_failure"]["status"] == "version_denied"
    assert fails["rs-old"]["last_failure"]["reason"]


def test_audit_names_the_token_never_holds_it(srv):
    st, doc = admin(srv, "GET", "/v1/admin/audit", srv.token)
    assert st == 200
    entries = doc["audit"]
    actions = [(e["action"], e["token"]) for e in entries]
    assert ("import", "ops-alice") in actions and ("revoke", "ops-alice") in actions, entries
    assert all(e["subject"].startswith("license:") for e in entries
               if e["action"] in ("import", "revoke"))
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs)
    assert srv.token not in json.dumps(doc)
    # Refused imports and reads are not mutations: only the two good imports
    # and the revocation of this module are recorded by this token.
    mine = [e for e in entries if e["token"] == "ops-alice"]
    assert [e["action"] for e in mine] == ["import", "import", "revoke", "import"], mine


# ---- a revoked license stays revoked: re-import, forget (issue 10 item 6) --------------

def cli(s, *args, stdin=None):
    return subprocess.run([srvutil.licsrv_bin(), *args, "--data", s.data], capture_output=True,
                          text=True, timeout=30, env=s.env, input=stdin)


def test_revoked_stays_revoked_through_import_and_forget(tmp_path):
    with Server(tmp_path / "data", threads=1) as s:
        os.makedirs(os.path.join(s.data, "trusted"))
        shutil.copy(ROOT_PUB, os.path.join(s.data, "trusted", "test-root.pem"))
        tok = token_add(s.data, "ops")
        path = tmp_path / "rev.lic"
        lid = reseal_license(s.license_file, path, customer="Revoked Co")
        body = path.read_bytes()
        assert admin(s, "POST", "/v1/admin/licenses", tok, body, "text/plain") == \
            (200, {"id": lid, "imported": True})
        assert admin(s, "POST", "/v1/admin/licenses/revoke", tok, {"id": lid})[0] == 200
        # Again through the API and the command line: said, not "imported".
        assert admin(s, "POST", "/v1/admin/licenses", tok, body, "text/plain") == \
            (200, {"id": lid, "imported": False, "revoked": True,
                   "message": "already imported (revoked)"})
        p = cli(s, "import", "--trust", ROOT_PUB, str(path))
        assert p.returncode == 0, p
        assert p.stdout.startswith("already imported (revoked): license %s (Revoked Co, " % lid), p
        # forget asks: from a script it needs --yes, and erases nothing without it.
        p = cli(s, "forget", "--license", lid)
        assert p.returncode == 2, p
        assert p.stderr == ("licsrv: error: forget: erasing cannot be undone: give --yes "
                            "(standard input is not a terminal to ask on) (see 'licsrv forget "
                            "--help')\n"), p
        assert admin(s, "POST", "/v1/admin/licenses/show", tok, {"id": lid})[0] == 200
        p = cli(s, "forget", "--license", lid, "--yes")
        assert p.returncode == 0, p
        assert ("kept a tombstone of the revoked license's id: importing it again leaves it "
                "revoked") in p.stdout, p
        assert admin(s, "POST", "/v1/admin/licenses/show", tok, {"id": lid})[0] == 404
        # Imported again after the forget: still revoked, verdicts say so.
        p = cli(s, "import", "--trust", ROOT_PUB, str(path))
        assert p.returncode == 0 and p.stdout.startswith("already imported (revoked): "), p
        v = verify(s.port, node_pub=node_pub(s.data), lic=lid, node="rs-1", **OK)
        assert v["status"] == "revoked", v
        st, doc = admin(s, "POST", "/v1/admin/licenses/show", tok, {"id": lid})
        assert doc["revoked"] is True and doc["revoked_time"] > 0, doc
        # A license never revoked leaves nothing behind: it imports as new.
        other = tmp_path / "other.lic"
        oid = reseal_license(s.license_file, other)
        assert cli(s, "import", "--trust", ROOT_PUB, str(other)).returncode == 0
        p = cli(s, "forget", "--license", oid, "--yes", "--json")
        assert json.loads(p.stdout)["tombstone"] is False, p
        p = cli(s, "import", "--trust", ROOT_PUB, str(other))
        assert p.stdout.startswith("imported license %s" % oid), p
        s.finish()


def test_forget_asks_on_a_terminal(tmp_path):
    import pty
    with Server(tmp_path / "data", threads=1) as s:
        lid = s.license_id
        for answer, code in ((b"n\n", 1), (b"y\n", 0)):
            master, slave = pty.openpty()
            try:
                p = subprocess.Popen([srvutil.licsrv_bin(), "forget", "--license", lid, "--data",
                                      s.data], stdin=slave, stdout=subprocess.PIPE,
                                     stderr=slave, env=s.env)
                os.close(slave)
                slave = None
                seen = b""
                while b"[y/N] " not in seen:
                    chunk = os.read(master, 4096)
                    assert chunk, seen
                    seen += chunk
                os.write(master, answer)
                out, _ = p.communicate(timeout=30)
                assert p.returncode == code, (out, seen)
            finally:
                if slave is not None:
                    os.close(slave)
                os.close(master)
            assert b"forget license %s and everything stored about it? [y/N] " % lid.encode() in seen
            erased = cli(s, "export", "--license", lid).returncode != 0
            assert erased == (answer == b"y\n"), answer
        s.finish()
