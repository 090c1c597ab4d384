"""licsrv data subcommands end to end: init, rif, import, status, token,
backup, export, forget, purge. Licenses are built here in Python (msgpack +
cryptography) from SPEC §2.1/§3.3 with the test root key: that also checks
the C formats against an independent implementation."""
import base64
import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import time
import uuid

import msgpack
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from srvchain import armor, kid_of, load_pub, load_root, seal, unarmor

SRC = os.environ.get("LIC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("LIC_BUILD_DIR", os.path.join(SRC, "build"))
LICSRV = os.path.join(BUILD, "bin", "licsrv")
ROOT_KEY = os.path.join(SRC, "keys", "test", "test-root.pem")
ROOT_PUB = os.path.join(SRC, "keys", "test", "test-root.pub.pem")
OTHER_NODE_PUB = os.path.join(SRC, "keys", "test", "test-node.pub.pem")

pytestmark = pytest.mark.skipif(not os.path.exists(LICSRV), reason="licsrv not built")


def run(*args, env=None, check=None):
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([LICSRV, *args], capture_output=True, text=True, env=e, timeout=60)
    if check is not None:
        assert p.returncode == check, (args, p.returncode, p.stdout, p.stderr)
    return p


def one_line_error(p):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("licsrv: error: "), p.stderr


# ---- formats (SPEC §2): the independent Python helpers of srvchain ----------------

def make_license(rif_body, node_key, lid=None, customer="ACME Corp", mode="private"):
    lid = lid or os.urandom(16)
    now = int(time.time())
    body = {
        "typ": "license", "id": lid, "mode": mode, "issued": now, "not_before": now - 60,
        "expires": now + 365 * 86400, "customer": customer, "project": rif_body["project"],
        "project_id": rif_body["project_id"], "product": rif_body["product"], "major": 11,
        "features": ["export", "charts"], "domains": ["*.example.com"], "ports": [443],
        "apps": [], "max_nodes": 5,
        "machine": {"code": rif_body["machine"]["code"], "macs": rif_body["machine"]["macs"]},
        "node_key": node_key, "heartbeat": 7200, "grace": 86400,
        "rif": hashlib.sha256(rif_body["_raw"]).digest(),
    }
    return lid, seal("license", body, load_root())


# ---- fixtures -------------------------------------------------------------------

@pytest.fixture
def tmp(tmp_path):
    root = tmp_path / "sysroot"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "machine-id").write_text("5f1d3c0e2b7a4e6c9d8f0a1b2c3d4e5f\n")
    nic = root / "sys" / "class" / "net" / "eth0"
    (nic / "device").mkdir(parents=True)
    (nic / "address").write_text("52:54:00:ab:cd:ef\n")
    os.chmod(ROOT_KEY, 0o600)  # git does not keep modes
    return tmp_path


@pytest.fixture
def server(tmp, monkeypatch):
    data = tmp / "data"
    # Every command of these tests runs on the fake machine (import checks
    # that a license is bound to the machine it runs on).
    monkeypatch.setenv("LIC_SYSROOT", str(tmp / "sysroot"))
    run("init", "--data", str(data), check=0)
    env = {"LIC_SYSROOT": str(tmp / "sysroot")}
    rif = tmp / "server.rif"
    run("rif", "--data", str(data), "--project", "Reports", "--product", "ReportServer",
        "--version", "11.0.18", "-o", str(rif), env=env, check=0)
    envl = msgpack.unpackb(unarmor(rif.read_bytes()), raw=False)
    body = msgpack.unpackb(envl["body"], raw=False)
    body["_raw"] = envl["body"]
    return {"data": str(data), "tmp": tmp, "rif": rif, "rif_env": envl, "rif_body": body,
            "env": env}


def write_license(server, name="lic.lic", **kw):
    lid, env = make_license(server["rif_body"], server["rif_body"]["pubkey"], **kw)
    path = server["tmp"] / name
    path.write_bytes(armor("license", env))
    return lid, path


def status(data):
    return json.loads(run("status", "--data", data, "--json", check=0).stdout)


