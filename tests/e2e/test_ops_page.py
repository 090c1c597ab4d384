"""The status page on the admin listener (issues 15 and 20) in a real headless
browser: Debian's chromium + chromium-driver driven by python3-selenium.
Log in with a token, see the license, a node and a failure with its reason;
a wrong token says so; every API request carries the Authorization header
(checked in Chrome's own network log and in the server's request log);
JavaScript console errors fail the test; screenshots at 1280x800 and at a
phone width are written under the test's temporary directory. A revoked
license reads revoked (no countdown, no seats held); a failure of a node
that works again stays listed; a public-mode server shows its accounts,
certificates and registrations; the page asks only for the endpoints of its
server's mode (no request answered 404)."""
import http.client
import json
import os
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

import pubutil
import srvutil
from srvchain import Server, node_pub, token_add, verify

pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
PAGE_DIR = Path(srvutil.SOURCE_DIR) / "licsrv" / "routes" / "status_page"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    HAVE_SELENIUM = True
except ImportError:
    HAVE_SELENIUM = False


def need_browser():
    missing = [p for p in (CHROMIUM, DRIVER) if not os.path.exists(p)]
    if not HAVE_SELENIUM:
        missing.append("python3-selenium")
    if missing:
        pytest.skip("status page browser test needs %s (make deps installs chromium, "
                    "chromium-driver, python3-selenium)" % ", ".join(missing))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("page")
    s = Server(base / "data", domains=("localhost",), ports=(443,), max_nodes=3,
               customer="Page Customer")
    s.start()
    s.base = base
    s.token = token_add(s.data, "page")
    npub = node_pub(s.data)
    assert verify(s.port, node_pub=npub, lic=s.license_id, node="rs-page", version="11.0.1")["status"] == "valid"
    v = verify(s.port, node_pub=npub, lic=s.license_id, node="rs-broken", version="11.0.1", port=8080)
    assert v["status"] == "port_denied"
    yield s
    s.finish()


@pytest.fixture
def browser(tmp_path):
    need_browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,800",
              "--user-data-dir=" + str(tmp_path / "chrome-profile"), "--no-first-run",
              "--disable-extensions", "--disable-background-networking"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER, log_path=str(tmp_path / "chromedriver.log")),
                         options=opts)
    d.set_page_load_timeout(20)
    try:
        yield d
    finally:
        d.quit()


def requests_sent(driver, port):
    """(path, headers) of every request made to our server, from Chrome's
    log (the browser's own new-tab page fetches are not ours)."""
    out = []
    for e in driver.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.requestWillBeSent":
            req = m["params"]["request"]
            if urlparse(req["url"]).netloc != "127.0.0.1:%d" % port:
                continue
            out.append((urlparse(req["url"]).path, {k.lower(): v for k, v in req["headers"].items()}))
    return out


# The page asks /v1/admin/server for the mode and then only for that mode's
# endpoints: nothing is allowed in the console, no JavaScript error, CSP
# violation, missing file or failed request (a 404 of the other mode's
# endpoint included), but the wrong token's 401.
def console_errors(driver, allow_401=False):
    bad = []
    for e in driver.get_log("browser"):
        if e["level"] not in ("SEVERE", "WARNING"):
            continue
        msg = e["message"]
        if allow_401 and e.get("source") == "network" and "/v1/admin/server " in msg and "401" in msg:
            continue
        bad.append(e)
    return bad


def answers(driver, port):
    """(path, HTTP status) of every answer our server sent the browser."""
    out = []
    for e in driver.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") == "Network.responseReceived":
            resp = m["params"]["response"]
            if urlparse(resp["url"]).netloc == "127.0.0.1:%d" % port:
                out.append((urlparse(resp["url"]).path, resp["status"]))
    return out


def log_in(d, port, token):
    d.get("http://127.0.0.1:%d/" % port)
    wait = WebDriverWait(d, 15)
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(EC.visibility_of_element_located((By.ID, "status")))
    return wait


