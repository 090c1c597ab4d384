"""Public mode end to end (SPEC §4 public mode, §4.1, §6) against a real
`licsrv serve`: registration capacity, idempotence, unregister, concurrency
without overshoot, indistinguishable bad credentials, revoke/delete, key
rotation without a gap, durability across kill -9, the TTL release, export
and forget, the plain-HTTP refusal. Every verdict is checked root -> cert ->
verdict by lictest_formats (Python alone)."""
import concurrent.futures
import json
import os
import re
import subprocess
import threading
import time
import uuid

import pytest

import lictest_formats as lf
import pubutil
import srvchain
import srvutil
from pubutil import register, unregister, verify


@pytest.fixture
def server(tmp_path):
    s = pubutil.Server(tmp_path / "data", threads=2).start()
    yield s
    s.finish()


def admin_token(s):
    return srvchain.token_add(s.data, "ops")


def test_register_capacity_idempotent_unregister(server):
    a = pubutil.account(server.data, 3)
    p = [os.urandom(16) for _ in range(5)]
    for i in range(3):
        st, v = register(server.port, a, p[i])
        assert st == 200 and v["status"] == "valid", v
        assert v["seats"] == {"used": i + 1, "max": 3}
    st, v = register(server.port, a, p[3])
    assert v["status"] == "capacity_exhausted" and v["seats"] == {"used": 3, "max": 3}, v
    # the same project again takes no second slot
    for _ in range(2):
        st, v = register(server.port, a, p[0])
        assert v["status"] == "valid" and v["seats"]["used"] == 3, v
    # verify: registered projects valid, others not_registered
    assert verify(server.port, a, p[1])[1]["status"] == "valid"
    assert verify(server.port, a, p[3])[1]["status"] == "not_registered"
    # unregister frees a slot for another project (and says not_registered)
    st, v = unregister(server.port, a, p[1])
    assert v["status"] == "not_registered" and v["seats"]["used"] == 2, v
    assert verify(server.port, a, p[1])[1]["status"] == "not_registered"
    st, v = unregister(server.port, a, p[1])  # held none: same answer
    assert v["status"] == "not_registered" and v["seats"]["used"] == 2, v
    assert register(server.port, a, p[3])[1]["status"] == "valid"
    assert register(server.port, a, p[4])[1]["status"] == "capacity_exhausted"
    # the account's terms travel in the verdict
    v = verify(server.port, a, p[3])[1]
    assert v["features"] == [] and v["heartbeat"] == 7200 and v["seats"] == {"used": 3, "max": 3}


def test_json_requests(server):
    a = pubutil.account(server.data, 2)
    pid = os.urandom(16)
    q = pubutil.fields(a, pid)
    st, v = pubutil.exchange(server.port, "/v1/register", q, kind="json")
    assert st == 200 and v["status"] == "valid", v
    st, v = pubutil.exchange(server.port, "/v1/verify", pubutil.fields(a, pid, kind="verify"),
                             kind="json")
    assert v["status"] == "valid"


def test_terms_checked_before_a_slot(server):
    a = pubutil.account(server.data, 1, "--domain", "*.example.com", "--port", "443",
                        "--major", "11", "--app", "sales")
    pid = os.urandom(16)
    assert register(server.port, a, pid, domain="evil.example.org", app="sales",
                    version="11.0.1")[1]["status"] == "domain_denied"
    assert register(server.port, a, pid, app="sales", version="12.0")[1]["status"] == \
        "version_denied"
    assert register(server.port, a, pid, port=8443, app="sales",
                    version="11.0")[1]["status"] == "port_denied"
    assert register(server.port, a, pid, version="11.0")[1]["status"] == "app_denied"
    st, v = register(server.port, a, pid, app="sales", version="11.0.1")
    assert v["status"] == "valid" and v["seats"]["used"] == 1, v
    assert verify(server.port, a, pid, app="sales", version="11.2")[1]["status"] == "valid"
    assert verify(server.port, a, pid, app="sales", domain="a.b.example.com",
                  version="11.2")[1]["status"] == "domain_denied"


def test_concurrent_registrations_never_overshoot(server):
    a = pubutil.account(server.data, 5)
    projects = [os.urandom(16) for _ in range(20)]
    barrier = threading.Barrier(20, timeout=30)

    def one(pid):
        barrier.wait()
        return pid, register(server.port, a, pid)

    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        results = list(ex.map(one, projects, timeout=60))
    valid = [pid for pid, (st, v) in results if v["status"] == "valid"]
    full = [pid for pid, (st, v) in results if v["status"] == "capacity_exhausted"]
    assert len(valid) == 5 and len(full) == 15, [v["status"] for _, (_, v) in results]
    # every client was told the truth: exactly the valid ones hold a slot
    for pid in projects:
        want = "valid" if pid in valid else "not_registered"
        assert verify(server.port, a, pid)[1]["status"] == want
    tok = admin_token(server)
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/registrations", tok,
                             {"id": a.id})
    assert st == 200 and len(doc["registrations"]) == 5, doc
    assert {uuid.UUID(r["project_id"]).bytes for r in doc["registrations"]} == set(valid)


def test_bad_token_and_unknown_account_indistinguishable(server):
    a = pubutil.account(server.data, 2)
    pid = os.urandom(16)
    assert register(server.port, a, pid)[1]["status"] == "valid"
    ghost = pubutil.Account(str(uuid.uuid4()), lf.new_token(), None)
    answers = []
    for acct, tok in ((a, lf.new_token()), (ghost, ghost.token), (a, "lsk_short"),
                      (a, a.token[:-1] + ("A" if a.token[-1] != "A" else "B"))):
        for path in ("/v1/verify", "/v1/register"):
            kind = "verify" if path == "/v1/verify" else "register"
            st, v = pubutil.exchange(server.port, path,
                                     pubutil.fields(acct, pid, token=tok, kind=kind))
            assert st == 200 and v["status"] == "bad_credentials", v
            answers.append({k: v[k] for k in v if k not in ("nonce", "time", "account", "_cert")})
        st, v = unregister(server.port, acct, pid, token=tok)
        assert v["status"] == "bad_credentials"
    # nothing in the answer tells an existing account from a missing one
    assert all(x == answers[0] for x in answers), answers
    assert answers[0]["seats"] == {"used": 0, "max": 0} and answers[0]["features"] == []
    # and the wrong-token requests did not touch the registration
    assert verify(server.port, a, pid)[1]["status"] == "valid"


