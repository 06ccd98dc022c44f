"""HVM instances through vmadm (issue 7): the Linux guest image
(scripts/mkimage-linux-vm) installed as a zvol image, created and started
under the kvm brand (QEMU, TCG where /dev/kvm runs only small guests),
its console, its metadata on COM2, a clean stop through the power button,
delete; bad payloads refused with nothing created."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

import skips
import hvmlib
from hvmlib import make_guest_disk
from conftest import prog
from zonekit import Zones, install_busybox

READY = "hull-guest: ready"


def qemu_present():
    return any(os.access(os.path.join(d, "qemu-system-x86_64"), os.X_OK)
               for d in os.environ.get("PATH", "").split(":"))


@pytest.fixture
def vmhost(btrfs_pool):
    """A btrfs pool with the guest images installed, its own cgroup
    parent, and every instance deleted afterwards."""
    if not qemu_present():
        pytest.fail("qemu-system-x86_64 is not installed: run scripts/deps")
    h = btrfs_pool
    zs = Zones(h)
    h.images = {}
    try:
        yield h
    finally:
        for u in h.run("vmadm", "list", "-H", "-o", "uuid",
                       check=False).out.split():
            h.run("vmadm", "delete", u, check=False)
        zs.cleanup()


def install(h, variant="grub", table="mbr"):
    _, manifest, zvol = hvmlib.guest_image(variant, table)
    with open(manifest) as f:
        uuid = json.load(f)["uuid"]
    if uuid not in h.images:
        h.run("imgadm", "install", "-m", manifest, "-f", zvol)
        h.images[uuid] = variant
    return uuid


def create(h, payload):
    r = h.run("vmadm", "create", input=json.dumps(payload), timeout=180)
    return r.err.split("Successfully created VM ")[1].split()[0]


def new_bhyve_test_vm(h, **payload):
    """A stopped bhyve VM with an 8 MiB boot disk, for hull-vmm's test
    guest (tests/guest), which this host's KVM runs where it runs no stock
    Linux: HULL_TEST_KVM_SMALL lets the bhyve brand use it. Skips where
    /dev/kvm cannot run even that. Returns (uuid, boot disk path)."""
    import vmmlib
    why = vmmlib.kvm_unusable()
    if why is not None:
        skips.skip("no-kvm", why)
    h.env["HULL_TEST_KVM_SMALL"] = "1"
    u = create(h, {"brand": "bhyve", "ram": 64, "autoboot": False,
                   "disks": [{"size": 8, "boot": True}], **payload})
    return u, json.loads(h.run("vmadm", "get", u).out)["disks"][0]["path"]


def state(h, u):
    return h.run("vmadm", "list", "-H", "-o", "state",
                 f"uuid={u}").out.strip()


def console_log(h, u):
    p = os.path.join(h.root, u, "logs", "console.log")
    try:
        with open(p, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_console(h, u, want, timeout=90):
    end = time.monotonic() + timeout
    while want not in console_log(h, u):
        if time.monotonic() > end:
            raise AssertionError(f"no {want!r} in the console log after "
                                 f"{timeout}s:\n{console_log(h, u)[-3000:]}")
        time.sleep(0.1)


def emulator_pid(h, u):
    with open(os.path.join(h.root, u, "run", "supervisor.pid")) as f:
        sv = f.read().strip()
    # the others are the unprivileged helpers (supervisor/privsep.h): the
    # metadata server and its keeper (in the instance's cgroup) and a kvm
    # VM's VNC relay. The metadata server is forked after vmadm start
    # returns: until it has exec'd it is a second "hull-supervisor" child,
    # so look again for a moment.
    t0 = time.time()
    while True:
        kids = []
        for t in os.listdir(f"/proc/{sv}/task"):
            with open(f"/proc/{sv}/task/{t}/children") as f:
                kids += f.read().split()
        kids = [k for k in kids
                if open(f"/proc/{k}/comm").read().strip() not in
                ("hull-metadata", "hull-md-keeper", "hull-vnc")]
        if len(kids) == 1 or time.time() - t0 > 5:
            break
        time.sleep(0.05)
    assert len(kids) == 1, kids
    return int(kids[0])


def record(h, u):
    with open(os.path.join(h.root, u, "config", "vm.json")) as f:
        return json.load(f)


def status_ids(pid):
    """/proc/PID/status's Uid and Gid (real, effective, saved, fs)."""
    with open(f"/proc/{pid}/status") as f:
        ids = dict(l.split(":", 1) for l in f.read().splitlines()
                   if l.startswith(("Uid:", "Gid:")))
    return ids["Uid"].split(), ids["Gid"].split()


