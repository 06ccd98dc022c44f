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
from test_hvm_vmadm import vmhost  # noqa: F401
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


def test_twenty_zones_and_two_vms_survive_every_supervisor_killed(vmhost,
                                                                   workdir):
    """The upgrade case: every supervisor on the host killed at once; all
    22 instances keep running (the same init or emulator), are adopted, and
    answer zlogin, console and mdata-get (zones); then vmadm stop works on
    each (the VMs' by their ACPI power button, through the adopter)."""
    from test_hvm_vmadm import boot_bhyve_test_guest, console_log
    from zonekit import install_busybox
    h = vmhost
    img = install_busybox(h.run, os.path.join(workdir, "bb"))
    zones = [create(h, {"brand": "lx", "kernel_version": "4.3.0",
                        "image_uuid": img,
                        "max_physical_memory": 64, "hostname": f"z{i}"})
             for i in range(20)]
    vms = [boot_bhyve_test_guest(h, workdir)[0] for _ in range(2)]
    every = zones + vms
    inits = {u: init_pid(h, u) for u in every}
    olds = {u: supervisor_pid(h, u) for u in every}
    for u in every:
        os.kill(olds[u], signal.SIGKILL)
    for u in every:
        assert wait_for(lambda: adopted(h, u, olds[u]), 10), u
        assert init_pid(h, u) == inits[u] and alive(inits[u]), u
    for u in zones:
        assert h.run("zlogin", u, "hostname").out.strip().startswith("z")
        assert mdata_hostname(h, u) == u
        con = subprocess.Popen([prog("vmadm"), "console", u],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=h.env)
        try:
            con.stdin.write(b"echo console-$((6*7))\n")
            con.stdin.flush()
            read_until(con.stdout, b"console-42")
        finally:
            con.kill()
            con.wait()
    for u in vms:
        assert "waiting for the power button" in console_log(h, u)
    for u in vms:
        h.run("vmadm", "stop", u, "-t", "30", timeout=60)
        assert state(h, u) == "stopped" and not alive(inits[u])
        assert "PASS acpibutton" in console_log(h, u)
    for u in zones:
        h.run("vmadm", "stop", u)
        assert state(h, u) == "stopped" and not alive(inits[u])