# ---- tests ------------------------------------------------------------------------

def test_init_creates_private_dir_and_key(tmp):
    data = tmp / "d"
    p = run("init", "--data", str(data), "--json", check=0)
    out = json.loads(p.stdout)
    assert out["mode"] == "private" and len(out["kid"]) == 16
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "node.pem").st_mode) == 0o600
    assert (data / "store" / "data.mdb").exists()
    assert kid_of(load_pub(str(data / "node.pub.pem"))).hex() == out["kid"]
    st = status(str(data))
    assert st["node_kid"] == out["kid"] and st["schema"] == 3 and st["licenses"] == []
    uuid.UUID(st["project_id"])


def test_init_twice_refuses_and_changes_nothing(tmp):
    data = tmp / "d"
    run("init", "--data", str(data), check=0)
    before = {f: (data / f).read_bytes() for f in ("node.pem", "node.pub.pem")}
    kid = status(str(data))["node_kid"]
    p = run("init", "--data", str(data), check=1)
    one_line_error(p)
    assert "already initialized" in p.stderr
    assert {f: (data / f).read_bytes() for f in before} == before
    assert status(str(data))["node_kid"] == kid


def test_init_public_mode(tmp):
    data = tmp / "pub"
    out = json.loads(run("init", "--data", str(data), "--mode", "public", "--json", check=0).stdout)
    assert out["mode"] == "public"
    assert status(str(data))["mode"] == "public"
    # public mode's key is the online key (SPEC §5), never a node key
    assert stat.S_IMODE(os.stat(data / "online.pem").st_mode) == 0o600
    assert kid_of(load_pub(str(data / "online.pub.pem"))).hex() == out["kid"]
    assert not (data / "node.pem").exists()
    assert run("init", "--data", str(tmp / "x"), "--mode", "cloud").returncode == 2


def test_rif_is_signed_by_the_node_key(server):
    envl, body = server["rif_env"], server["rif_body"]
    node_pub = load_pub(os.path.join(server["data"], "node.pub.pem"))
    assert envl["typ"] == "rif" and body["typ"] == "rif"
    assert body["pubkey"] == node_pub
    assert envl["kid"] == kid_of(node_pub)
    Ed25519PublicKey.from_public_bytes(node_pub).verify(envl["sig"], b"LICSRV1 rif\n" + envl["body"])
    assert body["mode_hint"] == "private"
    assert body["project"] == "Reports" and body["version"] == "11.0.18"
    assert str(uuid.UUID(bytes=body["project_id"])) == status(server["data"])["project_id"]
    assert len(body["machine"]["macs"]) == 1 and body["machine"]["macs_masked"] == ["52:54:00:**:**:ef"]
    # Data minimization: nothing else in the body.
    assert set(body) - {"_raw"} == {"typ", "created", "product", "version", "project",
                                    "project_id", "machine", "pubkey", "mode_hint"}
    # The same machine gives the same machine code; another machine another one.
    other = server["tmp"] / "other"
    shutil.copytree(server["tmp"] / "sysroot", other)
    (other / "etc" / "machine-id").write_text("00000000000000000000000000000001\n")
    out2 = server["tmp"] / "r2.rif"
    run("rif", "--data", server["data"], "--project", "Reports", "--product", "ReportServer",
        "--version", "11.0.18", "-o", str(out2), env={"LIC_SYSROOT": str(other)}, check=0)
    b2 = msgpack.unpackb(msgpack.unpackb(unarmor(out2.read_bytes()), raw=False)["body"], raw=False)
    assert b2["machine"]["code"] != body["machine"]["code"]


def test_rif_usage_errors(server):
    p = run("rif", "--data", server["data"], "--project", "P", check=2)
    one_line_error(p)
    p = run("rif", "--data", str(server["tmp"] / "nope"), "--project", "P", "--product", "X",
            "--version", "1", "-o", str(server["tmp"] / "x.rif"), env=server["env"], check=1)
    one_line_error(p)
    assert not (server["tmp"] / "x.rif").exists()


