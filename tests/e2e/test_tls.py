"""TLS end to end (SPEC §4.4): licsrv serving TLS on both listeners, checked
by independent clients (Python's ssl module, `openssl s_client`), session
resumption, SIGHUP swapping the certificate, licctl's https:// client with
its refusals, and garbage on the TLS port while a normal client keeps
getting answers. Certificates are made per test (tlsutil, ECDSA P-256)."""
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest

import srvutil
import tlsutil
from conftest import SANITIZER_RE

LICCTL = srvutil.tool("licctl")  # BUILD/bin


def run(*args, timeout=60, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)
    assert not SANITIZER_RE.search(p.stderr), p.stderr
    return p


@pytest.fixture
def pki(tmp_path):
    d = tmp_path / "pki"
    d.mkdir()
    ca = tlsutil.make_ca(d)
    leaf = tlsutil.make_cert(d, "server", ca=ca)
    return d, ca, leaf


def tls_server(tmp_path, ca, leaf, extra=(), **kw):
    # The server reads its certificate from paths that SIGHUP tests rewrite.
    cert, key = tmp_path / "live.pem", tmp_path / "live.key"
    shutil.copy(leaf.cert_path, cert)
    shutil.copy(leaf.key_path, key)
    os.chmod(key, 0o600)
    s = srvutil.Server(tmp_path / "data", tls=tlsutil.client_ctx(ca.cert_path),
                       extra=["--tls-cert", str(cert), "--tls-key", str(key)] + list(extra), **kw)
    s.cert_file, s.key_file = cert, key
    return s


@pytest.fixture
def srv(tmp_path, pki):
    _, ca, leaf = pki
    s = tls_server(tmp_path, ca, leaf)
    s.start()
    s.ca, s.leaf = ca, leaf
    yield s
    try:
        assert s.stop() == 0, s.log()
        assert not SANITIZER_RE.search(s.log()), s.log()
    finally:
        s.close()


def tls_connect(port, ctx, host="localhost", timeout=5.0):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw, server_hostname=host)


class _Unclosable:
    def __init__(self, f):
        self.f = f

    def __getattr__(self, name):
        return getattr(self.f, name)

    def close(self):
        pass


class _FileSock:
    def __init__(self, f):
        self.f = f

    def makefile(self, *a, **kw):
        return self.f


def responses(sock):
    """Read answers one after another from one buffered reader (pipelining)."""
    f = _FileSock(_Unclosable(sock.makefile("rb")))
    while True:
        r = http.client.HTTPResponse(f)
        r.begin()
        yield r.status, r.read()


def http_get(sock, path="/healthz", headers=""):
    sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%s\r\n" % (path, headers)).encode())
    if not hasattr(sock, "_lic_reader"):
        sock._lic_reader = responses(sock)
    return next(sock._lic_reader)


def metrics(s):
    st, body, _ = s.get("/metrics")
    assert st == 200
    out = {}
    for m in re.finditer(r'^licsrv_tls_handshakes_total\{result="(\w+)"\} (\d+)$', body.decode(), re.M):
        out[m.group(1)] = int(m.group(2))
    return out


def s_client(port, *args, data=b"", timeout=20):
    return subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                           "-servername", "localhost", "-ign_eof"] + list(args),
                          input=data, capture_output=True, timeout=timeout)


# --- independent clients ---------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_python_ssl_verifies_and_talks_http(srv, version):
    ctx = tlsutil.client_ctx(srv.ca.cert_path)
    ctx.minimum_version = ctx.maximum_version = version
    ctx.set_alpn_protocols(["http/1.1"])
    with tls_connect(srv.port, ctx) as s:
        assert s.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert s.selected_alpn_protocol() == "http/1.1"
        assert tlsutil.peer_fingerprint(s) == srv.leaf.fingerprint
        # The server's order wins: AES-128-GCM first (docs/server.md), though
        # Python's default list puts AES-256 first.
        assert s.cipher()[0] == {ssl.TLSVersion.TLSv1_2: "ECDHE-ECDSA-AES128-GCM-SHA256",
                                 ssl.TLSVersion.TLSv1_3: "TLS_AES_128_GCM_SHA256"}[version]
        # Keep-alive and pipelining through TLS: three requests in one write.
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        rd = responses(s)
        for _ in range(3):
            assert next(rd)[0] == 200


