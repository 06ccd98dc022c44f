"""Memory snapshots through vmadm (issue 17): `vmadm create-snapshot -m`
of a running bhyve VM keeps its memory and device state with its disks,
and `vmadm rollback-snapshot` resumes the guest where it stood. The guest
is hull-vmm's test guest counting on its console (test=count)."""
import json
import os
import re
import subprocess
import time

from test_hvm_vmadm import (boot_bhyve_test_guest, console_log, record,
                            state, vmhost)  # noqa: F401 (a fixture)

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
