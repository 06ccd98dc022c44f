"""A supervisor that can die without its instance (docs/internals.md, "The
holder"): kill -9 of a supervisor leaves its zone running, a new one adopts
it within a second, and console, metadata, lx uname, zlogin, state, stop
and reboot all work again; a console session attached before the kill
goes on without a hang-up."""
import json
import os
import signal
import socket
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


def kill_and_adopt(host, u):
    """kill -9 of u's supervisor; returns once a new one has adopted u."""
    old = supervisor_pid(host, u)
    os.kill(old, signal.SIGKILL)
    assert wait_for(lambda: adopted(host, u, old), 10), u


def memory_limit(host, u):
    from zonekit import cgroup_dirs
    for d in cgroup_dirs(f"{host.env['HULL_CGROUP_PARENT']}/{u}"):
        for f in ("memory.max", "memory.limit_in_bytes"):
            if os.path.exists(os.path.join(d, f)):
                with open(os.path.join(d, f)) as fh:
                    return int(fh.read())
    raise AssertionError(f"no memory limit file for {u}")


def test_update_of_an_adopted_zone_reaches_its_cgroup(zhost):
    """The cgroup outlives the supervisor with its limits; the adopter
    knows them and applies a vmadm update of a running zone, and a reboot
    through it keeps the new one."""
    u = create(zhost, bb(zhost, max_physical_memory=128))
    assert memory_limit(zhost, u) == 128 << 20
    kill_and_adopt(zhost, u)
    assert memory_limit(zhost, u) == 128 << 20
    zhost.run("vmadm", "update", u, "max_physical_memory=96")
    assert memory_limit(zhost, u) == 96 << 20
    assert get(zhost, u)["max_physical_memory"] == 96
    # ... the cgroup the zone's processes are in.
    from zonekit import cgroup_pids
    rel = f"{zhost.env['HULL_CGROUP_PARENT']}/{u}"
    assert init_pid(zhost, u) in cgroup_pids(rel)
    zhost.run("vmadm", "reboot", u)
    assert state(zhost, u) == "running"
    assert memory_limit(zhost, u) == 96 << 20
    zhost.run("vmadm", "stop", u)
    assert state(zhost, u) == "stopped"


def vm_asks_metadata(host, u):
    """Has the Linux guest (scripts/mkimage-linux-vm) ask for sdc:uuid
    again, a command on its console; True once it printed the answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(host.root, u, "run", "console.sock"))
    try:
        sock.sendall(b"mdata sdc:uuid\n")
        sock.settimeout(30)
        got = b""
        want = f"hull-guest: mdata sdc:uuid={u}".encode()
        while want not in got:
            data = sock.recv(4096)
            assert data, got
            got += data
        return True
    finally:
        sock.close()


def test_kvm_guest_metadata_after_adoption(vmhost):
    """A VM's metadata channel (COM2) after its supervisor was killed and
    replaced: the guest asks again (a command on its console, which the
    holder kept) and the adopter's metadata server answers; a reboot
    through the adopter boots a guest that is served its metadata too."""
    from test_hvm_vmadm import (READY, console_log, create as vcreate,
                                emulator_pid, install, wait_console)
    h = vmhost
    u = vcreate(h, {"brand": "kvm", "ram": 256,
                    "disks": [{"image_uuid": install(h), "boot": True}]})
    wait_console(h, u, READY)
    assert f"hull-guest: uuid={u}" in console_log(h, u)
    emu = emulator_pid(h, u)
    assert init_pid(h, u) == emu
    kill_and_adopt(h, u)
    # The same emulator, now the holder's child.
    assert init_pid(h, u) == emu and alive(emu)
    assert vm_asks_metadata(h, u)
    h.run("vmadm", "reboot", u, timeout=120)
    # The console log goes on (appended): the second boot's lines.
    assert wait_for(lambda: console_log(h, u).count(READY) == 2, 90), \
        console_log(h, u)[-3000:]
    assert console_log(h, u).count(f"hull-guest: uuid={u}") == 2
    assert emulator_pid(h, u) != emu and not alive(emu)
    h.run("vmadm", "stop", u, "-t", "60", timeout=90)
    assert state(h, u) == "stopped"


def test_bhyve_guest_reboot_through_the_adopter_gets_metadata(vmhost,
                                                               workdir):
    """hull-vmm's test guest asks COM2 for metadata only at boot: after an
    adoption, a vmadm reboot through the new supervisor boots it again
    (now asking for sdc:uuid) and the new metadata server answers."""
    from hvmlib import make_guest_disk
    from test_hvm_vmadm import boot_bhyve_test_guest, console_log, \
        emulator_pid, wait_console
    from test_vmm_guest import fnv1a
    h = vmhost
    u, disk = boot_bhyve_test_guest(h, workdir)
    emu = emulator_pid(h, u)
    assert init_pid(h, u) == emu
    kill_and_adopt(h, u)
    # The same emulator, now the holder's child.
    assert init_pid(h, u) == emu and alive(emu)
    # The next boot's command line (the emulator reads it at boot only).
    make_guest_disk(workdir, disk, "test=mdget key=sdc:uuid")
    h.run("vmadm", "reboot", u, timeout=60)
    wait_console(h, u, "hull-guest: PASS mdget", 60)
    assert f"mdget: {len(u)} bytes fnv {fnv1a(u.encode()):x}" in \
        console_log(h, u)
    # The guest powers off after its test.
    assert wait_for(lambda: state(h, u) == "stopped", 30)


def test_twenty_zones_and_two_vms_survive_every_supervisor_killed(vmhost,
                                                                   workdir):
    """The upgrade case: every supervisor on the host killed at once; all
    22 instances keep running (the same init or emulator), are adopted, and
    answer zlogin, console and mdata-get (zones; the kvm guest asks its
    metadata again on its console); then vmadm stop works on each (the
    VMs' by their ACPI power button, through the adopter). The VMs: one
    bhyve (hull-vmm's test guest) and one kvm (QEMU, the Linux guest
    image, whose kernel package the kvm tests download once)."""
    from test_hvm_vmadm import (READY, boot_bhyve_test_guest, console_log,
                                create as vcreate, install, wait_console)
    from zonekit import install_busybox
    h = vmhost
    img = install_busybox(h.run, os.path.join(workdir, "bb"))
    zones = [create(h, {"brand": "lx", "kernel_version": "4.3.0",
                        "image_uuid": img,
                        "max_physical_memory": 64, "hostname": f"z{i}"})
             for i in range(20)]
    bhyve = boot_bhyve_test_guest(h, workdir)[0]
    kvm = vcreate(h, {"brand": "kvm", "ram": 256,
                      "disks": [{"image_uuid": install(h), "boot": True}]})
    wait_console(h, kvm, READY)
    vms = [bhyve, kvm]
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
    assert "waiting for the power button" in console_log(h, bhyve)
    assert vm_asks_metadata(h, kvm)
    for u in vms:
        h.run("vmadm", "stop", u, "-t", "60", timeout=90)
        assert state(h, u) == "stopped" and not alive(inits[u])
    assert "PASS acpibutton" in console_log(h, bhyve)
    assert "hull-guest: powering off" in console_log(h, kvm)
    for u in zones:
        h.run("vmadm", "stop", u)
        assert state(h, u) == "stopped" and not alive(inits[u])
