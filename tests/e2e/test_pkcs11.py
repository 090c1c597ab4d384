"""Vendor root keys inside a PKCS#11 token (docs/keys.md): licgen keygen
--pkcs11 and every --key as a pkcs11: URI, against a throwaway SoftHSM2 token
per test (SOFTHSM2_CONF), the signatures checked by the independent Python
code (lictest_formats, test_codes' decoder) and by licctl."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import lictest_formats as lf
import test_codes as tc
from conftest import SANITIZER_ENV

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
SOFTHSM_UTIL = shutil.which("softhsm2-util")
PKCS11_TOOL = shutil.which("pkcs11-tool")

pytestmark = pytest.mark.skipif(
    not MODULE.exists() or SOFTHSM_UTIL is None or PKCS11_TOOL is None,
    reason="needs Debian's softhsm2 and opensc (pkcs11-tool)")

URI = "pkcs11:token=Vendor%20root;object=root-2027"

# Under ASan: SoftHSM's own leak while it signs is suppressed (see the file);
# the full unwind reaches licgen's frame through libcrypto and the module.
SANITIZER = {
    "ASAN_OPTIONS": SANITIZER_ENV["ASAN_OPTIONS"] + ":fast_unwind_on_malloc=0",
    "LSAN_OPTIONS": SANITIZER_ENV["LSAN_OPTIONS"] + ":suppressions="
    + str(Path(__file__).resolve().parent / "lsan-softhsm.supp"),
}


class Token:
    """A fresh SoftHSM2 token 'Vendor root' (user PIN 1234) in its own directory."""

    def __init__(self, d):
        self.dir = Path(d)
        (self.dir / "tokens").mkdir(parents=True)
        self.conf = self.dir / "softhsm2.conf"
        self.conf.write_text(f"directories.tokendir = {self.dir / 'tokens'}\n"
                             "log.level = ERROR\n")
        self.env = {"SOFTHSM2_CONF": str(self.conf)}
        subprocess.run([SOFTHSM_UTIL, "--init-token", "--free", "--label", "Vendor root",
                        "--pin", "1234", "--so-pin", "5678"], env={**os.environ, **self.env},
                       check=True, capture_output=True, timeout=60)
        self.pin = self.dir / "pin"
        self.pin.write_text("1234\n")
        self.pin.chmod(0o600)

    def tool(self, *args):
        return subprocess.run([PKCS11_TOOL, "--module", str(MODULE), *map(str, args)],
                              env={**os.environ, **self.env}, capture_output=True,
                              text=True, timeout=60)


def private_key_attributes(token, label):
    """Ask the module itself (its exported C_ functions, through ctypes) for
    the private key's CKA_SENSITIVE, CKA_EXTRACTABLE and what reading its
    CKA_VALUE returns: a check that does not trust licgen or pkcs11-tool.
    Runs in a child process (the module reads SOFTHSM2_CONF at load)."""
    code = f"""
import ctypes, json
class CkAttribute(ctypes.Structure):
    _fields_ = [("type", ctypes.c_ulong), ("value", ctypes.c_void_p),
                ("len", ctypes.c_ulong)]
lib = ctypes.CDLL({str(MODULE)!r})
U = ctypes.c_ulong
def ok(rv):
    assert rv == 0, hex(rv)
ok(lib.C_Initialize(None))
slots, n = (U * 8)(), U(8)
ok(lib.C_GetSlotList(ctypes.c_ubyte(1), slots, ctypes.byref(n)))
s = U()
ok(lib.C_OpenSession(slots[0], U(4), None, None, ctypes.byref(s)))  # CKF_SERIAL_SESSION
ok(lib.C_Login(s, U(1), b"1234", U(4)))                             # CKU_USER
cls, lab = U(3), {label!r}.encode()                                 # CKO_PRIVATE_KEY
t = (CkAttribute * 2)(CkAttribute(0, ctypes.cast(ctypes.byref(cls), ctypes.c_void_p),
                                  ctypes.sizeof(cls)),
                      CkAttribute(3, ctypes.cast(ctypes.c_char_p(lab), ctypes.c_void_p),
                                  len(lab)))                       # CKA_CLASS, CKA_LABEL
