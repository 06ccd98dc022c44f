"""The double hull (hull-vmmzone, src/hvm/vmmzone.c): an emulator runs in
namespaces and on a root of its own. A stand-in emulator (tests/guest/
probe.c) reports what it sees from inside: no host processes, no host files,
not another instance's disk, no capabilities, no network; and hull-vmm's
test guest boots through the hull with its console and COM2 sockets."""
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid as uuidlib

import pytest

import skips
import vmmlib
from conftest import BUILD, prog
from vmmlib import GUEST_ELF
from zonekit import (cgroup_dirs, cgroup_file, cgroup_pids, cgroup_remove,
                     cgroup_v2)

PROBE = os.path.join(BUILD, "tests", "guest", "hull-probe")
# An instance's emulator uid and gid (vmadm gives the first ids of the
# instance's range, hull_userns; any non-zero ids do here).
UID, GID = 3999990000, 3999990001
AS_UID = ("--uid", str(UID), "--gid", str(GID))


def status_ids(pid):
    """The Uid and Gid lines of /proc/PID/status, as the host sees them."""
    with open(f"/proc/{pid}/status") as f:
        ids = dict(l.split(":", 1) for l in f.read().splitlines()
                   if l.startswith(("Uid:", "Gid:")))
    return ids["Uid"].split(), ids["Gid"].split()


def hull_child(pid):
    """The emulator: the only child of hull-vmmzone (pid)."""
    kids = []
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/children") as f:
            kids += f.read().split()
    assert len(kids) == 1, kids
    return int(kids[0])


@pytest.fixture
def hull(tmp_path):
    """An instance's folders, its own cgroup parent, and a runner."""
    parent = f"hull-test-{uuidlib.uuid4().hex[:8]}"
    env = dict(os.environ, HULL_CGROUP_PARENT=parent)
    inst = tmp_path / "inst"
    for d in ("root", "run", "disks"):
        (inst / d).mkdir(parents=True)
    other = tmp_path / "other" / "disks"
    other.mkdir(parents=True)
    (inst / "disks" / "disk0.img").write_bytes(b"\0" * 4096)
    (other / "disk0.img").write_bytes(b"\0" * 4096)
    u = str(uuidlib.uuid4())

    class H:
        pass

    h = H()
    h.uuid, h.env, h.inst, h.other, h.parent = u, env, inst, other, parent

    def cmd(*emulator, extra=()):
        return [prog("hull-vmmzone"), "--uuid", u, "--root",
                str(inst / "root"), "--run-dir", str(inst / "run"),
                "--file", str(inst / "disks" / "disk0.img") + ":rw",
                *extra, "--", *emulator]
    h.cmd = cmd
    yield h
    cgroup_remove(f"{parent}/{u}")
    cgroup_remove(parent)


