"""Local mode end to end through the command lines (SPEC §3.1, §5): licgen
keygen -> licctl rif -> licgen sign -> licctl check, on fake machines, plus
the tools' refusals and their behaviour on hostile input."""

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import lictest_formats as lf
from conftest import sanitized_build

# The truncation and bit-flip walks launch two binaries per step: under the
# sanitizers every third step (fuzz_lic_* walks the same parsers byte by byte).
STRIDE = 3 if sanitized_build() else 1

TWO_NICS = [("eth0", "52:54:00:12:34:56", True),
            ("eth1", "52:54:00:ab:cd:ef", True),
            ("docker0", "02:42:ac:11:00:01", False),
            ("lo", "00:00:00:00:00:00", False)]
MID = "3e1f0a2b4c5d6e7f8091a2b3c4d5e6f7"


@pytest.fixture
def machine(lic_machine):
    return lic_machine(machine_id=MID, nics=TWO_NICS)


@pytest.fixture
def rif(machine, licctl_rif):
    return licctl_rif(machine)


@pytest.fixture
def lic(rif, lic_test_key, licgen_sign):
    """A local license for `machine`: any domain/port/app, major 11."""
    return licgen_sign(rif, lic_test_key)


@pytest.fixture
def check(lic_run, licctl_bin, lic_test_key):
    """check(license, machine, *extra, domain=, port=, major='11') -> Result."""

    def run(license, machine, *extra, domain="reports.example.com", port="8443",
            major="11", trust=None):
        args = ["check", license, "--domain", domain, "--port", port,
                "--trust", trust or lic_test_key.pub]
        if major is not None:
            args += ["--major", major]
        return lic_run(licctl_bin, *args, *extra, sysroot=machine)

    return run


def status_of(r):
    """Status from a non-JSON check: 'valid: ...' or 'denied: STATUS: ...'."""
    if r.out.startswith("valid:"):
        return "valid"
    m = re.match(r"denied: (\w+):", r.out)
    return m.group(1) if m else None


def listing(d):
    return sorted(p.name for p in Path(d).iterdir())


# --- the walkthrough ------------------------------------------------------------------

def test_walkthrough(lic_run, licgen_bin, licctl_bin, machine, tmp_path):
    k = tmp_path / "vendor.pem"
    r = lic_run(licgen_bin, "keygen", "-o", k)
    assert r.code == 0, r
    assert re.search(r"kid [0-9a-f]{16}", r.out)
    state = tmp_path / "state"
    rif = tmp_path / "machine.rif"
    r = lic_run(licctl_bin, "rif", "--project", "Prod", "--product", "reportsrv",
                "--version", "11.0.18", "-o", rif, "--state", state, sysroot=machine)
    assert r.code == 0, r
    assert (state / "instance.pem").stat().st_mode & 0o777 == 0o600
    assert rif.read_text().count("-----BEGIN LICSRV RIF-----") == 1
    lic = tmp_path / "prod.lic"
    r = lic_run(licgen_bin, "sign", rif, "--key", k, "--mode", "local", "--customer",
                "ACME", "--features", "reports,export", "--domain", "reports.acme.com",
                "--port", "443", "--major", "11", "--expires", "2099-12-31", "-o", lic)
    assert r.code == 0, r
    assert "-----BEGIN LICSRV LICENSE-----" in lic.read_text()
    r = lic_run(licctl_bin, "check", lic, "--domain", "reports.acme.com", "--port", "443",
                "--major", "11", "--trust", tmp_path / "vendor.pub.pem", sysroot=machine)
    assert r.code == 0, r
    assert r.out.startswith("valid: license ") and "ACME" in r.out
    assert "reports,export" in r.out and "2099-12-31" in r.out
    # the built-in trust store does not hold this fresh key
    r = lic_run(licctl_bin, "check", lic, "--domain", "reports.acme.com", "--port", "443",
                "--major", "11", sysroot=machine)
    assert r.code == 1 and "trust" in r.err, r


# --- machine binding (§3.1) -------------------------------------------------------------

def test_nic_added_still_matches(check, lic, machine):
    machine.add_nic("eth2", "00:1b:21:aa:bb:cc")
    machine.add_nic("wlan0", "f4:8c:50:01:02:03")
    assert status_of(check(lic, machine)) == "valid"


@pytest.mark.parametrize("gone", ["eth0", "eth1"])
def test_one_of_two_nics_removed_still_matches(check, lic, machine, gone):
    machine.remove_nic(gone)
    r = check(lic, machine)
    assert r.code == 0 and status_of(r) == "valid", r


def test_nics_reordered_still_matches(check, lic, machine):
    machine.remove_nic("eth0")
    machine.remove_nic("eth1")
    machine.add_nic("eth0", "52:54:00:ab:cd:ef")
    machine.add_nic("eth1", "52:54:00:12:34:56")
    machine.add_nic("enp0s1", "00:1b:21:aa:bb:cc")  # sorts first
    r = check(lic, machine)
    assert r.code == 0, r


