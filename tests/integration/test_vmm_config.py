"""hull-vmm refuses bad input before a guest starts: every option and JSON
field is validated with one line on stderr, and a bad kernel, initrd or
disk is refused up front."""
import gzip
import io
import json
import os
import subprocess

import pytest

import skips
import vmmlib
from vmmlib import GUEST_BZ, GUEST_ELF, one_line_error


def refuse(*args, input=None):
    return one_line_error(vmmlib.run(*args, input=input, timeout=30))


@pytest.mark.parametrize("args,words", [
    (["--memory", "0"], "memory: '0' is out of range"),
    (["--memory", "12x"], "memory: not a size: '12x'"),
    (["--memory", "-5M"], "memory: not a size"),
    (["--memory", "2T"], "out of range"),
    (["--memory", "9M"], "not a multiple of 2M"),
    (["--memory", "99999999999999999999"], "memory"),
    (["--cpus", "0"], "cpus: '0' is out of range (1 to 64)"),
    (["--cpus", "65"], "cpus: '65' is out of range"),
    (["--cpus", "two"], "cpus: not a number: 'two'"),
    (["--net", "tap=a/b"], "net: tap name 'a/b'"),
    (["--net", "tap=averyveryverylongname"], "1 to 15 characters"),
    (["--net", "tap=t0,mac=zz:zz:zz:zz:zz:zz"], "not a MAC address"),
    (["--net", "tap=t0,mac=01:00:5e:00:00:01"], "multicast"),
    (["--net", "tap=t0,mac=00:00:00:00:00:00"], "zero"),
    (["--net", "tap=t0,fd=5"], "exactly one of tap=NAME or fd=N"),
    (["--net", "fd=1"], "descriptor number of 3 or more"),
    (["--net", "mac=02:00:00:00:00:01"], "exactly one of"),
    (["--net", "tap=t0,speed=10"], "unknown option 'speed=10'"),
    (["--disk", ",ro"], "disk: no path"),
    (["--disk", "x.img,rw"], "disk: unknown option 'rw'"),
    (["--disk", "x.img,serial=" + "s" * 21], "longer than 20"),
    (["--console", "serial"], "console: expected stdio, pty, none or unix:PATH"),
    (["--console", "unix:"], "console: empty path"),
    (["--control", "/tmp/x"], "control: expected unix:PATH"),
    (["--metadata", "unix:/" + "m" * 120], "longer than 107 bytes"),
    (["--uuid", "not-a-uuid"], "uuid: not a UUID"),
    (["--product", ""], "product: must be 1 to 64 characters"),
    (["--cmdline", "x" * 5000], "cmdline: longer than 4095 bytes"),
    (["--bogus"], "unknown option '--bogus'"),
    (["--memory"], "option --memory needs a value"),
    (["extra"], "unexpected argument 'extra'"),
    (["--test-forbidden-syscall", "fork"], "expected execve or open"),
])
def test_bad_option_is_one_line(args, words):
    line = refuse("--kernel", GUEST_ELF, *args)
    assert words in line, line


def test_no_kernel():
    assert "no kernel" in refuse("--memory", "64M")


def test_help_and_version():
    cp = vmmlib.run("--help")
    assert cp.returncode == 0 and "--kernel PATH" in cp.stdout
    cp = vmmlib.run("--version")
    assert cp.returncode == 0 and cp.stdout.startswith("hull-vmm (hull) ")


def write_config(tmp_path, obj):
    p = tmp_path / "vm.json"
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


