"""vmadm with running zones: start/stop/reboot/kill, state derived from the
supervisor (a killed holder shows as stopped), delete of a running zone,
autoboot, events on state changes, live updates. Uses a busybox image from
scripts/mkimage-busybox and a cgroup parent of the test's own."""
import glob
import json
import os
import queue
import signal
import subprocess
import threading
import time
import uuid as uuidlib

import pytest

from conftest import ROOT, _init_pool, prog
from vmtools import create, get, unfreeze
from zonekit import cgroup_dirs, cgroup_pids, cgroup_remove, read_until


@pytest.fixture
def zhost(bare, workdir):
    """A btrfs pool with the busybox image, its own cgroup parent."""
    parent = "hull-t-" + uuidlib.uuid4().hex[:8]
    bare.env["HULL_CGROUP_PARENT"] = parent
    _init_pool(bare, "btrfs")
    d = os.path.join(workdir, "bb")
    os.makedirs(d)
    subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o", d,
                    "-c", "none"], check=True, capture_output=True)
    mpath = glob.glob(os.path.join(d, "*.json"))[0]
    with open(mpath) as f:
        bare.image = json.load(f)["uuid"]
    bare.run("imgadm", "install", "-m", mpath,
             "-f", glob.glob(os.path.join(d, "*.tar"))[0])
    try:
        yield bare
    finally:
        for u in bare.run("vmadm", "lookup", check=False).out.split():
            bare.run("vmadm", "delete", u, check=False)
        bare.run("hull", "fini", check=False)
        cgroup_remove(parent)
        unfreeze(workdir)


def bb(host, **kw):
    p = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": host.image,
         "max_physical_memory": 128}
    p.update(kw)
    return p


def state(host, u):
    return host.run("vmadm", "list", "-H", "-o", "state", f"uuid={u}").out.strip()


def supervisor_pid(host, u):
    with open(os.path.join(host.root, u, "run", "supervisor.pid")) as f:
        return int(f.read().split()[0])


def holder_pid(host, u):
    with open(os.path.join(host.root, u, "run", "holder.pid")) as f:
        return int(f.read().split()[0])