def test_nic_mac_case_and_whitespace(check, lic, machine):
    machine.remove_nic("eth0")
    machine.remove_nic("eth1")
    machine.add_nic("eth0", "  52:54:00:AB:CD:EF  ")
    assert check(lic, machine).code == 0


def test_other_machine_id_mismatch(check, lic, machine):
    machine.set_machine_id("ffffffffffffffffffffffffffffffff")
    r = check(lic, machine)
    assert r.code == 1 and status_of(r) == "machine_mismatch", r


def test_product_uuid_appearing_changes_machine(check, lic, machine):
    machine.set_product_uuid("4c4c4544-0042-3510-8051-b4c04f4a4b32")
    r = check(lic, machine, "--json")
    assert r.code == 1 and json.loads(r.out)["status"] == "machine_mismatch", r


def test_all_licensed_nics_gone_mismatch(check, lic, machine):
    machine.remove_nic("eth0")
    machine.remove_nic("eth1")
    machine.add_nic("eth9", "00:1b:21:aa:bb:cc")
    r = check(lic, machine)
    assert r.code == 1 and status_of(r) == "machine_mismatch", r
    assert r.err == ""  # a denial is a result, not an error


def test_licensed_mac_on_virtual_nic_does_not_count(check, lic, machine):
    machine.remove_nic("eth0")
    machine.remove_nic("eth1")
    machine.add_nic("eth0", "52:54:00:12:34:56", physical=False)
    machine.add_nic("veth0", "52:54:00:ab:cd:ef", physical=True)  # virtual by name
    machine.add_nic("br0", "52:54:00:ab:cd:ef")
    (machine.root / "sys/class/net/br0/bridge").mkdir()
    r = check(lic, machine)
    assert r.code == 1 and status_of(r) == "machine_mismatch", r


def test_no_machine_id_is_an_error(check, lic, machine):
    (machine.root / "etc/machine-id").unlink()
    r = check(lic, machine)
    assert r.code == 1 and r.err.startswith("licctl: error: "), r
    assert "machine-id" in r.err


def test_rif_refused_without_physical_nic(lic_run, licctl_bin, lic_machine, tmp_path):
    m = lic_machine(nics=[("lo", "00:00:00:00:00:00", False),
                          ("docker0", "02:42:ac:11:00:01", False)])
    out = tmp_path / "x.rif"
    r = lic_run(licctl_bin, "rif", "--project", "P", "--product", "X", "--version", "1",
                "-o", out, "--state", tmp_path / "st", sysroot=m)
    assert r.code == 1 and r.err.startswith("licctl: error: "), r
    assert not out.exists()


# --- terms: domain, port, app, major -------------------------------------------------------

@pytest.fixture
def terms_lic(rif, lic_test_key, licgen_sign):
    return licgen_sign(rif, lic_test_key, "--domain", "Reports.Example.COM",
                       "--domain", "*.apps.example.org", "--domain", "trailing.example.net.",
                       "--port", "8443", "--port", "443", "--app", "finance",
                       "--app", "hr", "--major", "11")


@pytest.mark.parametrize("domain,status", [
    ("reports.example.com", "valid"),
    ("REPORTS.EXAMPLE.COM", "valid"),
    ("reports.example.com.", "valid"),
    ("x.apps.example.org", "valid"),
    ("X-1.Apps.Example.Org.", "valid"),
    ("trailing.example.net", "valid"),
    ("a.b.apps.example.org", "domain_denied"),
    ("apps.example.org", "domain_denied"),
    ("xapps.example.org", "domain_denied"),
    ("example.com", "domain_denied"),
    ("reports.example.com.evil.org", "domain_denied"),
    ("other.example.com", "domain_denied"),
])
def test_domains(check, terms_lic, machine, domain, status):
    r = check(terms_lic, machine, "--app", "finance", "--json", domain=domain)
    assert json.loads(r.out)["status"] == status, r
    assert r.code == (0 if status == "valid" else 1)


@pytest.mark.parametrize("port,status", [("8443", "valid"), ("443", "valid"),
                                         ("80", "port_denied"), ("8444", "port_denied")])
def test_ports(check, terms_lic, machine, port, status):
    r = check(terms_lic, machine, "--app", "hr", "--json", port=port)
    assert json.loads(r.out)["status"] == status, r
    assert r.code == (0 if status == "valid" else 1)


@pytest.mark.parametrize("app,status", [("finance", "valid"), ("hr", "valid"),
                                        ("Finance", "app_denied"), ("sales", "app_denied"),
                                        (None, "app_denied")])
def test_apps(check, terms_lic, machine, app, status):
    extra = ["--app", app] if app else []
    r = check(terms_lic, machine, *extra, "--json")
    assert json.loads(r.out)["status"] == status, r


@pytest.mark.parametrize("major,status", [("11", "valid"), ("12", "version_denied"),
                                          ("10", "version_denied"), (None, "version_denied")])