def test_revoke_and_delete_take_effect_next_request(server):
    tok = admin_token(server)
    a, b = pubutil.account(server.data, 2), pubutil.account(server.data, 2)
    pa, pb = os.urandom(16), os.urandom(16)
    assert register(server.port, a, pa)[1]["status"] == "valid"
    assert register(server.port, b, pb)[1]["status"] == "valid"
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/revoke", tok, {"id": a.id})
    assert st == 200 and doc["revoked"], doc
    assert verify(server.port, a, pa)[1]["status"] == "revoked"
    assert register(server.port, a, os.urandom(16))[1]["status"] == "revoked"
    # a re-import does not lift the revocation
    pubutil.licsrv("import", "--data", server.data, "--trust", pubutil.ROOT_PUB, a.path)
    assert verify(server.port, a, pa)[1]["status"] == "revoked"
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/delete", tok, {"id": b.id})
    assert st == 200 and doc["deleted"] and doc["registrations_released"] == 1, doc
    assert verify(server.port, b, pb)[1]["status"] == "bad_credentials"
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/registrations", tok,
                             {"id": b.id})
    assert doc["registrations"] == []
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/delete", tok, {"id": b.id})
    assert st == 404
    st, doc = srvchain.admin(server, "GET", "/v1/admin/audit", tok)
    actions = [(e["action"], e["subject"]) for e in doc["audit"]]
    assert ("revoke", "account:" + a.id) in actions and ("delete", "account:" + b.id) in actions


def test_admin_nodes_from_the_store(server):
    """Public mode has no seat table: GET /v1/admin/nodes lists the store's
    nodes (an account's report servers with their last valid check and last
    failure), a page at a time, so the status page shows them."""
    tok = admin_token(server)
    a = pubutil.account(server.data, 2)
    pid = os.urandom(16)
    assert register(server.port, a, pid)[1]["status"] == "valid"
    for n in ("rs-1", "rs-2", "rs-3"):
        assert verify(server.port, a, pid, node=n)[1]["status"] == "valid"
    assert verify(server.port, a, os.urandom(16), node="rs-x")[1]["status"] == "not_registered"
    deadline = time.monotonic() + 5
    while True:  # node checks reach the store in batches (every 2 s)
        st, doc = srvchain.admin(server, "GET", "/v1/admin/nodes", tok)
        if st == 200 and len(doc["nodes"]) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert st == 200 and doc["next"] is None, doc
    rows = {n["node"]: n for n in doc["nodes"]}
    assert set(rows) == {"rs-1", "rs-2", "rs-3", "rs-x"} and all(n["license"] == a.id for n in doc["nodes"])
    assert rows["rs-1"]["last_valid"] > 0 and "last_failure" not in rows["rs-1"]
    assert rows["rs-x"]["last_valid"] == 0
    assert rows["rs-x"]["last_failure"]["status"] == "not_registered", rows["rs-x"]
    seen, after = [], None
    while True:
        q = "/v1/admin/nodes?limit=3" + ("&after=" + after if after else "")
        st, doc = srvchain.admin(server, "GET", q, tok)
        assert st == 200 and len(doc["nodes"]) <= 3, doc
        seen += [n["node"] for n in doc["nodes"]]
        after = doc["next"]
        if after is None:
            break
    assert sorted(seen) == ["rs-1", "rs-2", "rs-3", "rs-x"], seen


def test_admin_accounts_and_certificates(server):
    tok = admin_token(server)
    # the admin API trusts the built-in roots plus DATA/trusted/*.pem
    os.makedirs(os.path.join(server.data, "trusted"), exist_ok=True)
    with open(pubutil.ROOT_PUB, "rb") as f, \
            open(os.path.join(server.data, "trusted", "test-root.pem"), "wb") as g:
        g.write(f.read())
    a = pubutil.account(server.data, 4, import_it=False)
    with open(a.path, "rb") as f:
        body = f.read()
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts", tok, body, "text/plain")
    assert st == 200 and doc == {"id": a.id, "imported": True, "renewed": False,
                                 "token_changed": False, "capacity": 4}, doc
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts", None, body, "text/plain")
    assert st == 401
    st, doc = srvchain.admin(server, "GET", "/v1/admin/accounts", tok)
    row = [r for r in doc["accounts"] if r["id"] == a.id][0]
    assert row["capacity"] == 4 and row["registrations"] == 0 and not row["revoked"]
    assert row["expires"] == 0 and row["expires_at"] is None and row["imported_at"].endswith("Z")
    pid = os.urandom(16)
    assert register(server.port, a, pid)[1]["status"] == "valid"
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/show", tok, {"id": a.id})
    assert st == 200 and doc["registrations"] == 1 and doc["terms"]["capacity"] == 4
    assert "token_hash" not in doc["terms"] and a.token not in json.dumps(doc)
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/release", tok,
                             {"id": a.id, "project_id": str(uuid.UUID(bytes=pid))})
    assert st == 200 and doc["released"], doc
    assert verify(server.port, a, pid)[1]["status"] == "not_registered"
    st, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/release", tok,
                             {"id": a.id, "project_id": str(uuid.UUID(bytes=pid))})
    assert st == 404
    st, doc = srvchain.admin(server, "GET", "/v1/admin/certificates", tok)
    assert st == 200 and len(doc["certificates"]) == 1 and doc["certificates"][0]["usable_now"]
    online = lf.kid_of(lf.raw_public(lf.load_public_pem(os.path.join(server.data,
                                                                      "online.pub.pem")))).hex()
    assert doc["signing_kid"] == online == doc["certificates"][0]["pubkey_kid"]
    # a certificate for someone else's key is refused
    other = os.path.join(str(server.data) + "-provision", "other.pem")
    pubutil.licgen("keygen", "-o", other)
    with open(pubutil.certify(server.data, pub=other[:-4] + ".pub.pem", name="o.cert"), "rb") as f:
        st, doc = srvchain.admin(server, "POST", "/v1/admin/certificates", tok, f.read(),
                                 "text/plain")
    assert st == 422 and doc["error"] == "wrong_certificate", doc