ok(lib.C_FindObjectsInit(s, t, U(2)))
h, found = (U * 2)(), U()
ok(lib.C_FindObjects(s, h, U(2), ctypes.byref(found)))
ok(lib.C_FindObjectsFinal(s))
assert found.value == 1, found.value
flags = {{}}
for name, typ in (("sensitive", 0x103), ("extractable", 0x162)):
    b = ctypes.c_ubyte(9)
    a = CkAttribute(typ, ctypes.cast(ctypes.byref(b), ctypes.c_void_p), 1)
    ok(lib.C_GetAttributeValue(s, h[0], ctypes.byref(a), U(1)))
    flags[name] = b.value
buf = ctypes.create_string_buffer(64)
a = CkAttribute(0x11, ctypes.cast(buf, ctypes.c_void_p), 64)        # CKA_VALUE
flags["value_rv"] = lib.C_GetAttributeValue(s, h[0], ctypes.byref(a), U(1))
flags["value_len"] = a.len
lib.C_CloseSession(s)
lib.C_Finalize(None)
print(json.dumps(flags))
"""
    p = subprocess.run(["/usr/bin/python3", "-c", code], env={**os.environ, **token.env},
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p
    return json.loads(p.stdout)


@pytest.fixture
def token(tmp_path):
    return Token(tmp_path / "hsm")


@pytest.fixture
def gen(lic_run, licgen_bin, token):
    """gen(subcommand, *args, key=URI, pin=True, module=True, env=None): licgen
    with the token's key (and its module and PIN file)."""

    def run(sub, *args, key=URI, pin=True, module=True, env=None):
        extra = ["--key", key] if key is not None else []
        if module:
            extra += ["--pkcs11-module", MODULE]
        if pin:
            extra += ["--pin-file", token.pin]
        return lic_run(licgen_bin, sub, *args, *extra,
                       env={**SANITIZER, **token.env, **(env or {})})

    return run


@pytest.fixture
def root(gen, token, tmp_path):
    """The token's Ed25519 root key made by licgen keygen --pkcs11: its public key."""
    pub = tmp_path / "vendor.pub.pem"
    r = gen("keygen", "--pkcs11", URI, "-o", pub, key=None)
    assert r.code == 0, r
    raw = lf.raw_public(lf.load_public_pem(pub))
    assert f"kid {lf.kid_of(raw).hex()}" in r.out
    assert not (tmp_path / "vendor.pem").exists()  # only the public half is written
    return pub


def envelope(path, typ, pub):
    """The envelope at path, its signature checked by Python with pub."""
    env = lf.read_envelope(path)
    assert env.typ == typ
    env.verify(lf.raw_public(lf.load_public_pem(pub)))
    return env.body_obj()


def test_keygen_in_token_then_sign_license_account_cert_codes(
        gen, root, token, tmp_path, lic_run, licctl_bin, lic_machine, licctl_rif):
    # a local license, checked by Python and by licctl against the token's key
    machine = lic_machine()
    rif = licctl_rif(machine)
    lic = tmp_path / "prod.lic"
    r = gen("sign", rif, "--mode", "local", "--customer", "ACME", "--features", "reports",
            "--major", "11", "--expires", "2099-12-31", "-o", lic)
    assert r.code == 0, r
    body = envelope(lic, "license", root)
    assert body["customer"] == "ACME"
    r = lic_run(licctl_bin, "check", lic, "--domain", "r.acme.com", "--port", "443",
                "--major", "11", "--trust", root, sysroot=machine)
    assert r.code == 0 and r.out.startswith("valid:"), r

    # its renewal
    new = tmp_path / "prod2.lic"
    r = gen("renew", lic, "--expires", "2100-12-31", "-o", new)
    assert r.code == 0, r
    assert envelope(new, "license", root)["supersedes"] == body["id"]

    # an account and its renewal
    acct = tmp_path / "cloud.acct"
    r = gen("account", "--customer", "Cloud Corp", "--capacity", "5", "-o", acct)
    assert r.code == 0, r
    assert re.search(r"token lsk_", r.out)
    abody = envelope(acct, "account", root)
    acct2 = tmp_path / "cloud2.acct"
    r = gen("account", "--renew", acct, "--capacity", "9", "-o", acct2)
    assert r.code == 0, r
    assert envelope(acct2, "account", root)["id"] == abody["id"]

    # a certificate of an online key
    online = tmp_path / "online.pub.pem"
    online.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    cert = tmp_path / "online.cert"
    r = gen("certify", "--pubkey", online, "--role", "verdict", "--days", "90", "-o", cert)
    assert r.code == 0, r
    lf.check_cert(envelope(cert, "cert", root))

    # codes on two jobs (a session each), every one checked by the Python decoder
    codes = tmp_path / "codes.csv"
    r = gen("codes", "--product", "7", "--count", "300", "--jobs", "2", "--ledger",
            tmp_path / "codes.ledger", "-o", codes)
    assert r.code == 0, r
    pub = serialization.load_pem_public_key(root.read_bytes())
    rows = tc.read_csv(codes)
    assert [int(x[0]) for x in rows] == list(range(1, 301))
    for row in rows:
        assert tc.verify(pub, row[1])[1:3] == (7, int(row[0]))
    # without --ledger there is no key file to keep the ledger beside
    r = gen("codes", "--product", "7", "--count", "1", "-o", tmp_path / "c2.csv")
    assert r.code == 2 and "--ledger FILE is required" in r.err, r


