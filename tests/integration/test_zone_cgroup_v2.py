"""Resource controls and systemd zones on a pure cgroup v2 host.

This host is hybrid (v1 controllers, an empty v2 tree), so the v2 path
runs inside a VM: Debian's cloud kernel (the kvm-brand tests' kernel,
fetched with `apt-get download` into the test cache) under QEMU TCG, with
an uncompressed initramfs holding busybox, the hull programs of the build
under test (HULL_BUILD, the sanitizer build, with the libraries ldd names)
and the double hull's stand-in emulator (hull-probe),
GNU cp, a few modules and a busybox zone image. Its init
(helpers/cgv2-init) mounts cgroup2 alone at /sys/fs/cgroup as systemd
does, makes a dir pool on tmpfs, creates zones with every resource
control, and prints one PASS, FAIL or SKIP line per check on the serial
console; each check below asserts its own line. Then, from a btrfs pool
made here (a virtio disk in the VM), a Debian 12 zone boots systemd.

One VM run serves every check (module scope): about a minute here.
"""
import contextlib
import fcntl
import glob
import json
import os
import shutil
import subprocess
import tempfile

import pytest

import skips
from conftest import BUILD, ROOT, Host, cleanup_root, prog
from hvmlib import CACHE
from test_debian_zone import IMAGE_UUID, debian_image
from zonekit import copy_libraries

INIT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers",
                    "cgv2-init")
QEMU = "qemu-system-x86_64"
TAG = "HULL-CGV2 "
PROGRAMS = ["hull", "vmadm", "imgadm", "hull-supervisor", "hull-holder",
            "zlogin", "sysinfo",
            "hull-vmmzone"]
# The double hull's stand-in emulator (tests/guest/probe.c).
PROBE = os.path.join(BUILD, "tests", "guest", "hull-probe")
DEBIAN_CHECKS = ["systemd_boot", "systemd_zlogin", "systemd_cgroup_tree",
                 "systemd_controllers", "systemd_reboot",
                 "systemd_device_filter", "systemd_stop", "systemd_delete"]
# The checks cgv2-init makes, in its order.
CHECKS = [
    "boot", "sysinfo_layout", "create",
    "cpu_max", "cpu_weight", "memory_max", "memory_swap_max", "pids_max",
    "io_weight", "io_bfq_weight", "zone_leaf", "device_filter",
    "vm_hull_device_filter",
    "zone_tree_writable",
    "zone_cannot_lift", "fork_bomb", "fork_bomb_counted", "host_survives",
    "oom_killed", "oom_counted", "oom_zone_survives",
    "update", "update_cpu_max", "update_cpu_weight", "update_memory_max",
    "update_memory_swap_max", "update_pids_max", "update_io_weight",
    "update_io_bfq_weight", "update_cpu_uncapped", "oom_recorded", "stop",
    "restart", "supervisor_killed", "start_after_kill", "delete_cgroup",
    "nested_pids_max", "nested_memory_max", "nested_delete",
] + DEBIAN_CHECKS
# Only these may be skipped: the I/O weights when the kernel lacks the
# file, the Debian checks when the Debian image cannot be built.
SKIPPABLE = {"io_weight", "update_io_weight", "io_bfq_weight",
             "update_io_bfq_weight"} | set(DEBIAN_CHECKS)
# The whole run under TCG, Debian zone and its reboot included, took
# 376 s on a loaded 2-core machine; the bound leaves room for such load.
BOOT_TIMEOUT = 600
# What a host would load on demand and this VM cannot (it has no modprobe):
# nf_tables, which vmadm asks whether a firewall table exists. In load
# order, each after what its modinfo "depends=" names.
# Then the virtio disk and btrfs, for the Debian pool, and BFQ, whose
# io.bfq.weight the zone's I/O weight reaches too.
MODULES = ["net/netfilter/nfnetlink.ko", "lib/libcrc32c.ko",
           "net/netfilter/nf_tables.ko",
           "drivers/virtio/virtio_ring.ko", "drivers/virtio/virtio.ko",
           "drivers/virtio/virtio_pci_legacy_dev.ko",
           "drivers/virtio/virtio_pci_modern_dev.ko",
           "drivers/virtio/virtio_pci.ko", "drivers/block/virtio_blk.ko",
           "crypto/xor.ko", "lib/raid6/raid6_pq.ko",
           "lib/zstd/zstd_compress.ko", "fs/btrfs/btrfs.ko",
           "block/bfq.ko"]