def test_major(check, terms_lic, machine, major, status):
    r = check(terms_lic, machine, "--app", "hr", "--json", major=major)
    j = json.loads(r.out)
    assert j["status"] == status, r
    if major is None:
        assert "not given" in j["reason"]


def test_major_zero_means_any(check, rif, lic_test_key, licgen_sign, machine):
    lic = licgen_sign(rif, lic_test_key, major="0")
    assert check(lic, machine, major=None).code == 0
    assert check(lic, machine, major="99").code == 0


def test_check_json(check, lic, machine):
    r = check(lic, machine, "--json")
    assert r.code == 0, r
    j = json.loads(r.out)
    assert j["status"] == "valid" and j["expires"] == "never"
    assert j["customer"] == "Example Corp" and j["features"] == ["reports", "export"]
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", j["license"])
    assert j["reason"]


def test_check_refuses_private_license(lic_run, check, machine, lic_test_key, tmp_path):
    body = lf.license_body(machine.code, [lf.mac_hash(m) for m in machine.physical_macs],
                           mode="private", node_key=os.urandom(32))
    p = tmp_path / "server.lic"
    p.write_bytes(lf.armor_encode("license", lf.envelope_seal("license", body,
                                                              lic_test_key.private_key())))
    r = check(p, machine)
    assert r.code == 1, r
    assert r.err == (f"licctl: error: {p}: this is a private license: report servers check it"
                     " with 'licctl verify' against the license server\n"), r


@pytest.mark.parametrize("args", [
    ["--domain", "bad domain!"], ["--port", "0"], ["--port", "65536"], ["--port", "x"],
    ["--major", "-1"], ["--bogus"],
])
def test_check_usage_errors(check, lic, machine, args):
    r = check(lic, machine, *args)
    assert r.code == 2 and r.err.startswith("licctl: error: "), r


def test_check_missing_args(lic_run, licctl_bin, lic, machine):
    for args in (["check"], ["check", lic], ["check", lic, "--domain", "a.b"],
                 ["check", lic, "--port", "1"], ["check", lic, lic, "--domain", "a.b",
                                                  "--port", "1"]):
        r = lic_run(licctl_bin, *args, sysroot=machine)
        assert r.code == 2 and r.err.startswith("licctl: error: "), r


# --- mail transit (§2.2) ------------------------------------------------------------------

def test_license_through_mail(check, lic, machine, tmp_path):
    text = lic.read_text()
    quoted = "".join("> " + ln + "\n" for ln in text.splitlines())
    mail = ("Hello,\n\nplease find your license below.\n\n" + quoted +
            "\n> \nBest regards,\n-- \nSales\n")
    p = tmp_path / "mail.txt"
    p.write_bytes(mail.replace("\n", "\r\n").encode())
    assert check(p, machine).code == 0
    # double quoting, stray spaces, base64 lines rewrapped, no final newline
    lines = text.splitlines()
    begin = next(i for i, ln in enumerate(lines) if ln.startswith("-----BEGIN"))
    end = next(i for i, ln in enumerate(lines) if ln.startswith("-----END"))
    b64 = "".join(lines[begin + 1:end])
    rewrapped = [b64[i:i + 50] + "  " for i in range(0, len(b64), 50)]
    body = ["> > " + ln for ln in [lines[begin]] + rewrapped] + ["> >  " + lines[end] + "\t"]
    p.write_bytes(("On Monday, sales wrote:\r\n" + "\r\n".join(body)).encode())
    assert check(p, machine).code == 0


def test_license_raw_msgpack(check, lic, machine, tmp_path):
    p = tmp_path / "raw.lic"
    p.write_bytes(lf.unarmor_any(lic.read_bytes()))
    assert check(p, machine).code == 0


def test_license_from_stdin(lic_run, licctl_bin, lic, machine, lic_test_key):
    r = lic_run(licctl_bin, "check", "-", "--domain", "a.b", "--port", "1", "--major", "11",
                "--trust", lic_test_key.pub, stdin=lic.read_bytes(), sysroot=machine)
    assert r.code == 0, r


# --- licgen sign refusals ---------------------------------------------------------------------

def sign_args(rif, key, out, **over):
    opts = {"--key": key, "--mode": "local", "--customer": "C", "--features": "a",
            "--major": "11", "--expires": "never", "-o": out}
    opts.update(over)
    args = ["sign", rif]
    for k, v in opts.items():
        if v is not None:
            args += [k, v]
    return args