def assert_runs_as_instance(h, u, pid):
    """The emulator runs as the first uid and gid of the instance's id
    range (hull_userns), not root."""
    ids = record(h, u)["hull_userns"]
    assert ids["uid"] > 0 and ids["gid"] > 0, ids
    assert status_ids(pid) == ([str(ids["uid"])] * 4, [str(ids["gid"])] * 4)
    return ids


def test_kvm_guest_boots_serves_metadata_and_powers_off(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "alias": "linux", "ram": 256,
                   "disks": [{"image_uuid": img, "boot": True}]})
    vm = json.loads(h.run("vmadm", "get", u).out)
    disk = vm["disks"][0]
    assert disk["path"] == os.path.join(h.root, u, "disks", "disk0.img")
    assert (disk["model"], disk["image_size"]) == ("virtio", 64)
    assert vm["cpu_type"] == "qemu64"        # from the image's manifest
    assert os.path.getsize(disk["path"]) == 64 << 20
    assert state(h, u) == "running"
    wait_console(h, u, READY)
    log = console_log(h, u)
    # mdata-get inside the guest, over COM2, answered by the supervisor
    assert f"hull-guest: uuid={u}" in log
    assert "hull.test=grub" in log           # grub.cfg's default entry
    # QEMU runs double-hulled: its own pid and network namespaces, a root
    # without the host's files, in the instance's cgroup.
    qemu = emulator_pid(h, u)
    for ns in ("pid", "net", "mnt"):
        assert os.readlink(f"/proc/{qemu}/ns/{ns}") != \
            os.readlink(f"/proc/self/ns/{ns}")
    assert not os.path.exists(f"/proc/{qemu}/root/etc/passwd")
    assert os.path.exists(f"/proc/{qemu}/root{disk['path']}")
    assert f"/{u}" in open(f"/proc/{qemu}/cgroup").read()
    # ... as the instance's own uid, which owns its disk, not root
    ids = assert_runs_as_instance(h, u, qemu)
    assert os.stat(disk["path"]).st_uid == ids["uid"]
    # vmadm console relays COM1 both ways
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(h.root, u, "run", "console.sock"))
    sock.sendall(b"hello\n")
    sock.settimeout(20)
    got = b""
    while b"unknown command 'hello'" not in got:
        data = sock.recv(4096)
        assert data, got
        got += data
    sock.close()
    # stop: the power button; the guest's init powers off cleanly
    h.run("vmadm", "stop", u, "-t", "60", timeout=90)
    assert state(h, u) == "stopped"
    assert "hull-guest: powering off" in console_log(h, u)
    sv = open(os.path.join(h.root, u, "logs", "supervisor.log")).read()
    assert "did not stop in time" not in sv
    h.run("vmadm", "delete", u)
    assert not os.path.exists(os.path.join(h.root, u))


def test_vm_metadata_sockets_refuse_host_users(vmhost):
    """As an unprivileged host user, neither of a VM's metadata sockets
    serves anything: the supervisor's (run/zonecontrol/metadata.sock)
    hangs up on anyone but the instance and host root, and the emulator's
    COM2 (run/vm/ttyb.sock) is in the emulator's own folder. The guest
    still reads its metadata over COM2."""
    import test_metadata_access as mda
    h = vmhost
    img = install(h)
    client = mda.build_client(h.workdir)
    u = create(h, {"brand": "kvm", "ram": 256,
                   "customer_metadata": {"user-script": "echo secret"},
                   "disks": [{"image_uuid": img, "boot": True}]})
    wait_console(h, u, READY)
    assert f"hull-guest: uuid={u}" in console_log(h, u)  # mdata-get, COM2
    run = os.path.join(h.root, u, "run")
    mda.reachable(h.workdir, h.root, os.path.join(h.root, u), run)
    sock = os.path.join(run, "zonecontrol", "metadata.sock")
    for line in ("GET user-script",
                 mda.put("root_authorized_keys", "ssh-ed25519 AAAA evil")):
        assert mda.nobody(client, "send", sock, line) == "closed"
    ttyb = os.path.join(run, "vm", "ttyb.sock")
    assert mda.nobody(client, "send", ttyb, "GET user-script") == \
        "connect: Permission denied"
    assert "root_authorized_keys" not in record(h, u)["customer_metadata"]
    h.run("vmadm", "stop", u, "-F", timeout=90)


