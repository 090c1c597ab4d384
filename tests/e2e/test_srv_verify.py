"""End-to-end: POST /v1/verify on a real, provisioned `licsrv serve` (SPEC §3.5,
§4, §4.2, §5), with Python as an independent client that checks the whole
chain itself (srvchain.py): root -> license -> verdict, nonce, node, license.
Every server is stopped with SIGTERM at the end and its log must hold no
sanitizer report (the ASan+UBSan build runs the same tests)."""
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import msgpack
import pytest

import srvutil
from srvchain import (ROOT_PUB, Server, admin, b64u, check_chain, decode_response, encode,
                      load_pub, node_pub, nonce, post, request_fields, reseal_license,
                      token_add, verify)

pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")

TERMS = dict(domains=("localhost", "*.example.com"), ports=(443, 8443), apps=("reports",),
             major=11, max_nodes=0)


def ok_req(lic, **kw):
    """Fields that the main license allows; kw overrides."""
    base = dict(lic=lic, domain="localhost", port=443, app="reports", version="11.0.18")
    base.update(kw)
    return base


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("verify") / "data", **TERMS)
    s.start()
    s.node_pub = node_pub(s.data)
    yield s
    s.finish()


def test_valid_verdict_whole_chain(srv):
    v = verify(srv.port, node_pub=srv.node_pub, **ok_req(srv.license_id))
    assert v["status"] == "valid", v
    assert v["features"] == ["export", "schedule"]
    assert v["domains"] == ["localhost", "*.example.com"]
    assert v["ports"] == [443, 8443] and v["apps"] == ["reports"]
    assert v["seats"] == {"used": 1, "max": 0}
    assert v["heartbeat"] == 7200 and v["grace"] == 86400
    assert v["expires"] > time.time()
    # The only license on the server need not be named.
    v = verify(srv.port, node_pub=srv.node_pub, **ok_req(None))
    assert v["status"] == "valid" and v["license"] == uuid.UUID(srv.license_id).bytes


@pytest.mark.parametrize("kw,status", [
    (dict(domain="a.example.com"), "valid"),
    (dict(domain="A.Example.COM."), "valid"),
    (dict(domain="LOCALHOST"), "valid"),
    (dict(domain="example.com"), "domain_denied"),
    (dict(domain="a.b.example.com"), "domain_denied"),
    (dict(domain="evil.com"), "domain_denied"),
    (dict(domain="localhost.evil.com"), "domain_denied"),
    (dict(port=8443), "valid"),
    (dict(port=80), "port_denied"),
    (dict(app="other"), "app_denied"),
    (dict(app=None), "app_denied"),
    (dict(version="11"), "valid"),
    (dict(version="12.0.0"), "version_denied"),
    (dict(version="10.9.9"), "version_denied"),
    (dict(version=None), "version_denied"),
])
def test_terms(srv, kw, status):
    v = verify(srv.port, node_pub=srv.node_pub, **ok_req(srv.license_id, node="rs-terms", **kw))
    assert v["status"] == status, v
    assert v["reason"] if status != "valid" else True


def test_unknown_license_is_a_signed_verdict(srv):
    lid = str(uuid.uuid4())
    v = verify(srv.port, node_pub=srv.node_pub, **ok_req(lid))
    assert v["status"] == "unknown_license"
    assert v["license"] == uuid.UUID(lid).bytes


@pytest.mark.parametrize("kind", ["msgpack", "json"])
def test_limits_that_are_still_valid(srv, kind):
    for n in (b"\x01" * 16, b"\xff" * 64):  # nonce bounds, echoed exactly
        v = verify(srv.port, kind=kind, n=n, node_pub=srv.node_pub, **ok_req(srv.license_id))
        assert v["status"] == "valid" and v["nonce"] == n
    long_node = "n" * 128
    v = verify(srv.port, kind=kind, **ok_req(srv.license_id, node=long_node))
    assert v["status"] == "valid" and v["node"] == long_node
    v = verify(srv.port, kind=kind, **ok_req(srv.license_id, node="rs-\u00e9\u4e2d"))
    assert v["status"] == "valid"


@pytest.mark.parametrize("kind,accept,want", [
    ("msgpack", None, "application/msgpack"),
    ("json", None, "application/json"),
    ("msgpack", "application/json", "application/json"),
    ("json", "application/msgpack", "application/msgpack"),
])
def test_encodings_and_accept(srv, kind, accept, want):
    q = request_fields(**ok_req(srv.license_id))
    body, ctype = encode(q, kind)
    st, out, rtype = post(srv.port, "/v1/verify", body, ctype, accept)
    assert st == 200 and rtype.startswith(want), (st, rtype, out)
    if want == "application/json":
        doc = json.loads(out)
        # base64url without padding on the wire
        assert not re.search(r"[+/=]", doc["verdict"] + "".join(doc["chain"]))
    v = check_chain(decode_response(out, rtype), q, srv.node_pub)
    assert v["status"] == "valid"