@pytest.mark.parametrize("over,extra,code", [
    ({"--expires": "2020-01-01"}, [], 2),
    ({"--expires": "2099-02-30"}, [], 2),
    ({"--expires": "tomorrow"}, [], 2),
    ({"--not-before": "2099-01-01", "--expires": "2098-01-01"}, [], 2),
    ({}, ["--port", "0"], 2),
    ({}, ["--port", "65536"], 2),
    ({}, ["--port", "-1"], 2),
    ({}, ["--port", "80x"], 2),
    ({}, ["--domain", "*.com"], 2),
    ({}, ["--domain", "a.*.b.com"], 2),
    ({}, ["--domain", "*.*.example.com"], 2),
    ({}, ["--domain", "*"], 2),
    ({}, ["--domain", "bad_domain..com"], 2),
    ({}, ["--domain", "x" * 254], 2),
    ({}, ["--max-nodes", "3"], 2),
    ({}, ["--heartbeat", "0"], 2),
    ({}, ["--grace", "5"], 2),                    # shorter than the default heartbeat
    ({"--mode": "public"}, [], 2),
    ({"--mode": "cloud"}, [], 2),
    ({"--major": "-3"}, [], 2),
    ({"--customer": ""}, [], 2),
    ({"--customer": "x" * 129}, [], 2),
    ({"--features": "a,,b"}, [], 2),
    ({}, ["--unknown-option"], 2),
    ({"--key": None}, [], 2),
    ({"--mode": None}, [], 2),
    ({"--customer": None}, [], 2),
    ({"--features": None}, [], 2),
    ({"--major": None}, [], 2),
    ({"--expires": None}, [], 2),
    ({"-o": None}, [], 2),
    ({"--mode": "private"}, [], 1),              # a licctl RIF is for local mode
    ({"--key": "/nonexistent/key.pem"}, [], 1),
])
def test_sign_refusals(lic_run, licgen_bin, rif, lic_test_key, tmp_path, over, extra, code):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    shutil.copy(rif, out_dir / "in.rif")
    before = listing(out_dir)
    r = lic_run(licgen_bin, *sign_args(out_dir / "in.rif", lic_test_key.priv,
                                       out_dir / "x.lic", **over), *extra)
    assert r.code == code, r
    assert len(r.err_lines) == 1 and r.err.startswith("licgen: error: "), r
    assert listing(out_dir) == before, "licgen sign left a file behind"


def python_rif(machine, macs, mode_hint="local", key=None):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = key or Ed25519PrivateKey.generate()
    body = lf.rif_body(machine.code, macs, lf.raw_public(key), mode_hint=mode_hint)
    return lf.armor_encode("rif", lf.envelope_seal("rif", body, key))


@pytest.mark.parametrize("kind", ["no-mac", "private-hint", "tampered-sig", "tampered-body",
                                  "other-signer", "license-not-rif", "garbage", "empty",
                                  "missing"])
def test_sign_refuses_bad_rif(lic_run, licgen_bin, machine, rif, lic, lic_test_key, tmp_path,
                              kind):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    bad = out_dir / "bad.rif"
    if kind == "no-mac":
        bad.write_bytes(python_rif(machine, []))
    elif kind == "private-hint":
        bad.write_bytes(python_rif(machine, machine.physical_macs, mode_hint="private"))
    elif kind in ("tampered-sig", "tampered-body", "other-signer"):
        env = lf.read_envelope(rif)
        sig, body, kid = env.sig, env.body, env.kid
        if kind == "tampered-sig":
            sig = bytes([sig[0] ^ 1]) + sig[1:]
        elif kind == "tampered-body":
            b = lf.unpack(body)
            b["project"] = "Someone Else"
            body = lf.pack(b)
        else:  # signed by a key other than the one in pubkey
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            k = Ed25519PrivateKey.generate()
            sig = k.sign(lf.signed_message("rif", body))
        bad.write_bytes(lf.armor_encode("rif", lf.envelope_encode("rif", kid, body, sig)))
    elif kind == "license-not-rif":
        shutil.copy(lic, bad)
    elif kind == "garbage":
        bad.write_bytes(os.urandom(300))
    elif kind == "empty":
        bad.write_bytes(b"")
    else:
        bad = out_dir / "missing.rif"
    before = listing(out_dir)
    r = lic_run(licgen_bin, *sign_args(bad, lic_test_key.priv, out_dir / "x.lic"))
    assert r.code == 1, r
    assert len(r.err_lines) == 1 and r.err.startswith("licgen: error: "), r
    assert listing(out_dir) == before


def test_sign_private_mode_needs_private_rif(lic_run, licgen_bin, machine, lic_test_key,
                                             tmp_path):
    """A RIF with mode_hint private signs into a private license only."""
    p = tmp_path / "srv.rif"
    p.write_bytes(python_rif(machine, machine.physical_macs, mode_hint="private"))
    out = tmp_path / "srv.lic"
    r = lic_run(licgen_bin, *sign_args(p, lic_test_key.priv, out, **{"--mode": "private"}),
                "--max-nodes", "5")
    assert r.code == 0, r
    body = lf.read_envelope(out).body_obj()
    assert body["mode"] == "private" and body["max_nodes"] == 5
    assert body["node_key"] == lf.unpack(lf.read_envelope(p).body)["pubkey"]


