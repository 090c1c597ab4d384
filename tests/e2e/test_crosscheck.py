"""Cross-checks of the C tools against lictest_formats, an independent Python
implementation of the envelope, armor, machine identity and bodies (SPEC §2,
§3.1-§3.3), and of the key files against openssl(1)."""

import hashlib
import json
import re
import subprocess
import time

import pytest

import lictest_formats as lf

DAY = 86400


@pytest.fixture
def machine(lic_machine):
    return lic_machine(
        machine_id="5f0c2a9e8b1d4c7f9a3e6b2d1c0f8e7a",
        product_uuid="4C4C4544-0042-3510-8051-B4C04F4A4B32",
        nics=[("eth0", "52:54:00:ab:cd:01", True),
              ("enp3s0", "3c:ec:ef:10:20:3f", True),
              ("docker0", "02:42:ac:11:00:02", False),
              ("veth12ab", "9a:1b:2c:3d:4e:5f", False),
              ("lo", "00:00:00:00:00:00", False)])


@pytest.fixture
def rif_path(machine, licctl_rif):
    return licctl_rif(machine)


def check(lic_run, licctl_bin, lic, machine, trust, *extra):
    return lic_run(licctl_bin, "check", lic, "--domain", "reports.example.com",
                   "--port", "8443", "--major", "11", "--trust", trust, "--json", *extra,
                   sysroot=machine)


# --- the machine identity ------------------------------------------------------

def test_machine_code_matches_python(machine, rif_path):
    env = lf.read_envelope(rif_path)
    body = env.body_obj()
    assert body["machine"]["code"] == machine.code
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}", machine.code)
    # the armor's human summary says the same
    assert f"# machine code: {machine.code}" in rif_path.read_text()


@pytest.mark.parametrize("uuid", [None, "", "4c4c4544-0042-3510-8051-b4c04f4a4b32"])
def test_machine_code_sources(lic_machine, licctl_rif, uuid):
    """Without product_uuid (or empty) only machine-id counts; the uuid is
    read case-insensitively."""
    m = lic_machine(machine_id="  abcdefabcdefabcdefabcdefabcdef01  ", product_uuid=uuid)
    body = lf.read_envelope(licctl_rif(m)).body_obj()
    assert body["machine"]["code"] == lf.machine_code(m.machine_id, uuid)
    upper = lf.machine_code(m.machine_id, "4C4C4544-0042-3510-8051-B4C04F4A4B32")
    assert (body["machine"]["code"] == upper) == bool(uuid)


def test_machine_code_dbus_fallback(lic_machine, licctl_rif):
    m = lic_machine(machine_id="x")
    (m.root / "etc/machine-id").unlink()
    (m.root / "var/lib/dbus").mkdir(parents=True)
    (m.root / "var/lib/dbus/machine-id").write_text("feedfacefeedfacefeedfacefeedface\n")
    body = lf.read_envelope(licctl_rif(m)).body_obj()
    assert body["machine"]["code"] == lf.machine_code("feedfacefeedfacefeedfacefeedface")


def test_mac_hashes_physical_only(machine, rif_path):
    body = lf.read_envelope(rif_path).body_obj()
    phys = ["3c:ec:ef:10:20:3f", "52:54:00:ab:cd:01"]  # enp3s0, eth0 (name order)
    assert body["machine"]["macs"] == [lf.mac_hash(m) for m in phys]
    assert body["machine"]["macs_masked"] == [lf.mac_masked(m) for m in phys]
    assert body["machine"]["macs_masked"] == ["3c:ec:ef:**:**:3f", "52:54:00:**:**:01"]


# --- the RIF envelope -----------------------------------------------------------------

def test_rif_envelope(machine, rif_path):
    text = rif_path.read_bytes()
    typ, raw = lf.armor_decode(text)
    assert typ == "rif"
    env = lf.envelope_decode(raw)
    assert env.typ == "rif"
    body = env.body_obj()
    # signed by the instance key it carries (proof of possession)
    assert env.kid == lf.kid_of(body["pubkey"])
    env.verify(body["pubkey"])
    # exactly the §3.2 keys: nothing else (data minimization)
    assert set(body) == {"typ", "created", "product", "version", "project", "project_id",
                         "machine", "pubkey", "mode_hint"}
    assert set(body["machine"]) == {"code", "macs", "macs_masked"}
    assert body["mode_hint"] == "local"
    assert (body["product"], body["version"], body["project"]) == \
        ("reportsrv", "11.0.18", "Reports Prod")
    assert isinstance(body["project_id"], bytes) and len(body["project_id"]) == 16
    assert abs(body["created"] - time.time()) < 300
    # armor lines are 64 columns of standard base64
    b64 = text.decode().split("-----\n")[1].split("-----END")[0].split()
    assert all(len(ln) == 64 for ln in b64[:-1]) and 0 < len(b64[-1]) <= 64


