"""End-to-end: `licsrv import` of a signed revocation list (issue 24 item 2,
docs/revocation.md): the newest list is kept in the data directory, an older
one never replaces it, every license (private mode) and account (public mode)
it names that the server holds is revoked, and the import is audited. A
forged list changes nothing."""
import hashlib
import json
import os
import time
import uuid

import pytest

import lictest_formats as lf
from srvchain import armor, load_root, seal
from test_srv_cli import ROOT_PUB, run, server, status, tmp, write_license  # noqa: F401

OTHER = uuid.UUID("50515253-5455-5657-5859-5a5b5c5d5e5f").bytes


def rev_file(path, seq, licenses=(), accounts=(), key=None):
    body = lf.revocations_body(seq, licenses, accounts, [(7, 4242)])
    path.write_bytes(armor("revocations", seal("revocations", body, key or load_root())))
    return path


def imp(data, path, code=0):
    return run("import", str(path), "--trust", ROOT_PUB, "--data", data, "--json", check=code)


def test_private_license_revoked_by_list(server):
    data, tmp_ = server["data"], server["tmp"]
    lid, lic = write_license(server)
    run("import", str(lic), "--trust", ROOT_PUB, "--data", data, check=0)
    old = rev_file(tmp_ / "r1.rev", 1, [OTHER])
    j = json.loads(imp(data, old).stdout)
    assert (j["seq"], j["kept_seq"], j["replaced"], j["licenses_revoked"]) == (1, 1, True, 0)
    assert status(data)["licenses"][0]["revoked"] is False
    new = rev_file(tmp_ / "r2.rev", 2, [OTHER, lid])
    p = run("import", str(new), "--trust", ROOT_PUB, "--data", data, check=0)
    assert p.stdout == "imported revocation list seq 2: 1 license and 0 accounts held here revoked\n"
    assert status(data)["licenses"][0]["revoked"] is True
    kept = os.path.join(data, "revocations.rev")
    assert oct(os.stat(kept).st_mode & 0o777) == "0o600"
    # an older list is no update: the kept one stays
    p = run("import", str(old), "--trust", ROOT_PUB, "--data", data, check=0)
    assert p.stdout.startswith("revocation list seq 1 is older than seq 2 imported before"), p
    assert lf.envelope_decode(open(kept, "rb").read()).body_obj()["seq"] == 2
    # audited
    audit = run("audit", "--data", data, "--json", check=0).stdout
    assert "revocations:seq 2" in audit


def test_forged_and_conflicting_lists_change_nothing(server, lic_vendor_key):
    data, tmp_ = server["data"], server["tmp"]
    lid, lic = write_license(server)
    run("import", str(lic), "--trust", ROOT_PUB, "--data", data, check=0)
    forged = rev_file(tmp_ / "f.rev", 9, [lid], key=lic_vendor_key.private_key())
    p = imp(data, forged, code=1)
    assert p.stderr.startswith("licsrv: error: ") and "trust store" in p.stderr, p
    assert not os.path.exists(os.path.join(data, "revocations.rev"))
    assert status(data)["licenses"][0]["revoked"] is False
    imp(data, rev_file(tmp_ / "a.rev", 3, [OTHER]))
    p = imp(data, rev_file(tmp_ / "b.rev", 3, [lid]), code=1)
    assert "seq 3 is already kept" in p.stderr, p
    assert status(data)["licenses"][0]["revoked"] is False


def test_public_account_revoked_by_list(tmp):  # noqa: F811
    data = str(tmp / "public")
    run("init", "--data", data, "--mode", "public", check=0)
    aid = os.urandom(16)
    acct = seal("account", {
        "typ": "account", "id": aid, "customer": "Cloud Co", "capacity": 3, "features": [],
        "domains": [], "ports": [], "apps": [], "major": 11, "not_before": int(time.time()),
        "expires": 0, "heartbeat": 7200, "grace": 86400,
        "token_hash": hashlib.sha256(b"secret").digest()}, load_root())
    path = tmp / "acct.acct"
    path.write_bytes(armor("account", acct))
    run("import", str(path), "--trust", ROOT_PUB, "--data", data, check=0)
    j = json.loads(imp(data, rev_file(tmp / "r.rev", 1, [], [aid, OTHER])).stdout)
    assert (j["accounts_revoked"], j["licenses_revoked"]) == (1, 0)
    accts = json.loads(run("accounts", "list", "--data", data, "--json", check=0).stdout)
    assert [(a["id"], a["revoked"]) for a in accts["accounts"]] == \
        [(str(uuid.UUID(bytes=aid)), True)], accts


def test_served_and_honoured_by_a_running_server(tmp_path):
    """GET /v1/revocations: 404 before any import, then the newest list, in
    MessagePack or JSON; the running server's verify answers revoked."""
    import base64

    import msgpack

    from srvchain import Server, node_pub, verify
    s = Server(tmp_path / "data", domains=("localhost",), ports=(443,), major=11).start()
    try:
        st, body, hdr = s.get("/v1/revocations")
        assert st == 404 and json.loads(body)["error"] == "not_found", (st, body)
        v = verify(s.port, node_pub=node_pub(s.data), lic=s.license_id, domain="localhost",
                   port=443, version="11.0.18")
        assert v["status"] == "valid", v
        lid = uuid.UUID(s.license_id).bytes
        env = seal("revocations", lf.revocations_body(5, [lid]), load_root())
        (tmp_path / "r.rev").write_bytes(armor("revocations", env))
        j = json.loads(run("import", str(tmp_path / "r.rev"), "--trust", ROOT_PUB, "--data",
                           s.data, "--json", env=s.env, check=0).stdout)
        assert j["licenses_revoked"] == 1
        st, body, hdr = s.get("/v1/revocations", headers={"Accept": "application/msgpack"})
        assert st == 200 and hdr["Content-Type"].startswith("application/msgpack"), (st, hdr)
        got = msgpack.unpackb(body, raw=False)["revocations"]
        assert got == env
        e = lf.envelope_decode(got)
        e.verify(lf.raw_public(load_root()))
        assert e.body_obj()["seq"] == 5
        st, body, hdr = s.get("/v1/revocations")
        assert st == 200 and hdr["Content-Type"].startswith("application/json"), (st, hdr)
        b64 = json.loads(body)["revocations"]
        assert base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)) == env
        v = verify(s.port, node_pub=node_pub(s.data), lic=s.license_id, domain="localhost",
                   port=443, version="11.0.18")
        assert v["status"] == "revoked", v
    finally:
        s.finish()
