"""A zone's quota holds (issue 11): a zone may not make a btrfs subvolume
or snapshot of its own (each would get a qgroup of its own, outside the
quota on its dataset's), whether the zone is plain, in a user namespace
or a docker zone, nor touch the pool's quotas; what it writes stops at
its quota and shows in hull pool list."""
import json
import os
import shutil

import pytest

from vmtools import unfreeze
from zonekit import Zones, build_probe, install_busybox, wait_for


@pytest.fixture
def qhost(btrfs_pool, workdir):
    """A btrfs pool with the busybox image installed."""
    h = btrfs_pool
    zs = Zones(h)
    h.image = install_busybox(h.run, os.path.join(workdir, "bbimg"))
    try:
        yield h
    finally:
        for u in h.run("vmadm", "list", "-H", "-o", "uuid",
                       check=False).out.split():
            h.run("vmadm", "delete", u, check=False)
        zs.cleanup()
        unfreeze(workdir)


ZONES = {
    "lx": {"brand": "lx", "kernel_version": "4.3.0"},
    "lx-userns": {"brand": "lx", "kernel_version": "4.3.0",
                  "internal_metadata": {"hull:userns": "true"}},
}

PROBES = ["btrfs_subvol_create", "btrfs_subvol_create_high",
          "btrfs_subvol_create_v2", "btrfs_snap_create",
          "btrfs_snap_create_v2", "btrfs_qgroup_limit"]


def pool_row(h, name):
    """hull pool list's NAME USED REFER QUOTA ORIGIN for name, in bytes."""
    return h.run("hull", "pool", "list", "-H", "-p", name).out.split()


@pytest.mark.parametrize("kind", ZONES)
def test_zone_cannot_escape_its_quota(qhost, workdir, kind):
    h = qhost
    r = h.run("vmadm", "create",
              input=json.dumps(dict(ZONES[kind], image_uuid=h.image)))
    u = r.err.split()[-1]
    h.run("hull", "pool", "quota", u, "100M")
    root = os.path.join(h.root, u, "root")
    shutil.copy2(build_probe(workdir), os.path.join(root, "bin", "zone_probe"))
    r = h.run("zlogin", u, "/bin/zone_probe", *PROBES)
    assert r.out.splitlines() == [f"{p} EPERM" for p in PROBES], r.out
    assert not os.path.exists(os.path.join(root, "sub"))
    assert not os.path.exists(os.path.join(root, "snap"))
    # nor is there a subvolume in its tree for rmdir(2) (which deletes an
    # empty one) to reach: the dataset's own root (inode 256) lies above
    # the zone's /
    subvols = [d for d, _, _ in os.walk(root) if os.lstat(d).st_ino == 256]
    assert subvols == [], subvols
    assert os.stat(os.path.join(h.root, u)).st_ino == 256
    # what it writes stops at its quota
    r = h.run("zlogin", u, "sh", "-c",
              "dd if=/dev/zero of=/fill bs=1M count=300 && sync",
              check=False)
    assert r.rc != 0 and "Disk quota exceeded" in r.out + r.err, r
    row = pool_row(h, u)
    assert int(row[3]) == 100 << 20
    assert 80 << 20 <= int(row[2]) <= 110 << 20, row


def test_docker_zone_cannot_make_subvolumes(btrfs_pool, workdir):
    """The same filter in a docker zone (a hand-made one: vmadm wants a
    docker image), on the btrfs pool."""
    zs = Zones(btrfs_pool)
    try:
        z = zs.new({"brand": "lx", "kernel_version": "4.3.0", "docker": True,
                    "internal_metadata": {
                        "docker:cmd": '["/bin/sh","-c","echo up; sleep 1000"]',
                        "docker:user": "0:0"}},
                   init=None, probe=build_probe(workdir))
        assert wait_for(lambda: "up" in z.console_log())
        r = z.zlogin("/bin/zone_probe", *PROBES)
        assert r.out.splitlines() == [f"{p} EPERM" for p in PROBES], r.out
        assert not os.path.exists(os.path.join(z.rootfs, "sub"))
    finally:
        zs.cleanup()
