"""An account renewed in place (SPEC §3.4, §4.6; docs/public.md "Renewing an
account"): `licsrv import` of a newer envelope of the same id (later
`issued`) while the server runs replaces the terms and keeps every
registration and the token; the old file again is refused naming both
times; a lowered capacity drops nobody; a new token is audited and the old
one stops working. On LMDB with one server, and on PostgreSQL with two
processes, where the other process answers with the new terms within a
second. The renewed envelopes are sealed here with the test root key
(lictest_formats), the way `licgen account --renew` makes them."""
import os
import time

import pytest

import lictest_formats as lf
import pgutil
import pubutil
import srvchain
import srvutil
from pubutil import register, verify

ROOT_KEY = os.path.join(srvutil.SOURCE_DIR, "keys", "test", "test-root.pem")


def renewal(acct, name, later=1, token=None, **terms):
    """acct's envelope with issued `later` seconds on and the given terms."""
    body = lf.read_envelope(acct.path).body_obj()
    body = dict(body, issued=body["issued"] + later, **terms)
    if token is not None:
        body["token_hash"] = lf.token_hash(token)
    path = os.path.join(os.path.dirname(acct.path), name)
    with open(path, "wb") as f:
        f.write(lf.armor_encode("account", lf.envelope_seal("account", body,
                                                            lf.load_private_pem(ROOT_KEY))))
    return path


def imp(data, path, *store):
    return srvutil.run([srvutil.licsrv_bin(), "import", "--data", data, *store, "--trust",
                        pubutil.ROOT_PUB, path], check=False)


def within(fn, want, seconds=1.0):
    t0 = time.monotonic()
    while True:
        got = fn()
        if got == want:
            return
        assert time.monotonic() - t0 < seconds, f"{got!r}, not {want!r}, after {seconds} s"
        time.sleep(0.01)


def test_lmdb_renewed_in_place(tmp_path):
    s = pubutil.Server(tmp_path / "data", threads=2).start()
    try:
        a = pubutil.account(s.data, 1)
        p = [os.urandom(16) for _ in range(4)]
        assert register(s.port, a, p[0])[1]["status"] == "valid"
        assert register(s.port, a, p[1])[1]["status"] == "capacity_exhausted"
        # a renewal with more capacity and a later expiry, imported while serving
        exp = int(time.time()) + 400 * 86400
        r = imp(s.data, renewal(a, "v2.acct", capacity=3, expires=exp))
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"renewed account {a.id} (capacity 1 -> 3, valid until "), r.stdout
        st, v = verify(s.port, a, p[0])  # the registration and the token stay
        assert v["status"] == "valid" and v["expires"] == exp, v
        st, v = register(s.port, a, p[1])
        assert v["status"] == "valid" and v["seats"] == {"used": 2, "max": 3}, v
        assert register(s.port, a, p[2])[1]["status"] == "valid"
        # the older file again: refused, naming both times; nothing changes
        r = imp(s.data, a.path)
        assert r.returncode == 1, r
        assert r.stderr.startswith(f"licsrv: error: {a.path}: account {a.id}: this envelope "
                                   "was issued "), r.stderr
        assert "the one in the store" in r.stderr and "renewal must be issued later" in r.stderr
        assert verify(s.port, a, p[2])[1]["seats"] == {"used": 3, "max": 3}
        # the same renewal again: as before, a harmless re-import
        r = imp(s.data, os.path.join(os.path.dirname(a.path), "v2.acct"))
        assert r.returncode == 0 and r.stdout.startswith("imported account "), r
        # a lowered capacity drops nobody; a new project waits
        r = imp(s.data, renewal(a, "v3.acct", later=2, capacity=1))
        assert r.returncode == 0 and "(capacity 3 -> 1," in r.stdout, r
        for i in range(3):
            assert verify(s.port, a, p[i])[1]["status"] == "valid"
        st, v = register(s.port, a, p[3])
        assert v["status"] == "capacity_exhausted" and v["seats"] == {"used": 3, "max": 1}, v
        assert register(s.port, a, p[0])[1]["status"] == "valid"  # still registered
        # a new token on purpose: the old one stops, the change is audited
        tok2 = lf.new_token()
        r = imp(s.data, renewal(a, "v4.acct", later=3, token=tok2, capacity=4))
        assert r.returncode == 0 and "a new token: the old one no longer works" in r.stdout, r
        assert verify(s.port, a, p[0])[1]["status"] == "bad_credentials"
        a2 = pubutil.Account(a.id, tok2, a.path)
        assert verify(s.port, a2, p[0])[1]["status"] == "valid"
        assert register(s.port, a2, p[3])[1]["status"] == "valid"
        audit = pubutil.licsrv("audit", "--data", s.data, "--json").stdout
        assert audit.count('"account.token"') == 1, audit
        assert tok2 not in audit and a.token not in audit
        # the admin API (it trusts DATA/trusted/*.pem): a stale envelope is 409 stale_account
        tok = srvchain.token_add(s.data, "ops")
        os.makedirs(os.path.join(s.data, "trusted"), exist_ok=True)
        with open(pubutil.ROOT_PUB, "rb") as f, \
                open(os.path.join(s.data, "trusted", "test-root.pem"), "wb") as g:
            g.write(f.read())
        with open(a.path, "rb") as f:
            st, doc = srvchain.admin(s, "POST", "/v1/admin/accounts", tok, f.read(), "text/plain")
        assert st == 409 and doc["error"] == "stale_account", doc
        assert "renewal must be issued later" in doc["message"], doc
        st, doc = srvchain.admin(s, "POST", "/v1/admin/accounts", tok,
                                 open(renewal(a, "v5.acct", later=4, token=tok2, capacity=6),
                                      "rb").read(), "text/plain")
        assert st == 200 and doc["renewed"] is True and doc["capacity"] == 6, doc
        assert doc["token_changed"] is False, doc
        assert verify(s.port, a2, p[3])[1]["seats"] == {"used": 4, "max": 6}
    finally:
        s.finish()