def test_rif_has_no_raw_mac(machine, rif_path):
    text = rif_path.read_bytes()
    raw = lf.unarmor_any(text)
    env = lf.envelope_decode(raw)
    for mac, _phys in machine.nics.values():
        if mac == "00:00:00:00:00:00":
            continue
        b = lf.mac_bytes(mac)
        forms = {mac, mac.upper(), mac.replace(":", ""), mac.replace(":", "").upper(),
                 mac.replace(":", "-"), mac.replace(":", "-").upper()}
        for blob in (text, raw, env.body):
            assert b not in blob, f"raw MAC bytes of {mac} in the RIF"
            for f in forms:
                assert f.encode() not in blob, f"MAC text {f} in the RIF"


def test_rif_project_id_is_kept(machine, licctl_rif, tmp_path):
    a = lf.read_envelope(licctl_rif(machine, out=tmp_path / "a.rif")).body_obj()
    b = lf.read_envelope(licctl_rif(machine, out=tmp_path / "b.rif")).body_obj()
    assert a["project_id"] == b["project_id"]
    assert a["pubkey"] == b["pubkey"]


# --- the license envelope ---------------------------------------------------------------

def test_license_envelope(machine, rif_path, lic_test_key, licgen_sign):
    lic = licgen_sign(rif_path, lic_test_key, "--domain", "reports.example.com",
                      "--port", "8443", "--app", "finance", "--expires", "2099-01-01")
    env = lf.read_envelope(lic)
    assert env.typ == "license"
    assert env.kid == lic_test_key.kid
    env.verify(lic_test_key.pub_raw)
    body = env.body_obj()
    rif_env = lf.read_envelope(rif_path)
    rif = rif_env.body_obj()
    assert body["mode"] == "local"
    assert body["machine"]["code"] == machine.code
    assert body["machine"]["macs"] == rif["machine"]["macs"] == \
        [lf.mac_hash("3c:ec:ef:10:20:3f"), lf.mac_hash("52:54:00:ab:cd:01")]
    assert "macs_masked" not in body["machine"]
    assert body["rif"] == hashlib.sha256(rif_env.body).digest()
    assert body["project_id"] == rif["project_id"]
    assert body["project"] == rif["project"] and body["product"] == rif["product"]
    assert body["domains"] == ["reports.example.com"]
    assert body["ports"] == [8443] and body["apps"] == ["finance"]
    assert body["features"] == ["reports", "export"] and body["major"] == 11
    assert body["expires"] == 4070908800  # 2099-01-01T00:00:00Z
    assert body["heartbeat"] == 7200 and body["grace"] == 86400
    assert "node_key" not in body
    assert len(body["id"]) == 16
    assert body["typ"] == "license"
    # the armor comment names the signer
    assert f"# signed by: {lic_test_key.kid.hex()}" in lic.read_text()


def test_renewal_vector_lineage(lic_source_dir, lic_test_key):
    """The renewal vector, in Python alone: signed by the root, names the private
    license it supersedes, keeps its binding, and takes over at its end."""
    v = lic_source_dir / "tests/vectors"
    prev_env = lf.read_envelope(v / "license-private.lic")
    next_env = lf.read_envelope(v / "license-renewal.lic")
    for e in (prev_env, next_env):
        assert e.kid == lic_test_key.kid
        e.verify(lic_test_key.pub_raw)
    prev, nxt = prev_env.body_obj(), next_env.body_obj()
    assert "supersedes" not in prev
    assert nxt["supersedes"] == prev["id"] and nxt["id"] != prev["id"]
    assert lf.binding_diff(prev, nxt) is None
    assert nxt["not_before"] == prev["expires"] and nxt["issued"] > prev["issued"]
    assert set(nxt["features"]) > set(prev["features"])
    assert (v / "license-renewal.msgpack").read_bytes() == lf.unarmor_any(
        (v / "license-renewal.lic").read_bytes())
    # the raw body file is the signed body
    assert (v / "license-renewal.body.msgpack").read_bytes() == next_env.body
    # a changed binding is told by name
    assert lf.binding_diff(prev, dict(nxt, customer="Someone Else")) == "customer"


