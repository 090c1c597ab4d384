"""What a new user tripped over in the README/docs walkthroughs (issue 23,
items 8-13): the server's start-up log, listings with a header row, and the
other outputs a first run reads."""
import os
import resource
import socket
import subprocess
import threading
import time

import srvchain
import srvutil
import tlsutil
from srvutil import Server, tool


def start_low_fd(s, nofile=1024):
    """Start s under RLIMIT_NOFILE nofile (soft and hard) and wait for /healthz."""
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    s.proc = subprocess.Popen(s.args, stdout=subprocess.DEVNULL, stderr=s.logfile, env=s.env,
                              preexec_fn=low_limit)
    assert s.wait_log("msg=listening", timeout=10), s.log()
    return s


def test_connection_limits_warn_only_when_a_chosen_value_is_capped(tmp_path):
    """With the defaults (max_connections 20000) on a 1024-descriptor machine
    every start warned though nothing was wrong: the defaults are fitted at
    level info; a max_connections the operator set and cannot have warns."""
    s = Server(tmp_path / "data")
    s.start()
    assert s.stop() == 0
    s.close()
    for extra, level, detail in (
            ((), "info", "the defaults, fitted to the descriptor limit"),
            (("--max-connections", "5000"), "warn", "capped to the descriptor limit")):
        s2 = Server(tmp_path / "data", extra=extra, sysroot=s.sysroot)
        try:
            start_low_fd(s2)
            lines = [ln for ln in s2.log().splitlines() if "msg=connection_limits" in ln]
            assert len(lines) == 1, s2.log()
            assert " level=%s " % level in lines[0] and detail in lines[0], lines
            assert "level=warn" not in s2.log() or level == "warn", s2.log()
            assert s2.stop() == 0
        finally:
            s2.close()


# ---- item 10: messages -------------------------------------------------------------------------

def tls_server(tmp_path, **terms):
    d = tmp_path / "pki"
    d.mkdir()
    ca = tlsutil.make_ca(d)
    leaf = tlsutil.make_cert(d, "server", ca=ca)
    os.chmod(leaf.key_path, 0o600)
    s = Server(tmp_path / "data", tls=tlsutil.client_ctx(ca.cert_path),
               extra=["--tls-cert", str(leaf.cert_path), "--tls-key", str(leaf.key_path)],
               **terms)
    s.ca, s.leaf = ca, leaf
    return s


def licctl_verify(s, url, *extra):
    return subprocess.run([str(tool("licctl")), "verify", url, "--trust", s.trust, "--domain",
                           "localhost", "--port", "443", "--node", "n", "--version", "11.0.0",
                           "--timeout", "5000", *extra], capture_output=True, text=True,
                          timeout=60)


def test_tls_messages(tmp_path):
    """A refused certificate is a TLS failure, not "signed by a key that is
    not trusted"; http:// to a TLS port says to use https://."""
    s = tls_server(tmp_path)
    with s:
        p = licctl_verify(s, "https://localhost:%d" % s.port)
        assert p.returncode == 1, p
        assert p.stderr == ("licctl: error: https://localhost:%d: TLS check failed: untrusted "
                            "certificate of localhost: unable to get local issuer certificate "
                            "(give --cacert FILE or --pin)\n" % s.port), p
        p = licctl_verify(s, "https://127.0.0.1:%d" % s.port, "--pin",
                          tlsutil.make_cert(tmp_path, "other").pin)
        assert p.returncode == 1 and ": TLS check failed: pin mismatch: " in p.stderr, p
        p = licctl_verify(s, "http://localhost:%d" % s.port)
        assert p.returncode == 1, p
        assert p.stderr == ("licctl: error: http://localhost:%d: input/output error: this port "
                            "speaks TLS, use https://localhost:%d (the server closed the plain "
                            "HTTP request unanswered)\n" % (s.port, s.port)), p
        assert licctl_verify(s, "https://localhost:%d" % s.port, "--cacert",
                             s.ca.cert_path).returncode == 0
    # a plain server that closes unanswered: said as before, no TLS claim
    lis = socket.socket()
    lis.bind(("127.0.0.1", 0))
    lis.listen(4)
    port = lis.getsockname()[1]

    def close_all():
        for _ in range(2):
            c, _ = lis.accept()
            c.recv(100)
            c.close()

    t = threading.Thread(target=close_all, daemon=True)
    t.start()
    try:
        p = licctl_verify(s, "http://127.0.0.1:%d" % port)
        assert p.returncode == 1 and ("closed the connection mid-response" in p.stderr
                                      or "Connection reset by peer" in p.stderr), p
        assert "TLS" not in p.stderr, p
    finally:
        lis.close()
        t.join(timeout=10)