def linux_kernel():
    """The vmlinuz of Debian's cloud kernel, unpacked in the test cache
    as scripts/mkimage-linux-vm keeps it (never installed on this host).
    Skips when the package cannot be had."""
    meta = "linux-image-cloud-amd64"
    r = subprocess.run(["apt-cache", "depends", meta], capture_output=True,
                       text=True)
    pkg = next((l.split(":", 1)[1].strip() for l in r.stdout.splitlines()
                if l.strip().startswith("Depends: linux-image-")), None)
    if not pkg:
        skips.skip("offline", f"apt-cache cannot resolve {meta}")
    os.makedirs(CACHE, exist_ok=True)
    kroot = os.path.join(CACHE, pkg)
    with open(os.path.join(CACHE, ".linux-vm.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not glob.glob(os.path.join(kroot, "boot", "vmlinuz-*")):
            debs = glob.glob(os.path.join(CACHE, f"{pkg}_*.deb"))
            if not debs:
                r = subprocess.run(["apt-get", "download", "-q", pkg],
                                   cwd=CACHE, capture_output=True, text=True,
                                   timeout=600)
                debs = glob.glob(os.path.join(CACHE, f"{pkg}_*.deb"))
                if r.returncode != 0 or not debs:
                    skips.skip("offline", f"cannot download {pkg}: {r.stderr.strip()}")
            tmp = kroot + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            subprocess.run(["dpkg", "-x", debs[0], tmp], check=True)
            os.rename(tmp, kroot)
    return glob.glob(os.path.join(kroot, "boot", "vmlinuz-*"))[0]


def copy_modules(vmlinuz, root):
    """Copies MODULES from the kernel package into root/lib/modules and
    lists them, in load order, in root/etc/modules."""
    kver = os.path.basename(vmlinuz)[len("vmlinuz-"):]
    kroot = os.path.dirname(os.path.dirname(vmlinuz))
    mods = os.path.join(kroot, "lib", "modules", kver, "kernel")
    os.makedirs(os.path.join(root, "lib", "modules"), exist_ok=True)
    loaded = []
    for m in MODULES:
        with open(os.path.join(mods, m), "rb") as f:
            info = f.read().split(b"\0")
        for field in info:
            if field.startswith(b"depends="):
                for d in filter(None, field[8:].decode().split(",")):
                    assert d + ".ko" in loaded, f"{m} needs {d} first"
        name = os.path.basename(m)
        shutil.copy2(os.path.join(mods, m),
                     os.path.join(root, "lib", "modules", name))
        loaded.append(name)
    with open(os.path.join(root, "etc", "modules"), "w") as f:
        f.write("".join(f"{m}\n" for m in loaded))


def build_initramfs(workdir, vmlinuz):
    """The VM's whole userland, as an uncompressed cpio archive (the
    kernel unpacks it faster than it could gunzip it under TCG)."""
    r = os.path.join(workdir, "initramfs")
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "usr/local/bin", "etc",
              "dev", "proc", "sys", "tmp", "run", "zones", "img", "root"):
        os.makedirs(os.path.join(r, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(r, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True,
                             text=True, check=True).stdout.split()
    for a in applets:
        if a != "busybox":
            os.symlink("busybox", os.path.join(r, "bin", a))
    # The programs under test, and GNU cp for the dir backend (busybox's
    # has no --reflink).
    for p in [prog(n) for n in PROGRAMS] + [shutil.which("cp"), PROBE]:
        dst = os.path.join(r, "usr", "local", "bin", os.path.basename(p))
        shutil.copy2(p, dst)
        copy_libraries(p, r)
    with open(os.path.join(r, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(r, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")
    subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o",
                    os.path.join(r, "img"), "-n", "bb", "-V", "1", "-c",
                    "none"], check=True, capture_output=True)
    copy_modules(vmlinuz, r)
    shutil.copy2(INIT, os.path.join(r, "init"))
    out = os.path.join(workdir, "initramfs.cpio")
    files = subprocess.run("find . | LC_ALL=C sort", shell=True, cwd=r,
                           capture_output=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet", "-R", "0:0"],
                       cwd=r, input=files, stdout=f, check=True)
    shutil.rmtree(r)
    return out


@contextlib.contextmanager
def debian_pool():
    """A btrfs pool file holding the cached Debian 12 image and one stopped
    lx zone of it (cloud-init switched off: under TCG it would take
    minutes; and so ssh, whose host keys cloud-init makes), made here with
    the build under test; yields (file, root, uuid), or (None, reason,
    None) when the image cannot be had."""
    try:
        manifest, image = debian_image()
    except pytest.skip.Exception as e:
        yield None, f"no Debian image: {e}", None
        return
    workdir = tempfile.mkdtemp(prefix="hull-test-")
    host = Host(os.path.join(workdir, "zones"), workdir)
    try:
        # The VM's kernel (6.1) cannot mount a btrfs with simple quotas,
        # which hull picks on a newer one like this host's.
        host.run("hull", "init", "--file", os.path.join(workdir, "pool.img"),
                 "--size", "2G", "--quota", "none")
        host.run("imgadm", "install", "-m", manifest, "-f", image,
                 timeout=600)
        r = host.run("vmadm", "create", input=json.dumps({
            "brand": "lx", "kernel_version": "5.10.0",
            "image_uuid": IMAGE_UUID, "alias": "debian", "autoboot": False,
            "max_physical_memory": 512}))
        u = (r.out + r.err).split()[-1]
        zroot = os.path.join(host.root, u, "root")
        with open(os.path.join(zroot, "etc", "cloud", "cloud-init.disabled"),
                  "w"):
            pass
        # ssh's host keys are cloud-init's to make: without it sshd fails.
        os.symlink("/dev/null", os.path.join(zroot, "etc", "systemd",
                                             "system", "ssh.service"))
        host.run("hull", "fini")
        yield os.path.join(workdir, "pool.img"), host.root, u
    finally:
        host.run("hull", "fini", check=False)
        cleanup_root(workdir)


@pytest.fixture(scope="module")
def v2vm(tmp_path_factory):
    with debian_pool() as deb:
        yield boot(tmp_path_factory, *deb)


def boot(tmp_path_factory, debfile, debroot, debuuid):
    """Boots the VM once; returns its console text and {check: line}."""
    if not shutil.which(QEMU):
        pytest.fail(f"{QEMU} is not installed: run scripts/deps --test")
    vmlinuz = linux_kernel()
    workdir = str(tmp_path_factory.mktemp("cgv2"))
    initrd = build_initramfs(workdir, vmlinuz)
    console = os.path.join(workdir, "console.log")
    cmdline = "console=ttyS0 quiet panic=-1 rdinit=/init"
    argv = [QEMU, "-accel", "tcg,thread=multi", "-cpu", "max", "-smp", "2",
            "-m", "1536", "-nodefaults", "-no-user-config", "-display",
            "none", "-monitor", "none", "-serial", f"file:{console}",
            "-no-reboot", "-kernel", vmlinuz, "-initrd", initrd]
    # A scratch disk, the block device the zone must not open, and the
    # Debian pool; each found in the VM by its serial.
    scratch = os.path.join(workdir, "scratch.img")
    with open(scratch, "wb") as f:
        f.truncate(1 << 20)
    disks = [(scratch, "hull-scratch")]
    if debfile:
        disks.append((debfile, "hull-debian"))
        cmdline += f" hull.debroot={debroot} hull.debuuid={debuuid}"
    for i, (path, serial) in enumerate(disks):
        argv += ["-drive", f"file={path},if=none,id=d{i},format=raw,"
                 "cache=unsafe",
                 "-device", f"virtio-blk-pci,drive=d{i},serial={serial}"]
    argv += ["-append", cmdline]
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    timed_out = False
    try:
        out, _ = p.communicate(timeout=BOOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        timed_out = True
        p.kill()
        out, _ = p.communicate()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    with open(console, errors="replace") as f:
        text = f.read().replace("\r", "")
    shutil.rmtree(workdir, ignore_errors=True)
    results = {}
    for line in text.splitlines():
        i = line.find(TAG)
        if i < 0:
            continue
        words = line[i + len(TAG):].split(None, 2)
        if len(words) >= 2 and words[0] in ("PASS", "FAIL", "SKIP"):
            results[words[1].rstrip(":")] = line[i + len(TAG):]
    if timed_out:
        results.setdefault("DONE", f"the VM ran past {BOOT_TIMEOUT}s")
    elif "DONE" not in text:
        results.setdefault("DONE", f"qemu exited {p.returncode}: "
                           f"{out.decode(errors='replace')[-500:]}")
    if not debfile:
        for c in DEBIAN_CHECKS:
            results[c] = f"SKIP {c}: {debroot}"
    return text, results


def test_vm_ran_to_the_end(v2vm):
    text, _results = v2vm
    assert f"{TAG}DONE" in text, text[-4000:]


@pytest.mark.parametrize("check", CHECKS)
def test_check(v2vm, check):
    text, results = v2vm
    line = results.get(check)
    assert line is not None, f"{check}: no result; console:\n{text[-3000:]}"
    if line.startswith("SKIP") and check in SKIPPABLE:
        skips.skip("kernel-lacks", line)
    assert line.startswith("PASS"), line


def test_every_result_is_known(v2vm):
    _text, results = v2vm
    # A check added to cgv2-init is asserted here too.
    assert set(results) - {"DONE"} <= set(CHECKS)
