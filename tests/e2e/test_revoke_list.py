"""End-to-end: `licgen revoke` signs revocation lists (SPEC §3.8, issue 24
item 2): seq 1 without --list, OLD's entries kept and seq + 1 with it, OLD's
signature checked as renew checks its input, `licgen inspect` shows the list,
and an independent Python reader (lictest_formats) agrees byte for byte."""
import json
import uuid

import pytest

import lictest_formats as lf

LIC1 = "10111213-1415-1617-1819-1a1b1c1d1e1f"
LIC2 = "50515253-5455-5657-5859-5a5b5c5d5e5f"
ACC1 = "30313233-3435-3637-3839-3a3b3c3d3e3f"


def body_of(path, key):
    env = lf.read_envelope(path)
    assert env.typ == "revocations" and env.kid == key.kid
    env.verify(key.pub_raw)
    return lf.check_revocations(env.body_obj())


@pytest.fixture
def revoke(lic_run, licgen_bin, lic_test_key):
    def run(*args, key=lic_test_key):
        return lic_run(licgen_bin, "revoke", "--key", key.priv, *args)
    return run


def test_first_list_and_extension(revoke, lic_test_key, lic_tmp):
    r1, r2 = lic_tmp / "r1.rev", lic_tmp / "r2.rev"
    r = revoke("--license", LIC1, "--serial", "7:4242", "-o", r1)
    assert r.code == 0, r
    assert "seq 1" in r.err
    b1 = body_of(r1, lic_test_key)
    assert b1["seq"] == 1
    assert b1["licenses"] == [uuid.UUID(LIC1).bytes]
    assert b1["accounts"] == [] and b1["activations"] == [[7, 4242]]
    assert "# licsrv revocation list seq 1" in r1.read_text()
    # extended: OLD's entries stay, a repeated one is not added twice
    r = revoke("--list", r1, "--account", ACC1, "--license", LIC2, "--serial", "7:4242",
               "--serial", "255:4294967295", "-o", r2, "--json")
    assert r.code == 0, r
    summary = json.loads(r.out)
    assert summary["seq"] == 2 and summary["licenses"] == 2 and summary["activations"] == 2
    b2 = body_of(r2, lic_test_key)
    assert b2["seq"] == 2 and b2["issued"] >= b1["issued"]
    assert b2["licenses"] == [uuid.UUID(LIC1).bytes, uuid.UUID(LIC2).bytes]
    assert b2["accounts"] == [uuid.UUID(ACC1).bytes]
    assert b2["activations"] == [[7, 4242], [255, 0xFFFFFFFF]]
    # an existing -o is not replaced without --force
    r = revoke("--list", r1, "--serial", "1:1", "-o", r2)
    assert r.code == 1 and "exists; give --force" in r.err, r


def test_python_sealed_list_is_extended(revoke, lic_test_key, lic_tmp):
    """A list sealed by the Python implementation is read by licgen (the
    other direction of the cross-check)."""
    old = lic_tmp / "py.rev"
    body = lf.revocations_body(41, [uuid.UUID(LIC2).bytes], [], [(3, 9)])
    old.write_bytes(lf.armor_encode("revocations",
                                    lf.envelope_seal("revocations", body,
                                                     lic_test_key.private_key())))
    out = lic_tmp / "next.rev"
    r = revoke("--list", old, "--license", LIC1, "-o", out)
    assert r.code == 0, r
    b = body_of(out, lic_test_key)
    assert b["seq"] == 42
    assert b["licenses"] == [uuid.UUID(LIC2).bytes, uuid.UUID(LIC1).bytes]
    assert b["activations"] == [[3, 9]]


def test_old_list_checked(revoke, lic_run, licgen_bin, lic_test_key, lic_vendor_key, lic_tmp):
    # forged: another key signed OLD, and it is not in the trust store
    forged = lic_tmp / "forged.rev"
    body = lf.revocations_body(7, [], [], [(1, 1)])
    forged.write_bytes(lf.envelope_seal("revocations", body, lic_vendor_key.private_key()))
    r = revoke("--list", forged, "--serial", "1:2", "-o", lic_tmp / "x.rev")
    assert r.code == 1, r
    assert "not in the trust store" in r.err, r
    assert not (lic_tmp / "x.rev").exists()
    # trusted but another root: only with --force (a key rotation)
    r = revoke("--list", forged, "--serial", "1:2", "--trust", lic_vendor_key.pub,
               "-o", lic_tmp / "x.rev")
    assert r.code == 1 and "--force" in r.err, r
    r = revoke("--list", forged, "--serial", "1:2", "--trust", lic_vendor_key.pub, "--force",
               "-o", lic_tmp / "x.rev")
    assert r.code == 0, r
    assert body_of(lic_tmp / "x.rev", lic_test_key)["seq"] == 8
    # tampered: one flipped bit in the signed body
    good = lic_tmp / "good.rev"
    assert revoke("--serial", "1:1", "-o", good).code == 0
    env = lf.read_envelope(good)
    bad = bytearray(env.body)
    bad[-1] ^= 1
    (lic_tmp / "bad.rev").write_bytes(lf.envelope_encode(env.typ, env.kid, bytes(bad), env.sig))
    r = revoke("--list", lic_tmp / "bad.rev", "--serial", "1:2", "-o", lic_tmp / "y.rev")
    assert r.code == 1 and "signature" in r.err, r
    assert not (lic_tmp / "y.rev").exists()
    # not a revocation list at all
    acct = lic_tmp / "acct.bin"
    acct.write_bytes(lf.envelope_seal("account", lf.account_body(lf.new_token()),
                                      lic_test_key.private_key()))
    r = revoke("--list", acct, "--serial", "1:2", "-o", lic_tmp / "z.rev")
    assert r.code == 1 and "this is an account, not a revocations" in r.err, r


@pytest.mark.parametrize("args,what", [
    (["--serial", "7"], "--serial"),
    (["--serial", "256:1"], "--serial"),
    (["--serial", "1:4294967296"], "--serial"),
    (["--serial", "-1:1"], "--serial"),
    (["--license", "not-a-uuid"], "--license"),
    (["--account", LIC1[:-1]], "--account"),
    ([], "give what to revoke"),
])
def test_usage_errors(revoke, lic_tmp, args, what):
    r = revoke(*args, "-o", lic_tmp / "u.rev")
    assert r.code == 2, r
    assert r.err.startswith("licgen: error: ") and what in r.err, r
    assert not (lic_tmp / "u.rev").exists()


def test_inspect_shows_the_list(revoke, lic_run, licgen_bin, lic_test_key, lic_tmp):
    out = lic_tmp / "r.rev"
    assert revoke("--license", LIC1, "--account", ACC1, "--serial", "7:4242", "-o", out).code == 0
    r = lic_run(licgen_bin, "inspect", out, "--trust", lic_test_key.pub, "--json")
    assert r.code == 0, r
    j = json.loads(r.out)
    assert j["typ"] == "revocations" and j["signature"] == "valid"
    assert j["body"]["seq"] == 1
    assert j["body"]["licenses"] == [LIC1] and j["body"]["accounts"] == [ACC1]
    assert j["body"]["activations"] == [[7, 4242]]
    # a body that does not parse as a list is told apart
    env = lf.read_envelope(out)
    body = dict(env.body_obj(), seq=0)
    (lic_tmp / "seq0.rev").write_bytes(lf.envelope_seal("revocations", lf.pack(body),
                                                        lic_test_key.private_key()))
    r = lic_run(licgen_bin, "inspect", lic_tmp / "seq0.rev", "--trust", lic_test_key.pub)
    assert r.code == 1, r
