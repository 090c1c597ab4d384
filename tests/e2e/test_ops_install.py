"""Install and package (issue 15): `make install DESTDIR=...` checked file by
file; pkg-config builds and runs the designer example against the installed
liblic; `make deb` builds a package that dpkg installs (licsrv --version from
/usr/bin, systemd-analyze verify accepts the unit, the licsrv user and the
initialized /var/lib/licsrv exist) and removes cleanly. The dpkg part needs
root (CI runs as root) and runs once, in the normal tree's run."""
import csv
import os
import pwd
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import srvutil

SRC = Path(srvutil.SOURCE_DIR).resolve()
BUILD = Path(srvutil.BUILD_DIR).resolve()
TEST_KEY = SRC / "keys/test/test-root.pem"
TEST_PUB = SRC / "keys/test/test-root.pub.pem"

pytestmark = pytest.mark.skipif(not (BUILD / "bin" / "licsrv").exists(), reason="licsrv not built")


def cache(name):
    """A CMakeCache.txt value of this build tree ('' when unset)."""
    for ln in (BUILD / "CMakeCache.txt").read_text().splitlines():
        if ln.startswith(name + ":"):
            return ln.split("=", 1)[1]
    return ""


def sanitized():
    return cache("LIC_ASAN") == "ON" or cache("LIC_UBSAN") == "ON"


def dpkg(*args):
    """dpkg ARGS, waiting (at most 120 s) while another dpkg or apt holds its
    lock (another build's package test, unattended upgrades)."""
    deadline = time.monotonic() + 120
    while True:
        p = sh(["dpkg", *args], check=False)
        if p.returncode == 0 or "lock" not in p.stderr or time.monotonic() > deadline:
            assert p.returncode == 0, (args, p.returncode, p.stdout[-3000:], p.stderr[-3000:])
            return p
        time.sleep(1)


