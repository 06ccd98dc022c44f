"""A pool over several disks: `hull init --device ... --layout`, `hull
status`, `hull scrub`, `hull replace`, `hull add`.

Each test makes its own disks (sparse files in its workdir on loop devices);
the workdir fixture unmounts and detaches them even when the test fails.
"""
import hashlib
import json
import os
import subprocess
import time

import pytest

from conftest import Host

GIB = 1 << 30
BLOCK = 4096


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


class Disks:
    def __init__(self, workdir):
        self.workdir = workdir
        self.n = 0
        self.loops = []

    def make(self, size=GIB):
        self.n += 1
        f = os.path.join(self.workdir, f"disk{self.n}.img")
        with open(f, "wb") as fh:
            fh.truncate(size)
        dev = subprocess.run(["losetup", "-f", "--show", f], capture_output=True,
                             text=True, check=True).stdout.strip()
        self.loops.append(dev)
        return dev

    def detach(self, dev):
        """Detach and wait until the disk is gone: losetup -d only marks a
        loop device that someone (udev's blkid) still holds open, and the
        kernel lets go of it when the last holder closes it."""
        subprocess.run(["losetup", "-d", dev], check=True)
        self.loops.remove(dev)
        backing = f"/sys/block/{os.path.basename(dev)}/loop/backing_file"
        for _ in range(200):
            if not os.path.exists(backing):
                return
            time.sleep(0.05)
        raise AssertionError(f"{dev} is still attached 10 s after losetup -d")


@pytest.fixture
def disks(bare):
    d = Disks(bare.workdir)
    try:
        yield d
    finally:
        bare.run("hull", "fini", check=False)
        for dev in list(d.loops):
            subprocess.run(["losetup", "-d", dev], capture_output=True)


def status(host):
    return json.loads(host.run("hull", "status", "-j").out)


def fs_df(root):
    """btrfs's own account of the profiles: {"Data": "RAID1", ...}."""
    out = subprocess.run(["btrfs", "filesystem", "df", root], capture_output=True,
                         text=True, check=True).stdout
    prof = {}
    for line in out.splitlines():
        kind, _, rest = line.partition(",")
        if kind in ("Data", "Metadata", "System"):
            prof[kind] = rest.split(":")[0].strip()
    return prof


def blank(dev):
    """True when blkid finds no signature at all on dev."""
    return subprocess.run(["blkid", "-p", dev], capture_output=True).returncode == 2


