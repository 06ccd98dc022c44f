"""A supervisor that can die without its instance (docs/internals.md, "The
holder"): kill -9 of a supervisor leaves its zone running, a new one adopts
it within a second, and console, metadata, lx uname, zlogin, state, stop
and reboot all work again; a console session attached before the kill
goes on without a hang-up."""
import json
import os
import signal
import subprocess
import time

from conftest import prog
from test_vmadm_lifecycle import bb, state, supervisor_pid, zhost  # noqa: F401
from vmtools import create, get
from zonekit import read_until, wait_for


def holder_pid(host, u):
    with open(os.path.join(host.root, u, "run", "holder.pid")) as f:
        return int(f.read())


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def init_pid(host, u):
    return get(host, u)["pid"]


def adopted(host, u, old):
    """A new supervisor runs (not old) and answers for the instance."""
    try:
        pid = supervisor_pid(host, u)
    except (OSError, ValueError):
        return False
    if pid == old or not alive(pid):
        return False
    r = host.run("vmadm", "info", u, check=False)
    return r.rc == 0 and json.loads(r.out)["status"]["state"] == "running"


def mdata_hostname(host, u):
    return host.run("zlogin", u, "mdata-get", "sdc:uuid").out.strip()


def test_kill_9_of_supervisor_keeps_the_zone_and_adopts_it(zhost):
    u = create(zhost, bb(zhost, hostname="adopt0"))
    init = init_pid(zhost, u)
    holder = holder_pid(zhost, u)
    # A console session attached before the kill.
    con = subprocess.Popen([prog("vmadm"), "console", u], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=zhost.env)
    try:
        con.stdin.write(b"trap 'echo got-hup' HUP; echo before-$((6*7))\n")
        con.stdin.flush()
        read_until(con.stdout, b"before-42")
        old = supervisor_pid(zhost, u)
        t0 = time.monotonic()
        os.kill(old, signal.SIGKILL)
        assert wait_for(lambda: adopted(zhost, u, old), 5)
        assert time.monotonic() - t0 < 2
        # The same init, the same holder; state and get say running.
        assert init_pid(zhost, u) == init and alive(init)
        assert holder_pid(zhost, u) == holder
        assert state(zhost, u) == "running"
        # The console session goes on, and the zone's shell saw no hang-up.
        con.stdin.write(b"echo after-$((6*7))\n")
        con.stdin.flush()
        seen = read_until(con.stdout, b"after-42")
        assert b"got-hup" not in seen
        # zlogin, metadata, the lx uname interception.
        assert mdata_hostname(zhost, u) == u
        assert zhost.run("zlogin", u, "uname", "-r").out.strip() == "4.3.0"
        logs = open(os.path.join(zhost.root, u, "logs", "supervisor.log")).read()
        assert "adopted the running instance" in logs
    finally:
        con.kill()
        con.wait()
    # A reboot and a stop through the adopter; lastexited on the exit.
    zhost.run("vmadm", "reboot", u, "-F")
    assert state(zhost, u) == "running" and init_pid(zhost, u) != init
    zhost.run("vmadm", "stop", u, "-F")
    assert state(zhost, u) == "stopped"
    assert "exit_timestamp" in get(zhost, u)
    assert not alive(holder) and not alive(init)


def test_kill_9_during_adoption_converges(zhost):
    u = create(zhost, bb(zhost))
    init = init_pid(zhost, u)
    # Kill each new supervisor as soon as it shows up, five times.
    for _ in range(5):
        old = supervisor_pid(zhost, u)
        os.kill(old, signal.SIGKILL)
        end = time.monotonic() + 5
        while True:
            try:
                pid = supervisor_pid(zhost, u)
            except (OSError, ValueError):
                pid = old
            if pid != old and alive(pid):
                break
            assert time.monotonic() < end, "no new supervisor"
            time.sleep(0.001)
    assert wait_for(lambda: adopted(zhost, u, None), 10)
    assert init_pid(zhost, u) == init and alive(init)
    assert mdata_hostname(zhost, u) == u
    zhost.run("vmadm", "stop", u)
    assert state(zhost, u) == "stopped"


def test_kill_9_of_holder_stops_the_zone(zhost):
    u = create(zhost, bb(zhost))
    init = init_pid(zhost, u)
    os.kill(holder_pid(zhost, u), signal.SIGKILL)
    # The supervisor sees its holder gone and stops the instance: nothing
    # could adopt it any more.
    assert wait_for(lambda: state(zhost, u) == "stopped", 10)
    assert wait_for(lambda: not alive(init), 5)
    zhost.run("vmadm", "start", u)
    assert state(zhost, u) == "running"
