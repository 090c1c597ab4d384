"""The Java client's verify (build/java/liblic.jar) against a real licsrv over
TLS: checked against a CA file and against an SPKI pin (a wrong pin and a host
name the certificate does not hold refused), the same output and exit codes
as licctl verify, denials, and replayed or forged answers refused (a proxy
between the client and the server replays or alters the server's answer)."""
import http.server
import json
import os
import threading
import urllib.request
import ssl

import pytest

import javautil
import srvutil
import tlsutil
from conftest import SANITIZER_RE

javautil.need_jar()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    d = tmp_path_factory.mktemp("jtls")
    ca = tlsutil.make_ca(d)
    leaf = tlsutil.make_cert(d, "server", ca=ca)
    s = srvutil.Server(d / "data", tls=tlsutil.client_ctx(ca.cert_path),
                       extra=["--tls-cert", leaf.cert_path, "--tls-key", leaf.key_path],
                       domains=("reports.example.com",), ports=(443,), max_nodes=5)
    s.start()
    s.ca, s.leaf, s.dir = ca, leaf, d
    s.url = "https://localhost:%d" % s.port
    yield s
    try:
        assert s.stop() == 0, s.log()
        assert not SANITIZER_RE.search(s.log()), s.log()
    finally:
        s.close()


def vargs(srv, *extra, node="java-1", domain="reports.example.com"):
    return ["verify", srv.url, "--domain", domain, "--port", "443", "--node", node,
            "--version", "11.0.2", "--trust", srv.trust, "--license", srv.license_id] + list(extra)


def test_ca_file_valid_same_output_as_licctl(srv):
    j = javautil.run(vargs(srv, "--cacert", srv.ca.cert_path))
    c = javautil.licctl(vargs(srv, "--cacert", srv.ca.cert_path))
    assert j.returncode == 0, j.stderr
    assert c.returncode == 0, c.stderr
    assert j.stdout == c.stdout
    assert j.stdout.startswith("valid: license %s, node java-1, seats 1/5" % srv.license_id)


def test_json_same_fields_as_licctl(srv):
    j = javautil.run(vargs(srv, "--cacert", srv.ca.cert_path, "--json"))
    c = javautil.licctl(vargs(srv, "--cacert", srv.ca.cert_path, "--json"))
    assert j.returncode == c.returncode == 0, j.stderr + c.stderr
    jd, cd = json.loads(j.stdout), json.loads(c.stdout)
    assert abs(jd.pop("time") - cd.pop("time")) < 60
    assert jd == cd
    assert jd["signed"] is True and jd["features"] == ["export", "schedule"]


def test_pin_valid_and_wrong_pin_refused(srv):
    ok = javautil.run(vargs(srv, "--pin", srv.leaf.pin))
    assert ok.returncode == 0, ok.stderr
    other = tlsutil.make_cert(srv.dir, "other", ca=srv.ca)
    bad = javautil.run(vargs(srv, "--pin", other.pin))
    assert bad.returncode == 1
    assert "matches no --pin" in bad.stderr
    assert bad.stdout == ""


def test_pin_keeps_the_host_name_check(srv, tmp_path):
    # A pinned key on a certificate for another name: the name check still refuses it.
    ca = tlsutil.make_ca(tmp_path)
    leaf = tlsutil.make_cert(tmp_path, "elsewhere", hosts=("elsewhere.example",), ca=ca)
    s = srvutil.Server(tmp_path / "data", domains=("reports.example.com",), ports=(443,),
                       extra=["--tls-cert", leaf.cert_path, "--tls-key", leaf.key_path],
                       tls=tlsutil.client_ctx(ca.cert_path, host_check=False))
    s.start()
    try:
        args = vargs(srv, "--pin", leaf.pin, node="java-host")
        args[1] = "https://localhost:%d" % s.port
        args[args.index("--license") + 1] = s.license_id
        p = javautil.run(args)
        assert p.returncode == 1
        assert "localhost" in p.stderr or "name" in p.stderr.lower(), p.stderr
    finally:
        s.stop()
        s.close()


