"""Zones in user namespaces (internal_metadata "hull:userns": "true"),
driven through hull-supervisor and zlogin: the zone's root is a host uid
of the zone's own range, keeps its image's ownership on disk, holds every
capability within its namespaces and still cannot reach the host."""
import importlib
import inspect
import os
import random
import re

import pytest

from zonekit import probe, zones, wait_for, cgroup_dirs, cgroup_v2  # noqa: F401

SIZE = 65536


def userns_record(extra=None):
    """A record asking for a user namespace, with a range of its own (the
    range vmadm create would have allocated: here a random 65536-aligned
    slot well above the ids of this host)."""
    base = (0x90000000 + random.randrange(0, 0x4000) * SIZE)
    rec = {"internal_metadata": {"hull:userns": "true"},
           "hull_userns": {"uid": base, "gid": base + SIZE * 16, "count": SIZE}}
    for k, v in (extra or {}).items():
        if k == "internal_metadata":
            rec[k].update(v)
        else:
            rec[k] = v
    return rec


def proc_ids(pid):
    with open(f"/proc/{pid}/status") as f:
        st = f.read()
    uid = int(re.search(r"^Uid:\s+(\d+)", st, re.M).group(1))
    gid = int(re.search(r"^Gid:\s+(\d+)", st, re.M).group(1))
    return uid, gid


def test_init_runs_as_the_mapped_root(zones):
    z = zones.new(userns_record())
    uid, gid = z.record["hull_userns"]["uid"], z.record["hull_userns"]["gid"]
    r = z.zlogin("sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g")
    lines = [l.split() for l in r.out.splitlines()]
    assert lines[0] == ["0", str(uid), str(SIZE)]
    assert lines[1] == ["0", str(gid), str(SIZE)]
    assert lines[2] == ["0"] and lines[3] == ["0"]
    assert proc_ids(z.status()["pid"]) == (uid, gid)
    # The maps were written by the supervisor: setgroups(2) stays allowed,
    # so the zone's root can drop and take groups (login, su, daemons).
    r = z.zlogin("sh", "-c", "cat /proc/self/setgroups; "
                 "su -s /bin/sh -c 'id -u; id -G' nobody")
    assert r.out.split() == ["allow", "65534", "65534"], r
    st = os.stat(f"/proc/{z.status()['pid']}")
    assert (st.st_uid, st.st_gid) == (uid, gid)


def test_console_is_the_zones_own_pty(zones):
    z = zones.new(userns_record())
    assert wait_for(lambda: "init up" in z.console_log())
    r = z.zlogin("sh", "-c", "ls -ln /dev/console; readlink /proc/1/fd/0; "
                 "echo to-console > /dev/console")
    lines = r.out.splitlines()
    assert lines[0].startswith("c") and lines[0].split()[2:4] == ["0", "5"], r.out
    assert lines[1] == "/dev/console"
    assert wait_for(lambda: "to-console" in z.console_log())


def test_files_keep_their_ownership_on_disk(zones):
    z = zones.new(userns_record())
    z.zlogin("sh", "-c", "echo hi > /root/made; mkdir /root/dir; "
             "chown 1000:1001 /root/dir; ls -ln /etc/passwd")
    st = os.stat(os.path.join(z.rootfs, "root", "made"))
    assert (st.st_uid, st.st_gid) == (0, 0)
    st = os.stat(os.path.join(z.rootfs, "root", "dir"))
    assert (st.st_uid, st.st_gid) == (1000, 1001)
    # The image's files show as the zone root's inside.
    r = z.zlogin("stat", "-c", "%u %g", "/etc/passwd", "/bin/busybox")
    assert r.out.split() == ["0", "0", "0", "0"]


def test_zone_root_has_every_capability_in_its_namespace(zones):
    z = zones.new(userns_record())
    r = z.zlogin("grep", "-E", "^Cap(Eff|Bnd)", "/proc/self/status")
    eff, bnd = (int(l.split()[1], 16) for l in r.out.splitlines())
    assert eff & (1 << 21) and bnd & (1 << 21)  # CAP_SYS_ADMIN
    for cap in (16, 17, 19):  # sys_module, rawio, ptrace: still dropped
        assert not bnd & (1 << cap), hex(bnd)
    # It can mount what is its own, and name its own host.
    r = z.zlogin("sh", "-c", "mkdir -p /mnt/t && mount -t tmpfs t /mnt/t && "
                 "touch /mnt/t/x && umount /mnt/t && echo mounted; "
                 "hostname renamed && hostname")
    assert r.out.split() == ["mounted", "renamed"], r


