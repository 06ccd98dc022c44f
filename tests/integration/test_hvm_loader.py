"""The boot loader's sandbox (src/hvm/loader.h): a guest controls its
disk completely, so the loader that reads it before every boot must end
in bounded time on a hostile filesystem, never as root, and never trust
what was planted in the emulator's run folder (issue 11, items 4 and 9)."""
import json
import os
import stat
import struct
import subprocess
import time

import pytest

from zonekit import Zones

BS = 4096


def debugfs(img, *cmds):
    for c in cmds:
        subprocess.run(["debugfs", "-w", "-R", c, img], check=True,
                       capture_output=True, timeout=60)


def looping_disk(path):
    """A bare ext2 whose /boot's block map loops: its triple-indirect
    block's entries all name one double-indirect block, whose entries all
    name one indirect block, whose entries all name one empty directory
    block: 2^30 blocks for a walk that trusts the map (libext2fs's
    directory iteration spun at 100% CPU on it, as root)."""
    root = path + ".d"
    os.makedirs(os.path.join(root, "boot", "grub"))
    with open(os.path.join(root, "boot", "vmlinuz-6.1.0-1"), "wb") as f:
        f.write(b"\0" * 4096)
    subprocess.run(["mkfs.ext2", "-q", "-F", "-b", str(BS), "-d", root,
                    path, "8M"], check=True, capture_output=True)
    # four blocks past what mkfs used, marked in use: the directory
    # block, then the indirect, double- and triple-indirect blocks
    d, i, j, k = 2040, 2041, 2042, 2043
    with open(path, "r+b") as f:
        f.seek(d * BS)
        f.write(struct.pack("<IHBB", 0, BS, 0, 0).ljust(BS, b"\0"))
        for blk, entry in ((i, d), (j, i), (k, j)):
            f.seek(blk * BS)
            f.write(struct.pack("<I", entry) * (BS // 4))
    debugfs(path, f"setb {d} 4", "sif /boot block[TIND] %d" % k)
    return path


def create_vm(h, disk_img):
    """A stopped kvm VM whose boot disk is disk_img's bytes."""
    r = h.run("vmadm", "create", input=json.dumps(
        {"brand": "kvm", "autoboot": False, "ram": 256,
         "disks": [{"size": 16, "boot": True}]}), timeout=180)
    u = r.err.split("Successfully created VM ")[1].split()[0]
    disk = os.path.join(h.root, u, "disks", "disk0.img")
    with open(disk_img, "rb") as src, open(disk, "wb") as dst:
        dst.write(src.read())
    return u


def state(h, u):
    return h.run("vmadm", "list", "-H", "-o", "state",
                 f"uuid={u}").out.strip()


@pytest.fixture
def pool(btrfs_pool):
    h = btrfs_pool
    zs = Zones(h)
    try:
        yield h
    finally:
        for u in h.run("vmadm", "list", "-H", "-o", "uuid",
                       check=False).out.split():
            h.run("vmadm", "delete", u, check=False)
        zs.cleanup()


def test_looping_directory_fails_fast(bare, workdir):
    img = looping_disk(os.path.join(workdir, "loop.img"))
    t0 = time.monotonic()
    r = bare.fails("hull-hvm", "boot-find", img)
    assert time.monotonic() - t0 < 10
    assert "/boot: a directory of more than" in r.err


def test_looping_directory_start_fails_and_stop_works(pool, workdir):
    h = pool
    img = looping_disk(os.path.join(workdir, "loop.img"))
    u = create_vm(h, img)
    t0 = time.monotonic()
    r = h.fails("vmadm", "start", u)
    took = time.monotonic() - t0
    assert took < 30, took  # within the loader's wall-clock limit
    assert "a directory of more than" in r.err
    assert state(h, u) == "stopped"
    # nothing left running: the supervisor is gone, stop and delete work
    h.run("vmadm", "stop", "-F", u, timeout=20)
    assert state(h, u) == "stopped"
    h.run("vmadm", "delete", u, timeout=60)


def test_stamp_planted_as_link_or_fifo(bare, workdir):
    """Item 9: the run folder is the emulator's; a stamp planted there as a
    link to a root-only file or as a FIFO is neither read nor waited on."""
    d = os.path.join(workdir, "d")
    os.makedirs(os.path.join(d, "boot"))
    with open(os.path.join(d, "boot", "vmlinuz-6.1.0-1"), "wb") as f:
        f.write(b"K" * 10000)
    img = os.path.join(workdir, "ok.img")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", d, img, "16M"],
                   check=True, capture_output=True)
    out = os.path.join(workdir, "out")
    os.mkdir(out)
    bare.run("hull-hvm", "boot-find", img, "--extract", out)
    with open(os.path.join(out, ".stamp")) as f:
        good = f.read()
    secret = os.path.join(workdir, "secret")
    with open(secret, "w") as f:
        f.write(good)  # a root-only file that would match, if followed
    os.chmod(secret, 0o600)
    stampp = os.path.join(out, ".stamp")
    for plant in ("link", "fifo"):
        os.unlink(stampp)
        # a copy of the kernel's size that the real stamp would keep
        with open(os.path.join(out, "kernel"), "wb") as f:
            f.write(b"X" * 10000)
        if plant == "link":
            os.symlink(secret, stampp)
        else:
            os.mkfifo(stampp)
        t0 = time.monotonic()
        got = json.loads(bare.run("hull-hvm", "boot-find", img, "--extract",
                                  out, timeout=20).out)
        assert time.monotonic() - t0 < 10
        with open(got["kernel_file"], "rb") as f:
            # copied again: the planted stamp was not taken for a match
            assert f.read() == b"K" * 10000
        st = os.lstat(stampp)
        assert stat.S_ISREG(st.st_mode)  # replaced by a fresh stamp
        with open(secret) as f:
            assert f.read() == good  # never written through
