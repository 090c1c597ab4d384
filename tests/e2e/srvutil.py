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


def licsrv_bin():
    return os.path.join(BUILD_DIR, "licsrv", "licsrv")


def free_port():
    """A loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`licsrv serve` on loopback with its stderr kept in a file (self.log())."""

    def __init__(self, data, extra=(), threads=2):
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
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.logfile)
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