def test_sign_dry_run_and_json(lic_run, licgen_bin, rif, lic_test_key, tmp_path):
    out = tmp_path / "x.lic"
    r = lic_run(licgen_bin, *sign_args(rif, lic_test_key.priv, out), "--dry-run")
    assert r.code == 0, r
    assert "would sign" in r.out and not out.exists()
    r = lic_run(licgen_bin, *sign_args(rif, lic_test_key.priv, out), "--dry-run", "--json",
                "--port", "443", "--domain", "*.example.com")
    assert r.code == 0 and not out.exists(), r
    j = json.loads(r.out)
    assert j["ports"] == [443] and j["domains"] == ["*.example.com"] and j["mode"] == "local"
    r = lic_run(licgen_bin, *sign_args(rif, lic_test_key.priv, out), "--json")
    assert r.code == 0 and out.exists(), r
    j = json.loads(r.out)
    body = lf.read_envelope(out).body_obj()
    u = body["id"].hex()
    assert j["id"] == f"{u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}"


def test_sign_refuses_existing_output(lic_run, licgen_bin, rif, lic_test_key, tmp_path):
    out = tmp_path / "x.lic"
    out.write_text("old")
    r = lic_run(licgen_bin, *sign_args(rif, lic_test_key.priv, out))
    assert r.code == 1, r
    assert r.err == f"licgen: error: {out}: exists; give --force to replace it\n", r
    assert out.read_text() == "old"


def test_sign_replaces_output_atomically(lic_run, licgen_bin, rif, lic_test_key, tmp_path):
    out = tmp_path / "x.lic"
    out.write_text("old")
    r = lic_run(licgen_bin, *sign_args(rif, lic_test_key.priv, out), "--force")
    assert r.code == 0, r
    assert "BEGIN LICSRV LICENSE" in out.read_text()
    assert not [n for n in listing(tmp_path) if ".tmp" in n]


# --- hostile input to check and inspect ----------------------------------------------------

def check_and_inspect(lic_run, licctl_bin, licgen_bin, path, machine, trust):
    """Both tools must refuse with exit 1 or 2 and one error line (or, for
    inspect, its report on stdout), and never crash."""
    a = lic_run(licctl_bin, "check", path, "--domain", "a.b", "--port", "1", "--major", "11",
                "--trust", trust, sysroot=machine)
    b = lic_run(licgen_bin, "inspect", path, "--trust", trust)
    return a, b


@pytest.mark.parametrize("data", [
    b"", b"\n", b"hello world\n", b"\x80", b"\x84", b"\xc1" * 100, os.urandom(64),
    b"-----BEGIN LICSRV LICENSE-----\n-----END LICSRV LICENSE-----\n",
    b"-----BEGIN LICSRV LICENSE-----\n!!!!\n-----END LICSRV LICENSE-----\n",
    b"-----BEGIN LICSRV LICENSE-----\nhKN0eXCn\n-----END LICSRV RIF-----\n",
    b"-----BEGIN LICSRV LICENSE-----\nAAAA\n",
    b"-----BEGIN LICSRV LIC3NSE-----\nAAAA\n-----END LICSRV LIC3NSE-----\n",
    b"-----BEGIN LICSRV " + b"A" * 40 + b"-----\nAAAA\n-----END LICSRV " + b"A" * 40 + b"-----\n",
    b"\xdf\xff\xff\xff\xff" + b"\xa1a" * 10,          # map32 claiming 4G entries
    b"\x84\xa3typ\xa7license\xa3kid\xc4\x08" + b"\0" * 8 + b"\xa4body\xc6\xff\xff\xff\xff",
    b"\x81\xa3typ\xdd\xff\xff\xff\xff",              # array32 claiming 4G entries
    b"\x91" * 5000,                                   # deep nesting
    b"\x8f" * 5000,
    b"A" * 2_000_000,                                 # over the file limit
], ids=lambda d: f"{len(d)}:{d[:12].hex()}")
def test_garbage(lic_run, licctl_bin, licgen_bin, machine, lic_test_key, tmp_path, data):
    p = tmp_path / "g.lic"
    p.write_bytes(data)
    a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine, lic_test_key.pub)
    assert a.code == 1 and a.err.startswith("licctl: error: "), a
    assert b.code == 1 and b.err.startswith("licgen: error: "), b


def test_directory_and_missing_file(lic_run, licctl_bin, licgen_bin, machine, lic_test_key,
                                   tmp_path):
    for p in (tmp_path, tmp_path / "missing.lic"):
        a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine, lic_test_key.pub)
        assert a.code == 1 and b.code == 1, (a, b)


def test_truncated_license(lic_run, licctl_bin, licgen_bin, lic, machine, lic_test_key,
                           tmp_path):
    text = lic.read_bytes()
    raw = lf.unarmor_any(text)
    p = tmp_path / "t.lic"
    for data, complete in ((text, b"-----END LICSRV LICENSE-----"), (raw, None)):
        for n in range(0, len(data), 7 * STRIDE):
            p.write_bytes(data[:n])
            a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine,
                                     lic_test_key.pub)
            ok = complete is not None and complete in data[:n]
            assert a.code == (0 if ok else 1), (n, a)
            assert b.code == (0 if ok else 1), (n, b)
            if not ok:
                assert a.err.startswith("licctl: error: "), (n, a)