def test_newest_kernel_and_forced_stop(vmhost):
    h = vmhost
    img = install(h, "newest", "gpt")
    u = create(h, {"brand": "kvm", "ram": 256,
                   "disks": [{"image_uuid": img, "boot": True},
                             {"size": 16}]})
    wait_console(h, u, READY)
    assert "hull.test=grub" not in console_log(h, u)
    assert "vmlinuz-99.0-decoy" not in console_log(h, u)
    extra = json.loads(h.run("vmadm", "get", u).out)["disks"][1]["path"]
    st = os.stat(extra)
    assert st.st_size == 16 << 20 and st.st_blocks == 0   # sparse
    # reboot: power button, then QEMU again (the boot loader runs again)
    h.run("vmadm", "reboot", u, timeout=90)
    assert state(h, u) == "running"
    end = time.monotonic() + 60
    while console_log(h, u).count(READY) < 2:
        assert time.monotonic() < end, console_log(h, u)[-3000:]
        time.sleep(0.1)
    h.run("vmadm", "stop", "-F", u, timeout=60)
    assert state(h, u) == "stopped"
    sv = open(os.path.join(h.root, u, "logs", "supervisor.log")).read()
    assert sv.count("QEMU started") == 2


def test_no_kernel_refused_at_start(vmhost):
    h = vmhost
    img = install(h, "nokernel", "mbr")
    u = create(h, {"brand": "kvm", "autoboot": False,
                   "disks": [{"image_uuid": img, "boot": True}]})
    r = h.fails("vmadm", "start", u)
    assert "no kernel found" in r.err
    assert state(h, u) == "stopped"


@pytest.mark.parametrize("payload,prop", [
    ({"disks": [{"image_uuid": "IMG", "path": "/etc/passwd"}]}, "path"),
    ({"disks": [{"image_uuid": "IMG", "model": "floppy"}]}, "model"),
    ({"disks": [{"image_uuid": "IMG"}], "vcpus": 300}, "vcpus"),
    ({"disks": [{"image_uuid": "IMG"}], "ram": 1 << 40}, "ram"),
    ({"disks": "nope"}, "disks"),
    ({"disks": [{"size": 16}], "nics": "nope"}, "nics"),
    ({"disks": [{"image_uuid": "00000000-0000-4000-8000-000000000001"}]},
     "image"),
])
def test_bad_payloads_refused_nothing_created(vmhost, payload, prop):
    h = vmhost
    img = install(h)
    p = json.loads(json.dumps(payload).replace("IMG", img))
    p["brand"] = "kvm"
    before = sorted(os.listdir(h.root))
    r = h.fails("vmadm", "create", input=json.dumps(p))
    assert prop in r.err.lower(), r.err
    assert sorted(os.listdir(h.root)) == before
    assert h.run("vmadm", "list", "-H").out.strip() == ""


def test_wrong_image_type_refused(vmhost, workdir):
    # A zone image (a busybox tarball) is not a disk.
    h = vmhost
    img = install_busybox(h.run, os.path.join(workdir, "bb"))
    r = h.fails("vmadm", "create", input=json.dumps(
        {"brand": "kvm", "disks": [{"image_uuid": img}]}))
    assert "zvol" in r.err and "disks.0" in r.err
    assert h.run("vmadm", "list", "-H").out.strip() == ""


def test_bhyve_boots_linux(vmhost):
    cpu = open("/proc/cpuinfo").read()
    if " vmx" not in cpu and " svm" not in cpu:
        skips.skip("no-hw-virt", "this host's KVM runs small guests only: "
                    "hull-vmm cannot boot stock Linux here")
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "bhyve", "ram": 256,
                   "disks": [{"image_uuid": img, "boot": True}]})
    wait_console(h, u, READY)
    assert f"hull-guest: uuid={u}" in console_log(h, u)
    h.run("vmadm", "stop", "-F", u, timeout=60)
    assert state(h, u) == "stopped"


