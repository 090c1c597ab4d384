"""Online claim of designer activation codes (SPEC §3.6, POST /v1/activations)
end to end: a provisioned licsrv, codes from licgen, receipts checked in
Python (root -> license -> receipt), admin list/release, kill -9, licctl."""
import base64
import csv
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import msgpack
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import srvutil

BUILD_DIR = Path(srvutil.BUILD_DIR)
SOURCE_DIR = Path(srvutil.SOURCE_DIR)
LICGEN = BUILD_DIR / "bin" / "licgen"
LICCTL = BUILD_DIR / "bin" / "licctl"
TEST_KEY = SOURCE_DIR / "keys/test/test-root.pem"
TEST_PUB = SOURCE_DIR / "keys/test/test-root.pub.pem"
SANITIZER_RE = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:")

MACHINE_A = "0000-1111-2222-3333"
MACHINE_B = "4444-5555-6666-7777"


def run(*args, env=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=e, timeout=60)
    assert not SANITIZER_RE.search(p.stderr), p.stderr
    return p


def make_codes(tmp_path, n=3, product=1, *extra):
    key = tmp_path / "vendor.pem"
    shutil.copy(TEST_KEY, key)
    os.chmod(key, 0o600)
    out = tmp_path / "codes.csv"
    p = run(LICGEN, "codes", "--key", key, "--product", product, "--count", n, "-o", out, *extra)
    assert p.returncode == 0, p.stderr
    with open(out, newline="") as f:
        return [row["code"] for row in csv.DictReader(f)]


@pytest.fixture
def srv(tmp_path):
    s = srvutil.Server(tmp_path / "data")
    trusted = Path(s.data) / "trusted"
    trusted.mkdir(exist_ok=True)
    shutil.copy(TEST_PUB, trusted / "test-root.pub.pem")
    s.start()
    tok = srvutil.run([srvutil.licsrv_bin(), "token", "add", "ops", "--data", s.data], s.env)
    s.token = tok.stdout.strip()
    yield s
    try:
        assert s.stop() == 0, s.log()  # drains cleanly (and ASan reports leaks here)
        assert not SANITIZER_RE.search(s.log()), s.log()
    finally:
        s.close()