def test_bit_flipped_license(lic_run, licctl_bin, licgen_bin, lic, machine, lic_test_key,
                             tmp_path):
    raw = lf.unarmor_any(lic.read_bytes())
    p = tmp_path / "f.lic"
    for i in range(0, len(raw), 5 * STRIDE):
        flipped = bytearray(raw)
        flipped[i] ^= 1 << (i % 8)
        p.write_bytes(bytes(flipped))
        a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine, lic_test_key.pub)
        assert a.code == 1, (i, a)
        assert b.code == 1, (i, b)
        # and armored again: the armor must not launder it
        p.write_bytes(lf.armor_encode("license", bytes(flipped)))
        a = lic_run(licctl_bin, "check", p, "--domain", "a.b", "--port", "1",
                    "--trust", lic_test_key.pub, sysroot=machine)
        assert a.code == 1, (i, a)


def test_forged_other_key(lic_run, licctl_bin, licgen_bin, rif, machine, lic_test_key,
                          lic_vendor_key, licgen_sign, tmp_path):
    lic = licgen_sign(rif, lic_vendor_key, out=tmp_path / "other.lic")
    a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, lic, machine, lic_test_key.pub)
    assert a.code == 1 and "trust" in a.err, a
    assert b.code == 1 and re.search(r"signature\s+untrusted", b.out), b
    # the same license with the kid swapped to the trusted key's: bad signature
    env = lf.read_envelope(lic)
    p = tmp_path / "swapped.lic"
    p.write_bytes(lf.envelope_encode("license", lic_test_key.kid, env.body, env.sig))
    a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine, lic_test_key.pub)
    assert a.code == 1 and "signature" in a.err, a
    assert b.code == 1 and re.search(r"signature\s+invalid", b.out), b


@pytest.mark.parametrize("edit", [
    pytest.param(lambda b: b.update(expires=0), id="expires"),
    pytest.param(lambda b: b.update(customer="Mallory"), id="customer"),
    pytest.param(lambda b: b["machine"]["macs"].append(b"\xaa" * 16), id="add-mac"),
    pytest.param(lambda b: b.update(domains=[]), id="domains"),
])
def test_forged_edited_body(lic_run, licctl_bin, licgen_bin, rif, machine, lic_test_key,
                            licgen_sign, tmp_path, edit):
    lic = licgen_sign(rif, lic_test_key, "--domain", "a.b", "--expires", "2099-01-01")
    env = lf.read_envelope(lic)
    body = lf.unpack(env.body)
    edit(body)
    p = tmp_path / "edited.lic"
    p.write_bytes(lf.armor_encode("license", lf.envelope_encode("license", env.kid,
                                                                lf.pack(body), env.sig)))
    a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine, lic_test_key.pub)
    assert a.code == 1 and "signature" in a.err, a
    assert b.code == 1 and re.search(r"signature\s+invalid", b.out), b


def test_typ_swap(lic_run, licctl_bin, licgen_bin, rif, machine, lic_test_key, tmp_path):
    """A RIF body relabelled as a license (re-signed) is refused."""
    env = lf.read_envelope(rif)
    p = tmp_path / "swap.lic"
    p.write_bytes(lf.envelope_seal("license", env.body, lic_test_key.private_key()))
    a, b = check_and_inspect(lic_run, licctl_bin, licgen_bin, p, machine, lic_test_key.pub)
    assert a.code == 1 and b.code == 1, (a, b)
    # and a RIF given to licctl check
    a = lic_run(licctl_bin, "check", rif, "--domain", "a.b", "--port", "1",
                "--trust", lic_test_key.pub, sysroot=machine)
    assert a.code == 1 and "rif" in a.err, a


def test_bad_trust_file(lic_run, licctl_bin, licgen_bin, lic, machine, lic_test_key, tmp_path):
    for bad in (tmp_path / "missing.pem", lic_test_key.priv, lic):
        r = lic_run(licctl_bin, "check", lic, "--domain", "a.b", "--port", "1",
                    "--trust", bad, sysroot=machine)
        assert r.code in (1, 2) and r.err.startswith("licctl: error: --trust"), r
        r = lic_run(licgen_bin, "inspect", lic, "--trust", bad)
        assert r.code in (1, 2) and r.err.startswith("licgen: error: --trust"), r


# --- help, version, options -------------------------------------------------------------------

def long_options(src):
    """Long option names declared in a subcommand's struct option table."""
    text = Path(src).read_text()
    m = re.search(r"struct option opts\[\]\s*=\s*\{(.*?)\{NULL, 0, NULL, 0\}", text, re.S)
    assert m, src
    return re.findall(r'\{"([a-z][a-z0-9-]*)",', m.group(1))


def subcommands(lic_run, binary):
    r = lic_run(binary, "--help")
    assert r.code == 0, r
    body = r.out.split("commands:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\s+([a-z][a-z-]*)\s", body, re.M)


