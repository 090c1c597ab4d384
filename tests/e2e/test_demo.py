"""End-to-end: `make run`'s script (tests/demo.sh) on free ports, twice on one
demo directory (keys, licenses and the admin token kept), and refused at
once, before its banner, when a port is taken."""
import os
import signal
import socket
import subprocess
import time

import pytest

import srvutil
from conftest import BUILD_DIR, SOURCE_DIR

DEMO = SOURCE_DIR / "tests" / "demo.sh"
pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")


def start(demo_dir, tmp_path, machine, port, admin_port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIC_", "XDG_"))}
    env.update(PORT=str(port), ADMIN_PORT=str(admin_port), HOME=str(tmp_path / "home"),
               LIC_SYSROOT=str(machine.root), LICSRV_RUNTIME_DIR=str(tmp_path / "run"))
    out = open(tmp_path / "demo.out", "w+")
    p = subprocess.Popen(["sh", str(DEMO), str(BUILD_DIR), str(demo_dir)], stdout=out,
                         stderr=subprocess.STDOUT, env=env)
    return p, out


def wait_serving(p, out, port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            out.seek(0)
            pytest.fail("demo exited %d: %s" % (p.returncode, out.read()))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    p.kill()
    pytest.fail("demo did not serve")


def stop(p, out):
    p.send_signal(signal.SIGTERM)  # demo.sh exec's licsrv: this is the server
    assert p.wait(timeout=20) == 0
    out.seek(0)
    text = out.read()
    out.close()
    return text


def ports():
    a = srvutil.free_port()
    b = srvutil.free_port()
    while b == a:
        b = srvutil.free_port()
    return a, b


def test_demo_twice_keeps_its_files_and_token(tmp_path, lic_machine):
    (tmp_path / "home").mkdir()
    m = lic_machine()
    d = tmp_path / "demo"
    port, admin = ports()
    p, out = start(d, tmp_path, m, port, admin)
    wait_serving(p, out, port)
    first = stop(p, out)
    assert ("serving TLS on https://localhost:%d (admin on https://localhost:%d)" % (port, admin)
            in first)
    token = (d / "admin-token").read_text().strip()
    assert len(token) > 20 and token in first
    assert (d / "admin-token").stat().st_mode & 0o077 == 0
    kept = {n: (d / n).read_bytes() for n in ("dev-root.pem", "local.lic", "server.lic",
                                                "tls/server.pem")}

    port, admin = ports()
    p, out = start(d, tmp_path, m, port, admin)
    wait_serving(p, out, port)
    # The admin token made on the first run still works (TLS with the demo CA).
    import http.client
    import ssl
    ctx = ssl.create_default_context(cafile=str(d / "tls" / "ca.pem"))
    c = http.client.HTTPSConnection("localhost", admin, timeout=5, context=ctx)
    c.request("GET", "/v1/admin/nodes", headers={"Authorization": "Bearer " + token})
    assert c.getresponse().status == 200
    c.close()
    second = stop(p, out)
    assert token not in second, "the token is printed only on the first run"
    assert "reusing %s/local.lic" % d in second and "reusing %s/server.lic" % d in second
    assert {n: (d / n).read_bytes() for n in kept} == kept


def test_demo_port_taken_is_said_first(tmp_path, lic_machine):
    (tmp_path / "home").mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        _, admin = ports()
        p, out = start(tmp_path / "demo", tmp_path, lic_machine(), taken, admin)
        assert p.wait(timeout=20) == 1
    out.seek(0)
    text = out.read()
    assert text == ("make run: error: port %d on 127.0.0.1 is in use (or not a port): choose "
                    "others, e.g. make run PORT=8470 ADMIN_PORT=8471\n" % taken), text
    assert not (tmp_path / "demo").exists()
