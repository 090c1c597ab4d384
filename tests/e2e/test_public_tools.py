"""licgen account / certify / inspect for public mode (SPEC §3.4, §3.7, §5),
cross-checked with an independent Python reader (lictest_formats)."""

import json
import os
import stat
import time

import pytest

import lictest_formats as lf


def account(lic_run, licgen_bin, key, out, *extra, capacity="5", customer="Cloud Corp"):
    return lic_run(licgen_bin, "account", "--key", key.priv, "--customer", customer,
                   "--capacity", capacity, "-o", out, *extra)


def test_account_prints_id_and_token_once(lic_run, licgen_bin, lic_test_key, tmp_path):
    out = tmp_path / "a.acct"
    r = account(lic_run, licgen_bin, lic_test_key, out, "--features", "reports,pdf",
                "--domain", "*.example.com", "--port", "443", "--app", "sales",
                "--major", "11", "--expires", "2099-01-01", "--heartbeat", "600",
                "--grace", "7200")
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert len(lines) == 2, r
    assert lines[0].startswith("account ") and lines[1].startswith("token ")
    aid, token = lines[0].split()[1], lines[1].split()[1]
    assert lf.TOKEN_RE.match(token), token
    # the file holds the hash only, never the token
    raw = out.read_bytes()
    assert token.encode() not in raw and token[4:].encode() not in raw
    env = lf.read_envelope(out)
    assert env.typ == "account" and env.kid == lic_test_key.kid
    env.verify(lic_test_key.pub_raw)
    body = lf.check_account(env.body_obj())
    assert body["token_hash"] == lf.token_hash(token)
    import uuid
    assert str(uuid.UUID(bytes=body["id"])) == aid
    assert body["capacity"] == 5 and body["customer"] == "Cloud Corp"
    assert body["features"] == ["reports", "pdf"] and body["domains"] == ["*.example.com"]
    assert body["ports"] == [443] and body["apps"] == ["sales"] and body["major"] == 11
    assert body["expires"] == 4070908800 and body["heartbeat"] == 600 and body["grace"] == 7200
    assert abs(body["not_before"] - time.time()) < 120
    assert abs(body["issued"] - time.time()) < 120  # a renewal is a later one
    assert set(body) == {"typ", "id", "customer", "capacity", "features", "domains", "ports",
                         "apps", "major", "not_before", "expires", "heartbeat", "grace",
                         "token_hash", "issued"}
    assert abs(body["issued"] - time.time()) < 120
    # the token never shows in stderr
    assert token not in r.err


def test_account_tokens_differ(lic_run, licgen_bin, lic_test_key, tmp_path):
    toks = set()
    for i in range(3):
        r = account(lic_run, licgen_bin, lic_test_key, tmp_path / f"a{i}.acct", "--json")
        assert r.code == 0, r
        d = json.loads(r.out)
        assert set(d) == {"account", "token"} and lf.TOKEN_RE.match(d["token"])
        toks.add(d["token"])
    assert len(toks) == 3


def test_account_token_out(lic_run, licgen_bin, lic_test_key, tmp_path):
    tok, out = tmp_path / "tok", tmp_path / "a.acct"
    r = account(lic_run, licgen_bin, lic_test_key, out, "--token-out", tok)
    assert r.code == 0, r
    assert r.out.splitlines()[0].startswith("account ") and len(r.out.splitlines()) == 1
    assert "lsk_" not in r.out + r.err
    assert stat.S_IMODE(os.stat(tok).st_mode) == 0o600
    token = tok.read_text().strip()
    assert lf.TOKEN_RE.match(token)
    assert lf.read_envelope(out).body_obj()["token_hash"] == lf.token_hash(token)
    # a new file only: an existing token file is never replaced, no account made
    out2 = tmp_path / "b.acct"
    r = account(lic_run, licgen_bin, lic_test_key, out2, "--token-out", tok)
    assert r.code == 1 and "error" in r.err, r
    assert tok.read_text().strip() == token and not out2.exists()
    r = account(lic_run, licgen_bin, lic_test_key, out2, "--token-out", tmp_path / "t2", "--json")
    assert r.code == 0, r
    assert json.loads(r.out) == {"account": json.loads(r.out)["account"],
                                 "token_file": str(tmp_path / "t2")}


