"""Administration from the shell (SPEC §5, issue 15): `licsrv licenses`,
`nodes`, `failures`, `audit`, `revoke`, `release --activation` on the data
directory of a running server, which must see a revoke and a release at its
very next request. Tables for people (aligned, UTC), --json for scripts
(parsed here), every change audited with the operator's user name."""
import datetime
import getpass
import json
import os
import pwd
import re
import shutil
import time
from pathlib import Path

import pytest

import srvutil
from srvchain import Server, verify, node_pub
from test_claim import MACHINE_A, MACHINE_B, claim, make_codes

pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")

TEST_PUB = Path(srvutil.SOURCE_DIR) / "keys/test/test-root.pub.pem"
EXPIRES_IN_DAYS = 10


def expiry_date():
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=EXPIRES_IN_DAYS)
    return d.isoformat()


def until_text():
    """An end as every tool prints it: exclusive, and the last day before it."""
    d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=EXPIRES_IN_DAYS)
    return "valid until %sT00:00:00Z, last day %s" % (d.isoformat(),
                                                      (d - datetime.timedelta(days=1)).isoformat())


def cli(s, *args, code=0):
    p = srvutil.run([srvutil.licsrv_bin(), *args, "--data", s.data], s.env, check=False)
    assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
    if code != 0:
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("licsrv: error: "), p.stderr
    return p


def cli_json(s, *args):
    return json.loads(cli(s, *args, "--json").stdout)


def table(text):
    """Rows of an aligned table, split at the header's column starts; also
    checks every row puts each column at the same place as the header."""
    lines = text.rstrip("\n").split("\n")
    head = lines[0]
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=  ))[A-Z][A-Z ]*?(?=  |$)", head)]
    assert starts[0] == 0 and len(starts) >= 2, head
    rows = []
    for ln in lines[1:]:
        if ln == "(none)":
            continue
        cells = []
        for i, st in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(ln)
            cell = ln[st:end]
            assert i == 0 or ln[st - 1] == " ", (ln, st)     # columns line up
            assert cell.strip() == cell.rstrip() and cell[:1] != " ", (ln, head)
            cells.append(cell.strip())
        rows.append(cells)
    return [h.strip() for h in re.split(r"  +", head.strip())], rows


def operator():
    su = os.environ.get("SUDO_UID", "")
    if os.environ.get("SUDO_USER") and su.isdigit() and (os.geteuid() == 0 or int(su) != os.getuid()):
        return "cli:" + os.environ["SUDO_USER"]
    return "cli:" + pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("opscli")
    s = Server(base / "data", domains=("localhost",), ports=(443,), max_nodes=2,
               expires=expiry_date(), customer="Ops Customer")
    trusted = Path(s.data) / "trusted"
    trusted.mkdir(exist_ok=True)
    shutil.copy(TEST_PUB, trusted / "test-root.pub.pem")
    s.start()
    s.node_pub = node_pub(s.data)
    s.base = base
    yield s
    s.finish()


def check(s, **kw):
    """One verify the license's terms allow unless kw says otherwise."""
    kw.setdefault("version", "11.0.2")
    return verify(s.port, node_pub=s.node_pub, lic=s.license_id, **kw)