@pytest.mark.parametrize("tool,srcdir", [("licgen", "licgen"), ("licctl", "common/licctl")])
def test_help_mentions_every_option(lic_run, lic_source_dir, lic_build_dir, tool, srcdir):
    binary = lic_build_dir / "bin" / tool
    cmds = subcommands(lic_run, binary)
    assert cmds, "no commands listed"
    for cmd in cmds:
        r = lic_run(binary, cmd, "--help")
        assert r.code == 0 and r.err == "", r
        assert r.out.startswith(f"usage: {tool} {cmd}"), r
        src = lic_source_dir / srcdir / f"{HELP_SOURCE.get(cmd, cmd)}.c"
        if not src.exists():
            continue
        # listed with what it does, not only named in the usage line
        described = re.findall(r"^\s+(?:-[a-zA-Z], )?--([a-z][a-z0-9-]*)", r.out, re.M)
        for opt in long_options(src):
            if opt == "help" or opt in NOT_OPTIONS_OF.get(cmd, ()):
                continue
            if opt == "output" and "out" in described:
                continue  # "-o, --out FILE" stands for its --output spelling
            assert opt in described, f"'{tool} {cmd} --help' does not describe --{opt}"


HELP_SOURCE = {"register": "public", "unregister": "public"}
# register's options that unregister (same parser) refuses
NOT_OPTIONS_OF = {"unregister": ("project", "domain", "port", "app", "version")}


def test_unregister_refuses_register_options(lic_run, lic_build_dir, tmp_path):
    r = lic_run(lic_build_dir / "bin" / "licctl", "unregister", "http://127.0.0.1:1",
                "--domain", "a.example", "--account", "x")
    assert r.code == 2, r
    assert r.err.startswith("licctl: error: unregister: --domain is an option of 'licctl "
                            "register' only (see 'licctl unregister --help')"), r


@pytest.mark.parametrize("tool", ["licgen", "licctl", "licsrv"])
def test_help_cites_docs_not_the_spec(lic_run, lic_build_dir, tool):
    """Users have docs/, not the SPEC: no help text (and so no man page, made
    from the help) cites "SPEC"."""
    binary = lic_build_dir / "bin" / tool
    texts = [lic_run(binary, "--help").out]
    for cmd in subcommands(lic_run, binary):
        r = lic_run(binary, cmd, "--help")
        assert r.code == 0, r
        texts.append(r.out)
    for t in texts:
        assert "SPEC" not in t, t


@pytest.mark.parametrize("tool", ["licgen", "licctl"])
def test_version_and_usage(lic_run, lic_build_dir, tool):
    binary = lic_build_dir / "bin" / tool
    r = lic_run(binary, "--version")
    assert r.code == 0 and re.fullmatch(rf"{tool} \d+\.\d+\.\d+\n", r.out), r
    r = lic_run(binary, check_stderr=False)
    assert r.code == 2 and "usage:" in r.err, r
    r = lic_run(binary, "no-such-command")
    assert r.code == 2 and r.err.startswith(f"{tool}: error: "), r
    for cmd in subcommands(lic_run, binary):
        r = lic_run(binary, cmd, "--no-such-option")
        assert r.code == 2 and r.err.startswith(f"{tool}: error: "), r
        assert len(r.err_lines) == 1, r


# --- key files ---------------------------------------------------------------------------------

def test_keygen_refuses_to_overwrite(lic_run, licgen_bin, tmp_path):
    k = tmp_path / "v.pem"
    assert lic_run(licgen_bin, "keygen", "-o", k).code == 0
    priv, pub = k.read_bytes(), (tmp_path / "v.pub.pem").read_bytes()
    r = lic_run(licgen_bin, "keygen", "-o", k)
    assert r.code == 1 and r.err.startswith("licgen: error: ") and "exists" in r.err, r
    assert k.read_bytes() == priv and (tmp_path / "v.pub.pem").read_bytes() == pub
    assert (k.stat().st_mode & 0o777) == 0o600
    assert listing(tmp_path) == ["v.pem", "v.pub.pem"]


def test_keygen_usage(lic_run, licgen_bin, tmp_path):
    r = lic_run(licgen_bin, "keygen")
    assert r.code == 2 and "-o" in r.err, r
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "k.pem", "extra")
    assert r.code == 2, r
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "k.pem", "--passphrase-file",
                tmp_path / "missing")
    assert r.code == 1 and not (tmp_path / "k.pem").exists(), r
    empty = tmp_path / "empty"
    empty.write_text("\n")
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "k.pem", "--passphrase-file", empty)
    assert r.code == 1 and not (tmp_path / "k.pem").exists(), r
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "nodir" / "k.pem")
    assert r.code == 1, r


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_sign_refuses_readable_key(lic_run, licgen_bin, rif, lic_test_key, tmp_path, mode):
    k = tmp_path / "k.pem"
    shutil.copy(lic_test_key.priv, k)
    k.chmod(mode)
    out = tmp_path / "x.lic"
    r = lic_run(licgen_bin, *sign_args(rif, k, out))
    assert r.code == 1 and r.err.startswith("licgen: error: --key"), r
    assert "chmod 600" in r.err
    assert not out.exists()