def test_account_dry_run_writes_nothing(lic_run, licgen_bin, lic_test_key, tmp_path):
    r = lic_run(licgen_bin, "account", "--key", lic_test_key.priv, "--customer", "C",
                "--capacity", "3", "--dry-run", "--json", "--domain", "a.example.com")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["capacity"] == 3 and d["domains"] == ["a.example.com"] and d["expires"] == "never"
    assert "token" not in d and "lsk_" not in r.out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args,needle", [
    (["--capacity", "0"], "--capacity"),
    (["--capacity", "x"], "--capacity"),
    (["--expires", "2001-01-01"], "in the past"),
    (["--domain", "*.com"], "--domain"),
    (["--domain", "a.*.example.com"], "--domain"),
    (["--port", "0"], "--port"),
    (["--port", "65536"], "--port"),
    (["--heartbeat", "0"], "--heartbeat"),
    (["--heartbeat", "7200", "--grace", "60"], "--grace"),
    (["--app", ""], "--app"),
    (["--features", "a,,b"], "--features"),
    (["--not-before", "2099-01-01", "--expires", "2098-01-01"], "--expires"),
])
def test_account_refuses_bad_terms(lic_run, licgen_bin, lic_test_key, tmp_path, args, needle):
    base = {"--capacity": "5"}
    argv = ["account", "--key", lic_test_key.priv, "--customer", "C", "-o", tmp_path / "a"]
    if "--capacity" not in args:
        argv += ["--capacity", base["--capacity"]]
    r = lic_run(licgen_bin, *argv, *args)
    assert r.code == 2, r
    assert needle in r.err and r.err.startswith("licgen: error: "), r
    assert not (tmp_path / "a").exists()


def test_account_requires(lic_run, licgen_bin, lic_test_key, tmp_path):
    r = lic_run(licgen_bin, "account", "--key", lic_test_key.priv, "--customer", "C",
                "-o", tmp_path / "a")
    assert r.code == 2 and "--capacity is required" in r.err, r


def certify(lic_run, licgen_bin, key, pub, out, *extra, days="90"):
    return lic_run(licgen_bin, "certify", "--key", key.priv, "--pubkey", pub, "--role",
                   "verdict", "--days", days, "-o", out, *extra)


def test_certify(lic_run, licgen_bin, lic_test_key, lic_vendor_key, tmp_path):
    out = tmp_path / "o.cert"
    r = certify(lic_run, licgen_bin, lic_test_key, lic_vendor_key.pub, out, days="825")
    assert r.code == 0, r
    env = lf.read_envelope(out)
    assert env.typ == "cert" and env.kid == lic_test_key.kid
    env.verify(lic_test_key.pub_raw)
    body = lf.check_cert(env.body_obj(), at=int(time.time()))
    assert body["pubkey"] == lic_vendor_key.pub_raw
    assert body["expires"] - body["not_before"] == 825 * 86400
    assert set(body) == {"typ", "id", "pubkey", "role", "issued", "not_before", "expires"}
    assert f"# online key: {lic_vendor_key.kid.hex()}" in out.read_text()


@pytest.mark.parametrize("extra,needle", [
    (["--days", "826"], "--days"),
    (["--days", "0"], "--days"),
    (["--role", "license"], "--role"),
])
def test_certify_refuses(lic_run, licgen_bin, lic_test_key, lic_vendor_key, tmp_path, extra,
                         needle):
    argv = {"--days": "90", "--role": "verdict"}
    for i in range(0, len(extra), 2):
        argv[extra[i]] = extra[i + 1]
    r = lic_run(licgen_bin, "certify", "--key", lic_test_key.priv, "--pubkey",
                lic_vendor_key.pub, "-o", tmp_path / "c", *sum(map(list, argv.items()), []))
    assert r.code == 2 and needle in r.err, r
    assert not (tmp_path / "c").exists()


def test_certify_refuses_own_key_and_private_pem(lic_run, licgen_bin, lic_test_key, tmp_path):
    r = certify(lic_run, licgen_bin, lic_test_key, lic_test_key.pub, tmp_path / "c")
    assert r.code == 2 and "--pubkey" in r.err, r
    r = certify(lic_run, licgen_bin, lic_test_key, lic_test_key.priv, tmp_path / "c")
    assert r.code == 1, r
    assert not (tmp_path / "c").exists()


