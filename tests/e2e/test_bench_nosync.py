"""End-to-end: the bench-only LICSRV_BENCH_NOSYNC (docs/bench.md). Exactly
"1" makes `licsrv serve` commit without syncing (licsrv_store_syncs stays 0
while licsrv_store_commits grows) and say so at start; unset or any other
value keeps every commit synced and says nothing."""
import os
import shutil

import pytest

import srvutil
from srvchain import ROOT_PUB, Server, post, token_add

pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")


def store_counts(s):
    st, body, _ = s.get("/metrics")
    assert st == 200
    vals = {}
    for line in body.decode().splitlines():
        if line.startswith("licsrv_store_"):
            name, v = line.split()
            vals[name] = float(v)
    return vals["licsrv_store_commits"], vals["licsrv_store_syncs"]


@pytest.mark.parametrize("value", [None, "1", "0", "yes"])
def test_nosync_only_with_1(tmp_path, value):
    s = Server(tmp_path / "data", threads=1, domains=("localhost",), major=11)
    os.makedirs(os.path.join(s.data, "trusted"))  # the admin import trusts the test root
    shutil.copy(ROOT_PUB, os.path.join(s.data, "trusted", "test-root.pem"))
    s.env.pop("LICSRV_BENCH_NOSYNC", None)
    if value is not None:
        s.env["LICSRV_BENCH_NOSYNC"] = value
    s.start()
    try:
        token = token_add(s.data, "bench")
        c0, _ = store_counts(s)
        for _ in range(3):  # durable writes: each an audited license import
            with open(s.license_file, "rb") as f:
                body = f.read()
            st, _, _ = post(s.admin_port, "/v1/admin/licenses", body, "application/octet-stream",
                            headers={"Authorization": "Bearer " + token})
            assert st == 200
        commits, syncs = store_counts(s)
        assert commits >= c0 + 3
        if value == "1":
            assert syncs == 0
        else:
            assert syncs == commits
    finally:
        s.finish()
    log = s.log()
    assert ("msg=durability sync=off" in log) == (value == "1")
    assert ("durability is OFF" in log) == (value == "1")
