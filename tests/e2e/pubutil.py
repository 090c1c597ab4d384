"""pubutil - a real public-mode `licsrv serve` for end-to-end tests: init
--mode public, the online key certified by the TEST root with `licgen
certify`, accounts issued with `licgen account`, and the register/verify
exchanges checked root -> cert -> verdict by lictest_formats alone."""
import json
import os
import uuid

import lictest_formats as lf
import srvchain
import srvutil

ROOT_PUB = os.path.join(srvutil.SOURCE_DIR, "keys", "test", "test-root.pub.pem")


def root_key_file(data):
    """A 0600 copy of the TEST root key beside the data directory."""
    keydir = str(data).rstrip("/") + "-provision"
    os.makedirs(keydir, mode=0o700, exist_ok=True)
    key = os.path.join(keydir, "root.pem")
    if not os.path.exists(key):
        with open(os.path.join(srvutil.SOURCE_DIR, "keys", "test", "test-root.pem"), "rb") as f:
            pem = f.read()
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, pem)
        os.close(fd)
    return keydir, key


def licsrv(*args):
    return srvutil.run([srvutil.licsrv_bin()] + [str(a) for a in args])


def licgen(*args):
    return srvutil.run([srvutil.tool("licgen")] + [str(a) for a in args])


def certify(data, pub=None, days=90, name="online.cert"):
    keydir, key = root_key_file(data)
    out = os.path.join(keydir, name)
    licgen("certify", "--key", key, "--pubkey", pub or os.path.join(str(data), "online.pub.pem"),
           "--role", "verdict", "--days", days, "-o", out)
    return out


def provision(data):
    """init --mode public, certify and import the online key."""
    licsrv("init", "--mode", "public", "--data", data)
    licsrv("import", "--data", data, "--trust", ROOT_PUB, certify(data))


class Account:
    def __init__(self, aid, token, path):
        self.id, self.token, self.path = aid, token, path

    @property
    def raw(self):
        return uuid.UUID(self.id).bytes


def account(data, capacity=5, *extra, import_it=True):
    keydir, key = root_key_file(data)
    path = os.path.join(keydir, "acct-%s.acct" % os.urandom(4).hex())
    out = licgen("account", "--key", key, "--customer", "Cloud Customer", "--capacity", capacity,
                 "--json", "-o", path, *extra).stdout
    d = json.loads(out)
    if import_it:
        licsrv("import", "--data", data, "--trust", ROOT_PUB, path)
    return Account(d["account"], d["token"], path)


class Server(srvchain.Server):
    def __init__(self, data, extra=(), threads=2):
        data = str(data)
        if not os.path.isdir(os.path.join(data, "store")):
            provision(data)
        super().__init__(data, extra=extra, threads=threads, provisioned=False)


def fields(acct, project_id, token=None, domain="reports.example.com", port=443, node="rs-1",
           project="Reports", app=None, version=None, kind="register"):
    q = {"nonce": os.urandom(32), "account": acct.raw, "token": token or acct.token,
         "project_id": project_id}
    if kind != "unregister":
        q.update(domain=domain, port=port, node=node)
    if kind == "register":
        q["project"] = project
    if app is not None:
        q["app"] = app
    if version is not None:
        q["version"] = version
    return q


def exchange(port, path, q, kind="msgpack", timeout=10.0):
    """POST q; returns (HTTP status, checked verdict body or the raw answer)."""
    body, ctype = srvchain.encode(q, kind)
    if kind == "json":
        j = json.loads(body)
        j["account"] = str(uuid.UUID(bytes=q["account"]))
        j["project_id"] = str(uuid.UUID(bytes=q["project_id"]))
        body = json.dumps(j).encode()
    st, out, rtype = srvchain.post(port, path, body, ctype, timeout=timeout)
    if st != 200:
        return st, out
    doc = srvchain.decode_response(out, rtype)
    assert set(doc) == {"verdict", "chain"} and len(doc["chain"]) == 1, doc
    root = lf.raw_public(lf.load_public_pem(ROOT_PUB))
    cert, v = lf.check_public_chain(doc["chain"][0], doc["verdict"], [root])
    assert v["nonce"] == q["nonce"] and v["account"] == q["account"], v
    assert "license" not in v
    assert abs(v["time"] - __import__("time").time()) < 60
    v["_cert"] = cert
    return st, v


def register(sport, acct, project_id, /, **kw):
    return exchange(sport, "/v1/register", fields(acct, project_id, **kw))


def unregister(sport, acct, project_id, /, token=None):
    return exchange(sport, "/v1/unregister", fields(acct, project_id, token=token,
                                                    kind="unregister"))


def verify(sport, acct, project_id, /, **kw):
    return exchange(sport, "/v1/verify", fields(acct, project_id, kind="verify", **kw))