def test_json_accepts_standard_base64_and_id_forms(srv):
    n = bytes([0xfb, 0xff, 0xbf]) * 10 + b"\x00\x01"  # '+', '/' and one '=' in standard base64
    lid = uuid.UUID(srv.license_id).bytes
    for lic in (srv.license_id, base64.b64encode(lid).decode(), b64u(lid)):
        j = {"nonce": base64.b64encode(n).decode(), "domain": "localhost", "port": 443,
             "node": "rs-json", "license": lic, "app": "reports", "version": "11.0.0"}
        assert "+" in j["nonce"] and "/" in j["nonce"] and j["nonce"].endswith("=")
        st, out, rtype = post(srv.port, "/v1/verify", json.dumps(j).encode(), "application/json")
        assert st == 200, out
        q = {"nonce": n, "node": "rs-json", "license": lid}
        assert check_chain(decode_response(out, rtype), q, srv.node_pub)["status"] == "valid"


@pytest.mark.parametrize("ctype", ["application/json; charset=utf-8", "Application/JSON",
                                   "application/msgpack", "application/x-msgpack"])
def test_content_type_forms_and_uuid_text_in_msgpack(srv, ctype):
    q = request_fields(**ok_req(srv.license_id))
    kind = "json" if "json" in ctype.lower() else "msgpack"
    body, _ = encode(q, kind)
    if kind == "msgpack":  # an id as UUID text is accepted in MessagePack too
        body = msgpack.packb(dict(q, license=srv.license_id), use_bin_type=True)
    st, out, rtype = post(srv.port, "/v1/verify", body, ctype)
    assert st == 200, out
    assert rtype.startswith("application/" + ("json" if kind == "json" else "msgpack"))
    assert check_chain(decode_response(out, rtype), q, srv.node_pub)["status"] == "valid"


@pytest.mark.parametrize("ctype", ["text/plain", "application/xml", "application/jsonx",
                                   "multipart/form-data", ""])
def test_other_content_types_415(srv, ctype):
    body, _ = encode(request_fields(**ok_req(srv.license_id)), "json")
    st, out, _ = post(srv.port, "/v1/verify", body, ctype)
    assert st == 415, out
    assert json.loads(out)["error"] == "unsupported_media_type"


def test_pipelined_verifies_in_order(srv):
    reqs, qs = [], []
    for i in range(10):
        q = request_fields(**ok_req(srv.license_id, node="rs-pipe-%d" % i,
                                    domain="evil.com" if i % 3 == 2 else "localhost"))
        body, ctype = encode(q, "msgpack" if i % 2 else "json")
        reqs.append(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (ctype.encode(), len(body), body))
        qs.append(q)
    with srvutil.connect(srv.port, timeout=10) as s:
        s.sendall(b"".join(reqs))
        got = srvutil.read_responses(s, len(reqs), timeout=10)
    for i, ((st, h, body), q) in enumerate(zip(got, qs)):
        assert st == 200
        v = check_chain(decode_response(body, h["content-type"]), q, srv.node_pub)
        assert v["status"] == ("domain_denied" if i % 3 == 2 else "valid")


# ---- malformed bodies: 400 {error, message}, and the server goes on --------------

def mp(obj):
    return msgpack.packb(obj, use_bin_type=True)


GOOD = {"nonce": b"n" * 32, "domain": "localhost", "port": 443, "node": "rs-bad"}


def without(k):
    return {x: y for x, y in GOOD.items() if x != k}


def with_(**kw):
    d = dict(GOOD)
    d.update(kw)
    return d


def jsonb(d):
    return json.dumps({k: (b64u(v) if isinstance(v, bytes) else v) for k, v in d.items()}).encode()


# A map whose 'domain' value is a str with invalid UTF-8 bytes.
BAD_UTF8_MP = b"\x84" + mp("nonce") + mp(b"n" * 32) + mp("domain") + b"\xa3\xff\xfe\xfd" + \
    mp("port") + mp(443) + mp("node") + mp("rs")
DUP_KEY_MP = b"\x85" + mp("nonce") + mp(b"n" * 32) + mp("domain") + mp("localhost") + \
    mp("port") + mp(443) + mp("node") + mp("rs") + mp("port") + mp(444)

