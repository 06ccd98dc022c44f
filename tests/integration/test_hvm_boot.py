"""The firmware-less boot loader (hull-hvm boot-find): what a guest disk
boots, by its own grub.cfg, BLS entries or newest kernel, from an MBR,
a GPT or a bare ext4; and the disks it refuses, with one line."""
import json
import os
import re
import subprocess

import pytest

import skips
import hvmlib
import vmmlib
from conftest import prog

KERNEL = re.compile(r"^/boot/vmlinuz-\d+\.\d+\.\d+-\d+-cloud-amd64$")


def find(host, disk, *args):
    return json.loads(host.run("hull-hvm", "boot-find", disk, *args).out)


def is_bzimage(path):
    with open(path, "rb") as f:
        head = f.read(0x210)
    return head[0x202:0x206] == b"HdrS"


def test_grub_default_entry(bare, workdir):
    raw, _, _ = hvmlib.guest_image("grub", "mbr")
    got = find(bare, raw)
    # grub.cfg's default entry wins over the newer-named decoy kernel
    # that the newest-kernel rule would take.
    assert got["source"] == "grub.cfg"
    assert got["title"] == "Debian GNU/Linux"
    assert KERNEL.match(got["kernel"]), got
    assert got["initrd"] == [got["kernel"].replace("vmlinuz", "initrd.img")]
    assert got["cmdline"] == "console=ttyS0 quiet hull.test=grub"
    assert got["partition"] == 1
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    got = find(bare, raw, "--extract", out)
    assert got["kernel_file"] == os.path.join(out, "kernel")
    assert is_bzimage(got["kernel_file"])
    with open(got["initrd_file"], "rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # the gzip'd cpio
    assert sorted(os.listdir(out)) == [".stamp", "initrd", "kernel"]


def test_newest_kernel_gpt(bare, workdir):
    raw, _, _ = hvmlib.guest_image("newest", "gpt")
    got = find(bare, raw)
    assert got["source"] == "newest kernel"
    # 6.1.0-56 beats 6.1.0-9 in version order (not in byte order).
    assert KERNEL.match(got["kernel"]) and "-9-" not in got["kernel"], got
    assert got["initrd"] == [got["kernel"].replace("vmlinuz", "initrd.img")]
    assert got["cmdline"] == "console=ttyS0"
    assert got["partition"] == 1
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    assert is_bzimage(find(bare, raw, "--extract", out)["kernel_file"])


def test_no_kernel_refused(bare, workdir):
    raw, _, _ = hvmlib.guest_image("nokernel", "mbr")
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    r = bare.fails("hull-hvm", "boot-find", raw, "--extract", out)
    assert "no kernel found" in r.err
    assert os.listdir(out) == []


def mkfs(workdir, files, name="bare.img", opts=()):
    """A bare ext4 (no partition table) holding files {path: bytes}."""
    root = os.path.join(workdir, name + ".d")
    for path, data in files.items():
        full = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    img = os.path.join(workdir, name)
    subprocess.run(["mkfs.ext4", "-q", "-F", *opts, "-d", root, img, "8M"],
                   check=True)
    return img


def test_bls_bare_filesystem(bare, workdir):
    img = mkfs(workdir, {
        "/boot/loader/entries/f-6.5.9.conf":
            b"title Old\nversion 6.5.9\nlinux /vmlinuz-6.5.9\n"
            b"options root=/dev/vda2 ro\n",
        "/boot/loader/entries/f-6.5.10.conf":
            b"title New\nversion 6.5.10\nlinux /vmlinuz-6.5.10\n"
            b"initrd /initramfs-6.5.10.img\noptions root=/dev/vda2 $k ro\n",
        "/boot/loader/entries/notes.txt": b"not an entry\n",
        # BLS paths are relative to /boot when /boot is not a partition.
        "/boot/vmlinuz-6.5.9": b"old kernel",
        "/boot/vmlinuz-6.5.10": b"new kernel",
        "/boot/initramfs-6.5.10.img": b"new initrd",
    })
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    got = find(bare, img, "--extract", out)
    assert got["source"] == "BLS entry"
    assert got["title"] == "New"
    assert got["partition"] == 0
    assert got["cmdline"] == "root=/dev/vda2 ro"
    with open(got["kernel_file"], "rb") as f:
        assert f.read() == b"new kernel"
    with open(got["initrd_file"], "rb") as f:
        assert f.read() == b"new initrd"


def test_separate_boot_partition_initrds_joined(bare, workdir):
    # A filesystem that is the guest's /boot: grub.cfg in /grub, paths
    # without /boot; two initrd files are concatenated.
    img = mkfs(workdir, {
        "/grub/grub.cfg":
            b"menuentry 'x' {\n linux /vmlinuz-1 ro\n"
            b" initrd /ucode.img /initrd.img-1\n}\n",
        "/vmlinuz-1": b"K",
        "/ucode.img": b"first,",
        "/initrd.img-1": b"second",
    })
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    got = find(bare, img, "--extract", out)
    assert got["source"] == "grub.cfg"
    with open(got["initrd_file"], "rb") as f:
        assert f.read() == b"first,second"


def test_bad_disks_refused(bare, workdir):
    junk = os.path.join(workdir, "junk.img")
    with open(junk, "wb") as f:
        f.write(os.urandom(1 << 20))
    r = bare.fails("hull-hvm", "boot-find", junk)
    assert "no ext2/3/4 filesystem" in r.err
    r = bare.fails("hull-hvm", "boot-find", os.path.join(workdir, "none"))
    assert "No such file" in r.err
    # grub.cfg names a kernel that is not there.
    img = mkfs(workdir, {"/boot/grub/grub.cfg":
                         b"menuentry x {\n linux /boot/vmlinuz-gone\n}\n"},
               "missing.img")
    r = bare.fails("hull-hvm", "boot-find", img)
    assert "/boot/vmlinuz-gone" in r.err
    # A grub.cfg that does not parse.
    img = mkfs(workdir, {"/boot/grub/grub.cfg": b"menuentry x {\n"},
               "broken.img")
    r = bare.fails("hull-hvm", "boot-find", img)
    assert "grub.cfg" in r.err and "unclosed" in r.err


def test_qemu_argv_refuses_bad_record(bare, workdir):
    rec = os.path.join(workdir, "vm.json")
    raw, _, _ = hvmlib.guest_image("grub", "mbr")
    vm = {"uuid": "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "brand": "kvm",
          "vcpus": 0, "ram": 256, "disks": [{"path": raw, "boot": True}]}
    with open(rec, "w") as f:
        json.dump(vm, f)
    boot = os.path.join(workdir, "boot")
    os.mkdir(boot)
    r = bare.fails("hull-hvm", "qemu-argv", "--record", rec, "--run-dir",
                   workdir, "--boot-dir", boot)
    assert "vcpus" in r.err
    vm["vcpus"] = 1
    with open(rec, "w") as f:
        json.dump(vm, f)
    argv = bare.run("hull-hvm", "qemu-argv", "--record", rec, "--run-dir",
                    workdir, "--boot-dir", boot, "--accel", "tcg").out.split("\n")
    assert argv[argv.index("-append") + 1] == "console=ttyS0 quiet hull.test=grub"
    assert argv[argv.index("-kernel") + 1] == os.path.join(boot, "kernel")
    assert "pc,accel=tcg" in argv


def test_qmp_without_qemu_refused(bare, workdir):
    r = bare.fails("hull-hvm", "qmp", workdir, "status")
    assert "qmp.sock" in r.err
    r = bare.fails("hull-hvm", "qmp", workdir, "reboot")
    assert "unknown request" in r.err


def test_copies_sparse_and_inline_files(bare, workdir):
    # A kernel with holes (copied run by run, holes kept) and, with
    # inline_data, an initrd stored inside its inode (read through
    # libext2fs instead).
    kernel = b"K" * 5000 + b"\0" * 20000 + b"L" * 3000
    img = mkfs(workdir, {"/boot/vmlinuz-2": kernel,
                         "/boot/initrd.img-2": b"tiny"},
               opts=("-O", "inline_data", "-b", "1024"))
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    got = find(bare, img, "--extract", out)
    with open(got["kernel_file"], "rb") as f:
        assert f.read() == kernel
    with open(got["initrd_file"], "rb") as f:
        assert f.read() == b"tiny"


def test_guest_image_installs_as_zvol(pool):
    # The image package from scripts/mkimage-linux-vm is what imgadm
    # takes, and the installed disk boots by its grub.cfg.
    _, manifest, zvol = hvmlib.guest_image("grub", "mbr")
    with open(manifest) as f:
        uuid = json.load(f)["uuid"]
    pool.run("imgadm", "install", "-m", manifest, "-f", zvol)
    got = json.loads(pool.run("imgadm", "get", uuid).out)
    m = got.get("manifest", got)
    assert m["type"] == "zvol"
    assert m["image_size"] == 64
    assert (m["disk_driver"], m["nic_driver"], m["cpu_type"]) == \
        ("virtio", "virtio", "qemu64")
    disk = os.path.join(pool.root, "images", uuid, "disk")
    assert os.path.getsize(disk) == 64 << 20
    assert find(pool, disk)["source"] == "grub.cfg"


def test_copies_reused_until_the_guest_changes_its_kernel(bare, workdir):
    img = mkfs(workdir, {"/boot/vmlinuz-3": b"kernel one",
                         "/boot/initrd.img-3": b"initrd one"})
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    first = find(bare, img, "--extract", out)
    ino = os.stat(first["kernel_file"]).st_ino
    # A restart: the same files, not copied again.
    again = find(bare, img, "--extract", out)
    assert os.stat(again["kernel_file"]).st_ino == ino
    assert again["initrd_file"] == first["initrd_file"]
    # The guest installs a new kernel under the same name.
    new = os.path.join(workdir, "new-kernel")
    with open(new, "wb") as f:
        f.write(b"kernel two, longer")
    for cmd in ("rm /boot/vmlinuz-3", f"write {new} /boot/vmlinuz-3"):
        subprocess.run(["debugfs", "-w", "-R", cmd, img], check=True,
                       capture_output=True)
    third = find(bare, img, "--extract", out)
    with open(third["kernel_file"], "rb") as f:
        assert f.read() == b"kernel two, longer"
    # A copy truncated behind hull's back is not trusted.
    os.truncate(third["initrd_file"], 3)
    find(bare, img, "--extract", out)
    with open(third["initrd_file"], "rb") as f:
        assert f.read() == b"initrd one"


def test_bhyve_brand_argv(bare, workdir):
    # Without hardware virtualization the bhyve brand says so, one line.
    raw, _, _ = hvmlib.guest_image("grub", "mbr")
    disk = os.path.join(workdir, "disk0.img")
    subprocess.run(["cp", "--sparse=always", raw, disk], check=True)
    rec = os.path.join(workdir, "vm.json")
    with open(rec, "w") as f:
        json.dump({"uuid": "3f1b2c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
                   "brand": "bhyve", "ram": 256,
                   "disks": [{"path": disk, "boot": True}]}, f)
    boot = os.path.join(workdir, "boot")
    os.mkdir(boot)
    args = ["vmm-argv", "--record", rec, "--run-dir", workdir,
            "--boot-dir", boot]
    r = bare.fails("hull-hvm", *args, "--accel", "tcg")
    assert "needs hardware virtualization" in r.err
    # With it (forced here), the argv is one hull-vmm accepts: --check
    # opens the disk, loads the kernel and reads the initrd through.
    argv = bare.run("hull-hvm", *args, "--accel", "kvm").out.split("\n")[:-1]
    assert argv[0] == "hull-vmm"
    assert argv[argv.index("--cmdline") + 1] == \
        "console=ttyS0 quiet hull.test=grub"
    if vmmlib.kvm_unusable() is not None:
        skips.skip("no-kvm", f"hull-vmm --check: {vmmlib.kvm_unusable()}")
    r = subprocess.run([prog("hull-vmm"), *argv[1:], "--check"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def test_extract_never_follows_what_the_emulator_planted(bare, workdir):
    """The extract folder is writable from inside the emulator's hull: a
    symbolic link left there (as a copy, a temporary file or the stamp)
    must never make the next start write through it or boot a host file."""
    raw, _, _ = hvmlib.guest_image("grub", "mbr")
    out = os.path.join(workdir, "boot")
    os.mkdir(out)
    find(bare, raw, "--extract", out)
    victim = os.path.join(workdir, "host-file")
    with open(victim, "w") as f:
        f.write("host data\n")
    # A link of the kernel's own size, with a stamp that says "reuse it".
    size = os.path.getsize(os.path.join(out, "kernel"))
    with open(victim, "ab") as f:
        f.truncate(size)
    for name in ("kernel", "kernel.tmp", "initrd.tmp", ".stamp.tmp"):
        p = os.path.join(out, name)
        if os.path.lexists(p):
            os.unlink(p)
        os.symlink(victim, p)
    got = find(bare, raw, "--extract", out)
    assert not os.path.islink(got["kernel_file"])
    assert is_bzimage(got["kernel_file"])
    with open(victim, "rb") as f:
        assert f.read(10) == b"host data\n"
    assert os.path.getsize(victim) == size
