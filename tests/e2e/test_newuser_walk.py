"""What a new user tripped over in the README/docs walkthroughs (issue 23,
items 8-13): the server's start-up log, listings with a header row, and the
other outputs a first run reads."""
import resource
import subprocess

from srvutil import Server


def start_low_fd(s, nofile=1024):
    """Start s under RLIMIT_NOFILE nofile (soft and hard) and wait for /healthz."""
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    s.proc = subprocess.Popen(s.args, stdout=subprocess.DEVNULL, stderr=s.logfile, env=s.env,
                              preexec_fn=low_limit)
    assert s.wait_log("msg=listening", timeout=10), s.log()
    return s


def test_connection_limits_warn_only_when_a_chosen_value_is_capped(tmp_path):
    """With the defaults (max_connections 20000) on a 1024-descriptor machine
    every start warned though nothing was wrong: the defaults are fitted at
    level info; a max_connections the operator set and cannot have warns."""
    s = Server(tmp_path / "data")
    s.start()
    assert s.stop() == 0
    s.close()
    for extra, level, detail in (
            ((), "info", "the defaults, fitted to the descriptor limit"),
            (("--max-connections", "5000"), "warn", "capped to the descriptor limit")):
        s2 = Server(tmp_path / "data", extra=extra, sysroot=s.sysroot)
        try:
            start_low_fd(s2)
            lines = [ln for ln in s2.log().splitlines() if "msg=connection_limits" in ln]
            assert len(lines) == 1, s2.log()
            assert " level=%s " % level in lines[0] and detail in lines[0], lines
            assert "level=warn" not in s2.log() or level == "warn", s2.log()
            assert s2.stop() == 0
        finally:
            s2.close()