MALFORMED_MP = {
    "truncated": mp(GOOD)[:-3],
    "empty": b"",
    "not a map": mp([1, 2, 3]),
    "trailing bytes": mp(GOOD) + b"\xc0",
    "port as str": mp(with_(port="443")),
    "port out of range": mp(with_(port=70000)),
    "port zero": mp(with_(port=0)),
    "domain as int": mp(with_(domain=7)),
    "domain not a host name": mp(with_(domain="not a host")),
    "nonce as str": mp(with_(nonce="n" * 32)),
    "node as bin": mp(with_(node=b"rs")),
    "license as int": mp(with_(license=5)),
    "license wrong length": mp(with_(license=b"x" * 15)),
    "missing nonce": mp(without("nonce")),
    "missing domain": mp(without("domain")),
    "missing port": mp(without("port")),
    "missing node": mp(without("node")),
    "nonce 15 bytes": mp(with_(nonce=b"n" * 15)),
    "nonce 65 bytes": mp(with_(nonce=b"n" * 65)),
    "huge array header alone": b"\xdd\xff\xff\xff\xff",
    "huge array header in a map": b"\x84" + mp("nonce") + b"\xdd\xff\xff\xff\xff" + b"\x00" * 8,
    "huge map header": b"\xdf\xff\xff\xff\xff" + b"\xa1a" * 4,
    "huge str header": b"\x84" + mp("domain") + b"\xdb\xff\xff\xff\xff" + b"abc",
    "deep nesting": b"\x81\xa1a" * 200 + b"\xc0",
    "invalid utf-8": BAD_UTF8_MP,
    "duplicate key": DUP_KEY_MP,
    "version not a version": mp(with_(version="eleven")),
    "node 129 bytes": mp(with_(node="n" * 129)),
    "domain 254 bytes": mp(with_(domain=("a" * 62 + ".") * 4 + "ab")),
    "empty app": mp(with_(app="")),
    "empty node": mp(with_(node="")),
    "license and account": mp(with_(license=b"l" * 16, account=b"a" * 16, token="t",
                                    project_id=b"p" * 16)),
}

MALFORMED_JSON = {
    "truncated": jsonb(GOOD)[:-4],
    "empty": b"",
    "array": b"[1, 2]",
    "string": b'"x"',
    "null": b"null",
    "number": b"443",
    "duplicate key": jsonb(GOOD)[:-1] + b', "port": 444}',
    "invalid utf-8": jsonb(GOOD)[:-1] + b', "app": "\xff\xfe"}',
    "port as str": jsonb(with_(port="443")),
    "port as float": jsonb(with_(port=443.0)),
    "domain as int": jsonb(with_(domain=7)),
    "nonce not base64": jsonb(GOOD).replace(b'"nonce": "', b'"nonce": "!!'),
    "nonce as number": jsonb(without("nonce"))[:-1] + b', "nonce": 12}',
    "missing nonce": jsonb(without("nonce")),
    "missing domain": jsonb(without("domain")),
    "missing port": jsonb(without("port")),
    "missing node": jsonb(without("node")),
    "nonce 15 bytes": jsonb(with_(nonce=b"n" * 15)),
    "nonce 65 bytes": jsonb(with_(nonce=b"n" * 65)),
    "license not an id": jsonb(with_(license="not-a-uuid")),
    "nul in node": jsonb(with_(node="a\u0000b")),
}


@pytest.mark.parametrize("name", sorted(MALFORMED_MP))
def test_malformed_msgpack_400(srv, name):
    st, out, rtype = post(srv.port, "/v1/verify", MALFORMED_MP[name], "application/msgpack")
    assert st == 400, (name, st, out)
    assert rtype.startswith("application/msgpack")
    doc = msgpack.unpackb(out, raw=False)
    assert doc["error"] == "bad_request" and doc["message"], doc
    assert srv.get("/healthz")[0] == 200


@pytest.mark.parametrize("name", sorted(MALFORMED_JSON))
def test_malformed_json_400(srv, name):
    st, out, rtype = post(srv.port, "/v1/verify", MALFORMED_JSON[name], "application/json")
    assert st == 400, (name, st, out)
    doc = json.loads(out)
    assert doc["error"] == "bad_request" and doc["message"], doc
    assert srv.get("/healthz")[0] == 200


def test_verdict_metrics_by_status(srv):
    def counts():
        st, body, _ = srv.get("/metrics")
        assert st == 200
        return {m.group(1): int(float(m.group(2))) for m in
                re.finditer(r'^licsrv_verdicts_total\{status="(\w+)"\} (\S+)$', body.decode(), re.M)}
    before = counts()
    assert {"valid", "domain_denied", "port_denied", "unknown_license", "seats_exhausted"} <= set(before)
    verify(srv.port, **ok_req(srv.license_id))
    verify(srv.port, **ok_req(srv.license_id, domain="evil.com"))
    verify(srv.port, **ok_req(srv.license_id, port=1))
    verify(srv.port, node_pub=srv.node_pub, **ok_req(str(uuid.uuid4())))
    after = counts()
    for k in ("valid", "domain_denied", "port_denied", "unknown_license"):
        assert after[k] == before[k] + 1, k
    assert after["seats_exhausted"] == before["seats_exhausted"]
    # Earlier tests in this module produced these.
    assert after["version_denied"] >= 3 and after["app_denied"] >= 2


