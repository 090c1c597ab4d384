"""End-to-end: one vocabulary across licgen, licctl and licsrv (issue 10 item
13): unknown options named, -o/--out/--output alike, check's --version,
usage errors exit 2, what a wrong --key or a wrong port is, plurals, and
counts that must be positive."""
import os
import shutil

import pytest

import srvutil
from srvchain import ROOT_PUB, Server, node_pub, verify

COMMANDS = {
    "licgen": ["keygen", "sign", "codes", "inspect", "account", "certify", "revoke"],
    "licctl": ["rif", "check", "verify", "activate", "activation", "agent", "status",
               "register", "unregister"],
    "licsrv": ["init", "rif", "import", "status", "token", "backup", "export", "forget",
               "purge", "serve", "rekey", "licenses", "accounts", "nodes", "failures", "audit",
               "revoke", "trust"],
}


@pytest.mark.parametrize("tool,cmd", [(t, c) for t, cs in COMMANDS.items() for c in cs])
def test_unknown_option_is_named(lic_run, lic_bin_dir, tool, cmd):
    r = lic_run(lic_bin_dir / tool, cmd, "--bogus")
    assert r.code == 2, r
    assert r.err == f"{tool}: error: {cmd}: unknown option '--bogus' (see '{tool} {cmd} --help')\n", r


@pytest.mark.parametrize("form", [["--activation", "1:1"], ["--project", "p"]])
def test_unknown_option_is_named_by_release(lic_run, lic_bin_dir, form):
    # release picks its form first (--activation, --project ...): the form's
    # parser names what it does not know.
    r = lic_run(lic_bin_dir / "licsrv", "release", *form, "--bogus")
    assert r.code == 2, r
    assert "unknown option '--bogus'" in r.err, r


def test_option_needing_a_value(lic_run, lic_bin_dir):
    r = lic_run(lic_bin_dir / "licgen", "keygen", "--out")
    assert r.code == 2 and "'--out' needs a value" in r.err, r
    r = lic_run(lic_bin_dir / "licctl", "rif", "-o")
    assert r.code == 2 and "'-o' needs a value" in r.err, r


def test_out_and_output_alike(lic_run, lic_bin_dir, lic_machine, tmp_path):
    for i, spelling in enumerate(["-o", "--out", "--output"]):
        k = tmp_path / f"k{i}.pem"
        assert lic_run(lic_bin_dir / "licgen", "keygen", spelling, k).code == 0
        assert k.exists()
    m = lic_machine()
    for i, spelling in enumerate(["-o", "--out", "--output"]):
        out = tmp_path / f"r{i}.rif"
        r = lic_run(lic_bin_dir / "licctl", "rif", "--project", "P", "--product", "X",
                    "--version", "1", "--state", tmp_path / "st", spelling, out, sysroot=m)
        assert r.code == 0 and out.exists(), r
    data = tmp_path / "srv"
    assert lic_run(lic_bin_dir / "licsrv", "init", "--data", data, sysroot=m).code == 0
    for i, spelling in enumerate(["-o", "--out", "--output"]):
        out = tmp_path / f"s{i}.rif"
        r = lic_run(lic_bin_dir / "licsrv", "rif", "--data", data, "--project", "P", "--product",
                    "X", "--version", "1", spelling, out, sysroot=m)
        assert r.code == 0 and out.exists(), r


def test_plural_network_adapter(lic_run, lic_bin_dir, lic_machine, tmp_path):
    m = lic_machine()  # one physical NIC
    out = tmp_path / "a.rif"
    r = lic_run(lic_bin_dir / "licctl", "rif", "--project", "P", "--product", "X", "--version",
                "1", "--state", tmp_path / "st", "-o", out, sysroot=m)
    assert r.code == 0 and r.err.endswith(", 1 network adapter)\n"), r
    m.add_nic("eth1", "52:54:00:12:34:57")
    r = lic_run(lic_bin_dir / "licctl", "rif", "--project", "P", "--product", "X", "--version",
                "1", "--state", tmp_path / "st", "-o", tmp_path / "b.rif", sysroot=m)
    assert r.code == 0 and r.err.endswith(", 2 network adapters)\n"), r


@pytest.fixture
def local_lic(lic_machine, licctl_rif, licgen_sign, lic_test_key):
    m = lic_machine()
    return m, licgen_sign(licctl_rif(m), lic_test_key, "--domain", "a.example.com")