def test_bhyve_linux_needs_hardware_virtualization(vmhost):
    cpu = open("/proc/cpuinfo").read()
    if " vmx" in cpu or " svm" in cpu:
        skips.skip("has-hw-virt", "the bhyve "
                    "Linux boot is not yet wired for it here")
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "bhyve", "autoboot": False,
                   "disks": [{"image_uuid": img, "boot": True}]})
    r = h.fails("vmadm", "start", u)
    assert "hardware virtualization" in r.err
    assert state(h, u) == "stopped"


def test_kvm_guest_network_over_tap(vmhost):
    # The nic is a tap on the tag's bridge; the guest configures eth0
    # from sdc:nics over metadata and answers a ping from the host side.
    from nethelp import NetHost
    h = vmhost
    img = install(h)
    net = NetHost(h)
    try:
        net.run("nictagadm", "add", "-l", "stub0")
        net.ip("ip", "addr", "add", "192.0.2.254/24", "dev", "hbstub0")
        p = {"brand": "kvm", "ram": 256,
             "disks": [{"image_uuid": img, "boot": True}],
             "nics": [{"nic_tag": "stub0", "ips": ["192.0.2.10/24"],
                       "gateways": ["192.0.2.254"], "primary": True}]}
        cp = subprocess.run(["ip", "netns", "exec", net.ns,
                             prog("vmadm"), "create"], input=json.dumps(p),
                            capture_output=True, text=True, env=h.env,
                            timeout=180)
        assert cp.returncode == 0, cp.stderr
        u = cp.stderr.split("Successfully created VM ")[1].split()[0]
        vm = json.loads(h.run("vmadm", "get", u).out)
        mac = vm["nics"][0]["mac"]
        port = f"hv{u[:8]}0"
        links = net.links()
        assert links[port]["master"] == "hbstub0"
        assert links[port]["linkinfo"]["info_kind"] == "tun"
        wait_console(h, u, READY)
        assert "hull-guest: addr=192.0.2.10/24" in console_log(h, u)
        assert net.ping(None, "192.0.2.10", count=3)
        neigh = net.ip("ip", "neigh", "show", "192.0.2.10").stdout
        assert mac in neigh
        r = subprocess.run(["ip", "netns", "exec", net.ns, prog("vmadm"),
                            "stop", u], capture_output=True, text=True,
                           env=h.env, timeout=90)
        assert r.returncode == 0, r.stderr
        assert port not in net.links()
    finally:
        net.close()


def test_update_running_vm(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "disks": [{"image_uuid": img}]})
    h.run("vmadm", "update", u, "alias=renamed", "cpu_cap=50")
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert (vm["alias"], vm["cpu_cap"]) == ("renamed", 50)
    assert state(h, u) == "running"
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_bhyve_boots_the_test_guest_double_hulled(vmhost, workdir):
    # hull-vmm's own test guest (new_bhyve_test_vm). Its disk: a bare
    # ext4 filesystem whose grub.cfg boots the guest waiting for the ACPI
    # power button, which vmadm stop presses.
    h = vmhost
    u, disk = new_bhyve_test_vm(h)
    make_guest_disk(workdir, disk, "test=acpibutton")
    kvm = os.stat("/dev/kvm")
    h.run("vmadm", "start", u)
    wait_console(h, u, "waiting for the power button", 30)
    assert "hull-guest: ready" in console_log(h, u)
    vmm = emulator_pid(h, u)
    assert os.readlink(f"/proc/{vmm}/exe").endswith("hull-vmm")
    for ns in ("pid", "net", "mnt"):
        assert os.readlink(f"/proc/{vmm}/ns/{ns}") != \
            os.readlink(f"/proc/self/ns/{ns}")
    assert not os.path.exists(f"/proc/{vmm}/root/etc/passwd")
    assert os.path.exists(f"/proc/{vmm}/root{disk}")
    ids = assert_runs_as_instance(h, u, vmm)
    # its own /dev/kvm node, 0600; the host's is left as it was
    st = os.stat(f"/proc/{vmm}/root/dev/kvm")
    assert (st.st_uid, st.st_mode & 0o777) == (ids["uid"], 0o600)
    after = os.stat("/dev/kvm")
    assert (after.st_uid, after.st_gid, after.st_mode, after.st_rdev) == \
        (kvm.st_uid, kvm.st_gid, kvm.st_mode, kvm.st_rdev)
    h.run("vmadm", "stop", u, "-t", "30", timeout=60)
    assert state(h, u) == "stopped"
    assert "hull-guest: PASS acpibutton" in console_log(h, u)
    sv = open(os.path.join(h.root, u, "logs", "supervisor.log")).read()
    assert "did not stop in time" not in sv
    # an instance created before HVM instances had an id range (its
    # record has no hull_userns, its files are root's) still starts, its
    # emulator as root without capabilities, as then
    rec = record(h, u)
    del rec["hull_userns"]
    with open(os.path.join(h.root, u, "config", "vm.json"), "w") as f:
        json.dump(rec, f)
    for dirpath, dirs, files in os.walk(os.path.join(h.root, u)):
        for n in dirs + files:
            os.lchown(os.path.join(dirpath, n), 0, 0)
    h.run("vmadm", "start", u)
    wait_console(h, u, "waiting for the power button", 30)
    vmm = emulator_pid(h, u)
    assert status_ids(vmm) == (["0"] * 4, ["0"] * 4)
    h.run("vmadm", "stop", u, "-t", "30", timeout=60)
    assert state(h, u) == "stopped"


