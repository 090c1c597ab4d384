"""bench.py BUILD - the SPEC §7 figures, each as a ratio to a baseline measured
in the same invocation (the machines are shared and noisy). Run by
`make bench` through tests/bench/run.sh; see docs/bench.md.

Server on core 0 (`taskset -c 0`, one loop), wrk on core 1, loopback only;
every run is bounded in time. Environment:
  BENCH_SECS   seconds per wrk run (default 10)
  BENCH_CODES  codes for the licgen figure (default 1000000; 0 skips it)
  BENCH_ONLY   comma list of figures to run (verify,healthz,p99,idle,durable,
               codes,loops,tls,tlsnew,public,accountsize,pgverify,pgaccountsize,
               pgreg,pgscale); default all
  BENCH_PG_SYNCHRONOUS_COMMIT  on (default), off or local: the PostgreSQL
               cluster of pgverify and pgreg (tests/bench/pgload.py)
Exit status 0 when every figure ran (a figure below target is reported, not
an error: these are goals); 1 when a measurement could not be made.
"""
import csv
import json
import os
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(SOURCE_DIR, "tests", "e2e"))

import msgpack  # noqa: E402  (Debian's python3-msgpack)

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
os.environ["LIC_BUILD_DIR"] = BUILD
os.environ["LIC_SOURCE_DIR"] = SOURCE_DIR
import srvutil  # noqa: E402
import pubutil  # noqa: E402
import srvchain  # noqa: E402
import pgutil  # noqa: E402
import pgload  # noqa: E402  (tests/bench/pgload.py)

SECS = int(os.environ.get("BENCH_SECS", "10"))
ROUNDS = max(1, int(os.environ.get("BENCH_ROUNDS", "3")))
ROUND_SECS = max(1, SECS // ROUNDS)
NCODES = int(os.environ.get("BENCH_CODES", "1000000"))
ONLY = set(filter(None, os.environ.get("BENCH_ONLY", "").split(",")))
NCPU = os.cpu_count() or 1
SRV_CPU, LOAD_CPU = "0", ("1" if NCPU > 1 else "0")
TEST_KEY = os.path.join(SOURCE_DIR, "keys", "test", "test-root.pem")
TEST_PUB = os.path.join(SOURCE_DIR, "keys", "test", "test-root.pub.pem")
POST_LUA = os.path.join(HERE, "post.lua")
LINES_LUA = os.path.join(HERE, "lines.lua")
NOSYNC_ENV = "LICSRV_BENCH_NOSYNC"  # bench-only: LMDB without syncs (docs/bench.md)

results = []  # (figure, measured text, ratio or value, target text, ok or None)
last_wrk = {"requests": 0}  # completed requests of the last wrk run


class BenchError(Exception):
    pass


def want(name):
    return not ONLY or name in ONLY


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def run(args, timeout=600, **kw):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout,
                       **kw)
    if p.returncode != 0:
        raise BenchError("%s failed (%d): %s" % (args[0], p.returncode, p.stderr.strip()[-400:]))
    return p.stdout


def openssl_sign_per_s(cpu=SRV_CPU, secs=3):
    """`openssl speed ed25519` sign/s on one core."""
    out = run(["taskset", "-c", cpu, "openssl", "speed", "-seconds", secs, "ed25519"], timeout=120)
    m = re.search(r"Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", out)
    if not m:
        raise BenchError("cannot read `openssl speed ed25519` output: %r" % out[-300:])
    return float(m.group(1))


def wrk(port, path="/", conns=64, secs=SECS, script=None, env=None, latency=False, cpus=None,
        scheme="http"):
    """wrk on the load core; returns (req/s, {percentile: seconds}, non-2xx count)."""
    args = ["taskset", "-c", cpus or LOAD_CPU, "wrk", "-t1", "-c%d" % conns, "-d%ds" % secs,
            "--timeout", "5s"]
    if latency:
        args.append("--latency")
    if script:
        args += ["-s", script]
    args.append("%s://127.0.0.1:%d%s" % (scheme, port, path))
    out = run(args, timeout=secs + 60, env=dict(os.environ, **(env or {})))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise BenchError("cannot read wrk output: %r" % out[-300:])
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    n = re.search(r"(\d+) requests in", out)
    last_wrk["requests"] = int(n.group(1)) if n else 0
    errs = re.search(r"Socket errors:.*", out)
    pct = {}
    for p, v, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        pct[int(p)] = float(v) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]
    if errs:
        log("wrk: " + errs.group(0).strip())
    return float(m.group(1)), pct, int(bad.group(1)) if bad else 0


def report(figure, measured, value, target, ok):
    results.append((figure, measured, value, target, ok))
    mark = "" if ok is None else ("  ok" if ok else "  BELOW TARGET")
    print("%-34s %-52s %8s  target %s%s" % (figure, measured, value, target, mark), flush=True)


