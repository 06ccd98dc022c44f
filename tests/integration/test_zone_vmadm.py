"""A busybox zone the way an operator runs one: vmadm create from an
installed image, zlogin, vmadm list, stop/start, a killed supervisor, and
delete, with the real supervisor underneath."""
import json
import os
import signal

import pytest

from vmtools import unfreeze
from zonekit import Zones, install_busybox, wait_for, cgroup_dirs, pid_alive


@pytest.fixture
def bbhost(pool, workdir):
    zs = Zones(pool)
    pool.image = install_busybox(pool.run, os.path.join(workdir, "bbimg"))
    try:
        yield pool
    finally:
        for u in pool.run("vmadm", "list", "-H", "-o", "uuid", check=False).out.split():
            pool.run("vmadm", "delete", u, check=False)
        zs.cleanup()
        unfreeze(workdir)


def state(host, u):
    return host.run("vmadm", "list", "-H", "-o", "state", f"uuid={u}").out.strip()


def test_create_zlogin_list_stop_delete(bbhost):
    h = bbhost
    payload = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
               "alias": "web", "max_lwps": 100, "resolvers": ["192.0.2.53"]}
    r = h.run("vmadm", "create", input=json.dumps(payload))
    u = r.out.split()[-1] if r.out.strip() else r.err.split()[-1]
    assert state(h, u) == "running"
    r = h.run("zlogin", u, "sh", "-c", "uname -r; cat /etc/resolv.conf")
    assert r.out.splitlines()[0] == "4.3.0"
    assert "nameserver 192.0.2.53" in r.out
    assert h.run("zlogin", u, "sh", "-c", "exit 9", check=False).rc == 9
    h.run("vmadm", "stop", u)
    assert state(h, u) == "stopped"
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert "exit_timestamp" in vm
    h.run("vmadm", "start", u)
    assert state(h, u) == "running"
    # A killed holder (a killed supervisor alone is adopted): the zone is
    # shown stopped, nothing is left.
    with open(os.path.join(h.root, u, "run", "holder.pid")) as f:
        sup = int(f.read())
    os.kill(sup, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(sup))
    assert wait_for(lambda: state(h, u) == "stopped")
    h.run("vmadm", "start", u)
    assert state(h, u) == "running"
    h.run("vmadm", "delete", u)
    assert h.run("vmadm", "list", "-H").out.strip() == ""
    assert not cgroup_dirs(f"{h.env['HULL_CGROUP_PARENT']}/{u}")


def iso_seconds(ts):
    """SmartOS's timestamps (2024-01-02T03:04:05.678Z) as epoch seconds."""
    import datetime
    assert ts.endswith("Z"), ts
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_running_and_exited_zone_object(bbhost):
    """What SmartOS derives for an instance: pid (init, as the host sees
    it), boot_timestamp and zoneid while it runs; exit_status and
    exit_timestamp once it has exited; server_uuid and
    platform_buildstamp from sysinfo; snapshots."""
    import time
    h = bbhost
    sysinfo = json.loads(h.run("sysinfo").out)
    t0 = time.time()
    r = h.run("vmadm", "create", input=json.dumps(
        {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
         "alias": "obj", "restart_init": False}))
    u = (r.out.strip() or r.err).split()[-1]
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert vm["state"] == "running"
    pid = vm["pid"]
    assert isinstance(pid, int) and pid_alive(pid)
    # the zone's init: in a pid namespace of its own, whose number is the
    # zoneid; pid 1 there
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert vm["zoneid"] == os.stat(f"/proc/{pid}/ns/pid").st_ino
    with open(f"/proc/{pid}/status") as f:
        nspid = [l.split()[-1] for l in f if l.startswith("NSpid:")]
    assert nspid == ["1"]
    boot = iso_seconds(vm["boot_timestamp"])
    assert t0 - 1 <= boot <= time.time() + 1
    assert "exit_status" not in vm and "exit_timestamp" not in vm
    assert vm["server_uuid"] == sysinfo["UUID"]
    assert vm["platform_buildstamp"] == sysinfo["Live Image"]
    assert vm["snapshots"] == []
    # list -o and info status show the same
    row = h.run("vmadm", "list", "-p", "-o",
                "uuid,pid,boot_timestamp,zoneid,exit_status",
                f"uuid={u}").out.strip()
    assert row.split(":", 1)[1] == \
        f"{pid}:{vm['boot_timestamp']}:{vm['zoneid']}:"
    info = json.loads(h.run("vmadm", "info", u, "status").out)["status"]
    assert info["pid"] == pid
    assert info["boot_timestamp"] == vm["boot_timestamp"]
    # none of it is stored
    with open(os.path.join(h.root, u, "config", "vm.json")) as f:
        stored = json.load(f)
    for k in ("pid", "boot_timestamp", "zoneid", "server_uuid",
              "platform_buildstamp"):
        assert k not in stored, k
    r = h.run("vmadm", "create-snapshot", u, "before")
    snaps = json.loads(h.run("vmadm", "get", u).out)["snapshots"]
    assert [s["name"] for s in snaps] == ["before"]
    assert iso_seconds(snaps[0]["created_at"]) >= boot - 1

    # init is killed (and not restarted: restart_init is false): exited,
    # with SmartOS's exit_status (-signal)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: state(h, u) == "stopped")
    vm = json.loads(h.run("vmadm", "get", u).out)
    for k in ("pid", "zoneid", "boot_timestamp"):
        assert k not in vm, k
    assert vm["exit_status"] == -9
    assert iso_seconds(vm["exit_timestamp"]) >= boot
    row = h.run("vmadm", "list", "-p", "-o", "pid,zoneid,exit_status",
                f"uuid={u}").out.strip()
    assert row == "::-9"
    h.fails("vmadm", "info", u, "status")
    # booted again: a new init, a new boot, no exit shown
    h.run("vmadm", "start", u)
    vm2 = json.loads(h.run("vmadm", "get", u).out)
    assert vm2["pid"] != pid and pid_alive(vm2["pid"])
    assert vm2["zoneid"] == os.stat(f"/proc/{vm2['pid']}/ns/pid").st_ino
    assert iso_seconds(vm2["boot_timestamp"]) >= iso_seconds(vm["exit_timestamp"])
    assert "exit_status" not in vm2 and "exit_timestamp" not in vm2