def test_masks_and_read_only_binds_are_locked(zones):
    z = zones.new(userns_record())
    r = z.zlogin(
        "sh", "-c",
        "mkdir -p /mnt/p /mnt/s; "
        "mount -t proc proc /mnt/p && echo FRESHPROC; "
        "mount -t sysfs sysfs /mnt/s && ls /mnt/s/firmware | grep -q . && echo FRESHSYSFIRMWARE; "
        "umount /proc/timer_list && echo UNMASKED; "
        "umount -l /proc/sysrq-trigger && echo UNMASKED; "
        "umount /sys/firmware && echo UNMASKED; "
        "mount -o remount,rw /proc/sys && echo RW; "
        "mount --bind /proc /mnt/p && echo BOUND; "
        "mount -o remount,rw /sys && echo RW; "
        "echo x > /proc/sys/kernel/domainname && echo WROTE; "
        "echo h > /proc/sysrq-trigger && echo WROTE; "
        "cat /proc/timer_list | wc -c; "
        "true", check=False)
    for bad in ("FRESHPROC", "FRESHSYSFIRMWARE", "UNMASKED", "RW", "BOUND",
                "WROTE"):
        assert bad not in r.out, r
    # Refused by the kernel (locked mounts), not for want of a capability.
    # The kernel refuses: the fresh procfs and sysfs and the read-write
    # remounts (EPERM, busybox's "permission denied"), the unmounts and
    # the bind without the masks (EINVAL: locked mounts).
    assert r.err.count("mount: permission denied") == 4, r.err
    assert "can't unmount /proc/timer_list: Invalid argument" in r.err
    assert "can't unmount /sys/firmware: Invalid argument" in r.err
    assert "mounting /proc on /mnt/p failed: Invalid argument" in r.err
    assert r.out.split()[-1] == "0", r
    with open("/proc/sys/kernel/domainname") as f:
        assert f.read().strip() != "x"


def test_host_stays_out_of_reach(zones, probe):
    z = zones.new(userns_record(), probe=probe)
    host_file = os.path.join(z.rootfs, "host-owned")
    with open(host_file, "w") as f:
        f.write("host\n")
    os.chown(host_file, 70000, 70000)  # no id of the zone's
    os.chmod(host_file, 0o644)
    r = z.zlogin("sh", "-c",
                 "ls -ln /host-owned; echo zone >> /host-owned && echo WROTE; "
                 "mount --bind /host-owned /tmp/b 2>/dev/null || touch /tmp/b; "
                 "mount --bind /host-owned /tmp/b; echo zone >> /tmp/b && echo WROTE; "
                 "echo '0 0 4294967295' > /proc/self/uid_map && echo MAPPED; "
                 "echo '0 0 1' > /proc/1/uid_map && echo MAPPED; "
                 f"kill -0 {os.getpid()} && echo SIGNALLED; "
                 "ps -o pid | wc -l", check=False)
    assert "65534" in r.out.splitlines()[0]  # shown as nobody
    for bad in ("WROTE", "MAPPED", "SIGNALLED"):
        assert bad not in r.out, r
    with open(host_file) as f:
        assert f.read() == "host\n"
    calls = ["init_module", "finit_module", "delete_module", "kexec_load",
             "keyctl", "bpf", "unshare_user", "swapon", "open_by_handle_at"]
    r = z.zlogin("/bin/zone_probe", *calls)
    got = dict(l.split() for l in r.out.splitlines())
    assert got == {c: "EPERM" for c in calls}, got
    r = z.zlogin("/bin/zone_probe", "mknod_block", check=False)
    assert "OK" not in r.out, r


def test_cgroup_is_delegated_to_the_zone_root(zones):
    z = zones.new(userns_record())
    uid = z.record["hull_userns"]["uid"]
    for d in cgroup_dirs(z.cgroup):
        assert os.stat(os.path.join(d, "zone")).st_uid == uid
        assert os.stat(d).st_uid == 0  # the limits stay the host's
    tree = "/sys/fs/cgroup" if cgroup_v2() else "/sys/fs/cgroup/pids"
    r = z.zlogin("sh", "-c", f"mkdir {tree}/sub && echo $$ > {tree}/sub/cgroup.procs "
                 "&& echo moved; cat /proc/self/cgroup")
    assert "moved" in r.out, r
    if not cgroup_v2():
        r = z.zlogin("sh", "-c", "mkdir /sys/fs/cgroup/systemd/s && "
                     "echo $$ > /sys/fs/cgroup/systemd/s/cgroup.procs && echo moved")
        assert "moved" in r.out, r