def test_sign_refuses_public_key_as_key(lic_run, licgen_bin, rif, lic_test_key, tmp_path):
    k = tmp_path / "k.pem"
    shutil.copy(lic_test_key.pub, k)
    k.chmod(0o600)
    r = lic_run(licgen_bin, *sign_args(rif, k, tmp_path / "x.lic"))
    assert r.code == 1, r
    assert not (tmp_path / "x.lic").exists()


def test_instance_key_reused_and_guarded(lic_run, licctl_bin, machine, tmp_path):
    st = tmp_path / "st"
    args = ["rif", "--project", "P", "--product", "X", "--version", "1", "--state", st]
    assert lic_run(licctl_bin, *args, "-o", tmp_path / "a.rif", sysroot=machine).code == 0
    (st / "instance.pem").chmod(0o644)
    r = lic_run(licctl_bin, *args, "-o", tmp_path / "b.rif", sysroot=machine)
    assert r.code == 1 and "instance.pem" in r.err, r
    assert not (tmp_path / "b.rif").exists()


def test_rif_to_stdout(lic_run, licctl_bin, machine, tmp_path):
    r = lic_run(licctl_bin, "rif", "--project", "P", "--product", "X", "--version", "1",
                "--state", tmp_path / "st", "-o", "-", sysroot=machine)
    assert r.code == 0, r
    env = lf.envelope_decode(lf.armor_decode(r.out)[1])
    env.verify(env.body_obj()["pubkey"])


@pytest.mark.parametrize("args", [
    ["--project", ""], ["--project", "x" * 129], ["--product", "a\tb"], ["--version", ""],
])
def test_rif_name_limits(lic_run, licctl_bin, machine, tmp_path, args):
    base = {"--project": "P", "--product": "X", "--version": "1"}
    base[args[0]] = args[1]
    argv = ["rif", "--state", tmp_path / "st", "-o", tmp_path / "r.rif"]
    for k, v in base.items():
        argv += [k, v]
    r = lic_run(licctl_bin, *argv, sysroot=machine)
    assert r.code == 2 and r.err.startswith("licctl: error: "), r
    assert not (tmp_path / "r.rif").exists()


def test_rif_unicode_names(lic_run, licctl_bin, machine, tmp_path):
    out = tmp_path / "u.rif"
    r = lic_run(licctl_bin, "rif", "--project", "Отчёты 報告", "--product", "X",
                "--version", "11.0.18", "--state", tmp_path / "st", "-o", out, sysroot=machine)
    assert r.code == 0, r
    assert lf.read_envelope(out).body_obj()["project"] == "Отчёты 報告"


@pytest.mark.parametrize("which", ["rif", "license"])
def test_inspect_from_stdin(lic_run, licgen_bin, rif, lic, lic_test_key, which):
    data = (rif if which == "rif" else lic).read_bytes()
    r = lic_run(licgen_bin, "inspect", "-", "--trust", lic_test_key.pub, "--json", stdin=data)
    assert r.code == 0, r
    j = json.loads(r.out)
    assert j["typ"] == which and j["signature"] == "valid" and j["ok"] is True, j


def test_inspect_rif_tampered(lic_run, licgen_bin, rif, tmp_path):
    env = lf.read_envelope(rif)
    p = tmp_path / "t.rif"
    p.write_bytes(lf.envelope_encode("rif", env.kid, env.body, bytes(64)))
    r = lic_run(licgen_bin, "inspect", p, "--json")
    assert r.code == 1 and json.loads(r.out)["signature"] == "invalid", r


def test_keygen_failure_leaves_no_private_key(lic_run, licgen_bin, tmp_path):
    """If the public half cannot be written, the run fails whole: no orphan
    private key that would block the retry with 'file exists'."""
    (tmp_path / "v.pub.pem").mkdir()
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "v.pem")
    assert r.code == 1 and r.err.startswith("licgen: error: "), r
    assert listing(tmp_path) == ["v.pub.pem"]


def test_inspect_shows_dates(lic_run, licgen_bin, lic_source_dir):
    """People see UTC RFC 3339 dates; JSON keeps the seconds and adds KEY_at."""
    vec = lic_source_dir / "tests/vectors/license-local.lic"
    trust = lic_source_dir / "keys/test/test-root.pub.pem"
    r = lic_run(licgen_bin, "inspect", vec, "--trust", trust)
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert "issued           2026-01-01T00:00:00Z" in lines, r.out
    assert "not_before       2026-01-01T00:00:00Z" in lines, r.out
    assert "expires          2027-01-01T00:00:00Z" in lines, r.out
    r = lic_run(licgen_bin, "inspect", vec, "--trust", trust, "--json")
    body = json.loads(r.out)["body"]
    assert body["issued"] == 1767225600 and body["issued_at"] == "2026-01-01T00:00:00Z", body
    assert body["expires"] == 1798761600 and body["expires_at"] == "2027-01-01T00:00:00Z", body