def test_private_key_stays_in_the_token(gen, root, token):
    r = token.tool("--login", "--pin", "1234", "--list-objects", "--type", "privkey")
    assert r.returncode == 0, r
    assert "root-2027" in r.stdout
    assert re.search(r"Access:.*sensitive.*never extractable", r.stdout), r.stdout
    out = token.dir / "private.der"
    r = token.tool("--login", "--pin", "1234", "--read-object", "--type", "privkey",
                   "--label", "root-2027", "-o", out)
    assert not out.exists() or out.stat().st_size == 0, r
    # the public half reads back as the key licgen wrote
    r = token.tool("--read-object", "--type", "pubkey", "--label", "root-2027")
    assert r.returncode == 0, r
    # and the module itself: sensitive, not extractable, its value refused
    a = private_key_attributes(token, "root-2027")
    assert a["sensitive"] == 1 and a["extractable"] == 0, a
    assert a["value_rv"] == 0x11, a  # CKR_ATTRIBUTE_SENSITIVE
    assert a["value_len"] == (1 << 64) - 1, a  # CK_UNAVAILABLE_INFORMATION


def test_module_from_the_environment_and_the_uri(gen, root, tmp_path, lic_machine,
                                                  licctl_rif):
    rif = licctl_rif(lic_machine())
    terms = ["--mode", "local", "--customer", "C", "--features", "f", "--major", "1",
             "--expires", "never"]
    r = gen("sign", rif, *terms, "-o", tmp_path / "a.lic", module=False,
            env={"LICGEN_PKCS11_MODULE": MODULE})
    assert r.code == 0, r
    r = gen("sign", rif, *terms, "-o", tmp_path / "b.lic", module=False,
            key=f"{URI}?module-path={MODULE}")
    assert r.code == 0, r
    envelope(tmp_path / "b.lic", "license", root)
    # no module anywhere: a usage error that says where it comes from
    r = gen("sign", rif, *terms, "-o", tmp_path / "c.lic", module=False)
    assert r.code == 2 and "--pkcs11-module" in r.err and "LICGEN_PKCS11_MODULE" in r.err, r


def test_wrong_pin(gen, root, token, tmp_path, lic_machine, licctl_rif):
    rif = licctl_rif(lic_machine())
    token.pin.write_text("9999\n")
    out = tmp_path / "x.lic"
    r = gen("sign", rif, "--mode", "local", "--customer", "C", "--features", "f",
            "--major", "1", "--expires", "never", "-o", out)
    assert r.code == 1, r
    assert r.err_lines == [r.err.strip()]
    assert "licgen: error: --pin-file: token 'Vendor root' refused the PIN" in r.err, r
    assert "9999" not in r.err and not out.exists()


def test_module_missing(gen, tmp_path):
    r = gen("account", "--customer", "C", "--capacity", "1", "-o", tmp_path / "a",
            module=False, env={"LICGEN_PKCS11_MODULE": tmp_path / "nowhere.so"})
    assert r.code == 1, r
    assert re.match(r"licgen: error: --pkcs11-module: cannot load .*nowhere\.so", r.err), r
    # a library that is no PKCS#11 module
    r = gen("account", "--customer", "C", "--capacity", "1", "-o", tmp_path / "a",
            module=False, env={"LICGEN_PKCS11_MODULE": "libz.so.1"})
    assert r.code == 2 and "is not a PKCS#11 module" in r.err, r
    assert not (tmp_path / "a").exists()