def wait_for(pred, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_start_stop_and_derived_state(zhost):
    u = create(zhost, bb(zhost, alias="bb1"))          # autoboot: starts it
    vm = get(zhost, u)
    assert vm["state"] == "running" and vm["zone_state"] == "running"
    # hull's guest tools reach a zone on a btrfs pool (another filesystem
    # than the one they were built on), and it reads its own metadata.
    assert zhost.run("zlogin", u, "mdata-get", "sdc:uuid").out.strip() == u
    r = zhost.run("vmadm", "start", u)
    assert "already running" in r.err
    r = zhost.run("vmadm", "stop", u, "-F")
    assert f"Successfully completed stop for VM {u}" in r.err
    vm = get(zhost, u)
    assert vm["state"] == "stopped" and vm["autoboot"] is False
    r = zhost.run("vmadm", "stop", u)
    assert r.rc == 0 and "not running" in r.err
    r = zhost.run("vmadm", "start", u)
    assert f"Successfully started VM {u}" in r.err
    assert get(zhost, u)["autoboot"] is True
    # kill -9 of the supervisor: the instance runs on and a new supervisor
    # adopts it (test_supervisor_adopt.py); kill -9 of its holder stops it,
    # and it starts again cleanly
    old = supervisor_pid(zhost, u)
    os.kill(old, signal.SIGKILL)
    assert wait_for(lambda: supervisor_pid(zhost, u) != old)
    assert state(zhost, u) == "running"
    os.kill(holder_pid(zhost, u), signal.SIGKILL)
    assert wait_for(lambda: state(zhost, u) == "stopped")
    zhost.run("vmadm", "start", u)
    assert state(zhost, u) == "running"
    r = zhost.run("vmadm", "reboot", u, "-F")
    assert f"Successfully completed reboot for VM {u}" in r.err
    assert state(zhost, u) == "running"
    info = json.loads(zhost.run("vmadm", "info", u).out)
    assert info["status"]["state"] == "running"


def crash_image_record(host, u, name):
    """The record files of u in what the pool's disk holds now, as a power
    cut would leave it: a copy of the pool's backing file (the loop
    device's writes, not the page cache of btrfs), mounted on a loop
    device of its own (a clone of a mounted btrfs: its temporary fsid).
    Returns {file name in config/: its text}."""
    img = os.path.join(host.workdir, name + ".img")
    mnt = os.path.join(host.workdir, name)
    subprocess.run(["cp", "--sparse=always",
                    os.path.join(host.workdir, "pool.img"), img], check=True)
    os.makedirs(mnt)
    dev = subprocess.run(["losetup", "-f", "--show", img], check=True,
                         capture_output=True, text=True).stdout.strip()
    try:
        # read-write: mounting replays the log tree, where fsync put data
        subprocess.run(["mount", "-t", "btrfs", dev, mnt], check=True)
        try:
            cfg = os.path.join(mnt, u, "config")
            out = {}
            for f in os.listdir(cfg):
                if f.startswith("vm.json"):
                    with open(os.path.join(cfg, f)) as fh:
                        out[f] = fh.read()
            return out
        finally:
            subprocess.run(["umount", mnt], check=True)
    finally:
        subprocess.run(["losetup", "-d", dev], check=True)
        os.unlink(img)


def test_start_autoboot_survives_a_crash_once_committed(zhost):
    """vmadm start writes autoboot in one fsync (docs/internals.md): right
    after it, a crash leaves vm.json whole, old or new, and the new record
    whole on disk (renamed already, or still under its temp name); once
    the pool has committed (a sync), a crash leaves autoboot true."""
    u = create(zhost, bb(zhost, autoboot=False, alias="crash"))
    os.sync()
    zhost.run("vmadm", "start", u)
    assert get(zhost, u)["autoboot"] is True
    files = crash_image_record(zhost, u, "crash1")
    recs = {f: json.loads(t) for f, t in files.items()}  # every one whole
    assert recs["vm.json"]["uuid"] == u
    assert recs["vm.json"]["autoboot"] in (False, True)
    assert any(r["autoboot"] is True and r["alias"] == "crash"
               for r in recs.values())
    os.sync()
    files = crash_image_record(zhost, u, "crash2")
    assert json.loads(files["vm.json"])["autoboot"] is True
    zhost.run("vmadm", "stop", u, "-F")


def test_create_record_survives_a_crash_at_once(zhost):
    """vmadm create returns with the record durable, as before its folder's
    fsync ran beside the supervisor's boot: a crash image taken right
    after it (no sync) holds the record, for a create that starts the
    instance and for one that does not."""
    for boot in (True, False):
        u = create(zhost, bb(zhost, autoboot=boot, alias=f"c{boot}"))
        files = crash_image_record(zhost, u, f"create{boot}")
        rec = json.loads(files["vm.json"])
        assert rec["uuid"] == u and rec["alias"] == f"c{boot}"
        assert rec["autoboot"] is boot


def test_delete_running_zone_leaves_nothing(zhost):
    u = create(zhost, bb(zhost))
    assert state(zhost, u) == "running"
    parent = zhost.env["HULL_CGROUP_PARENT"]
    zhost.run("vmadm", "delete", u)
    assert not os.path.exists(os.path.join(zhost.root, u))
    assert not any(os.path.isdir(os.path.join(d, u)) for d in cgroup_dirs(parent))
    out = subprocess.run(["pgrep", "-f", f"hull-supervisor.*{u}"],
                         capture_output=True, text=True).stdout
    assert out == ""


def test_kill_and_exit_status(zhost):
    u = create(zhost, bb(zhost, restart_init=False))
    r = zhost.run("vmadm", "kill", "-s", "KILL", u)
    assert f'Sent signal "KILL" to init process for VM {u}' in r.err
    assert wait_for(lambda: state(zhost, u) == "stopped")
    vm = get(zhost, u)
    assert vm["exit_status"] == -9 and vm["exit_timestamp"].endswith("Z")
    r = zhost.fails("vmadm", "kill", u)
    assert "not running" in r.err


def test_autoboot_starts_marked_instances(zhost):
    a = create(zhost, bb(zhost, autoboot=False, alias="a"))
    b = create(zhost, bb(zhost, autoboot=False, alias="b"))
    zhost.run("vmadm", "update", b, "autoboot=true")
    r = zhost.run("vmadm", "autoboot")
    assert f"Successfully started VM {b}" in r.err
    assert state(zhost, a) == "stopped" and state(zhost, b) == "running"


def test_events_show_state_changes(zhost):
    u = create(zhost, bb(zhost, autoboot=False))
    p = subprocess.Popen([prog("vmadm"), "events", "-j", "-r", u],
                         stdout=subprocess.PIPE, text=True, env=zhost.env)
    q = queue.Queue()
    threading.Thread(target=lambda: [q.put(l) for l in p.stdout],
                     daemon=True).start()
    try:
        assert json.loads(q.get(timeout=10))["type"] == "ready"
        zhost.run("vmadm", "start", u)
        seen = []
        while not any(c.get("prettyPath") == "state" and c.get("newValue") == "running"
                      for c in seen):
            seen += json.loads(q.get(timeout=10)).get("changes", [])
        os.kill(holder_pid(zhost, u), signal.SIGKILL)
        seen = []
        while not any(c.get("prettyPath") == "state" and c.get("newValue") == "stopped"
                      for c in seen):
            seen += json.loads(q.get(timeout=10)).get("changes", [])
    finally:
        p.kill()
        p.wait()


def test_live_update_of_running_zone(zhost):
    u = create(zhost, bb(zhost))
    zhost.run("vmadm", "update", u, "max_physical_memory=256", "cpu_cap=50",
              "max_lwps=300")
    vm = get(zhost, u)
    assert vm["max_physical_memory"] == 256 and vm["state"] == "running"
    parent = zhost.env["HULL_CGROUP_PARENT"]
    limits = []
    for d in cgroup_dirs(parent):
        for f in ("memory.max", "memory.limit_in_bytes"):
            path = os.path.join(d, u, f)
            if os.path.exists(path):
                with open(path) as fh:
                    limits.append(int(fh.read()))
    assert str(256 << 20) in map(str, limits), limits


def test_console_attach_and_detach(zhost):
    u = create(zhost, bb(zhost))
    p = subprocess.Popen([prog("vmadm"), "console", u], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=zhost.env)
    p.stdin.write(b"echo hello-$((6*7))\n")
    p.stdin.flush()
    seen = read_until(p.stdout, b"hello-42")  # the shell answered
    p.stdin.write(b"\x1d")          # ^] detaches
    p.stdin.flush()
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert b"hello-42" in seen + out
    assert state(zhost, u) == "running"   # detaching leaves the zone up
    with open(os.path.join(zhost.root, u, "logs", "console.log"), "rb") as f:
        assert b"hello-42" in f.read()
    zhost.run("vmadm", "stop", "-F", u)
    r = zhost.fails("vmadm", "console", u)
    assert "not running" in r.err


def test_rollback_of_running_zone_restarts_it(zhost):
    u = create(zhost, bb(zhost))
    zhost.run("vmadm", "create-snapshot", u, "base")
    with open(os.path.join(zhost.root, u, "root", "etc", "marker"), "w") as f:
        f.write("x")
    zhost.run("vmadm", "rollback-snapshot", u, "base")
    assert state(zhost, u) == "running"
    assert not os.path.exists(os.path.join(zhost.root, u, "root", "etc", "marker"))


def _limit(parent, u, names):
    """The first of the files `names` found in u's cgroup, as an int."""
    for d in cgroup_dirs(parent):
        for f in names:
            path = os.path.join(d, u, f)
            if os.path.exists(path):
                with open(path) as fh:
                    v = fh.read().split()[0]
                return -1 if v == "max" else int(v)
    raise AssertionError(f"none of {names} in {u}'s cgroup")


MEM = ("memory.max", "memory.limit_in_bytes")
CAP = ("cpu.max", "cpu.cfs_quota_us")
LWPS = ("pids.max",)


def test_stopped_zone_keeps_its_cgroup_and_gets_current_limits(zhost):
    # A stopped zone keeps its cgroup tree, empty, for its next start
    # (docs/internals.md); what vmadm update changed while it was stopped
    # lands in it at that start, and vmadm delete removes it.
    parent = zhost.env["HULL_CGROUP_PARENT"]
    u = create(zhost, bb(zhost, autoboot=False, cpu_cap=50, max_lwps=100))
    zhost.run("vmadm", "start", u)
    assert _limit(parent, u, MEM) == 128 << 20
    assert _limit(parent, u, CAP) == 50000
    zhost.run("vmadm", "stop", u, "-F")
    dirs = [os.path.join(d, u) for d in cgroup_dirs(parent)]
    assert dirs and all(os.path.isdir(d) for d in dirs)
    assert cgroup_pids(f"{parent}/{u}") == set()
    assert state(zhost, u) == "stopped"
    zhost.run("vmadm", "update", u, "max_physical_memory=256", "cpu_cap=0",
              "max_lwps=300")
    assert _limit(parent, u, MEM) == 128 << 20  # not applied while stopped
    zhost.run("vmadm", "start", u)
    assert state(zhost, u) == "running"
    assert _limit(parent, u, MEM) == 256 << 20
    assert _limit(parent, u, CAP) == -1  # the cap is gone
    assert _limit(parent, u, LWPS) == 300
    assert zhost.run("zlogin", u, "echo", "hi").out.strip() == "hi"
    zhost.run("vmadm", "stop", u, "-F")
    zhost.run("vmadm", "delete", u)
    assert not any(os.path.isdir(d) for d in dirs)


def test_failed_and_killed_starts_leak_nothing(zhost):
    parent = zhost.env["HULL_CGROUP_PARENT"]
    u = create(zhost, bb(zhost, autoboot=False, init_name="/no/such/init"))
    # A start that fails: one line, autoboot left as it was, nothing runs.
    r = zhost.fails("vmadm", "start", u)
    assert "/no/such/init" in r.err, r
    vm = get(zhost, u)
    assert vm["state"] == "stopped" and vm["autoboot"] is False
    assert cgroup_pids(f"{parent}/{u}") == set()
    # The supervisor and its holder killed while the zone runs: the next
    # start kills what they left and boots in the kept tree.
    zhost.run("vmadm", "update", u, "init_name=/sbin/init")
    zhost.run("vmadm", "start", u)
    init = zhost.run("vmadm", "get", u)
    pid = json.loads(init.out)["pid"]
    os.kill(holder_pid(zhost, u), signal.SIGKILL)
    os.kill(supervisor_pid(zhost, u), signal.SIGKILL)
    assert wait_for(lambda: state(zhost, u) != "running")
    zhost.run("vmadm", "start", u)
    assert state(zhost, u) == "running"
    assert not os.path.exists(f"/proc/{pid}") or \
        pid not in cgroup_pids(f"{parent}/{u}")
    dirs = [os.path.join(d, u) for d in cgroup_dirs(parent)]
    zhost.run("vmadm", "delete", u)
    assert not any(os.path.isdir(d) for d in dirs)
    assert cgroup_pids(f"{parent}/{u}") == set()



# The libraries only image, download and firewall work needs (src/lib/dl.h)
# and the objects that come with them.
HEAVY = ("libcurl", "libarchive", "libnftables", "libxml2", "libicu",
         "libgnutls", "libldap", "libgssapi", "libcrypto", "libext2fs",
         "libcom_err")
# netlink: vmadm start does not load it; the supervisor does, to bring up
# the zone's loopback
NETLINK = ("libnl-3", "libnl-route-3")


def test_start_maps_no_image_or_firewall_library(zhost, workdir):
    """`vmadm start` of a zone without NICs, and the supervisor it starts,
    never load libcurl, libarchive, libnftables or libcrypto (nor what
    they drag in: libxml2, ICU, GnuTLS, LDAP, Kerberos) or libext2fs (a
    VM's boot loader), and vmadm does not load libnl (netlink): they are
    loaded on first use, and a start uses none of them. The dynamic loader names every object
    vmadm maps, linked or dlopen()ed (LD_DEBUG=files, on stderr); the
    supervisor, which runs on, is read in /proc/PID/maps."""
    u = create(zhost, bb(zhost, autoboot=False))
    r = zhost.run("vmadm", "start", u, env={"LD_DEBUG": "files"})
    assert state(zhost, u) == "running"
    assert "file=libjansson.so.4" in r.err  # the log is there
    for lib in HEAVY + NETLINK:
        assert f"file={lib}" not in r.err, lib
    sv = supervisor_pid(zhost, u)
    with open(f"/proc/{sv}/maps") as f:
        maps = f.read()
    assert "libjansson" in maps and "hull-supervisor" in maps
    for lib in HEAVY:
        assert f"/{lib}" not in maps, lib
    zhost.run("vmadm", "stop", u, "-F")
    # The control: making an image does load libarchive, and the log
    # shows a dlopen()ed object as it does a linked one.
    r = zhost.run("imgadm", "create", "-c", "none", "-o",
                  os.path.join(workdir, "img"), u, "name=bb2", "version=1",
                  env={"LD_DEBUG": "files"})
    assert "file=libarchive.so.13" in r.err
    assert "file=libcrypto.so.3" in r.err  # the image file's SHA-1
    # and listing the host's links loads libnl (read only)
    r = zhost.run("dladm", "show-phys", env={"LD_DEBUG": "files"})
    assert "file=libnl-route-3.so.200" in r.err
