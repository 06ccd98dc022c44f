"""`filesystems`: host folders an operator lends a zone (SmartOS's lofs
mounts), from vmadm create and add/update/remove_filesystems, mounted at
every boot, read-only where asked, and never through a symbolic link the
zone planted."""
import json
import os

import pytest

from vmtools import unfreeze
from zonekit import Zones, install_busybox


def _install_busybox(host):
    host.image = install_busybox(host.run, os.path.join(host.workdir, "bbimg"))


def _cleanup(host):
    for u in host.run("vmadm", "list", "-H", "-o", "uuid", check=False).out.split():
        host.run("vmadm", "delete", u, check=False)
    Zones(host).cleanup()
    unfreeze(host.workdir)


@pytest.fixture
def bbhost(btrfs_pool):
    _install_busybox(btrfs_pool)
    try:
        yield btrfs_pool
    finally:
        _cleanup(btrfs_pool)


@pytest.fixture
def bbpool(pool):
    """The same on each pool backend."""
    _install_busybox(pool)
    try:
        yield pool
    finally:
        _cleanup(pool)


@pytest.fixture
def hostdir(workdir):
    d = os.path.join(workdir, "shared")
    os.makedirs(d)
    with open(os.path.join(d, "hello"), "w") as f:
        f.write("from the host\n")
    return d


def create(h, **extra):
    payload = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image}
    payload.update(extra)
    r = h.run("vmadm", "create", input=json.dumps(payload))
    return (r.out + r.err).split()[-1]


def state(h, u):
    return h.run("vmadm", "list", "-H", "-o", "state", f"uuid={u}").out.strip()


def mount_line(h, u, target):
    """The zone's own /proc/mounts line for target, or None."""
    out = h.run("zlogin", u, "cat", "/proc/mounts").out
    lines = [l for l in out.splitlines() if l.split()[1] == target]
    return lines[-1] if lines else None


def test_ro_lofs_from_create_is_mounted_and_survives_reboot(bbpool, hostdir):
    h = bbpool
    fs = {"type": "lofs", "source": hostdir, "target": "/data",
          "options": ["ro", "nodevice"]}
    u = create(h, filesystems=[fs])
    assert state(h, u) == "running"
    assert h.run("zlogin", u, "cat", "/data/hello").out == "from the host\n"
    r = h.run("zlogin", u, "sh", "-c", "echo x > /data/new", check=False)
    assert r.rc != 0 and "Read-only" in r.err, r
    opts = mount_line(h, u, "/data").split()[3].split(",")
    assert "ro" in opts and "nosuid" in opts and "nodev" in opts
    # The zone's root has no CAP_SYS_ADMIN: the mount stays read-only.
    r = h.run("zlogin", u, "mount", "-o", "remount,rw", "/data", check=False)
    assert r.rc != 0
    assert h.run("zlogin", u, "sh", "-c", "echo x > /data/new", check=False).rc != 0
    assert os.listdir(hostdir) == ["hello"]
    assert json.loads(h.run("vmadm", "get", u).out)["filesystems"] == [fs]
    h.run("vmadm", "reboot", u)
    assert state(h, u) == "running"
    assert h.run("zlogin", u, "cat", "/data/hello").out == "from the host\n"
    assert "ro" in mount_line(h, u, "/data").split()[3].split(",")
    # The host sees nothing of it: the mount lives in the zone alone.
    with open("/proc/self/mountinfo") as f:
        assert os.path.join(h.root, u) not in f.read()


def test_rw_lofs_writes_reach_the_host_but_setuid_does_not_count(bbhost, hostdir):
    h = bbhost
    u = create(h, filesystems=[{"type": "lofs", "source": hostdir,
                                "target": "/srv/shared"}])
    h.run("zlogin", u, "sh", "-c",
          "echo from-zone > /srv/shared/out; cp /bin/busybox /srv/shared/bb; "
          "chmod 4755 /srv/shared/bb")
    with open(os.path.join(hostdir, "out")) as f:
        assert f.read() == "from-zone\n"
    opts = mount_line(h, u, "/srv/shared").split()[3].split(",")
    assert "rw" in opts and "nosuid" in opts and "nodev" in opts
    # The missing /srv was made, as the zone's own folder.
    assert os.path.isdir(os.path.join(h.root, u, "root", "srv", "shared"))


def test_a_single_file_can_be_lent(bbhost, hostdir):
    h = bbhost
    src = os.path.join(hostdir, "hello")
    u = create(h, filesystems=[{"type": "lofs", "source": src,
                                "target": "/etc/motd", "options": ["ro"]}])
    assert h.run("zlogin", u, "cat", "/etc/motd").out == "from the host\n"