def test_hvm_instances_get_their_own_ids_released_on_delete(vmhost):
    """Each HVM instance gets an id range of its own at create (the
    userns allocator's, recorded as hull_userns); delete releases it."""
    h = vmhost
    pay = {"brand": "bhyve", "ram": 64, "autoboot": False,
           "disks": [{"size": 8, "boot": True}]}
    a = create(h, pay)
    b = create(h, dict(pay, brand="kvm"))
    ia, ib = record(h, a)["hull_userns"], record(h, b)["hull_userns"]
    assert ia["uid"] > 0 and ib["uid"] > 0
    assert ia["uid"] != ib["uid"] and ia["gid"] != ib["gid"]
    assert ia["count"] == ib["count"] == 65536
    assert json.loads(h.run("vmadm", "get", a).out)["hull_userns"] == ia
    h.run("vmadm", "delete", a)
    c = create(h, pay)
    assert record(h, c)["hull_userns"] == ia


def boot_bhyve_test_guest(h, workdir, args="test=acpibutton",
                          wait="waiting for the power button", **payload):
    """A running bhyve VM whose test guest (new_bhyve_test_vm) has the
    command line args, once wait is on its console (by default: waiting
    for the ACPI power button). Returns (uuid, boot disk path)."""
    u, disk = new_bhyve_test_vm(h, **payload)
    make_guest_disk(workdir, disk, args)
    h.run("vmadm", "start", u)
    wait_console(h, u, wait, 90)
    return u, disk


def instance_cgroup(h, u):
    return f"{h.env['HULL_CGROUP_PARENT']}/{u}"


@pytest.mark.parametrize("brand", ["bhyve", "kvm"])
def test_killed_supervisor_leaves_its_emulator_to_the_adopter(vmhost, workdir,
                                                              brand):
    """kill -9 of a VM's supervisor: its emulator (hull-vmm, QEMU) runs on
    in the holder's care, a new supervisor adopts it, and that one's stop
    leaves nothing (docs/internals.md, "The holder")."""
    from zonekit import cgroup_pids, pid_alive
    h = vmhost
    if brand == "bhyve":
        u, _ = boot_bhyve_test_guest(h, workdir)
    else:
        u = create(h, {"brand": "kvm", "ram": 256,
                       "disks": [{"image_uuid": install(h)}]})
        wait_console(h, u, READY)
    assert state(h, u) == "running"
    with open(os.path.join(h.root, u, "run", "supervisor.pid")) as f:
        sv = int(f.read())
    emu = emulator_pid(h, u)
    assert emu in cgroup_pids(instance_cgroup(h, u))
    os.kill(sv, signal.SIGKILL)
    # The emulator keeps running; a new supervisor adopts it at once.
    end = time.monotonic() + 5
    while True:
        with open(os.path.join(h.root, u, "run", "supervisor.pid")) as f:
            now = int(f.read() or 0)
        if now != sv and pid_alive(now) and state(h, u) == "running":
            break
        assert pid_alive(emu), "the emulator died with its supervisor"
        assert time.monotonic() < end, "no supervisor adopted the VM"
        time.sleep(0.05)
    assert pid_alive(emu) and emu in cgroup_pids(instance_cgroup(h, u))
    # The adopter stops it, and nothing is left.
    h.run("vmadm", "stop", "-F", u, timeout=60)
    assert state(h, u) == "stopped" and not pid_alive(emu)
    assert not cgroup_pids(instance_cgroup(h, u))
    # and the VM starts again
    if brand == "bhyve":
        h.run("vmadm", "start", u)
        wait_console(h, u, "waiting for the power button", 30)
        h.run("vmadm", "stop", u, "-t", "30", timeout=60)
        assert state(h, u) == "stopped"