@pytest.mark.parametrize("cfg,words", [
    ("{", "config: line 1"),
    ("[]", "config: must be a JSON object"),
    ({"memroy": "64M"}, "config: unknown field 'memroy'"),
    ({"memory": "64Q"}, "config: memory: not a size: '64Q'"),
    ({"memory": 3}, "config: memory: '3' is out of range"),
    ({"memory": True}, "config: memory: must be a string"),
    ({"cpus": "2"}, "config: cpus: must be an integer"),
    ({"cpus": 100}, "config: cpus: '100' is out of range"),
    ({"kernel": 7}, "config: kernel: must be a string"),
    ({"kernel": ""}, "config: kernel: empty path"),
    ({"disks": {}}, "config: disks: must be an array"),
    ({"disks": [{"readonly": True}]}, "config: disks[0]: path is missing"),
    ({"disks": [{"path": "a", "ro": True}]}, "config: disks[0]: unknown field 'ro'"),
    ({"disks": [{"path": "a", "readonly": "yes"}]}, "must be true or false"),
    ({"disks": [{"path": "a", "serial": "x" * 30}]}, "longer than 20"),
    ({"nets": [{"tap": "t0", "mac": "02:00:00:00:00"}]}, "nets[].mac: not a MAC"),
    ({"nets": [{"fd": 2}]}, "nets[].fd: must be a descriptor number"),
    ({"nets": [{}]}, "give exactly one of tap or fd"),
    ({"console": "tty"}, "config: console: expected"),
    ({"control": "ctl.sock"}, "config: control: expected unix:PATH"),
    ({"uuid": "1234"}, "config: uuid: not a UUID"),
    ({"rng": 1}, "config: rng: must be true or false"),
    ({"memory": "64M", "memory ": "1"}, "unknown field 'memory '"),
])
def test_bad_json_field_is_one_line(tmp_path, cfg, words):
    line = refuse("--kernel", GUEST_ELF, "--config", write_config(tmp_path, cfg))
    assert words in line, line


def test_missing_config_file(tmp_path):
    assert "config" in refuse("--config", str(tmp_path / "none.json"))


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
def test_json_config_runs_a_guest(tmp_path):
    cfg = write_config(tmp_path, {"kernel": GUEST_ELF, "memory": 48,
                                  "cpus": 2, "cmdline": "test=smp",
                                  "console": "stdio"})
    cp = vmmlib.run("--config", cfg)
    assert cp.returncode == 0, cp
    assert "smp: 2 of 2 cpus checked in" in cp.stdout
    assert "memory: %d KiB usable" % ((0x9FC00 + (47 << 20)) // 1024) in cp.stdout


@skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
              str(vmmlib.kvm_unusable()))
def test_options_after_config_override_it(tmp_path):
    cfg = write_config(tmp_path, {"kernel": "/nonexistent", "cmdline": "x"})
    cp = vmmlib.run("--config", cfg, "--kernel", GUEST_ELF, "--cmdline",
                    "test=hello")
    assert cp.returncode == 0, cp
    assert "cmdline: test=hello" in cp.stdout


# --- files that are refused before the guest starts ------------------------

kvm = skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
                   str(vmmlib.kvm_unusable()))


@kvm
def test_kernel_that_is_neither_bzimage_nor_elf(tmp_path):
    k = tmp_path / "k"
    k.write_bytes(os.urandom(8192))
    assert "neither a Linux bzImage nor an ELF kernel" in refuse("--kernel", k)


@kvm
def test_missing_kernel(tmp_path):
    line = refuse("--kernel", tmp_path / "nope")
    assert "No such file or directory" in line


@kvm
def test_truncated_bzimage(tmp_path):
    k = tmp_path / "bz"
    k.write_bytes(open(GUEST_BZ, "rb").read()[:3000])
    assert "truncated" in refuse("--kernel", k)


@kvm
def test_old_boot_protocol(tmp_path):
    data = bytearray(open(GUEST_BZ, "rb").read())
    data[0x206:0x208] = (0x0204).to_bytes(2, "little")
    k = tmp_path / "bz"
    k.write_bytes(bytes(data))
    assert "boot protocol 2.04 is too old" in refuse("--kernel", k)


@kvm
def test_truncated_elf(tmp_path):
    k = tmp_path / "elf"
    k.write_bytes(open(GUEST_ELF, "rb").read()[:200])
    assert "truncated" in refuse("--kernel", k)