def test_lx_uname_and_hostname(zones):
    init = "#!/bin/sh\nuname -r\nuname -v\nwhile true; do sleep 1; done\n"
    z = zones.new(userns_record({"brand": "lx", "kernel_version": "4.19.0"}),
                  init=init)
    assert wait_for(lambda: "BrandZ" in z.console_log())
    r = z.zlogin("sh", "-c", "uname -r -v; hostname renamed; uname -n")
    assert r.out.splitlines() == ["4.19.0 BrandZ virtual linux", "renamed"]


def test_docker_zone(zones):
    z = zones.new(userns_record({"docker": True, "internal_metadata": {
        "docker:cmd": '["/bin/sh","-c","echo docker-up; sleep 1000"]',
        "docker:user": "nobody"}}), init=None)
    assert wait_for(lambda: "docker-up" in z.console_log())
    r = z.zlogin("sh", "-c", "ps -o user,comm | grep sleep; cat /proc/self/uid_map")
    assert r.out.split()[:2] == ["nobody", "sleep"], r
    uid = z.record["hull_userns"]["uid"]
    assert r.out.split()[2:] == ["0", str(uid), str(SIZE)]


def test_restart_keeps_the_range(zones):
    z = zones.new(userns_record())
    uid = z.record["hull_userns"]["uid"]
    z.stop()
    z.start()
    assert proc_ids(z.status()["pid"])[0] == uid
    assert z.zlogin("id", "-u").out.strip() == "0"


def test_bad_flag_and_missing_range_are_refused(zones):
    z = zones.new({"internal_metadata": {"hull:userns": "yes"}}, start=False)
    r = z.host.fails("hull-supervisor", z.uuid)
    assert "hull:userns" in r.err
    z = zones.new({"internal_metadata": {"hull:userns": "true"}}, start=False)
    r = z.host.fails("hull-supervisor", z.uuid)
    assert "hull_userns" in r.err


# The runtime's and zlogin's own tests, run again against userns zones.

class UsernsZones:
    def __init__(self, zones):
        self.zones = zones

    def new(self, record=None, **kw):
        return self.zones.new(userns_record(record), **kw)


# The plain zones' tests, run again against zones in user namespaces.
REUSED = [
    ("test_zone_zlogin", "test_exit_status_is_passed_through"),
    ("test_zone_zlogin", "test_joins_namespaces_and_cgroup"),
    ("test_zone_zlogin", "test_pty_when_asked_or_interactive"),
    ("test_zone_zlogin", "test_cve_2024_21626_no_host_cwd_or_descriptor"),
    ("test_zone_zlogin", "test_cve_2019_5736_host_binary_is_not_writable"),
    ("test_zone_zlogin", "test_zone_never_gets_the_operators_terminal"),
    ("test_zone_zlogin", "test_stdio_without_a_pty"),
    ("test_zone_runtime", "test_dev_is_minimal"),
    ("test_zone_runtime", "test_proc_and_sys_are_masked_and_read_only"),
    ("test_zone_runtime", "test_no_host_descriptor_reaches_init"),
    ("test_zone_runtime", "test_systemd_conventions"),
    ("test_zone_runtime", "test_hostname_and_resolvers"),
    ("test_zone_runtime", "test_resolv_conf_symlink_is_replaced_not_followed"),
    ("test_zone_runtime", "test_symlinked_mountpoints_are_refused"),
    ("test_zone_supervisor", "test_console_is_logged_and_attachable"),
    ("test_zone_supervisor", "test_stop_is_graceful_and_records_exit"),
    ("test_zone_supervisor", "test_reboot_and_halt_from_inside"),
    ("test_zone_supervisor", "test_kill_9_of_holder_leaves_nothing"),
]