def test_headers_and_no_inline_code(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.admin_port, timeout=5)
    for path, ctype in (("/", "text/html"), ("/status.js", "text/javascript"),
                        ("/status.css", "text/css"), ("/favicon.ico", "image/x-icon")):
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        assert r.status == 200 and r.getheader("Content-Type").startswith(ctype), path
        assert body == (PAGE_DIR / ("index.html" if path == "/" else path[1:])).read_bytes()
        csp = r.getheader("Content-Security-Policy")
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.getheader("X-Frame-Options") == "DENY"
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        assert r.getheader("Set-Cookie") is None
    c.close()
    # The page is not on the public listener.
    st, _, _ = srv.get("/")
    assert st == 404
    html = (PAGE_DIR / "index.html").read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline script"
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    assert "style=" not in html and "<style" not in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "third-party asset"
    js = (PAGE_DIR / "status.js").read_text()
    assert "innerHTML" not in js and "eval(" not in js and "localStorage" not in js
    assert "document.cookie" not in js


def test_page_in_a_browser(srv, browser, tmp_path):
    d = browser
    base = "http://127.0.0.1:%d/" % srv.admin_port
    d.get(base)
    wait = WebDriverWait(d, 15)
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    assert not d.find_element(By.ID, "status").is_displayed()

    # A wrong token: a clear message, nothing shown, nothing kept.
    d.find_element(By.ID, "token").send_keys("lsa_wrong_token")
    d.find_element(By.CSS_SELECTOR, "#login-form button").click()
    err = wait.until(EC.visibility_of_element_located((By.ID, "login-error")))
    assert "refused this token" in err.text and "licsrv token add" in err.text
    assert d.execute_script("return sessionStorage.length") == 0
    assert not d.find_element(By.ID, "status").is_displayed()
    wrong_errors = console_errors(d, allow_401=True)
    assert [st for p, st in answers(d, srv.admin_port) if p.startswith("/v1/")] == [401]
    assert not wrong_errors, wrong_errors

    # The right one.
    d.find_element(By.ID, "token").send_keys(srv.token)
    d.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait.until(EC.visibility_of_element_located((By.ID, "licenses")))
    wait.until(lambda dr: srv.license_id in dr.find_element(By.ID, "licenses").text)
    lic_text = d.find_element(By.ID, "licenses").text
    assert "Page Customer" in lic_text and "1 / 3" in lic_text and "active" in lic_text
    assert "major 11" in lic_text and "domains localhost" in lic_text and "ports 443" in lic_text
    assert "features export, schedule" in lic_text
    nodes = d.find_element(By.ID, "nodes").text
    assert "rs-page" in nodes and "held" in nodes and "rs-broken" in nodes
    fails = d.find_element(By.ID, "failures").text
    assert "rs-broken" in fails and "port_denied" in fails and "8080" in fails  # the reason
    assert "rs-page" not in fails
    audit = d.find_element(By.ID, "audit").text
    assert "token.add" in audit or "token" in audit
    # Dates: local time shown, UTC on hover.
    t = d.find_element(By.CSS_SELECTOR, "#nodes time")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", t.get_attribute("title")), t.get_attribute("title")
    assert t.get_attribute("datetime").endswith("Z")
    # The token lives in this tab's sessionStorage only; no cookie.
    assert d.execute_script("return sessionStorage.getItem('licsrv.admin_token')") == srv.token
    assert d.execute_script("return localStorage.length") == 0
    assert d.get_cookies() == [] and d.execute_script("return document.cookie") == ""
    # Reload: still logged in (same tab), no prompt.
    d.refresh()
    wait.until(lambda dr: srv.license_id in dr.find_element(By.ID, "licenses").text)
    d.save_screenshot(str(tmp_path / "status-1280x800.png"))
    if os.environ.get("LIC_SCREENSHOT_OUT"):  # how docs/status-page.png is made
        shutil.copy(tmp_path / "status-1280x800.png", os.environ["LIC_SCREENSHOT_OUT"])
    # Usable on a phone: no sideways scrolling of the page itself.
    d.set_window_size(390, 844)
    wait.until(lambda dr: dr.execute_script("return window.innerWidth") <= 400)
    assert d.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"), "page wider than a phone"
    d.save_screenshot(str(tmp_path / "status-phone.png"))
    for png in ("status-1280x800.png", "status-phone.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000

    # Log out: the token is gone.
    d.set_window_size(1280, 800)
    d.find_element(By.ID, "logout").click()
    wait.until(EC.visibility_of_element_located((By.ID, "token")))
    assert d.execute_script("return sessionStorage.length") == 0

    # Every API request carried the token; only the page's files went without.
    sent = requests_sent(d, srv.admin_port)
    api = [(p, h) for p, h in sent if p.startswith("/v1/") or p == "/healthz"]
    assert len(api) >= 10, sent
    for p, h in api:
        assert h.get("authorization", "").startswith("Bearer "), (p, h)
    assert {p for p, h in sent if "authorization" not in h} <= {"/", "/status.js", "/status.css", "/favicon.ico"}
    # The server saw it the same way: one 401 (the wrong token), no other.
    log = srv.log()
    admin_401 = [ln for ln in log.splitlines() if "path=/v1/admin" in ln and "status=401" in ln]
    assert len(admin_401) == 1, admin_401
    assert "path=/favicon.ico status=200" in log
    errs = console_errors(d)
    assert not errs, errs


def test_revoked_license_and_recent_failures(tmp_path, browser):
    """Revoked: the row reads revoked, with no countdown and no seat held (it
    was green, "in 388 days", seats held); a node that failed and then
    checked valid again is still in the failure list, marked as working."""
    s = Server(tmp_path / "data", domains=("localhost",), ports=(443,), max_nodes=3,
               customer="Revoked Customer")
    s.start()
    try:
        tok = token_add(s.data, "page")
        npub = node_pub(s.data)
        v = verify(s.port, node_pub=npub, lic=s.license_id, node="rs-flaky", version="11.0.1", port=8080)
        assert v["status"] == "port_denied"
        for n in ("rs-flaky", "rs-held"):
            v = verify(s.port, node_pub=npub, lic=s.license_id, node=n, version="11.0.1")
            assert v["status"] == "valid", v
        d = browser
        wait = log_in(d, s.admin_port, tok)
        wait.until(lambda dr: s.license_id in dr.find_element(By.ID, "licenses").text)
        assert "2 / 3" in d.find_element(By.ID, "licenses").text
        fails = d.find_element(By.ID, "failures").text
        assert "rs-flaky" in fails and "port_denied" in fails and "works again" in fails, fails
        srvutil.run([srvutil.licsrv_bin(), "revoke", "--license", s.license_id, "--data", s.data])
        d.find_element(By.ID, "refresh").click()
        wait.until(lambda dr: "none (revoked)" in dr.find_element(By.ID, "licenses").text)
        row = d.find_element(By.CSS_SELECTOR, "#licenses tbody tr")
        cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
        assert cells[0] == s.license_id and cells[1] == "Revoked Customer", cells
        assert cells[4] == "revoked" and cells[5] == "none (revoked)" and cells[6] == "revoked", cells
        assert " in " not in " ".join(cells[4:]) and "active" not in cells, cells
        assert "revoked" in row.get_attribute("class")
        nodes = d.find_element(By.ID, "nodes").text
        assert "held" not in nodes.replace("rs-held", ""), nodes  # a revoked license holds no seat
        sent = [p for p, _ in requests_sent(d, s.admin_port)]
        assert "/v1/admin/accounts" not in sent and "/v1/admin/certificates" not in sent, sent
        assert all(st == 200 for _, st in answers(d, s.admin_port)), answers(d, s.admin_port)
        errs = console_errors(d)
        assert not errs, errs
    finally:
        s.finish()


def test_public_mode_page(tmp_path, browser):
    """Public mode: accounts (capacity, used, expiry), the certificates
    (end dates, which signs, the warning 30 days ahead) and the
    registrations count instead of "No license imported"; no request to a
    private-mode endpoint, nothing in the console."""
    data = str(tmp_path / "data")
    pubutil.licsrv("init", "--mode", "public", "--data", data)
    pubutil.licsrv("import", "--data", data, "--trust", pubutil.ROOT_PUB,
                   pubutil.certify(data, days=10, name="short.cert"))
    s = pubutil.Server(data, threads=2).start()
    try:
        tok = token_add(s.data, "page")
        a = pubutil.account(s.data, 2, "--expires", "2099-01-01")
        b = pubutil.account(s.data, 5)
        for acct, n in ((a, 2), (b, 1)):
            for _ in range(n):
                pid = os.urandom(16)
                st, v = pubutil.register(s.port, acct, pid)
                assert v["status"] == "valid", v
        # a report server that checks in, one that fails (its project is not registered)
        assert pubutil.verify(s.port, b, pid, node="rs-ok")[1]["status"] == "valid"
        assert pubutil.verify(s.port, b, os.urandom(16), node="rs-unreg")[1]["status"] == "not_registered"
        time.sleep(2.5)  # node checks reach the store in batches (every 2 s)
        d = browser
        wait = log_in(d, s.admin_port, tok)
        wait.until(lambda dr: a.id in dr.find_element(By.ID, "accounts").text)
        assert not d.find_element(By.ID, "licenses-section").is_displayed()
        assert "No license imported" not in d.find_element(By.TAG_NAME, "body").text
        accts = d.find_element(By.ID, "accounts").text
        assert "Cloud Customer" in accts and "2 / 2" in accts and "1 / 5" in accts, accts
        assert "active" in accts
        assert d.find_element(By.ID, "registrations-total").text == "3 registered projects in 2 accounts."
        certs = d.find_element(By.ID, "certificates").text
        assert "signs now" in certs and "(this server)" in certs and "in 9 d" in certs, certs
        summary = d.find_element(By.ID, "cert-summary")
        assert "last usable certificate ends" in summary.text and "warn" in summary.get_attribute("class")
        warn = d.find_element(By.ID, "load-error").text  # /healthz's warning, shown on top
        assert "the last usable online-key certificate ends in 9 days" in warn, warn
        nodes = d.find_element(By.ID, "nodes").text  # the store's nodes: no seat table here
        assert "rs-ok" in nodes and "rs-unreg" in nodes and b.id[:8] in nodes, nodes
        fails = d.find_element(By.ID, "failures").text
        assert "rs-unreg" in fails and "not_registered" in fails and "failing" in fails, fails
        assert "rs-ok" not in fails
        nodes_head = d.find_element(By.CSS_SELECTOR, "#nodes thead").text
        assert "Account" in nodes_head and "License" not in nodes_head
        sent = {p for p, _ in requests_sent(d, s.admin_port)}
        assert {"/v1/admin/server", "/v1/admin/accounts", "/v1/admin/certificates"} <= sent, sent
        assert not sent & {"/v1/admin/licenses", "/v1/admin/licenses/show", "/v1/admin/activations"}, sent
        assert all(st == 200 for _, st in answers(d, s.admin_port)), answers(d, s.admin_port)
        d.save_screenshot(str(tmp_path / "status-public.png"))
        errs = console_errors(d)
        assert not errs, errs
    finally:
        s.finish()


def test_renewed_license_reads_superseded(tmp_path, browser):
    """A renewal (supersedes the license, a later issued) imported beside the
    license it renews: the renewal reads 'active (in force)' with the
    lineage's seats (kept under its first license), the old one 'superseded'
    with no countdown and no seats of its own."""
    import lictest_formats as lf
    s = Server(tmp_path / "data", domains=("localhost",), ports=(443,), max_nodes=3,
               customer="Renew Customer")
    s.start()
    try:
        tok = token_add(s.data, "page")
        npub = node_pub(s.data)
        v = verify(s.port, node_pub=npub, lic=s.license_id, node="rs-r", version="11.0.1")
        assert v["status"] == "valid", v
        body = lf.read_envelope(s.license_file).body_obj()
        new_id = os.urandom(16)
        body = dict(body, id=new_id, issued=body["issued"] + 1, supersedes=body["id"], max_nodes=5)
        renewal = tmp_path / "renewal.lic"
        root = lf.load_private_pem(os.path.join(srvutil.SOURCE_DIR, "keys", "test", "test-root.pem"))
        renewal.write_bytes(lf.armor_encode("license", lf.envelope_seal("license", body, root)))
        srvutil.run([srvutil.licsrv_bin(), "import", "--data", s.data, "--trust", s.trust, renewal],
                    s.env)  # on the fake machine the license is bound to
        import uuid
        new = str(uuid.UUID(bytes=new_id))
        d = browser
        wait = log_in(d, s.admin_port, tok)
        wait.until(lambda dr: new in dr.find_element(By.ID, "licenses").text)
        rows = {}
        for tr in d.find_elements(By.CSS_SELECTOR, "#licenses tbody tr"):
            cells = [c.text for c in tr.find_elements(By.TAG_NAME, "td")]
            rows[cells[0]] = (cells, tr.get_attribute("class"))
        cells, _ = rows[new]
        assert cells[6] == "active (in force)" and cells[5] == "1 / 5", cells
        assert cells[4].startswith("in "), cells
        cells, cls = rows[s.license_id]
        assert cells[4] == "renewed" and cells[5] == "with its renewal" and cells[6] == "superseded", cells
        assert "revoked" in cls  # shown muted, like a revoked one
        assert "held" in d.find_element(By.ID, "nodes").text
        assert all(st == 200 for _, st in answers(d, s.admin_port)), answers(d, s.admin_port)
        errs = console_errors(d)
        assert not errs, errs
    finally:
        s.finish()
