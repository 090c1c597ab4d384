"""End-to-end: offline checks honour signed revocation lists (issue 24 item
2, docs/revocation.md): `licctl check` and `licctl activation` take
--revocations F, keep the newest list in their state directory, read
`revoked` (exit 1) for a listed local license or activation even after F is
gone, and never let an older list replace a newer one."""
import json
import stat

import pytest

import lictest_formats as lf

OTHER = "50515253-5455-5657-5859-5a5b5c5d5e5f"


@pytest.fixture
def revoke(lic_run, licgen_bin, lic_test_key, tmp_path):
    def run(out, *args):
        r = lic_run(licgen_bin, "revoke", "--key", lic_test_key.priv, *args, "-o", tmp_path / out)
        assert r.code == 0, r
        return tmp_path / out
    return run


@pytest.fixture
def local(lic_machine, licctl_rif, lic_test_key, licgen_sign, lic_run, licctl_bin, tmp_path):
    machine = lic_machine()
    lic = licgen_sign(licctl_rif(machine), lic_test_key, expires="2099-12-31")
    state = tmp_path / "check-state"

    def check(*extra):
        return lic_run(licctl_bin, "check", lic, "--domain", "reports.example.com", "--port",
                       "443", "--major", "11", "--trust", lic_test_key.pub, "--state", state,
                       *extra, sysroot=machine)

    r = check("--json")
    assert r.code == 0, r
    return check, json.loads(r.out)["license"], state


def test_revoked_local_license(local, revoke, lic_test_key):
    check, lic_id, state = local
    old = revoke("r1.rev", "--license", OTHER)                     # seq 1: another license
    new = revoke("r2.rev", "--list", old, "--license", lic_id)     # seq 2: this one too
    r = check("--revocations", old)
    assert r.code == 0 and r.out.startswith("valid:"), r
    kept = state / "revocations.rev"
    assert kept.read_bytes() == lf.unarmor_any(old.read_bytes())
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600

    r = check("--revocations", new)
    assert r.code == 1, r
    assert r.out == "denied: revoked: the license is on the vendor's revocation list (seq 2)\n", r
    r = check("--json")
    assert r.code == 1 and json.loads(r.out)["status"] == "revoked", r
    # the list shipped beside the product is gone: the kept copy still counts
    new.unlink()
    r = check()
    assert r.code == 1 and "revoked" in r.out, r
    # an older list never replaces the newer one
    r = check("--revocations", old)
    assert r.code == 1 and "revoked" in r.out, r
    body = lf.check_revocations(lf.envelope_decode(kept.read_bytes()).body_obj())
    assert body["seq"] == 2


def test_bad_lists_refused(local, revoke, lic_test_key, lic_vendor_key, tmp_path):
    check, lic_id, state = local
    good = revoke("r1.rev", "--license", OTHER)
    assert check("--revocations", good).code == 0
    kept = (state / "revocations.rev").read_bytes()
    # forged: a root this check does not trust, with a higher seq, listing the license
    forged = tmp_path / "forged.rev"
    body = lf.revocations_body(99, [bytes.fromhex(lic_id.replace("-", ""))])
    forged.write_bytes(lf.envelope_seal("revocations", body, lic_vendor_key.private_key()))
    r = check("--revocations", forged)
    assert r.code == 1, r
    assert r.err.startswith(f"licctl: error: {forged}: ") and "trust store" in r.err, r
    # the same seq with other content: refused, not an update
    same = tmp_path / "same.rev"
    body = lf.revocations_body(1, [bytes.fromhex(lic_id.replace("-", ""))])
    same.write_bytes(lf.envelope_seal("revocations", body, lic_test_key.private_key()))
    r = check("--revocations", same)
    assert r.code == 1 and "seq 1 is already kept" in r.err, r
    # not a list; a missing file
    r = check("--revocations", tmp_path / "missing.rev")
    assert r.code == 1 and "missing.rev" in r.err, r
    assert (state / "revocations.rev").read_bytes() == kept
    assert check().code == 0
    # a damaged kept copy fails closed, and says how to start over
    (state / "revocations.rev").write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
    r = check()
    assert r.code == 1 and "remove it to start over" in r.err, r


@pytest.fixture
def designer(lic_run, licgen_bin, licctl_bin, lic_test_key, lic_machine, tmp_path):
    machine = lic_machine()
    csv = tmp_path / "codes.csv"
    r = lic_run(licgen_bin, "codes", "--key", lic_test_key.priv, "--product", "7", "--count", "1",
                "--first-serial", "4242", "-o", csv, "--ledger", tmp_path / "ledger")
    assert r.code == 0, r
    code = csv.read_text().splitlines()[1].split(",")[1]
    state = tmp_path / "designer-state"
    r = lic_run(licctl_bin, "activate", code, "--product", "7", "--state", state, "--trust",
                lic_test_key.pub, sysroot=machine)
    assert r.code == 0, r

    def activation(*extra):
        return lic_run(licctl_bin, "activation", "--state", state, "--trust", lic_test_key.pub,
                       *extra, sysroot=machine)

    return activation, state


def test_revoked_activation(designer, revoke):
    activation, state = designer
    old = revoke("a1.rev", "--serial", "7:4241", "--serial", "8:4242")  # neighbours only
    new = revoke("a2.rev", "--list", old, "--serial", "7:4242")
    r = activation("--revocations", old)
    assert r.code == 0 and r.out.startswith("valid: product 7, serial 4242"), r
    r = activation("--revocations", new)
    assert r.code == 1, r
    assert r.err == ("licctl: error: activation: revoked: product 7, serial 4242 is on the "
                     "vendor's revocation list (seq 2)\n"), r
    new.unlink()
    r = activation("--json")
    assert r.code == 1, r
    j = json.loads(r.out)
    assert (j["status"], j["serial"], j["product"]) == ("revoked", 4242, 7)
    assert "seq 2" in j["reason"]
    r = activation("--revocations", old)
    assert r.code == 1 and "revoked" in r.err, r


def test_revoked_code_not_activated(lic_run, licctl_bin, licgen_bin, lic_test_key, lic_machine,
                                    tmp_path, revoke):
    machine = lic_machine()
    csv = tmp_path / "codes.csv"
    r = lic_run(licgen_bin, "codes", "--key", lic_test_key.priv, "--product", "9", "--count", "2",
                "--first-serial", "10", "-o", csv, "--ledger", tmp_path / "ledger")
    assert r.code == 0, r
    rows = [line.split(",") for line in csv.read_text().splitlines()[1:]]
    state = tmp_path / "s"
    listed = revoke("c.rev", "--serial", "9:10")

    def activate(code, *extra):
        return lic_run(licctl_bin, "activate", code, "--product", "9", "--state", state,
                       "--trust", lic_test_key.pub, *extra, sysroot=machine)

    r = activate(rows[0][1], "--revocations", listed)
    assert r.code == 1, r
    assert r.err == ("licctl: error: activate: revoked: product 9, serial 10 is on the vendor's "
                     "revocation list (seq 1): not activated\n"), r
    assert not (state / "activation").exists()
    # the kept list counts without the file; serial 11 is not on it
    assert activate(rows[0][1]).code == 1
    r = activate(rows[1][1])
    assert r.code == 0 and "serial 11" in r.out, r
