"""The read copies converge across PostgreSQL restarts (SPEC §4.5, issue 16
part 3): clients register through two `licsrv serve` processes while
PostgreSQL is stopped (under load) and started again, three times; they
pause while it is down, as clients backing off on 503 do, and register again
the moment it is back. Every registration one process acknowledged is seen
`valid` by the *other* process's verify within a second of its
acknowledgement, or, when PostgreSQL went down in that second (the other
process can learn nothing then), within a second of PostgreSQL being back.
That second is what the change listener's reconnect must fit in: a writer
reconnects at the first registration after the restart, and the other
process's copy sees nothing until its listener LISTENs again (with a 2 s
backoff it stayed blind that long). Bounded: about 20 s in all."""
import os
import threading
import time

import pytest

import pgutil
import pubutil
import srvchain
from pubutil import verify

pytestmark = pytest.mark.skipif(pgutil.available() is not None,
                                reason=f"no PostgreSQL: {pgutil.available()}")

UP_S = 1.5
DOWNS_S = (1.3, 3.0, 2.2)  # outages of several lengths: a reconnect backoff's phase varies
BOUND_S = 1.0


def node(tmp_path, name, url):
    data = str(tmp_path / name)
    pubutil.licsrv("init", "--mode", "public", "--data", data, "--store", url)
    pubutil.licsrv("import", "--data", data, "--store", url, "--trust", pubutil.ROOT_PUB,
                   pubutil.certify(data))
    return data


@pytest.fixture
def two(tmp_path):
    pg = pgutil.PgServer()
    pg.start()
    url = pg.url()
    servers = []
    try:
        d1, d2 = node(tmp_path, "n1", url), node(tmp_path, "n2", url)
        for d in (d1, d2):
            # two clients hammer one account each (and check every registration
            # again and again): the per-account limits of a shared server are off
            servers.append(srvchain.Server(d, extra=["--store", url,
                                                     "--account-requests-per-minute", "0",
                                                     "--account-new-nodes-per-hour", "0"],
                                           threads=2, provisioned=False).start())
        yield pg, url, servers[0], servers[1]
    finally:
        for s in servers:
            if s.proc is not None and s.proc.poll() is None:
                s.finish()
            else:
                s.close()
        pg.cleanup()


def test_other_process_sees_every_acknowledged_registration_across_restarts(two):
    pg, url, s1, s2 = two
    # an account for each process's clients: a process's own writes reload
    # only their account, so the other one's reaches its copy through the
    # change feed alone
    accts = {}
    for s in (s1, s2):
        accts[s.port] = pubutil.account(s1.data, 100000, import_it=False)
        pubutil.licsrv("import", "--data", s1.data, "--store", url, "--trust", pubutil.ROOT_PUB,
                       accts[s.port].path)
    lock, stop, done, up = (threading.Lock(), threading.Event(), threading.Event(),
                            threading.Event())
    up.set()
    pending = {s1.port: [], s2.port: []}  # by the port that must see it: [(acct, project, t_ack)]
    late, seen_n = [], [0]
    outages = []  # [t_down, t_up] (t_up None while down)

    def deadline(t_ack):
        # an answer read during an outage (or just before it) may be of a
        # commit just before PostgreSQL went down: its NOTIFY was lost with
        # the listener's connection, and only the reload after the restart
        # brings it
        with lock:
            for down, up in outages:
                if down < t_ack + BOUND_S and (up is None or t_ack <= up):
                    return None if up is None else up + BOUND_S
        return t_ack + BOUND_S

    def hammer(port, other, tag):
        i = 0
        while not stop.is_set():
            if not up.wait(timeout=0.1):  # clients that back off while it is down
                continue
            p, a = os.urandom(16), accts[port]
            try:
                st, v = pubutil.exchange(port, "/v1/register",
                                         pubutil.fields(a, p, node=f"{tag}-{i}"), timeout=15)
            except OSError:
                st, v = "error", None
            if st == 200 and v["status"] == "valid":
                with lock:
                    pending[other].append((a, p, time.monotonic()))
            i += 1
            time.sleep(0.02)

    def check(port):
        while not done.is_set() or pending[port]:
            with lock:
                unseen = list(pending[port])
            for a, p, t_ack in unseen:
                now = time.monotonic()  # asked at: what the answer tells of
                got = verify(port, a, p)[1]
                ok = got["status"] == "valid"
                with lock:
                    if ok:
                        pending[port].remove((a, p, t_ack))
                        seen_n[0] += 1
                        continue
                d = deadline(t_ack)
                if d is not None and now > d:
                    with lock:
                        pending[port].remove((a, p, t_ack))
                        late.append((port, round(now - t_ack, 2), round(now - d, 2),
                                     got["status"], round(t_ack - t0, 2)))
            if not unseen:
                time.sleep(0.01)
            if done.is_set() and time.monotonic() > stop_at[0] + 10:
                return  # bounded even if something never converges (reported as late)

    stop_at = [float("inf")]
    t0 = time.monotonic()
    threads = [threading.Thread(target=hammer, args=(s1.port, s2.port, "a")),
               threading.Thread(target=hammer, args=(s2.port, s1.port, "b")),
               threading.Thread(target=check, args=(s1.port,)),
               threading.Thread(target=check, args=(s2.port,))]
    for t in threads:
        t.start()
    try:
        for down_s in DOWNS_S:
            time.sleep(UP_S)
            with lock:
                outages.append([time.monotonic(), None])
            pg.stop(mode="fast")
            up.clear()
            time.sleep(down_s)
            pg._ctl_start()
            with lock:
                outages[-1][1] = time.monotonic()
            up.set()  # the first registrations come at once: a writer reconnects for them
        time.sleep(UP_S)
    finally:
        stop.set()  # the registrations first, then the checks of what they got
        for t in threads[:2]:
            t.join(timeout=60)
        stop_at[0] = time.monotonic()
        done.set()
        for t in threads[2:]:
            t.join(timeout=60)
    left = {port: len(v) for port, v in pending.items() if v}
    assert seen_n[0] > 50, seen_n[0]  # the load did register through both
    assert not late and not left, (f"{len(late)} acknowledged registrations not seen by the "
                                   f"other process in time (port, s after ack, s late): "
                                   f"{late[:10]}; never seen: {left}; outages "
                                   f"{[(round(d - t0, 2), round(u - t0, 2)) for d, u in outages]}")
