"""End-to-end: the real `licsrv serve` over loopback (keep-alive, pipelining,
bad requests, signals)."""
import http.client
import json
import os
import signal
import subprocess
import time

import pytest

import srvutil


@pytest.fixture
def server(tmp_path):
    s = srvutil.Server(tmp_path / "data")
    s.start()
    yield s
    s.close()


def test_healthz_and_keepalive(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    c.request("GET", "/healthz")
    r = c.getresponse()
    assert r.status == 200
    assert json.loads(r.read())["status"] == "ok"
    sock = c.sock
    for _ in range(5):
        c.request("GET", "/healthz")
        r = c.getresponse()
        assert r.status == 200
        r.read()
        assert c.sock is sock  # same connection
    c.close()


def test_pipelining_in_order(server):
    reqs = b"".join(b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n" % p
                    for p in [b"healthz", b"nope", b"healthz", b"metrics"] * 3)
    with srvutil.connect(server.port) as s:
        s.sendall(reqs)
        got = srvutil.read_responses(s, 12)
    assert [g[0] for g in got] == [200, 404, 200, 200] * 3
    assert json.loads(got[1][2])["error"] == "not_found"
    assert b"licsrv_http_requests_total" in got[3][2]


def test_metrics_and_admin(server):
    st, body, _ = server.get("/metrics")
    assert st == 200
    text = body.decode()
    assert 'licsrv_http_requests_total{listener="public",endpoint="/healthz",status="200"}' in text
    assert "licsrv_http_request_duration_seconds_bucket" in text
    assert "licsrv_http_connections_open" in text
    st, _, _ = server.get("/healthz", port=server.admin_port)
    assert st == 200


def status_and_closed(port, data):
    out = srvutil.exchange(port, data, timeout=5)
    assert out.startswith(b"HTTP/1.1 "), out[:80]
    return int(out.split()[1]), out


@pytest.mark.parametrize("data,status", [
    (b"BLAH\r\n\r\n", 400),
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400),
    (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400),
    (b"POST /v1/verify HTTP/1.1\r\nHost: x\r\n\r\n", 411),
    (b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n", 413),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(b"H%d: v\r\n" % i for i in range(80)) + b"\r\n", 431),
])
def test_bad_requests_then_close(server, data, status):
    got, out = status_and_closed(server.port, data)
    assert got == status
    assert b"Connection: close" in out
    st, _, _ = server.get("/healthz")
    assert st == 200


def test_unknown_and_wrong_method(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    c.request("GET", "/v1/nothing-here")
    r = c.getresponse()
    assert r.status == 404
    assert json.loads(r.read()) == {"error": "not_found", "message": "no such endpoint"}
    c.request("POST", "/healthz", body=b"{}", headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 405
    assert r.getheader("Allow") == "GET"
    r.read()
    c.close()


def test_log_full_ips_flag(tmp_path):
    # A bare boolean flag means true, and the flags after it still count.
    s = srvutil.Server(tmp_path, extra=["--log-full-ips", "--max-headers", "5"])
    with s:
        s.get("/healthz")
        assert s.wait_log("remote=127.0.0.1\n")
        got, _ = status_and_closed(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"H: v\r\n" * 6 + b"\r\n")
        assert got == 431


def test_request_log_is_logfmt_and_masked(server):
    server.get("/healthz?token=secret", headers={"Authorization": "Bearer hunter2"})
    assert server.wait_log("path=/healthz status=200")
    log = server.log()
    line = [l for l in log.splitlines() if "msg=request" in l][-1]
    for key in ("ts=", "level=info", "method=GET", "dur_us=", "remote=127.0.0.0/24"):
        assert key in line
    assert "hunter2" not in log and "secret" not in log


def test_sigterm_drains_and_exits_zero(tmp_path):
    s = srvutil.Server(tmp_path)
    s.start()
    try:
        idle = srvutil.connect(s.port)  # an idle keep-alive connection must not hold the exit
        t0 = time.monotonic()
        assert s.stop(signal.SIGTERM, timeout=8) == 0
        assert time.monotonic() - t0 < 6
        assert "msg=shutdown signal=TERM" in s.log()
        idle.close()
    finally:
        s.close()


def test_sighup_reloads_limits(tmp_path):
    conf = tmp_path / "licsrv.ini"
    conf.write_text("max_body = 64K\n")
    s = srvutil.Server(tmp_path, extra=["--config", str(conf)])
    s.start()
    try:
        conf.write_text("max_body = 100\n")
        s.send_signal(signal.SIGHUP)
        assert s.wait_log("msg=reload signal=HUP result=ok max_body=100")
        got, _ = status_and_closed(s.port, b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n")
        assert got == 413
        conf.write_text("max_body = lots\n")
        s.send_signal(signal.SIGHUP)
        assert s.wait_log("result=failed")
        assert "licsrv.ini:1:" in s.log()
        assert s.get("/healthz")[0] == 200  # a bad reload keeps the old limits
        assert s.stop() == 0
    finally:
        s.close()


def run(*args):
    return subprocess.run([srvutil.licsrv_bin()] + list(args), capture_output=True, text=True,
                          timeout=30)


def test_command_line():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("licsrv ")
    r = run("--help")
    assert r.returncode == 0 and "serve" in r.stdout
    r = run("serve", "--help")
    assert r.returncode == 0 and "--max-body" in r.stdout and "--admin-listen" in r.stdout
    r = run("serve", "--no-such-flag", "1")
    assert r.returncode == 2 and r.stderr.startswith("licsrv: error: ")
    r = run("serve", "--max-body", "-5")
    assert r.returncode == 2 and "max_body" in r.stderr
    r = run("frobnicate")
    assert r.returncode == 2


def test_tls_settings_refused(tmp_path):
    r = run("serve", "--data", str(tmp_path), "--tls-cert", "/nonexistent.pem",
            "--listen", "127.0.0.1:%d" % srvutil.free_port())
    assert r.returncode == 2
    assert "tls_cert and tls_key go together" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = run("serve", "--data", str(tmp_path), "--tls-cert", "/nonexistent.pem",
            "--tls-key", "/nonexistent.key", "--listen", "127.0.0.1:%d" % srvutil.free_port())
    assert r.returncode == 1
    assert "/nonexistent.pem" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_port_in_use_is_an_error(tmp_path):
    with srvutil.Server(tmp_path / "a") as s:
        # Another data directory: the same one is refused by its lock first.
        other = srvutil.Server(tmp_path / "b")
        p = subprocess.run([srvutil.licsrv_bin(), "serve", "--data", other.data, "--listen",
                            "127.0.0.1:%d" % s.port, "--admin-listen",
                            "127.0.0.1:%d" % srvutil.free_port()],
                           capture_output=True, text=True, timeout=30, env=other.env)
        other.close()
        assert p.returncode == 1, p.stderr
        assert "Address already in use" in p.stderr, p.stderr
        # A failed start says nothing of the machine binding.
        assert "machine" not in p.stderr, p.stderr
        assert s.wait_log("msg=machine_binding result=holds licenses=1"), s.log()
        r = run("serve", "--data", other.data, "--listen", "127.0.0.1:%d" % s.port,
                "--admin-listen", "127.0.0.1:%d" % s.port)
        assert r.returncode == 2
        assert s.get("/healthz")[0] == 200


def test_listen_on_a_name(tmp_path):
    """--listen localhost:PORT resolves at start; the log names the bound address."""
    from srvchain import Server as CServer
    s = CServer(tmp_path / "data", threads=1)
    port = s.port
    s.args += ["--listen", "localhost:%d" % port]
    with s:
        assert s.get("/healthz")[0] == 200
        assert s.wait_log("msg=listening listen=localhost:%d bound=127.0.0.1:%d port=%d"
                          % (port, port, port)), s.log()
        s.finish()
    r = run("serve", "--data", str(tmp_path / "data"), "--listen", "no-such-host.invalid:1",
            "--admin-listen", "127.0.0.1:0")
    assert r.returncode == 1, r
    assert r.stderr.startswith("licsrv: error: serve: no-such-host.invalid:1: cannot resolve "
                               "'no-such-host.invalid': "), r.stderr
    assert len(r.stderr.splitlines()) == 1, r.stderr
