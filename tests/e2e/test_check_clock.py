"""licctl check remembers time (docs/integration.md, "Local mode and the
clock"): the latest time a check saw stays in the state directory, and a
clock set back more than an hour below it reads clock_rollback.

The clock is not moved (that needs root and would disturb every other test):
a mark above the real time is the state a machine is in after a check ran,
then its clock was set back. A mark written by a run two hours "later" is
exactly a clock set back two hours."""

import json
import stat
import time

import pytest


@pytest.fixture
def setup(lic_machine, licctl_rif, lic_test_key, licgen_sign, tmp_path):
    machine = lic_machine()
    lic = licgen_sign(licctl_rif(machine), lic_test_key, expires="2099-12-31")
    return machine, lic, tmp_path / "check-state"


@pytest.fixture
def check(lic_run, licctl_bin, lic_test_key):
    def run(machine, lic, state, *extra):
        return lic_run(licctl_bin, "check", lic, "--domain", "reports.example.com", "--port",
                       "443", "--major", "11", "--trust", lic_test_key.pub, "--state", state,
                       *extra, sysroot=machine)

    return run


def mark(state):
    return int((state / "clock").read_text())


def test_clock_set_back_two_hours_is_clock_rollback(setup, check):
    machine, lic, state = setup
    t0 = int(time.time())
    r = check(machine, lic, state)
    assert r.code == 0 and r.out.startswith("valid:"), r
    assert t0 <= mark(state) <= int(time.time())
    assert stat.S_IMODE((state / "clock").stat().st_mode) == 0o600

    # a check ran two hours "later", then the clock went back to now
    later = int(time.time()) + 2 * 3600
    (state / "clock").write_text(f"{later}\n")
    r = check(machine, lic, state)
    assert r.code == 1, r
    assert r.out.startswith("denied: clock_rollback: this machine's clock is 1h59m behind") \
        or r.out.startswith("denied: clock_rollback: this machine's clock is 2h00m behind"), r
    r = check(machine, lic, state, "--json")
    assert r.code == 1 and json.loads(r.out)["status"] == "clock_rollback", r
    assert mark(state) == later  # the mark is never lowered

    # the clock right again: valid, and the mark moves on from there
    (state / "clock").write_text(f"{int(time.time()) - 60}\n")
    r = check(machine, lic, state)
    assert r.code == 0, r
    assert mark(state) >= int(time.time()) - 5


def test_within_the_hour_is_tolerated(setup, check):
    machine, lic, state = setup
    state.mkdir(mode=0o700)
    ahead = int(time.time()) + 50 * 60  # a clock corrected back by 50 minutes
    (state / "clock").write_text(f"{ahead}\n")
    r = check(machine, lic, state)
    assert r.code == 0 and r.out.startswith("valid:"), r
    assert mark(state) == ahead


@pytest.mark.parametrize("text", ["", "soon\n", "-5\n", "1e9\n", "99999999999999999999\n"])
def test_damaged_mark_fails_closed(setup, check, text):
    machine, lic, state = setup
    state.mkdir(mode=0o700)
    (state / "clock").write_text(text)
    r = check(machine, lic, state)
    assert r.code == 1 and r.out == "", r
    assert "clock: not a time (damaged?)" in r.err, r
    assert (state / "clock").read_text() == text  # left for the admin to look at
