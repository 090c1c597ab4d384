"""End-to-end: one `licsrv serve` per data directory and per node key
(SPEC §4.3). Two servers on one directory, or on a copy of it (same node key)
on the same machine, would each enforce a --max-nodes limit on their own: the
second is refused at once, naming the first."""
import os
import shutil
import time

import pytest

import srvutil
from srvchain import Server, node_pub, verify

pytestmark = pytest.mark.skipif(not os.path.exists(srvutil.licsrv_bin()), reason="licsrv not built")

OK = dict(domain="localhost", port=443, version="11.2.0")


def refused(s):
    """Start s; it must exit 1 within a few seconds. Returns its stderr."""
    t0 = time.monotonic()
    try:
        with pytest.raises(RuntimeError) as e:
            s.start(timeout=10)
        assert time.monotonic() - t0 < 5, "not refused at once"
        assert s.proc.returncode == 1, s.log()
    finally:
        s.close()  # kills it when it did start
    return str(e.value)


def test_second_server_on_one_data_dir_is_refused(tmp_path):
    first = Server(tmp_path / "data", threads=1, max_nodes=1).start()
    try:
        kid_pub = node_pub(first.data)
        v = verify(first.port, node_pub=kid_pub, lic=first.license_id, node="rs-1", **OK)
        assert v["status"] == "valid", v
        second = Server(first.data, threads=1, sysroot=first.sysroot)
        err = refused(second)
        want = ("licsrv: error: serve: %s: another licsrv serve (pid %d) is serving this data "
                "directory" % (first.data, first.proc.pid))
        assert want in err, err
        # The first still holds its one seat alone.
        v = verify(first.port, node_pub=kid_pub, lic=first.license_id, node="rs-2", **OK)
        assert v["status"] == "seats_exhausted", v
    finally:
        first.finish()
    # A stopped server leaves no lock behind.
    again = Server(tmp_path / "data", threads=1, sysroot=first.sysroot).start()
    again.finish()


def test_copy_of_the_data_dir_is_refused(tmp_path):
    first = Server(tmp_path / "data", threads=1, max_nodes=1).start()
    try:
        copy = tmp_path / "copy"
        shutil.copytree(first.data, copy)
        os.unlink(copy / "serve.lock")
        second = Server(copy, threads=1, sysroot=first.sysroot)
        second.env["LICSRV_RUNTIME_DIR"] = first.env["LICSRV_RUNTIME_DIR"]
        err = refused(second)
        assert "licsrv: error: serve: node key " in err, err
        assert ("is already served on this machine (pid %d, data %s): a copy of a data directory "
                "must not be served beside the original" % (first.proc.pid, first.data)) in err, err
    finally:
        first.finish()


def test_runtime_dir_writable_by_others_is_refused(tmp_path):
    s = Server(tmp_path / "data", threads=1)
    run = tmp_path / "open-run"
    run.mkdir()
    run.chmod(0o777)
    s.env["LICSRV_RUNTIME_DIR"] = str(run)
    err = refused(s)
    assert "%s: the lock directory must be a directory of this user, not writable by others" % run \
        in err, err


def test_long_path_in_the_refusal_is_whole(tmp_path):
    # A path of over a thousand bytes (the message once stopped at 512).
    run = tmp_path
    for c in "abcde":
        run = run / (c * 250)
    run.mkdir(parents=True)
    run.chmod(0o777)
    s = Server(tmp_path / "data", threads=1)
    s.env["LICSRV_RUNTIME_DIR"] = str(run)
    err = refused(s)
    want = ("licsrv: error: serve: %s: the lock directory must be a directory of this user, "
            "not writable by others\n" % run)
    assert len(want) > 1300
    assert want in err, err
