"""Fixtures shared by every end-to-end test file (test_cli_*, test_crosscheck,
test_srv_*, test_codes ...): the built binaries, keys, fake machines under
LIC_SYSROOT, and a runner that fails on sanitizer reports and multi-line errors.

Run by ctest (`ctest -R e2e`) or directly:
  LIC_BUILD_DIR=build LIC_SOURCE_DIR=. /usr/bin/python3 -m pytest tests/e2e
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import lictest_formats as lf  # noqa: E402

SOURCE_DIR = Path(os.environ.get("LIC_SOURCE_DIR",
                                 Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("LIC_BUILD_DIR", SOURCE_DIR / "build"))

# A sanitizer report on stderr fails the test even when the exit code looks fine
# (UBSan without halt_on_error, or LeakSanitizer at exit).
SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|MemorySanitizer|ThreadSanitizer)"
    r"|runtime error:|SUMMARY: \w*Sanitizer|==\d+==\s*WARNING: \w*Sanitizer")

SANITIZER_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "LSAN_OPTIONS": "exitcode=23",
}


class Result:
    """What a tool did: exit code, stdout and stderr as text."""

    def __init__(self, argv, code, out, err):
        self.argv, self.code, self.out, self.err = argv, code, out, err

    @property
    def err_lines(self):
        return [ln for ln in self.err.splitlines() if ln.strip()]

    def __iter__(self):  # code, out, err = run(...)
        return iter((self.code, self.out, self.err))

    def __repr__(self):
        return (f"Result({' '.join(map(str, self.argv))!r}, code={self.code},\n"
                f"  stdout={self.out[-2000:]!r},\n  stderr={self.err[-2000:]!r})")


BIN_DIR = BUILD_DIR / "bin"  # licgen, licctl, licsrv side by side


def _bin(name):
    p = BIN_DIR / name
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail(f"{p} is not built (LIC_BUILD_DIR={BUILD_DIR})")
    return p


@pytest.fixture(scope="session")
def lic_source_dir():
    return SOURCE_DIR


@pytest.fixture(scope="session")
def lic_build_dir():
    return BUILD_DIR


@pytest.fixture(scope="session")
def lic_bin_dir():
    """build/bin: the three tools."""
    return BIN_DIR


@pytest.fixture(scope="session")
def licgen_bin():
    return _bin("licgen")


@pytest.fixture(scope="session")
def licctl_bin():
    return _bin("licctl")


@pytest.fixture(scope="session")
def lic_home(tmp_path_factory):
    """HOME/XDG dirs for the tools, so no test touches the real home."""
    return tmp_path_factory.mktemp("home")


@pytest.fixture
def lic_tmp(tmp_path):
    """A per-test work directory."""
    return tmp_path


@pytest.fixture(scope="session")
def lic_run(lic_home):
    """run(binary, *args, sysroot=None, env=None, stdin=None, cwd=None,
    timeout=60, check_stderr=True) -> Result (iterable as code, out, err).

    Always asserts: the process exited (no signal), no sanitizer report on
    stderr, and on failure at most one non-empty stderr line (SPEC §5)."""

    def run(binary, *args, sysroot=None, env=None, stdin=None, cwd=None,
            timeout=60, check_stderr=True):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith(("LIC_SYSROOT", "XDG_", "PYTEST_"))}
        e.update(SANITIZER_ENV)
        e["HOME"] = str(lic_home)
        if sysroot is not None:
            e["LIC_SYSROOT"] = str(getattr(sysroot, "root", sysroot))
        if env:
            e.update({k: str(v) for k, v in env.items()})
        argv = [str(binary)] + [str(a) for a in args]
        if isinstance(stdin, str):
            stdin = stdin.encode()
        p = subprocess.run(argv, input=stdin, capture_output=True, env=e,
                           cwd=cwd, timeout=timeout)
        r = Result(argv, p.returncode, p.stdout.decode("utf-8", "replace"),
                   p.stderr.decode("utf-8", "replace"))
        assert not SANITIZER_RE.search(r.err), f"sanitizer report: {r!r}"
        assert r.code >= 0, f"killed by signal {-r.code}: {r!r}"
        assert r.code not in (23, 134), f"sanitizer/abort exit: {r!r}"
        if check_stderr and r.code != 0:
            assert len(r.err_lines) <= 1, f"more than one stderr line: {r!r}"
        return r

    return run


class KeyPair:
    """A private key file (mode 0600) and its public PEM."""

    def __init__(self, priv, pub, passphrase_file=None):
        self.priv, self.pub, self.passphrase_file = Path(priv), Path(pub), passphrase_file

    def private_key(self):
        pw = None
        if self.passphrase_file is not None:
            pw = Path(self.passphrase_file).read_bytes().splitlines()[0]
        return lf.load_private_pem(self.priv, pw)

    @property
    def pub_raw(self):
        return lf.raw_public(lf.load_public_pem(self.pub))

    @property
    def kid(self):
        return lf.kid_of(self.pub_raw)


@pytest.fixture(scope="session")
def lic_test_key(tmp_path_factory):
    """A 0600 copy of the fixed TEST root key keys/test/test-root.pem."""
    d = tmp_path_factory.mktemp("testkey")
    priv, pub = d / "test-root.pem", d / "test-root.pub.pem"
    shutil.copyfile(SOURCE_DIR / "keys/test/test-root.pem", priv)
    shutil.copyfile(SOURCE_DIR / "keys/test/test-root.pub.pem", pub)
    os.chmod(priv, 0o600)
    return KeyPair(priv, pub)


@pytest.fixture(scope="session")
def lic_vendor_key(tmp_path_factory, lic_run, licgen_bin):
    """A fresh vendor root key made by `licgen keygen`."""
    d = tmp_path_factory.mktemp("vendorkey")
    r = lic_run(licgen_bin, "keygen", "-o", d / "vendor.pem")
    assert r.code == 0, r
    return KeyPair(d / "vendor.pem", d / "vendor.pub.pem")


class FakeMachine:
    """A LIC_SYSROOT tree: etc/machine-id, optional
    sys/class/dmi/id/product_uuid, sys/class/net/IF/address (with a device/
    directory for physical NICs)."""

    def __init__(self, root, machine_id, product_uuid=None, nics=None):
        self.root = Path(root)
        (self.root / "etc").mkdir(parents=True, exist_ok=True)
        (self.root / "sys/class/net").mkdir(parents=True, exist_ok=True)
        self.set_machine_id(machine_id)
        self.set_product_uuid(product_uuid)
        for name, mac, *phys in (nics or []):
            self.add_nic(name, mac, physical=phys[0] if phys else True)

    def set_machine_id(self, machine_id):
        self.machine_id = machine_id
        (self.root / "etc/machine-id").write_text(machine_id + "\n")

    def set_product_uuid(self, product_uuid):
        self.product_uuid = product_uuid
        p = self.root / "sys/class/dmi/id/product_uuid"
        if product_uuid is None:
            if p.exists():
                p.unlink()
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(product_uuid + "\n")

    def add_nic(self, name, mac, physical=True):
        d = self.root / "sys/class/net" / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "address").write_text(mac + "\n")
        if physical:
            (d / "device").mkdir(exist_ok=True)

    def remove_nic(self, name):
        shutil.rmtree(self.root / "sys/class/net" / name)

    @property
    def nics(self):
        """{name: (mac, physical)} as on disk."""
        out = {}
        for d in sorted((self.root / "sys/class/net").iterdir()):
            out[d.name] = ((d / "address").read_text().strip(), (d / "device").is_dir())
        return out

    @property
    def physical_macs(self):
        return [mac for mac, phys in self.nics.values() if phys]

    @property
    def code(self):
        """The machine code computed independently (lictest_formats)."""
        return lf.machine_code(self.machine_id, self.product_uuid)


@pytest.fixture
def lic_machine(tmp_path):
    """make(machine_id=..., product_uuid=None, nics=[(name, mac[, physical])],
    name='m') -> FakeMachine. The default is one physical NIC eth0, lo and a
    virtual docker0."""
    count = [0]

    def make(machine_id="0123456789abcdef0123456789abcdef", product_uuid=None,
             nics=None, name=None):
        count[0] += 1
        if nics is None:
            nics = [("eth0", "52:54:00:12:34:56", True),
                    ("lo", "00:00:00:00:00:00", False),
                    ("docker0", "02:42:ac:11:00:01", False)]
        return FakeMachine(tmp_path / (name or f"machine{count[0]}"), machine_id,
                           product_uuid, nics)

    return make


@pytest.fixture
def licctl_rif(lic_run, licctl_bin, tmp_path):
    """rif(machine, out=None, state=None, project=, product=, version=) ->
    Path of a RIF made by `licctl rif` on the fake machine (asserts success)."""

    def rif(machine, out=None, state=None, project="Reports Prod",
            product="reportsrv", version="11.0.18"):
        out = Path(out or tmp_path / "machine.rif")
        state = Path(state or tmp_path / "licctl-state")
        r = lic_run(licctl_bin, "rif", "--project", project, "--product", product,
                    "--version", version, "--state", state, "-o", out, sysroot=machine)
        assert r.code == 0, r
        return out

    return rif


@pytest.fixture
def licgen_sign(lic_run, licgen_bin, tmp_path):
    """sign(rif, key, out=None, *extra, mode='local', features='reports,export',
    major='11', expires='never', customer='Example Corp') -> Path of a license
    signed by `licgen sign` (asserts success). extra: more options."""

    def sign(rif, key, *extra, out=None, mode="local", features="reports,export",
             major="11", expires="never", customer="Example Corp"):
        out = Path(out or tmp_path / "license.lic")
        r = lic_run(licgen_bin, "sign", rif, "--key", getattr(key, "priv", key),
                    "--mode", mode, "--customer", customer, "--features", features,
                    "--major", major, "--expires", expires, "-o", out, *extra)
        assert r.code == 0, r
        return out

    return sign


# --- shards: make test runs the files as LIC_E2E_SHARDS ctest entries side by side ----------------

# Seconds a file takes in the normal tree (measured, rounded up); the rest are
# weighed by their size. Only the balance matters, not the numbers.
SHARD_WEIGHTS = {
    "test_ops_install.py": 150, "test_scaleout.py": 120, "test_srv_harden.py": 90,
    "test_cli_local.py": 60, "test_scaleout_stop.py": 50, "test_scaleout_cli.py": 50,
    "test_scaleout_converge.py": 40, "test_scaleout_doc.py": 40, "test_agent.py": 40,
    "test_srv_verify.py": 40, "test_public.py": 40, "test_public_scale.py": 30,
    "test_renew_account.py": 30, "test_renewal.py": 30, "test_pkcs11.py": 25,
}


# The sanitizer tree skips the package build and runs every binary slower.
SHARD_WEIGHTS_SANITIZED = dict(SHARD_WEIGHTS, **{"test_ops_install.py": 20})


def sanitized_build():
    """Whether this build tree is the ASan/UBSan one (its CMakeCache.txt)."""
    try:
        text = (BUILD_DIR / "CMakeCache.txt").read_text()
    except OSError:
        return False
    return re.search(r"^LIC_(ASAN|UBSAN):BOOL=ON", text, re.M) is not None


def shard_files(folder, n):
    """The test files of folder in n shards: heaviest first, each to the
    lightest shard so far (the same split every run of a tree)."""
    files = sorted(p for p in folder.glob("test_*.py") if not p.name.startswith("test_java_"))
    table = SHARD_WEIGHTS_SANITIZED if sanitized_build() else SHARD_WEIGHTS
    weight = {p.name: table.get(p.name, max(3, p.stat().st_size // 2000)) for p in files}
    shards = [[0, []] for _ in range(n)]
    for name in sorted(weight, key=lambda f: (-weight[f], f)):
        s = min(shards, key=lambda x: x[0])
        s[0] += weight[name]
        s[1].append(name)
    return [set(names) for _, names in shards]


def pytest_ignore_collect(collection_path, config):
    """LIC_E2E_SHARD=K/N: only the files of shard K (1..N)."""
    spec = os.environ.get("LIC_E2E_SHARD")
    p = Path(collection_path)
    if not spec or p.suffix != ".py" or not p.name.startswith("test_"):
        return None
    k, n = (int(x) for x in spec.split("/"))
    return True if p.name not in shard_files(p.parent, n)[k - 1] else None