def test_rekey_switches_key_without_a_gap(server):
    a = pubutil.account(server.data, 2)
    pid = os.urandom(16)
    assert register(server.port, a, pid)[1]["status"] == "valid"
    old = lf.raw_public(lf.load_public_pem(os.path.join(server.data, "online.pub.pem")))
    seen, errors, stop = [], [], threading.Event()

    def hammer():
        while not stop.is_set():
            try:
                st, v = verify(server.port, a, pid)  # checks root -> cert -> verdict
                assert st == 200 and v["status"] == "valid", v
                seen.append(v["_cert"]["pubkey"])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(repr(e))
            time.sleep(0.01)

    t = threading.Thread(target=hammer)
    t.start()
    try:
        out = json.loads(pubutil.licsrv("rekey", "--data", server.data, "--json").stdout)
        nxt = lf.raw_public(lf.load_public_pem(out["pubkey"]))
        assert out["kid"] == lf.kid_of(nxt).hex()
        time.sleep(1.5)  # still the old key: the new one has no certificate yet
        assert set(seen) == {old}
        # a second rekey while one is pending is refused
        p = subprocess.run([srvutil.licsrv_bin(), "rekey", "--data", server.data],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 1 and "pending" in p.stderr
        cert = pubutil.certify(server.data, pub=out["pubkey"], name="next.cert")
        pubutil.licsrv("import", "--data", server.data, "--trust", pubutil.ROOT_PUB, cert)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not seen or seen[-1] != nxt):
            time.sleep(0.1)
        time.sleep(0.3)
    finally:
        stop.set()
        t.join(timeout=30)
    assert errors == [], errors[:3]
    assert seen[-1] == nxt and old in seen
    i = seen.index(nxt)
    assert set(seen[i:]) == {nxt}, "the old key signed again after the switch"
    # the files moved: the new key is online.pem, the old one online.prev.pem
    cur = lf.raw_public(lf.load_public_pem(os.path.join(server.data, "online.pub.pem")))
    prev = lf.raw_public(lf.load_public_pem(os.path.join(server.data, "online.prev.pub.pem")))
    assert cur == nxt and prev == old
    assert not os.path.exists(os.path.join(server.data, "online.next.pem"))


def test_rekey_survives_a_restart(tmp_path):
    s = pubutil.Server(tmp_path / "data").start()
    try:
        a = pubutil.account(s.data, 1)
        pid = os.urandom(16)
        assert register(s.port, a, pid)[1]["status"] == "valid"
        out = json.loads(pubutil.licsrv("rekey", "--data", s.data, "--json").stdout)
        s.finish()
        s = pubutil.Server(tmp_path / "data").start()
        assert verify(s.port, a, pid)[1]["_cert"]["pubkey"] != \
            lf.raw_public(lf.load_public_pem(out["pubkey"]))
        pubutil.licsrv("import", "--data", s.data, "--trust", pubutil.ROOT_PUB,
                       pubutil.certify(s.data, pub=out["pubkey"], name="n.cert"))
        deadline = time.monotonic() + 10
        while True:
            v = verify(s.port, a, pid)[1]
            if v["_cert"]["pubkey"] == lf.raw_public(lf.load_public_pem(
                    os.path.join(s.data, "online.pub.pem"))):
                break
            assert time.monotonic() < deadline, ("the new key never signed", s.log()[-3000:])
            time.sleep(0.2)
    finally:
        s.finish()


def test_registration_survives_kill9(tmp_path):
    s = pubutil.Server(tmp_path / "data").start()
    a = pubutil.account(s.data, 3)
    pids = [os.urandom(16) for _ in range(3)]
    for pid in pids:
        assert register(s.port, a, pid)[1]["status"] == "valid"
    assert unregister(s.port, a, pids[2])[1]["status"] == "not_registered"
    s.kill9()  # right after the answers
    s = pubutil.Server(tmp_path / "data").start()
    try:
        assert verify(s.port, a, pids[0])[1]["status"] == "valid"
        assert verify(s.port, a, pids[1])[1]["status"] == "valid"
        assert verify(s.port, a, pids[2])[1]["status"] == "not_registered"
        assert register(s.port, a, os.urandom(16))[1]["seats"]["used"] == 3
    finally:
        s.finish()


def age_registration(data, acct, pid, seconds):
    """Move a stopped server's registration back (docs/storage.md: u8 version,
    i64 created, str project, str domain, i64 last_valid)."""
    def edit(v):
        for off in (1, len(v) - 8):
            t = int.from_bytes(v[off:off + 8], "big", signed=True)
            v[off:off + 8] = (t - seconds).to_bytes(8, "big", signed=True)
        return v
    from test_srv_verify import edit_record
    edit_record(data, "registrations", acct.raw + pid, edit)


def test_ttl_release_is_audited(tmp_path):
    data = tmp_path / "data"
    s = pubutil.Server(data, extra=["--registration-ttl-days", "2"]).start()
    a = pubutil.account(s.data, 2)
    old, fresh = os.urandom(16), os.urandom(16)
    assert register(s.port, a, old)[1]["status"] == "valid"
    assert register(s.port, a, fresh)[1]["status"] == "valid"
    s.finish()
    age_registration(s.data, a, old, 3 * 86400)
    age_registration(s.data, a, fresh, 1 * 86400)
    s = pubutil.Server(data, extra=["--registration-ttl-days", "2"]).start()
    try:
        assert s.wait_log("registrations_released"), s.log()
        assert verify(s.port, a, old)[1]["status"] == "not_registered"
        assert verify(s.port, a, fresh)[1]["status"] == "valid"
        tok = admin_token(s)
        st, doc = srvchain.admin(s, "GET", "/v1/admin/audit", tok)
        exp = [e for e in doc["audit"] if e["action"] == "registration.expire"]
        assert len(exp) == 1, doc
        assert exp[0]["subject"].startswith("account:%s project:%s" % (a.id,
                                                                        uuid.UUID(bytes=old)))
    finally:
        s.finish()