def test_check_accepts_version_like_verify(lic_run, lic_bin_dir, local_lic, lic_test_key):
    m, lic = local_lic
    base = ["check", lic, "--trust", lic_test_key.pub, "--domain", "a.example.com", "--port", "1"]
    r = lic_run(lic_bin_dir / "licctl", *base, "--version", "11.0.18", sysroot=m)
    assert r.code == 0 and r.out.startswith("valid: "), r
    r = lic_run(lic_bin_dir / "licctl", *base, "--version", "12.1", sysroot=m)
    assert r.code == 1 and r.out.startswith("denied: version_denied: "), r
    r = lic_run(lic_bin_dir / "licctl", *base, "--major", "11", sysroot=m)
    assert r.code == 0, r
    r = lic_run(lic_bin_dir / "licctl", *base, "--version", "x.1", sysroot=m)
    assert r.code == 2 and "--version: 'x.1' does not start with a major version number" in r.err
    r = lic_run(lic_bin_dir / "licctl", *base, "--version", "11", "--major", "11", sysroot=m)
    assert r.code == 2 and "give --version or --major, not both" in r.err


def test_trust_store_of_one_key(lic_run, lic_bin_dir, local_lic, lic_vendor_key):
    m, lic = local_lic
    r = lic_run(lic_bin_dir / "licctl", "check", lic, "--trust", lic_vendor_key.pub, "--domain",
                "a.example.com", "--port", "1", "--major", "11", sysroot=m)
    assert r.code == 1 and "is not in the trust store (1 key)" in r.err, r


@pytest.mark.parametrize("url,why", [
    ("not a url", "'not a url' is not a URL (https://HOST:PORT)"),
    ("ftp://127.0.0.1:1", "only http:// and https:// URLs are supported"),
])
def test_verify_bad_url_is_a_usage_error(lic_run, lic_bin_dir, url, why):
    r = lic_run(lic_bin_dir / "licctl", "verify", url, "--domain", "a.b", "--port", "1",
                "--node", "n")
    assert r.code == 2, r
    assert r.err == f"licctl: error: {url}: invalid argument: {why}\n", r


@pytest.mark.parametrize("url", ["ftp://127.0.0.1:1", "licsrv.example.com", "http://", "https://"])
def test_activate_bad_server_url_is_a_usage_error(lic_run, lic_bin_dir, tmp_path, url):
    r = lic_run(lic_bin_dir / "licctl", "activate", "AAAA", "--product", "1", "--server", url,
                "--state", tmp_path / "st")
    assert r.code == 2, r
    assert r.err == (f"licctl: error: activate: --server: '{url}' is not a URL this client "
                     "speaks (https://HOST:PORT or http://HOST:PORT) (see 'licctl activate "
                     "--help')\n"), r


def test_sign_with_a_public_key(lic_run, lic_bin_dir, lic_machine, licctl_rif, tmp_path,
                                lic_vendor_key):
    rif = licctl_rif(lic_machine())
    pub = tmp_path / "vendor.pub.pem"
    shutil.copy(lic_vendor_key.pub, pub)
    for mode in (0o644, 0o600):
        pub.chmod(mode)
        r = lic_run(lic_bin_dir / "licgen", "sign", rif, "--key", pub, "--mode", "local",
                    "--customer", "C", "--features", "a", "--major", "1", "--expires", "never",
                    "-o", tmp_path / "x.lic")
        assert r.code == 1, r
        assert r.err == (f"licgen: error: --key: invalid key: {pub}: this is a public key; give "
                         "the private key (the file without .pub)\n"), r


def test_codes_count_zero(lic_run, lic_bin_dir, lic_test_key, tmp_path):
    r = lic_run(lic_bin_dir / "licgen", "codes", "--key", lic_test_key.priv, "--product", "1",
                "--count", "0", "-o", tmp_path / "c.csv")
    assert r.code == 2, r
    assert "--count: value exceeds a limit: 0: must be at least 1" in r.err, r


@pytest.fixture(scope="module")
def one_seat(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("vocab") / "data", threads=1, max_nodes=1)
    s.start()
    yield s
    s.finish()


def test_verify_against_the_admin_port(lic_run, lic_bin_dir, one_seat):
    url = "http://127.0.0.1:%d" % one_seat.admin_port
    r = lic_run(lic_bin_dir / "licctl", "verify", url, "--trust", ROOT_PUB, "--domain",
                "localhost", "--port", "443", "--node", "n", "--version", "11.0.0")
    assert r.code == 1, r
    assert r.err.startswith(f"licctl: error: {url}: not found: no license server's verify API "
                            "here: it answered HTTP 404"), r
    assert r.err.endswith("to POST /v1/verify (the admin port, or another server?)\n"), r


def test_one_seat_wording(one_seat):
    pub = node_pub(one_seat.data)
    kw = dict(domain="localhost", port=443, version="11.2.0", lic=one_seat.license_id)
    assert verify(one_seat.port, node_pub=pub, node="a", **kw)["status"] == "valid"
    v = verify(one_seat.port, node_pub=pub, node="b", **kw)
    assert v["status"] == "seats_exhausted" and v["reason"] == "the one node seat is taken", v
