"""End-to-end: the admin API of `licsrv serve` (SPEC §4.1) on its own listener:
bearer tokens, license import/list/show/revoke, nodes and failures, the audit
log. Verdicts are checked by the independent Python client (srvchain.py)."""
import json
import os
import shutil
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
    for bad in ({"id": "nope"}, {"ID": new}, [new], b"{"):
        st, doc = admin(srv, "POST", "/v1/admin/licenses/show", srv.token, bad)
        assert st == 400 and doc["error"] == "bad_request", (bad, doc)


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
    assert doc["revoked"] is True and doc["revoked_at"] > 0
    # Importing the same license again never un-revokes it.
    with open(srv.tmp / "rev.lic", "rb") as f:
        assert admin(srv, "POST", "/v1/admin/licenses", srv.token, f.read(), "text/plain")[0] == 200
    assert verify(srv.port, lic=lid, node="rs-rev", **OK)["status"] == "revoked"
    st, doc = admin(srv, "POST", "/v1/admin/licenses/revoke", srv.token, {"id": str(uuid.uuid4())})
    assert st == 404 and doc["error"] == "not_found", doc
    # The others are untouched.
    assert verify(srv.port, lic=srv.license_id, node="rs-rev", **OK)["status"] == "valid"


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