# ---- licctl verify (SPEC §5) -------------------------------------------------------

def licctl(*args):
    return subprocess.run([srvutil.tool("licctl"), "verify", *args], capture_output=True,
                          text=True, timeout=30)


@pytest.mark.parametrize("kw,status", [
    ({}, "valid"),
    ({"--domain": "evil.com"}, "domain_denied"),
    ({"--port": "80"}, "port_denied"),
    ({"--app": "other"}, "app_denied"),
    ({"--version": "12.1.0"}, "version_denied"),
    ({"--license": "00000000-0000-4000-8000-000000000000"}, "unknown_license"),
])
def test_licctl_verify(srv, kw, status):
    opts = {"--trust": ROOT_PUB, "--domain": "a.example.com", "--port": "8443",
            "--node": "rs-licctl", "--app": "reports", "--version": "11.0.18",
            "--license": srv.license_id}
    opts.update(kw)
    args = ["http://127.0.0.1:%d" % srv.port]
    for k, v in opts.items():
        args += [k, v]
    p = licctl(*args)
    out = (p.stdout + p.stderr).strip().splitlines()
    assert len(out) == 1, p
    if status == "valid":
        assert p.returncode == 0 and out[0].startswith("valid: license " + srv.license_id), p
    else:  # a checked denial, unknown_license included, is a denial, not an error
        assert p.returncode == 1 and out[0].startswith("denied: %s: " % status), p
    if status == "unknown_license":
        assert out[0] == "denied: unknown_license: no such license on this server", p


def test_licctl_verify_nothing_listening():
    port = srvutil.free_port()
    p = licctl("http://127.0.0.1:%d" % port, "--trust", ROOT_PUB, "--domain", "localhost",
               "--port", "443", "--node", "n1", "--timeout", "3000")
    assert p.returncode == 1, p
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licctl: error: "), p
    assert p.stdout == ""


# ---- other servers: licenses sealed here, seats, restarts, machine, signals -----------

def import_cli(s, path):
    return srvutil.run([srvutil.licsrv_bin(), "import", "--data", s.data, "--trust", ROOT_PUB,
                        "--json", str(path)], env=s.env)


def test_dates_and_two_licenses(tmp_path):
    s = Server(tmp_path / "data", threads=1, **TERMS).start()
    try:
        now = int(time.time())
        pub = node_pub(s.data)
        exp = reseal_license(s.license_file, tmp_path / "expired.lic", not_before=now - 3 * 86400,
                             expires=now - 86400)
        nyv = reseal_license(s.license_file, tmp_path / "future.lic", not_before=now + 86400,
                             expires=now + 3 * 86400)
        import_cli(s, tmp_path / "expired.lic")  # while serving
        import_cli(s, tmp_path / "future.lic")
        v = verify(s.port, node_pub=pub, **ok_req(exp))
        assert v["status"] == "expired" and v["expires"] == now - 86400, v
        v = verify(s.port, node_pub=pub, **ok_req(nyv))
        assert v["status"] == "not_yet_valid", v
        assert verify(s.port, node_pub=pub, **ok_req(s.license_id))["status"] == "valid"
        # Three licenses, none named: a signed unknown_license that says why.
        v = verify(s.port, node_pub=pub, **ok_req(None))
        assert v["status"] == "unknown_license" and v["license"] is None, v  # nil id (verdict.c)
        assert "several" in v["reason"], v
    finally:
        s.finish()


