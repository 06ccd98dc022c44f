"""Memory snapshots through vmadm (issue 17): `vmadm create-snapshot -m`
of a running bhyve or kvm VM keeps its memory and device state with its
disks, and `vmadm rollback-snapshot` resumes the guest where it stood.
The bhyve guest is hull-vmm's test guest counting on its console
(test=count); the kvm guest is the Linux guest image (QEMU, TCG where
/dev/kvm runs only small guests), whose shell keeps a variable and a
running `sleep` across the rollback."""
import json
import os
import re
import socket
import subprocess
import time

from test_hvm_vmadm import (READY, boot_bhyve_test_guest, console_log,
                            create, install, record, state, wait_console,
                            vmhost)  # noqa: F401 (a fixture)

COUNT = re.compile(r"^count: (\d+)$", re.M)


def counts(h, u):
    return [int(n) for n in COUNT.findall(console_log(h, u))]


def wait_count(h, u, above, timeout=60):
    end = time.monotonic() + timeout
    while True:
        c = counts(h, u)
        if c and c[-1] > above:
            return c[-1]
        assert time.monotonic() < end, \
            f"count stuck at {c[-1:]}:\n{console_log(h, u)[-2000:]}"
        time.sleep(0.05)


def test_rollback_resumes_the_guest_from_the_snapshot(vmhost, workdir):
    h = vmhost
    u, _ = boot_bhyve_test_guest(h, workdir, "test=count delay=5000",
                                 wait="count: 5")
    r = h.run("vmadm", "create-snapshot", "--memory", u, "live")
    assert f"Created snapshot live for VM {u}" in r.err
    saved = counts(h, u)[-1]
    snaps = json.loads(h.run("vmadm", "get", u).out)["snapshots"]
    assert [(s["name"], s.get("memory")) for s in snaps] == [("live", True)]
    # the live dataset holds no state file; the snapshot does
    assert not os.path.exists(os.path.join(h.root, u, "vmstate"))
    # it ran on after the snapshot
    later = wait_count(h, u, saved + 100)
    h.run("vmadm", "rollback-snapshot", u, "live", timeout=120)
    assert state(h, u) == "running"
    # the console log lives in the dataset, so it is rolled back with it;
    # the restored guest goes on from the snapshot's count: the log is
    # one unbroken count with the guest booted once (not from 0 again
    # after a reboot) and below where the guest stood before the
    # rollback (not a guest that just kept running)
    c = counts(h, u)
    assert c[-1] < later, (saved, later, c[-5:])
    wait_count(h, u, saved + 5)
    c = counts(h, u)
    assert c == list(range(1, len(c) + 1)), (saved, later, c)
    assert console_log(h, u).count("hull-guest: ready") == 1
    sv = open(os.path.join(h.root, u, "logs", "supervisor.log")).read()
    assert "resuming the memory snapshot" in sv
    # the state file was used once and is gone from the live dataset
    assert not os.path.exists(os.path.join(h.root, u, "vmstate"))
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_bad_state_file_leaves_the_vm_as_it_was(vmhost, workdir):
    h = vmhost
    u, _ = boot_bhyve_test_guest(h, workdir, "test=count delay=5000",
                                 wait="count: 5")
    h.run("vmadm", "create-snapshot", "-m", u, "s1")
    # the state file inside the snapshot, damaged
    snapdir = [os.path.join(d, "vmsnap-s1")
               for d, dirs, _ in os.walk(h.root)
               if "vmsnap-s1" in dirs]
    assert len(snapdir) == 1, snapdir
    st = os.path.join(snapdir[0], "vmstate")
    # (the snapshot is a read-only subvolume: made writable for this)
    subprocess.run(["btrfs", "property", "set", "-ts", snapdir[0], "ro",
                    "false"], check=True)
    with open(st, "r+b") as f:
        f.seek(200)
        b = f.read(1)
        f.seek(200)
        f.write(bytes([b[0] ^ 0xff]))
    subprocess.run(["btrfs", "property", "set", "-ts", snapdir[0], "ro",
                    "true"], check=True)
    n = wait_count(h, u, counts(h, u)[-1])
    r = h.run("vmadm", "rollback-snapshot", u, "s1", check=False)
    assert r.rc != 0
    lines = [l for l in r.err.splitlines() if l.strip()]
    assert len(lines) == 1 and "checksum" in lines[0], r.err
    # nothing changed: still running, still counting on from n, the
    # snapshot still there
    assert state(h, u) == "running"
    wait_count(h, u, n + 5)
    assert [s["name"] for s in record(h, u)["snapshots"]] == ["s1"]
    # a memory snapshot of a stopped VM is refused with one line
    h.run("vmadm", "stop", "-F", u, timeout=60)
    r = h.run("vmadm", "create-snapshot", "-m", u, "s2", check=False)
    assert r.rc != 0 and "not running" in r.err, r.err
    assert [s["name"] for s in record(h, u)["snapshots"]] == ["s1"]