@pytest.mark.parametrize("module,name", REUSED, ids=[n for _, n in REUSED])
def test_userns_passes_the_plain_zone_test(zones, workdir, module, name):
    test = getattr(importlib.import_module(module), name)
    args = [UsernsZones(zones)]
    if "workdir" in inspect.signature(test).parameters:
        args.append(workdir)
    test(*args)


# vmadm: the range is allocated at create, kept, and freed at delete.

import json  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402

from conftest import prog  # noqa: E402
from test_zone_vmadm import bbhost  # noqa: F401,E402


def create(h, payload, **kw):
    r = h.run("vmadm", "create", input=json.dumps(payload), **kw)
    return r.err.split()[-1]


def vm_get(h, u):
    return json.loads(h.run("vmadm", "get", u).out)


def init_pid(h, u):
    """Init's pid, from the instance's supervisor."""
    import socket
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    try:
        s.connect(os.path.join(h.root, u, "run", "control.sock"))
        s.sendall(b'{"cmd":"status"}\n')
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    return json.loads(buf)["pid"]


def test_vmadm_allocates_distinct_ranges(bbhost):
    h = bbhost
    subuid = os.path.join(h.workdir, "subuid")
    with open(subuid, "w") as f:
        f.write("someone:100000:65536\nroot:3000000000:262144\n")
    h.env["HULL_SUBUID"] = h.env["HULL_SUBGID"] = subuid
    p = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
         "internal_metadata": {"hull:userns": "true"}}
    a, b = create(h, p), create(h, p)
    ra, rb = vm_get(h, a)["hull_userns"], vm_get(h, b)["hull_userns"]
    assert {ra["uid"], rb["uid"]} == {3000000000, 3000000000 + SIZE}
    assert ra["gid"] == ra["uid"] and ra["count"] == SIZE
    # Each zone's init runs as its own range's root.
    for u, rng in ((a, ra), (b, rb)):
        assert proc_ids(init_pid(h, u)) == (rng["uid"], rng["gid"])
        assert h.run("zlogin", u, "cat", "/proc/self/uid_map").out.split() == \
            ["0", str(rng["uid"]), str(SIZE)]
    # A plain zone gets none.
    c = create(h, {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image})
    assert "hull_userns" not in vm_get(h, c)
    # Restarts keep it; delete frees it for the next create.
    h.run("vmadm", "stop", a)
    h.run("vmadm", "start", a)
    assert vm_get(h, a)["hull_userns"] == ra
    assert proc_ids(init_pid(h, a))[0] == ra["uid"]
    h.run("vmadm", "delete", a)
    d = create(h, p)
    assert vm_get(h, d)["hull_userns"] == ra
    # The pool (four ranges) is spent after four.
    create(h, dict(p, autoboot=False))
    create(h, dict(p, autoboot=False))
    r = h.fails("vmadm", "create", input=json.dumps(p))
    assert "no free range" in r.err


def test_vmadm_concurrent_creates_get_distinct_ranges(bbhost):
    h = bbhost
    p = json.dumps({"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image, "autoboot": False,
                    "internal_metadata": {"hull:userns": "true"}})
    outs = []

    def one():
        cp = subprocess.run([prog("vmadm"), "create"], input=p, text=True,
                            capture_output=True, env=h.env, timeout=120)
        outs.append(cp)

    ts = [threading.Thread(target=one) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(cp.returncode == 0 for cp in outs), outs
    uuids = [cp.stderr.split()[-1] for cp in outs]
    uids = {vm_get(h, u)["hull_userns"]["uid"] for u in uuids}
    assert len(uids) == 4


def test_vmadm_refuses_bad_values_and_changes(bbhost):
    h = bbhost
    p = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image, "autoboot": False,
         "internal_metadata": {"hull:userns": "maybe"}}
    r = h.fails("vmadm", "create", input=json.dumps(p))
    assert "internal_metadata hull:userns" in r.err
    assert h.run("vmadm", "list", "-H").out.strip() == ""
    # validate refuses what create refuses, also a VM in a user namespace
    r = h.fails("vmadm", "validate", "create", input=json.dumps(p))
    assert "internal_metadata hull:userns" in r.err
    vm = {"brand": "bhyve", "ram": 256, "vcpus": 1,
          "internal_metadata": {"hull:userns": "true"}}
    r = h.fails("vmadm", "validate", "create", input=json.dumps(vm))
    assert "only zones run in user namespaces" in r.err
    p["internal_metadata"]["hull:userns"] = "true"
    # A payload cannot choose its id range: like any property SmartOS does
    # not know, it is dropped with a warning, and hull allocates the range.
    p["hull_userns"] = {"uid": 1, "gid": 1, "count": SIZE}
    r = h.run("vmadm", "create", input=json.dumps(p))
    assert "hull_userns" in r.err
    u = re.search(r"Successfully created VM ([0-9a-f-]{36})", r.err).group(1)
    rec = json.loads(h.run("vmadm", "get", u).out)["hull_userns"]
    assert rec["uid"] != 1 and rec["gid"] != 1, rec
    r = h.fails("vmadm", "update", u,
                input=json.dumps({"set_internal_metadata": {"hull:userns": "false"}}))
    assert "hull:userns" in r.err and "fixed at create" in r.err
    r = h.fails("vmadm", "update", u,
                input=json.dumps({"remove_internal_metadata": ["hull:userns"]}))
    assert "hull:userns" in r.err
    # Other internal_metadata stays updatable.
    h.run("vmadm", "update", u,
          input=json.dumps({"set_internal_metadata": {"other": "x"}}))
    plain = create(h, {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image, "autoboot": False})
    r = h.fails("vmadm", "update", plain,
                input=json.dumps({"set_internal_metadata": {"hull:userns": "true"}}))
    assert "fixed at create" in r.err