def median(rounds):
    """The round whose ratio (first item) is the median."""
    return sorted(rounds)[len(rounds) // 2]


def spread(rounds):
    if len(rounds) < 2:
        return ""
    rs = sorted(r[0] for r in rounds)
    return " (rounds %.2f..%.2f)" % (rs[0], rs[-1])


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise BenchError("no VmRSS for pid %d" % pid)


class Licsrv(srvutil.Server):
    """A provisioned licsrv pinned to CPUS with its log thrown away."""

    def __init__(self, data, cpus=SRV_CPU, threads=1, extra=(), public=False, nosync=False,
                 store=None, quota=True):
        """public: init --mode public with the online key certified (no
        license; accounts are imported by the caller). nosync: the
        bench-only LICSRV_BENCH_NOSYNC=1 (LMDB does not sync). store: a
        postgresql:// URL (public mode): the data directory joins that store
        (init --store, its certificate imported there) and serves from it."""
        if store is not None:
            public = True
            if not os.path.exists(os.path.join(str(data), "online.pem")):
                pubutil.licsrv("init", "--mode", "public", "--data", data, "--store", store)
                pubutil.licsrv("import", "--data", data, "--store", store, "--trust",
                               pubutil.ROOT_PUB, pubutil.certify(data))
            extra = list(extra) + ["--store", store]
        elif public and not os.path.isdir(os.path.join(str(data), "store")):
            pubutil.provision(data)
        # Load from one loopback address: no per-address connection limit;
        # one account's load: no per-account request limit. quota=False: no
        # store quota either (the durable and accountsize figures grow one
        # account past the default 50,000 records; the others keep it on, as
        # a server does, so its check is in their cost).
        limits = ["--max-connections-per-ip", "0"]
        if public:
            limits += ["--account-requests-per-minute", "0"]
        if public and not quota:
            limits += ["--account-store-quota", "0"]
        super().__init__(data, threads=threads,
                         extra=list(extra) + limits,
                         provisioned=not public,
                         domains=("localhost",), ports=(8080,), major=11, max_nodes=0)
        self.args = ["taskset", "-c", cpus] + self.args
        self.nosync = nosync
        self.logfile.close()
        os.unlink(self.logfile.name)
        if nosync:
            self.env[NOSYNC_ENV] = "1"
            # Kept, to check the server says durability is off.
            self.logfile = open(os.path.join(os.path.dirname(str(data)),
                                             os.path.basename(str(data)) + ".log"), "w")
        else:
            self.env.pop(NOSYNC_ENV, None)
            self.logfile = open(os.devnull, "w")

    def start(self, timeout=10.0):
        super().start(timeout)
        if self.nosync:
            with open(self.logfile.name, errors="replace") as f:
                if "sync=off" not in f.read(65536):
                    self.kill()
                    raise BenchError("the no-sync server did not log that syncing is off")
        return self

    def log(self):
        return "(log discarded by the benchmark)"

    def close(self):
        self.kill()
        self.logfile.close()


def verify_body():
    return msgpack.packb({"nonce": os.urandom(16), "domain": "localhost", "port": 8080,
                          "node": "bench-1", "version": "11.0.0"}, use_bin_type=True)


def check_verify(port):
    """One verify checked by the independent client (root -> license ->
    verdict): the load must be measuring valid verdicts."""
    import srvchain
    v = srvchain.verify(port, domain="localhost", port=8080, node="bench-1", version="11.0.0")
    if v.get("status") != "valid":
        raise BenchError("verify verdict is %r, not valid" % v.get("status"))


def nginx_start(tmp, port):
    d = os.path.join(tmp, "nginx")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(d)s/body;
  proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi;
  uwsgi_temp_path %(d)s/uwsgi;
  scgi_temp_path %(d)s/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%(port)d;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
""" % {"d": d, "port": port})
    p = subprocess.Popen(["taskset", "-c", SRV_CPU, "nginx", "-c", conf, "-p", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            if p.poll() is not None:
                raise BenchError("nginx exited with %d (see %s/error.log)" % (p.returncode, d))
            time.sleep(0.05)
    p.kill()
    raise BenchError("nginx did not listen in 10 s")


def hold_idle(port, n, timeout=60.0):
    """n keep-alive connections, each after one answered GET /healthz."""
    socks = []
    sel = selectors.DefaultSelector()
    req = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
    deadline = time.monotonic() + timeout
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(req)
        s.setblocking(False)
        socks.append(s)
        sel.register(s, selectors.EVENT_READ)
    pending = n
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            data = key.fileobj.recv(4096)
            if not data:
                raise BenchError("the server closed an idle connection early")
            sel.unregister(key.fileobj)
            pending -= 1
    if pending:
        raise BenchError("%d connections got no answer" % pending)
    return socks


def make_codes(tmp, count, jobs=None, product=1):
    key = os.path.join(tmp, "vendor.pem")
    if not os.path.exists(key):
        shutil.copy(TEST_KEY, key)
        os.chmod(key, 0o600)
    out = os.path.join(tmp, "codes-%d.csv" % count)
    args = [os.path.join(BUILD, "bin", "licgen"), "codes", "--key", key, "--product", product,
            "--count", count, "-o", out, "--ledger", os.path.join(tmp, "ledger-%d" % count)]
    if jobs:
        args += ["--jobs", jobs]
    t0 = time.monotonic()
    run(args, timeout=1200)
    return out, time.monotonic() - t0


def admin_get(srv, token, path):
    import http.client
    import json
    c = http.client.HTTPConnection("127.0.0.1", srv.admin_port, timeout=30)
    try:
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        c.close()


def main():
    for t in ("wrk", "nginx", "taskset", "openssl"):
        if shutil.which(t) is None and not os.path.exists("/usr/sbin/" + t):
            raise BenchError("%s is missing: run `make deps`" % t)
    if want("pgverify") or want("pgreg") or want("pgaccountsize") or want("pgscale"):
        try:  # a wrong setting fails before any figure ran, not after
            pgload.sync_commit()
        except ValueError as e:
            raise BenchError(str(e))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want_fds = 12000
    if soft < want_fds:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want_fds, soft), hard)
                                                        if hard != resource.RLIM_INFINITY
                                                        else want_fds, hard))
        except (ValueError, OSError):
            pass
    tmp = tempfile.mkdtemp(prefix="licsrv-bench-", dir=os.environ.get("BENCH_TMP"))
    print("licsrv bench: %d cores, server on core %s, wrk on core %s, %d s per run, %s"
          % (NCPU, SRV_CPU, LOAD_CPU, SECS, time.strftime("%Y-%m-%d %H:%M:%S")), flush=True)
    print("%-34s %-52s %8s  %s" % ("figure", "measured (this run)", "ratio", "target"), flush=True)
    try:
        body_path = os.path.join(tmp, "verify.msgpack")
        with open(body_path, "wb") as f:
            f.write(verify_body())
        verify_rate = None
        signs = []
        srv = Licsrv(os.path.join(tmp, "srv1"))
        with srv:
            check_verify(srv.port)
            if want("verify") or want("p99") or want("loops") or want("codes"):
                rounds = []
                for _ in range(ROUNDS):
                    sign = openssl_sign_per_s(secs=2)
                    signs.append(sign)
                    if not (want("verify") or want("p99") or want("loops")):
                        continue
                    rate, _, bad = wrk(srv.port, "/v1/verify", script=POST_LUA,
                                       env={"BENCH_BODY": body_path}, secs=ROUND_SECS)
                    if bad:
                        raise BenchError("%d verify answers were not 2xx" % bad)
                    rounds.append((rate / sign, rate, sign))
                    log("round: verify %.0f req/s, openssl %.0f sign/s" % (rate, sign))
                if rounds:
                    r, verify_rate, sign = median(rounds)
                    if want("verify"):
                        report("verify / openssl sign", "%.0f req/s vs %.0f sign/s%s"
                               % (verify_rate, sign, spread(rounds)),
                               "%.3f" % r, ">= 0.60", r >= 0.60)
            if want("p99") and verify_rate:
                # wrk paces in whole milliseconds: each connection waits 1 ms
                # after its answer. A short run calibrates the connection count
                # to half the saturated rate, the second one is measured.
                env = {"BENCH_BODY": body_path, "BENCH_DELAY_MS": "1"}
                conns = max(1, int(round(verify_rate / 2 / 1000.0)))
                rate, _, _ = wrk(srv.port, "/v1/verify", conns=conns, script=POST_LUA, env=env,
                                 secs=2)
                conns = max(1, int(round(conns * (verify_rate / 2) / max(rate, 1.0))))
                rate, pct, bad = wrk(srv.port, "/v1/verify", conns=conns, script=POST_LUA, env=env,
                                     latency=True)
                if bad:
                    raise BenchError("%d verify answers were not 2xx" % bad)
                p99 = pct.get(99)
                if p99 is None:
                    raise BenchError("wrk printed no 99th percentile")
                report("p99 verify at half load", "%.0f req/s (%.0f%% of sat.), p50 %.2f p90 %.2f ms"
                       % (rate, 100 * rate / verify_rate, pct.get(50, 0) * 1e3, pct.get(90, 0) * 1e3),
                       "%.3fms" % (p99 * 1e3), "<= 1 ms", p99 <= 1e-3)
                # The same without wrk's bursts: one connection, back to back.
                rate, pct, _ = wrk(srv.port, "/v1/verify", conns=1, script=POST_LUA,
                                   env={"BENCH_BODY": body_path}, latency=True, secs=ROUND_SECS)
                report("p99 verify, one connection", "%.0f req/s (%.0f%% of sat.), p50 %.2f p90 %.2f ms"
                       % (rate, 100 * rate / verify_rate, pct.get(50, 0) * 1e3, pct.get(90, 0) * 1e3),
                       "%.3fms" % (pct.get(99, 0) * 1e3), "(information)", None)
            if want("healthz"):
                port = srvutil.free_port()
                ng = nginx_start(tmp, port)
                rounds = []
                try:
                    for _ in range(ROUNDS):
                        base, _, _ = wrk(port, "/healthz", secs=ROUND_SECS)
                        hz, _, bad = wrk(srv.port, "/healthz", secs=ROUND_SECS)
                        if bad:
                            raise BenchError("%d healthz answers were not 2xx" % bad)
                        rounds.append((hz / base, hz, base))
                        log("round: healthz %.0f req/s, nginx %.0f req/s" % (hz, base))
                finally:
                    ng.send_signal(signal.SIGQUIT)
                    try:
                        ng.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        ng.kill()
                r, hz, base = median(rounds)
                report("healthz / nginx", "%.0f req/s vs nginx %.0f req/s%s" % (hz, base, spread(rounds)),
                       "%.3f" % r, ">= 0.90", r >= 0.90)
            if want("idle"):
                before = rss_mb(srv.proc.pid)
                n = 10000
                t0 = time.monotonic()
                socks = hold_idle(srv.port, n)
                time.sleep(1.0)
                after = rss_mb(srv.proc.pid)
                if srv.proc.poll() is not None:
                    raise BenchError("licsrv died holding idle connections")
                for s in socks:
                    s.close()
                report("RSS, 10k idle keep-alive conns", "%.1f MB (%.1f MB before; opened in %.1f s)"
                       % (after, before, time.monotonic() - t0), "%.1fMB" % after, "<= 100 MB",
                       after <= 100)
            if srv.stop() != 0:
                raise BenchError("licsrv did not exit 0 on SIGTERM")
        if want("tls") or want("tlsnew"):
            tls_figures(tmp, body_path)
        if want("public"):
            public_verify(tmp, body_path)
        if want("accountsize"):
            account_size(tmp)
        if want("durable"):
            durable(tmp)
        if want("pgverify") or want("pgreg") or want("pgaccountsize") or want("pgscale"):
            pg_figures(tmp)
        if want("codes") and NCODES > 0:
            sign = sorted(signs)[len(signs) // 2]
            jobs = NCPU
            _, secs = make_codes(tmp, NCODES, jobs)
            r = secs * sign / NCODES
            report("licgen codes x sign/s / count", "%d codes, --jobs %d: %.1f s" % (NCODES, jobs, secs),
                   "%.2f" % r, "<= %.2f (1.2/J)" % (1.2 / jobs), r <= 1.2 / jobs)
        if want("loops") and verify_rate:
            n = NCPU
            srvn = Licsrv(os.path.join(tmp, "srvn"), cpus="0-%d" % (NCPU - 1), threads=n)
            with srvn:
                rate_n, _, _ = wrk(srvn.port, "/v1/verify", script=POST_LUA,
                                   env={"BENCH_BODY": body_path}, cpus="0-%d" % (NCPU - 1))
                srvn.stop()
            r = rate_n / verify_rate
            judged = NCPU >= 4
            report("verify N loops / 1 loop", "%d loops %.0f req/s vs 1 loop %.0f req/s%s"
                   % (n, rate_n, verify_rate, "" if judged else " (wrk shares the cores)"),
                   "%.2f" % r, ">= %.1f%s" % (0.9 * n, "" if judged else " (not judged: < 4 cores)"),
                   (r >= 0.9 * n) if judged else None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    below = [r[0] for r in results if r[4] is False]
    print("%d figures, %d below target%s" % (len(results), len(below),
                                           (": " + ", ".join(below)) if below else ""), flush=True)
    return 0


TLSLOAD = os.path.join(BUILD, "tests", "tlsload")


def tls_cert(tmp):
    """An ECDSA P-256 certificate for 127.0.0.1, made with the openssl CLI."""
    d = os.path.join(tmp, "tls")
    os.makedirs(d, exist_ok=True)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert])
    return cert, key


def write_bytes(pid):
    """Bytes the process has sent towards storage (/proc/PID/io write_bytes:
    counted when it dirties the page cache, synced or not)."""
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def cpu_secs(pid):
    """User + system CPU seconds of a process and its children threads."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def nginx_tls_start(tmp, port, cert, key):
    d = os.path.join(tmp, "nginx-tls")
    os.makedirs(d, exist_ok=True)
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
daemon off;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(d)s/body;
  proxy_temp_path %(d)s/proxy;
  fastcgi_temp_path %(d)s/fastcgi;
  uwsgi_temp_path %(d)s/uwsgi;
  scgi_temp_path %(d)s/scgi;
  server {
    listen 127.0.0.1:%(port)d ssl;
    ssl_certificate %(cert)s;
    ssl_certificate_key %(key)s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_timeout 4h;  # licsrv's tls_ticket_lifetime_s: the same ticket lifetime
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
""" % {"d": d, "port": port, "cert": cert, "key": key})
    p = subprocess.Popen(["taskset", "-c", SRV_CPU, "nginx", "-c", conf, "-p", d],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if p.poll() is not None:
                raise BenchError("nginx exited with %d (see %s/error.log)" % (p.returncode, d))
            time.sleep(0.05)
    else:
        p.kill()
        raise BenchError("nginx did not listen in 10 s")
    worker = None
    for _ in range(100):  # the worker does the handshakes
        try:
            with open("/proc/%d/task/%d/children" % (p.pid, p.pid)) as f:
                kids = f.read().split()
            if kids:
                worker = int(kids[0])
                break
        except OSError:
            pass
        time.sleep(0.05)
    if worker is None:
        p.kill()
        raise BenchError("cannot find nginx's worker process")
    return p, worker


def tlsload(port, secs, conns=16, resume=False, body=None):
    """New TLS connection per request on the load core: (ok/s, resumed count)."""
    args = ["taskset", "-c", LOAD_CPU, TLSLOAD, "-p", port, "-c", conns, "-d", secs]
    if resume:
        args.append("-r")
    if body:
        args += ["-m", "POST", "-u", "/v1/verify", "-b", body]
    out = run(args, timeout=secs + 60)
    m = re.search(r"requests (\d+) ok (\d+) errors (\d+) resumed (\d+) secs ([\d.]+) rate ([\d.]+)", out)
    if not m:
        raise BenchError("cannot read tlsload output: %r" % out[-300:])
    if int(m.group(3)):
        log("tlsload: %s errors of %s" % (m.group(3), m.group(1)))
    if int(m.group(2)) == 0:
        raise BenchError("tlsload: no answer was 200")
    return float(m.group(6)), int(m.group(4))


def loaded(pid, fn):
    """fn()'s result and the CPU share pid used meanwhile (1.0 = one core)."""
    c0, t0 = cpu_secs(pid), time.monotonic()
    res = fn()
    return res, (cpu_secs(pid) - c0) / (time.monotonic() - t0)


def tls_figures(tmp, body_path):
    """Verify over TLS with keep-alive ÷ plain verify, and verify on a new
    TLS connection per request ÷ nginx's TLS handshakes (same certificate,
    one worker, `return 200`), both with tlsload; the resumed rate."""
    cert, key = tls_cert(tmp)
    plain = Licsrv(os.path.join(tmp, "srv-plain"))
    tls = Licsrv(os.path.join(tmp, "srv-tls"), extra=["--tls-cert", cert, "--tls-key", key])
    tls.ssl_ctx = __import__("ssl").create_default_context(cafile=cert)
    with plain, tls:
        check_verify(plain.port)
        out = subprocess.run([os.path.join(BUILD, "bin", "licctl"), "verify", "https://127.0.0.1:%d" % tls.port,
                              "--cacert", cert, "--trust", tls.trust, "--domain", "localhost",
                              "--port", "8080", "--node", "bench-1", "--version", "11.0.0"],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0 or not out.stdout.startswith("valid:"):
            raise BenchError("verify over TLS is not valid: %s%s" % (out.stdout, out.stderr))
        if want("tls"):
            rounds = []
            for _ in range(ROUNDS):
                (base, _, bad0), pcpu = loaded(plain.proc.pid, lambda: wrk(
                    plain.port, "/v1/verify", script=POST_LUA, env={"BENCH_BODY": body_path},
                    secs=ROUND_SECS))
                (rate, _, bad), tcpu = loaded(tls.proc.pid, lambda: wrk(
                    tls.port, "/v1/verify", script=POST_LUA, env={"BENCH_BODY": body_path},
                    secs=ROUND_SECS, scheme="https"))
                if bad or bad0:
                    raise BenchError("%d verify answers were not 2xx" % (bad + bad0))
                rounds.append((rate / base, rate, base, tcpu, pcpu))
                log("round: verify over TLS %.0f req/s (CPU %.2f), plain %.0f req/s (CPU %.2f)"
                    % (rate, tcpu, base, pcpu))
            r, rate, base, tcpu, pcpu = median(rounds)
            report("verify TLS keep-alive / plain", "%.0f req/s vs plain %.0f req/s%s"
                   % (rate, base, spread(rounds)), "%.3f" % r, ">= 0.90", r >= 0.90)
            per = sorted((x[1] / max(x[3], 1e-3)) / (x[2] / max(x[4], 1e-3)) for x in rounds)
            report("  same, per server CPU second", "server CPU %.2f vs %.2f (rounds %.2f..%.2f)"
                   % (tcpu, pcpu, per[0], per[-1]), "%.3f" % per[len(per) // 2], "(information)",
                   None)
        if want("tlsnew"):
            port = srvutil.free_port()
            ng, worker = nginx_tls_start(tmp, port, cert, key)
            rounds = []
            try:
                for _ in range(ROUNDS):
                    (base, _), ncpu = loaded(worker, lambda: tlsload(port, ROUND_SECS))
                    (rate, _), lcpu = loaded(tls.proc.pid,
                                             lambda: tlsload(tls.port, ROUND_SECS, body=body_path))
                    # Per server CPU second too: on 2 cores the one-core load
                    # generator (which verifies an ECDSA signature per
                    # handshake) may saturate before the server does.
                    rounds.append((rate / base, rate, base, lcpu, ncpu))
                    log("round: verify per new TLS conn %.0f/s (server CPU %.2f), nginx handshakes "
                        "%.0f/s (worker CPU %.2f)" % (rate, lcpu, base, ncpu))
                (rb, nb), _ = loaded(worker, lambda: (tlsload(port, ROUND_SECS, resume=True)))[0], 0
                (rr, nr), rcpu = loaded(tls.proc.pid, lambda: tlsload(tls.port, ROUND_SECS, resume=True,
                                                                      body=body_path))
            finally:
                ng.send_signal(signal.SIGQUIT)
                try:
                    ng.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    ng.kill()
            r, rate, base, lcpu, ncpu = median(rounds)
            report("verify new TLS conn / nginx TLS", "%.0f/s vs nginx %.0f handshakes/s%s"
                   % (rate, base, spread(rounds)), "%.3f" % r, ">= 0.80", r >= 0.80)
            per = (rate / max(lcpu, 1e-3)) / (base / max(ncpu, 1e-3))
            report("  same, per server CPU second", "%.0f vs nginx %.0f per CPU s (CPU %.2f vs %.2f)"
                   % (rate / max(lcpu, 1e-3), base / max(ncpu, 1e-3), lcpu, ncpu),
                   "%.3f" % per, "(information)", None)
            # A report server's real check: a new connection resuming the
            # session of its last check, and one verify (SPEC §7).
            report("resumed check / nginx resumed", "%.0f/s (%d resumed; server CPU %.2f) vs nginx "
                   "%.0f/s" % (rr, nr, rcpu, rb), "%.3f" % (rr / max(rb, 1e-3)), ">= 0.90",
                   rr / max(rb, 1e-3) >= 0.90)
        plain.stop()
        tls.stop()


def public_verify(tmp, body_path):
    """Public-mode verify (account + token + project_id) ÷ private-mode
    verify, both one loop on the server core, rounds alternating."""
    priv = Licsrv(os.path.join(tmp, "srv-priv"))
    pub = Licsrv(os.path.join(tmp, "srv-pub"), public=True)
    acct = pubutil.account(pub.data, 5)
    pid = uuid.uuid4().bytes
    pub_body = os.path.join(tmp, "verify-public.msgpack")
    with open(pub_body, "wb") as f:
        f.write(msgpack.packb(pubutil.fields(acct, pid, kind="verify"), use_bin_type=True))
    rounds = []
    with priv, pub:
        check_verify(priv.port)
        st, v = pubutil.register(pub.port, acct, pid)
        if st != 200:
            raise BenchError("public register answered %d: %r" % (st, v))
        st, v = pubutil.verify(pub.port, acct, pid)  # checked root -> cert -> verdict
        if st != 200 or v.get("status") != "valid":
            raise BenchError("public verify is not valid: %d %r" % (st, v))
        for i in range(ROUNDS):
            order = [(priv, body_path), (pub, pub_body)]
            if i % 2:
                order.reverse()
            got = {}
            for srv, body in order:
                rate, _, bad = wrk(srv.port, "/v1/verify", script=POST_LUA,
                                   env={"BENCH_BODY": body}, secs=ROUND_SECS)
                if bad:
                    raise BenchError("%d verify answers were not 2xx" % bad)
                got[srv] = rate
            rounds.append((got[pub] / got[priv], got[pub], got[priv]))
            log("round: public verify %.0f req/s, private %.0f req/s" % (got[pub], got[priv]))
        priv.stop()
        pub.stop()
    r, rate, base = median(rounds)
    report("public verify / private verify", "%.0f req/s vs private %.0f req/s%s"
           % (rate, base, spread(rounds)), "%.3f" % r, ">= 0.90", r >= 0.90)


BIG_ACCOUNT = 100000  # registrations of the accountsize figure's large account
SMALL_ACCOUNT = 10


def verify_body_file(tmp, name, acct, pid):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(msgpack.packb(pubutil.fields(acct, pid, kind="verify"), use_bin_type=True))
    return path


def seats_used(port, acct, pid):
    st, v = pubutil.verify(port, acct, pid)  # checked root -> cert -> verdict
    if st != 200 or v.get("status") != "valid":
        raise BenchError("public verify is not valid: %d %r" % (st, v))
    return v["seats"]["used"]


def account_size(tmp, pg=None):
    """Public verify and register per second on an account holding 100,000
    registrations ÷ the same on one holding 10 (one loop; LMDB, or the
    PostgreSQL store of pg): a customer's size must cost its requests
    nothing. The large account is filled through the server itself (on LMDB
    started with LICSRV_BENCH_NOSYNC=1 for the filling only, then restarted
    as usual); register is a fresh project id per request, the small side a
    new account holding 10 each round."""
    url = pg.url() if pg is not None else None
    name = "PostgreSQL" if pg is not None else "LMDB"
    data = os.path.join(tmp, "srv-size-pg" if pg is not None else "srv-size")
    fill = (Licsrv(data, store=url, quota=False) if pg is not None
            else Licsrv(data, public=True, nosync=True, quota=False))

    def account():
        a = pubutil.account(data, 1000000, import_it=pg is None)
        if pg is not None:
            pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB,
                           a.path)
        return a

    big = account()
    m = BIG_ACCOUNT + 60000 * ROUNDS
    lines = os.path.join(tmp, "size-register-%s.jsonl" % name)
    pids = register_lines(lines, [big], m)
    start, t0, secs = 1, time.monotonic(), 2
    with fill:
        while start < BIG_ACCOUNT + 1:  # runs sized by the rate, not to overshoot much
            rate, start = registrations_rate(fill, lines, start, m, secs)
            secs = max(1, min(10, int((BIG_ACCOUNT - start) / max(rate, 1.0)) + 1))
        held = seats_used(fill.port, big, pids[BIG_ACCOUNT // 2])
        fill.stop()
    if held < BIG_ACCOUNT:
        raise BenchError("the large account holds %d registrations, not %d" % (held, BIG_ACCOUNT))
    log("filled: %d registrations in one account in %.0f s (%s)" % (held, time.monotonic() - t0,
                                                                   name))
    smalls = [account() for _ in range(ROUNDS)]
    srv = (Licsrv(data, store=url, quota=False) if pg is not None
           else Licsrv(data, public=True, quota=False))
    secs = max(1, min(ROUND_SECS, 3))
    rounds = {"verify": [], "register": []}
    with srv:
        big_body = verify_body_file(tmp, "verify-big-%s.msgpack" % name, big,
                                    pids[BIG_ACCOUNT // 2])
        for i, small in enumerate(smalls):
            spids = [uuid.uuid4().bytes for _ in range(SMALL_ACCOUNT)]
            for pid in spids:
                st, v = pubutil.register(srv.port, small, pid)
                if st != 200 or v.get("status") != "valid":
                    raise BenchError("public register answered %d: %r" % (st, v))
            if seats_used(srv.port, small, spids[0]) != SMALL_ACCOUNT:
                raise BenchError("the small account does not hold %d" % SMALL_ACCOUNT)
            small_body = verify_body_file(tmp, "verify-small-%s-%d.msgpack" % (name, i), small,
                                          spids[0])
            slines = os.path.join(tmp, "size-register-small-%s-%d.jsonl" % (name, i))
            register_lines(slines, [small], 60000)
            sides = [("big", big_body), ("small", small_body)]
            if i % 2:
                sides.reverse()
            got = {}
            for side, body in sides:
                rate, _, bad = wrk(srv.port, "/v1/verify", script=POST_LUA,
                                   env={"BENCH_BODY": body}, secs=secs)
                if bad:
                    raise BenchError("%d verify answers were not 2xx" % bad)
                got["verify", side] = rate
            for side, _ in sides:
                if side == "big":
                    got["register", side], start = registrations_rate(srv, lines, start, m, secs)
                else:
                    got["register", side], _ = registrations_rate(srv, slines, 1, 60000, secs)
            held_small = seats_used(srv.port, small, spids[0])
            held = seats_used(srv.port, big, pids[BIG_ACCOUNT // 2])
            for k in rounds:
                rounds[k].append((got[k, "big"] / got[k, "small"], got[k, "big"], got[k, "small"],
                                  held, held_small))
            log("round: account of %d: verify %.0f/s, register %.0f/s; account of %d: verify "
                "%.0f/s, register %.0f/s (%d after)" % (held, got["verify", "big"],
                                                        got["register", "big"], SMALL_ACCOUNT,
                                                        got["verify", "small"],
                                                        got["register", "small"], held_small))
        srv.stop()
    for k in ("verify", "register"):
        r, b, sm, held, held_small = median(rounds[k])
        report("%s, account 100k / 10 (%s)" % (k, "PG" if pg is not None else "LMDB"), "%.0f/s vs %.0f/s%s" % (b, sm, spread(rounds[k])),
               "%.3f" % r, ">= 0.90", r >= 0.90)
    report("  accounts held (median round)", "%d, and %d growing to %d by its registrations"
           % (held, SMALL_ACCOUNT, held_small), "", "(information)", None)


PG_CONNS = 64     # wrk's connections and pgbench's clients for the pgreg figure
PG_ACCOUNTS = 64  # accounts the registrations are spread over (customers, each a few projects)


def pg_figures(tmp):
    """pgverify and pgreg on one throw-away PostgreSQL 15 (tests/e2e/pgutil.py:
    initdb, fsync on, synchronous_commit from $BENCH_PG_SYNCHRONOUS_COMMIT,
    default on), pinned to the server core beside licsrv: the server side on
    one core, the load generators on the other. Stopped and deleted at the
    end, whatever happened."""
    why = pgutil.available()
    if why is not None:
        raise BenchError("no PostgreSQL: %s" % why)
    try:
        sync = pgload.sync_commit()
    except ValueError as e:
        raise BenchError(str(e))
    pg = pgutil.PgServer()
    try:
        try:
            pg.start(extra_conf="synchronous_commit = %s\nmax_connections = 200\n%s"
                     % (sync, pgload.STATEMENTS_CONF))
        except RuntimeError as e:
            raise BenchError(str(e))
        pgload.pin(pg.pid(), {int(SRV_CPU)})
        log("PostgreSQL 15 on port %d, core %s, fsync on, synchronous_commit = %s"
            % (pg.port, SRV_CPU, sync))
        if want("pgverify"):
            pg_verify(tmp, pg)
        if want("pgaccountsize"):
            account_size(tmp, pg)
        if want("pgreg"):
            pg_registrations(tmp, pg, sync)
        if want("pgscale"):
            pg_scale(tmp, pg)
    finally:
        pg.cleanup()


def pg_xacts(pg):
    """Transactions the cluster has committed or rolled back so far (each
    psql call here adds its own one, counted by the next call)."""
    return int(pg.psql("SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"))


def pg_verify(tmp, pg):
    """Public-mode verify with the PostgreSQL store ÷ the same with LMDB: the
    same account and project on both, one loop each on the server core,
    rounds alternating. The cluster's transactions during the PostgreSQL
    server's load are counted: the verify path reads the process's cache."""
    url = pg.url()
    lm = Licsrv(os.path.join(tmp, "srv-pub-lmdb"), public=True)
    pq = Licsrv(os.path.join(tmp, "srv-pub-pg"), store=url)
    acct = pubutil.account(lm.data, 5)
    pubutil.licsrv("import", "--data", pq.data, "--store", url, "--trust", pubutil.ROOT_PUB,
                   acct.path)
    pid = uuid.uuid4().bytes
    body = os.path.join(tmp, "verify-public-pg.msgpack")
    with open(body, "wb") as f:
        f.write(msgpack.packb(pubutil.fields(acct, pid, kind="verify"), use_bin_type=True))
    rounds, xacts, verifies = [], 0, 0
    with lm, pq:
        for srv in (lm, pq):
            st, v = pubutil.register(srv.port, acct, pid)
            if st != 200 or v.get("status") != "valid":
                raise BenchError("public register answered %d: %r" % (st, v))
            st, v = pubutil.verify(srv.port, acct, pid)  # checked root -> cert -> verdict
            if st != 200 or v.get("status") != "valid":
                raise BenchError("public verify is not valid: %d %r" % (st, v))
        for i in range(ROUNDS):
            order = [lm, pq] if i % 2 == 0 else [pq, lm]
            got, cpu = {}, {}
            for srv in order:
                if srv is pq:
                    x0 = pg_xacts(pg)
                (rate, _, bad), cpu[srv] = loaded(srv.proc.pid, lambda: wrk(
                    srv.port, "/v1/verify", script=POST_LUA, env={"BENCH_BODY": body},
                    secs=ROUND_SECS))
                if bad:
                    raise BenchError("%d verify answers were not 2xx" % bad)
                got[srv] = rate
                if srv is pq:
                    verifies += last_wrk["requests"]
                    time.sleep(1.1)  # backends report their counts at most once a second
                    xacts += pg_xacts(pg) - x0 - 1
            rounds.append((got[pq] / got[lm], got[pq], got[lm], cpu[pq], cpu[lm]))
            log("round: public verify on PostgreSQL %.0f req/s (CPU %.2f), on LMDB %.0f req/s "
                "(CPU %.2f)" % (got[pq], cpu[pq], got[lm], cpu[lm]))
        lm.stop()
        pq.stop()
    r, rate, base, pcpu, lcpu = median(rounds)
    report("public verify PG store / LMDB", "%.0f req/s vs LMDB %.0f req/s%s"
           % (rate, base, spread(rounds)), "%.3f" % r, ">= 0.90", r >= 0.90)
    # Per server CPU second: steadier while other jobs take the server's core.
    per = sorted((x[1] / max(x[3], 1e-3)) / (x[2] / max(x[4], 1e-3)) for x in rounds)
    report("  same, per server CPU second", "server CPU %.2f vs %.2f (rounds %.2f..%.2f)"
           % (pcpu, lcpu, per[0], per[-1]), "%.3f" % per[len(per) // 2], "(information)", None)
    report("  database transactions per verify", "%d during %d verifies on PostgreSQL"
           % (xacts, verifies), "%.4f" % (xacts / max(verifies, 1)), "(information)", None)


def pg_registrations(tmp, pg, sync):
    """Registrations per second through licsrv on PostgreSQL ÷ pgbench's
    one-row INSERT transactions per second (a table shaped like licsrv's
    registrations), the same client count, the same server and
    synchronous_commit, rounds alternating. Every registration answered is
    checked to be a new row; a sample is verified valid afterwards."""
    db = "licsrv_reg"
    pg.psql("CREATE DATABASE " + db)
    url = pg.url(db)
    srv = Licsrv(os.path.join(tmp, "srv-reg-pg"), store=url)
    accts = [pubutil.account(srv.data, 1000000, import_it=False) for _ in range(PG_ACCOUNTS)]
    for a in accts:
        pubutil.licsrv("import", "--data", srv.data, "--store", url, "--trust", pubutil.ROOT_PUB,
                       a.path)
    pg.psql(pgload.table_sql(), db=db)
    pg.psql("CREATE EXTENSION pg_stat_statements", db=db)
    script = pgload.write_script(tmp, PG_ACCOUNTS)
    m = 60000 * ROUNDS  # lines for both placements' runs
    lines = os.path.join(tmp, "register-pg.jsonl")
    pids = register_lines(lines, accts, m)
    secs = ROUND_SECS
    rows = lambda: int(pg.psql("SELECT count(*) FROM licsrv_registrations", db=db))  # noqa: E731
    state = {"start": 1}

    def measure(srv, stmts):
        """ROUNDS rounds of srv's registrations against pgbench's INSERTs,
        alternating; every answer checked to be a new row, a sample verified."""
        rounds, sent, start = [], [], state["start"]
        with srv:
            st, v = pubutil.register(srv.port, accts[0], uuid.uuid4().bytes)
            if st != 200 or v.get("status") != "valid":  # checked root -> cert -> verdict
                raise BenchError("public register on PostgreSQL answered %d: %r" % (st, v))
            for i in range(ROUNDS):
                got, cpu = {}, {}
                for who in (["pgbench", "licsrv"] if i % 2 == 0 else ["licsrv", "pgbench"]):
                    p0 = pgload.cpu_secs(pg.pid())
                    t0 = time.monotonic()
                    if who == "pgbench":
                        try:
                            got[who], _ = pgload.run(pg.port, script, PG_CONNS, secs, db=db,
                                                     cpus=LOAD_CPU)
                        except (RuntimeError, ValueError) as e:
                            raise BenchError(str(e))
                        cpu[who] = (0.0, pgload.cpu_secs(pg.pid()) - p0)
                    else:
                        n0, c0 = rows(), cpu_secs(srv.proc.pid)
                        pg.psql(pgload.STATEMENTS_RESET, db=db)
                        got[who], nxt = registrations_rate(srv, lines, start, m, secs,
                                                           conns=PG_CONNS)
                        cpu[who] = (cpu_secs(srv.proc.pid) - c0, pgload.cpu_secs(pg.pid()) - p0)
                        stmts.append((int(pg.psql(pgload.STATEMENTS_SQL, db=db)),
                                      last_wrk["requests"]))
                        answered = last_wrk["requests"]
                        stored = rows() - n0
                        # Each answer a new row (none refused, none a repeat); a
                        # connection's worth may have been stored after wrk stopped.
                        if not answered <= stored <= answered + PG_CONNS:
                            raise BenchError("%d registrations answered, %d rows stored"
                                             % (answered, stored))
                        sent.append((start, answered))
                        start = nxt
                    wall = time.monotonic() - t0
                    cpu[who] = tuple(c / wall for c in cpu[who])
                rounds.append((got["licsrv"] / got["pgbench"], got["licsrv"], got["pgbench"],
                               cpu["licsrv"], cpu["pgbench"]))
                log("round: registrations on PostgreSQL %.0f/s (licsrv CPU %.2f, PostgreSQL "
                    "%.2f), pgbench INSERTs %.0f tps (PostgreSQL CPU %.2f)"
                    % (got["licsrv"], cpu["licsrv"][0], cpu["licsrv"][1], got["pgbench"],
                       cpu["pgbench"][1]))
            # A sample of what was answered: valid verifies, checked root -> cert -> verdict.
            rng = __import__("random").Random(1)
            for first, n in sent:
                for k in rng.sample(range(first - 1, first - 1 + n), min(5, n)):
                    st, v = pubutil.verify(srv.port, accts[k % len(accts)], pids[k])
                    if st != 200 or v.get("status") != "valid":
                        raise BenchError("registered project %d verifies %d %r" % (k, st, v))
            total = rows()
            srv.stop()
        state["start"] = start
        return rounds, total

    stmts, apart_stmts = [], []
    rounds, total = measure(srv, stmts)
    # The same on the load generator's core, PostgreSQL alone on core 0 as
    # in pgbench's run (and as on its own host in a deployment); one licsrv
    # at a time, so neither pays for the other's change notices.
    apart = Licsrv(os.path.join(tmp, "srv-reg-pg-apart"), store=url, cpus=LOAD_CPU)
    aparts, total = measure(apart, apart_stmts)
    r, rate, base, lc, bc = median(rounds)
    report("registrations PG / pgbench INSERT", "%.0f/s vs pgbench %.0f tps, %d clients%s"
           % (rate, base, PG_CONNS, spread(rounds)), "%.3f" % r, ">= 0.70", r >= 0.70)
    ar, arate, abase, _, _ = median(aparts)
    report("  licsrv apart from PostgreSQL", "%.0f/s vs pgbench %.0f tps: licsrv on core %s with "
           "wrk, PostgreSQL alone on core %s%s" % (arate, abase, LOAD_CPU, SRV_CPU, spread(aparts)),
           "%.3f" % ar, "(information)", None)
    report("  server CPU ms per write", "licsrv %.3f + PostgreSQL %.3f; INSERT: PostgreSQL %.3f"
           % (1e3 * lc[0] / max(rate, 1e-3), 1e3 * lc[1] / max(rate, 1e-3),
              1e3 * bc[1] / max(base, 1e-3)),
           "%.2f" % ((lc[0] + lc[1]) / max(rate, 1e-3) / max(bc[1] / max(base, 1e-3), 1e-9)),
           "(information)", None)
    calls, regs = sum(c for c, _ in stmts), sum(n for _, n in stmts)
    report("  statements per registration", "%d for %d registrations; pgbench: 1 per INSERT"
           % (calls, regs), "%.1f" % (calls / max(regs, 1)),
           "(information)", None)
    report("  synchronous_commit, rows", "%s (fsync on); %d registrations in %d accounts at the end"
           % (sync, total, PG_ACCOUNTS), sync, "(information)", None)


def cache_counters(srv):
    """The read copy's reloads and rows taken from notices (/metrics)."""
    st, body, _ = srv.get("/metrics", port=srv.admin_port)
    if st != 200:
        raise BenchError("/metrics answered %d" % st)
    vals = {}
    for line in body.decode().splitlines():
        if line.startswith("licsrv_store_cache_"):
            name, v = line.split()
            vals[name] = float(v)
    return vals.get("licsrv_store_cache_reloads", 0), vals.get("licsrv_store_cache_notice_rows", 0)


def pg_scale(tmp, pg):
    """Registrations through two licsrv on one PostgreSQL (each with its own
    wrk of PG_CONNS connections, at once) ÷ through one of them alone, rounds
    alternating: does a second process add registrations, or do its change
    notices cost the first one what it adds? Every process's copy takes the
    other's registrations from the notices (schema version 4): the reloads
    are reported. Both processes on the server core beside PostgreSQL, both
    wrk on the load core, as in pgreg."""
    db = "licsrv_scale"
    pg.psql("CREATE DATABASE " + db)
    url = pg.url(db)
    s1 = Licsrv(os.path.join(tmp, "srv-scale-1"), store=url)
    s2 = Licsrv(os.path.join(tmp, "srv-scale-2"), store=url)
    accts = [pubutil.account(s1.data, 1000000, import_it=False) for _ in range(PG_ACCOUNTS)]
    for a in accts:
        pubutil.licsrv("import", "--data", s1.data, "--store", url, "--trust", pubutil.ROOT_PUB,
                       a.path)
    m = 40000 * ROUNDS
    files = [os.path.join(tmp, "register-scale-%d.jsonl" % i) for i in (1, 2)]
    for f in files:
        register_lines(f, accts, m)
    secs = ROUND_SECS
    start = [1, 1]
    rows = lambda: int(pg.psql("SELECT count(*) FROM licsrv_registrations", db=db))  # noqa: E731

    def load(i, srv, out):
        try:
            rate, _, bad = wrk(srv.port, "/v1/register", script=LINES_LUA, secs=secs,
                               conns=PG_CONNS, env={"BENCH_LINES": files[i],
                                                    "BENCH_START": str(start[i]),
                                                    "BENCH_PATH": "/v1/register"})
            out[i] = (rate, bad)
        except BenchError as e:
            out[i] = e

    def step(servers):
        """wrk on each of servers at once; returns their summed rate."""
        out, ths = {}, []
        for i, srv in servers:
            ths.append(threading.Thread(target=load, args=(i, srv, out)))
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        total = 0.0
        for i, _ in servers:
            if isinstance(out[i], BenchError):
                raise out[i]
            rate, bad = out[i]
            if bad:
                raise BenchError("%d registrations were refused" % bad)
            total += rate
            # never a project id twice: past what this run can have sent
            start[i] += int(rate * secs * 1.5) + 2 * PG_CONNS
            if start[i] >= m:
                raise BenchError("ran out of fresh project ids (%d): raise m in pg_scale()" % m)
        return total

    rounds = []
    with s1, s2:
        for srv in (s1, s2):
            st, v = pubutil.register(srv.port, accts[0], uuid.uuid4().bytes)
            if st != 200 or v.get("status") != "valid":  # checked root -> cert -> verdict
                raise BenchError("public register on PostgreSQL answered %d: %r" % (st, v))
        before = [cache_counters(s) for s in (s1, s2)]
        for i in range(ROUNDS):
            got = {}
            for who in (["one", "two"] if i % 2 == 0 else ["two", "one"]):
                n0 = rows()
                got[who] = step([(0, s1)] if who == "one" else [(0, s1), (1, s2)])
                if rows() - n0 < got[who] * secs * 0.9:
                    raise BenchError("%.0f registrations/s answered, %d rows stored"
                                     % (got[who], rows() - n0))
            rounds.append((got["two"] / got["one"], got["two"], got["one"]))
            log("round: registrations through two licsrv %.0f/s, through one %.0f/s"
                % (got["two"], got["one"]))
        after = [cache_counters(s) for s in (s1, s2)]
        s1.stop()
        s2.stop()
    r, two, one = median(rounds)
    report("two processes / one (pgscale)", "%.0f/s vs one %.0f/s, %d clients each%s"
           % (two, one, PG_CONNS, spread(rounds)), "%.3f" % r, ">= 1.3", r >= 1.3)
    report("  copy reloads, rows from notices", "reloads %d and %d; rows taken from notices "
           "%d and %d" % (after[0][0] - before[0][0], after[1][0] - before[1][0],
                          after[0][1] - before[0][1], after[1][1] - before[1][1]),
           "%d" % (after[0][0] - before[0][0] + after[1][0] - before[1][0]), "(information)", None)


def claims_rate(srv, token, bodies, stored, n, secs):
    """Claims of fresh codes per second, counted in the store (the admin
    activations list); returns (rate, claims stored now)."""
    _, _, bad = wrk(srv.port, "/v1/activations", script=LINES_LUA, secs=secs,
                    env={"BENCH_LINES": bodies, "BENCH_START": str(stored + 1)})
    if bad:
        raise BenchError("%d claims were refused" % bad)
    st, lst = admin_get(srv, srv.token, "/v1/admin/activations")
    if st != 200:
        raise BenchError("the admin activations list answered %d" % st)
    if lst.get("truncated"):
        raise BenchError("the activations list is truncated: cannot count claims")
    now = len(lst["activations"])
    if now >= n:
        raise BenchError("ran out of fresh codes (%d): raise n in durable()" % n)
    return (now - stored) / float(secs), now


def imports_rate(srv, secs):
    """The admin import of the server's license, again and again: each one a
    license write and an audit entry, synced before its 200."""
    rate, _, bad = wrk(srv.admin_port, "/v1/admin/licenses", script=POST_LUA, secs=secs,
                       env={"BENCH_BODY": srv.license_file, "BENCH_PATH": "/v1/admin/licenses",
                            "BENCH_CTYPE": "application/octet-stream", "BENCH_TOKEN": srv.token})
    if bad:
        raise BenchError("%d imports were refused" % bad)
    return rate


def register_lines(path, accts, m):
    """m JSON register bodies, one a line, each a fresh project id, the
    accounts taken in turn (line i, from 0, on accts[i % len(accts)]);
    returns the project ids in line order."""
    pids = []
    with open(path, "w") as out:
        for i in range(m):
            acct = accts[i % len(accts)]
            q = pubutil.fields(acct, uuid.uuid4().bytes)
            body, _ = srvchain.encode(q, "json")
            j = json.loads(body)
            j["account"] = acct.id
            j["project_id"] = str(uuid.UUID(bytes=q["project_id"]))
            out.write(json.dumps(j) + "\n")
            pids.append(q["project_id"])
    return pids


def registrations_rate(srv, lines, start, n, secs, conns=64):
    """Public-mode registrations, a fresh project id each (one line of
    `lines` per request, none sent twice); returns (rate, next start)."""
    rate, _, bad = wrk(srv.port, "/v1/register", script=LINES_LUA, secs=secs, conns=conns,
                       env={"BENCH_LINES": lines, "BENCH_START": str(start),
                            "BENCH_PATH": "/v1/register"})
    if bad:
        raise BenchError("%d registrations were refused" % bad)
    # wrk may have sent up to a connection's worth more than it counted.
    nxt = start + last_wrk["requests"] + 2 * conns
    if nxt >= n:
        raise BenchError("ran out of fresh project ids (%d): raise m in durable() or "
                         "pg_registrations()" % n)
    return rate, nxt


def store_metrics(srv):
    """The writer's counters from /metrics (admin listener): operations,
    commits and the commits made durable by the next one's flush."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", srv.admin_port, timeout=30)
    try:
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
    finally:
        c.close()
    vals = {}
    for line in body.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("licsrv_store_operations", "licsrv_store_commits",
                                            "licsrv_store_shared_syncs"):
            vals[parts[0]] = float(parts[1])
    return [vals.get(k, 0.0) for k in ("licsrv_store_operations", "licsrv_store_commits",
                                       "licsrv_store_shared_syncs")]


def durable(tmp):
    """Durable writes per second (public registrations of fresh project ids,
    admin imports, claims of fresh activation codes), each committed and
    synced before its answer, ÷ the same writes on a second server with the
    bench-only LICSRV_BENCH_NOSYNC=1 (no syncs), rounds alternating; ÷
    single-record synced LMDB commits per second on the same filesystem for
    information."""
    base_dir = os.path.join(tmp, "lmdb-sync")
    os.makedirs(base_dir)
    n = 60000 * ROUNDS
    codes_csv, _ = make_codes(tmp, n, NCPU, product=2)
    bodies = os.path.join(tmp, "claims.jsonl")
    with open(codes_csv, newline="") as f, open(bodies, "w") as out:
        for i, row in enumerate(csv.DictReader(f)):
            m = "%016X" % i
            out.write('{"code":"%s","machine":"%s-%s-%s-%s"}\n'
                      % (row["code"], m[0:4], m[4:8], m[8:12], m[12:16]))
    priv = {ns: Licsrv(os.path.join(tmp, "srvd-" + ns), nosync=(ns == "nosync"))
            for ns in ("sync", "nosync")}
    pub = {ns: Licsrv(os.path.join(tmp, "srvp-" + ns), public=True, nosync=(ns == "nosync"),
                      quota=False)
           for ns in ("sync", "nosync")}
    for srv in priv.values():
        os.makedirs(os.path.join(srv.data, "trusted"), exist_ok=True)
        shutil.copy(TEST_PUB, os.path.join(srv.data, "trusted", "test-root.pub.pem"))
    acct = pubutil.account(pub["sync"].data, 1000000)
    pubutil.licsrv("import", "--data", pub["nosync"].data, "--trust", pubutil.ROOT_PUB, acct.path)
    m = 50000 * ROUNDS
    lines = os.path.join(tmp, "register.jsonl")
    register_lines(lines, [acct], m)
    figures = {"registrations": [], "imports": [], "claims": []}
    flushes = {k: [] for k in figures}  # synced server: [ops, commits, shared] per round
    stored = {"sync": 0, "nosync": 0}
    start = {"sync": 1, "nosync": 1}
    secs = max(1, min(ROUND_SECS, 3))
    with priv["sync"], priv["nosync"], pub["sync"], pub["nosync"]:
        for srv in priv.values():
            srv.token = run([srvutil.licsrv_bin(), "token", "add", "bench", "--data", srv.data],
                            env=srv.env).strip()
        st, v = pubutil.register(pub["sync"].port, acct, uuid.uuid4().bytes)
        if st != 200:  # one register checked root -> cert -> verdict
            raise BenchError("public register answered %d: %r" % (st, v))
        for i in range(ROUNDS):
            base = float(run([os.path.join(BUILD, "tests", "lmdb_sync"), base_dir, secs],
                             timeout=60))
            order = ["sync", "nosync"] if i % 2 == 0 else ["nosync", "sync"]
            got = {k: {} for k in figures}
            cpu = {k: {} for k in figures}
            for ns in order:
                # With the server's CPU share (1.0 = its core) meanwhile, and
                # the synced writer's counters.
                def counted(k, srv, fn):
                    m0 = store_metrics(srv) + [write_bytes(srv.proc.pid), time.monotonic()]
                    res = loaded(srv.proc.pid, fn)
                    if ns == "sync":
                        m1 = store_metrics(srv) + [write_bytes(srv.proc.pid), time.monotonic()]
                        flushes[k].append([b - a for a, b in zip(m0, m1)])
                    return res
                (got["registrations"][ns], start[ns]), cpu["registrations"][ns] = counted(
                    "registrations", pub[ns],
                    lambda: registrations_rate(pub[ns], lines, start[ns], m, secs))
                got["imports"][ns], cpu["imports"][ns] = counted(
                    "imports", priv[ns], lambda: imports_rate(priv[ns], secs))
                (got["claims"][ns], stored[ns]), cpu["claims"][ns] = counted(
                    "claims", priv[ns], lambda: claims_rate(priv[ns], priv[ns].token, bodies,
                                                            stored[ns], n, secs))
            for k in figures:
                figures[k].append((got[k]["sync"] / got[k]["nosync"], got[k]["sync"],
                                   got[k]["nosync"], base, cpu[k]["sync"], cpu[k]["nosync"]))
            log("round: synced/no-sync: %s; lmdb_sync %.0f commits/s"
                % (", ".join("%s %.0f/%.0f (CPU %.2f/%.2f)"
                             % (k, got[k]["sync"], got[k]["nosync"], cpu[k]["sync"],
                                cpu[k]["nosync"]) for k in figures), base))
        for srv in list(priv.values()) + list(pub.values()):
            srv.stop()
    for k in ("registrations", "imports", "claims"):
        rounds = figures[k]
        r, writes, nos, base, c_s, c_n = median(rounds)
        report("durable %s / no-sync" % k, "%.0f/s vs no-sync %.0f/s%s"
               % (writes, nos, spread(rounds)), "%.3f" % r, ">= 0.80", r >= 0.80)
        # Server CPU seconds per write: does the sync cost CPU, or idle time?
        report("  server CPU ms per write", "synced %.3f, no-sync %.3f (CPU %.2f vs %.2f)"
               % (1e3 * c_s / max(writes, 1e-3), 1e3 * c_n / max(nos, 1e-3), c_s, c_n),
               "%.2f" % ((c_s / max(writes, 1e-3)) / max(c_n / max(nos, 1e-3), 1e-9)),
               "(information)", None)
        ops, commits, shared, nbytes, wall = (sum(r[i] for r in flushes[k]) for i in range(5))
        # Each commit flushes once; one with nothing queued behind it flushes
        # its meta page a second time (docs/storage.md).
        report("  synced writes per commit", "%.1f writes per commit; %.0f%% of the commits "
               "made durable by the next one's flush, the others by a second of their own"
               % (ops / max(commits, 1), 100 * shared / max(commits, 1)),
               "%.1f" % (ops / max(commits, 1)), "(information)", None)
        # What each sync carries: a group's pages (LMDB copies every page it
        # changes, leaf to root, in each database the write touches).
        report("  synced bytes per commit", "%.0f KiB per commit, %.1f KiB per write, %.1f MB/s "
               "into the store file" % (nbytes / 1024 / max(commits, 1), nbytes / 1024 / max(ops, 1),
                                        nbytes / 1e6 / max(wall, 1e-3)),
               "%.0f" % (nbytes / 1024 / max(commits, 1)), "(information)", None)
        old = sorted((x[1] / x[3], x[1], x[3]) for x in rounds)
        o, w, b = median(old)
        report("  same / synced LMDB commits", "%.0f/s vs %.0f commits/s (rounds %.1f..%.1f)"
               % (w, b, old[0][0], old[-1][0]), "%.1f" % o, "(information)", None)


def terminated(signum, _frame):
    """SIGTERM (make interrupted, a timeout) unwinds like an error: every
    `with` and `finally` above stops what it started (licsrv, nginx,
    PostgreSQL; subprocess.run kills a running wrk or pgbench)."""
    log("terminated by signal %d: stopping what the benchmark started" % signum)
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, terminated)
    try:
        sys.exit(main())
    except BenchError as e:
        print("bench: error: %s" % e, file=sys.stderr)
        sys.exit(1)
