"""Designer activation codes end to end (SPEC 3.6, 5): licgen codes, licgen
inspect, licctl activate/activation, checked by an independent Python decoder
and encoder (python3-cryptography only).

Self-contained: needs LIC_BUILD_DIR (binaries) and LIC_SOURCE_DIR (keys/test).
"""

import csv
import datetime
import os
import re
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey, Ed25519PublicKey)
from cryptography.exceptions import InvalidSignature

SOURCE_DIR = Path(os.environ.get("LIC_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("LIC_BUILD_DIR", SOURCE_DIR / "build"))
LICGEN = BUILD_DIR / "bin" / "licgen"
LICCTL = BUILD_DIR / "bin" / "licctl"
TEST_KEY = SOURCE_DIR / "keys/test/test-root.pem"
TEST_PUB = SOURCE_DIR / "keys/test/test-root.pub.pem"

SANITIZER_RE = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error:|SUMMARY: \w*Sanitizer")

# ---- an independent implementation of the code format -------------------

ALPHA = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U"
DOMAIN = b"LICSRV1 code\n"
EPOCH = datetime.date(2020, 1, 1)


def check_symbol(syms):
    v = 0
    for s in syms:
        v = v * 32 + ALPHA.index(s)
    return ALPHA[v % 37]


def encode(data73):
    bits = int.from_bytes(data73, "big") << 1  # 584 bits + 1 zero pad bit = 117 symbols
    syms = [ALPHA[(bits >> (5 * (116 - i))) & 31] for i in range(117)]
    groups = []
    for g in range(0, 117, 5):
        part = syms[g:g + 5]
        groups.append("".join(part) + check_symbol(part))
    return "-".join(groups)


class Typo(Exception):
    pass


def decode(text):
    """Return (version, product, serial, day, edition, sig, payload)."""
    s = text.upper().replace("-", "").replace(" ", "")
    s = s.replace("I", "1").replace("L", "1").replace("O", "0")
    assert len(s) == 141, f"{len(s)} symbols"
    data = []
    for g in range(24):
        grp = s[6 * g:6 * g + 6] if g < 23 else s[138:141]
        body, chk = grp[:-1], grp[-1]
        if any(c not in ALPHA[:32] for c in body) or check_symbol(body) != chk:
            raise Typo(g + 1)
        data.extend(body)
    assert len(data) == 117
    n = 0
    for c in data:
        n = n * 32 + ALPHA.index(c)
    assert n & 1 == 0, "padding bit"
    raw = (n >> 1).to_bytes(73, "big")
    payload, sig = raw[:9], raw[9:]
    return (raw[0], raw[1], int.from_bytes(raw[2:6], "big"), int.from_bytes(raw[6:8], "big"),
            raw[8], sig, payload)


def make_code(key, product, serial, day=0, edition=0, version=1):
    payload = bytes([version, product]) + serial.to_bytes(4, "big") + day.to_bytes(2, "big") \
        + bytes([edition])
    return encode(payload + key.sign(DOMAIN + payload))


def day_of(date):
    return (date - EPOCH).days


@pytest.fixture(scope="module")
def priv():
    return serialization.load_pem_private_key(TEST_KEY.read_bytes(), None)


@pytest.fixture(scope="module")
def pub():
    k = serialization.load_pem_public_key(TEST_PUB.read_bytes())
    assert isinstance(k, Ed25519PublicKey)
    return k


def verify(pub, text):
    v, product, serial, day, edition, sig, payload = decode(text)
    pub.verify(sig, DOMAIN + payload)  # raises InvalidSignature
    return v, product, serial, day, edition


# ---- running the tools ------------------------------------------------------


def run(tool, *args, input=None, env=None, cwd=None, timeout=120):
    e = dict(os.environ)
    e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    e.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    if env:
        e.update(env)
    p = subprocess.run([str(tool), *map(str, args)], input=input, capture_output=True,
                       env=e, cwd=cwd, timeout=timeout)
    err = p.stderr.decode(errors="replace")
    assert not SANITIZER_RE.search(err), err
    assert p.returncode in (0, 1, 2), (p.returncode, err)  # never a crash
    return p.returncode, p.stdout.decode(errors="replace"), err


def one_error_line(err):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert re.match(r"^(licgen|licctl): error: ", lines[0]), lines[0]
    return lines[0]


@pytest.fixture
def key(tmp_path):
    k = tmp_path / "vendor.pem"
    shutil.copy(TEST_KEY, k)
    k.chmod(0o600)
    return k


def fake_machine(root, machine_id, nics):
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/machine-id").write_text(machine_id + "\n")
    for name, mac in nics.items():
        d = root / "sys/class/net" / name
        (d / "device").mkdir(parents=True, exist_ok=True)
        (d / "address").write_text(mac + "\n")
    return {"LIC_SYSROOT": str(root)}


@pytest.fixture
def machine_a(tmp_path):
    return fake_machine(tmp_path / "A", "0123456789abcdef0123456789abcdef",
                        {"eth0": "52:54:00:12:34:56"})


@pytest.fixture
def machine_b(tmp_path):
    return fake_machine(tmp_path / "B", "fedcba9876543210fedcba9876543210",
                        {"eth0": "52:54:00:12:34:56"})


def codes(key, out, *extra, cwd=None):
    return run(LICGEN, "codes", "--key", key, "-o", out, *extra, cwd=cwd)


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["serial", "code", "product", "edition", "expires"]
    return rows[1:]


def ledger_ranges(path):
    if not path.exists():
        return []
    return [ln.split() for ln in path.read_text().splitlines()
            if ln.strip() and not ln.startswith("#")]


# ---- licgen codes ---------------------------------------------------------------


def test_python_decodes_licgen_codes(key, tmp_path, pub):
    out = tmp_path / "codes.csv"
    code, _, err = codes(key, out, "--product", 12, "--count", 3000, "--jobs", 2,
                         "--edition", 9, "--expires", "2099-12-31")
    assert code == 0, err
    rows = read_csv(out)
    assert [int(r[0]) for r in rows] == list(range(1, 3001))  # ordered by serial
    day = day_of(datetime.date(2099, 12, 31))
    for r in rows[:200] + rows[-200:]:
        v, product, serial, d, edition = verify(pub, r[1])
        assert (v, product, serial, d, edition) == (1, 12, int(r[0]), day, 9)
        assert r[2:] == ["12", "9", "2099-12-31"]
        assert len(r[1]) == 164 and r[1].count("-") == 23
    assert len({r[1] for r in rows}) == 3000
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_vectors_decode(pub):
    rows = read_csv(SOURCE_DIR / "tests/vectors/codes/codes.csv")
    assert len(rows) >= 3
    for r in rows:
        v, product, serial, day, edition = verify(pub, r[1])
        assert (product, serial, edition) == (int(r[2]), int(r[0]), int(r[3]))
        assert (r[4] == "never") == (day == 0)


def test_ledger_prevents_reuse(key, tmp_path):
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert codes(key, a, "--product", 3, "--count", 10)[0] == 0
    assert codes(key, b, "--product", 3, "--count", 5)[0] == 0
    assert [int(r[0]) for r in read_csv(b)] == list(range(11, 16))
    ledger = Path(str(key) + ".ledger")
    assert [r[:3] for r in ledger_ranges(ledger)] == [["3", "1", "10"], ["3", "11", "15"]]
    # another product has its own serials
    assert codes(key, c, "--product", 4, "--count", 2)[0] == 0
    assert [int(r[0]) for r in read_csv(c)] == [1, 2]
    # an explicit overlapping range is refused, and writes nothing
    d = tmp_path / "d.csv"
    code, _, err = codes(key, d, "--product", 3, "--count", 5, "--first-serial", 13)
    assert code == 1 and "overlap" in one_error_line(err)
    assert not d.exists() and len(ledger_ranges(ledger)) == 3
    # a free explicit range is fine; the next automatic one starts after it
    assert codes(key, d, "--product", 3, "--count", 5, "--first-serial", 100)[0] == 0
    e = tmp_path / "e.csv"
    assert codes(key, e, "--product", 3, "--count", 1)[0] == 0
    assert read_csv(e)[0][0] == "105"
    # an existing CSV is never replaced
    code, _, err = codes(key, e, "--product", 3, "--count", 1)
    assert code == 1 and "exists" in one_error_line(err)
    # --ledger elsewhere
    other = tmp_path / "other.ledger"
    f = tmp_path / "f.csv"
    assert codes(key, f, "--product", 3, "--count", 1, "--ledger", other)[0] == 0
    assert read_csv(f)[0][0] == "1" and len(ledger_ranges(other)) == 1


def test_interrupted_run_leaves_nothing(key, tmp_path):
    out = tmp_path / "big.csv"
    ledger = Path(str(key) + ".ledger")
    p = subprocess.Popen([str(LICGEN), "codes", "--key", str(key), "--product", "1", "--count",
                          "10000000", "--jobs", "2", "-o", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline and not list(tmp_path.glob("big.csv.tmp.*")):
        time.sleep(0.05)
    assert list(tmp_path.glob("big.csv.tmp.*")), "licgen never started writing"
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    err = err.decode()
    assert p.returncode == 1, err
    assert "interrupted" in one_error_line(err)
    assert not out.exists()
    assert not list(tmp_path.glob("big.csv*"))
    assert ledger_ranges(ledger) == []


def test_progress_bar_on_a_terminal_only(key, tmp_path):
    # stderr a terminal: a progress line (count, percent, rate, ETA) redrawn
    # in place, ending at 100%; stderr a pipe: only the closing summary line.
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([str(LICGEN), "codes", "--key", str(key), "--product", "3", "--count",
                              "60000", "--jobs", "2", "-o", str(tmp_path / "t.csv")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
        os.close(slave)
        slave = None
        seen = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        assert p.wait(timeout=120) == 0, seen
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    text = seen.decode(errors="replace")
    assert re.search(r"60000/60000 codes +100\.0%", text), text[-300:]
    assert re.search(r"\d+/s ETA \d\d:\d\d", text), text[-300:]
    assert "\r" in text
    p = subprocess.run([str(LICGEN), "codes", "--key", str(key), "--product", "4", "--count",
                        "60000", "-o", str(tmp_path / "p.csv")], capture_output=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert b"\r" not in p.stderr and b"ETA" not in p.stderr, p.stderr
    assert p.stderr.decode().splitlines() == [
        "licgen: wrote 60000 codes (product 4, serials 1..60000) to %s" % (tmp_path / "p.csv")]


def test_codes_limits(key, tmp_path):
    out = tmp_path / "x.csv"
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    for args in (["--product", 1, "--count", 0], ["--product", 1, "--count", 10000001],
                 ["--product", 256, "--count", 1], ["--product", -1, "--count", 1],
                 ["--product", 1, "--count", 1, "--edition", 256],
                 ["--product", 1, "--count", 1, "--expires", yesterday],
                 ["--product", 1, "--count", 1, "--expires", "2200-01-01"],
                 ["--product", 1, "--count", 1, "--expires", "2030-02-30"],
                 ["--product", 1, "--count", 1, "--jobs", 0],
                 ["--product", "x", "--count", 1], ["--count", 1]):
        code, _, err = codes(key, out, *args)
        assert code == 2, (args, err)
        one_error_line(err)
        assert not out.exists()
    assert not Path(str(key) + ".ledger").exists()


# ---- licgen inspect -----------------------------------------------------------


def test_inspect_code(priv, tmp_path):
    import json
    text = make_code(priv, 5, 4242, day_of(datetime.date(2100, 1, 1)), 0x81)
    code, out, err = run(LICGEN, "inspect", text.lower(), "--trust", TEST_PUB, "--json")
    assert code == 0, err
    j = json.loads(out)
    assert (j["product"], j["serial"], j["edition"], j["expires"], j["signature"]) == \
        (5, 4242, 0x81, "2100-01-01", "valid")
    assert j["code"] == text
    # not trusted by the built-in store
    code, out, _ = run(LICGEN, "inspect", text, "--json")
    assert code == 1 and json.loads(out)["signature"] == "not genuine"


# ---- licctl activate / activation -----------------------------------------------


def activate(code_text, state, env, *extra):
    return run(LICCTL, "activate", code_text, "--product", 42, "--state", state, "--trust",
               TEST_PUB, *extra, env=env)


def activation(state, env, *extra):
    return run(LICCTL, "activation", "--state", state, "--trust", TEST_PUB, *extra, env=env)


def test_python_code_activates_and_holds(priv, tmp_path, machine_a, machine_b):
    import json
    state = tmp_path / "state"
    text = make_code(priv, 42, 777, 0, 5)
    code, out, err = activate(text, state, machine_a)
    assert code == 0, err
    assert "serial 777" in out
    f = state / "activation"
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    body = f.read_text()
    assert "-----BEGIN LICSRV ACTIVATION-----" in body
    assert "52:54:00:12:34:56" not in body  # raw MACs stay out of files

    code, out, err = activation(state, machine_a, "--json")
    assert code == 0, err
    j = json.loads(out)
    assert (j["serial"], j["product"], j["edition"], j["expires"], j["status"]) == \
        (777, 42, 5, "never", "valid")
    assert abs(j["activated"] - time.time()) < 300
    assert activation(state, machine_a, "--product", 42)[0] == 0
    code, _, err = activation(state, machine_a, "--product", 43)
    assert code == 1 and "another product" in one_error_line(err)

    # The same state directory copied to machine B does not hold.
    copy = tmp_path / "copied"
    shutil.copytree(state, copy)
    code, out, err = activation(copy, machine_b)
    assert code == 1 and "another machine" in one_error_line(err)
    code, out, _ = activation(copy, machine_b, "--json")
    assert code == 1 and json.loads(out)["status"] == "other_machine"

    # A NIC added on A still matches; all recorded NICs gone does not.
    fake_machine(Path(machine_a["LIC_SYSROOT"]), "0123456789abcdef0123456789abcdef",
                 {"eth1": "52:54:00:aa:bb:cc"})
    assert activation(state, machine_a)[0] == 0
    shutil.rmtree(Path(machine_a["LIC_SYSROOT"]) / "sys/class/net/eth0")
    code, _, err = activation(state, machine_a)
    assert code == 1 and "adapters" in one_error_line(err)

    # Without the test key in the trust store the code is not genuine.
    code, _, err = run(LICCTL, "activation", "--state", state, env=machine_a)
    assert code == 1 and "not a genuine code" in one_error_line(err)


def test_activation_missing(tmp_path, machine_a):
    import json
    code, _, err = activation(tmp_path / "none", machine_a)
    assert code == 1 and "not activated" in one_error_line(err)
    code, out, _ = activation(tmp_path / "none", machine_a, "--json")
    assert code == 1 and json.loads(out)["status"] == "not_activated"


def test_code_from_stdin(priv, tmp_path, machine_a):
    text = make_code(priv, 42, 9, 0, 0)
    spaced = " ".join(text.replace("-", "")[i:i + 4] for i in range(0, 141, 4)).lower()
    state = tmp_path / "s"
    code, _, err = run(LICCTL, "activate", "--product", 42, "--state", state, "--trust",
                       TEST_PUB, input=(spaced + "\r\n").encode(), env=machine_a)
    assert code == 0, err
    assert activation(state, machine_a)[0] == 0


def assert_refused(text, state, env, why):
    code, _, err = activate(text, state, env)
    assert code == 1, err
    assert why in one_error_line(err), err
    assert not state.exists() or not any(state.iterdir())


def test_refusals(priv, tmp_path, machine_a):
    state = tmp_path / "state"
    today = datetime.datetime.now(datetime.timezone.utc).date()
    expired = make_code(priv, 42, 1, day_of(today - datetime.timedelta(days=1)))
    code, _, err = activate(expired, state, machine_a)
    assert code == 1 and re.search(r"expired.*\d{4}-\d\d-\d\d", one_error_line(err))
    assert not state.exists()
    assert_refused(make_code(priv, 41, 1), state, machine_a, "another product")

    good = make_code(priv, 42, 1)
    # a typo names its group
    i = 6 * 7 + 2  # a data symbol of group 7
    typo = good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1:]
    assert_refused(typo, state, machine_a, "group 7 has a typo")
    # a forged code (flipped signature bit, correct check symbols) is not a typo
    v, product, serial, day, edition, sig, payload = decode(good)
    forged = encode(payload + bytes([sig[0] ^ 1]) + sig[1:])
    assert_refused(forged, state, machine_a, "not a genuine code")
    # signed by another key
    other = Ed25519PrivateKey.generate()
    assert_refused(make_code(other, 42, 1), state, machine_a, "not a genuine code")
    # the good one still works afterwards
    assert activate(good, state, machine_a)[0] == 0


def test_garbage_never_crashes(tmp_path, machine_a):
    state = tmp_path / "state"
    inputs = ["", "-", "A", "X" * 141, "0" * 10000, "\u00e9\u00e9\u00e9", "%s%n%s%n",
              "043G0D-" * 40, "U" * 141, "*~$=U-" * 24, " " * 399, "--", "\x7f\x01\x02"]
    for s in inputs:
        code, out, err = activate(s, state, machine_a)
        assert code in (1, 2), (s, err)
        one_error_line(err)
    for blob in (os.urandom(100), os.urandom(5000), b"\x00" * 50, b"A" * 399 + b"\x00"):
        code, _, err = run(LICCTL, "activate", "-", "--product", 42, "--state", state,
                           "--trust", TEST_PUB, input=blob, env=machine_a)
        assert code in (1, 2), err
        one_error_line(err)
    assert not state.exists()

    # a damaged activation file is a clear failure, not a crash
    state.mkdir()
    for blob in (b"", b"garbage", os.urandom(3000), b"-----BEGIN LICSRV ACTIVATION-----\n"
                 b"gqN0eXCqYWN0aXZhdGlvbqRjb2Rl2aQw\n-----END LICSRV ACTIVATION-----\n"):
        (state / "activation").write_bytes(blob)
        code, _, err = activation(state, machine_a)
        assert code == 1, err
        one_error_line(err)


# ---- codes hold $ * ~ = : a prompt and a hint (issue 10 item 10) ----------------

def test_codes_hint_the_first_time_only(key, tmp_path):
    hint = ("licgen: hint: codes hold $ * ~ = (check symbols), which a shell expands inside "
            "double quotes: users paste a code at the prompt of 'licctl activate --product ID' "
            "or single-quote it")
    code, _, err = codes(key, tmp_path / "a.csv", "--product", "5", "--count", "2")
    assert code == 0 and err.splitlines()[-1] == hint, err
    code, _, err = codes(key, tmp_path / "b.csv", "--product", "5", "--count", "2")
    assert code == 0 and hint not in err, err


def test_activate_hints_at_a_shell_expanded_dollar(priv, tmp_path, machine_a):
    """A code with a '$' check symbol pasted inside double quotes: the shell
    turns "$-" into its flags and the code fails as too long or mistyped;
    the error says what happened and how to paste it."""
    serial = next(s for s in range(1, 2000)
                  if "$-" in make_code(priv, 42, s))
    text = make_code(priv, 42, serial)
    e = dict(os.environ, **machine_a)
    # the real shell: bash -c with the code in double quotes
    cmd = '"$0" activate "%s" --product 42 --state "$1" --trust "$2"' % text
    p = subprocess.run(["bash", "-c", cmd, str(LICCTL), str(tmp_path / "st"), str(TEST_PUB)],
                       capture_output=True, text=True, env=e, timeout=60)
    assert p.returncode == 1 and len(p.stderr.splitlines()) == 1, p
    assert "a shell may have expanded a '$' of the code" in p.stderr, p
    assert "put the code in single quotes" in p.stderr, p
    # single quotes: activated; a plain typo gets no such hint
    p = subprocess.run(["bash", "-c", cmd.replace('"%s"' % text, "'%s'" % text), str(LICCTL),
                        str(tmp_path / "st"), str(TEST_PUB)], capture_output=True, text=True,
                       env=e, timeout=60)
    assert p.returncode == 0, p
    bad = text[:3] + ("0" if text[3] != "0" else "1") + text[4:]
    p = subprocess.run([str(LICCTL), "activate", bad, "--product", "42", "--state",
                        str(tmp_path / "st2"), "--trust", str(TEST_PUB)], capture_output=True,
                       text=True, env=e, timeout=60)
    assert p.returncode == 1 and "shell" not in p.stderr, p


def test_activate_prompts_on_a_terminal(priv, tmp_path, machine_a):
    """No CODE and stdin a terminal: 'activation code: ' on stderr, one line read.
    The code is one with a check symbol a shell would expand in double quotes."""
    import pty
    serial = next(s for s in range(1, 500)
                  if any(c in make_code(priv, 42, s) for c in "$*~="))
    text = make_code(priv, 42, serial)
    master, slave = pty.openpty()
    e = dict(os.environ, **machine_a)
    try:
        p = subprocess.Popen([str(LICCTL), "activate", "--product", "42", "--state",
                              str(tmp_path / "st"), "--trust", str(TEST_PUB)],
                             stdin=slave, stdout=subprocess.PIPE, stderr=slave, env=e)
        os.close(slave)
        slave = None
        seen = b""
        while b"activation code: " not in seen:
            chunk = os.read(master, 4096)
            assert chunk, seen
            seen += chunk
        os.write(master, text.encode() + b"\n")
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, (out, seen)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert seen.decode().endswith("activation code: "), seen
    assert out.decode().startswith("activated: product 42, serial %d," % serial), out