def test_certify_dry_run(lic_run, licgen_bin, lic_test_key, lic_vendor_key, tmp_path):
    r = certify(lic_run, licgen_bin, lic_test_key, lic_vendor_key.pub, tmp_path / "c",
                "--dry-run", "--json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["role"] == "verdict" and d["pubkey_kid"] == lic_vendor_key.kid.hex()
    assert d["expires"] - d["not_before"] == 90 * 86400
    assert not (tmp_path / "c").exists()


def test_inspect_shows_account_and_cert(lic_run, licgen_bin, lic_test_key, lic_vendor_key,
                                        tmp_path):
    a, c = tmp_path / "a.acct", tmp_path / "o.cert"
    assert account(lic_run, licgen_bin, lic_test_key, a).code == 0
    assert certify(lic_run, licgen_bin, lic_test_key, lic_vendor_key.pub, c).code == 0
    for f, typ in ((a, "account"), (c, "cert")):
        r = lic_run(licgen_bin, "inspect", f, "--trust", lic_test_key.pub, "--json")
        assert r.code == 0, r
        d = json.loads(r.out)
        assert d["typ"] == typ and d["ok"] and d["signature"] == "valid"
        assert d["body"]["typ"] == typ
        r = lic_run(licgen_bin, "inspect", f, "--trust", lic_vendor_key.pub)
        assert r.code == 1 and "untrusted" in r.out, r
    r = lic_run(licgen_bin, "inspect", a, "--trust", lic_test_key.pub)
    assert r.code == 0 and "capacity" in r.out and "token_hash" in r.out, r


def py_sealed(tmp_path, name, typ, body, key):
    p = tmp_path / name
    p.write_bytes(lf.armor_encode(typ, lf.envelope_seal(typ, body, key)))
    return p


def test_inspect_accepts_python_sealed(lic_run, licgen_bin, lic_test_key, lic_vendor_key,
                                       tmp_path):
    root = lic_test_key.private_key()
    tok = lf.new_token()
    a = py_sealed(tmp_path, "a.acct", "account", lf.account_body(tok), root)
    c = py_sealed(tmp_path, "c.cert", "cert", lf.cert_body(lic_vendor_key.pub_raw), root)
    for f in (a, c):
        r = lic_run(licgen_bin, "inspect", f, "--trust", lic_test_key.pub, "--json")
        assert r.code == 0 and json.loads(r.out)["ok"], r
    # malformed bodies sealed correctly are refused by the strict parsers
    bad = [("account", dict(lf.account_body(tok), capacity=0)),
           ("account", {k: v for k, v in lf.account_body(tok).items() if k != "token_hash"}),
           ("cert", lf.cert_body(lic_vendor_key.pub_raw, days=826)),
           ("cert", dict(lf.cert_body(lic_vendor_key.pub_raw), expires=0))]
    for i, (typ, body) in enumerate(bad):
        f = py_sealed(tmp_path, f"bad{i}", typ, body, root)
        r = lic_run(licgen_bin, "inspect", f, "--trust", lic_test_key.pub, "--json")
        assert r.code == 1 and "body_error" in json.loads(r.out), (i, r)


def test_python_checks_vector_chain(lic_source_dir, lic_test_key):
    """The stored public verdict vector checks root -> cert -> verdict in Python alone."""
    v = lic_source_dir / "tests/vectors"
    cert, verdict = lf.check_public_chain((v / "cert.msgpack").read_bytes(),
                                          (v / "verdict-public.msgpack").read_bytes(),
                                          [lic_test_key.pub_raw])
    assert verdict["status"] == "valid" and "account" in verdict and "license" not in verdict
    assert verdict["seats"] == {"used": 1, "max": 5}
    acct = lf.read_envelope(v / "account.acct")
    acct.verify(lic_test_key.pub_raw)
    body = lf.check_account(acct.body_obj())
    assert body["id"] == verdict["account"]
    assert body["token_hash"] == lf.token_hash("lsk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8")
    # and a tampered verdict or a foreign root does not
    bad = bytearray((v / "verdict-public.msgpack").read_bytes())
    bad[-1] ^= 1
    with pytest.raises(Exception):
        lf.check_public_chain((v / "cert.msgpack").read_bytes(), bytes(bad), [lic_test_key.pub_raw])
    with pytest.raises(lf.FormatError):
        lf.check_public_chain((v / "cert.msgpack").read_bytes(),
                              (v / "verdict-public.msgpack").read_bytes(), [bytes(32)])