def leave_a_writer(h, u, disk):
    """What a killed supervisor's emulator was before the fix: a process
    in the instance's cgroup, no supervisor, the disk open for writing."""
    from zonekit import CG, cgroup_v2
    rel = instance_cgroup(h, u)
    d = os.path.join(CG, rel) if cgroup_v2() else os.path.join(CG, "pids", rel)
    os.makedirs(d, exist_ok=True)
    with open(disk, "r+b") as f:
        p = subprocess.Popen(["sleep", "600"], stdin=f)
    with open(os.path.join(d, "cgroup.procs"), "w") as f:
        f.write(str(p.pid))
    return p


def test_leftovers_of_a_killed_supervisor_are_down_and_killed_first(vmhost):
    """An emulator left without its supervisor makes the instance down
    (never stopped); what changes its disks (update_disks, add_disks,
    start, delete) kills it first, as vmadm stop -F does; imgadm create
    refuses.
    (rollback-snapshot, for OS brands only, stops the instance first.)"""
    h = vmhost
    u = create(h, {"brand": "bhyve", "ram": 64, "autoboot": False,
                   "disks": [{"size": 8, "boot": True}]})
    disk = json.loads(h.run("vmadm", "get", u).out)["disks"][0]["path"]
    w = leave_a_writer(h, u, disk)
    try:
        assert state(h, u) == "down"
        vm = json.loads(h.run("vmadm", "get", u).out)
        assert (vm["state"], vm["zone_state"]) == ("down", "down")
        r = h.fails("imgadm", "create", "-o",
                    os.path.join(h.workdir, "img"), u, "name=x")
        assert "is down: stop it before making an image" in r.err
        assert w.poll() is None
        h.run("vmadm", "update", u, input=json.dumps(
            {"update_disks": [{"path": disk, "size": 16}]}))
        assert w.wait(5) == -signal.SIGKILL
        assert os.path.getsize(disk) == 16 << 20
        assert state(h, u) == "stopped"

        w = leave_a_writer(h, u, disk)
        h.run("vmadm", "update", u, input=json.dumps(
            {"add_disks": [{"size": 8}]}))
        assert w.wait(5) == -signal.SIGKILL

        # start kills them before anything else, even a start that fails
        # (this empty disk boots nothing)
        w = leave_a_writer(h, u, disk)
        r = h.run("vmadm", "start", u, check=False)
        assert w.wait(5) == -signal.SIGKILL, r
        h.run("vmadm", "stop", "-F", u)
        assert state(h, u) == "stopped"

        w = leave_a_writer(h, u, disk)
        h.run("vmadm", "stop", "-F", u)
        assert w.wait(5) == -signal.SIGKILL
        assert state(h, u) == "stopped"

        w = leave_a_writer(h, u, disk)
        h.run("vmadm", "delete", u)
        assert w.wait(5) == -signal.SIGKILL
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()


def test_bhyve_guest_reads_a_100k_user_script_whole(vmhost, workdir):
    """Metadata over COM2 through the supervisor: a 100 KiB user-script
    (25 times hull-vmm's receive ring) reaches the test guest whole; the
    guest reports the length and FNV-1a hash of what it read."""
    from test_vmm_guest import big_value, fnv1a
    h = vmhost
    value = big_value(100 * 1024, 7)
    u, _ = boot_bhyve_test_guest(
        h, workdir, "test=mdget key=user-script", "hull-guest: PASS mdget",
        customer_metadata={"user-script": value.decode()})
    assert (f"mdget: {len(value)} bytes fnv {fnv1a(value):x}"
            in console_log(h, u))
    h.run("vmadm", "delete", u)


