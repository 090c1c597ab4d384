"""srvutil - run a real `licsrv serve` for end-to-end tests: free ports, start
and stop with time limits, raw socket exchanges. Standard library only."""
import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time

BUILD_DIR = os.environ.get("LIC_BUILD_DIR", "build")
SOURCE_DIR = os.environ.get("LIC_SOURCE_DIR", ".")


def tool(name):
    """licgen, licctl or licsrv: all three in BUILD/bin."""
    return os.path.join(BUILD_DIR, "bin", name)


def fake_machine(root, machine_id="0123456789abcdef0123456789abcdef",
                 nics=(("eth0", "52:54:00:12:34:56"),)):
    """A LIC_SYSROOT tree: etc/machine-id and physical NICs (with a device dir)."""
    os.makedirs(os.path.join(root, "etc"), exist_ok=True)
    with open(os.path.join(root, "etc", "machine-id"), "w") as f:
        f.write(machine_id + "\n")
    for name, mac in nics:
        d = os.path.join(root, "sys", "class", "net", name)
        os.makedirs(os.path.join(d, "device"), exist_ok=True)
        with open(os.path.join(d, "address"), "w") as f:
            f.write(mac + "\n")
    return str(root)


def run(args, env=None, check=True):
    p = subprocess.run([str(a) for a in args], env=env, capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (args[0], p.returncode, p.stderr))
    return p


def provision(data, sysroot, domains=("localhost",), ports=(), apps=(), major=11, max_nodes=0,
              expires="2099-01-01", customer="Test Customer", sign_extra=()):
    """init -> rif -> licgen sign (with the TEST root key) -> import, on a fake
    machine. Returns (license id, path of the trusted root public key)."""
    data = str(data)
    env = dict(os.environ, LIC_SYSROOT=str(sysroot))
    # Beside the data directory (a test's tmp_path), never in /tmp at large:
    # it holds a copy of the test root key.
    keydir = data.rstrip("/") + "-provision"
    os.makedirs(keydir, mode=0o700, exist_ok=True)
    key = os.path.join(keydir, "root.pem")
    with open(os.path.join(SOURCE_DIR, "keys", "test", "test-root.pem"), "rb") as f:
        pem = f.read()
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, pem)
    os.close(fd)
    pub = os.path.join(SOURCE_DIR, "keys", "test", "test-root.pub.pem")
    run([licsrv_bin(), "init", "--data", data], env)
    rif = os.path.join(keydir, "server.rif")
    lic = os.path.join(keydir, "server.lic")
    run([licsrv_bin(), "rif", "--data", data, "--project", "P", "--product", "ReportServer",
         "--version", "%d.0.0" % major, "-o", rif], env)
    args = [tool("licgen"), "sign", rif, "--key", key, "--mode", "private", "--customer", customer,
            "--features", "export,schedule", "--major", str(major), "--expires", expires,
            "--max-nodes", str(max_nodes), "-o", lic]
    for d in domains:
        args += ["--domain", d]
    for p in ports:
        args += ["--port", str(p)]
    for a in apps:
        args += ["--app", a]
    args += list(sign_extra)  # e.g. --heartbeat 2 --grace 6 (test_agent)
    run(args, env)
    out = run([licsrv_bin(), "import", "--data", data, "--trust", pub, "--json", lic], env).stdout
    import json
    return json.loads(out)["id"], pub, lic


def licsrv_bin():
    return tool("licsrv")


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`licsrv serve` on loopback with its stderr kept in a file (self.log())."""

    def __init__(self, data, extra=(), threads=2, sysroot=None, provisioned=True, tls=None,
                 **terms):
        """A licensed server: unless provisioned=False or data already holds a
        store, provision() it on a fake machine (sysroot) first. tls: an
        ssl.SSLContext its own requests (get, start's health check) use: the
        server then speaks TLS (its --tls-cert/--tls-key in extra)."""
        data = str(data)
        self.ssl_ctx = tls
        self.sysroot = sysroot or fake_machine(data.rstrip("/") + "-sysroot")
        # The per-node-key locks beside the data directory, not in /tmp at large.
        self.env = dict(os.environ, LIC_SYSROOT=self.sysroot,
                        LICSRV_RUNTIME_DIR=str(data).rstrip("/") + "-run")
        self.license_id = self.trust = self.license_file = None
        if provisioned and not os.path.isdir(os.path.join(data, "store")):
            self.license_id, self.trust, self.license_file = provision(data, self.sysroot, **terms)
        self.data = data
        self.port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.port:
            self.admin_port = free_port()
        self.args = [licsrv_bin(), "serve", "--data", str(data),
                     "--listen", "127.0.0.1:%d" % self.port,
                     "--admin-listen", "127.0.0.1:%d" % self.admin_port,
                     "--threads", str(threads)] + list(extra)
        self.logfile = tempfile.NamedTemporaryFile(prefix="licsrv-", suffix=".log", delete=False)
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.logfile,
                                     env=self.env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("licsrv exited with %d: %s" % (self.proc.returncode, self.log()))
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("licsrv did not answer /healthz in %.0fs: %s" % (timeout, self.log()))

    def get(self, path, port=None, headers=None, timeout=5.0):
        if self.ssl_ctx is not None:
            c = http.client.HTTPSConnection("127.0.0.1", port or self.port, timeout=timeout,
                                            context=self.ssl_ctx)
        else:
            c = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            c.request("GET", path, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read(), dict(r.getheaders())
        finally:
            c.close()

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Signal and wait; returns the exit code (killed and None on timeout)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log(self):
        self.logfile.flush()
        with open(self.logfile.name, "r", encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_log(self, text, timeout=5.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def close(self):
        self.kill()
        self.logfile.close()
        try:
            os.unlink(self.logfile.name)
        except OSError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.settimeout(timeout)
    return s


def exchange(port, data, timeout=5.0):
    """Send raw bytes, read until the server closes (or timeout); returns bytes."""
    with connect(port, timeout) as s:
        s.sendall(data)
        return recv_until_close(s, timeout)


def recv_until_close(s, timeout=5.0):
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            b = s.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not b:
            break
        out += b
    return out


def read_responses(s, n, timeout=5.0):
    """Read n Content-Length framed responses: [(status, headers dict, body)]."""
    buf = b""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            blen = int(headers.get("content-length", "0"))
            if len(buf) >= end + 4 + blen:
                out.append((int(head[0].split()[1]), headers, buf[end + 4:end + 4 + blen]))
                buf = buf[end + 4 + blen:]
                continue
        if time.monotonic() > deadline:
            raise TimeoutError("got %d of %d responses" % (len(out), n))
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed after %d of %d responses" % (len(out), n))
        buf += b
    return out