def guest_sh(h, u, code, want, timeout=60):
    """Runs shell code in the kvm guest's own shell (its init's `eval`
    command on the console) and returns the console line starting with
    want that it prints."""
    before = len(console_log(h, u))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(os.path.join(h.root, u, "run", "console.sock"))
    sock.sendall(f"eval {code}\n".encode())
    end = time.monotonic() + timeout
    try:
        while True:
            new = console_log(h, u)[before:]
            for line in new.splitlines():
                if line.startswith(want):
                    return line.strip()
            assert time.monotonic() < end, \
                f"no {want!r} on the console:\n{console_log(h, u)[-3000:]}"
            time.sleep(0.1)
    finally:
        sock.close()


def new_kvm_guest(h):
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256,
                   "disks": [{"image_uuid": img, "boot": True}]})
    wait_console(h, u, READY, timeout=180)
    return u


def snapshot_dir(h, name):
    d = [os.path.join(d, f"vmsnap-{name}") for d, dirs, _ in os.walk(h.root)
         if f"vmsnap-{name}" in dirs]
    assert len(d) == 1, d
    return d[0]


def test_kvm_rollback_keeps_a_shell_variable_and_a_running_sleep(vmhost):
    h = vmhost
    u = new_kvm_guest(h)
    # a disk-only snapshot of a kvm VM is refused as on SmartOS
    r = h.run("vmadm", "create-snapshot", u, "disk", check=False)
    assert r.rc != 0 and "snapshots for kvm VMs currently unsupported" \
        in r.err, r.err
    saved = guest_sh(h, u, "X=kept-$((6 * 7)); sleep 3600 & S=$!; "
                     "echo hull-guest: saved X=$X S=$S "
                     "up=$(cut -d. -f1 /proc/uptime)",
                     "hull-guest: saved ")
    sleep_pid = re.search(r"S=(\d+)", saved).group(1)
    up_saved = int(re.search(r"up=(\d+)", saved).group(1))
    assert "X=kept-42" in saved, saved
    r = h.run("vmadm", "create-snapshot", "--memory", u, "live",
              timeout=300)
    assert f"Created snapshot live for VM {u}" in r.err
    assert [(s["name"], s.get("memory")) for s in record(h, u)["snapshots"]] \
        == [("live", True)]
    # the live dataset keeps no state; the snapshot holds QEMU's stream
    # and its sum
    assert not os.path.exists(os.path.join(h.root, u, "vmstate"))
    snap = snapshot_dir(h, "live")
    with open(os.path.join(snap, "vmstate"), "rb") as f:
        assert f.read(8) == b"QEVM\0\0\0\3"
    assert json.load(open(os.path.join(snap, "vmstate.sum")))["size"] == \
        os.path.getsize(os.path.join(snap, "vmstate"))
    # the guest ran on: change the variable, end the sleep
    # (wait reaps it: a zombie child still answers kill -0)
    changed = guest_sh(h, u, f"X=changed; kill {sleep_pid}; "
                       f"wait {sleep_pid}; "
                       f"echo hull-guest: changed X=$X "
                       f"alive=$(kill -0 {sleep_pid} 2>/dev/null && "
                       f"echo yes || echo no)",
                       "hull-guest: changed ")
    assert changed.endswith("X=changed alive=no"), changed
    time.sleep(2)
    up_later = int(guest_sh(h, u, "echo hull-guest: up "
                            "$(cut -d. -f1 /proc/uptime)",
                            "hull-guest: up ").split()[-1])
    h.run("vmadm", "rollback-snapshot", u, "live", timeout=300)
    assert state(h, u) == "running"
    after = guest_sh(h, u, f"echo hull-guest: after X=$X S=$S "
                     f"alive=$(kill -0 {sleep_pid} 2>/dev/null && "
                     f"echo yes || echo no) "
                     f"comm=$(cat /proc/{sleep_pid}/comm) "
                     f"up=$(cut -d. -f1 /proc/uptime)",
                     "hull-guest: after ")
    # the shell's variable, the same sleep still running
    assert f"X=kept-42 S={sleep_pid} alive=yes comm=sleep" in after, after
    # the guest's clock goes on from the snapshot, not from a new boot and
    # not from where it stood before the rollback
    up_after = int(re.search(r"up=(\d+)", after).group(1))
    assert up_saved <= up_after < up_later, (up_saved, up_after, up_later)
    # booted once: no second "ready" in the (rolled back) console log
    assert console_log(h, u).count(READY) == 1
    sv = open(os.path.join(h.root, u, "logs", "supervisor.log")).read()
    assert "QEMU resumed the memory snapshot" in sv
    assert not os.path.exists(os.path.join(h.root, u, "vmstate"))
    # a stopped VM rolled back to a memory snapshot resumes it
    h.run("vmadm", "stop", "-F", u, timeout=60)
    h.run("vmadm", "rollback-snapshot", u, "live", timeout=300)
    assert state(h, u) == "running"
    again = guest_sh(h, u, f"echo hull-guest: again X=$X "
                     f"alive=$(kill -0 {sleep_pid} 2>/dev/null && "
                     f"echo yes || echo no)", "hull-guest: again ")
    assert again == "hull-guest: again X=kept-42 alive=yes", again
    h.run("vmadm", "delete-snapshot", u, "live")
    assert record(h, u).get("snapshots", []) == []
    h.run("vmadm", "stop", "-F", u, timeout=60)


