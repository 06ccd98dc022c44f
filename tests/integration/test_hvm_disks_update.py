"""vmadm update's update_disks (issue 7): a stopped HVM instance's disk
grows (its sparse file, or its clone of a zvol image), the guest sees the
larger disk at its next boot; shrinking, a running instance, an unknown
path and bad fields are refused with nothing changed."""
import json
import os

from hvmlib import make_guest_disk
from test_hvm_vmadm import (READY, console_log, create, install, state,  # noqa: F401
                            new_bhyve_test_vm, vmhost, wait_console)


def disk_of(h, u, i=0):
    return json.loads(h.run("vmadm", "get", u).out)["disks"][i]


def update(h, u, payload):
    return h.run("vmadm", "update", u, input=json.dumps(payload))


def test_kvm_image_disk_grows_and_the_guest_sees_it(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, "autoboot": False,
                   "disks": [{"image_uuid": img, "boot": True},
                             {"size": 16}]})
    d0, d1 = disk_of(h, u, 0), disk_of(h, u, 1)
    assert os.path.getsize(d0["path"]) == 64 << 20
    r = update(h, u, {"update_disks": [
        {"path": d0["path"], "size": 96},
        {"path": d1["path"], "size": 32}]})
    assert r.err.strip() == f"Successfully updated VM {u}"
    assert os.path.getsize(d0["path"]) == 96 << 20
    st = os.stat(d1["path"])
    assert st.st_size == 32 << 20 and st.st_blocks == 0   # still sparse
    assert disk_of(h, u, 0)["size"] == 96
    assert disk_of(h, u, 1)["size"] == 32
    h.run("vmadm", "start", u, timeout=120)
    wait_console(h, u, READY)
    assert f"hull-guest: disks=vda:{96 * 2048} vdb:{32 * 2048}" in \
        console_log(h, u)
    # Running: a resize is refused, nothing changes.
    before = h.run("vmadm", "get", u).out
    r = h.fails("vmadm", "update", u, input=json.dumps(
        {"update_disks": [{"path": d1["path"], "size": 64}]}))
    assert r.err.strip() == (
        f"Invalid value for update_disks.0.size: cannot resize "
        f"{d1['path']} from 32 MiB to 64 MiB while the VM is running: "
        "stop it first")
    assert os.path.getsize(d1["path"]) == 32 << 20
    assert h.run("vmadm", "get", u).out == before
    # ... but a field that is not the size may change while running.
    update(h, u, {"update_disks": [{"path": d1["path"], "size": 32,
                                    "model": "ide"}]})
    assert disk_of(h, u, 1)["model"] == "ide"
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_bhyve_disk_grows_and_the_test_guest_sees_it(vmhost, workdir):
    h = vmhost
    u, disk = new_bhyve_test_vm(h)
    make_guest_disk(workdir, disk, "test=blk")
    update(h, u, {"update_disks": [{"path": disk, "size": 16}]})
    assert os.path.getsize(disk) == 16 << 20
    assert disk_of(h, u)["size"] == 16
    h.run("vmadm", "start", u)
    wait_console(h, u, "hull-guest: PASS blk", 30)
    assert f"blk: capacity {16 * 2048} sectors" in console_log(h, u)


def test_refusals_change_nothing(vmhost):
    h = vmhost
    u = create(h, {"brand": "kvm", "autoboot": False,
                   "disks": [{"size": 16, "boot": True},
                             {"size": 8, "media": "cdrom", "model": "ide"}]})
    d0, d1 = disk_of(h, u, 0)["path"], disk_of(h, u, 1)["path"]
    before = h.run("vmadm", "get", u).out
    cases = [
        ([{"path": d0, "size": 8}],
         f"Invalid value for update_disks.0.size: cannot resize {d0} from "
         "16 MiB to 8 MiB: shrinking loses the data at the disk's end "
         "(dangerous_allow_shrink allows it)"),
        ([{"path": "/nope/disk9.img", "size": 32}],
         "Invalid value for update_disks.0.path: the VM has no disk "
         "/nope/disk9.img"),
        ([{"size": 32}], "Invalid value for update_disks.0.path: required"),
        ([{"path": d0, "size": 0}], "update_disks.0.size: must be an "
         "integer"),
        ([{"path": d0, "size": "32"}], "update_disks.0.size"),
        ([{"path": d0, "compression": "lz4"}],
         "Invalid value for update_disks.0.compression: cannot be updated"),
        ([{"path": d0, "size": 32}, {"path": d1, "size": 32}],
         f"Invalid value for update_disks.1.size: {d1} is a cdrom"),
        ([{"path": d0, "size": 32}, {"path": d0, "size": 48}],
         "update_disks.1.path: " + d0 + " is named twice"),
        ([{"path": d0, "model": "floppy"}], "update_disks.0.model"),
        ([{"path": d0, "dangerous_allow_shrink": "yes"}],
         "update_disks.0.dangerous_allow_shrink"),
    ]
    for ud, want in cases:
        r = h.fails("vmadm", "update", u, input=json.dumps(
            {"update_disks": ud}))
        assert want in r.err, (ud, r.err)
        assert os.path.getsize(d0) == 16 << 20
        assert h.run("vmadm", "get", u).out == before
    # With dangerous_allow_shrink (never stored) a shrink is done.
    update(h, u, {"update_disks": [{"path": d0, "size": 4,
                                    "dangerous_allow_shrink": True}]})
    assert os.path.getsize(d0) == 4 << 20
    d = disk_of(h, u, 0)
    assert d["size"] == 4 and "dangerous_allow_shrink" not in d


def test_update_disks_not_for_zones(vmhost):
    h = vmhost
    r = h.run("vmadm", "validate", "update", "joyent", check=False,
              input=json.dumps({"update_disks": [{"path": "/x",
                                                  "size": 1}]}))
    assert r.rc == 1 and "update_disks" in r.out + r.err
