"""Warnings for everything that ends (SPEC §4.6), public mode: the last usable
online-key certificate 10 days from its end -> a warning in /healthz (still
200) on both listeners, licsrv_cert_expiry_seconds in /metrics, a cert_expiry
log line once at start, `licsrv status` says "renew soon"; a newer
certificate (a later end) clears it. Nothing on the public listener names
the customer or the account."""
import json
import os
import time

import lictest_formats as lf
import pubutil
import srvchain
from pubutil import register


def healthz(s, port):
    st, body, _ = s.get("/healthz", port=port)
    return st, json.loads(body), body.decode()


def test_cert_ten_days_from_its_end_warns_everywhere(tmp_path):
    data = str(tmp_path / "data")
    pubutil.licsrv("init", "--mode", "public", "--data", data)
    short = pubutil.certify(data, days=10, name="short.cert")
    pubutil.licsrv("import", "--data", data, "--trust", pubutil.ROOT_PUB, short)
    end = lf.read_envelope(short).body_obj()["expires"]
    date = time.strftime("%Y-%m-%d", time.gmtime(end))
    s = srvchain.Server(data, provisioned=False).start()
    try:
        a = pubutil.account(data, 2)  # customer "Cloud Customer"
        assert register(s.port, a, os.urandom(16))[1]["status"] == "valid"
        # whole days left, floored: 10 when the server reads the clock in the
        # second the certificate was signed, 9 from the next one on
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))
        last = time.strftime("%Y-%m-%d", time.gmtime(end - 1))

        def want(days):
            return [{"check": "expiry",
                     "message": "the last usable online-key certificate ends in %d days (valid "
                                "until %s, last day %s): certify the online key again and "
                                "import it (docs/public.md)" % (days, at, last)}]
        for port in (s.port, s.admin_port):
            st, doc, raw = healthz(s, port)
            assert st == 200 and doc["status"] == "ok", raw
            assert doc["warnings"] in (want(9), want(10)), raw
        st, body, _ = s.get("/metrics", port=s.admin_port)
        lines = body.decode().splitlines()
        assert "licsrv_cert_expiry_seconds %d" % end in lines, body
        assert "# TYPE licsrv_cert_expiry_seconds gauge" in lines
        warns = [ln for ln in s.log().splitlines() if "msg=cert_expiry" in ln]
        assert len(warns) == 1, s.log()  # once a day, not per request
        assert "level=warn" in warns[0] and "ends=%s" % date in warns[0]
        assert "days_left=9" in warns[0] or "days_left=10" in warns[0]
        # nothing the public listener answers names the customer or the account
        for path in ("/healthz", "/metrics"):
            st, body, _ = s.get(path)
            text = body.decode()
            assert st == 200 and "Cloud Customer" not in text and a.id not in text, text
        # licsrv status says it too (days floored as above: 10 in the signing second)
        out = pubutil.licsrv("status", "--data", data).stdout
        assert "last usable certificate ends %s" % time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(end)) in out, out
        assert "(9 days left, renew soon)" in out or "(10 days left, renew soon)" in out, out
        st = json.loads(pubutil.licsrv("status", "--data", data, "--json").stdout)
        assert st["cert_end"] == end and st["cert_days_left"] in (9, 10), st
        # a certificate with a later end: the last usable one is fine again
        pubutil.licsrv("import", "--data", data, "--trust", pubutil.ROOT_PUB,
                       pubutil.certify(data, days=90, name="long.cert"))
        time.sleep(1.1)  # /healthz caches its answer a second
        for port in (s.port, s.admin_port):
            st, doc, raw = healthz(s, port)
            assert st == 200 and "warnings" not in doc, raw
        st, body, _ = s.get("/metrics", port=s.admin_port)
        got = [ln for ln in body.decode().splitlines()
               if ln.startswith("licsrv_cert_expiry_seconds ")]
        assert len(got) == 1 and int(float(got[0].split()[1])) > end + 70 * 86400, got
        out = pubutil.licsrv("status", "--data", data).stdout
        assert "renew soon" not in out and ("(89 days left)" in out or "(90 days left)" in out), out
    finally:
        s.finish()