def test_old_protocols_and_other_alpn_refused(srv):
    ctx = tlsutil.client_ctx(srv.ca.cert_path)
    ctx.minimum_version = ssl.TLSVersion.TLSv1
    ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_connect(srv.port, ctx).close()
    ctx = tlsutil.client_ctx(srv.ca.cert_path)
    ctx.set_alpn_protocols(["h2"])
    with pytest.raises((ssl.SSLError, ConnectionError)):
        tls_connect(srv.port, ctx).close()
    # Without ALPN at all is fine (curl --no-alpn, old clients).
    with tls_connect(srv.port, tlsutil.client_ctx(srv.ca.cert_path)) as s:
        assert http_get(s)[0] == 200


def test_s_client_verifies_and_resumes(srv, tmp_path):
    sess = tmp_path / "sess.pem"
    for proto in ("-tls1_3", "-tls1_2"):
        p = s_client(srv.port, proto, "-CAfile", srv.ca.cert_path, "-verify_return_error",
                     "-verify_hostname", "localhost", "-sess_out", str(sess),
                     data=b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = p.stdout.decode(errors="replace")
        assert p.returncode == 0, out + p.stderr.decode(errors="replace")
        assert "Verify return code: 0 (ok)" in out
        assert "HTTP/1.1 200 OK" in out
        before = metrics(srv)["resumed"]
        p = s_client(srv.port, proto, "-CAfile", srv.ca.cert_path, "-sess_in", str(sess),
                     data=b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        out = p.stdout.decode(errors="replace")
        assert "Reused, TLSv1." in out, out
        assert "HTTP/1.1 200 OK" in out
        assert metrics(srv)["resumed"] == before + 1
    m = metrics(srv)
    assert m["full"] >= 2 and m["resumed"] >= 2


def test_python_ssl_gets_a_checked_valid_verdict(srv):
    import srvchain
    q = srvchain.request_fields(domain="localhost", port=443, node="rs-py", version="11.0.0")
    body, ctype = srvchain.encode(q, "msgpack")
    with tls_connect(srv.port, tlsutil.client_ctx(srv.ca.cert_path)) as s:
        s.sendall(("POST /v1/verify HTTP/1.1\r\nHost: localhost\r\nContent-Type: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (ctype, len(body))).encode() + body)
        st, out = next(responses(s))
    assert st == 200
    v = srvchain.check_chain(srvchain.decode_response(out, ctype), q, srvchain.node_pub(srv.data))
    assert v["status"] == "valid"


def test_valid_verdict_and_admin_over_tls(srv):
    p = run(LICCTL, "verify", "https://localhost:%d" % srv.port, "--cacert", srv.ca.cert_path,
            "--trust", srv.trust, "--domain", "localhost", "--port", "443", "--node", "rs-1",
            "--version", "11.0.0",
            "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["status"] == "valid"
    # The same through an IP address URL (the certificate names 127.0.0.1 too).
    p = run(LICCTL, "verify", "https://127.0.0.1:%d" % srv.port, "--cacert", srv.ca.cert_path,
            "--trust", srv.trust, "--domain", "localhost", "--port", "443", "--node", "rs-1",
            "--version", "11.0.0")
    assert p.returncode == 0 and p.stdout.startswith("valid:"), p.stderr
    # The admin listener speaks TLS with the same pair, and takes a token.
    tok = srvutil.run([srvutil.licsrv_bin(), "token", "add", "ops", "--data", srv.data],
                      srv.env).stdout.strip()
    with tls_connect(srv.admin_port, tlsutil.client_ctx(srv.ca.cert_path)) as s:
        st, body = http_get(s, "/v1/admin/licenses", "Authorization: Bearer %s\r\n" % tok)
        assert st == 200
        assert json.loads(body)["licenses"][0]["id"] == srv.license_id
        assert http_get(s, "/v1/admin/licenses")[0] == 401
    # Plain HTTP to the admin port gets no answer in clear text.
    out = srvutil.exchange(srv.admin_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3)
    assert b"HTTP/1.1" not in out
    assert tok not in srv.log()


def test_admin_listener_takes_its_own_pair(tmp_path, pki):
    d, ca, leaf = pki
    admin_leaf = tlsutil.make_cert(d, "admin", ca=ca)
    s = tls_server(tmp_path, ca, leaf, extra=["--admin-tls-cert", admin_leaf.cert_path,
                                              "--admin-tls-key", admin_leaf.key_path])
    with s:
        ctx = tlsutil.client_ctx(ca.cert_path)
        with tls_connect(s.port, ctx) as c:
            assert tlsutil.peer_fingerprint(c) == leaf.fingerprint
        with tls_connect(s.admin_port, ctx) as c:
            assert tlsutil.peer_fingerprint(c) == admin_leaf.fingerprint
            assert http_get(c)[0] == 200
        assert s.stop() == 0


# --- reload ------------------------------------------------------------------------


def test_sighup_swaps_the_certificate(tmp_path, pki):
    d, ca, leaf = pki
    s = tls_server(tmp_path, ca, leaf)
    with s:
        ctx = tlsutil.client_ctx(ca.cert_path)
        old = tls_connect(s.port, ctx)
        assert tlsutil.peer_fingerprint(old) == leaf.fingerprint
        assert http_get(old)[0] == 200
        new_leaf = tlsutil.make_cert(d, "server2", ca=ca)
        shutil.copy(new_leaf.cert_path, s.cert_file)
        shutil.copy(new_leaf.key_path, s.key_file)
        s.send_signal(signal.SIGHUP)
        assert s.wait_log("tls=reloaded"), s.log()
        with tls_connect(s.port, ctx) as c:
            assert tlsutil.peer_fingerprint(c) == new_leaf.fingerprint
            assert http_get(c)[0] == 200
        # The connection opened before keeps its session and keeps answering.
        assert http_get(old)[0] == 200
        assert tlsutil.peer_fingerprint(old) == leaf.fingerprint
        # A broken new file: logged, the last good pair stays.
        with open(s.cert_file, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        s.send_signal(signal.SIGHUP)
        assert s.wait_log("tls=kept"), s.log()
        line = [ln for ln in s.log().splitlines() if "tls=kept" in ln][0]
        assert "live.pem" in line and "level=error" in line
        with tls_connect(s.port, ctx) as c:
            assert tlsutil.peer_fingerprint(c) == new_leaf.fingerprint
            assert http_get(c)[0] == 200
        # A key that does not match the certificate is refused the same way.
        shutil.copy(leaf.cert_path, s.cert_file)  # key file still holds server2's key
        s.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 5
        while s.log().count("tls=kept") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert s.log().count("tls=kept") == 2, s.log()
        with tls_connect(s.port, ctx) as c:
            assert tlsutil.peer_fingerprint(c) == new_leaf.fingerprint
        assert http_get(old)[0] == 200
        old.close()
        assert s.stop() == 0
        assert not SANITIZER_RE.search(s.log()), s.log()


def cert_expiry_metric(s):
    st, body, _ = s.get("/metrics")
    assert st == 200
    m = re.search(r'^licsrv_tls_cert_expiry_seconds\{listener="public"\} (-?\d+)$', body.decode(), re.M)
    assert m, body.decode()
    return int(m.group(1))


def test_serve_refuses_a_certificate_outside_its_validity(tmp_path, pki):
    d, ca, _ = pki
    day = datetime.timedelta(days=1)
    expired = tlsutil.make_cert(d, "expired", ca=ca, window=(-10 * day, -day))
    future = tlsutil.make_cert(d, "future", ca=ca, window=(day, 90 * day))
    for leaf, why in ((expired, "expired on"), (future, "is not valid before")):
        s = tls_server(tmp_path, ca, leaf)
        try:
            with pytest.raises(RuntimeError):
                s.start(timeout=5)
            assert s.proc.returncode == 1
            lines = [ln for ln in s.log().splitlines() if ln.strip()]
            assert lines[-1].startswith("licsrv: error: serve: the TLS certificate %s " % s.cert_file), lines
            assert why in lines[-1] and "--allow-expired-cert" in lines[-1], lines[-1]
        finally:
            s.close()
    # Allowed on purpose: served, and /healthz says so (still 200).
    s = tls_server(tmp_path, ca, expired, extra=["--allow-expired-cert"])
    s.ssl_ctx = ssl._create_unverified_context()
    with s:
        st, body, _ = s.get("/healthz")
        assert st == 200
        w = json.loads(body)["warnings"]
        assert [x["check"] for x in w] == ["tls_cert"], w
        assert "ended on" in w[0]["message"] and "allow_expired_cert" in w[0]["message"], w
        assert -10 * 86400 < cert_expiry_metric(s) < -86400 + 60
        assert s.stop() == 0


def test_sighup_keeps_the_pair_when_the_new_one_is_out_of_date(tmp_path, pki):
    d, ca, leaf = pki
    day = datetime.timedelta(days=1)
    s = tls_server(tmp_path, ca, leaf)
    with s:
        ctx = tlsutil.client_ctx(ca.cert_path)
        st, body, _ = s.get("/healthz")
        assert st == 200 and "warnings" not in json.loads(body), body
        assert 89 * 86400 < cert_expiry_metric(s) <= 90 * 86400
        kept = 0
        for name, window in (("expired", (-10 * day, -day)), ("future", (day, 90 * day))):
            bad = tlsutil.make_cert(d, name, ca=ca, window=window)
            shutil.copy(bad.cert_path, s.cert_file)
            shutil.copy(bad.key_path, s.key_file)
            s.send_signal(signal.SIGHUP)
            kept += 1
            deadline = time.monotonic() + 5
            while s.log().count("tls=kept") < kept and time.monotonic() < deadline:
                time.sleep(0.05)
            lines = [ln for ln in s.log().splitlines() if "tls=kept" in ln]
            assert len(lines) == kept, s.log()
            assert "live.pem" in lines[-1] and ("expired on" if name == "expired" else
                                                "not valid before") in lines[-1], lines[-1]
            with tls_connect(s.port, ctx) as c:
                assert tlsutil.peer_fingerprint(c) == leaf.fingerprint
                assert http_get(c)[0] == 200
        assert "tls=reloaded" not in s.log()
        # Ending in ten days: taken, and /healthz warns (still 200), /metrics says when.
        near = tlsutil.make_cert(d, "near", ca=ca, window=(-day, 10 * day + datetime.timedelta(hours=1)))
        shutil.copy(near.cert_path, s.cert_file)
        shutil.copy(near.key_path, s.key_file)
        s.send_signal(signal.SIGHUP)
        assert s.wait_log("tls=reloaded"), s.log()
        with tls_connect(s.port, ctx) as c:
            assert tlsutil.peer_fingerprint(c) == near.fingerprint
        st, body, _ = s.get("/healthz")
        assert st == 200
        w = json.loads(body)["warnings"]
        assert [x["check"] for x in w] == ["tls_cert"], w
        assert "live.pem" in w[0]["message"] and "ends in 10 days" in w[0]["message"], w
        assert 10 * 86400 < cert_expiry_metric(s) <= 10 * 86400 + 3600
        assert s.stop() == 0
        assert not SANITIZER_RE.search(s.log()), s.log()


# --- licctl's https client: each refusal its own case -----------------------------


def verify_args(srv, url=None):
    return [LICCTL, "verify", url or "https://localhost:%d" % srv.port, "--trust", srv.trust,
            "--domain", "localhost", "--port", "443", "--node", "rs-1",
            "--version", "11.0.0"]


def one_error_line(p):
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert len(lines) == 1 and lines[0].startswith("licctl: error: "), p.stderr
    return lines[0]


def test_client_refuses_a_self_signed_server_not_in_cacert(tmp_path, pki):
    d, ca, _ = pki
    self_signed = tlsutil.make_cert(d, "self")
    s = tls_server(tmp_path, self_signed, self_signed)
    with s:
        s.ca, s.leaf = ca, self_signed
        line = one_error_line(run(*verify_args(s), "--cacert", ca.cert_path))
        assert "untrusted certificate" in line and "self-signed" in line, line
        # Neither is it in the system store.
        line = one_error_line(run(*verify_args(s)))
        assert "untrusted certificate" in line, line


def test_client_refuses_an_expired_certificate(tmp_path, pki):
    d, ca, _ = pki
    old = tlsutil.make_cert(d, "old", ca=ca, expired=True)
    s = tls_server(tmp_path, ca, old, extra=["--allow-expired-cert"])
    s.ssl_ctx = ssl._create_unverified_context()
    with s:
        line = one_error_line(run(*verify_args(s), "--cacert", ca.cert_path))
        assert "has expired" in line, line


def test_client_refuses_the_wrong_host(tmp_path, pki):
    d, ca, _ = pki
    other = tlsutil.make_cert(d, "other", hosts=("other.example",), ca=ca)
    s = tls_server(tmp_path, ca, other)
    s.ssl_ctx = tlsutil.client_ctx(ca.cert_path, host_check=False)
    with s:
        line = one_error_line(run(*verify_args(s), "--cacert", ca.cert_path))
        assert "wrong host" in line and "localhost" in line, line
        line = one_error_line(run(*verify_args(s, "https://127.0.0.1:%d" % s.port), "--cacert",
                                  ca.cert_path))
        assert "wrong host" in line and "127.0.0.1" in line, line


def test_client_pins(tmp_path, pki):
    d, ca, _ = pki
    self_signed = tlsutil.make_cert(d, "self", hosts=("other.example",))
    s = tls_server(tmp_path, self_signed, self_signed)
    s.ssl_ctx = ssl._create_unverified_context()
    with s:
        wrong = tlsutil.make_cert(d, "wrong").pin
        line = one_error_line(run(*verify_args(s), "--pin", wrong))
        assert "pin mismatch" in line and self_signed.pin in line, line
        # The right pin among others: accepted without any CA (and whatever
        # name the certificate carries).
        p = run(*verify_args(s), "--pin", wrong, "--pin", self_signed.pin)
        assert p.returncode == 0 and p.stdout.startswith("valid:"), p.stderr
        # A malformed pin is a usage error.
        p = run(*verify_args(s), "--pin", "sha1/abc")
        assert p.returncode == 2 and "--pin" in p.stderr


def test_client_handshake_failure_and_timeout(tmp_path):
    # A plain HTTP server where https:// is asked: a handshake failure, one line.
    s = srvutil.Server(tmp_path / "data")
    with s:
        line = one_error_line(run(*verify_args(s)))
        assert "TLS handshake with localhost:%d failed" % s.port in line, line
    # A server that accepts and never answers the ClientHello: the time-out
    # bounds connect + handshake.
    lis = socket.socket()
    lis.bind(("127.0.0.1", 0))
    lis.listen(4)
    try:
        port = lis.getsockname()[1]
        t0 = time.monotonic()
        p = run(LICCTL, "verify", "https://localhost:%d" % port, "--domain", "d", "--port", "1",
                "--node", "n", "--timeout", "800")
        assert time.monotonic() - t0 < 5
        line = one_error_line(p)
        assert "did not answer in time" in line, line
    finally:
        lis.close()


# --- slow and bad clients on the TLS port ----------------------------------------


def client_hello():
    """The first flight of a real TLS client (Python's), without a peer."""
    ctx = ssl.create_default_context()
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return out.read()


def test_garbage_on_the_tls_port_is_a_close(tmp_path, pki):
    _, ca, leaf = pki
    s = tls_server(tmp_path, ca, leaf, extra=["--header-timeout-ms", "1500"])
    with s:
        ctx = tlsutil.client_ctx(ca.cert_path)
        stop = threading.Event()
        answers, worst = [0], [0.0]
        errors = []

        def normal_client():
            try:
                with tls_connect(s.port, ctx, timeout=10) as c:
                    while not stop.is_set():
                        t0 = time.monotonic()
                        assert http_get(c)[0] == 200
                        worst[0] = max(worst[0], time.monotonic() - t0)
                        answers[0] += 1
                        time.sleep(0.01)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        th = threading.Thread(target=normal_client)
        th.start()
        try:
            # Plain HTTP: no answer in clear text, the connection ends.
            out = srvutil.exchange(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
            assert b"HTTP/1.1" not in out
            # Random bytes.
            for n in (1, 5, 300, 20000):
                srvutil.exchange(s.port, os.urandom(n), timeout=5)
            # A record header that promises more than a record may hold.
            srvutil.exchange(s.port, b"\x16\x03\x01\xff\xff" + os.urandom(100), timeout=5)
            # A ClientHello cut short: closed at the header time-out, not before.
            hello = client_hello()
            t0 = time.monotonic()
            out = srvutil.exchange(s.port, hello[: len(hello) // 2], timeout=10)
            took = time.monotonic() - t0
            assert out == b"" and 1.2 < took < 6, (out, took)
            # 200 stalled handshakes (half send nothing, half a partial hello).
            socks = []
            for i in range(200):
                c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
                if i % 2:
                    c.sendall(hello[:20])
                socks.append(c)
            time.sleep(0.5)
            got_before = answers[0]
            time.sleep(0.5)
            assert answers[0] > got_before, "the normal client stalled"
            t0 = time.monotonic()
            for c in socks:  # every one is closed by the server at the time-out
                assert srvutil.recv_until_close(c, timeout=10) == b""
                c.close()
            assert time.monotonic() - t0 < 8
        finally:
            stop.set()
            th.join(timeout=15)
        assert not errors, errors
        assert answers[0] > 20 and worst[0] < 1.0, (answers[0], worst[0])
        m = metrics(s)
        assert m["failed"] >= 6, m
        assert s.stop() == 0
        assert not SANITIZER_RE.search(s.log()), s.log()


def test_backpressure_through_tls(srv):
    # Many pipelined requests and a client that reads nothing for a while:
    # the server stops reading at the output bound, then answers everything.
    n = 400
    with tls_connect(srv.port, tlsutil.client_ctx(srv.ca.cert_path), timeout=20) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * n)
        time.sleep(1.0)
        rd = responses(c)
        for _ in range(n):
            st, body = next(rd)
            assert st == 200 and b"licsrv_tls_handshakes_total" in body


def test_activate_claims_over_https(tmp_path, pki):
    from test_claim import TEST_PUB, licctl_env, make_codes
    _, ca, leaf = pki
    s = tls_server(tmp_path, ca, leaf)
    trusted = Path(s.data) / "trusted"
    trusted.mkdir(exist_ok=True)
    shutil.copy(TEST_PUB, trusted / "test-root.pub.pem")
    with s:
        codes = make_codes(tmp_path)
        env = dict(os.environ, **licctl_env(tmp_path / "A", "0123456789abcdef0123456789abcdef",
                                           "52:54:00:12:34:56"))
        url = "https://localhost:%d" % s.port
        base = [LICCTL, "activate", codes[0], "--server", url, "--product", 1, "--trust", TEST_PUB,
                "--state", tmp_path / "state"]
        # Not trusted without the CA: refused, nothing written.
        line = one_error_line(run(*base, env=env))
        assert "untrusted certificate" in line, line
        other = tlsutil.make_cert(tmp_path, "other-key")
        line = one_error_line(run(*base, "--pin", other.pin, env=env))
        assert "pin mismatch" in line, line
        assert not (tmp_path / "state" / "activation").exists()
        p = run(*base, "--cacert", ca.cert_path, env=env)
        assert p.returncode == 0 and "claimed online" in p.stdout, p.stderr
        # The pin of the server's key works instead of the CA.
        p = run(*base, "--pin", leaf.pin, env=env)
        assert p.returncode == 0, p.stderr
        # --cacert without --server is a usage error.
        p = run(LICCTL, "activation", "--cacert", ca.cert_path, "--state", tmp_path / "state",
                env=env)
        assert p.returncode == 2


def test_agent_over_https(srv, tmp_path):
    from test_agent import Agent
    # Untrusted: the session stays unlicensed and says why; with the CA: licensed.
    a = Agent(tmp_path / "st-a", ["https://localhost:%d" % srv.port], srv.trust).start()
    try:
        st = a.wait(lambda st: st["last_error"] != "", 15)
        assert st["state"] == "unlicensed" and "untrusted certificate" in st["last_error"], st
    finally:
        assert a.stop() == 0
    b = Agent(tmp_path / "st-b", ["https://localhost:%d" % srv.port], srv.trust,
              extra=["--cacert", srv.ca.cert_path]).start()
    try:
        st = b.wait_state("licensed", 15)
        assert st["server"] == "https://localhost:%d" % srv.port
    finally:
        assert b.stop() == 0
    assert not SANITIZER_RE.search(a.log() + b.log())


def test_admin_only_tls_and_no_switch_by_reload(tmp_path, pki):
    d, ca, leaf = pki
    cfg = tmp_path / "licsrv.ini"
    cfg.write_text("admin_tls_cert = %s\nadmin_tls_key = %s\n" % (leaf.cert_path, leaf.key_path))
    s = srvutil.Server(tmp_path / "data", extra=["--config", str(cfg)])
    with s:
        # The public listener stays plain, the admin one is TLS only.
        assert s.get("/healthz")[0] == 200
        with tls_connect(s.admin_port, tlsutil.client_ctx(ca.cert_path)) as c:
            assert http_get(c)[0] == 200
        assert "tls=off" in s.log() and "admin_tls=on" in s.log()
        # Turning TLS on for the public listener needs a restart: logged, nothing changes.
        cfg.write_text(cfg.read_text() + "tls_cert = %s\ntls_key = %s\n"
                       % (leaf.cert_path, leaf.key_path))
        s.send_signal(signal.SIGHUP)
        assert s.wait_log("tls=kept"), s.log()
        assert "cannot be switched on" in s.log()
        assert s.get("/healthz")[0] == 200
        assert s.stop() == 0