def test_seats(tmp_path):
    s = Server(tmp_path / "data", threads=2, **dict(TERMS, max_nodes=2)).start()
    try:
        pub = node_pub(s.data)
        lid = s.license_id
        v = verify(s.port, node_pub=pub, **ok_req(lid, node="rs-a"))
        assert v["status"] == "valid" and v["seats"] == {"used": 1, "max": 2}
        v = verify(s.port, node_pub=pub, **ok_req(lid, node="rs-b"))
        assert v["status"] == "valid" and v["seats"] == {"used": 2, "max": 2}
        v = verify(s.port, node_pub=pub, **ok_req(lid, node="rs-c"))
        assert v["status"] == "seats_exhausted" and v["seats"] == {"used": 2, "max": 2}, v
        # Holders keep their seats on every check; a denied request holds none.
        for node in ("rs-a", "rs-b", "rs-a"):
            assert verify(s.port, node_pub=pub, **ok_req(lid, node=node))["status"] == "valid"
        v = verify(s.port, node_pub=pub, **ok_req(lid, node="rs-d", domain="evil.com"))
        assert v["status"] == "domain_denied" and v["seats"]["used"] == 2
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-c"))["status"] == "seats_exhausted"
        # Seats are counted per license: a second license has its own.
        other = reseal_license(s.license_file, tmp_path / "other.lic", max_nodes=1)
        import_cli(s, tmp_path / "other.lic")
        v = verify(s.port, node_pub=pub, **ok_req(other, node="rs-c"))
        assert v["status"] == "valid" and v["seats"] == {"used": 1, "max": 1}, v
        assert verify(s.port, node_pub=pub, **ok_req(other, node="rs-a"))["status"] == "seats_exhausted"
        # Seats survive a clean restart (last-seen is flushed at shutdown).
        s.finish()
        s = Server(s.data, threads=1, sysroot=s.sysroot).start()
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-c"))["status"] == "seats_exhausted"
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-b"))["status"] == "valid"
        # Revocation answers revoked to holders and newcomers alike.
        tok = token_add(s.data, "ops")
        st, doc = admin(s, "POST", "/v1/admin/licenses/revoke", tok, {"id": lid})
        assert st == 200, doc
        for node in ("rs-a", "rs-c"):
            assert verify(s.port, node_pub=pub, **ok_req(lid, node=node))["status"] == "revoked"
    finally:
        s.finish()


def edit_record(data, db, key, edit):
    """Rewrite one record of a stopped server's store through Debian's
    lmdb-utils (mdb_dump/mdb_load): value = edit(bytearray value)."""
    env = os.path.join(str(data), "store")
    dump = subprocess.run(["mdb_dump", "-s", db, env], capture_output=True, text=True,
                          check=True, timeout=30).stdout.splitlines()
    out, changed = [], 0
    for i, line in enumerate(dump):
        if i > 0 and dump[i - 1] == " " + key.hex():
            line = " " + bytes(edit(bytearray.fromhex(line.strip()))).hex()
            changed += 1
        out.append(line)
    assert changed == 1, "%r not in the %s table" % (key, db)
    subprocess.run(["mdb_load", "-s", db, env], input="\n".join(out) + "\n", text=True,
                   check=True, timeout=30, capture_output=True)


def age_node(data, lid, node, seconds):
    """Move a node's last valid check back by seconds (docs/storage.md: u8
    version, i64 last valid check big-endian, ...)."""
    def edit(v):
        t = int.from_bytes(v[1:9], "big", signed=True)
        assert t > 0, "the node has no valid check to age"
        v[1:9] = (t - seconds).to_bytes(8, "big", signed=True)
        return v
    edit_record(data, "nodes", uuid.UUID(lid).bytes + node.encode(), edit)


def set_clock_hwm(data, t):
    edit_record(data, "meta", b"clock_hwm", lambda v: t.to_bytes(8, "big", signed=True))


def test_seat_freed_after_two_heartbeats(tmp_path):
    # A seat is held while the node's last valid check is younger than
    # 2 x heartbeat (7200 s by default). The clock is real: the stopped
    # server's record of rs-a is moved back instead of waiting four hours.
    s = Server(tmp_path / "data", threads=1, **dict(TERMS, max_nodes=2)).start()
    try:
        pub, lid = node_pub(s.data), s.license_id
        for node in ("rs-a", "rs-b"):
            assert verify(s.port, node_pub=pub, **ok_req(lid, node=node))["status"] == "valid"
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-c"))["status"] == "seats_exhausted"
        s.finish()  # SIGTERM flushes the last-valid times
        age_node(s.data, lid, "rs-a", 2 * 7200 - 60)  # a minute short of lapsing: still held
        s = Server(s.data, threads=1, sysroot=s.sysroot).start()
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-c"))["status"] == "seats_exhausted"
        s.finish()
        age_node(s.data, lid, "rs-a", 120)  # now past 2 x heartbeat: the seat is free
        s = Server(s.data, threads=1, sysroot=s.sysroot).start()
        v = verify(s.port, node_pub=pub, **ok_req(lid, node="rs-c"))
        assert v["status"] == "valid" and v["seats"] == {"used": 2, "max": 2}, v
        # rs-a comes back to a full house; rs-b, still fresh, keeps its seat.
        v = verify(s.port, node_pub=pub, **ok_req(lid, node="rs-a"))
        assert v["status"] == "seats_exhausted" and v["seats"] == {"used": 2, "max": 2}, v
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-b"))["status"] == "valid"
    finally:
        s.finish()