# Networking: the supervisor plugs a nic into a netns the zone's user
# namespace owns; the zone's root manages it.

from test_wire_zones import wire, bb, HOST4  # noqa: F401,E402


def test_userns_zone_on_the_wire(wire):
    a = wire.create(bb(wire, "192.0.2.31",
                       internal_metadata={"hull:userns": "true"}))
    b = wire.create(bb(wire, "192.0.2.32"))
    assert wire.ping(a, "192.0.2.32")
    assert wire.ping(b, "192.0.2.31")
    assert wire.ping(a, HOST4)
    assert "192.0.2.31/24" in wire.zlogin(a, "ip", "addr", "show", "eth0").stdout
    # Its own network stack, changed by its own root.
    wire.zlogin(a, "ip", "addr", "add", "198.51.100.31/24", "dev", "eth0")
    assert "198.51.100.31/24" in wire.zlogin(a, "ip", "addr").stdout
    wire.zlogin(a, "sysctl", "-w", "net.ipv4.ip_forward=1")
    wire.run("vmadm", "stop", a)
    assert wire.ports_of(a) == []
    wire.run("vmadm", "start", a)
    assert wire.ping(a, "192.0.2.32")


def test_images_and_snapshots_of_a_userns_zone_are_plain(bbhost):
    """The zone's files keep the image's ownership on disk: an image made
    from it (and a snapshot of it) serves a plain zone unchanged."""
    h = bbhost
    u = create(h, {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
                   "internal_metadata": {"hull:userns": "true"}})
    h.run("zlogin", u, "sh", "-c", "echo made > /etc/motd; mkdir /home/u; "
          "chown 1000:1000 /home/u")
    h.run("vmadm", "create-snapshot", u, "s1")
    h.run("zlogin", u, "rm", "/etc/motd")
    h.run("vmadm", "rollback-snapshot", u, "s1")  # stops it
    st = os.stat(os.path.join(h.root, u, "root", "etc", "motd"))
    assert (st.st_uid, st.st_gid) == (0, 0)
    if vm_get(h, u)["state"] != "stopped":
        h.run("vmadm", "stop", u)
    prefix = os.path.join(h.workdir, "fromuserns")
    h.run("imgadm", "create", "-c", "none", "-o", prefix, u,
          "name=fromuserns", "version=1")
    with open(prefix + ".imgmanifest") as f:
        img = json.load(f)["uuid"]
    h.run("imgadm", "install", "-m", prefix + ".imgmanifest", "-f", prefix + ".tar")
    p = create(h, {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": img})
    r = h.run("zlogin", p, "stat", "-c", "%u:%g", "/etc/motd", "/home/u")
    assert r.out.split() == ["0:0", "1000:1000"]
    # ... and a userns zone from it sees the same.
    n = create(h, {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": img,
                   "internal_metadata": {"hull:userns": "true"}})
    r = h.run("zlogin", n, "stat", "-c", "%u:%g", "/etc/motd", "/home/u")
    assert r.out.split() == ["0:0", "1000:1000"]
