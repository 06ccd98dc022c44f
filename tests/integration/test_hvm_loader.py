"""The boot loader's sandbox (src/hvm/loader.h): a guest controls its
disk completely, so the loader that reads it before every boot must end
in bounded time on a hostile filesystem, never as root, and never trust
what was planted in the emulator's run folder (issue 11, items 4 and 9).
While it runs the instance shows as "ready", a forced stop ends it at
once, and it is charged to the instance's cgroup."""
import json
import os
import signal
import stat
import struct
import subprocess
import time

from conftest import prog

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


def create_vm(h, disk_img, **extra):
    """A stopped kvm VM whose boot disk is disk_img's bytes."""
    r = h.run("vmadm", "create", input=json.dumps(
        {"brand": "kvm", "autoboot": False, "ram": 256,
         "disks": [{"size": 16, "boot": True}], **extra}), timeout=180)
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


def supervisor_pid(h, u):
    try:
        with open(os.path.join(h.root, u, "run", "supervisor.pid")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        # the field after the command (which may hold spaces) is the state
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def sandboxed(pid):
    """Whether the loader has put its seccomp filter on: by then it has
    closed every inherited descriptor (the supervisor's lock among them)
    and holds its parent-death signal. A loader stopped in the instant
    after its clone would keep the lock after its supervisor died."""
    with open(f"/proc/{pid}/status") as f:
        return "\nSeccomp:\t2\n" in f.read()


def find_loader(h, u, timeout=30):
    """The boot loader, once sandboxed: the supervisor's child in a user
    namespace of its own (the emulator and the metadata server come after
    it)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        sv = supervisor_pid(h, u)
        if sv:
            try:
                own = os.readlink(f"/proc/{sv}/ns/user")
            except OSError:
                own = None
            for c in children(sv):
                try:
                    if (own and os.readlink(f"/proc/{c}/ns/user") != own
                            and sandboxed(c)):
                        return c
                except OSError:
                    pass
        time.sleep(0.002)
    raise AssertionError("no boot loader appeared")


def start_async(h, u, env=None):
    e = dict(h.env)
    e.update(env or {})
    return subprocess.Popen([prog("vmadm"), "start", u], env=e, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def one_line(err):
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    return lines[0]


def gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] in ("Z", "X")
    except OSError:
        return True


# cpu_cap 1 (1% of a CPU) applies to the loader too (it runs in the
# instance's cgroup), so it lives long enough to be caught and stopped.
SLOW = {"cpu_cap": 1}


def test_stop_F_while_the_loader_runs(pool, workdir):
    """Items 1-4: while the first start's loader runs (here stopped with
    SIGSTOP so that it never finishes), the instance shows as ready, the
    loader sits in the instance's cgroup in a user namespace of its own,
    and vmadm stop -F ends it at once, though vmadm start holds the
    instance lock; the start then fails saying it was stopped."""
    h = pool
    img = looping_disk(os.path.join(workdir, "loop.img"))
    u = create_vm(h, img, **SLOW)
    p = start_async(h, u)
    try:
        pid = find_loader(h, u)
        os.kill(pid, signal.SIGSTOP)
        # (the supervisor moves it there before it lets it start)
        end = time.monotonic() + 10
        while True:
            with open(f"/proc/{pid}/cgroup") as f:
                cg = f.read()
            if f"/{u}/loader\n" in cg or time.monotonic() > end:
                break
            time.sleep(0.01)
        assert f"/{u}/loader\n" in cg, cg
        # never "stopped" while something of the instance runs
        assert state(h, u) == "ready"
        got = json.loads(h.run("vmadm", "get", u).out)
        assert (got["state"], got["zone_state"]) == ("ready", "ready")
        assert p.poll() is None  # the start waits for its boot
        t0 = time.monotonic()
        r = h.run("vmadm", "stop", "-F", u, timeout=30)
        took = time.monotonic() - t0
        assert took < 5, took
        assert "Successfully completed stop" in r.err
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode != 0
    assert "stopped by a stop request before it booted" in one_line(err)
    assert gone(pid)
    assert state(h, u) == "stopped"
    got = json.loads(h.run("vmadm", "get", u).out)
    assert got["autoboot"] is False
    # and it starts (and fails on its disk) normally afterwards
    r = h.fails("vmadm", "start", u)
    assert "a directory of more than" in r.err


def test_loader_wall_clock_limit(pool, workdir):
    """Item 3: a loader that never finishes (SIGSTOPped) is killed after
    the wall-clock limit ($HULL_LOADER_TIMEOUT, here 3 s) and the start
    fails with one line."""
    h = pool
    img = looping_disk(os.path.join(workdir, "loop.img"))
    u = create_vm(h, img, **SLOW)
    t0 = time.monotonic()
    p = start_async(h, u, {"HULL_LOADER_TIMEOUT": "3"})
    try:
        pid = find_loader(h, u)
        os.kill(pid, signal.SIGSTOP)
        assert state(h, u) == "ready"
        out, err = p.communicate(timeout=30)
        took = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode != 0
    assert "boot loader: took longer than 3 s" in one_line(err)
    assert 3 <= took < 20, took
    assert gone(pid)
    assert state(h, u) == "stopped"


def test_loader_timeout_must_be_seconds(pool, workdir):
    h = pool
    img = looping_disk(os.path.join(workdir, "loop.img"))
    u = create_vm(h, img)
    r = h.run("vmadm", "start", u, check=False,
              env={"HULL_LOADER_TIMEOUT": "soon"})
    assert r.rc != 0
    assert "HULL_LOADER_TIMEOUT" in one_line(r.err)
    assert state(h, u) == "stopped"


def test_stop_F_kills_a_wedged_supervisor(pool, workdir):
    """Item 1, "vmadm stop -F always works": a supervisor that does not
    answer (here SIGSTOPped while its loader runs) is killed after 15 s,
    and what it leaves (its loader, its cgroup, its run files) goes with
    it."""
    h = pool
    img = looping_disk(os.path.join(workdir, "loop.img"))
    u = create_vm(h, img, **SLOW)
    p = start_async(h, u)
    sv = None
    try:
        pid = find_loader(h, u)
        sv = supervisor_pid(h, u)
        os.kill(pid, signal.SIGSTOP)
        os.kill(sv, signal.SIGSTOP)
        t0 = time.monotonic()
        r = h.run("vmadm", "stop", "-F", u, timeout=60)
        took = time.monotonic() - t0
        assert 14 < took < 40, took
        assert "Successfully completed stop" in r.err
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if sv and not gone(sv):
            os.kill(sv, signal.SIGKILL)
    assert p.returncode != 0
    one_line(err)
    assert gone(sv) and gone(pid)
    assert state(h, u) == "stopped"
    assert not os.path.exists(os.path.join(h.root, u, "run",
                                           "control.sock"))