@pytest.mark.skipif(pgutil.available() is not None, reason=f"no PostgreSQL: {pgutil.available()}")
def test_pg_two_processes_renewed_in_place(tmp_path):
    pg = pgutil.PgServer()
    pg.start()
    servers = []
    try:
        url = pg.url()
        nodes = []
        for name in ("n1", "n2"):
            d = str(tmp_path / name)
            pubutil.licsrv("init", "--mode", "public", "--data", d, "--store", url)
            pubutil.licsrv("import", "--data", d, "--store", url, "--trust", pubutil.ROOT_PUB,
                           pubutil.certify(d))
            nodes.append(d)
        for d in nodes:
            servers.append(srvchain.Server(d, extra=["--store", url], threads=2,
                                           provisioned=False).start())
        s1, s2 = servers
        a = pubutil.account(nodes[0], 1, import_it=False)
        assert imp(nodes[0], a.path, "--store", url).returncode == 0
        p = [os.urandom(16) for _ in range(3)]
        # the import reached PostgreSQL from the CLI: each server learns of it from
        # its own listener, the two not at the same moment (a loaded machine)
        for srv in (s1, s2):
            within(lambda: verify(srv.port, a, p[0])[1]["status"], "not_registered")
        assert register(s1.port, a, p[0])[1]["status"] == "valid"
        assert register(s2.port, a, p[1])[1]["status"] == "capacity_exhausted"
        within(lambda: verify(s2.port, a, p[0])[1]["status"], "valid")
        # renewed through the first data directory; the second process obeys within 1 s
        exp = int(time.time()) + 500 * 86400
        r = imp(nodes[0], renewal(a, "v2.acct", capacity=3, expires=exp), "--store", url)
        assert r.returncode == 0 and "(capacity 1 -> 3," in r.stdout, r
        within(lambda: verify(s2.port, a, p[0])[1]["expires"], exp)
        assert verify(s2.port, a, p[0])[1]["seats"] == {"used": 1, "max": 3}
        assert register(s2.port, a, p[1])[1]["status"] == "valid"
        assert register(s1.port, a, p[2])[1]["status"] == "valid"
        # the older file again is refused on PostgreSQL too, nothing changes
        r = imp(nodes[1], a.path, "--store", url)
        assert r.returncode == 1 and "renewal must be issued later" in r.stderr, r
        # lowered: nobody dropped on either process, no new slot
        r = imp(nodes[1], renewal(a, "v3.acct", later=2, capacity=2), "--store", url)
        assert r.returncode == 0, r
        within(lambda: verify(s1.port, a, p[2])[1]["seats"], {"used": 3, "max": 2})
        for s in servers:
            for i in range(3):
                assert verify(s.port, a, p[i])[1]["status"] == "valid"
            assert register(s.port, a, os.urandom(16))[1]["status"] == "capacity_exhausted"
        assert int(pg.psql("SELECT count(*) FROM licsrv_registrations")) == 3
    finally:
        for s in servers:
            s.finish()
        pg.cleanup()