def test_import_license_shows_in_status(server):
    lid, path = write_license(server)
    p = run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=0)
    assert str(uuid.UUID(bytes=lid)) in p.stdout
    # A fresh process opening the environment sees it: it was committed and
    # synced before import returned.
    st = status(server["data"])
    assert len(st["licenses"]) == 1
    l = st["licenses"][0]
    assert l["id"] == str(uuid.UUID(bytes=lid))
    assert l["customer"] == "ACME Corp" and l["revoked"] is False and l["max_nodes"] == 5
    # Raw MessagePack (not armored) is accepted too; re-import replaces.
    raw = server["tmp"] / "raw.lic"
    raw.write_bytes(unarmor(path.read_bytes()))
    run("import", str(raw), "--trust", ROOT_PUB, "--data", server["data"], check=0)
    assert len(status(server["data"])["licenses"]) == 1


def test_import_license_for_another_node_is_refused(server):
    lid, env = make_license(server["rif_body"], load_pub(OTHER_NODE_PUB))
    path = server["tmp"] / "other.lic"
    path.write_bytes(armor("license", env))
    p = run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=1)
    one_line_error(p)
    assert "another license server" in p.stderr
    assert status(server["data"])["licenses"] == []


def test_import_refuses_untrusted_and_wrong_mode(server):
    _, path = write_license(server)
    p = run("import", str(path), "--trust", OTHER_NODE_PUB, "--data", server["data"], check=1)
    one_line_error(p)
    _, local = write_license(server, name="local.lic", mode="local")
    p = run("import", str(local), "--trust", ROOT_PUB, "--data", server["data"], check=1)
    one_line_error(p)
    assert "local" in p.stderr
    # A tampered body fails its signature.
    envl = msgpack.unpackb(unarmor(path.read_bytes()), raw=False)
    envl["body"] = envl["body"].replace(b"ACME", b"EVIL")
    bad = server["tmp"] / "tampered.lic"
    bad.write_bytes(msgpack.packb(envl, use_bin_type=True))
    p = run("import", str(bad), "--trust", ROOT_PUB, "--data", server["data"], check=1)
    one_line_error(p)
    assert status(server["data"])["licenses"] == []


@pytest.mark.parametrize("content", [b"", b"garbage\n", b"\x81\xa3typ\xa7license",
                                     b"-----BEGIN LICSRV LICENSE-----\nhKN0eXCnbGljZW5z\n"])
def test_import_garbage_and_truncated(server, content):
    path = server["tmp"] / "bad.lic"
    path.write_bytes(content)
    p = run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=1)
    one_line_error(p)


def test_import_truncated_license(server):
    _, path = write_license(server)
    raw = unarmor(path.read_bytes())
    for cut in (1, len(raw) // 2, len(raw) - 1):
        t = server["tmp"] / "trunc.lic"
        t.write_bytes(raw[:cut])
        p = run("import", str(t), "--trust", ROOT_PUB, "--data", server["data"], check=1)
        one_line_error(p)
    p = run("import", str(server["tmp"] / "missing.lic"), "--data", server["data"], check=1)
    one_line_error(p)
    assert run("import", "--data", server["data"]).returncode == 2
    assert run("import", "a", "b", "--data", server["data"]).returncode == 2
    assert status(server["data"])["licenses"] == []


def test_token_add_prints_once_and_list_never_shows_it(server):
    p = run("token", "add", "ops-alice", "--data", server["data"], check=0)
    token = p.stdout.strip()
    assert len(p.stdout.splitlines()) == 1
    assert len(token) == 43 and all(c.isalnum() or c in "-_" for c in token)
    listing = run("token", "list", "--data", server["data"], check=0)
    assert "ops-alice" in listing.stdout and token not in listing.stdout
    lj = run("token", "list", "--data", server["data"], "--json", check=0)
    assert token not in lj.stdout
    assert [t["name"] for t in json.loads(lj.stdout)["tokens"]] == ["ops-alice"]
    # Only the hash is stored.
    db = open(os.path.join(server["data"], "store", "data.mdb"), "rb").read()
    assert token.encode() not in db
    assert hashlib.sha256(token.encode()).digest() in db
    # Duplicate names refused; bad names are usage errors.
    one_line_error(run("token", "add", "ops-alice", "--data", server["data"], check=1))
    assert run("token", "add", "bad name", "--data", server["data"]).returncode == 2
    run("token", "revoke", "ops-alice", "--data", server["data"], check=0)
    assert json.loads(run("token", "list", "--data", server["data"], "--json", check=0).stdout)["tokens"] == []
    one_line_error(run("token", "revoke", "ops-alice", "--data", server["data"], check=1))
    assert run("token", "frobnicate", "--data", server["data"]).returncode == 2


def test_backup_is_a_working_data_dir(server):
    lid, path = write_license(server)
    run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=0)
    dest = server["tmp"] / "backup"
    run("backup", str(dest), "--data", server["data"], check=0)
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(dest / "node.pem").st_mode) == 0o600
    st = status(str(dest))
    assert [l["id"] for l in st["licenses"]] == [str(uuid.UUID(bytes=lid))]
    assert st["node_kid"] == status(server["data"])["node_kid"]
    if shutil.which("mdb_stat"):
        p = subprocess.run(["mdb_stat", "-a", str(dest / "store")], capture_output=True, text=True)
        assert p.returncode == 0 and "licenses" in p.stdout
    one_line_error(run("backup", str(dest), "--data", server["data"], check=1))
    assert not [n for n in os.listdir(server["tmp"]) if ".tmp." in n]