def test_probe_sees_only_its_own_hull(hull):
    disk = str(hull.inst / "disks" / "disk0.img")
    other = str(hull.other / "disk0.img")
    cp = subprocess.run(
        hull.cmd(PROBE, "--own", disk, "--try", other, "--try", "/etc/passwd",
                 "--try", "/etc/hostname", "--try", "/dev/sda",
                 "--trywrite", "/proc/sys/vm/drop_caches",
                 "--trywrite", "/proc/sys/kernel/printk",
                 "--run", str(hull.inst / "run"),
                 extra=("--ram", "64", "--cpu-cap", "50")),
        env=hull.env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    # its own pid namespace: it is pid 1 and the only process it sees
    assert "pid: 1" in out, out
    assert "proc: 1" in out, out
    assert f"hostname: {hull.uuid}" in out
    # only what it was given: no /etc, /home, /usr/bin, ...
    root = [l for l in out if l.startswith("root:")][0].split()[1:]
    assert "etc" not in root and "home" not in root, root
    dev = sorted([l for l in out if l.startswith("dev:")][0].split()[1:])
    want = {"null", "urandom"} | ({"kvm"} if os.path.exists("/dev/kvm") else set())
    assert set(dev) == want, dev
    assert f"own {disk}: opened" in out
    assert f"try {other}: No such file or directory" in out
    assert "try /etc/passwd: No such file or directory" in out
    assert "try /dev/sda: No such file or directory" in out
    # its /proc is its own and read-only: no host-wide sysctl or sysrq
    assert "trywrite /proc/sys/vm/drop_caches: Read-only file system" in out
    assert "trywrite /proc/sys/kernel/printk: Read-only file system" in out
    assert f"run {hull.inst}/run/probe.out: opened" in out
    assert (hull.inst / "run" / "probe.out").exists()
    # no capabilities, no_new_privs, cannot mount
    assert "status CapEff:\t0000000000000000" in out, out
    assert "status CapBnd:\t0000000000000000" in out, out
    assert "status NoNewPrivs:\t1" in out, out
    assert "mount: Operation not permitted" in out
    # in its cgroup in every hierarchy (v2: cloned into it; v1: it moved
    # itself there before the exec)
    cgs = [l for l in out if l.startswith("cgroup: ")]
    assert cgs, out
    for l in cgs:
        assert l.endswith(f"/{hull.parent}/{hull.uuid}/zone"), l
    # an empty network namespace: a loopback only
    assert "net: lo" in out, out
    # the host's mount table did not change
    with open("/proc/self/mountinfo") as f:
        assert str(hull.inst / "root") not in f.read()
    # the cgroup is gone once the emulator ended
    assert not cgroup_dirs(f"{hull.parent}/{hull.uuid}")


def test_probe_runs_as_the_instances_uid(hull):
    """With --uid/--gid the emulator runs as that uid and gid (no groups,
    no capabilities, no_new_privs) and is handed only what it must open:
    its read-write disk, its run directory and what is in it (a kernel
    copy, root's 0600), a /dev/kvm node of its own; a root-owned 0644 file
    on the same writable mount stays out of its reach, though root
    (without --uid) may write it; the host's /dev/kvm is unchanged."""
    disk = hull.inst / "disks" / "disk0.img"
    run = hull.inst / "run"
    (run / "sub").mkdir()
    rootfile = run / "sub" / "rootfile"
    rootfile.write_text("root's\n")
    rootfile.chmod(0o644)
    kernel = run / "kernel"
    kernel.write_bytes(b"kernel")
    kernel.chmod(0o600)
    # root's emulator (no --uid) can write that file
    cp = subprocess.run(hull.cmd(PROBE, "--trywrite", str(rootfile)),
                        env=hull.env, capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert f"trywrite {rootfile}: opened" in cp.stdout.splitlines()
    kvm = os.path.exists("/dev/kvm")
    kvm_before = os.stat("/dev/kvm") if kvm else None
    cp = subprocess.run(
        hull.cmd(PROBE, "--own", str(disk), "--trywrite", str(rootfile),
                 "--try", str(kernel), "--run", str(run),
                 *(("--own", "/dev/kvm") if kvm else ()), extra=AS_UID),
        env=hull.env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert f"status Uid:\t{UID}\t{UID}\t{UID}\t{UID}" in out, out
    assert f"status Gid:\t{GID}\t{GID}\t{GID}\t{GID}" in out, out
    assert [l for l in out if l.startswith("status Groups:")] == \
        ["status Groups:\t "], out
    assert "status CapEff:\t0000000000000000" in out, out
    assert "status NoNewPrivs:\t1" in out, out
    assert f"own {disk}: opened" in out, out
    assert f"try {kernel}: opened" in out, out
    assert f"run {run}/probe.out: opened" in out, out
    assert f"trywrite {rootfile}: Permission denied" in out, out
    if kvm:
        assert "own /dev/kvm: opened" in out, out
        after = os.stat("/dev/kvm")
        assert (after.st_uid, after.st_gid, after.st_mode, after.st_rdev) \
            == (kvm_before.st_uid, kvm_before.st_gid, kvm_before.st_mode,
                kvm_before.st_rdev)
    dev = sorted([l for l in out if l.startswith("dev:")][0].split()[1:])
    assert set(dev) == {"null", "urandom"} | ({"kvm"} if kvm else set())
    # on the host: the disk, the run directory and its files are the
    # uid's; the root-owned file is untouched
    for p in (disk, run, kernel, run / "probe.out"):
        st = os.stat(p)
        assert (st.st_uid, st.st_gid) == (UID, GID), p
    assert os.stat(run).st_mode & 0o777 == 0o700
    st = os.stat(rootfile)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o644)
    assert rootfile.read_text() == "root's\n"
    assert not cgroup_dirs(f"{hull.parent}/{hull.uuid}")


def test_emulator_cannot_make_btrfs_subvolumes(btrfs_pool):
    """The emulator may write its run directory, which lies in the
    instance's dataset on the pool: a subvolume made there would get a
    qgroup of its own, outside the instance's quota. The hull's filter
    refuses the btrfs subvolume ioctls, for root's emulator and the
    uid's alike."""
    parent = f"hull-test-{uuidlib.uuid4().hex[:8]}"
    env = dict(os.environ, HULL_CGROUP_PARENT=parent)
    u = str(uuidlib.uuid4())
    try:
        for i, extra in enumerate(((), AS_UID)):
            inst = os.path.join(btrfs_pool.root, f"inst{i}")
            for d in ("root", "run", "disks"):
                os.makedirs(os.path.join(inst, d))
            with open(os.path.join(inst, "disks", "disk0.img"), "wb") as f:
                f.write(b"\0" * 4096)
            run = os.path.join(inst, "run")
            cp = subprocess.run(
                [prog("hull-vmmzone"), "--uuid", u, "--root",
                 os.path.join(inst, "root"), "--run-dir", run, "--file",
                 os.path.join(inst, "disks", "disk0.img") + ":rw", *extra,
                 "--", PROBE, "--run", run, "--subvol", run],
                env=env, capture_output=True, text=True, timeout=60)
            assert cp.returncode == 0, cp.stderr
            out = cp.stdout.splitlines()
            assert f"run {run}/probe.out: opened" in out, cp.stdout
            assert f"subvol {run}: Operation not permitted" in out, out
            assert not os.path.exists(os.path.join(run, "probe-subvol"))
    finally:
        cgroup_remove(f"{parent}/{u}")
        cgroup_remove(parent)


def test_uid_hand_over_refusals(hull):
    """Only the instance's own files are handed over: a disk with another
    hard link is refused in one line; a symbolic link planted in the run
    directory is not followed (its target stays root's)."""
    target = hull.inst / "hostfile"
    target.write_text("host\n")
    (hull.inst / "run" / "planted").symlink_to(target)
    cp = subprocess.run(hull.cmd(PROBE, extra=AS_UID), env=hull.env,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert os.stat(target).st_uid == 0
    assert os.lstat(hull.inst / "run" / "planted").st_uid == 0
    disk = hull.inst / "disks" / "disk0.img"
    os.chown(disk, 0, 0)
    os.link(disk, hull.inst / "disks" / "other-name")
    cp = subprocess.run(hull.cmd(PROBE, extra=AS_UID), env=hull.env,
                        capture_output=True, text=True, timeout=60)
    assert cp.returncode == 1
    assert cp.stderr == (f"hull-vmmzone: {disk}: has other hard links; not "
                         "handed to the emulator's uid\n")
    assert os.stat(disk).st_uid == 0
    cp = subprocess.run(hull.cmd(PROBE, extra=("--uid", str(UID))),
                        env=hull.env, capture_output=True, text=True)
    assert cp.returncode == 1
    assert cp.stderr == "hull-vmmzone: --uid and --gid go together\n"
    cp = subprocess.run(hull.cmd(PROBE, extra=("--uid", "0", "--gid", "1")),
                        env=hull.env, capture_output=True, text=True)
    assert cp.returncode == 1
    assert cp.stderr == "hull-vmmzone: --uid: not an id other than 0: 0\n"
    assert not cgroup_dirs(f"{hull.parent}/{hull.uuid}")


@pytest.mark.parametrize("as_uid", [False, True], ids=["root", "uid"])
def test_device_disks_are_filtered(hull, as_uid):
    """A disk that is a block device, given read-only, opens for reading
    only: the hull's device filter (v1: its devices cgroup; v2: its
    device program, checked in test_zone_cgroup_v2.py) allows it "r"; the
    bind mount alone would not refuse a write to a device node. /dev/null
    (the zone's whitelist) opens for writing. Run as a uid, the disk's node
    is made anew for it in the hull's own /dev; the host's stays root's."""
    backing = hull.inst / "blk.img"
    with open(backing, "wb") as f:
        f.truncate(1 << 20)
    r = subprocess.run(["losetup", "-f", "--show", str(backing)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        skips.skip("host-denies", f"no loop device: {r.stderr.strip()}")
    dev = r.stdout.strip()
    try:
        cp = subprocess.run(
            hull.cmd(PROBE, "--try", dev, "--trywrite", dev,
                     "--trywrite", "/dev/null",
                     extra=("--file", dev) + (AS_UID if as_uid else ())),
            env=hull.env, capture_output=True, text=True, timeout=60)
        st = os.stat(dev)
        assert st.st_uid == 0 and st.st_mode & 0o007 == 0
    finally:
        subprocess.run(["losetup", "-d", dev])
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout.splitlines()
    assert f"try {dev}: opened" in out, out
    assert f"trywrite {dev}: Operation not permitted" in out, out
    assert "trywrite /dev/null: opened" in out, out
    if as_uid:
        assert f"status Uid:\t{UID}\t{UID}\t{UID}\t{UID}" in out, out


def test_limits_are_ram_plus_overhead_and_cpu_cap(hull):
    # a probe that stays long enough to read its cgroup: hull-vmm's guest
    # would do, but the probe needs no KVM; sleep via a fifo instead
    fifo = hull.inst / "run" / "hold"
    os.mkfifo(fifo)
    p = subprocess.Popen(hull.cmd("/bin/sh", "-c", "read x < " + str(fifo),
                                  extra=("--ram", "1024", "--cpu-cap", "150")),
                         env=hull.env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    rel = f"{hull.parent}/{hull.uuid}"
    try:
        # limits are written before the emulator joins the cgroup
        for _ in range(500):
            if cgroup_dirs(rel) and cgroup_pids(rel):
                break
            time.sleep(0.02)
        mem = (1024 + 64 + 1024 // 16) << 20
        if cgroup_v2():
            assert cgroup_file(rel, "", "memory.max") == str(mem)
            assert cgroup_file(rel, "", "cpu.max") == "150000 100000"
        else:
            assert cgroup_file(rel, "memory", "memory.limit_in_bytes") == str(mem)
            assert cgroup_file(rel, "cpu", "cpu.cfs_quota_us") == "150000"
    finally:
        with open(fifo, "w") as f:
            f.write("x\n")
        out, err = p.communicate(timeout=30)
    # /bin/sh is a dynamically linked program too: its libraries came along
    assert p.returncode == 0, err


def test_refusals_are_one_line(hull):
    cp = subprocess.run(hull.cmd("relative/prog"), env=hull.env,
                        capture_output=True, text=True)
    assert cp.returncode == 1
    assert cp.stderr == "hull-vmmzone: the emulator must be an absolute path\n"
    cp = subprocess.run(hull.cmd("/nonexistent/emu"), env=hull.env,
                        capture_output=True, text=True)
    assert cp.returncode == 1
    assert cp.stderr == "hull-vmmzone: /nonexistent/emu: No such file or directory\n"
    cp = subprocess.run(hull.cmd(PROBE, extra=("--file", "/nonexistent.img")),
                        env=hull.env, capture_output=True, text=True)
    assert cp.returncode == 1
    assert len(cp.stderr.splitlines()) == 1, cp.stderr
    assert "/nonexistent.img: No such file or directory" in cp.stderr
    # a file reached through a symbolic link (one a compromised emulator
    # could plant in its run directory) is not brought in
    link = hull.inst / "run" / "kernel"
    link.symlink_to("/etc/passwd")
    cp = subprocess.run(hull.cmd(PROBE, extra=("--file", str(link))),
                        env=hull.env, capture_output=True, text=True)
    assert cp.returncode == 1
    assert cp.stderr == (f"hull-vmmzone: {link}: must be a canonical path "
                         "(no symbolic link, '.', '..' or trailing '/')\n")
    assert not cgroup_dirs(f"{hull.parent}/{hull.uuid}")


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
@pytest.mark.parametrize("as_uid", [False, True], ids=["root", "uid"])
def test_hull_vmm_guest_boots_in_the_hull(hull, as_uid):
    run = hull.inst / "run"
    con, meta = str(run / "console.sock"), str(run / "ttyb.sock")
    p = subprocess.Popen(
        hull.cmd(vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                 "test=com2", "--memory", "32M",
                 "--disk", str(hull.inst / "disks" / "disk0.img"),
                 "--console", f"unix:{con}", "--metadata", f"unix:{meta}",
                 extra=("--file", GUEST_ELF, "--ram", "32") +
                 (AS_UID if as_uid else ())),
        env=hull.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(500):
            if os.path.exists(con) and os.path.exists(meta):
                break
            if p.poll() is not None:
                break
            time.sleep(0.01)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(con)
        m = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        m.connect(meta)
        m.sendall(b"GET sdc:uuid\n")
        # hull-vmm as the host sees it: the instance's uid, or root
        want = [str(UID)] * 4 if as_uid else ["0"] * 4
        wantg = [str(GID)] * 4 if as_uid else ["0"] * 4
        assert status_ids(hull_child(p.pid)) == (want, wantg)
        got = b""
        c.settimeout(30)
        while b"hull-guest: PASS com2" not in got:
            chunk = c.recv(4096)
            if not chunk:
                break
            got += chunk
        m.settimeout(30)
        answer = m.recv(100)
        out, err = p.communicate(timeout=30)
        c.close()
        m.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = got.decode()
    assert "com2: got 'GET sdc:uuid'" in text, (text, err)
    assert "hull-guest: PASS com2" in text
    assert answer.startswith(b"ok"), answer
    assert p.returncode == 0, err


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
def test_hull_vmm_reads_an_initrd_in_the_hull(hull, tmp_path):
    """hull-vmm reads an initrd through libarchive, which it dlopen()s:
    --dlopen brings the library and its own closure into the hull."""
    import gzip
    from test_vmm_config import make_cpio
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(gzip.compress(make_cpio({"init": b"x" * 1000})))
    cmd = hull.cmd(vmmlib.vmm(), "--kernel", GUEST_ELF, "--initrd",
                   str(initrd), "--cmdline", "test=hello", "--memory", "32M",
                   extra=("--file", GUEST_ELF, "--file", str(initrd),
                          "--dlopen", "libarchive.so.13"))
    cp = subprocess.run(cmd, env=hull.env, capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert "hull-guest: PASS hello" in cp.stdout
    # without it, the library is not there: one line, nothing running
    cmd.remove("--dlopen")
    cmd.remove("libarchive.so.13")
    cp = subprocess.run(cmd, env=hull.env, capture_output=True, text=True,
                        timeout=60)
    assert cp.returncode == 1, cp
    assert "libarchive" in cp.stderr, cp.stderr


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
def test_bhyve_launch_is_complete_in_the_hull(hull):
    """The bhyve brand's whole launch, double-hulled: the boot loader finds
    the Linux guest image's kernel and initrd (copied into the run
    directory), hvm_vmm_argv (hull-hvm vmm-argv) builds hull-vmm's argv,
    and hull-vmm --check inside the hull opens the disk, the sockets' folder,
    loads the kernel and reads the initrd through libarchive. (This host's
    KVM cannot run a stock Linux kernel to the end: DESIGN.md; the test
    guest boots through the hull above.)"""
    import json
    import hvmlib
    raw, _, _ = hvmlib.guest_image("grub", "mbr")
    disk = str(hull.inst / "disks" / "disk0.img")
    subprocess.run(["cp", "--sparse=always", raw, disk], check=True)
    rec = hull.inst / "vm.json"
    rec.write_text(json.dumps({
        "uuid": hull.uuid, "brand": "bhyve", "ram": 256, "vcpus": 2,
        "disks": [{"path": disk, "boot": True}]}))
    run = str(hull.inst / "run")
    boot = os.path.join(run, "boot")
    os.mkdir(boot)
    cp = subprocess.run([prog("hull-hvm"), "vmm-argv", "--record", str(rec),
                         "--run-dir", run, "--boot-dir", boot, "--accel",
                         "kvm"], capture_output=True, text=True, timeout=120)
    assert cp.returncode == 0, cp.stderr
    argv = cp.stdout.split("\n")[:-1]
    assert argv[0] == "hull-vmm"
    argv[0] = os.path.abspath(vmmlib.vmm())
    assert f"unix:{run}/console.sock" in argv
    # the hull's part of the record: uuid, disks, ram (hull-vmmzone
    # --record, hvm_hull_from_inst)
    cmd = [prog("hull-vmmzone"), "--record", str(rec), "--root",
           str(hull.inst / "root"), "--run-dir", run, "--dlopen",
           "libarchive.so.13", "--", *argv, "--check"]
    r = subprocess.run(cmd, env=hull.env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    # a bad record is one line
    rec.write_text(json.dumps({"uuid": hull.uuid, "disks": [{"path": "x"}]}))
    r = subprocess.run(cmd, env=hull.env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1
    assert r.stderr == (f"hull-vmmzone: {rec}: disks.0.path: must be an "
                        "absolute path\n")


QEMU_TCG = "/usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so"


@pytest.mark.parametrize("accel", ["kvm", "tcg"])
def test_qemu_runs_in_the_hull_and_stops_on_sigterm(hull, accel):
    """The kvm brand's emulator in the same hull: QEMU (microvm, with its
    data and firmware folders bound read-only) boots the test guest, with
    KVM or with TCG (QEMU's accel-tcg module, which it loads by path, is
    brought in with --dlopen); a SIGTERM to hull-vmmzone reaches QEMU,
    which ends, and the cgroup goes."""
    if accel == "kvm" and vmmlib.kvm_unusable() is not None:
        skips.skip("no-kvm", str(vmmlib.kvm_unusable()))
    if accel == "tcg" and not os.path.exists(QEMU_TCG):
        pytest.fail(f"{QEMU_TCG} is not installed: run scripts/deps")
    qemu = os.path.realpath(shutil.which("qemu-system-x86_64"))
    files = ["--file", GUEST_ELF, "--ram", "64"]
    for d in ("/usr/share/qemu", "/usr/share/seabios"):
        if os.path.isdir(d):
            files += ["--file", os.path.realpath(d)]
    if accel == "tcg":
        files += ["--dlopen", QEMU_TCG]
        opts = ["-accel", "tcg"]
    else:
        opts = ["-enable-kvm", "-cpu", "kvm64"]
    p = subprocess.Popen(
        hull.cmd(qemu, "-M", "microvm", *opts, "-m", "64M", "-nodefaults",
                 "-no-user-config", "-nographic", "-display", "none",
                 "-serial", "stdio", "-kernel", GUEST_ELF, "-append",
                 "test=spin", extra=files),
        env=hull.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while "hull-guest: ready" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert "terminating on signal 15" in err, err
    assert not cgroup_dirs(f"{hull.parent}/{hull.uuid}")


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
def test_hull_vmm_still_confines_itself_in_the_hull(hull):
    """Inside the hull, hull-vmm still installs its own seccomp allow-list:
    an execve after set-up kills it with SIGSYS, which hull-vmmzone
    reports as 128 + 31."""
    cp = subprocess.run(
        hull.cmd(vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline", "test=spin",
                 "--memory", "16M", "--console", "none",
                 "--test-forbidden-syscall", "execve",
                 extra=("--file", GUEST_ELF, "--ram", "16")),
        env=hull.env, capture_output=True, text=True, timeout=60)
    assert cp.returncode == 128 + signal.SIGSYS, cp
    assert not cgroup_dirs(f"{hull.parent}/{hull.uuid}")


OPEN_TAP_AND_EXEC = r"""
import fcntl, os, struct, sys
fd = os.open("/dev/net/tun", os.O_RDWR)
# TUNSETIFF: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR on the existing tap
fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", sys.argv[1].encode(),
                                         0x0002 | 0x1000 | 0x4000))
os.set_inheritable(fd, True)
argv = [a.replace("TAPFD", str(fd)) for a in sys.argv[2:]]
os.execv(argv[0], argv)
"""


@pytest.fixture
def netns():
    name = "hull-t-hull" + uuidlib.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
def test_hull_vmm_net_through_a_tap_handed_in(hull, netns):
    """The hull's own network namespace is empty; the nic works through a
    tap descriptor opened outside (in a test namespace) and kept open with
    --fd: the guest's frame reaches the host side and the answer comes
    back."""
    import sys
    from test_vmm_devices import RESPONDER
    ex = ["ip", "netns", "exec", netns]
    subprocess.run(ex + ["ip", "tuntap", "add", "dev", "vtap0", "mode", "tap",
                         "vnet_hdr"], check=True)
    subprocess.run(ex + ["ip", "link", "set", "vtap0", "up"], check=True)
    resp = subprocess.Popen(ex + [sys.executable, "-c", RESPONDER, "vtap0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert resp.stdout.readline().strip() == "listening"
        cmd = hull.cmd(vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                       "test=net", "--memory", "32M", "--net",
                       "fd=TAPFD,mac=02:00:5e:10:00:43",
                       extra=("--file", GUEST_ELF, "--fd", "TAPFD",
                              "--ram", "32"))
        vm = subprocess.run(ex + [sys.executable, "-c", OPEN_TAP_AND_EXEC,
                                  "vtap0", *cmd],
                            env=hull.env, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
        out, err = resp.communicate(timeout=30)
    finally:
        if resp.poll() is None:
            resp.kill()
            resp.wait()
    assert vm.returncode == 0, vm
    assert "net: mac 02:00:5e:10:00:43" in vm.stdout
    assert "net: got 'hull-host pong'" in vm.stdout
    assert "ping from 02:00:5e:10:00:43" in out