def wait_nodes(s, want, timeout=10.0):
    """Node records reach the store in batches (every couple of seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        got = cli_json(s, "nodes")["nodes"]
        if want(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def test_licenses_table_and_json(srv):
    doc = cli_json(srv, "licenses")
    [lic] = doc["licenses"]
    assert lic["id"] == srv.license_id and lic["customer"] == "Ops Customer"
    assert lic["state"] == "active" and lic["revoked"] is False
    assert lic["max_nodes"] == 2 and lic["heartbeat"] > 0
    exp = datetime.datetime.fromisoformat(expiry_date() + "T00:00:00+00:00")
    assert lic["expires"] == int(exp.timestamp())
    assert lic["expires_at"] == expiry_date() + "T00:00:00Z"
    assert lic["days_left"] == (lic["expires"] - int(time.time())) // 86400
    assert EXPIRES_IN_DAYS - 1 <= lic["days_left"] <= EXPIRES_IN_DAYS
    head, rows = table(cli(srv, "licenses").stdout)
    assert head == ["ID", "CUSTOMER", "EXPIRES", "DAYS LEFT", "MAX NODES", "HEARTBEAT", "STATE"]
    assert rows == [[srv.license_id, "Ops Customer", expiry_date() + " 00:00:00 UTC",
                     str(lic["days_left"]), "2", "%ds" % lic["heartbeat"], "active"]]


def test_nodes_and_failures(srv):
    assert check(srv, node="rs-ok", domain="localhost")["status"] == "valid"
    v = check(srv, node="rs-bad",
               domain="evil.example.org")
    assert v["status"] == "domain_denied"
    nodes = wait_nodes(srv, lambda n: {x["node"] for x in n} >= {"rs-ok", "rs-bad"})
    by = {n["node"]: n for n in nodes}
    assert by["rs-ok"]["seat"] is True and by["rs-ok"]["last_failure"] is None
    assert abs(by["rs-ok"]["last_valid"] - time.time()) < 60
    assert by["rs-ok"]["last_valid_at"].endswith("Z")
    assert by["rs-bad"]["seat"] is False and by["rs-bad"]["last_valid"] == 0
    assert by["rs-bad"]["last_failure"]["status"] == "domain_denied"
    assert by["rs-bad"]["last_failure"]["reason"]
    assert all(n["license"] == srv.license_id for n in nodes)
    # One license's nodes; a license that is not there; a bad id.
    assert len(cli_json(srv, "nodes", "--license", srv.license_id)["nodes"]) == len(nodes)
    cli(srv, "nodes", "--license", "00000000-0000-0000-0000-000000000000", code=1)
    cli(srv, "nodes", "--license", "nope", code=2)
    head, rows = table(cli(srv, "nodes").stdout)
    assert head == ["LICENSE", "NODE", "SEAT", "LAST VALID", "LAST FAILURE", "STATUS"]
    trow = {r[1]: r for r in rows}
    assert trow["rs-ok"][2] == "held" and trow["rs-ok"][3].endswith(" UTC") and trow["rs-ok"][4] == "-"
    assert trow["rs-bad"][2] == "free" and trow["rs-bad"][5] == "domain_denied"

    fails = cli_json(srv, "failures")["failures"]
    [f] = [x for x in fails if x["node"] == "rs-bad"]
    assert f["status"] == "domain_denied" and "domain" in f["reason"].lower()
    assert f["time_at"].endswith("Z") and f["license"] == srv.license_id
    assert not any(x["node"] == "rs-ok" for x in fails)
    head, rows = table(cli(srv, "failures").stdout)
    assert head == ["TIME", "LICENSE", "NODE", "STATUS", "REASON"]
    assert [r[2] for r in rows] == [x["node"] for x in fails]  # newest first, like the JSON
    assert rows[0][4] == fails[0]["reason"]


def test_release_activation_seen_by_the_running_server(srv):
    codes = make_codes(srv.base, 2, 7)
    st, _ = claim(srv, codes[0], MACHINE_A)
    assert st == 200
    st, doc = claim(srv, codes[0], MACHINE_B)
    assert st == 409, doc
    out = cli_json(srv, "release", "--activation", "7:1")
    assert out == {"product": 7, "serial": 1, "machine": MACHINE_A, "released": True}
    st, doc = claim(srv, codes[0], MACHINE_B)  # the very next request
    assert st == 200, doc
    # A serial nobody claimed; bad forms are usage errors.
    p = cli(srv, "release", "--activation", "7:2", code=1)
    assert "not claimed" in p.stderr
    for bad in ("7", "7:", ":1", "256:1", "7:4294967296", "-1:2", "7:x", "x:1"):
        cli(srv, "release", "--activation", bad, code=2)
    cli(srv, "release", code=2)
    # The table form, for B's claim; then A can claim it back.
    p = cli(srv, "release", "--activation", "7:1")
    assert p.stdout == "released activation 7:1 (was claimed by machine %s)\n" % MACHINE_B
    cli(srv, "release", "--activation", "7:1", code=1)
    st, _ = claim(srv, codes[0], MACHINE_A)
    assert st == 200


def test_actor_under_sudo(srv):
    """`sudo -u licsrv licsrv ...` (what docs/operations.md says) names the
    person who ran sudo; run here with the variables sudo sets."""
    env = dict(srv.env, SUDO_USER="alice", SUDO_UID="4242")
    (srv.base / "sudo").mkdir()
    codes = make_codes(srv.base / "sudo", 1, 9)
    st, _ = claim(srv, codes[0], MACHINE_A)
    assert st == 200
    srvutil.run([srvutil.licsrv_bin(), "release", "--activation", "9:1", "--data", srv.data], env)
    audit = cli_json(srv, "audit")["audit"]
    assert [e["actor"] for e in audit if e["subject"] == "activation:9/1"][-1] == "cli:alice"


def test_expiry_is_never_a_surprise(srv):
    """10 days left: /healthz says so (still 200; the admin listener names the
    license and customer, the public one neither), /metrics has the expiry
    time, the log warned once at start, `licsrv status` shows the days."""
    lic = cli_json(srv, "licenses")["licenses"][0]
    st, body, _ = srv.get("/healthz", port=srv.admin_port)
    doc = json.loads(body)
    assert st == 200 and doc["status"] == "ok", body
    [w] = doc["warnings"]
    assert w["check"] == "expiry"
    assert w["message"] == "license %s (Ops Customer) ends in %d days (%s)" % (
        srv.license_id, lic["days_left"], until_text())
    st, body, _ = srv.get("/healthz")
    doc = json.loads(body)
    assert st == 200 and doc["status"] == "ok", body
    assert doc["warnings"] == [{"check": "expiry", "message": "a license ends in %d days (%s)" % (
        lic["days_left"], until_text())}], body
    assert srv.license_id not in body.decode() and "Ops Customer" not in body.decode()
    st, body, _ = srv.get("/metrics", port=srv.admin_port)
    line = 'licsrv_license_expiry_timestamp_seconds{license="%s"} %d' % (srv.license_id, lic["expires"])
    assert line in body.decode().splitlines(), body
    assert "# TYPE licsrv_license_expiry_timestamp_seconds gauge" in body.decode()
    warns = [ln for ln in srv.log().splitlines() if "msg=license_expiry" in ln]
    assert len(warns) == 1, warns  # once a day, not per request
    assert "level=warn" in warns[0] and "license=" + srv.license_id in warns[0]
    assert "days_left=%d" % lic["days_left"] in warns[0]
    out = cli(srv, "status").stdout
    assert "%s (%d days left, renew soon)" % (until_text(), lic["days_left"]) in out
    st = cli_json(srv, "status")
    assert st["licenses"][0]["days_left"] == lic["days_left"]


def test_revoke_seen_by_the_running_server_and_audited(srv):
    time.sleep(1.1)  # --since below must cut between the earlier entries and these
    before = int(time.time())
    v = check(srv, node="rs-ok")
    assert v["status"] == "valid"
    out = cli_json(srv, "revoke", "--license", srv.license_id)
    assert out["id"] == srv.license_id and out["revoked"] is True and out["already"] is False
    assert out["revoked_at"].endswith("Z")
    v = check(srv, node="rs-ok")
    assert v["status"] == "revoked"
    again = cli_json(srv, "revoke", "--license", srv.license_id)
    assert again["already"] is True and again["revoked_at"] == out["revoked_at"]
    assert "was already revoked" in cli(srv, "revoke", "--license", srv.license_id).stdout
    cli(srv, "revoke", "--license", "00000000-0000-0000-0000-000000000000", code=1)
    cli(srv, "revoke", code=2)
    lic = cli_json(srv, "licenses")["licenses"][0]
    assert lic["state"] == "revoked"
    time.sleep(1.1)  # /healthz caches its answer a second
    st, body, _ = srv.get("/healthz")
    assert st == 200 and "warnings" not in json.loads(body)  # nothing to renew now
    # The audit log names the operator for every change made here.
    audit = cli_json(srv, "audit")["audit"]
    mine = [(e["action"], e["subject"]) for e in audit if e["actor"] == operator()]
    assert ("revoke", "license:" + srv.license_id) in mine
    assert mine.count(("activation.release", "activation:7/1")) == 2
    assert mine.count(("revoke", "license:" + srv.license_id)) == 1  # the second was a no-op
    assert all(e["time_at"].endswith("Z") and e["time"] >= before - 3600 for e in audit)
    head, rows = table(cli(srv, "audit").stdout)
    assert head == ["TIME", "ACTOR", "ACTION", "SUBJECT"]
    assert [operator(), "revoke", "license:" + srv.license_id] in [r[1:] for r in rows]
    # --since: tomorrow has nothing; today has the revoke; bad dates are usage errors.
    tomorrow = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)).date()
    assert cli_json(srv, "audit", "--since", tomorrow.isoformat())["audit"] == []
    since = datetime.datetime.fromtimestamp(before - 1, datetime.timezone.utc)
    recent = cli_json(srv, "audit", "--since", since.strftime("%Y-%m-%dT%H:%M:%SZ"))["audit"]
    assert recent == [e for e in audit if e["time"] >= before - 1]
    assert "revoke" in [e["action"] for e in recent] and len(recent) < len(audit)
    for bad in ("yesterday", "2026-13-01", "2026-01-01T25:00:00Z", "2026-01-01 00:00:00"):
        cli(srv, "audit", "--since", bad, code=2)


def test_help_and_usage(srv):
    for cmd in ("licenses", "nodes", "failures", "audit", "revoke", "release"):
        p = srvutil.run([srvutil.licsrv_bin(), cmd, "--help"], srv.env)
        assert p.stdout.startswith("usage: licsrv " + cmd), p.stdout
        cli(srv, cmd, "--bogus", code=2)