def damage_in_snapshot(snapdir, fn):
    """Calls fn(path of vmstate) with the read-only snapshot made writable
    for the while."""
    subprocess.run(["btrfs", "property", "set", "-ts", snapdir, "ro",
                    "false"], check=True)
    try:
        fn(os.path.join(snapdir, "vmstate"))
    finally:
        subprocess.run(["btrfs", "property", "set", "-ts", snapdir, "ro",
                        "true"], check=True)


def flip_byte(off):
    def fn(p):
        with open(p, "r+b") as f:
            f.seek(off)
            b = f.read(1)
            f.seek(off)
            f.write(bytes([b[0] ^ 0xff]))
    return fn


def test_kvm_bad_state_file_leaves_the_vm_as_it_was(vmhost):
    h = vmhost
    u = new_kvm_guest(h)
    guest_sh(h, u, "X=one; echo hull-guest: set $X", "hull-guest: set ")
    h.run("vmadm", "create-snapshot", "-m", u, "s1", timeout=300)
    guest_sh(h, u, "X=two; echo hull-guest: set $X", "hull-guest: set two")
    snap = snapshot_dir(h, "s1")
    size = os.path.getsize(os.path.join(snap, "vmstate"))
    pid = open(os.path.join(h.root, u, "run", "supervisor.pid")).read()
    for damage, why in ((flip_byte(size // 2), "checksum"),
                        (lambda p: os.truncate(p, size // 3), "truncated")):
        damage_in_snapshot(snap, damage)
        r = h.run("vmadm", "rollback-snapshot", u, "s1", check=False,
                  timeout=120)
        assert r.rc != 0
        lines = [l for l in r.err.splitlines() if l.strip()]
        assert len(lines) == 1 and why in lines[0], r.err
        # nothing changed: the same supervisor and QEMU, the guest's
        # shell as it was, the snapshot still listed
        assert state(h, u) == "running"
        assert open(os.path.join(h.root, u, "run",
                                 "supervisor.pid")).read() == pid
        assert guest_sh(h, u, "echo hull-guest: now $X",
                        "hull-guest: now ") == "hull-guest: now two"
        assert [s["name"] for s in record(h, u)["snapshots"]] == ["s1"]
    # a memory snapshot of a stopped kvm VM is refused with one line
    h.run("vmadm", "stop", "-F", u, timeout=60)
    r = h.run("vmadm", "create-snapshot", "-m", u, "s2", check=False)
    assert r.rc != 0 and "not running" in r.err, r.err
    assert len([l for l in r.err.splitlines() if l.strip()]) == 1, r.err
