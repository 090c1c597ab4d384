"""srvchain - an independent verify client for the end-to-end tests of
`licsrv serve`: requests in MessagePack or JSON, and the whole chain checked
here in Python (python3-msgpack, python3-cryptography) from SPEC §2.1, §3.3,
§3.5: root -> license envelope, license node_key -> verdict, nonce, node and
license id. Also seals licenses with the test root key (terms licgen refuses,
such as a past expiry) and checks a stopped server's log for sanitizer
reports."""
import base64
import hashlib
import http.client
import json
import os
import re
import signal
import subprocess
import time
import uuid

import msgpack
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

import srvutil

SRC = srvutil.SOURCE_DIR
ROOT_KEY = os.path.join(SRC, "keys", "test", "test-root.pem")
ROOT_PUB = os.path.join(SRC, "keys", "test", "test-root.pub.pem")
OTHER_NODE_PUB = os.path.join(SRC, "keys", "test", "test-node.pub.pem")

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: ThreadSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")


# ---- keys and envelopes (SPEC §2) ---------------------------------------------

def raw_pub(key):
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def kid_of(raw):
    return hashlib.sha256(raw).digest()[:8]


def load_root():
    with open(ROOT_KEY, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def load_pub(path):
    with open(path, "rb") as f:
        return raw_pub(serialization.load_pem_public_key(f.read()))


def seal(typ, body_obj, key):
    body = msgpack.packb(body_obj, use_bin_type=True)
    sig = key.sign(b"LICSRV1 " + typ.encode() + b"\n" + body)
    return msgpack.packb({"typ": typ, "kid": kid_of(raw_pub(key.public_key())), "body": body,
                          "sig": sig}, use_bin_type=True)


def armor(typ, data):
    b = base64.b64encode(data).decode()
    lines = [b[i:i + 64] for i in range(0, len(b), 64)]
    return ("# test file\n-----BEGIN LICSRV %s-----\n%s\n-----END LICSRV %s-----\n"
            % (typ.upper(), "\n".join(lines), typ.upper())).encode()


def unarmor(text):
    lines = text.decode().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("-----BEGIN LICSRV"))
    end = next(i for i, l in enumerate(lines) if l.startswith("-----END LICSRV"))
    return base64.b64decode("".join(lines[start + 1:end]))


def open_envelope(env, typ, signer_pub):
    """Check an envelope against one raw public key; returns (body dict, body bytes)."""
    e = msgpack.unpackb(env, raw=False)
    assert set(e) == {"typ", "kid", "body", "sig"}, e.keys()
    assert e["typ"] == typ
    assert e["kid"] == kid_of(signer_pub)
    Ed25519PublicKey.from_public_bytes(signer_pub).verify(
        e["sig"], b"LICSRV1 " + typ.encode() + b"\n" + e["body"])  # raises on a bad signature
    body = msgpack.unpackb(e["body"], raw=False)
    assert body["typ"] == typ
    return body


def license_body(path):
    """The body of a license file (armored or raw) as a dict, in its key order."""
    with open(path, "rb") as f:
        data = f.read()
    env = data if data[:1] == b"\x84" else unarmor(data)
    return msgpack.unpackb(msgpack.unpackb(env, raw=False)["body"], raw=False)


def reseal_license(template_path, out_path, key=None, **changes):
    """A license like the template with some terms changed and a fresh id,
    sealed in Python (by default with the test root key). Returns the id."""
    body = license_body(template_path)
    body["id"] = os.urandom(16)
    body.update(changes)
    with open(out_path, "wb") as f:
        f.write(armor("license", seal("license", body, key or load_root())))
    return str(uuid.UUID(bytes=body["id"]))


# ---- the verify exchange --------------------------------------------------------

def nonce():
    return os.urandom(32)


def request_fields(lic=None, domain="localhost", port=443, node="rs-1", app=None, version=None,
                   n=None, secret=None):
    q = {"nonce": n or nonce(), "domain": domain, "port": port, "node": node}
    if secret is not None:
        q["secret"] = secret
    if lic is not None:
        q["license"] = uuid.UUID(lic).bytes
    if app is not None:
        q["app"] = app
    if version is not None:
        q["version"] = version
    return q


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def encode(q, kind):
    """A request body: kind is 'msgpack' or 'json' (binary as base64url)."""
    if kind == "msgpack":
        return msgpack.packb(q, use_bin_type=True), "application/msgpack"
    j = {k: (b64u(v) if isinstance(v, bytes) else v) for k, v in q.items()}
    if isinstance(q.get("license"), bytes):
        j["license"] = str(uuid.UUID(bytes=q["license"]))
    return json.dumps(j).encode(), "application/json"


