"""The Java client across a renewal (docs/operations.md, "Renewing and
upgrading"): `java -jar liblic.jar agent` set up with the old license id
stays licensed while the server switches to the renewal imported ahead, and
then reports the renewal's end."""
import json
import os
import subprocess
import time

import javautil
from test_renewal import (NODE, ROOT_PUB, import_file, renewal, reseal_license, revoke,
                          server, verify)  # noqa: F401 (server is a fixture)


def test_java_agent_runs_across_a_renewal(server, tmp_path):
    javautil.need_jar()
    s = server
    now = int(time.time())
    end = now + 8
    old = reseal_license(s.license_file, tmp_path / "old.lic", issued=now - 86400,
                         not_before=now - 86400, expires=end, heartbeat=1, grace=4, max_nodes=2)
    assert import_file(s, tmp_path / "old.lic").returncode == 0
    revoke(s, s.license_id)
    state = tmp_path / "jstate"
    args = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-jar", javautil.JAR, "agent",
            "http://127.0.0.1:%d" % s.port, "--domain", "localhost", "--port", "443",
            "--node", NODE, "--version", "11.0.18", "--trust", ROOT_PUB, "--license", old,
            "--timeout", "2000", "--state", str(state)]
    errpath = tmp_path / "jagent.log"
    with open(errpath, "wb") as err:
        proc = subprocess.Popen([str(a) for a in args], stdout=subprocess.DEVNULL, stderr=err)

    def read():
        try:
            return json.loads((state / "status.json").read_text())
        except (OSError, ValueError):
            return None

    try:
        deadline = time.monotonic() + 20  # a JVM start on a loaded machine
        while (read() or {}).get("state") != "licensed":
            assert proc.poll() is None and time.monotonic() < deadline, errpath.read_text()
            time.sleep(0.1)
        new_end = now + 365 * 86400
        new = renewal(s, tmp_path / "new.lic", old, not_before=end, expires=new_end,
                      heartbeat=1, grace=4, max_nodes=2)
        assert import_file(s, tmp_path / "new.lic").returncode == 0
        states = set()
        while time.time() < end + 3:
            st = read()
            if st is not None:
                states.add(st["state"])
            time.sleep(0.1)
        assert verify(s, old, "rs-2")[1] == new  # the server answers for the renewal now
        want = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(new_end))
        deadline = time.monotonic() + 5
        while (read() or {}).get("expires") != want:
            assert time.monotonic() < deadline, (read(), errpath.read_text())
            time.sleep(0.1)
        assert states == {"licensed"}, (states, errpath.read_text())
        assert read()["state"] == "licensed"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    assert os.path.exists(state / "session.state")