def test_kvm_under_ip_netns_exec_runs_in_its_cgroup(vmhost):
    # `ip netns exec` hides /sys/fs/cgroup; the VM created and stopped
    # from there still runs in its cgroup in the host's tree, limited,
    # its state the same inside and outside, and leaves nothing.
    from nethelp import NetHost
    from zonekit import cgroup_dirs, cgroup_file, cgroup_pids, cgroup_v2
    h = vmhost
    img = install(h)
    net = NetHost(h)

    def in_ns(*args, input=None):
        return subprocess.run(["ip", "netns", "exec", net.ns,
                               prog("vmadm"), *args], input=input,
                              capture_output=True, text=True, env=h.env,
                              timeout=180)
    try:
        p = {"brand": "kvm", "ram": 256, "cpu_cap": 50,
             "disks": [{"image_uuid": img, "boot": True}]}
        cp = in_ns("create", input=json.dumps(p))
        assert cp.returncode == 0, cp.stderr
        u = cp.stderr.split("Successfully created VM ")[1].split()[0]
        rel = f"{h.env['HULL_CGROUP_PARENT']}/{u}"
        qemu = emulator_pid(h, u)
        assert qemu in cgroup_pids(rel)
        if cgroup_v2():
            assert cgroup_file(rel, "", "cpu.max") == "50000 100000"
            mem = int(cgroup_file(rel, "", "memory.max"))
        else:
            assert cgroup_file(rel, "cpu", "cpu.cfs_quota_us") == "50000"
            mem = int(cgroup_file(rel, "memory", "memory.limit_in_bytes"))
        assert 256 << 20 < mem < 1 << 30     # the guest's RAM and overhead
        assert state(h, u) == "running"
        cp = in_ns("list", "-H", "-o", "state", f"uuid={u}")
        assert cp.stdout.strip() == "running", cp
        # metadata over COM2 from the emulator in the instance's cgroup
        wait_console(h, u, READY)
        assert f"hull-guest: uuid={u}" in console_log(h, u)
        cp = in_ns("stop", u, "-F")
        assert cp.returncode == 0, cp.stderr
        assert state(h, u) == "stopped"
        assert not cgroup_pids(rel)
        cp = in_ns("delete", u)
        assert cp.returncode == 0, cp.stderr
        assert not cgroup_dirs(rel)
        assert not os.path.exists(os.path.join(h.root, u))
    finally:
        net.close()


def test_running_vm_object(vmhost, workdir):
    """A running VM's object: pid is its emulator's (as the host sees
    it), zoneid the number of the emulator's pid namespace,
    boot_timestamp when it started; after a stop, exit_timestamp and no
    pid; info status agrees."""
    import datetime
    h = vmhost
    u, disk = new_bhyve_test_vm(h)
    make_guest_disk(workdir, disk, "test=acpibutton")
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert vm["state"] == "stopped" and "pid" not in vm
    assert vm["snapshots"] == []
    t0 = time.time()
    h.run("vmadm", "start", u)
    wait_console(h, u, "waiting for the power button", 30)
    vm = json.loads(h.run("vmadm", "get", u).out)
    vmm = emulator_pid(h, u)
    assert vm["pid"] == vmm
    assert vm["zoneid"] == os.stat(f"/proc/{vmm}/ns/pid").st_ino
    boot = datetime.datetime.strptime(
        vm["boot_timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert t0 - 1 <= boot <= time.time() + 1
    assert "exit_status" not in vm
    vm_boot = vm["boot_timestamp"]
    row = h.run("vmadm", "list", "-p", "-o", "pid,zoneid",
                f"uuid={u}").out.strip()
    assert row == f"{vmm}:{vm['zoneid']}"
    st = json.loads(h.run("vmadm", "info", u, "status").out)["status"]
    assert (st["pid"], st["boot_timestamp"]) == (vmm, vm["boot_timestamp"])
    h.run("vmadm", "stop", u, "-t", "30", timeout=60)
    vm = json.loads(h.run("vmadm", "get", u).out)
    for k in ("pid", "zoneid", "boot_timestamp"):
        assert k not in vm, k
    # the guest powered off: its emulator exited 0
    assert vm["exit_status"] == 0
    assert vm["exit_timestamp"] >= vm_boot
