"""Secrets a request carries are wiped on every exit of the handler that holds
them (docs/architecture.md, "Errors and secrets"): a local srv_verify_req is
declared SRV_VERIFY_REQ_WIPED (the compiler's cleanup runs on each return, so
no early exit can skip it); a struct that embeds one, or a srv_claim_req, is
wiped in the same file by srv_verify_req_wipe / srv_claim_req_wipe.
Run by ctest as part of `layering`."""
import re
import shutil
from pathlib import Path

import pytest

LICSRV = Path(__file__).resolve().parents[2] / "licsrv"
LOCAL = re.compile(r"^\s+(?:const\s+)?srv_verify_req\s+(\w+)\s*(.*);")
CLAIM = re.compile(r"^\s+srv_claim_req\s*\*\s*(\w+)")
STRUCT_OPEN = re.compile(r"^\s*(typedef\s+)?struct\b[^;(]*\{\s*$")


def problems(root):
    out = []
    for p in sorted(Path(root).rglob("*.c")):
        rel = p.relative_to(root).as_posix()
        if rel == "core/request.c":
            continue
        text = p.read_text(errors="replace")
        in_struct = False
        for n, line in enumerate(text.splitlines(), 1):
            if STRUCT_OPEN.match(line):
                in_struct = True
                continue
            if in_struct and line.lstrip().startswith("}"):
                in_struct = False
                continue
            m = LOCAL.match(line)
            if m and in_struct and "srv_verify_req_wipe(" not in text:
                out.append(f"{rel}:{n}: a struct member '{m.group(1)}' holds a token: "
                           "wipe it with srv_verify_req_wipe where the struct is freed")
            elif m and not in_struct and "SRV_VERIFY_REQ_WIPED" not in m.group(2):
                out.append(f"{rel}:{n}: local '{m.group(1)}' holds a token: "
                           "declare it SRV_VERIFY_REQ_WIPED")
            c = CLAIM.match(line)
            if c and "srv_claim_req_wipe(" not in text:
                out.append(f"{rel}:{n}: '{c.group(1)}' holds an activation code: "
                           "srv_claim_req_wipe it before it is freed")
    return out


def test_licsrv_wipes_every_request():
    assert problems(LICSRV) == []


@pytest.fixture
def tree(tmp_path):
    dst = tmp_path / "licsrv"
    shutil.copytree(LICSRV, dst, ignore=shutil.ignore_patterns("*.o"))
    return dst


def test_a_plain_local_fails(tree):
    f = tree / "routes" / "verify.c"
    f.write_text(f.read_text().replace("srv_verify_req q SRV_VERIFY_REQ_WIPED;", "srv_verify_req q;"))
    got = problems(tree)
    assert len(got) == 1 and got[0].startswith("routes/verify.c:") and "SRV_VERIFY_REQ_WIPED" in got[0]


def test_an_unwiped_member_fails(tree):
    f = tree / "routes" / "public.c"
    f.write_text(f.read_text().replace("srv_verify_req_wipe(&op->q);", ""))
    got = problems(tree)
    assert len(got) == 1 and got[0].startswith("routes/public.c:") and "member 'q'" in got[0]


def test_an_unwiped_claim_fails(tree):
    f = tree / "routes" / "activation.c"
    f.write_text(f.read_text().replace("srv_claim_req_wipe(q);", ""))
    got = problems(tree)
    assert len(got) == 1 and got[0].startswith("routes/activation.c:") and "activation code" in got[0]