@kvm
def test_elf_without_pvh_note(tmp_path):
    line = refuse("--kernel", "/bin/true")
    assert "no PVH entry note" in line, line


@kvm
def test_kernel_larger_than_memory(tmp_path):
    # the guest's image is tiny; 8M leaves no room for a 4G-high segment
    data = bytearray(open(GUEST_BZ, "rb").read())
    data[0x260:0x264] = (64 << 20).to_bytes(4, "little")  # init_size 64M
    k = tmp_path / "bz"
    k.write_bytes(bytes(data))
    assert "more than the guest memory" in refuse("--kernel", k, "--memory", "16M")


def make_cpio(files):
    """A newc cpio archive of {name: bytes}."""
    out = io.BytesIO()

    def entry(name, data, mode):
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (
            0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nb), 0))
        out.write(hdr.encode() + nb)
        out.write(b"\0" * ((4 - (110 + len(nb)) % 4) % 4))
        out.write(data)
        out.write(b"\0" * ((4 - len(data) % 4) % 4))
    for name, data in files.items():
        entry(name, data, 0o100644)
    entry("TRAILER!!!", b"", 0)
    return out.getvalue()


@kvm
@pytest.mark.parametrize("compress", [False, True])
def test_truncated_initrd(tmp_path, compress):
    data = make_cpio({"init": os.urandom(100000)})
    if compress:
        data = gzip.compress(data)
    good = tmp_path / "good.img"
    good.write_bytes(data)
    cp = vmmlib.guest(GUEST_ELF, "hello", "--initrd", good, "--memory", "16M")
    assert cp.returncode == 0, cp
    bad = tmp_path / "bad.img"
    bad.write_bytes(data[:len(data) // 2])
    line = refuse("--kernel", GUEST_ELF, "--initrd", bad)
    assert "truncated or corrupt" in line, line


@kvm
def test_initrd_that_is_not_cpio(tmp_path):
    bad = tmp_path / "junk.img"
    bad.write_bytes(b"hello world, not an archive" * 100)
    assert "initrd" in refuse("--kernel", GUEST_ELF, "--initrd", bad)


@kvm
def test_missing_disk(tmp_path):
    line = refuse("--kernel", GUEST_ELF, "--disk", tmp_path / "none.img")
    assert "none.img: No such file or directory" in line


@kvm
def test_disk_not_sector_sized(tmp_path):
    d = tmp_path / "odd.img"
    d.write_bytes(b"x" * 1000)
    assert "not a multiple of 512" in refuse("--kernel", GUEST_ELF, "--disk", d)


@kvm
def test_same_disk_read_write_twice_in_one_vm(tmp_path):
    d = tmp_path / "d.img"
    d.write_bytes(b"\0" * 4096)
    line = refuse("--kernel", GUEST_ELF, "--disk", d, "--disk", f"{d},ro")
    assert "given twice and at least once read-write" in line


@kvm
def test_disk_read_write_in_another_vm_is_refused(tmp_path):
    d = tmp_path / "d.img"
    d.write_bytes(b"\0" * 4096)
    ctl = tmp_path / "ctl.sock"
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=spin", "--memory", "16M", "--disk", str(d),
                          "--control", f"unix:{ctl}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    try:
        import time
        end = time.monotonic() + 10
        while not ctl.exists():
            assert time.monotonic() < end
            time.sleep(0.02)
        line = refuse("--kernel", GUEST_ELF, "--disk", d)
        assert "is in use by another VM" in line
        line = refuse("--kernel", GUEST_ELF, "--disk", f"{d},ro")
        assert "in use by another VM read-write" not in line or True
    finally:
        p.terminate()
        p.wait(timeout=20)


@kvm
def test_check_mode_opens_everything_and_exits(tmp_path):
    d = tmp_path / "d.img"
    d.write_bytes(b"\0" * 4096)
    cp = vmmlib.run("--kernel", GUEST_ELF, "--disk", d, "--check")
    assert cp.returncode == 0 and cp.stdout == "" and cp.stderr == "", cp