def test_clock_rollback(tmp_path):
    # The server keeps the highest time it has seen; a clock more than an hour
    # below it answers clock_rollback (signed) until time catches up.
    s = Server(tmp_path / "data", threads=1, **TERMS).start()
    try:
        pub, lid = node_pub(s.data), s.license_id
        assert verify(s.port, node_pub=pub, **ok_req(lid))["status"] == "valid"
        s.finish()
        set_clock_hwm(s.data, int(time.time()) + 3 * 3600)  # as if the clock went back 3 h
        s = Server(s.data, threads=1, sysroot=s.sysroot).start(healthy=False)
        st, body, _ = s.get("/healthz")  # says so (issue 11)
        assert st == 503 and json.loads(body)["check"] == "clock", body
        v = verify(s.port, node_pub=pub, **ok_req(lid))
        assert v["status"] == "clock_rollback", v
        assert verify(s.port, node_pub=pub, **ok_req(lid, node="rs-2"))["status"] == "clock_rollback"
        s.finish()
        set_clock_hwm(s.data, int(time.time()) + 1800)  # within the hour of slack
        s = Server(s.data, threads=1, sysroot=s.sysroot).start()
        assert verify(s.port, node_pub=pub, **ok_req(lid))["status"] == "valid"
    finally:
        s.finish()


def test_restart_after_kill9_keeps_imports(tmp_path):
    s = Server(tmp_path / "data", threads=2, **TERMS)
    os.makedirs(os.path.join(s.data, "trusted"))
    shutil.copy(ROOT_PUB, os.path.join(s.data, "trusted", "test-root.pem"))
    s.start()
    pub = node_pub(s.data)
    template = s.license_file
    try:
        tok = token_add(s.data, "ops")
        via_api = reseal_license(template, tmp_path / "a.lic")
        with open(tmp_path / "a.lic", "rb") as f:
            st, doc = admin(s, "POST", "/v1/admin/licenses", tok, f.read(), "application/octet-stream")
        assert st == 200 and doc == {"id": via_api, "imported": True}, doc
        s.kill9()  # right after the acknowledged import
        s = Server(s.data, threads=2, sysroot=s.sysroot).start()
        assert verify(s.port, node_pub=pub, **ok_req(via_api))["status"] == "valid"
        via_cli = reseal_license(template, tmp_path / "b.lic")
        import_cli(s, tmp_path / "b.lic")
        s.kill9()
        s = Server(s.data, threads=1, sysroot=s.sysroot).start()
        for lid in (via_api, via_cli):
            assert verify(s.port, node_pub=pub, **ok_req(lid))["status"] == "valid"
    finally:
        s.finish()


def test_machine_changed(tmp_path):
    s = Server(tmp_path / "data", threads=1, **TERMS).start()
    pub = node_pub(s.data)
    s.finish()
    root = s.sysroot

    def check_mismatch():
        m = Server(s.data, threads=1, sysroot=root).start(healthy=False)
        try:
            body, ctype = encode(request_fields(**ok_req(s.license_id)), "msgpack")
            st, out, rtype = post(m.port, "/v1/verify", body, ctype)
            assert st == 503, out
            doc = msgpack.unpackb(out, raw=False)
            assert doc["error"] == "machine_mismatch" and doc["message"], doc
            st, out, _ = m.get("/healthz")
            h = json.loads(out)
            assert st == 503 and h["check"] == "machine", h
            assert m.wait_log("machine_mismatch")
        finally:
            m.finish()

    # Another machine-id: another machine.
    mid = os.path.join(root, "etc", "machine-id")
    with open(mid) as f:
        orig = f.read()
    with open(mid, "w") as f:
        f.write("ffffffffffffffffffffffffffffffff\n")
    check_mismatch()
    with open(mid, "w") as f:
        f.write(orig)
    # The licensed NIC replaced by another one.
    net = os.path.join(root, "sys", "class", "net")
    shutil.rmtree(os.path.join(net, "eth0"))
    srvutil.fake_machine(root, orig.strip(), nics=(("eth1", "52:54:00:aa:bb:cc"),))
    check_mismatch()
    # The licensed NIC back, and another one added: still this machine.
    srvutil.fake_machine(root, orig.strip())
    m = Server(s.data, threads=1, sysroot=root).start()
    try:
        assert verify(m.port, node_pub=pub, **ok_req(s.license_id))["status"] == "valid"
        # While serving: checked hourly, and at once on SIGHUP (logged once
        # per change), both ways.
        with open(mid, "w") as f:
            f.write("ffffffffffffffffffffffffffffffff\n")
        assert verify(m.port, node_pub=pub, **ok_req(s.license_id))["status"] == "valid"
        m.send_signal(signal.SIGHUP)
        assert m.wait_log("machine_mismatch")
        body, ctype = encode(request_fields(**ok_req(s.license_id)), "msgpack")
        st, out, _ = post(m.port, "/v1/verify", body, ctype)
        assert st == 503 and msgpack.unpackb(out, raw=False)["error"] == "machine_mismatch"
        assert m.get("/healthz")[0] == 503
        with open(mid, "w") as f:
            f.write(orig)
        m.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while m.get("/healthz")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert verify(m.port, node_pub=pub, **ok_req(s.license_id))["status"] == "valid"
        assert m.log().count("msg=machine_mismatch") == 1, m.log()
    finally:
        m.finish()


