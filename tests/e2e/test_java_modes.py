"""The Java client (build/java/liblic.jar) in local and public mode against
the real tools: `check` of a local license on its simulated machine
(LIC_SYSROOT) and on another one, and public-mode verify after `licctl
register` on a real public-mode licsrv; outputs and exit codes as licctl's."""
import json
import os

import pytest

import javautil
import pubutil
from conftest import SANITIZER_RE

javautil.need_jar()

MID = "3e1f0a2b4c5d6e7f8091a2b3c4d5e6f7"
NICS = [("eth0", "52:54:00:12:34:56", True), ("docker0", "02:42:ac:11:00:01", False)]


@pytest.fixture
def local(lic_machine, licctl_rif, lic_test_key, licgen_sign):
    m = lic_machine(machine_id=MID, nics=NICS)
    lic = licgen_sign(licctl_rif(m), lic_test_key, "--domain", "reports.example.com",
                      "--port", "8443")
    return m, lic


def both(args, machine):
    env = dict(os.environ, LIC_SYSROOT=str(machine.root))
    return javautil.run(args, env=env), javautil.licctl(args, env=env)


def test_check_on_its_machine_and_on_another(local, lic_machine, lic_test_key):
    m, lic = local
    args = ["check", lic, "--domain", "reports.example.com", "--port", "8443", "--version",
            "11.0.18", "--trust", lic_test_key.pub]
    j, c = both(args, m)
    assert j.returncode == c.returncode == 0, j.stderr
    assert j.stdout == c.stdout
    assert j.stdout.startswith("valid: license ") and "features: reports,export" in j.stdout
    other = lic_machine(machine_id="ffffffffffffffffffffffffffffffff", nics=NICS, name="other")
    j, c = both(args, other)
    assert j.returncode == c.returncode == 1
    assert j.stdout == c.stdout
    assert j.stdout.startswith("denied: machine_mismatch: this machine (%s)" % other.code)


def test_check_denials_and_json_like_licctl(local, lic_test_key):
    m, lic = local
    for extra in (["--domain", "x.example.com", "--port", "8443", "--major", "11"],
                  ["--domain", "reports.example.com", "--port", "1", "--major", "11"],
                  ["--domain", "reports.example.com", "--port", "8443", "--major", "12"],
                  ["--domain", "reports.example.com", "--port", "8443"]):
        args = ["check", lic, "--trust", lic_test_key.pub, "--json"] + extra
        j, c = both(args, m)
        assert j.returncode == c.returncode == 1, (extra, j.stderr)
        assert json.loads(j.stdout) == json.loads(c.stdout)
        assert j.stdout == c.stdout


def test_check_refusals_like_licctl(local, lic_test_key, tmp_path):
    m, lic = local
    lines = lic.read_text().split("\n")
    i = [k for k, line in enumerate(lines) if line.startswith("-----BEGIN")][0] + 3
    lines[i] = ("B" if lines[i][10] == "A" else "A").join([lines[i][:10], lines[i][11:]])
    forged = tmp_path / "forged.lic"
    forged.write_text("\n".join(lines))  # one base64 symbol of the signed body changed
    for f, trust in ((forged, lic_test_key.pub), (lic, None), (tmp_path / "none.lic", lic_test_key.pub)):
        args = ["check", f, "--domain", "reports.example.com", "--port", "8443"]
        if trust:
            args += ["--trust", trust]
        j, c = both(args, m)
        assert j.returncode == c.returncode, (f, j.stderr, c.stderr)
        assert j.stdout == c.stdout == ""
        assert j.stderr.split(":")[1:3] == c.stderr.split(":")[1:3], (j.stderr, c.stderr)


@pytest.fixture(scope="module")
def pubsrv(tmp_path_factory):
    s = pubutil.Server(tmp_path_factory.mktemp("jpub") / "data").start()
    yield s
    try:
        assert s.stop() == 0, s.log()
        assert not SANITIZER_RE.search(s.log())
    finally:
        s.close()