def test_add_update_remove_apply_at_next_boot(bbhost, hostdir, workdir):
    h = bbhost
    u = create(h)
    other = os.path.join(workdir, "other")
    os.makedirs(other)
    with open(os.path.join(other, "o"), "w") as f:
        f.write("other\n")
    h.run("vmadm", "update", u, input=json.dumps({"add_filesystems": [
        {"type": "lofs", "source": hostdir, "target": "/data",
         "options": ["nodevice"]}]}))
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert vm["filesystems"][0]["target"] == "/data"
    # As on SmartOS (a zonecfg fs resource), the change waits for a boot.
    assert mount_line(h, u, "/data") is None
    h.run("vmadm", "reboot", u)
    assert h.run("zlogin", u, "cat", "/data/hello").out == "from the host\n"
    assert "rw" in mount_line(h, u, "/data").split()[3].split(",")
    # A second add of the same target is refused, with nothing changed.
    h.fails("vmadm", "update", u, input=json.dumps({"add_filesystems": [
        {"type": "lofs", "source": other, "target": "/data"}]}))
    h.run("vmadm", "update", u, input=json.dumps({"update_filesystems": [
        {"target": "/data", "source": other, "options": ["nodevice", "ro"]}]}))
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert vm["filesystems"] == [{"type": "lofs", "source": other,
                                  "target": "/data",
                                  "options": ["nodevice", "ro"]}]
    h.run("vmadm", "reboot", u)
    assert h.run("zlogin", u, "cat", "/data/o").out == "other\n"
    assert "ro" in mount_line(h, u, "/data").split()[3].split(",")
    h.run("vmadm", "update", u, input=json.dumps({"remove_filesystems": ["/data"]}))
    assert "filesystems" not in json.loads(h.run("vmadm", "get", u).out) or \
        json.loads(h.run("vmadm", "get", u).out)["filesystems"] == []
    h.run("vmadm", "stop", u)
    h.run("vmadm", "start", u)
    assert mount_line(h, u, "/data") is None
    assert h.run("zlogin", u, "ls", "/data").out == ""


@pytest.mark.parametrize("link", ["/", "/etc", "../../.."])
def test_symlink_planted_by_the_zone_is_not_followed(bbhost, hostdir, link):
    h = bbhost
    u = create(h, filesystems=[{"type": "lofs", "source": hostdir,
                                "target": "/srv/data", "options": ["ro"]}])
    # The zone's root swaps the target's parent for a link (it cannot
    # unmount, but it can move the folder holding the mount point aside).
    h.run("zlogin", u, "sh", "-c", f"mv /srv /srv.old && ln -s {link} /srv")
    zroot = os.path.join(h.root, u, "root")
    assert os.readlink(os.path.join(zroot, "srv")) == link
    r = h.fails("vmadm", "reboot", u)
    assert "/srv/data is a symbolic link or lies under one" in r.err, r
    assert state(h, u) == "stopped"
    r = h.fails("vmadm", "start", u)
    assert "symbolic link" in r.err, r
    assert state(h, u) == "stopped"
    # Nothing was made or mounted where the link points.
    for p in ("data", "etc/data"):
        assert not os.path.exists(os.path.join(zroot, p)), p
    with open("/proc/self/mountinfo") as f:
        assert hostdir not in f.read()
    # Once the operator puts the folder back, it boots again.
    os.unlink(os.path.join(zroot, "srv"))
    os.rename(os.path.join(zroot, "srv.old"), os.path.join(zroot, "srv"))
    h.run("vmadm", "start", u)
    assert h.run("zlogin", u, "cat", "/srv/data/hello").out == "from the host\n"


def test_missing_source_fails_start_with_one_line(bbhost, workdir):
    h = bbhost
    gone = os.path.join(workdir, "gone")
    payload = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
               "autoboot": False,
               "filesystems": [{"type": "lofs", "source": gone, "target": "/data"}]}
    u = (h.run("vmadm", "create", input=json.dumps(payload)).err).split()[-1]
    r = h.fails("vmadm", "start", u)
    assert gone in r.err and "No such file" in r.err, r
    assert state(h, u) == "stopped"
    os.makedirs(gone)
    h.run("vmadm", "start", u)
    assert h.run("zlogin", u, "ls", "-d", "/data").rc == 0