def post(port, path, body, ctype="application/msgpack", headers=None, timeout=10.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": ctype}
        h.update(headers or {})
        c.request("POST", path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Content-Type")
    finally:
        c.close()


def claim(s, code, machine, macs=None, as_json=False):
    doc = {"code": code, "machine": machine}
    if macs is not None:
        doc["macs"] = macs
    if as_json:
        if macs is not None:
            doc["macs"] = [base64.urlsafe_b64encode(m).rstrip(b"=").decode() for m in macs]
        st, body, ct = post(s.port, "/v1/activations", json.dumps(doc).encode(), "application/json")
        return st, (json.loads(body) if body else None)
    st, body, ct = post(s.port, "/v1/activations", msgpack.packb(doc, use_bin_type=True))
    return st, msgpack.unpackb(body, raw=False)


def admin(s, method, path, doc=None):
    c = http.client.HTTPConnection("127.0.0.1", s.admin_port, timeout=10)
    try:
        body = json.dumps(doc).encode() if doc is not None else None
        c.request(method, path, body=body, headers={"Authorization": "Bearer " + s.token,
                                                    "Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def open_envelope(env_bytes, pub, typ):
    env = msgpack.unpackb(env_bytes, raw=False)
    assert set(env) == {"typ", "kid", "body", "sig"} and env["typ"] == typ
    pub.verify(env["sig"], b"LICSRV1 " + typ.encode() + b"\n" + env["body"])
    body = msgpack.unpackb(env["body"], raw=False)
    assert body["typ"] == typ
    return env, body


def check_receipt(doc, code_serial, machine):
    """root -> license (node_key) -> receipt, as a client does."""
    root = serialization.load_pem_public_key(TEST_PUB.read_bytes())
    assert len(doc["chain"]) == 1
    _, lic = open_envelope(doc["chain"][0], root, "license")
    node = Ed25519PublicKey.from_public_bytes(lic["node_key"])
    env, body = open_envelope(doc["receipt"], node, "receipt")
    assert body["product"] == 1 and body["serial"] == code_serial
    assert body["machine"] == machine and body["time"] > 0
    assert body["node_kid"] == env["kid"]
    return body


def test_claim_same_machine_other_machine_release(srv):
    codes = make_codes(Path(srv.data).parent)
    mac = os.urandom(16)
    st, doc = claim(srv, codes[0], MACHINE_A, [mac])
    assert st == 200, doc
    first = doc["receipt"]
    check_receipt(doc, 1, MACHINE_A)
    # The same machine again: the very same receipt bytes.
    st, doc = claim(srv, codes[0].lower().replace("-", " "), MACHINE_A)
    assert st == 200 and doc["receipt"] == first
    # JSON too (base64url), same bytes.
    st, jdoc = claim(srv, codes[0], MACHINE_A, [mac], as_json=True)
    assert st == 200 and b64d(jdoc["receipt"]) == first
    # Another machine: refused.
    st, doc = claim(srv, codes[0], MACHINE_B)
    assert st == 409 and doc["error"] == "already_activated" and doc["message"]
    # Another serial is independent.
    st, doc = claim(srv, codes[1], MACHINE_B)
    assert st == 200
    check_receipt(doc, 2, MACHINE_B)
    # Admin: list, release, then B can claim serial 1.
    st, lst = admin(srv, "GET", "/v1/admin/activations")
    assert st == 200
    got = {(a["product"], a["serial"]): a["machine"] for a in lst["activations"]}
    assert got == {(1, 1): MACHINE_A, (1, 2): MACHINE_B}
    assert all(a["time"] > 0 for a in lst["activations"])
    st, out = admin(srv, "POST", "/v1/admin/activations/release", {"product": 1, "serial": 1})
    assert st == 200 and out["released"] is True
    st, out = admin(srv, "POST", "/v1/admin/activations/release", {"product": 1, "serial": 1})
    assert st == 404
    st, out = admin(srv, "POST", "/v1/admin/activations/release", {"product": 1})
    assert st == 400
    st, doc = claim(srv, codes[0], MACHINE_B)
    assert st == 200
    check_receipt(doc, 1, MACHINE_B)
    st, doc = claim(srv, codes[0], MACHINE_A)
    assert st == 409
    # Audited: three claims and one release.
    st, au = admin(srv, "GET", "/v1/admin/audit")
    actions = [(e["action"], e["subject"]) for e in au["audit"]]
    assert actions.count(("activation.release", "activation:1/1")) == 1
    claims = [s for a, s in actions if a == "activation.claim"]
    assert claims == ["activation:1/1 machine:" + MACHINE_A, "activation:1/2 machine:" + MACHINE_B,
                      "activation:1/1 machine:" + MACHINE_B]
    assert all(e["token"] == "ops" for e in au["audit"] if e["action"] == "activation.release")


def test_admin_needs_token(srv):
    st, _, _ = post(srv.admin_port, "/v1/admin/activations/release", b'{"product":1,"serial":1}',
                    "application/json")
    assert st == 401
    assert srv.get("/v1/admin/activations", port=srv.admin_port)[0] == 401


def test_claim_survives_kill9(srv):
    codes = make_codes(Path(srv.data).parent)
    st, doc = claim(srv, codes[2], MACHINE_A)
    assert st == 200
    receipt = doc["receipt"]
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.start()
    st, doc = claim(srv, codes[2], MACHINE_A)
    assert st == 200 and doc["receipt"] == receipt
    st, doc = claim(srv, codes[2], MACHINE_B)
    assert st == 409 and doc["error"] == "already_activated"


def test_bad_codes_and_bodies(srv):
    codes = make_codes(Path(srv.data).parent)
    good = codes[0]
    # A typo: one symbol of group 3 changed.
    groups = good.split("-")
    g = groups[2]
    groups[2] = ("1" if g[0] != "1" else "2") + g[1:]
    st, doc = claim(srv, "-".join(groups), MACHINE_A)
    assert st == 400 and doc["error"] == "typo" and "group 3" in doc["message"]
    # Too short / not a code.
    st, doc = claim(srv, "043G0D-000044", MACHINE_A)
    assert st == 400 and doc["error"] == "bad_code"
    # Bad machine code, missing fields, wrong types, garbage.
    for body in ({"code": good, "machine": "nope"}, {"code": good}, {"machine": MACHINE_A},
                 {"code": 5, "machine": MACHINE_A}, {"code": good, "machine": MACHINE_A, "macs": [b"x"]},
                 {"code": good, "machine": MACHINE_A, "macs": "x"}):
        st, b, _ = post(srv.port, "/v1/activations", msgpack.packb(body, use_bin_type=True))
        assert st == 400, (body, b)
        assert msgpack.unpackb(b, raw=False)["error"] == "bad_request"
    for raw in (b"", b"\xc1", b"\xdf\xff\xff\xff\xff", os.urandom(200), b"\x93\x01\x02"):
        st, _, _ = post(srv.port, "/v1/activations", raw)
        assert st == 400
    for raw in (b"{", b"[]", b'{"code": "x", "machine": "0000-1111-2222-3333", "code": "y"}'):
        st, _, _ = post(srv.port, "/v1/activations", raw, "application/json")
        assert st == 400
    st, _, _ = post(srv.port, "/v1/activations", b"code=x", "text/plain")
    assert st == 415
    assert srv.get("/healthz")[0] == 200
    # Nothing was claimed by all that.
    st, lst = admin(srv, "GET", "/v1/admin/activations")
    assert lst["activations"] == []


def test_untrusted_code(tmp_path):
    # A server without DATA/trusted does not trust the test root for codes.
    s = srvutil.Server(tmp_path / "data")
    with s:
        codes = make_codes(tmp_path)
        st, doc = claim(s, codes[0], MACHINE_A)
        assert st == 422 and doc["error"] == "not_genuine"
        assert s.get("/healthz")[0] == 200
        # The trust store is cached per worker but follows DATA/trusted: a
        # key dropped in counts from the next request, a removed one no more.
        trusted = Path(s.data) / "trusted"
        trusted.mkdir(exist_ok=True)
        shutil.copy(TEST_PUB, trusted / "test-root.pub.pem")
        st, doc = claim(s, codes[0], MACHINE_A)
        assert st == 200, doc
        os.unlink(trusted / "test-root.pub.pem")
        st, doc = claim(s, codes[1], MACHINE_A)
        assert st == 422 and doc["error"] == "not_genuine"
        # Replaced in place by another key's file (same name): re-read too.
        shutil.copy(os.path.join(srvutil.SOURCE_DIR, "keys", "test", "test-node.pub.pem"),
                    trusted / "test-root.pub.pem")
        st, doc = claim(s, codes[1], MACHINE_A)
        assert st == 422 and doc["error"] == "not_genuine"
        shutil.copy(TEST_PUB, trusted / "test-root.pub.pem")
        st, doc = claim(s, codes[1], MACHINE_A)
        assert st == 200, doc


def licctl_env(root, machine_id, mac):
    srvutil.fake_machine(root, machine_id, (("eth0", mac),))
    return {"LIC_SYSROOT": str(root)}


def test_licctl_activate_online(srv, tmp_path):
    codes = make_codes(tmp_path)
    url = "http://127.0.0.1:%d" % srv.port
    env_a = licctl_env(tmp_path / "A", "0123456789abcdef0123456789abcdef", "52:54:00:12:34:56")
    env_b = licctl_env(tmp_path / "B", "fedcba9876543210fedcba9876543210", "52:54:00:65:43:21")
    state_a, state_b = tmp_path / "state-a", tmp_path / "state-b"
    p = run(LICCTL, "activate", codes[0], "--server", url, "--product", 1, "--trust", TEST_PUB,
            "--state", state_a, env=env_a)
    assert p.returncode == 0, p.stderr
    assert "claimed online" in p.stdout
    f = state_a / "activation"
    assert f.stat().st_mode & 0o777 == 0o600
    # The receipt is kept in the activation file; the check still holds.
    p = run(LICCTL, "activation", "--state", state_a, "--trust", TEST_PUB, "--json", env=env_a)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["claimed_online"] is True
    # Again on A (a reinstall): same receipt, fine.
    p = run(LICCTL, "activate", codes[0], "--server", url, "--product", 1, "--trust", TEST_PUB,
            "--state", state_a, env=env_a)
    assert p.returncode == 0, p.stderr
    # B: refused with one line, nothing written.
    p = run(LICCTL, "activate", codes[0], "--server", url, "--product", 1, "--trust", TEST_PUB,
            "--state", state_b, env=env_b)
    assert p.returncode == 1
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("licctl: error: ") and "another machine" in lines[0]
    assert not (state_b / "activation").exists()
    st, lst = admin(srv, "GET", "/v1/admin/activations")
    assert len(lst["activations"]) == 1
    # A server that cannot be reached: one line, nothing written.
    dead = "http://127.0.0.1:%d" % srvutil.free_port()
    p = run(LICCTL, "activate", codes[1], "--server", dead, "--product", 1, "--trust", TEST_PUB,
            "--state", state_b, env=env_b)
    assert p.returncode == 1 and len(p.stderr.strip().splitlines()) == 1
    assert not (state_b / "activation").exists()


def test_racing_claims_one_winner(srv):
    """Concurrent claims of one serial from two machines: one machine wins,
    every answer to it is the same receipt, every answer to the other is 409."""
    import concurrent.futures
    codes = make_codes(Path(srv.data).parent)
    jobs = [MACHINE_A, MACHINE_B] * 10
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as ex:
        results = list(ex.map(lambda m: (m, claim(srv, codes[0], m)), jobs))
    winners = {m for m, (st, _) in results if st == 200}
    assert len(winners) == 1, [(m, st) for m, (st, _) in results]
    receipts = {bytes(doc["receipt"]) for m, (st, doc) in results if st == 200}
    assert len(receipts) == 1
    assert all(st == 409 for m, (st, _) in results if m not in winners)
    st, au = admin(srv, "GET", "/v1/admin/audit")
    assert [e["action"] for e in au["audit"]].count("activation.claim") == 1


def store_counts(s):
    st, body, _ = s.get("/metrics")
    assert st == 200
    vals = {}
    for line in body.decode().splitlines():
        if line.startswith("licsrv_store_"):
            name, v = line.split()
            vals[name] = float(v)
    return vals["licsrv_store_operations"], vals["licsrv_store_commits"]


def test_store_metrics_count_claims(srv):
    codes = make_codes(Path(srv.data).parent, n=3)
    ops0, commits0 = store_counts(srv)
    for i, code in enumerate(codes):
        st, doc = claim(srv, code, MACHINE_A if i % 2 else MACHINE_B)
        assert st == 200, doc
    ops1, commits1 = store_counts(srv)
    # Each claim is one durable operation, answered after its commit.
    assert ops1 - ops0 >= 3
    assert 1 <= commits1 - commits0 <= ops1 - ops0


def test_concurrent_claims_and_imports_survive_kill9(srv):
    """Issue 22: many claims and admin imports at once share syncs (a group
    committed while more writes wait is answered after the next commit's
    sync); each one answered 200 is still there after kill -9."""
    import concurrent.futures
    codes = make_codes(Path(srv.data).parent, n=40)
    with open(srv.license_file, "rb") as f:
        lic = f.read()

    def one(job):
        kind, i = job
        if kind == "claim":
            machine = "%04X-0000-0000-%04X" % (i, i)
            st, doc = claim(srv, codes[i], machine)
            return kind, i, st, (machine, bytes(doc["receipt"]) if st == 200 else doc)
        st, body, _ = post(srv.admin_port, "/v1/admin/licenses", lic, "application/octet-stream",
                           headers={"Authorization": "Bearer " + srv.token})
        return kind, i, st, body

    jobs = [("claim", i) for i in range(len(codes))] + [("import", i) for i in range(10)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=25) as ex:
        results = list(ex.map(one, jobs))
    assert all(st == 200 for _, _, st, _ in results), [(k, i, st, d) for k, i, st, d in results
                                                        if st != 200]
    st, body, _ = srv.get("/metrics", port=srv.admin_port,
                          headers={"Authorization": "Bearer " + srv.token})
    assert st == 200
    vals = dict(line.split() for line in body.decode().splitlines()
                if line.startswith("licsrv_store_"))
    assert float(vals["licsrv_store_syncs"]) == float(vals["licsrv_store_commits"])
    assert 0 <= float(vals["licsrv_store_shared_syncs"]) <= float(vals["licsrv_store_syncs"])
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=10)
    srv.start()
    st, lst = admin(srv, "GET", "/v1/admin/activations")
    assert st == 200
    stored = {(a["serial"], a["machine"]) for a in lst["activations"]}
    assert len(stored) == len(codes)
    for kind, i, _, (machine, receipt) in (r for r in results if r[0] == "claim"):
        st, doc = claim(srv, codes[i], machine)  # answered from the store: the same receipt
        assert st == 200 and bytes(doc["receipt"]) == receipt
    st, au = admin(srv, "GET", "/v1/admin/audit")
    assert [e["action"] for e in au["audit"]].count("import") >= 10
    assert [e["action"] for e in au["audit"]].count("activation.claim") == len(codes)