def test_missing_tls_files_name_the_file_and_errno(tmp_path):
    s = tls_server(tmp_path)
    s.start()
    assert s.stop() == 0
    s.close()
    for flag, what in (("--tls-cert", "certificate"), ("--tls-key", "key")):
        args = list(s.args)
        args[args.index(flag) + 1] = str(tmp_path / "missing.pem")
        p = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=s.env,
                           timeout=30)
        assert p.returncode != 0, p
        assert p.stderr == ("licsrv: error: serve: cannot load the TLS %s %s: No such file or "
                            "directory\n" % (what, tmp_path / "missing.pem")), p


# ---- item 13: the C example against the README's own server ----------------------------------

def test_session_check_example_against_the_readme_server(tmp_path):
    """docs/examples/session_check.c was hard-wired to port 8443 without a CA
    file: against the README's server (https, its own certificate, a license
    for domain localhost and port 8080) it could only fail."""
    s = tls_server(tmp_path, ports=(8080,))
    exe = os.path.join(srvutil.BUILD_DIR, "tests", "session_check")
    url = "https://localhost:%d" % s.port
    with s:
        def run(*args):
            return subprocess.run([exe, "--once", "--trust", s.trust, *args],
                                  capture_output=True, text=True, timeout=60)
        p = run("--cacert", s.ca.cert_path, "--port", "8080", str(tmp_path / "st1"), url)
        assert p.returncode == 0 and "licensed (valid)" in p.stdout, p
        # without the CA file: refused as TLS, the session unlicensed
        p = run("--port", "8080", str(tmp_path / "st2"), url)
        assert p.returncode == 1 and "TLS check failed: untrusted certificate" in p.stdout, p
        # the port is this report server's, checked against the license's terms
        p = run("--cacert", s.ca.cert_path, "--port", "8443", str(tmp_path / "st3"), url)
        assert p.returncode == 1 and "unlicensed" in p.stdout, p
        p = run("--port", "x", str(tmp_path / "st4"), url)
        assert p.returncode == 2 and p.stderr.startswith("usage: session_check"), p


# ---- item 12: release holds when the command returns -------------------------------------------

OK = dict(domain="localhost", port=443, version="11.2.0")


def test_release_node_holds_when_the_command_returns(tmp_path):
    """One seat: the node that holds it is released with `licsrv release
    --node` while the server runs, and the other node's verify right after
    gets the seat (the server looked at releases once a second, so a verify
    in the same second still got seats_exhausted)."""
    s = srvchain.Server(tmp_path / "data", threads=1, domains=("localhost",), ports=(443,),
                        major=11, max_nodes=1)
    s.start()
    try:
        holder, other = "rs-a", "rs-b"
        assert srvchain.verify(s.port, lic=s.license_id, node=holder, **OK)["status"] == "valid"
        for _ in range(3):
            time.sleep(2.5)  # the holder's batched heartbeat reaches the store
            v = srvchain.verify(s.port, lic=s.license_id, node=other, **OK)
            assert v["status"] == "seats_exhausted", v
            p = srvutil.run([srvutil.licsrv_bin(), "release", "--node", holder, "--license",
                             s.license_id, "--data", s.data], s.env)
            assert p.stdout == "released node %s of license %s\n" % (holder, s.license_id), p
            v = srvchain.verify(s.port, lic=s.license_id, node=other, **OK)
            assert v["status"] == "valid", v
            holder, other = other, holder
        assert s.stop() == 0
    finally:
        s.close()


def test_nodes_says_the_listing_can_lag(tmp_path):
    s = srvchain.Server(tmp_path / "data", threads=1, domains=("localhost",), ports=(443,),
                        major=11)
    with s:
        assert srvchain.verify(s.port, lic=s.license_id, node="rs-a", **OK)["status"] == "valid"
        p = srvutil.run([srvutil.licsrv_bin(), "nodes", "--data", s.data], s.env)
        assert p.stderr == ("licsrv: note: a running server writes checks to the store every "
                            "2 s: the last ones may not show yet\n"), p
        p = srvutil.run([srvutil.licsrv_bin(), "nodes", "--data", s.data, "--json"], s.env)
        assert p.stderr == "", p
