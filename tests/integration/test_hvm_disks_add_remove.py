"""vmadm update's add_disks and remove_disks on HVM instances (issue 7):
add_disks makes the new disk files in the instance's dataset as create
does (sparse from size, or a clone of a zvol image), remove_disks deletes
the removed disks' files; both only while the VM is stopped. The guest
sees the added disks at its next boot; refusals (what create refuses, the
boot disk, a running VM, a failure half-way, a record that cannot be
saved) leave the record and the files as they were."""
import json
import os
import subprocess
import time

import pytest

import skips
from hvmlib import make_guest_disk
from test_hvm_vmadm import (READY, console_log, create, install,  # noqa: F401
                            new_bhyve_test_vm, vmhost, wait_console)


def disks_of(h, u):
    return json.loads(h.run("vmadm", "get", u).out)["disks"]


def update(h, u, payload):
    r = h.run("vmadm", "update", u, input=json.dumps(payload))
    assert r.err.strip() == f"Successfully updated VM {u}"


def files(h, u):
    d = os.path.join(h.root, u, "disks")
    return {f: os.path.getsize(os.path.join(d, f)) for f in os.listdir(d)}


def disks_line(h, u):
    """The last "hull-guest: disks=..." line the Linux guest printed."""
    lines = [ln for ln in console_log(h, u).splitlines()
             if ln.startswith("hull-guest: disks=")]
    return lines[-1].strip() if lines else None


def wait_boots(h, u, want, n, timeout=90):
    """Waits for the n-th want in the console log (it is kept across
    boots)."""
    end = time.monotonic() + timeout
    while console_log(h, u).count(want) < n:
        if time.monotonic() > end:
            raise AssertionError(f"no {want!r} #{n} in the console log:\n"
                                 f"{console_log(h, u)[-3000:]}")
        time.sleep(0.1)