def test_export_and_forget(server):
    lid, path = write_license(server)
    other, opath = write_license(server, name="second.lic", customer="Other Inc")
    run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=0)
    run("import", str(opath), "--trust", ROOT_PUB, "--data", server["data"], check=0)
    u = str(uuid.UUID(bytes=lid))
    ex = json.loads(run("export", "--license", u, "--data", server["data"], check=0).stdout)
    assert ex["license"]["id"] == u
    assert ex["license"]["terms"]["customer"] == "ACME Corp"
    assert base64.urlsafe_b64decode(ex["license"]["envelope"] + "==") == unarmor(path.read_bytes())
    assert any(a["action"] == "import" and u in a["subject"] for a in ex["audit"])
    assert ex["nodes"] == []

    f = json.loads(run("forget", "--license", u, "--yes", "--data", server["data"], "--json", check=0).stdout)
    assert f["licenses"] == 1 and f["audit"] >= 1
    # the erasure is audited as the person who ran it, like every other command
    audit = json.loads(run("audit", "--data", server["data"], "--json", check=0).stdout)["audit"]
    me = pwd.getpwuid(os.getuid()).pw_name
    if os.environ.get("SUDO_USER") and os.environ.get("SUDO_UID", "").isdigit():
        me = os.environ["SUDO_USER"]
    assert [e["actor"] for e in audit if e["action"] == "forget"][-1] == "cli:" + me, audit
    one_line_error(run("export", "--license", u, "--data", server["data"], check=1))
    st = status(server["data"])
    assert [l["id"] for l in st["licenses"]] == [str(uuid.UUID(bytes=other))]
    # The other license's audit trail is untouched.
    ex2 = json.loads(run("export", "--license", str(uuid.UUID(bytes=other)), "--data",
                         server["data"], check=0).stdout)
    assert len(ex2["audit"]) == 1
    assert run("export", "--license", "not-a-uuid", "--data", server["data"]).returncode == 2
    assert run("forget", "--data", server["data"]).returncode == 2


def test_purge_reports_counts(server):
    out = json.loads(run("purge", "--data", server["data"], "--json", check=0).stdout)
    assert out["retention_days"] == 180 and out["nodes"] == 0 and out["audit"] == 0
    assert run("purge", "--retention-days", "0", "--data", server["data"]).returncode == 2
    assert run("purge", "--retention-days", "x", "--data", server["data"]).returncode == 2