def test_system_store_refuses_a_private_ca(srv):
    p = javautil.run(vargs(srv))
    assert p.returncode == 1
    assert p.stderr.startswith("liblic: error: %s: input/output error" % srv.url), p.stderr


def test_denial_is_a_verdict_exit_1_like_licctl(srv):
    j = javautil.run(vargs(srv, "--cacert", srv.ca.cert_path, domain="other.example.com"))
    c = javautil.licctl(vargs(srv, "--cacert", srv.ca.cert_path, domain="other.example.com"))
    assert j.returncode == c.returncode == 1
    assert j.stdout == c.stdout
    assert j.stdout.startswith("denied: domain_denied: ")


def test_usage_errors_exit_2_like_licctl(srv):
    for extra in (["--pin", "sha256/short"], ["--cacert", srv.ca.cert_path, "--pin", srv.leaf.pin],
                  ["--license", "not-a-uuid"], ["--bogus"]):
        j = javautil.run(vargs(srv, *extra))
        c = javautil.licctl(vargs(srv, *extra))
        assert j.returncode == c.returncode == 2, (extra, j.stderr, c.stderr)
    j = javautil.run(["verify", srv.url, "--port", "443", "--node", "n"])
    c = javautil.licctl(["verify", srv.url, "--port", "443", "--node", "n"])
    assert j.returncode == c.returncode == 2
    assert javautil.same_line(j.stderr, c.stderr), (j.stderr, c.stderr)


class _Proxy(http.server.BaseHTTPRequestHandler):
    """Plain-HTTP front of the TLS server: 'replay' answers every request with
    the first answer it got; 'flip' alters one byte of the verdict envelope."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        st = self.server.state
        if st["mode"] == "replay" and st.get("saved") is not None:
            out = st["saved"]
        else:
            req = urllib.request.Request(st["upstream"] + self.path, data=body, method="POST",
                                         headers={"Content-Type": "application/msgpack",
                                                  "Accept": "application/msgpack"})
            with urllib.request.urlopen(req, context=st["ctx"], timeout=10) as r:
                out = r.read()
            st["saved"] = out
            if st["mode"] == "flip":
                i = out.find(b"reason")  # inside the verdict's signed body
                out = out[:i] + bytes([out[i] ^ 0x01]) + out[i + 1:]
        self.send_response(200)
        self.send_header("Content-Type", "application/msgpack")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


@pytest.fixture
def proxy(srv):
    h = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    h.state = {"mode": "replay", "upstream": srv.url,
               "ctx": ssl.create_default_context(cafile=srv.ca.cert_path)}
    t = threading.Thread(target=h.serve_forever, daemon=True)
    t.start()
    yield h
    h.shutdown()
    h.server_close()


def test_replayed_answer_refused(srv, proxy):
    args = vargs(srv)
    args[1] = "http://127.0.0.1:%d" % proxy.server_address[1]
    first = javautil.run(args)
    assert first.returncode == 0, first.stderr
    again = javautil.run(args)
    assert again.returncode == 1
    assert "the verdict does not answer our nonce (replayed?)" in again.stderr
    assert again.stdout == ""


def test_forged_answer_refused(srv, proxy):
    proxy.state["mode"] = "flip"
    args = vargs(srv)
    args[1] = "http://127.0.0.1:%d" % proxy.server_address[1]
    p = javautil.run(args)
    assert p.returncode == 1
    assert "signature does not verify" in p.stderr, p.stderr


def test_unreachable_server_same_error_as_licctl(srv):
    port = srvutil.free_port()
    args = ["verify", "http://127.0.0.1:%d" % port, "--domain", "reports.example.com", "--port",
            "443", "--node", "n", "--trust", srv.trust, "--timeout", "3000"]
    j, c = javautil.run(args), javautil.licctl(args)
    assert j.returncode == c.returncode == 1
    assert javautil.same_line(j.stderr, c.stderr), (j.stderr, c.stderr)