def test_public_register_with_licctl_then_java_verify(pubsrv, tmp_path):
    a = pubutil.account(pubsrv.data, 1)
    tok = tmp_path / "token"
    fd = os.open(tok, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (a.token + "\n").encode())
    os.close(fd)
    url = "http://127.0.0.1:%d" % pubsrv.port
    st, other = tmp_path / "state", tmp_path / "other"
    common = ["--account", a.id, "--token-file", tok, "--trust", pubutil.ROOT_PUB]
    where = ["--domain", "reports.example.com", "--port", "443", "--node", "rs-1"]
    p = javautil.licctl(["register", url, *common, "--project", "Reports", *where,
                         "--state", st])
    assert p.returncode == 0, p.stderr
    j = javautil.run(["verify", url, *common, *where, "--state", st])
    c = javautil.licctl(["verify", url, *common, *where, "--state", st])
    assert j.returncode == c.returncode == 0, j.stderr
    assert j.stdout == c.stdout
    assert j.stdout.startswith("valid: account %s, node rs-1, registrations 1/1" % a.id)
    # another install (its own project id) is not registered: a signed denial
    j = javautil.run(["verify", url, *common, *where, "--state", other])
    assert j.returncode == 1 and j.stdout.startswith("denied: not_registered"), j
    assert (other / "project_id").read_text().strip() != (st / "project_id").read_text().strip()
    # the token is never printed, never read from a readable file, never sent in clear off loopback
    for out in (j.stdout, j.stderr):
        assert a.token not in out
    os.chmod(tok, 0o644)
    j = javautil.run(["verify", url, *common, *where, "--state", st])
    assert j.returncode == 1 and "0600" in j.stderr and a.token not in j.stderr, j
    os.chmod(tok, 0o600)
    j = javautil.run(["verify", "http://192.0.2.1:7470", *common, *where, "--timeout", "2000",
                      "--state", st])
    assert j.returncode == 2 and "plain HTTP" in j.stderr, j


def vector_codes():
    import csv
    path = os.path.join(javautil.srvutil.SOURCE_DIR, "tests", "vectors", "codes", "codes.csv")
    with open(path) as f:
        return list(csv.DictReader(f))


def test_designer_activation_valid_here_foreign_elsewhere(lic_machine, lic_test_key, tmp_path):
    code = vector_codes()[0]
    m = lic_machine(machine_id=MID, nics=NICS)
    state = tmp_path / "designer"
    env = dict(os.environ, LIC_SYSROOT=str(m.root))
    p = javautil.licctl(["activate", code["code"], "--product", code["product"], "--state", state,
                         "--trust", lic_test_key.pub], env=env)
    assert p.returncode == 0, p.stderr
    args = ["activation", "--product", code["product"], "--state", state, "--trust",
            lic_test_key.pub]
    j, c = both(args, m)
    assert j.returncode == c.returncode == 0, j.stderr
    assert j.stdout == c.stdout
    assert j.stdout.startswith("valid: product 7, serial 1, edition 0, expires never")
    j, c = both(args + ["--json"], m)
    assert j.returncode == 0 and json.loads(j.stdout) == json.loads(c.stdout)
    # the same state directory on another machine (copied), another product, no trust
    other = lic_machine(machine_id="ffffffffffffffffffffffffffffffff", nics=NICS, name="other")
    for a, mach, status in ((args, other, "other_machine"),
                            (["activation", "--product", "8", "--state", state, "--trust",
                              lic_test_key.pub], m, "other_product"),
                            (["activation", "--state", state], m, "not_genuine"),
                            (["activation", "--state", tmp_path / "none"], m, "not_activated")):
        j, c = both(a + ["--json"], mach)
        assert j.returncode == c.returncode == 1, (a, j.stderr)
        assert json.loads(j.stdout) == json.loads(c.stdout), (j.stdout, c.stdout)
        assert json.loads(j.stdout)["status"] == status
        j, c = both(a, mach)
        assert j.returncode == c.returncode == 1
        assert javautil.same_line(j.stderr, c.stderr), (j.stderr, c.stderr)
    # an edited file (a serial that disagrees with the code) is malformed, not valid
    import base64
    import msgpack
    lines = (state / "activation").read_text().splitlines()
    b, e = lines.index("-----BEGIN LICSRV ACTIVATION-----"), lines.index("-----END LICSRV ACTIVATION-----")
    doc = msgpack.unpackb(base64.b64decode("".join(lines[b + 1:e])))
    doc["serial"] = 999
    enc = base64.b64encode(msgpack.packb(doc)).decode()
    (state / "activation").write_text("\n".join(lines[:b + 1] + [enc] + lines[e:]) + "\n")
    j, c = both(args + ["--json"], m)
    assert j.returncode == c.returncode == 1
    assert json.loads(j.stdout) == json.loads(c.stdout)
    assert json.loads(j.stdout)["status"] == "malformed"