def test_config_data_key_and_help(server, tmp):
    cfg = tmp / "licsrv.ini"
    cfg.write_text("# licsrv\nlisten = 127.0.0.1:7470\n[licsrv]\ndata = %s\n" % server["data"])
    st = json.loads(run("status", "--config", str(cfg), "--json", check=0).stdout)
    assert st["data"] == server["data"]
    for cmd in ("backup", "export", "forget", "import", "init", "purge", "rif", "status", "token"):
        p = run(cmd, "--help", check=0)
        assert "usage: licsrv " + cmd in p.stdout
    run("--help", check=0)
    assert run("--version", check=0).stdout.startswith("licsrv ")
    assert run("nosuch").returncode == 2
    assert run("status", "--bogus").returncode == 2
    one_line_error(run("status", "--data", str(tmp / "absent"), check=1))


def test_public_mode_account_and_cert(tmp, server):
    data = str(tmp / "public")
    run("init", "--data", data, "--mode", "public", check=0)
    now = int(time.time())
    aid = os.urandom(16)
    acct = seal("account", {
        "typ": "account", "id": aid, "customer": "Cloud Co", "capacity": 3, "features": [],
        "domains": [], "ports": [], "apps": [], "major": 11, "not_before": now,
        "expires": 0, "heartbeat": 7200, "grace": 86400,
        "token_hash": hashlib.sha256(b"secret").digest()}, load_root())
    path = tmp / "acct.acct"
    path.write_bytes(armor("account", acct))
    u = str(uuid.UUID(bytes=aid))
    p = run("import", str(path), "--trust", ROOT_PUB, "--data", data, check=0)
    assert u in p.stdout
    ex = json.loads(run("export", "--account", u, "--data", data, check=0).stdout)
    assert ex["account"]["id"] == u and ex["registrations"] == []
    assert base64.urlsafe_b64decode(ex["account"]["envelope"] + "==") == acct
    # An account is refused by a private-mode server.
    one_line_error(run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=1))
    # A certificate for this server's online key is stored; one for another key is not.
    online = load_pub(os.path.join(data, "online.pub.pem"))
    cert = seal("cert", {"typ": "cert", "id": os.urandom(16), "pubkey": online, "role": "verdict",
                         "issued": now, "not_before": now, "expires": now + 86400}, load_root())
    cpath = tmp / "online.cert"
    cpath.write_bytes(armor("cert", cert))
    run("import", str(cpath), "--trust", ROOT_PUB, "--data", data, check=0)
    other = seal("cert", {"typ": "cert", "id": os.urandom(16), "pubkey": load_pub(OTHER_NODE_PUB),
                          "role": "verdict", "issued": now, "not_before": now,
                          "expires": now + 86400}, load_root())
    cpath.write_bytes(armor("cert", other))
    one_line_error(run("import", str(cpath), "--trust", ROOT_PUB, "--data", data, check=1))
    f = json.loads(run("forget", "--account", u, "--yes", "--data", data, "--json", check=0).stdout)
    assert f["accounts"] == 1 and f["audit"] == 1
    one_line_error(run("export", "--account", u, "--data", data, check=1))


def test_import_license_for_another_machine_is_refused(server):
    # Same node key, another machine: accepting it would turn the whole server
    # into machine_mismatch at its next binding check.
    other = dict(server["rif_body"])
    other["machine"] = dict(other["machine"], code="0000-0000-0000-0000")
    lid, env = make_license(other, server["rif_body"]["pubkey"])
    path = server["tmp"] / "other-machine.lic"
    path.write_bytes(armor("license", env))
    p = run("import", str(path), "--trust", ROOT_PUB, "--data", server["data"], check=1)
    one_line_error(p)
    assert "bound to machine 0000-0000-0000-0000" in p.stderr
    assert status(server["data"])["licenses"] == []


def test_lists_of_an_empty_store(server):
    """No node, no failure: the lists are empty, not undefined behaviour (qsort of
    NULL was, caught by UBSan through the README's `licsrv failures`)."""
    for cmd in ("failures", "nodes"):
        p = run(cmd, "--data", server["data"], "--json", check=0)
        assert "runtime error" not in p.stderr, p.stderr
        assert json.loads(p.stdout)[cmd] == [], p.stdout
