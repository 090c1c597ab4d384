"""The status page on the admin listener (issue 15) in a real headless
browser: Debian's chromium + chromium-driver driven by python3-selenium.
Log in with a token, see the license, a node and a failure with its reason;
a wrong token says so; every API request carries the Authorization header
(checked in Chrome's own network log and in the server's request log);
JavaScript console errors fail the test; screenshots at 1280x800 and at a
phone width are written under the test's temporary directory."""
import http.client
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

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


# The page probes the endpoints only some servers have (public mode's
# accounts) and hides their section on a 404; Chrome logs that answer as a
# network message. Nothing else is allowed: JavaScript errors, CSP
# violations, a missing file, any other failed request.
PROBES = ("/v1/admin/accounts",)


def console_errors(driver, allow_401=False):
    bad = []
    for e in driver.get_log("browser"):
        if e["level"] not in ("SEVERE", "WARNING"):
            continue
        msg = e["message"]
        if e.get("source") == "network" and any(p + " " in msg for p in PROBES) and "404" in msg:
            continue
        if allow_401 and e.get("source") == "network" and "/v1/admin/licenses " in msg and "401" in msg:
            continue
        bad.append(e)
    return bad


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