def post(port, path, body, ctype, accept=None, headers=None, timeout=5.0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = {"Content-Type": ctype}
        if accept:
            h["Accept"] = accept
        h.update(headers or {})
        c.request("POST", path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read(), r.getheader("Content-Type")
    finally:
        c.close()


def decode_response(body, ctype):
    if ctype.startswith("application/msgpack"):
        return msgpack.unpackb(body, raw=False)
    doc = json.loads(body)
    if "verdict" in doc:
        pad = lambda s: s + "=" * (-len(s) % 4)
        doc["verdict"] = base64.urlsafe_b64decode(pad(doc["verdict"]))
        doc["chain"] = [base64.urlsafe_b64decode(pad(c)) for c in doc["chain"]]
    return doc


def check_chain(doc, q, node_pub=None, root_pub=None):
    """The whole chain, as a report server must check it. Returns the verdict
    body. With no license in the chain (unknown license) the verdict is checked
    against node_pub, the server's node key the client knows from before."""
    root_pub = root_pub or load_pub(ROOT_PUB)
    # plus the server's revocation list when it keeps one newer than the
    # client's (docs/revocation.md); nothing else
    assert set(doc) - {"revocations"} == {"verdict", "chain"}, doc
    if doc["chain"]:
        assert len(doc["chain"]) == 1
        lic = open_envelope(doc["chain"][0], "license", root_pub)
        assert lic["mode"] == "private"
        if node_pub is not None:
            assert lic["node_key"] == node_pub
        signer = lic["node_key"]
    else:
        assert node_pub is not None, "no license in the chain: need the node key"
        lic, signer = None, node_pub
    v = open_envelope(doc["verdict"], "verdict", signer)
    assert v["nonce"] == q["nonce"]
    assert v["node"] == q["node"]
    if lic is not None and v["status"] != "unknown_license":
        # An unknown_license verdict's chain only certifies the node key.
        assert v["license"] == lic["id"]
    if "license" in q:
        assert v["license"] == q["license"]
    assert abs(v["time"] - time.time()) < 60
    return v


def verify(server_port, /, kind="msgpack", accept=None, node_pub=None, **kw):
    """One verify request (kw: request_fields); returns the checked verdict body."""
    q = request_fields(**kw)
    body, ctype = encode(q, kind)
    st, out, rtype = post(server_port, "/v1/verify", body, ctype, accept)
    assert st == 200, (st, out)
    return check_chain(decode_response(out, rtype), q, node_pub)


def node_pub(data):
    return load_pub(os.path.join(str(data), "node.pub.pem"))


# ---- servers ----------------------------------------------------------------------

_LOGFMT = re.compile(r'([a-z0-9_]+)=("(?:[^"\\\x00-\x1f]|\\["\\]|\\x[0-9a-f]{2})*"|[^\s"=]+)(?: |$)')


def logfmt(line):
    """A strict logfmt reader: {key: value} or None when the line does not
    split into KEY=VALUE pairs (values bare, or quoted with backslash escapes
    of quote, backslash and xHH)."""
    out, pos = {}, 0
    while pos < len(line):
        m = _LOGFMT.match(line, pos)
        if m is None:
            return None
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r'\\x([0-9a-f]{2})|\\(.)',
                       lambda x: chr(int(x.group(1), 16)) if x.group(1) else x.group(2), v[1:-1])
        out[m.group(1)] = v
        pos = m.end()
    return out if not line.endswith(" ") else None

class Server(srvutil.Server):
    """srvutil.Server that can start without a healthy /healthz (machine
    mismatch) and fails the test on a sanitizer report in its log."""

    def start(self, timeout=20.0, healthy=True):
        if healthy:
            return super().start(timeout)
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.logfile,
                                     env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("licsrv exited with %d: %s" % (self.proc.returncode, self.log()))
            try:
                self.get("/healthz")
                return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("licsrv did not answer in %.0fs: %s" % (timeout, self.log()))

    final_log = None

    def log(self):
        return self.final_log if self.final_log is not None else super().log()

    def close(self):
        if self.final_log is None and not self.logfile.closed:
            self.final_log = super().log()  # kept for assertions after the file is gone
        super().close()

    def sanitizer_report(self):
        log = self.log()
        for m in SANITIZER_MARKS:
            i = log.find(m)
            if i >= 0:
                return log[max(0, i - 200):i + 3000]
        return None

    def kill9(self):
        """SIGKILL (no exit-time leak check then), but a report logged so far still fails."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.close()
        report = self.sanitizer_report()
        assert report is None, "sanitizer report in the licsrv log:\n" + report

    def finish(self, expect_rc=0):
        """SIGTERM, exit code, then no sanitizer report (leaks show at exit)."""
        rc = self.stop(signal.SIGTERM, timeout=15)
        self.close()
        report = self.sanitizer_report()
        assert report is None, "sanitizer report in the licsrv log:\n" + report
        for line in self.log().splitlines():
            if line.startswith("ts="):
                assert logfmt(line) is not None, "not logfmt: %r" % line
        if expect_rc is not None:
            assert rc == expect_rc, "licsrv exit %r: %s" % (rc, self.log()[-2000:])
        return rc


def token_add(data, name):
    p = srvutil.run([srvutil.licsrv_bin(), "token", "add", name, "--data", str(data)])
    return p.stdout.strip()


def admin(server, method, path, token=None, body=None, ctype="application/json", timeout=10.0):
    c = http.client.HTTPConnection("127.0.0.1", server.admin_port, timeout=timeout)
    try:
        h = {}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if body is not None:
            h["Content-Type"] = ctype
            if isinstance(body, (dict, list)):
                body = json.dumps(body).encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        try:
            doc = json.loads(data)
        except ValueError:
            doc = data
        return r.status, doc
    finally:
        c.close()