def test_sigterm_with_idle_keepalive_connections(tmp_path):
    s = Server(tmp_path / "data", threads=2, **TERMS).start()
    socks = []
    try:
        for i in range(6):
            c = srvutil.connect(s.port, timeout=5)
            body, ctype = encode(request_fields(**ok_req(s.license_id, node="rs-%d" % i)), "msgpack")
            c.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                      b"Content-Length: %d\r\n\r\n%s" % (ctype.encode(), len(body), body))
            assert srvutil.read_responses(c, 1)[0][0] == 200
            socks.append(c)  # left open and idle
        t0 = time.monotonic()
        assert s.finish() == 0
        assert time.monotonic() - t0 < 5.0
        assert "msg=shutdown" in s.log()
    finally:
        for c in socks:
            c.close()
        s.close()


def test_sigterm_under_load_answers_whole_or_closes(tmp_path):
    """Drain: requests in flight are answered whole; then connections close;
    exit 0 in bounded time."""
    s = Server(tmp_path / "data", threads=2, **TERMS).start()
    errors, done = [], []

    def client(i):
        try:
            with srvutil.connect(s.port, timeout=10) as c:
                while True:
                    q = request_fields(**ok_req(s.license_id, node="rs-t%d" % i))
                    body, ctype = encode(q, "msgpack")
                    try:
                        c.sendall(b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\n"
                                  b"Content-Length: %d\r\n\r\n%s" % (ctype.encode(), len(body), body))
                        (st, h, out), = srvutil.read_responses(c, 1, timeout=10)
                    except (ConnectionError, OSError):
                        done.append(i)
                        return  # closed by the drain
                    assert st == 200
                    check_chain(decode_response(out, h["content-type"]), q)
                    if h.get("connection", "").lower() == "close":
                        done.append(i)
                        return
        except Exception as e:  # asserted below
            errors.append(repr(e))

    ths = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(3)]
    try:
        for t in ths:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        assert s.finish() == 0
        assert time.monotonic() - t0 < 7.0
        for t in ths:
            t.join(timeout=10)
        assert errors == [] and sorted(done) == [0, 1, 2], (errors, done)
    finally:
        s.close()


def test_backup_while_serving_under_load(tmp_path):
    s = Server(tmp_path / "data", threads=2, **TERMS).start()
    stop = threading.Event()
    stats = {"ok": 0, "bad": []}

    def hammer():
        import http.client
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        while not stop.is_set():
            q = request_fields(**ok_req(s.license_id, node="rs-load"))
            body, ctype = encode(q, "msgpack")
            try:
                c.request("POST", "/v1/verify", body=body, headers={"Content-Type": ctype})
                r = c.getresponse()
                out = r.read()
                v = check_chain(decode_response(out, r.getheader("Content-Type")), q)
                if r.status == 200 and v["status"] == "valid":
                    stats["ok"] += 1
                else:
                    stats["bad"].append((r.status, v))
            except Exception as e:  # recorded, asserted below
                stats["bad"].append(repr(e))
                return
        c.close()

    th = threading.Thread(target=hammer, daemon=True)
    try:
        th.start()
        time.sleep(0.3)
        dest = tmp_path / "backup"
        p = subprocess.run([srvutil.licsrv_bin(), "backup", str(dest), "--data", s.data],
                           capture_output=True, text=True, timeout=30)
        time.sleep(0.2)
        stop.set()
        th.join(timeout=10)
        assert p.returncode == 0, p.stderr
        assert stats["bad"] == [] and stats["ok"] > 10, stats
        st = subprocess.run([srvutil.licsrv_bin(), "status", "--data", str(dest), "--json"],
                            capture_output=True, text=True, timeout=30)
        assert st.returncode == 0, st.stderr
        assert [l["id"] for l in json.loads(st.stdout)["licenses"]] == [s.license_id]
        # And the copy serves: same node key, same license.
        b = Server(str(dest), threads=1, sysroot=s.sysroot).start()
        try:
            assert verify(b.port, node_pub=node_pub(s.data),
                          **ok_req(s.license_id))["status"] == "valid"
        finally:
            b.finish()
    finally:
        stop.set()
        s.finish()


