"""licgen renew and licgen account --renew (docs/operations.md, "Renewing and
upgrading"): a successor from the license or account file alone, cross-checked
with the independent Python reader (lictest_formats)."""

import json
import time

import pytest

import lictest_formats as lf

DAY = 86400


@pytest.fixture
def machine(lic_machine):
    return lic_machine(nics=[("eth0", "52:54:00:ab:cd:01", True)])


@pytest.fixture
def old_license(machine, licctl_rif, licgen_sign, lic_test_key, tmp_path):
    rif = licctl_rif(machine)
    return licgen_sign(rif, lic_test_key, "--domain", "reports.example.com", "--port", "8443",
                       "--app", "sales", "--heartbeat", "600", "--grace", "7200",
                       expires="2099-01-01", out=tmp_path / "old.lic")


def renew(lic_run, licgen_bin, old, key, *extra):
    return lic_run(licgen_bin, "renew", old, "--key", getattr(key, "priv", key), *extra)


def test_renew_copies_every_term_not_given(lic_run, licgen_bin, old_license, lic_test_key,
                                           tmp_path):
    new = tmp_path / "new.lic"
    r = renew(lic_run, licgen_bin, old_license, lic_test_key, "--features", "reports,export,charts",
              "--expires", "2100-01-01", "-o", new)
    assert r.code == 0, r
    o_env, n_env = lf.read_envelope(old_license), lf.read_envelope(new)
    n_env.verify(lic_test_key.pub_raw)
    o, n = o_env.body_obj(), n_env.body_obj()
    assert n["supersedes"] == o["id"] and n["id"] != o["id"]
    assert lf.binding_diff(o, n) is None
    assert n["issued"] >= o["issued"] and abs(n["issued"] - time.time()) < 120
    assert n["features"] == ["reports", "export", "charts"]
    assert n["expires"] == 4102444800  # 2100-01-01T00:00:00Z
    for k in ("domains", "ports", "apps", "major", "heartbeat", "grace", "not_before",
              "max_nodes"):
        assert n[k] == o[k], k
    # the human lines say the end one way, and name the license renewed
    text = new.read_text()
    assert "# valid until 2100-01-01T00:00:00Z, last day 2099-12-31" in text
    u = o["id"].hex()
    assert f"# renews: {u[:8]}-{u[8:12]}-{u[12:16]}-{u[16:20]}-{u[20:]}" in text
    assert "renews" in r.err


def test_renew_ahead_at_the_exact_second(lic_run, licgen_bin, old_license, lic_test_key, tmp_path):
    new = tmp_path / "new.lic"
    r = renew(lic_run, licgen_bin, old_license, lic_test_key, "--not-before",
              "2099-01-01T00:00:00Z", "--expires", "2100-01-01", "-o", new)
    assert r.code == 0, r
    o, n = lf.read_envelope(old_license).body_obj(), lf.read_envelope(new).body_obj()
    assert n["not_before"] == o["expires"] == 4070908800


def test_renew_dry_run_side_by_side(lic_run, licgen_bin, old_license, lic_test_key, tmp_path):
    new = tmp_path / "new.lic"
    r = renew(lic_run, licgen_bin, old_license, lic_test_key, "--port", "443", "--dry-run")
    assert r.code == 0, r
    assert not new.exists()
    lines = {ln.split()[1] if ln.startswith("*") else ln.split()[0]: ln
             for ln in r.out.splitlines()[2:]}
    assert lines["ports"].startswith("*") and "[8443]" in lines["ports"] and "[443]" in lines["ports"]
    assert lines["supersedes"].startswith("*")
    assert not lines["customer"].startswith("*") and not lines["domains"].startswith("*")
    assert "last_day" in lines
    r = renew(lic_run, licgen_bin, old_license, lic_test_key, "--port", "443", "--dry-run", "--json")
    assert r.code == 0, r
    j = json.loads(r.out)
    assert j["dry_run"] is True
    assert j["old"]["ports"] == [8443] and j["new"]["ports"] == [443]
    assert j["new"]["supersedes"] == j["old"]["id"]
    assert j["new"]["valid_until"] == "2099-01-01T00:00:00Z" and j["new"]["last_day"] == "2098-12-31"


def test_renew_refuses_another_root_unless_forced(lic_run, licgen_bin, old_license, lic_test_key,
                                                  lic_vendor_key, tmp_path):
    new = tmp_path / "new.lic"
    r = renew(lic_run, licgen_bin, old_license, lic_vendor_key, "-o", new)
    assert r.code == 1 and not new.exists(), r
    assert "not in the trust store" in r.err
    r = renew(lic_run, licgen_bin, old_license, lic_vendor_key, "--trust", lic_test_key.pub,
              "-o", new)
    assert r.code == 1 and not new.exists(), r
    assert f"signed by root key {lic_test_key.kid.hex()}" in r.err and "--force" in r.err
    r = renew(lic_run, licgen_bin, old_license, lic_vendor_key, "--trust", lic_test_key.pub,
              "--force", "-o", new)
    assert r.code == 0, r
    n = lf.read_envelope(new)
    assert n.kid == lic_vendor_key.kid
    n.verify(lic_vendor_key.pub_raw)