def test_revocations_vector(lic_source_dir, lic_test_key, lic_vendor_key):
    """The revocation list vector (SPEC §3.8), in Python alone: signed by the
    root over the stored body, six keys of the right shapes, armor and raw
    forms the same envelope; the same body under another key does not verify."""
    import uuid
    v = lic_source_dir / "tests/vectors"
    env = lf.read_envelope(v / "revocations.rev")
    assert env.typ == "revocations" and env.kid == lic_test_key.kid
    env.verify(lic_test_key.pub_raw)
    assert (v / "revocations.msgpack").read_bytes() == lf.unarmor_any(
        (v / "revocations.rev").read_bytes())
    assert (v / "revocations.body.msgpack").read_bytes() == env.body
    body = lf.check_revocations(env.body_obj())
    assert set(body) == {"typ", "seq", "issued", "licenses", "accounts", "activations"}
    assert body["seq"] == 2 and body["issued"] == 1767225600
    assert body["licenses"] == [uuid.UUID("10111213-1415-1617-1819-1a1b1c1d1e1f").bytes]
    assert body["accounts"] == [uuid.UUID("30313233-3435-3637-3839-3a3b3c3d3e3f").bytes]
    assert body["activations"] == [[7, 4242], [255, 0xFFFFFFFF]]
    # Python packs the same body byte for byte (key order as in the C packer)
    again = lf.revocations_body(2, body["licenses"], body["accounts"],
                                [tuple(a) for a in body["activations"]], issued=1767225600)
    assert lf.pack(again) == env.body
    with pytest.raises(Exception):
        lf.Envelope(env.typ, lic_vendor_key.kid, env.body, env.sig).verify(lic_vendor_key.pub_raw)
    with pytest.raises(lf.FormatError):
        lf.check_revocations(dict(body, seq=0))
    with pytest.raises(lf.FormatError):
        lf.check_revocations(dict(body, activations=[[256, 1]]))


def test_license_other_key_does_not_verify(rif_path, lic_test_key, lic_vendor_key, licgen_sign):
    env = lf.read_envelope(licgen_sign(rif_path, lic_vendor_key))
    assert env.kid == lic_vendor_key.kid != lic_test_key.kid
    env.verify(lic_vendor_key.pub_raw)
    with pytest.raises(Exception):
        lf.Envelope(env.typ, lic_test_key.kid, env.body, env.sig).verify(lic_test_key.pub_raw)


# --- Python-sealed licenses checked by licctl -------------------------------------------

def python_license(machine, key, **kw):
    body = lf.license_body(machine.code, [lf.mac_hash(m) for m in machine.physical_macs], **kw)
    return lf.envelope_seal("license", body, key.private_key())


@pytest.mark.parametrize("armored", [True, False])
def test_python_sealed_license_accepted(lic_run, licctl_bin, machine, lic_test_key, tmp_path,
                                        armored):
    env = python_license(machine, lic_test_key, domains=["*.example.com"], ports=[8443],
                         expires=int(time.time()) + 30 * DAY)
    lic = tmp_path / "py.lic"
    lic.write_bytes(lf.armor_encode("license", env, ["made by python"]) if armored else env)
    r = check(lic_run, licctl_bin, lic, machine, lic_test_key.pub)
    assert r.code == 0, r
    out = json.loads(r.out)
    assert out["status"] == "valid" and out["customer"] == "Example Corp"
    assert out["features"] == ["reports", "export"]


def test_python_sealed_license_perpetual_any_major(lic_run, licctl_bin, machine, lic_test_key,
                                                   tmp_path):
    lic = tmp_path / "py.lic"
    lic.write_bytes(python_license(machine, lic_test_key, major=0))
    r = lic_run(licctl_bin, "check", lic, "--domain", "a.b", "--port", "1", "--trust",
                lic_test_key.pub, sysroot=machine)
    assert r.code == 0, r
    assert r.out.startswith("valid:")


@pytest.mark.parametrize("window,status", [
    ((-10 * DAY, -DAY), "expired"),
    ((-10 * DAY, -1), "expired"),
    ((DAY, 10 * DAY), "not_yet_valid"),
    ((DAY, 0), "not_yet_valid"),
])
def test_python_sealed_license_dates(lic_run, licctl_bin, machine, lic_test_key, tmp_path,
                                     window, status):
    now = int(time.time())
    nb, ex = now + window[0], (now + window[1] if window[1] else 0)
    lic = tmp_path / "dated.lic"
    lic.write_bytes(lf.armor_encode("license",
                                    python_license(machine, lic_test_key, not_before=nb,
                                                   expires=ex)))
    r = check(lic_run, licctl_bin, lic, machine, lic_test_key.pub)
    assert r.code == 1, r
    assert json.loads(r.out)["status"] == status
    r = lic_run(licctl_bin, "check", lic, "--domain", "reports.example.com", "--port", "8443",
                "--major", "11", "--trust", lic_test_key.pub, sysroot=machine)
    assert r.code == 1 and status in r.out, r