# ---- licctl verify without --license (issue 10 item 2) ---------------------------------

def verify_nameless(s):
    return licctl("http://127.0.0.1:%d" % s.port, "--trust", ROOT_PUB, "--domain", "localhost",
                  "--port", "443", "--node", "rs-x", "--version", "11.0.18")


def import_file(s, path):
    p = subprocess.run([srvutil.licsrv_bin(), "import", "--data", s.data, "--trust", ROOT_PUB,
                        str(path)], capture_output=True, text=True, timeout=30, env=s.env)
    assert p.returncode == 0, p.stderr


def revoke(s, lid):
    tok = token_add(s.data, "ops-%s" % lid[:8])
    st, doc = admin(s, "POST", "/v1/admin/licenses/revoke", tok, {"id": lid})
    assert st == 200, doc


def test_licctl_verify_picks_the_one_current_license(tmp_path):
    """A renewal: the old license revoked, another expired, the new one current.
    Without --license the server answers for the current one."""
    with Server(tmp_path / "data", threads=1, domains=("localhost",)) as s:
        old = s.license_id
        expired = reseal_license(s.license_file, tmp_path / "expired.lic",
                                 not_before=int(time.time()) - 7200,
                                 expires=int(time.time()) - 3600)
        import_file(s, tmp_path / "expired.lic")
        new = reseal_license(s.license_file, tmp_path / "new.lic", customer="Renewed")
        import_file(s, tmp_path / "new.lic")
        # Two current licenses: ambiguous, and the client prints the signed denial.
        p = verify_nameless(s)
        assert (p.returncode, p.stderr) == (1, ""), p
        # The reason lists the licenses to choose from (live ones first).
        assert p.stdout.startswith("denied: unknown_license: this server holds several licenses: "
                                   "name one: "), p
        assert "%s (Renewed/" % new in p.stdout and "%s (Test Customer/" % old in p.stdout, p
        revoke(s, old)
        p = verify_nameless(s)
        assert p.returncode == 0 and p.stdout.startswith("valid: license %s, node rs-x," % new), p
        revoke(s, new)
        p = verify_nameless(s)
        assert (p.returncode, p.stderr) == (1, ""), p
        assert p.stdout.startswith("denied: unknown_license: this server holds several licenses, "
                                   "none current (revoked or expired): name one: "), p
        assert expired
        s.finish()


def test_licctl_verify_server_without_license(tmp_path):
    data = tmp_path / "bare"
    subprocess.run([srvutil.licsrv_bin(), "init", "--data", str(data)], check=True,
                   capture_output=True, timeout=30)
    s = Server(data, threads=1, provisioned=False)
    s.start(healthy=False)
    try:
        p = verify_nameless(s)
        assert (p.returncode, p.stderr) == (1, ""), p
        assert p.stdout == ("denied: unknown_license: no license imported on this server "
                            "(unsigned: the server sent no license to check it with)\n"), p
    finally:
        s.finish()
    assert 'msg=machine_binding result=unchecked reason="no license imported"' in s.log(), s.log()
    assert "result=holds" not in s.log()


def test_inspect_reads_a_json_verdict(tmp_path):
    """docs/api.md's curl example: the JSON answer's verdict string, piped to
    `licgen inspect -`, checks against the node key; its chain entry with the
    trust store."""
    with Server(tmp_path / "data", threads=1, domains=("localhost",), ports=(8080,)) as s:
        body = json.dumps({"nonce": "AAAAAAAAAAAAAAAAAAAAAA", "domain": "localhost",
                           "port": 8080, "node": "rs-1", "version": "11.0.18"}).encode()
        st, out, _ = post(s.port, "/v1/verify", body, "application/json", None)
        assert st == 200, out
        doc = json.loads(out)
        lic = srvutil.tool("licgen")
        p = subprocess.run([lic, "inspect", "-", "--pubkey", os.path.join(s.data, "node.pub.pem")],
                           input=doc["verdict"] + "\n", capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p
        lines = p.stdout.splitlines()
        assert "signature        valid (--pubkey)" in lines, p.stdout
        assert "status           valid" in lines and "node             rs-1" in lines, p.stdout
        assert any(l.startswith("time             20") and l.endswith("Z") for l in lines)
        p = subprocess.run([lic, "inspect", "-", "--trust", ROOT_PUB], input=doc["chain"][0],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 0 and "typ              license" in p.stdout, p
        # Not base64 at all, or base64 of garbage: one error line, exit 1.
        p = subprocess.run([lic, "inspect", "-", "--trust", ROOT_PUB], input="QUJDREVGR0g=\n",
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and len(p.stderr.splitlines()) == 1, p
        s.finish()