def test_export_and_forget_account(server):
    a, other = pubutil.account(server.data, 2), pubutil.account(server.data, 2)
    pid = os.urandom(16)
    assert register(server.port, a, pid, node="rs-exp")[1]["status"] == "valid"
    assert verify(server.port, a, pid, node="rs-exp")[1]["status"] == "valid"
    assert register(server.port, other, os.urandom(16))[1]["status"] == "valid"
    server.finish()  # the batched node records are flushed at the drain
    nodes = json.loads(pubutil.licsrv("nodes", "--account", a.id, "--data", server.data,
                                      "--json").stdout)["nodes"]
    assert [(n["account"], n["node"], n["seat"]) for n in nodes] == [(a.id, "rs-exp", False)]
    assert nodes[0]["last_valid"] > 0
    out = json.loads(pubutil.licsrv("export", "--account", a.id, "--data", server.data).stdout)
    assert out["account"]["id"] == a.id
    assert [r["project_id"] for r in out["registrations"]] == [str(uuid.UUID(bytes=pid))]
    assert [n["node"] for n in out["nodes"]] == ["rs-exp"]
    assert any(e["action"] == "registration.add" for e in out["audit"])
    assert a.token not in json.dumps(out)
    out = json.loads(pubutil.licsrv("forget", "--account", a.id, "--data", server.data,
                                    "--json", "--yes").stdout)
    assert out["accounts"] == 1 and out["registrations"] == 1 and out["nodes"] == 1, out
    p = subprocess.run([srvutil.licsrv_bin(), "export", "--account", a.id, "--data",
                        server.data], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "nothing is stored" in p.stderr
    # nothing anywhere in the store names it any more; the other account stays
    dump = subprocess.run(["mdb_dump", "-a", os.path.join(server.data, "store")],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert a.raw.hex() not in dump and a.id not in dump
    assert other.raw.hex() in dump


def test_tokens_never_logged_or_stored(server):
    a = pubutil.account(server.data, 1)
    pid = os.urandom(16)
    register(server.port, a, pid)
    verify(server.port, a, pid)
    verify(server.port, a, pid, token=lf.new_token())
    server.finish()
    assert a.token not in server.log() and a.token[4:] not in server.log()
    dump = subprocess.run(["mdb_dump", "-a", "-p", os.path.join(server.data, "store")],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert a.token not in dump and a.token.encode().hex() not in dump


def test_machine_fields_are_not_stored(server):
    a = pubutil.account(server.data, 1)
    pid = os.urandom(16)
    q = pubutil.fields(a, pid)
    q.update(machine="7D2K-9QWX-M3RT-HB5P", macs=[os.urandom(16)], hostname="secret-host-name")
    st, v = pubutil.exchange(server.port, "/v1/register", q)
    assert v["status"] == "valid"
    server.finish()
    dump = subprocess.run(["mdb_dump", "-a", "-p", os.path.join(server.data, "store")],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert "7D2K" not in dump and "secret-host-name" not in dump
    assert q["macs"][0].hex() not in dump


def test_plain_http_refused_beyond_loopback(tmp_path):
    data = tmp_path / "data"
    pubutil.provision(data)
    port = srvutil.free_port()
    p = subprocess.run([srvutil.licsrv_bin(), "serve", "--data", data, "--listen",
                        "0.0.0.0:%d" % port, "--admin-listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "behind_tls_proxy" in p.stderr, p
    assert len(p.stderr.strip().splitlines()) == 1
    # a proxy terminating TLS in front: allowed
    s = srvchain.Server(str(data), provisioned=False,
                        extra=["--behind-tls-proxy"])
    s.args[s.args.index("--listen") + 1] = "0.0.0.0:%d" % s.port
    s.start()
    try:
        a = pubutil.account(s.data, 1)
        assert register(s.port, a, os.urandom(16))[1]["status"] == "valid"
    finally:
        s.finish()


def test_no_certificate_means_503(tmp_path):
    data = tmp_path / "data"
    pubutil.licsrv("init", "--mode", "public", "--data", data)
    s = srvchain.Server(str(data), provisioned=False).start(healthy=False)
    try:
        st, body, _ = s.get("/healthz")
        assert st == 503 and b"certif" in body, body
        a = pubutil.account(s.data, 1)
        st, out = pubutil.exchange(s.port, "/v1/register", pubutil.fields(a, os.urandom(16)))
        assert st == 503 and b"no_certificate" in out, out
        pubutil.licsrv("import", "--data", data, "--trust", pubutil.ROOT_PUB,
                       pubutil.certify(data))
        deadline = time.monotonic() + 5
        while s.get("/healthz")[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert register(s.port, a, os.urandom(16))[1]["status"] == "valid"
    finally:
        s.finish()


def test_python_sealed_account_and_cert_imported(tmp_path):
    """An account and a cert sealed by Python alone are accepted by licsrv import
    and work; the chain answers are checked by Python alone too."""
    data = tmp_path / "data"
    pubutil.licsrv("init", "--mode", "public", "--data", data)
    root = lf.load_private_pem(os.path.join(srvutil.SOURCE_DIR, "keys/test/test-root.pem"))
    online = lf.raw_public(lf.load_public_pem(os.path.join(data, "online.pub.pem")))
    cert = tmp_path / "py.cert"
    cert.write_bytes(lf.armor_encode("cert", lf.envelope_seal("cert", lf.cert_body(online), root)))
    tok = lf.new_token()
    acct = tmp_path / "py.acct"
    body = lf.account_body(tok, capacity=1)
    acct.write_bytes(lf.envelope_seal("account", body, root))  # raw MessagePack
    for f in (cert, acct):
        pubutil.licsrv("import", "--data", data, "--trust", pubutil.ROOT_PUB, f)
    # a Python cert with the wrong role or too long a window is refused
    for i, b in enumerate([lf.cert_body(online, role="license"), lf.cert_body(online, days=900)]):
        f = tmp_path / ("bad%d.cert" % i)
        f.write_bytes(lf.envelope_seal("cert", b, root))
        p = subprocess.run([srvutil.licsrv_bin(), "import", "--data", data, "--trust",
                            pubutil.ROOT_PUB, f], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1, p
    s = srvchain.Server(str(data), provisioned=False).start()
    try:
        a = pubutil.Account(str(uuid.UUID(bytes=body["id"])), tok, str(acct))
        pid = os.urandom(16)
        assert register(s.port, a, pid)[1]["status"] == "valid"
        assert register(s.port, a, os.urandom(16))[1]["status"] == "capacity_exhausted"
        assert verify(s.port, a, pid)[1]["status"] == "valid"
    finally:
        s.finish()


def test_bad_requests_are_400(server):
    a = pubutil.account(server.data, 1)
    q = pubutil.fields(a, os.urandom(16))
    for drop in ("account", "token", "project_id", "project", "domain", "node", "nonce"):
        qq = dict(q)
        del qq[drop]
        st, out = pubutil.exchange(server.port, "/v1/register", qq)
        assert st == 400 and drop.encode() in out, (drop, out)
    q2 = pubutil.fields(a, os.urandom(16), kind="verify")
    del q2["project_id"]
    st, out = pubutil.exchange(server.port, "/v1/verify", q2)
    assert st == 400
    q3 = pubutil.fields(a, os.urandom(16), kind="verify")
    del q3["account"], q3["token"], q3["project_id"]
    st, out = pubutil.exchange(server.port, "/v1/verify", q3)
    assert st == 400 and b"public-mode" in out


def licctl(*args, state):
    return subprocess.run([srvutil.tool("licctl")] + [str(a) for a in args] + ["--state", state],
                          capture_output=True, text=True, timeout=60)


def test_licctl_register_verify_unregister(server, tmp_path):
    a = pubutil.account(server.data, 1)
    tok = tmp_path / "token"
    fd = os.open(tok, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (a.token + "\n").encode())
    os.close(fd)
    url = "http://127.0.0.1:%d" % server.port
    st1, st2 = tmp_path / "state1", tmp_path / "state2"
    common = ["--account", a.id, "--token-file", tok, "--trust", pubutil.ROOT_PUB]
    where = ["--domain", "reports.example.com", "--port", "443", "--node", "rs-1"]
    p = licctl("register", url, *common, "--project", "Reports", *where, "--json", state=st1)
    assert p.returncode == 0, p
    d = json.loads(p.stdout)
    assert d["status"] == "valid" and d["registrations"] == {"used": 1, "max": 1}
    pid = (st1 / "project_id").read_text().strip()
    assert d["project_id"] == pid
    # the state directory keeps the project id: again, no second slot
    p = licctl("register", url, *common, "--project", "Reports", *where, state=st1)
    assert p.returncode == 0 and "1 of 1" in p.stdout, p
    # another install (state dir) finds the account full
    p = licctl("register", url, *common, "--project", "Other", *where, state=st2)
    assert p.returncode == 1 and "capacity_exhausted" in p.stdout, p
    p = licctl("verify", url, *common, *where, "--json", state=st1)
    assert p.returncode == 0 and json.loads(p.stdout)["status"] == "valid", p
    assert json.loads(p.stdout)["account"] == a.id
    p = licctl("verify", url, *common, *where, state=st2)
    assert p.returncode == 1 and "not_registered" in p.stdout, p
    p = licctl("unregister", url, *common, state=st1)
    assert p.returncode == 0 and "holds no slot" in p.stdout, p
    p = licctl("register", url, *common, "--project", "Other", *where, state=st2)
    assert p.returncode == 0, p
    # the token is never printed, and never taken from a readable file
    for out in (p.stdout, p.stderr):
        assert a.token not in out and a.token[4:] not in out
    os.chmod(tok, 0o644)
    p = licctl("verify", url, *common, *where, state=st2)
    assert p.returncode == 1 and "0600" in p.stderr and a.token not in p.stderr, p
    os.chmod(tok, 0o600)
    # nor sent over plain HTTP to a non-loopback host (refused before connecting)
    p = licctl("verify", "http://192.0.2.1:7470", *common, *where, "--timeout", "2000",
               state=st2)
    assert p.returncode == 2 and "plain HTTP" in p.stderr, p
    # one rule: register and unregister refuse it the same way (register said 1)
    p = licctl("register", "http://192.0.2.1:7470", *common, "--project", "P", *where,
               "--timeout", "2000", state=st2)
    assert p.returncode == 2 and "plain HTTP" in p.stderr, p
    p = licctl("unregister", "http://192.0.2.1:7470", *common, "--timeout", "2000", state=st2)
    assert p.returncode == 2 and "plain HTTP" in p.stderr, p
    p = licctl("verify", url, "--account", a.id, *where, state=st2)
    assert p.returncode == 2 and "--token-file" in p.stderr
    assert a.token not in server.log()


def test_status_backup_and_purge_in_public_mode(tmp_path):
    data = tmp_path / "data"
    s = pubutil.Server(data).start()
    a = pubutil.account(s.data, 3)
    pids = [os.urandom(16) for _ in range(2)]
    for pid in pids:
        assert register(s.port, a, pid)[1]["status"] == "valid"
    st = json.loads(pubutil.licsrv("status", "--data", data, "--json").stdout)
    online = lf.kid_of(lf.raw_public(lf.load_public_pem(os.path.join(data, "online.pub.pem"))))
    assert st["mode"] == "public" and st["signing_kid"] == online.hex()
    assert st["accounts"] == 1 and st["registrations"] == 2 and not st["pending_key"]
    assert st["cert_expires"] > time.time() + 80 * 86400 and st["cert_expires_at"].endswith("Z")
    pubutil.licsrv("rekey", "--data", data)
    assert json.loads(pubutil.licsrv("status", "--data", data, "--json").stdout)["pending_key"]
    out = pubutil.licsrv("status", "--data", data).stdout
    assert "signing key: %s" % online.hex() in out and "registrations: 2" in out
    # a hot backup holds the online keys (current and pending)
    dest = tmp_path / "backup"
    pubutil.licsrv("backup", "--data", data, dest)
    for f, mode in (("online.pem", 0o600), ("online.pub.pem", 0o644), ("online.next.pem", 0o600)):
        assert (dest / f).read_bytes() == (data / f).read_bytes()
        assert os.stat(dest / f).st_mode & 0o777 == mode
    s.finish()
    # licsrv purge releases idle registrations on demand, audited
    age_registration(data, a, pids[0], 10 * 86400)
    out = json.loads(pubutil.licsrv("purge", "--data", data, "--registration-ttl-days", "5",
                                    "--json").stdout)
    assert out["registrations"] == 1, out
    ex = json.loads(pubutil.licsrv("export", "--account", a.id, "--data", data).stdout)
    assert [r["project_id"] for r in ex["registrations"]] == [str(uuid.UUID(bytes=pids[1]))]
    assert any(e["action"] == "registration.expire" for e in ex["audit"])


def test_cli_accounts_while_serving(server):
    a, b = pubutil.account(server.data, 2), pubutil.account(server.data, 1)
    pid, pid2 = os.urandom(16), os.urandom(16)
    assert register(server.port, a, pid)[1]["status"] == "valid"
    assert register(server.port, a, pid2)[1]["status"] == "valid"
    d = server.data
    rows = json.loads(pubutil.licsrv("accounts", "--data", d, "--json").stdout)["accounts"]
    assert {r["id"]: r["registrations"] for r in rows} == {a.id: 2, b.id: 0}
    out = pubutil.licsrv("accounts", "--data", d).stdout
    head, *body = out.splitlines()
    assert re.fullmatch(r"ACCOUNT +CUSTOMER +PROJECTS +EXPIRES +STATE", head), out
    assert re.search(re.escape(a.id) + r" .* 2/2 .* active$", out, re.M), out
    show = json.loads(pubutil.licsrv("accounts", "show", a.id, "--data", d, "--json").stdout)
    assert show["capacity"] == 2 and show["terms"]["heartbeat"] == 7200
    regs = json.loads(pubutil.licsrv("accounts", "registrations", a.id, "--data", d,
                                     "--json").stdout)["registrations"]
    assert sorted(r["project_id"] for r in regs) == sorted(str(uuid.UUID(bytes=p)) for p in
                                                           (pid, pid2))
    # times for people too: each Unix time has its RFC 3339 twin (SPEC §5: dates in UTC)
    for r in regs:
        for k in ("created", "last_valid"):
            assert r[k + "_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r[k])), r
    out = pubutil.licsrv("accounts", "registrations", a.id, "--data", d).stdout
    assert re.search(r"^created_at +" + re.escape(regs[0]["created_at"]) + "$", out, re.M), out
    pubutil.licsrv("accounts", "release", a.id, str(uuid.UUID(bytes=pid)), "--data", d)
    assert verify(server.port, a, pid)[1]["status"] == "not_registered"  # seen at once
    p = subprocess.run([srvutil.licsrv_bin(), "accounts", "release", a.id,
                        str(uuid.UUID(bytes=pid)), "--data", d], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 1 and "holds no slot" in p.stderr
    pubutil.licsrv("accounts", "revoke", a.id, "--data", d)
    assert verify(server.port, a, pid2)[1]["status"] == "revoked"
    out = json.loads(pubutil.licsrv("accounts", "delete", a.id, "--data", d, "--json").stdout)
    assert out["deleted"] and out["registrations_released"] == 1
    assert verify(server.port, a, pid2)[1]["status"] == "bad_credentials"
    certs = json.loads(pubutil.licsrv("accounts", "certificates", "--data", d,
                                      "--json").stdout)["certificates"]
    assert len(certs) == 1 and certs[0]["usable_now"] and certs[0]["role"] == "verdict"
    for k in ("not_before", "expires"):
        assert certs[0][k + "_at"] == time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                    time.gmtime(certs[0][k])), certs[0]
    out = pubutil.licsrv("accounts", "certificates", "--data", d).stdout
    assert re.search(r"^expires_at +" + re.escape(certs[0]["expires_at"]) + "$", out, re.M), out
    p = subprocess.run([srvutil.licsrv_bin(), "accounts", "frobnicate", "--data", d],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    # the SPEC §5 spellings: revoke --account, release --project --account
    c = pubutil.account(server.data, 2)
    pc = os.urandom(16)
    assert register(server.port, c, pc)[1]["status"] == "valid"
    pubutil.licsrv("release", "--project", str(uuid.UUID(bytes=pc)), "--account", c.id,
                   "--data", d)
    assert verify(server.port, c, pc)[1]["status"] == "not_registered"
    pubutil.licsrv("revoke", "--account", c.id, "--data", d)
    assert verify(server.port, c, pc)[1]["status"] == "revoked"
    tok = admin_token(server)
    st, doc = srvchain.admin(server, "GET", "/v1/admin/audit", tok)
    acts = {(e["token"].split(":")[0], e["action"]) for e in doc["audit"]}
    assert {("cli", "revoke"), ("cli", "delete"), ("cli", "registration.release")} <= acts


def test_public_mode_over_tls(tmp_path):
    """tls_cert satisfies the public-mode listener rule on a non-loopback
    address; licctl sends the token over https:// checked with --cacert."""
    import tlsutil
    data = tmp_path / "data"
    pubutil.provision(data)
    ca = tlsutil.make_ca(tmp_path)
    leaf = tlsutil.make_cert(tmp_path, "server", ca=ca)
    s = srvchain.Server(str(data), provisioned=False,
                        extra=["--tls-cert", leaf.cert_path, "--tls-key", leaf.key_path])
    s.args[s.args.index("--listen") + 1] = "0.0.0.0:%d" % s.port
    s.proc = subprocess.Popen(s.args, stdout=subprocess.DEVNULL, stderr=s.logfile, env=s.env)
    try:
        deadline = time.monotonic() + 20
        while not s.wait_log("listening", 0.1):
            assert s.proc.poll() is None and time.monotonic() < deadline, s.log()
        a = pubutil.account(s.data, 1)
        tok = tmp_path / "token"
        fd = os.open(tok, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, (a.token + "\n").encode())
        os.close(fd)
        url = "https://localhost:%d" % s.port
        common = ["--account", a.id, "--token-file", tok, "--trust", pubutil.ROOT_PUB,
                  "--cacert", ca.cert_path]
        where = ["--domain", "reports.example.com", "--port", "443", "--node", "rs-1"]
        p = licctl("register", url, *common, "--project", "Reports", *where, "--json",
                   state=tmp_path / "st")
        assert p.returncode == 0 and json.loads(p.stdout)["status"] == "valid", (p, s.log())
        p = licctl("verify", url, *common, *where, state=tmp_path / "st")
        assert p.returncode == 0 and "valid" in p.stdout, p
        # a server the CA does not vouch for gets no token
        other = tlsutil.make_ca(tmp_path, "other")
        p = licctl("verify", url, *common[:-1], other.cert_path, *where, state=tmp_path / "st")
        assert p.returncode == 1, p
    finally:
        s.finish()


def test_agent_with_an_account(server, tmp_path):
    """licctl agent in public mode: licensed on the account's verdicts, the
    token read from its 0600 file and never logged; a revoke through the
    admin API makes it unlicensed at its next check (heartbeat 2 s)."""
    from test_agent import Agent
    a = pubutil.account(server.data, 1, "--heartbeat", "2", "--grace", "6")
    tok = tmp_path / "token"
    fd = os.open(tok, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (a.token + "\n").encode())
    os.close(fd)
    url = "http://127.0.0.1:%d" % server.port
    st = tmp_path / "state"
    common = ["--account", a.id, "--token-file", tok]
    p = licctl("register", url, *common, "--trust", pubutil.ROOT_PUB, "--project", "Reports",
               "--domain", "localhost", "--port", "8443", "--node", "rs-agent", state=st)
    assert p.returncode == 0, p
    ag = Agent(st, [url], pubutil.ROOT_PUB, extra=common)
    ag.start()
    try:
        s = ag.wait_state("licensed", 10)
        assert s["reason"] == "valid" and s["heartbeat"] == 2 and s["grace"] == 6, s
        assert s["features"] == [] and s["server"] == url, s
        # --license and --account exclude each other; a token file others can read is refused
        p = licctl("agent", url, *common, "--license", a.id, "--domain", "localhost", "--port",
                   "8443", "--node", "x", state=tmp_path / "st2")
        assert p.returncode == 2 and "--license or --account" in p.stderr, p
        tok = admin_token(server)
        code, doc = srvchain.admin(server, "POST", "/v1/admin/accounts/revoke", tok, {"id": a.id})
        assert code == 200 and doc["revoked"], doc
        s = ag.wait_state("unlicensed", 8)
        assert s["reason"] == "revoked", s
    finally:
        assert ag.stop() == 0
    assert a.token not in ag.log() and a.token[4:] not in ag.log()


def post_raw(port, path, q):
    """POST q as MessagePack; (status, headers, body) without checking."""
    import http.client
    body, ctype = srvchain.encode(q, "msgpack")
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("POST", path, body=body, headers={"Content-Type": ctype,
                                                     "Accept": "application/json"})
        r = c.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        c.close()


def test_requests_per_account_are_bounded(tmp_path):
    """Issue 23 item 1: one token holder cannot take the server from the
    others: past account_requests_per_minute its register, unregister and
    verify get 429 with Retry-After; another account, and a wrong token
    (which cannot spend the account's budget), are not affected."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=["--account-requests-per-minute", "5"]).start()
    try:
        a, b = pubutil.account(s.data, 3), pubutil.account(s.data, 3)
        pid = os.urandom(16)
        assert register(s.port, a, pid)[1]["status"] == "valid"
        for _ in range(4):
            assert verify(s.port, a, pid)[1]["status"] == "valid"
        for path, kind in (("/v1/verify", "verify"), ("/v1/register", "register"),
                           ("/v1/unregister", "unregister")):
            st, hdr, body = post_raw(s.port, path, pubutil.fields(a, pid, kind=kind))
            assert st == 429, (path, st, body)
            assert 1 <= int(hdr["Retry-After"]) <= 12, hdr  # 5 a minute: one every 12 s
            doc = json.loads(body)
            assert doc["error"] == "rate_limited" and "account_requests_per_minute" in doc["message"]
        # Wrong tokens for a: the signed bad_credentials as ever, never 429.
        for _ in range(8):
            st, v = verify(s.port, a, pid, token=lf.new_token())
            assert st == 200 and v["status"] == "bad_credentials", v
        # Another account is not touched.
        pb = os.urandom(16)
        assert register(s.port, b, pb)[1]["status"] == "valid"
        assert verify(s.port, b, pb)[1]["status"] == "valid"
        # a's registration stayed: the refused unregister freed nothing.
        st, doc = srvchain.admin(s, "POST", "/v1/admin/accounts/registrations", admin_token(s),
                                 {"id": a.id})
        assert st == 200 and len(doc["registrations"]) == 1, doc
    finally:
        s.finish()


def store_nodes(data, acct):
    p = pubutil.licsrv("nodes", "--data", data, "--account", acct.id, "--json")
    return sorted(n["node"] for n in json.loads(p.stdout)["nodes"])


def test_node_names_per_account_are_bounded(tmp_path):
    """Issue 23 item 1: one account could add node records without end (86,005
    at 5,400/s). New names per account and hour are bounded (429 with
    Retry-After, known names unaffected), and an account keeps its
    unlimited_max_nodes most recent nodes, in memory and in the store."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=["--account-new-nodes-per-hour", "3",
                              "--unlimited-max-nodes", "4"]).start()
    try:
        a, b = pubutil.account(s.data, 3), pubutil.account(s.data, 3)
        pid, pb = os.urandom(16), os.urandom(16)
        assert register(s.port, a, pid)[1]["status"] == "valid"
        assert register(s.port, b, pb)[1]["status"] == "valid"
        for n in ("n1", "n2", "n3"):
            assert verify(s.port, a, pid, node=n)[1]["status"] == "valid"
        st, hdr, body = post_raw(s.port, "/v1/verify", pubutil.fields(a, pid, kind="verify",
                                                                      node="n4"))
        assert st == 429, body
        assert 3500 < int(hdr["Retry-After"]) <= 3600, hdr
        assert "account_new_nodes_per_hour" in json.loads(body)["message"]
        assert verify(s.port, a, pid, node="n1")[1]["status"] == "valid"  # known: fine
        assert verify(s.port, b, pb, node="n4")[1]["status"] == "valid"  # b's own hour
    finally:
        s.finish()
    # The cap: 4 nodes per account, the least recently seen deleted from the store.
    s = pubutil.Server(s.data, threads=2, extra=["--account-new-nodes-per-hour", "0",
                                                 "--unlimited-max-nodes", "4"]).start()
    try:
        for i in range(10):
            assert verify(s.port, a, pid, node="m%d" % i)[1]["status"] == "valid"
            time.sleep(1.05)  # one second apart: a strict order of last seen
        # In public mode the admin listing reads the store, which the batched
        # node writes reach within the batch interval (2 s): wait for m9.
        deadline, tok = time.monotonic() + 6, admin_token(s)
        while True:
            st, doc = srvchain.admin(s, "GET", "/v1/admin/nodes", tok)
            assert st == 200, doc
            mine = sorted(n["node"] for n in doc["nodes"]
                          if n.get("account", n.get("license")) == a.id and n["last_valid"] > 0)
            if mine == ["m6", "m7", "m8", "m9"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert mine == ["m6", "m7", "m8", "m9"], doc
    finally:
        s.finish()
    # n1..n3 from the first run were pushed out too, and deleted.
    p = pubutil.licsrv("nodes", "--data", s.data, "--account", a.id, "--json")
    assert store_nodes(s.data, a) == ["m6", "m7", "m8", "m9"], p.stdout


def test_register_unregister_churn_is_bounded(tmp_path):
    """Issue 23 item 1: every register/unregister wrote an audit entry kept
    180 days, without bound (24,871 calls filled a 4M map). Registrations are
    bounded by capacity, so bounding the slots an account frees per hour
    bounds the churn and its audit: past account_unregisters_per_hour a
    registered project's unregister is 429 with Retry-After; others go on."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=["--account-unregisters-per-hour", "2"]).start()
    try:
        a, b = pubutil.account(s.data, 1), pubutil.account(s.data, 1)
        tok = admin_token(s)
        # Unregistering what holds no slot frees nothing and is not counted.
        for _ in range(3):
            assert unregister(s.port, a, os.urandom(16))[1]["status"] == "not_registered"
        pids = [os.urandom(16) for _ in range(3)]
        for i, pid in enumerate(pids):
            assert register(s.port, a, pid)[1]["status"] == "valid"
            if i < 2:
                assert unregister(s.port, a, pid)[1]["status"] == "not_registered"
        st, hdr, body = post_raw(s.port, "/v1/unregister",
                                 pubutil.fields(a, pids[2], kind="unregister"))
        assert st == 429, body
        assert 3500 < int(hdr["Retry-After"]) <= 3600, hdr
        assert "account_unregisters_per_hour" in json.loads(body)["message"]
        st, doc = srvchain.admin(s, "POST", "/v1/admin/accounts/registrations", tok, {"id": a.id})
        assert [uuid.UUID(r["project_id"]).bytes for r in doc["registrations"]] == [pids[2]], doc
        # The full account still answers verify and an idempotent register.
        assert verify(s.port, a, pids[2])[1]["status"] == "valid"
        assert register(s.port, a, pids[2])[1]["status"] == "valid"
        # Another account is not touched.
        pb = os.urandom(16)
        assert register(s.port, b, pb)[1]["status"] == "valid"
        assert unregister(s.port, b, pb)[1]["status"] == "not_registered"
        # The audit holds a's 3 adds and 2 removes, no more.
        st, doc = srvchain.admin(s, "GET", "/v1/admin/audit", tok)
        mine = [e for e in doc["audit"] if a.id in e["subject"]
                and e["action"].startswith("registration.")]
        assert len(mine) == 5, mine
    finally:
        s.finish()


def test_full_store_answers_507(tmp_path):
    """Issue 23 item 1: a full map answered account B's register 500
    store_error. Nothing is broken: 507 store_full, saying what frees room,
    and /healthz says the store is full."""
    s = pubutil.Server(tmp_path / "data", threads=2,
                       extra=["--store-map-size", "256K", "--account-requests-per-minute", "0",
                              "--account-store-quota", "0",  # the map fills (no headroom rule)
                              "--access-log", "errors"]).start()
    try:
        a = pubutil.account(s.data, 1000000)
        deadline = time.monotonic() + 60
        st = 200
        n = 0
        while st == 200 and time.monotonic() < deadline:
            st, out = register(s.port, a, os.urandom(16))
            n += 1
        assert st == 507, (n, st, out)
        doc = json.loads(out) if out[:1] == b"{" else srvchain.decode_response(out, "application/msgpack")
        assert doc["error"] == "store_full" and "licsrv purge" in doc["message"], doc
        st, body, _ = s.get("/healthz")
        assert st == 503 and json.loads(body)["check"] == "store", body
        assert "store_error" not in s.log()
        print("registrations before the 256K map was full: %d" % n)
    finally:
        s.finish()