def test_python_license_unknown_body_keys_ignored(lic_run, licctl_bin, machine, lic_test_key,
                                                  tmp_path):
    body = lf.license_body(machine.code, [lf.mac_hash(m) for m in machine.physical_macs])
    body["future_field"] = {"x": [1, 2, 3]}
    lic = tmp_path / "fwd.lic"
    lic.write_bytes(lf.envelope_seal("license", body, lic_test_key.private_key()))
    r = check(lic_run, licctl_bin, lic, machine, lic_test_key.pub)
    assert r.code == 0, r


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda b: b.pop("expires"), id="missing-expires"),
    pytest.param(lambda b: b.pop("machine"), id="missing-machine"),
    pytest.param(lambda b: b.update(typ="rif"), id="body-typ-rif"),
    pytest.param(lambda b: b.update(ports=[0]), id="port-0"),
    pytest.param(lambda b: b.update(domains=["*.com"]), id="wildcard-tld"),
    pytest.param(lambda b: b.update(expires="never"), id="expires-str"),
    pytest.param(lambda b: b.update(id=b"short"), id="id-short"),
    pytest.param(lambda b: b["machine"].update(macs=[b"\0" * 15]), id="mac-15"),
    pytest.param(lambda b: b["machine"].update(macs=[]), id="no-macs"),
    pytest.param(lambda b: b["machine"].update(code="not-a-code-at-all!!"), id="bad-code"),
    pytest.param(lambda b: b.update(mode="cloud"), id="bad-mode"),
    pytest.param(lambda b: b.update(mode="private"), id="private-no-node-key"),
    pytest.param(lambda b: b.update(customer=""), id="empty-customer"),
    pytest.param(lambda b: b.update(features=["x"] * 257), id="257-features"),
])
def test_python_license_malformed_body_refused(lic_run, licctl_bin, licgen_bin, machine,
                                               lic_test_key, tmp_path, mutate):
    """Validly signed, but the body breaks §3.3: exit 1, one line, no crash."""
    body = lf.license_body(machine.code, [lf.mac_hash(m) for m in machine.physical_macs])
    mutate(body)
    lic = tmp_path / "bad.lic"
    lic.write_bytes(lf.envelope_seal("license", body, lic_test_key.private_key()))
    r = check(lic_run, licctl_bin, lic, machine, lic_test_key.pub)
    assert r.code == 1 and r.err.startswith("licctl: error: "), r
    r = lic_run(licgen_bin, "inspect", lic, "--trust", lic_test_key.pub)
    assert r.code == 1, r


def test_python_envelope_extra_key_refused(lic_run, licctl_bin, machine, lic_test_key, tmp_path):
    env = lf.envelope_decode(python_license(machine, lic_test_key))
    raw = lf.pack({"typ": env.typ, "kid": env.kid, "body": env.body, "sig": env.sig, "x": 1})
    lic = tmp_path / "extra.lic"
    lic.write_bytes(raw)
    r = check(lic_run, licctl_bin, lic, machine, lic_test_key.pub)
    assert r.code == 1 and "licctl: error:" in r.err, r


def test_inspect_json_matches_python(lic_run, licgen_bin, rif_path, lic_test_key, licgen_sign):
    lic = licgen_sign(rif_path, lic_test_key, "--port", "80")
    r = lic_run(licgen_bin, "inspect", lic, "--trust", lic_test_key.pub, "--json")
    assert r.code == 0, r
    j = json.loads(r.out)
    body = lf.read_envelope(lic).body_obj()
    assert j["kid"] == lic_test_key.kid.hex() and j["signature"] == "valid" and j["ok"] is True
    assert j["body"]["machine"]["code"] == body["machine"]["code"]
    assert j["body"]["machine"]["macs"] == [m.hex() for m in body["machine"]["macs"]]
    assert j["body"]["rif"] == body["rif"].hex()
    u = body["id"].hex()
    assert j["body"]["id"] == f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"
    # the RIF is checked against its own embedded key
    r = lic_run(licgen_bin, "inspect", rif_path, "--json")
    assert r.code == 0, r
    assert json.loads(r.out)["signature"] == "valid"


# --- key files and openssl -------------------------------------------------------------------

def openssl(*args):
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True)