@pytest.mark.parametrize("fs,why", [
    ({"type": "nfs", "source": "/srv", "target": "/data"}, "only lofs"),
    ({"type": "lofs", "source": "srv", "target": "/data"}, "absolute"),
    ({"type": "lofs", "source": "/srv", "target": "/data/../etc"}, ".."),
    ({"type": "lofs", "source": "/srv", "target": "/"}, "must not be /"),
    ({"type": "lofs", "source": "/srv", "target": "/data",
      "options": ["setuid"]}, "setuid"),
    ({"type": "lofs", "source": "/srv", "target": "/data",
      "raw": "/dev/sda"}, "raw"),
])
def test_bad_filesystems_are_refused_before_anything_is_made(bbhost, fs, why):
    h = bbhost
    payload = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
               "filesystems": [fs]}
    r = h.fails("vmadm", "create", input=json.dumps(payload))
    assert "filesystems" in r.err and why in r.err, r
    assert h.run("vmadm", "list", "-H").out.strip() == ""
    u = create(h, autoboot=False)
    r = h.fails("vmadm", "update", u, input=json.dumps({"add_filesystems": [fs]}))
    assert why in r.err, r
    assert "filesystems" not in json.loads(h.run("vmadm", "get", u).out)


def test_userns_zone_cannot_remount_or_unmount(bbhost, hostdir):
    h = bbhost
    u = create(h, internal_metadata={"hull:userns": "true"},
               filesystems=[{"type": "lofs", "source": hostdir,
                             "target": "/data", "options": ["ro"]}])
    assert h.run("zlogin", u, "cat", "/data/hello").out == "from the host\n"
    # The zone's root holds CAP_SYS_ADMIN over its own mount namespace,
    # yet the mount came from outside it: its flags and place are locked.
    assert h.run("zlogin", u, "mount", "-o", "remount,rw", "/data",
                 check=False).rc != 0
    assert h.run("zlogin", u, "mount", "-o", "remount,rw,bind", "/data",
                 check=False).rc != 0
    assert h.run("zlogin", u, "umount", "/data", check=False).rc != 0
    assert h.run("zlogin", u, "sh", "-c", "echo x > /data/new",
                 check=False).rc != 0
    assert os.listdir(hostdir) == ["hello"]


def test_delegated_dataset_is_the_zones_own_subvolume(bbhost):
    h = bbhost
    u = create(h, delegate_dataset=True, quota=1)
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert vm["datasets"] == [f"zones/{u}/data"]
    data = os.path.join(h.root, u, "data")
    # A dataset of the pool of its own (a btrfs subvolume: inode 256).
    ds = {d["name"]: d for d in json.loads(h.run("hull", "pool", "list", "-j").out)}
    assert ds[f"{u}/data"]["quota"] == 1 << 30
    assert os.stat(data).st_ino == 256
    # Where SmartOS mounts zones/<uuid>/data in the zone, read-write.
    target = f"/zones/{u}/data"
    h.run("zlogin", u, "sh", "-c", f"echo kept > {target}/f; mkdir {target}/sub")
    with open(os.path.join(data, "f")) as f:
        assert f.read() == "kept\n"
    opts = mount_line(h, u, target).split()[3].split(",")
    assert "rw" in opts and "nosuid" in opts and "nodev" in opts
    # Limited like the instance: quota 1 GiB on the dataset too.
    r = h.run("zlogin", u, "sh", "-c",
              f"dd if=/dev/zero of={target}/big bs=1M count=1200 conv=fsync",
              check=False, timeout=300)
    assert r.rc != 0 and "quota" in r.err.lower(), r
    h.run("zlogin", u, "rm", "-f", f"{target}/big")
    h.run("vmadm", "reboot", u)
    assert h.run("zlogin", u, "cat", f"{target}/f").out == "kept\n"
    # A snapshot and rollback of the instance leave its data alone, as
    # SmartOS's vmadm snapshots cover the zone's root dataset only.
    h.run("vmadm", "create-snapshot", u, "before")
    h.run("zlogin", u, "sh", "-c", f"echo later > {target}/g")
    h.run("vmadm", "rollback-snapshot", u, "before")
    assert h.run("zlogin", u, "cat", f"{target}/g").out == "later\n"
    h.run("vmadm", "delete", u)
    assert not os.path.exists(os.path.join(h.root, u))
    assert f"{u}/data" not in h.run("hull", "pool", "list", "-H").out


def test_delegated_dataset_of_a_userns_zone_keeps_the_zones_ids(bbhost):
    h = bbhost
    u = create(h, delegate_dataset=True,
               internal_metadata={"hull:userns": "true"})
    target = f"/zones/{u}/data"
    r = h.run("zlogin", u, "sh", "-c",
              f"stat -c '%u %g' {target}; echo x > {target}/f; "
              f"chown 1000:1000 {target}/f; stat -c '%u %g' {target}/f")
    assert r.out.split() == ["0", "0", "1000", "1000"], r
    st = os.stat(os.path.join(h.root, u, "data", "f"))
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_delegate_dataset_on_a_dir_pool_is_a_folder(bbpool):
    h = bbpool
    u = create(h, delegate_dataset=True)
    h.run("zlogin", u, "sh", "-c", f"echo y > /zones/{u}/data/f")
    with open(os.path.join(h.root, u, "data", "f")) as f:
        assert f.read() == "y\n"
