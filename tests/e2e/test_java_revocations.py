"""End-to-end: the Java client's offline checks honour signed revocation
lists and the clock mark like licctl (issue 24, docs/revocation.md): `java
-jar liblic.jar check|activation --revocations F` keep the newest list in the
same state directory file as licctl (`revocations.rev`), a listed local
license or activation reads revoked offline, a forged list is refused, an
older one never replaces a newer one, and a clock set back two hours below
STATE/clock reads clock_rollback. Same lines as licctl, the tool's name aside."""
import json
import os
import time

import pytest

import javautil
import lictest_formats as lf
from test_revoke_offline import OTHER, revoke  # noqa: F401


@pytest.fixture(autouse=True)
def _jar():
    javautil.need_jar()


@pytest.fixture
def local(lic_machine, licctl_rif, lic_test_key, licgen_sign, lic_run, licctl_bin, tmp_path):
    """A local license on a fake machine: (licctl check, liblic.jar check, its id, state)."""
    machine = lic_machine()
    lic = licgen_sign(licctl_rif(machine), lic_test_key, expires="2099-12-31")
    state = tmp_path / "check-state"
    args = ["check", lic, "--domain", "reports.example.com", "--port", "443", "--major", "11",
            "--trust", lic_test_key.pub, "--state", state]

    def c(*extra):
        return lic_run(licctl_bin, *args, *extra, sysroot=machine)

    def j(*extra):
        return jar(lic_run, machine, *args, *extra)

    r = c("--json")
    assert r.code == 0, r
    return c, j, json.loads(r.out)["license"], state


@pytest.fixture
def designer(lic_run, licgen_bin, licctl_bin, lic_test_key, lic_machine, tmp_path):
    """An activation of product 7 serial 4242: (licctl activation, liblic.jar activation)."""
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
    args = ["activation", "--state", state, "--trust", lic_test_key.pub]

    def c(*extra):
        return lic_run(licctl_bin, *args, *extra, sysroot=machine)

    def j(*extra):
        return jar(lic_run, machine, *args, *extra)

    return c, j


def jar(lic_run, machine, *args):
    """java -jar liblic.jar under lic_run's environment (HOME, LIC_SYSROOT) and checks."""
    return lic_run("java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-jar", javautil.JAR,
                   *args, sysroot=machine)


def test_java_revoked_local_license(local, revoke):  # noqa: F811
    check, jcheck, lic_id, state = local
    old = revoke("r1.rev", "--license", OTHER)
    new = revoke("r2.rev", "--list", old, "--license", lic_id)
    r = jcheck("--revocations", old)
    assert r.code == 0 and r.out.startswith("valid:"), r
    kept = state / "revocations.rev"
    assert kept.read_bytes() == lf.unarmor_any(old.read_bytes())
    assert oct(os.stat(kept).st_mode & 0o777) == "0o600"
    r = jcheck("--revocations", new)
    assert r.code == 1, r
    assert r.out == "denied: revoked: the license is on the vendor's revocation list (seq 2)\n", r
    c = check()  # licctl reads the list the Java client kept
    assert c.code == 1 and c.out == r.out, (c, r)
    new.unlink()
    r = jcheck("--json")
    assert r.code == 1 and json.loads(r.out)["status"] == "revoked", r
    # an older list never replaces the newer one
    r = jcheck("--revocations", old)
    assert r.code == 1 and "revoked" in r.out, r
    assert lf.envelope_decode(kept.read_bytes()).body_obj()["seq"] == 2


def test_java_refuses_forged_and_damaged_lists(local, revoke, lic_test_key,  # noqa: F811
                                               lic_vendor_key, tmp_path):
    check, jcheck, lic_id, state = local
    good = revoke("r1.rev", "--license", OTHER)
    assert jcheck("--revocations", good).code == 0
    kept = (state / "revocations.rev").read_bytes()
    forged = tmp_path / "forged.rev"
    body = lf.revocations_body(99, [bytes.fromhex(lic_id.replace("-", ""))])
    forged.write_bytes(lf.envelope_seal("revocations", body, lic_vendor_key.private_key()))
    r = jcheck("--revocations", forged)
    c = check("--revocations", forged)
    assert r.code == 1 and c.code == 1, (r, c)
    assert r.err.startswith(f"liblic: error: {forged}: ") and "trust store" in r.err, r
    assert javautil.same_line(r.err, c.err), (r.err, c.err)
    same = tmp_path / "same.rev"
    body = lf.revocations_body(1, [bytes.fromhex(lic_id.replace("-", ""))])
    same.write_bytes(lf.envelope_seal("revocations", body, lic_test_key.private_key()))
    r = jcheck("--revocations", same)
    assert r.code == 1 and "seq 1 is already kept" in r.err, r
    r = jcheck("--revocations", tmp_path / "missing.rev")
    assert r.code == 1 and "missing.rev" in r.err, r
    assert (state / "revocations.rev").read_bytes() == kept
    assert jcheck().code == 0
    (state / "revocations.rev").write_bytes(kept[:-1] + bytes([kept[-1] ^ 1]))
    r = jcheck()
    assert r.code == 1 and "remove it to start over" in r.err, r


def test_java_revoked_activation(designer, revoke):  # noqa: F811
    activation, jactivation = designer
    old = revoke("a1.rev", "--serial", "7:4241", "--serial", "8:4242")
    new = revoke("a2.rev", "--list", old, "--serial", "7:4242")
    r = jactivation("--revocations", old)
    assert r.code == 0 and r.out.startswith("valid: product 7, serial 4242"), r
    r = jactivation("--revocations", new)
    c = activation()
    assert r.code == 1 and c.code == 1, (r, c)
    assert r.err == ("liblic: error: activation: revoked: product 7, serial 4242 is on the "
                     "vendor's revocation list (seq 2)\n"), r
    assert javautil.same_line(r.err, c.err), (r.err, c.err)
    new.unlink()
    r = jactivation("--json")
    j = json.loads(r.out)
    assert r.code == 1 and (j["status"], j["serial"], j["product"]) == ("revoked", 4242, 7), r
    assert "seq 2" in j["reason"]
    r = jactivation("--revocations", old)
    assert r.code == 1 and "revoked" in r.err, r


def test_java_clock_set_back_two_hours_is_clock_rollback(local):  # noqa: F811
    check, jcheck, lic_id, state = local
    r = jcheck()
    assert r.code == 0, r
    assert int(time.time()) - 5 <= int((state / "clock").read_text()) <= int(time.time())
    later = int(time.time()) + 2 * 3600
    (state / "clock").write_text(f"{later}\n")
    r = jcheck()
    assert r.code == 1, r
    assert r.out.startswith("denied: clock_rollback: this machine's clock is 1h59m behind") \
        or r.out.startswith("denied: clock_rollback: this machine's clock is 2h00m behind"), r
    assert check().out[:48] == r.out[:48]  # the minutes may tick between the two
    assert int((state / "clock").read_text()) == later  # never lowered
    r = jcheck("--json")
    assert r.code == 1 and json.loads(r.out)["status"] == "clock_rollback", r
    (state / "clock").write_text("garbage\n")
    r = jcheck()
    assert r.code == 1 and "not a time (damaged?)" in r.err, r