def test_object_and_token_not_found(gen, root, tmp_path):
    args = ("certify", "--pubkey", root, "--role", "verdict", "--days", "9", "-o",
            tmp_path / "c")
    r = gen(*args, key="pkcs11:token=Vendor%20root;object=nope")
    assert r.code == 1 and "holds no Ed25519 private key object=nope" in r.err, r
    r = gen(*args, key="pkcs11:token=Other;object=root-2027")
    assert r.code == 1 and "no token matches the URI" in r.err, r
    assert "'Vendor root'" in r.err  # the tokens it saw
    # the key is private to the logged-in user: without the PIN it is not found
    r = gen(*args, pin=False)
    assert r.code == 1 and "does it need --pin-file?" in r.err, r


def test_token_without_eddsa(gen, token, tmp_path):
    # the same token, its module told to offer SHA-256 and RSA only
    conf = token.dir / "no-eddsa.conf"
    conf.write_text(token.conf.read_text() + "slots.mechanisms = CKM_SHA256,CKM_RSA_PKCS\n")
    r = gen("keygen", "--pkcs11", URI, "-o", tmp_path / "v.pub.pem", key=None,
            env={"SOFTHSM2_CONF": conf})
    assert r.code == 1 and "token 'Vendor root' cannot sign with CKM_EDDSA" in r.err, r
    assert not (tmp_path / "v.pub.pem").exists()


def test_refusals(gen, root, token, tmp_path, lic_run, licgen_bin):
    a = ("account", "--customer", "C", "--capacity", "1", "-o", tmp_path / "a")
    # the PIN never on the command line, and its file owner-only
    r = gen(*a, key=URI + "?pin-value=1234")
    assert r.code == 2 and "never goes in the URI" in r.err, r
    token.pin.chmod(0o644)
    r = gen(*a)
    assert r.code == 1 and "--pin-file" in r.err and "0600" in r.err, r
    token.pin.chmod(0o600)
    # a key file takes a passphrase, a token a PIN
    r = gen(*a, "--passphrase-file", token.pin)
    assert r.code == 2 and "--pin-file" in r.err, r
    r = lic_run(licgen_bin, *a, "--key", root, "--pin-file", token.pin)
    assert r.code == 2 and "only with a pkcs11: URI" in r.err, r
    r = gen(*a, key="pkcs11:token=Vendor%20root;object=%zz")
    assert r.code == 2 and "two hex digits" in r.err, r
    # keygen never makes a second key under a label, nor replaces a file
    r = gen("keygen", "--pkcs11", URI, "-o", tmp_path / "again.pub.pem", key=None)
    assert r.code == 1 and "already holds a key object=root-2027" in r.err, r
    r = gen("keygen", "--pkcs11", URI.replace("2027", "2028"), "-o", root, key=None)
    assert r.code == 1 and "exists" in r.err, r
    r = token.tool("--list-objects", "--type", "pubkey")
    assert "root-2028" not in r.stdout
    assert not (tmp_path / "a").exists()


def test_private_key_cannot_be_written_out(gen, root, tmp_path):
    # keygen --pkcs11 with a passphrase would mean writing the private key
    r = gen("keygen", "--pkcs11", URI.replace("2027", "2029"), "-o", tmp_path / "k.pem",
            "--passphrase-file", tmp_path / "x", key=None)
    assert r.code == 2 and "not written out" in r.err, r


def test_keygen_output_names(gen, lic_run, licgen_bin, tmp_path):
    # with a token -o names the public key; KEY.pem names KEY.pub.pem too
    r = gen("keygen", "--pkcs11", URI, "-o", tmp_path / "tok.pem", "--json", key=None)
    assert r.code == 0, r
    doc = json.loads(r.out)
    assert doc["public"] == str(tmp_path / "tok.pub.pem") and doc["private"] == URI
    assert not (tmp_path / "tok.pem").exists()
    # a key file keeps its naming: the private key is never overwritten by
    # the public one, whatever -o is called
    r = lic_run(licgen_bin, "keygen", "-o", tmp_path / "x.pub.pem")
    assert r.code == 0, r
    assert "PRIVATE KEY" in (tmp_path / "x.pub.pem").read_text()
    assert "PUBLIC KEY" in (tmp_path / "x.pub.pub.pem").read_text()
