"""End-to-end: every ```sh block of README.md and docs/*.md pastes as written.

Each file's blocks run in order in one bash (as a reader pasting them top to
bottom would: variables and the working directory carry over), with
`set -euo pipefail`, so any failing command fails the test. The run happens
in a temporary "repository root" whose build/ and keys/ link to the tree
under test (LIC_BUILD_DIR, so the sanitizer tree runs its own binaries),
with build/bin on PATH, HOME in the temporary directory, on a simulated
machine (LIC_SYSROOT). Only these substitutions are made, so that runs never
collide with each other or with a real /tmp:

- `/tmp/` becomes a directory of the test;
- ports 7470 and 7471 (the defaults the README names) become free ports;
- in a sanitizer build tree, a line starting `cc ` links with the same
  `-fsanitize=` flags (its liblic.a needs their runtime).

A block that cannot run here is skipped only by an explicit marker on the
line before it, with a reason:

    <!-- readme-test: skip (REASON) -->

and a whole file only through SKIP_FILES below. Background jobs a block
starts (`licsrv serve &`) are stopped when the file's run ends.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import BUILD_DIR, SANITIZER_ENV, SANITIZER_RE, SOURCE_DIR
import srvutil

# Files whose blocks are not run, with why (none now: blocks are marked one by one).
SKIP_FILES = {}

# Files whose blocks sign in a SoftHSM2 token: under LeakSanitizer, SoftHSM's
# own leak while it signs is suppressed (tests/e2e/lsan-softhsm.supp says why).
SOFTHSM_FILES = {"docs/keys.md"}

MARKER = re.compile(r"^<!--\s*readme-test:\s*skip\s*\((?P<why>.+)\)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")
MAKE_CMD = re.compile(r"(^|[;&|(]\s*)(sudo\s+)?(make|cmake)\b", re.M)


def sh_blocks(path):
    """[(line number, text, skip reason or None)] of the ```sh blocks."""
    out, lines = [], path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        lang, start = m.group(1), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        if lang == "sh":
            prev = lines[start - 1] if start > 0 else ""
            mk = MARKER.match(prev)
            out.append((start + 1, "\n".join(lines[start + 1:j]) + "\n",
                        mk.group("why") if mk else None))
        i = j + 1
    return out


def doc_files():
    files = [SOURCE_DIR / "README.md"] + sorted((SOURCE_DIR / "docs").glob("*.md"))
    return [f for f in files if sh_blocks(f)]


def test_markers_are_well_formed():
    """A marker that does not parse would silently run (or skip) the wrong block."""
    for f in [SOURCE_DIR / "README.md"] + sorted((SOURCE_DIR / "docs").glob("*.md")):
        for n, line in enumerate(f.read_text().splitlines(), 1):
            if "readme-test" in line:
                assert MARKER.match(line), f"{f}:{n}: malformed marker {line!r}"


NAMED_TEST = re.compile(r"\b(tests/e2e/test_\w+\.py)(?:::(\w+))?")


def test_markers_name_tests_that_exist():
    """A marker that says another test runs its block names a test file (and
    function) that exists: a stale name would skip the block for nothing."""
    for f in [SOURCE_DIR / "README.md"] + sorted((SOURCE_DIR / "docs").glob("*.md")):
        for n, _, why in sh_blocks(f):
            for path, func in NAMED_TEST.findall(why or ""):
                assert (SOURCE_DIR / path).is_file(), f"{f}:{n}: the marker names {path}"
                if func:
                    assert re.search(rf"^def {func}\(", (SOURCE_DIR / path).read_text(), re.M), \
                        f"{f}:{n}: the marker names {path}::{func}"


def test_harness_finds_the_blocks():
    """The README's walkthroughs are found and most of them run."""
    blocks = sh_blocks(SOURCE_DIR / "README.md")
    assert len(blocks) >= 4, blocks
    assert sum(1 for b in blocks if b[2] is None) >= 3, blocks


@pytest.mark.parametrize("doc", doc_files(), ids=lambda p: str(p.relative_to(SOURCE_DIR)))
def test_blocks_paste_as_written(doc, tmp_path, lic_machine):
    rel = str(doc.relative_to(SOURCE_DIR))
    if rel in SKIP_FILES:
        pytest.skip(f"{rel}: {SKIP_FILES[rel]}")
    blocks = [b for b in sh_blocks(doc) if b[2] is None]
    # build/ is the tree under test: a block that runs make (cmake) would
    # reconfigure it from this temporary root. Such a block must be marked.
    for line, block, _ in blocks:
        assert not MAKE_CMD.search(block), \
            f"{rel}:{line}: runs make: mark it '<!-- readme-test: skip (REASON) -->'"
    if not blocks:
        why = sorted({b[2] for b in sh_blocks(doc)})
        pytest.skip(f"{rel}: every block is marked skip: {'; '.join(why)}")
    text = "".join(b[1] for b in blocks)
    if "curl " in text and shutil.which("curl") is None:
        pytest.skip("curl is not installed (the blocks use it)")

    # The repository as the reader has it, with build/ the tree under test.
    root = tmp_path / "repo"
    root.mkdir()
    for entry in SOURCE_DIR.iterdir():
        if entry.name not in ("build", ".git") and not entry.name.startswith("build-"):
            (root / entry.name).symlink_to(entry.resolve())
    (root / "build").symlink_to(Path(BUILD_DIR).resolve())
    cache = Path(BUILD_DIR) / "CMakeCache.txt"
    sanitize = []
    if cache.exists():
        text_cache = cache.read_text()
        if re.search(r"^LIC_ASAN:BOOL=ON", text_cache, re.M):
            sanitize.append("address")
        if re.search(r"^LIC_UBSAN:BOOL=ON", text_cache, re.M):
            sanitize.append("undefined")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    machine = lic_machine(name="machine")
    p1 = srvutil.free_port()
    p2 = srvutil.free_port()
    while p2 == p1:
        p2 = srvutil.free_port()

    def adapt(block):
        block = block.replace("/tmp/", f"{tmp}/")
        if sanitize:
            block = re.sub(r"^cc ", "cc -fsanitize=%s " % ",".join(sanitize), block, flags=re.M)
        return re.sub(r"\b7471\b", str(p2), re.sub(r"\b7470\b", str(p1), block))

    script = ["set -euo pipefail",
              # Stop what a block left running in the background, and wait for it.
              "trap 'for j in $(jobs -p); do kill $j 2>/dev/null || true; done; wait' EXIT"]
    for line, block, _ in blocks:
        script.append(f"echo '### {rel}:{line}' >&2")
        script.append(adapt(block))
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LIC_", "XDG_", "PYTEST_", "LICSRV_"))}
    env.update(SANITIZER_ENV)
    if rel in SOFTHSM_FILES:
        env["ASAN_OPTIONS"] += ":fast_unwind_on_malloc=0"
        env["LSAN_OPTIONS"] += ":suppressions=" + str(Path(__file__).resolve().parent
                                                     / "lsan-softhsm.supp")
    env.update(HOME=str(home), LIC_SYSROOT=str(machine.root),
               LICSRV_RUNTIME_DIR=str(tmp_path / "run"),
               PATH=f"{root / 'build' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=root, env=env,
                       capture_output=True, text=True, timeout=180)
    report = f"\n--- stdout:\n{p.stdout[-4000:]}\n--- stderr:\n{p.stderr[-4000:]}"
    assert not SANITIZER_RE.search(p.stderr), "sanitizer report" + report
    assert p.returncode == 0, f"{rel}: a block failed (exit {p.returncode})" + report
    # Each block ran to its end (set -e stops at the first failure).
    for line, _, _ in blocks:
        assert f"### {rel}:{line}" in p.stderr, report