def test_node_secret_file_like_licctl(tmp_path):
    """A server with node_secret: without the secret a signed bad_credentials,
    the secret from a 0600 file valid, a readable file refused."""
    import uuid
    secret = "s3cret-%s" % uuid.uuid4()
    conf = tmp_path / "licsrv.ini"
    conf.write_text("node_secret = %s\n" % secret)
    os.chmod(conf, 0o600)
    s = javautil.srvutil.Server(tmp_path / "data", threads=1, extra=["--config", str(conf)],
                                domains=("localhost",), ports=(443,), major=11)
    s.start()
    try:
        sf = tmp_path / "node.secret"
        sf.write_text(secret + "\n")
        os.chmod(sf, 0o644)
        args = ["verify", "http://127.0.0.1:%d" % s.port, "--trust", s.trust, "--domain",
                "localhost", "--port", "443", "--node", "rs-1", "--version", "11.2.0"]
        j = javautil.run(args + ["--secret-file", sf])
        c = javautil.licctl(args + ["--secret-file", sf])
        assert j.returncode == c.returncode == 1 and "0600" in j.stderr, j
        assert secret not in j.stderr
        os.chmod(sf, 0o600)
        j = javautil.run(args + ["--secret-file", sf])
        assert j.returncode == 0 and j.stdout.startswith("valid:"), j
        j = javautil.run(args)
        c = javautil.licctl(args)
        assert j.returncode == c.returncode == 1
        assert j.stdout == c.stdout and "bad_credentials" in j.stdout, (j.stdout, c.stdout)
        assert secret not in s.log()
    finally:
        s.stop()
        s.close()


def test_public_mode_java_agent_and_status(pubsrv, tmp_path):
    """The session in public mode: the Java agent checks root -> cert -> verdict
    with the account, keeps it in session.state, and status re-checks it."""
    import signal
    import subprocess
    import time
    a = pubutil.account(pubsrv.data, 1)
    tok = tmp_path / "token"
    fd = os.open(tok, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, (a.token + "\n").encode())
    os.close(fd)
    url = "http://127.0.0.1:%d" % pubsrv.port
    st = tmp_path / "state"
    common = ["--account", a.id, "--token-file", tok, "--trust", pubutil.ROOT_PUB]
    where = ["--domain", "reports.example.com", "--port", "443", "--node", "rs-1"]
    p = javautil.licctl(["register", url, *common, "--project", "Reports", *where, "--state", st])
    assert p.returncode == 0, p.stderr
    agent = subprocess.Popen(["java", "-XX:TieredStopAtLevel=1", "-jar", javautil.JAR, "agent",
                              url, *[str(x) for x in common + where], "--state", str(st)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        doc = None
        while time.monotonic() < deadline:
            try:
                doc = json.loads((st / "status.json").read_text())
                if doc["state"] == "licensed":
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        assert doc is not None and doc["state"] == "licensed", doc
        assert a.token not in (st / "session.state").read_bytes().decode("latin-1")
    finally:
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=20) == 0
    r = javautil.run(["status", "--state", st, "--trust", pubutil.ROOT_PUB, "--json"])
    assert r.returncode == 0, r
    d = json.loads(r.stdout)
    assert d["state"] in ("licensed", "grace") and d["server"] == url, d