def pattern(tag, nblocks):
    """nblocks of 4 KiB, each one unique and recognisable on a raw disk."""
    out = bytearray()
    for i in range(nblocks):
        head = b"HULLTEST-%s-%06d-" % (tag.encode(), i)
        out += (head * (BLOCK // len(head) + 1))[:BLOCK]
    return bytes(out)


def find_blocks(dev, tag):
    """Offsets on dev of the 4 KiB blocks written by pattern(tag, ...)."""
    head = b"HULLTEST-%s-" % tag.encode()
    found = []
    chunk = 8 << 20
    with open(dev, "rb", buffering=0) as f:
        pos = 0
        while True:
            buf = f.read(chunk)
            if not buf:
                break
            i = buf.find(head)
            while i >= 0:
                if i % BLOCK == 0:
                    found.append(pos + i)
                i = buf.find(head, (i // BLOCK + 1) * BLOCK)
            pos += len(buf)
    return found


def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


# ---- layouts ----

@pytest.mark.parametrize("layout, n, data, meta", [
    ("single", 1, "single", "DUP"),
    ("single", 2, "single", "RAID1"),
    ("mirror", 2, "RAID1", "RAID1"),
    ("raid10", 4, "RAID10", "RAID10"),
    ("raid5", 3, "RAID5", "RAID1"),
    ("raid6", 4, "RAID6", "RAID1C3"),
])
def test_every_layout_makes_its_profiles(bare, disks, layout, n, data, meta):
    devs = [disks.make() for _ in range(n)]
    args = [a for d in devs for a in ("--device", d)]
    r = bare.run("hull", "init", *args, "--layout", layout)
    assert "created" in r.out
    warnings = [l for l in r.err.splitlines() if l.strip()]
    if layout in ("raid5", "raid6"):
        # btrfs calls raid5/6 data unstable: one warning line, as mkfs does.
        assert len(warnings) == 1 and "not call" in warnings[0] and layout in warnings[0]
    else:
        assert warnings == []
    df = fs_df(bare.root)
    assert df["Data"] == data and df["Metadata"] == meta
    s = status(bare)
    assert s["layout"] == layout and s["state"] == "ONLINE"
    assert s["data_profile"] == data.lower() and s["metadata_profile"] == meta.lower()
    assert [d["path"] for d in s["disks"]] == devs
    assert all(d["state"] == "ONLINE" for d in s["disks"])
    assert s["size"] == n * GIB
    text = bare.run("hull", "status").out
    assert f"layout: {layout} (data {data.lower()}, metadata {meta.lower()})" in text
    assert "state: ONLINE" in text


def test_two_disks_default_to_a_mirror(bare, disks):
    a, b = disks.make(), disks.make()
    bare.run("hull", "init", "--device", a, "--device", b)
    assert fs_df(bare.root)["Data"] == "RAID1"
    assert status(bare)["layout"] == "mirror"
    cfg = json.load(open(os.path.join(bare.root, "var", "pool.json")))
    assert cfg["layout"] == "mirror" and cfg["devices"] == [a, b]
    # Unmounted and mounted again from its disks, it is the same pool.
    bare.run("hull", "pool", "create", "d")
    bare.run("hull", "fini")
    r = bare.run("hull", "init", "--device", a, "--device", b)
    assert "mounted" in r.out and r.err == ""
    assert status(bare)["state"] == "ONLINE"
    assert os.path.isdir(os.path.join(bare.root, "d"))
    # Asked for another layout than it has: refused, left unmounted.
    bare.run("hull", "fini")
    r = bare.fails("hull", "init", "--device", a, "--device", b, "--layout", "raid5")
    assert "mirror pool" in r.err
    assert not mounted(bare.root)


# ---- bad input changes nothing ----

def nothing_done(host, devs):
    assert not mounted(host.root)
    assert not os.path.exists(os.path.join(host.root, "var"))
    for d in devs:
        assert blank(d), f"{d} was written"


def test_too_few_disks_for_the_layout(bare, disks):
    for layout, n in (("mirror", 1), ("raid10", 3), ("raid5", 2), ("raid6", 3)):
        devs = [disks.make() for _ in range(n)]
        args = [a for d in devs for a in ("--device", d)]
        r = bare.fails("hull", "init", *args, "--layout", layout)
        assert f"the {layout} layout takes at least" in r.err
        nothing_done(bare, devs)


def test_a_missing_device(bare, disks):
    a = disks.make()
    missing = os.path.join(bare.workdir, "no-such-disk")
    r = bare.fails("hull", "init", "--device", a, "--device", missing)
    assert "No such file" in r.err and missing in r.err
    nothing_done(bare, [a])


def test_a_device_holding_a_filesystem(bare, disks):
    a, b = disks.make(), disks.make()
    subprocess.run(["mkfs.ext4", "-q", b], check=True)
    r = bare.fails("hull", "init", "--device", a, "--device", b)
    assert "ext4" in r.err and "refusing" in r.err
    nothing_done(bare, [a])
    assert not blank(b)


def test_a_mounted_device(bare, disks):
    a, b = disks.make(), disks.make()
    subprocess.run(["mkfs.ext4", "-q", b], check=True)
    mnt = os.path.join(bare.workdir, "mnt")
    os.mkdir(mnt)
    subprocess.run(["mount", b, mnt], check=True)
    try:
        r = bare.fails("hull", "init", "--device", a, "--device", b)
        assert "in use" in r.err and b in r.err
        nothing_done(bare, [a])
    finally:
        subprocess.run(["umount", mnt], check=True)


def test_a_device_in_use(bare, disks):
    a, b = disks.make(), disks.make()
    # A program holding the disk exclusively, as a volume manager would.
    holder = subprocess.Popen(
        ["/usr/bin/python3", "-c",
         "import os,sys; fd=os.open(sys.argv[1], os.O_RDONLY|os.O_EXCL); "
         "print('held', flush=True); sys.stdin.read()", b],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        r = bare.fails("hull", "init", "--device", a, "--device", b)
        assert "in use" in r.err
        nothing_done(bare, [a, b])
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_a_device_given_twice(bare, disks):
    a = disks.make()
    r = bare.fails("hull", "init", "--device", a, "--device", a)
    assert "given twice" in r.err
    nothing_done(bare, [a])


def test_usage_errors(bare, disks):
    a = disks.make()
    r = bare.fails("hull", "init", "--device", a, "--layout", "raidz")
    assert "--layout takes" in r.err
    r = bare.fails("hull", "init", "--layout", "mirror")
    assert "--layout needs --device" in r.err
    nothing_done(bare, [a])


def test_disk_commands_on_a_dir_pool(bare):
    bare.run("hull", "init", "--backend", "dir")
    for cmd in (["status"], ["scrub", "start"], ["add", "/dev/null"]):
        r = bare.fails("hull", *cmd)
        assert "dir pool has no disks" in r.err


# ---- corruption, scrub ----

def test_mirror_reads_through_corruption_and_scrub_repairs_it(bare, disks):
    a, b = disks.make(), disks.make()
    bare.run("hull", "init", "--device", a, "--device", b, "--layout", "mirror")
    first, second = pattern("A", 256), pattern("B", 256)
    for name, data in (("first", first), ("second", second)):
        with open(os.path.join(bare.root, name), "wb") as f:
            f.write(data)
    bare.run("hull", "fini")

    # Overwrite every block of both files on disk a only.
    hits = {t: find_blocks(a, t) for t in ("A", "B")}
    assert len(hits["A"]) == 256 and len(hits["B"]) == 256
    assert len(find_blocks(b, "A")) == 256   # the mirror's copy
    with open(a, "r+b", buffering=0) as f:
        for off in hits["A"] + hits["B"]:
            f.seek(off)
            f.write(b"\xde\xad" * (BLOCK // 2))
        os.fsync(f.fileno())
    subprocess.run(["blockdev", "--flushbufs", a], check=True)
    assert find_blocks(a, "A") == [] and find_blocks(a, "B") == []

    bare.run("hull", "init", "--device", a, "--device", b)
    # Reads return the right bytes: btrfs checks each block's checksum and
    # takes the good copy.
    with open(os.path.join(bare.root, "first"), "rb") as f:
        assert f.read() == first
    r = bare.run("hull", "scrub", "start", "-w")
    assert "finished" in r.out
    s = status(bare)
    assert s["state"] == "ONLINE"
    assert s["scrub"]["status"] == "finished"
    assert s["scrub"]["corrected_errors"] > 0
    assert s["scrub"]["uncorrectable_errors"] == 0
    errs = {d["path"]: d["errors"]["corruption_errs"] for d in s["disks"]}
    assert errs[a] > 0 and errs[b] == 0
    text = bare.run("hull", "status").out
    assert "No known data errors" not in text and "errors:" in text
    assert "scrub finished" in bare.run("hull", "scrub", "status").out
    with open(os.path.join(bare.root, "second"), "rb") as f:
        assert f.read() == second
    bare.run("hull", "fini")
    # Repaired on disk a: both files' blocks are there again.
    subprocess.run(["blockdev", "--flushbufs", a], check=True)
    assert len(find_blocks(a, "A")) == 256 and len(find_blocks(a, "B")) == 256


def test_scrub_runs_in_the_background_and_cancel_needs_one(bare, disks):
    a, b = disks.make(), disks.make()
    bare.run("hull", "init", "--device", a, "--device", b)
    assert "none requested" in bare.run("hull", "scrub", "status").out
    r = bare.fails("hull", "scrub", "cancel")
    assert "no scrub" in r.err
    assert "started" in bare.run("hull", "scrub").out
    # It ends by itself; status shows it running, then finished.
    for _ in range(100):
        st = status(bare)["scrub"]["status"]
        if st == "finished":
            break
        assert st == "running"
        subprocess.run(["sleep", "0.1"])
    assert st == "finished"
    bare.fails("hull", "scrub", "frob", rc=2)


# ---- degraded, replace, add ----

def test_missing_disk_mounts_degraded_and_replace_heals(bare, disks):
    a, b = disks.make(), disks.make()
    spare = disks.make()  # made now, so it cannot take b's loop number
    bare.run("hull", "init", "--device", a, "--device", b)
    files = {}
    for i in range(8):
        p = os.path.join(bare.root, f"f{i}")
        with open(p, "wb") as f:
            f.write(os.urandom(1 << 20))
        files[p] = md5(p)
    bare.run("hull", "fini")
    disks.detach(b)

    r = bare.run("hull", "init", "--device", a)
    assert "mounted" in r.out
    lines = [l for l in r.err.splitlines() if l.strip()]
    assert len(lines) == 1 and "DEGRADED" in lines[0] and "1 of 2" in lines[0]
    s = status(bare)
    assert s["state"] == "DEGRADED"
    gone = [d for d in s["disks"] if d["state"] == "MISSING"]
    assert len(gone) == 1 and gone[0]["last_path"] == b and gone[0]["path"] is None
    text = bare.run("hull", "status").out
    assert "state: DEGRADED" in text and "MISSING" in text
    # It serves: files read back, and new ones are written.
    for p, h in files.items():
        assert md5(p) == h
    p = os.path.join(bare.root, "written-degraded")
    with open(p, "wb") as f:
        f.write(os.urandom(1 << 20))
    files[p] = md5(p)
    os.sync()

    # Replace the missing disk by its recorded name.
    r = bare.run("hull", "replace", b, spare)
    assert "replaced" in r.out
    s = status(bare)
    assert s["state"] == "ONLINE" and not s["mixed_profiles"]
    assert sorted(d["path"] for d in s["disks"]) == sorted([a, spare])
    assert fs_df(bare.root) == {"Data": "RAID1", "System": "RAID1", "Metadata": "RAID1"}
    bare.run("hull", "fini")
    # Mounted again from the new set of disks: healthy, nothing lost.
    r = bare.run("hull", "init", "--device", a, "--device", spare)
    assert r.err == ""
    assert status(bare)["state"] == "ONLINE"
    for p, h in files.items():
        assert md5(p) == h
    r = bare.run("hull", "scrub", "start", "-w")
    s = status(bare)
    assert s["scrub"]["corrected_errors"] == 0 and s["scrub"]["uncorrectable_errors"] == 0


def test_replace_errors_change_nothing(bare, disks):
    a, b, c = disks.make(), disks.make(), disks.make()
    bare.run("hull", "init", "--device", a, "--device", b)
    r = bare.fails("hull", "replace", c, a)
    assert "not a disk of the pool" in r.err
    subprocess.run(["mkfs.ext4", "-q", c], check=True)
    r = bare.fails("hull", "replace", b, c)
    assert "ext4" in r.err
    bare.fails("hull", "replace", b, rc=2)
    assert sorted(d["path"] for d in status(bare)["disks"]) == sorted([a, b])


def test_add_a_disk(bare, disks):
    a, b, c = disks.make(), disks.make(), disks.make()
    bare.run("hull", "init", "--device", a, "--device", b)
    r = bare.run("hull", "add", c)
    assert "added" in r.out
    s = status(bare)
    assert [d["path"] for d in s["disks"]] == [a, b, c]
    assert s["size"] == 3 * GIB
    cfg = json.load(open(os.path.join(bare.root, "var", "pool.json")))
    assert cfg["devices"] == [a, b, c]
    # A disk already in the pool is in use: refused.
    r = bare.fails("hull", "add", c)
    assert "in use" in r.err
    assert len(status(bare)["disks"]) == 3