def test_renew_refuses_forged_and_wrong_files(lic_run, licgen_bin, old_license, lic_test_key,
                                              tmp_path):
    # a body edited after signing: no genuine successor for it
    env = lf.read_envelope(old_license)
    body = env.body_obj()
    body["max_nodes"] = 999
    forged = tmp_path / "forged.lic"
    forged.write_bytes(lf.envelope_encode("license", env.kid, lf.pack(body), env.sig))
    r = renew(lic_run, licgen_bin, forged, lic_test_key, "-o", tmp_path / "n1.lic")
    assert r.code == 1 and "signature" in r.err, r
    assert not (tmp_path / "n1.lic").exists()
    # a RIF, an account, garbage, a missing file: one-line errors, exit 1
    acct = tmp_path / "a.acct"
    assert lic_run(licgen_bin, "account", "--key", lic_test_key.priv, "--customer", "C",
                   "--capacity", "2", "-o", acct).code == 0
    r = renew(lic_run, licgen_bin, acct, lic_test_key, "-o", tmp_path / "n2.lic")
    assert r.code == 1 and "licgen account --renew" in r.err, r
    junk = tmp_path / "junk.lic"
    junk.write_bytes(b"\x93\x01\x02")
    for f in (junk, tmp_path / "missing.lic"):
        r = renew(lic_run, licgen_bin, f, lic_test_key, "-o", tmp_path / "n3.lic")
        assert r.code == 1 and len(r.err_lines) == 1, r
    # usage: no file, no -o
    assert renew(lic_run, licgen_bin, old_license, lic_test_key).code == 2
    assert lic_run(licgen_bin, "renew", "--key", lic_test_key.priv, "-o", "x").code == 2
    # an old license that ended needs a new end
    r = renew(lic_run, licgen_bin, old_license, lic_test_key, "--expires", "2001-01-01",
              "-o", tmp_path / "n4.lic")
    assert r.code == 2 and "in the past" in r.err


def test_renew_output_not_replaced(lic_run, licgen_bin, old_license, lic_test_key, tmp_path):
    new = tmp_path / "new.lic"
    new.write_text("keep me")
    r = renew(lic_run, licgen_bin, old_license, lic_test_key, "-o", new)
    assert r.code == 1 and new.read_text() == "keep me", r


def test_account_renew_keeps_id_and_token(lic_run, licgen_bin, lic_test_key, tmp_path):
    a1, a2, a3 = tmp_path / "a1.acct", tmp_path / "a2.acct", tmp_path / "a3.acct"
    r = lic_run(licgen_bin, "account", "--key", lic_test_key.priv, "--customer", "Cloud Corp",
                "--capacity", "3", "--features", "reports", "--expires", "2099-01-01", "-o", a1)
    assert r.code == 0, r
    token = r.out.split("token ")[1].strip()
    r = lic_run(licgen_bin, "account", "--renew", a1, "--key", lic_test_key.priv,
                "--capacity", "10", "--expires", "2100-01-01", "-o", a2)
    assert r.code == 0, r
    assert "token" not in r.out and "unchanged" in r.err
    o, n = lf.read_envelope(a1).body_obj(), lf.read_envelope(a2).body_obj()
    lf.read_envelope(a2).verify(lic_test_key.pub_raw)
    assert n["id"] == o["id"] and n["token_hash"] == o["token_hash"] == lf.token_hash(token)
    assert n["capacity"] == 10 and n["expires"] == 4102444800
    assert n["features"] == ["reports"] and n["customer"] == "Cloud Corp"
    assert n["issued"] > o["issued"] or n["issued"] == o["issued"] + 1
    # a new token on purpose: printed once, a new hash
    r = lic_run(licgen_bin, "account", "--renew", a2, "--key", lic_test_key.priv, "--new-token",
                "--json", "-o", a3)
    assert r.code == 0, r
    j = json.loads(r.out)
    n3 = lf.read_envelope(a3).body_obj()
    assert lf.TOKEN_RE.match(j["token"]) and n3["token_hash"] == lf.token_hash(j["token"])
    assert n3["id"] == o["id"] and n3["capacity"] == 10 and n3["issued"] > n["issued"] - 1
    # dry run: side by side, nothing written
    r = lic_run(licgen_bin, "account", "--renew", a1, "--key", lic_test_key.priv,
                "--capacity", "7", "--dry-run")
    assert r.code == 0 and "* capacity" in r.out and "3" in r.out and "7" in r.out, r
    # --new-token without --renew is a usage error; a license is not an account
    assert lic_run(licgen_bin, "account", "--key", lic_test_key.priv, "--customer", "C",
                   "--capacity", "1", "--new-token", "-o", tmp_path / "x.acct").code == 2