def test_kvm_added_disks_are_made_and_seen_removed_are_deleted(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, "autoboot": False,
                   "disks": [{"image_uuid": img, "boot": True}]})
    ddir = os.path.join(h.root, u, "disks")
    update(h, u, {"add_disks": [{"size": 16}, {"image_uuid": img}]})
    d = disks_of(h, u)
    assert [x["path"] for x in d] == [
        os.path.join(ddir, f"disk{i}.img") for i in range(3)]
    assert d[1]["size"] == 16 and d[1]["model"] == "virtio"
    assert d[2]["image_size"] == 64
    st = os.stat(d[1]["path"])
    assert st.st_size == 16 << 20 and st.st_blocks == 0   # sparse
    # The clone of the image carries its partition table.
    with open(d[2]["path"], "rb") as f:
        assert f.read(512)[510:] == b"\x55\xaa"
    assert os.path.getsize(d[2]["path"]) == 64 << 20

    h.run("vmadm", "start", u, timeout=120)
    wait_console(h, u, READY)
    assert disks_line(h, u) == (
        f"hull-guest: disks=vda:{64 * 2048} vdb:{16 * 2048} "
        f"vdc:{64 * 2048}")
    # Running: adding or removing is refused, nothing changes.
    before, was = h.run("vmadm", "get", u).out, files(h, u)
    r = h.fails("vmadm", "update", u, input=json.dumps(
        {"add_disks": [{"size": 8}]}))
    assert r.err.strip() == ("Invalid value for add_disks: cannot add "
                             "disks while the VM is running: stop it first")
    r = h.fails("vmadm", "update", u, input=json.dumps(
        {"remove_disks": [d[1]["path"]]}))
    assert r.err.strip() == ("Invalid value for remove_disks: cannot "
                             "remove disks while the VM is running: stop "
                             "it first")
    assert h.run("vmadm", "get", u).out == before and files(h, u) == was
    h.run("vmadm", "stop", "-F", u, timeout=60)

    # Stopped: remove the first data disk; its file goes, the guest sees
    # the other one in its place; the next add takes the free name.
    update(h, u, {"remove_disks": [d[1]["path"]]})
    assert [x["path"] for x in disks_of(h, u)] == [d[0]["path"],
                                                   d[2]["path"]]
    assert not os.path.exists(d[1]["path"])
    assert sorted(os.listdir(ddir)) == ["disk0.img", "disk2.img"]
    update(h, u, {"add_disks": [{"size": 4, "model": "ide"}]})
    assert disks_of(h, u)[2]["path"] == d[1]["path"]
    assert os.path.getsize(d[1]["path"]) == 4 << 20
    update(h, u, {"remove_disks": [d[1]["path"]]})
    h.run("vmadm", "start", u, timeout=120)
    wait_boots(h, u, READY, 2)
    assert disks_line(h, u) == (
        f"hull-guest: disks=vda:{64 * 2048} vdb:{64 * 2048}")
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_bhyve_starts_with_an_added_disk(vmhost, workdir):
    h = vmhost
    u, boot = new_bhyve_test_vm(h)
    make_guest_disk(workdir, boot, "test=blk")
    update(h, u, {"add_disks": [{"size": 32, "model": "virtio"}]})
    added = disks_of(h, u)[1]["path"]
    assert os.path.getsize(added) == 32 << 20
    # The emulator's hull binds the new file too: the guest boots.
    h.run("vmadm", "start", u)
    wait_console(h, u, "hull-guest: PASS blk", 30)
    h.run("vmadm", "stop", "-F", u, timeout=60)
    update(h, u, {"remove_disks": [added]})
    assert not os.path.exists(added)
    h.run("vmadm", "start", u)
    wait_boots(h, u, "hull-guest: PASS blk", 2, 30)
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_refusals_change_nothing(vmhost):
    h = vmhost
    u = create(h, {"brand": "kvm", "autoboot": False,
                   "disks": [{"size": 16, "boot": True}, {"size": 8}]})
    ddir = os.path.join(h.root, u, "disks")
    d0, d1 = (x["path"] for x in disks_of(h, u))
    before, was = h.run("vmadm", "get", u).out, files(h, u)
    cases = [
        ({"add_disks": [{"size": 8, "path": "/etc/passwd"}]},
         f"add_disks.0.path: must be a file in {ddir}/"),
        ({"add_disks": [{"size": 8}, {"size": 0}]}, "add_disks.1.size: "),
        ({"add_disks": [{"size": 8, "model": "nvme"}]},
         "add_disks.0.model: must be virtio, ide or scsi"),
        ({"add_disks": [{"size": 8, "path": d1}]},
         f"Invalid value for add_disks: path {d1} is already present"),
        ({"add_disks": [{"size": 8, "boot": True}]},
         "add_disks: more than one boot disk"),
        ({"add_disks": [{"size": 1}] * 15},
         "add_disks: more than 16 disks"),
        ({"add_disks": [{"image_uuid":
                         "99999999-2222-4333-8444-555555555555"}]},
         "add_disks.0.image_uuid: image 99999999-2222-4333-8444-"
         "555555555555 is not installed"),
        ({"remove_disks": [d0]},
         f"Invalid value for remove_disks.0: {d0} is the boot disk"),
        ({"remove_disks": [os.path.join(ddir, "disk7.img")]},
         "Invalid value for remove_disks.0: the VM has no disk "
         f"{os.path.join(ddir, 'disk7.img')}"),
        ({"remove_disks": [d1, d1]},
         f"Invalid value for remove_disks.1: {d1} is named twice"),
    ]
    for payload, want in cases:
        r = h.fails("vmadm", "update", u, input=json.dumps(payload))
        assert want in r.err, (payload, r.err)
        assert h.run("vmadm", "get", u).out == before
        assert files(h, u) == was

    # A file in the way of the second new disk: the first one, made
    # already, is removed again, and the disk being removed is back.
    stray = os.path.join(ddir, "stray.img")
    with open(stray, "w") as f:
        f.write("x")
    r = h.fails("vmadm", "update", u, input=json.dumps(
        {"remove_disks": [d1],
         "add_disks": [{"size": 4}, {"size": 4, "path": stray}]}))
    assert "add_disks.1" in r.err and "File exists" in r.err, r.err
    os.unlink(stray)
    assert h.run("vmadm", "get", u).out == before
    assert files(h, u) == was

    # The record cannot be saved: the same.
    cfg = os.path.join(h.root, u, "config")
    if subprocess.run(["chattr", "+i", cfg],
                      capture_output=True).returncode != 0:
        skips.skip("host-denies", "chattr +i does not work on this pool's filesystem")
    try:
        r = h.fails("vmadm", "update", u, input=json.dumps(
            {"remove_disks": [d1], "add_disks": [{"size": 4}]}))
    finally:
        subprocess.run(["chattr", "-i", cfg], check=True)
    assert "vm.json" in r.err, r.err
    assert h.run("vmadm", "get", u).out == before
    assert files(h, u) == was


def test_disks_helpers_not_for_zones(vmhost):
    h = vmhost
    for k, v in (("add_disks", [{"size": 1}]), ("remove_disks", ["/x"])):
        r = h.run("vmadm", "validate", "update", "joyent", check=False,
                  input=json.dumps({k: v}))
        assert r.rc == 1 and k in r.out + r.err