def sh(args, cwd=SRC, env=None, timeout=300, check=True):
    p = subprocess.run([str(a) for a in args], cwd=str(cwd), env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check:
        assert p.returncode == 0, (args, p.returncode, p.stdout[-3000:], p.stderr[-3000:])
    return p


def headers():
    return sorted(p.name for p in (SRC / "common/include/lic").glob("*.h"))


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    dest = tmp_path_factory.mktemp("destdir")
    # The Makefile target, on this tree (a configured tree only re-installs).
    sh(["make", "--no-print-directory", "install", "BUILD=" + str(BUILD), "PREFIX=/usr/local",
        "DESTDIR=" + str(dest)])
    return dest


def test_install_tree_file_by_file(staged):
    root = staged / "usr/local"
    libdir = cache("CMAKE_INSTALL_LIBDIR") or "lib"
    want = {"bin/licsrv", "bin/licgen", "bin/licctl", libdir + "/liblic.a",
            libdir + "/pkgconfig/liblic.pc", "etc/licsrv/licsrv.conf",
            "lib/systemd/system/licsrv.service", "share/doc/licsrv/examples/designer_check.c"}
    want |= {"include/lic/" + h for h in headers()}
    if shutil.which("help2man"):
        want |= {"share/man/man1/%s.1" % t for t in ("licsrv", "licgen", "licctl")}
    # The Java client beside Debian's jars, when this tree built it (javac found).
    want |= {"share/java/" + j.name for j in (BUILD / "java").glob("liblic*.jar")}
    got = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert got == want, ("missing", want - got, "unexpected", got - want)
    assert not [p for p in staged.iterdir() if p.name != "usr"], list(staged.iterdir())
    for t in ("licsrv", "licgen", "licctl"):
        f = root / "bin" / t
        assert os.access(f, os.X_OK)
        assert sh([f, "--version"]).stdout.strip() == "%s %s" % (t, cache("CMAKE_PROJECT_VERSION"))
    for h in headers():
        assert (root / "include/lic" / h).read_bytes() == (SRC / "common/include/lic" / h).read_bytes()
    # The unit runs the installed binary with the installed config, as licsrv.
    unit = (root / "lib/systemd/system/licsrv.service").read_text()
    assert "ExecStart=/usr/local/bin/licsrv serve --config /usr/local/etc/licsrv/licsrv.conf" in unit
    for line in ("User=licsrv", "StateDirectory=licsrv", "ExecReload=/bin/kill -HUP $MAINPID",
                 "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes", "ProtectHome=yes"):
        assert line in unit.splitlines(), line
    # The config: the server's own --print-config, every key commented out,
    # and uncommented it is a config the server accepts.
    conf = (root / "etc/licsrv/licsrv.conf").read_text()
    assert conf == sh([BUILD / "bin/licsrv", "serve", "--print-config"]).stdout
    setting = re.compile(r"^#([a-z_]+) = ")
    keys = [setting.match(ln).group(1) for ln in conf.splitlines() if setting.match(ln)]
    usage = sh([BUILD / "bin/licsrv", "serve", "--help"]).stdout
    flags = [w[2:].replace("-", "_") for w in usage.split() if w.startswith("--") and w != "--config"
             and w not in ("--help", "--print-config", "--KEY")]
    assert set(flags) <= set(keys) and len(keys) >= 15, (flags, keys)
    assert not [ln for ln in conf.splitlines() if ln and not ln.startswith("#") and ln != "[licsrv]"]
    live = staged / "live.conf"
    live.write_text("\n".join(ln[1:] if setting.match(ln) and not ln.startswith("#tls")
                              else ln for ln in conf.splitlines()) + "\n")
    p = sh([BUILD / "bin/licsrv", "serve", "--config", live, "--data", staged / "nodata"], check=False)
    assert p.returncode == 1 and "not a licsrv data directory" in p.stderr, p.stderr  # the file parsed
    # Man pages: every subcommand's --help is in the page.
    if shutil.which("help2man"):
        page = (root / "share/man/man1/licsrv.1").read_text()
        for cmd in ("licenses", "nodes", "failures", "audit", "revoke", "release", "serve", "status"):
            assert '.SS "licsrv %s"' % cmd in page, cmd
        assert "print {\\(dq" in page or "--json" in page


def test_pkg_config_builds_the_designer_example(staged, tmp_path):
    libdir = cache("CMAKE_INSTALL_LIBDIR") or "lib"
    env = dict(os.environ, PKG_CONFIG_PATH=str(staged / "usr/local" / libdir / "pkgconfig"),
               PKG_CONFIG_SYSROOT_DIR=str(staged))
    flags = sh(["pkg-config", "--cflags", "--libs", "liblic"], env=env).stdout.split()
    assert "-llic" in flags and any(f.startswith("-I" + str(staged)) for f in flags), flags
    exe = tmp_path / "designer"
    cc = ["cc", "-o", exe, staged / "usr/local/share/doc/licsrv/examples/designer_check.c", *flags]
    if sanitized():  # this tree's liblic is instrumented
        cc.insert(1, "-fsanitize=address,undefined")
    sh(cc, env=env)
    # Not activated yet: exit 1 with a reason; activated offline: exit 0.
    root = srvutil.fake_machine(tmp_path / "machine")
    renv = dict(os.environ, LIC_SYSROOT=root)
    state = tmp_path / "state"
    p = sh([exe, state, TEST_PUB], env=renv, check=False)
    assert p.returncode == 1, (p.stdout, p.stderr)
    key = tmp_path / "vendor.pem"
    shutil.copy(TEST_KEY, key)
    os.chmod(key, 0o600)
    sh([BUILD / "bin/licgen", "codes", "--key", key, "--product", "42", "--count", "1", "-o",
        tmp_path / "codes.csv"])
    with open(tmp_path / "codes.csv", newline="") as f:
        code = next(csv.DictReader(f))["code"]
    sh([BUILD / "bin/licctl", "activate", code, "--product", "42", "--state", state, "--trust", TEST_PUB],
       env=renv)
    p = sh([exe, state, TEST_PUB], env=renv, check=False)
    assert p.returncode == 0, (p.stdout, p.stderr)


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return p.returncode == 0 and "installed" in p.stdout and "not-installed" not in p.stdout


def test_deb_installs_runs_and_removes(tmp_path):
    if sanitized():
        pytest.skip("the package is built and installed once, in the normal tree's run")
    if os.geteuid() != 0:
        pytest.skip("dpkg -i needs root: run `make test` as root (CI does) for the package test")
    if installed("licsrv") or os.path.exists("/var/lib/licsrv"):
        pytest.skip("a licsrv package or /var/lib/licsrv is already on this machine; not touching it")
    had_user = True
    try:
        pwd.getpwnam("licsrv")
    except KeyError:
        had_user = False
    sh(["make", "--no-print-directory", "deb", "BUILD=" + str(BUILD), "DEB_OUT=" + str(tmp_path),
        "DEB_WORK=" + str(tmp_path / "work")], timeout=600)
    [deb] = list(tmp_path.glob("licsrv_*.deb"))
    try:
        dpkg("-i", deb)
        assert installed("licsrv")
        assert sh(["/usr/bin/licsrv", "--version"]).stdout.strip().startswith("licsrv ")
        assert sh(["/usr/bin/licgen", "--version"]).returncode == 0
        unit = "/lib/systemd/system/licsrv.service"
        p = sh(["systemd-analyze", "verify", unit], check=False)
        assert p.returncode == 0, p.stderr
        assert "licsrv.service" not in p.stderr, p.stderr  # no complaint about our unit
        assert os.path.exists("/etc/licsrv/licsrv.conf")
        u = pwd.getpwnam("licsrv")
        st = os.stat("/var/lib/licsrv")
        assert st.st_uid == u.pw_uid and st.st_mode & 0o777 == 0o700
        assert os.path.exists("/var/lib/licsrv/node.pem")  # ready for `licsrv rif`
        out = sh(["runuser", "-u", "licsrv", "--", "/usr/bin/licsrv", "status", "--config",
                  "/etc/licsrv/licsrv.conf"]).stdout
        assert "mode: private" in out
        assert os.path.exists("/usr/share/man/man1/licsrv.1.gz")
        for jar in ("liblic.jar", "liblic-servlet.jar"):  # the Java client is packaged too
            assert os.path.exists("/usr/share/java/" + jar), jar
        dpkg("-r", "licsrv")
        assert not installed("licsrv")
        for f in ("/usr/bin/licsrv", "/usr/bin/licgen", "/usr/bin/licctl", unit,
                  "/usr/lib/x86_64-linux-gnu/liblic.a", "/usr/include/lic/license.h",
                  "/usr/share/java/liblic.jar"):
            assert not os.path.exists(f), f
        assert os.path.exists("/etc/licsrv/licsrv.conf")  # a conffile stays until purge
        dpkg("-P", "licsrv")
        assert not os.path.exists("/etc/licsrv")
        p = subprocess.run(["dpkg-query", "-W", "licsrv"], capture_output=True, text=True)
        assert p.returncode != 0 or p.stdout.strip() in ("", "licsrv\t")
    finally:
        # Never leave the package, its data or its user on the machine.
        if installed("licsrv"):
            subprocess.run(["dpkg", "-P", "licsrv"], capture_output=True)
        shutil.rmtree("/var/lib/licsrv", ignore_errors=True)
        if not had_user:
            subprocess.run(["userdel", "licsrv"], capture_output=True)
            subprocess.run(["groupdel", "licsrv"], capture_output=True)