def test_keygen_agrees_with_openssl(lic_vendor_key):
    p = openssl("pkey", "-in", lic_vendor_key.priv, "-pubout")
    assert p.returncode == 0, p.stderr
    assert p.stdout == lic_vendor_key.pub.read_text()
    p = openssl("pkey", "-in", lic_vendor_key.priv, "-noout")
    assert p.returncode == 0, p.stderr
    assert lic_vendor_key.priv.read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    assert lic_vendor_key.pub.read_text().startswith("-----BEGIN PUBLIC KEY-----\n")
    assert (lic_vendor_key.priv.stat().st_mode & 0o777) == 0o600
    # and with python's reading of the same files
    k = lic_vendor_key.private_key()
    assert lf.raw_public(k) == lic_vendor_key.pub_raw
    assert lf.public_pem(k).decode() == lic_vendor_key.pub.read_text()


def test_keygen_prints_kid(lic_run, licgen_bin, tmp_path):
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "k.pem", "--json")
    assert r.code == 0, r
    j = json.loads(r.out)
    pub = lf.raw_public(lf.load_public_pem(tmp_path / "k.pub.pem"))
    assert j["kid"] == lf.kid_of(pub).hex()
    assert j["public"].endswith("k.pub.pem") and j["private"].endswith("k.pem")


def test_encrypted_key(lic_run, licgen_bin, tmp_path, rif_path, machine, licctl_bin):
    pw = tmp_path / "pass.txt"
    pw.write_text("correct horse battery staple\nsecond line ignored\n")
    key = tmp_path / "enc.pem"
    r = lic_run(licgen_bin, "keygen", "-o", key, "--passphrase-file", pw)
    assert r.code == 0, r
    assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert (key.stat().st_mode & 0o777) == 0o600
    assert openssl("pkey", "-in", key, "-noout", "-passin", "pass:wrong").returncode != 0
    p = openssl("pkey", "-in", key, "-pubout", "-passin", f"file:{pw}")
    assert p.returncode == 0, p.stderr
    assert p.stdout == (tmp_path / "enc.pub.pem").read_text()
    k = lf.load_private_pem(key, b"correct horse battery staple")
    assert lf.public_pem(k).decode() == p.stdout

    common = ["sign", rif_path, "--key", key, "--mode", "local", "--customer", "C",
              "--features", "", "--major", "0", "--expires", "never"]
    lic = tmp_path / "enc.lic"
    # no passphrase: refused, nothing written
    r = lic_run(licgen_bin, *common, "-o", lic)
    assert r.code == 1 and "passphrase" in r.err, r
    bad = tmp_path / "bad.txt"
    bad.write_text("wrong\n")
    r = lic_run(licgen_bin, *common, "-o", lic, "--passphrase-file", bad)
    assert r.code == 1 and "passphrase" in r.err, r
    assert not lic.exists()
    r = lic_run(licgen_bin, *common, "-o", lic, "--passphrase-file", pw)
    assert r.code == 0, r
    lf.read_envelope(lic).verify(lf.raw_public(k))
    r = lic_run(licctl_bin, "check", lic, "--domain", "x.y", "--port", "1", "--trust",
                tmp_path / "enc.pub.pem", sysroot=machine)
    assert r.code == 0, r


def test_openssl_made_key_is_usable(lic_run, licgen_bin, tmp_path, rif_path, licgen_sign):
    """A key made by openssl genpkey signs licenses that verify in Python."""
    key = tmp_path / "ossl.pem"
    assert openssl("genpkey", "-algorithm", "ed25519", "-out", key).returncode == 0
    key.chmod(0o600)
    lic = licgen_sign(rif_path, key)
    k = lf.load_private_pem(key)
    env = lf.read_envelope(lic)
    assert env.kid == lf.kid_of(lf.raw_public(k))
    env.verify(lf.raw_public(k))


def test_test_key_kid(lic_test_key):
    """keys/test/test-root.pem is the key its .pub.pem says."""
    assert lf.raw_public(lic_test_key.private_key()) == lic_test_key.pub_raw


# --- the harness itself ------------------------------------------------------------------

@pytest.mark.parametrize("stderr", [
    "==42==ERROR: AddressSanitizer: heap-use-after-free on address 0x1",
    "==42==ERROR: LeakSanitizer: detected memory leaks",
    "common/src/mp.c:10:5: runtime error: signed integer overflow",
    "licgen: error: one\nlicgen: error: two",
])
def test_runner_catches_reports(lic_run, stderr):
    with pytest.raises(AssertionError):
        lic_run("/bin/sh", "-c", f"printf '%s\\n' \"$0\" >&2; exit 1", stderr)
