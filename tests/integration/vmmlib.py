"""Helpers for the hull-vmm tests: where the VMM and the test guests are,
whether this host's /dev/kvm can run a VM, and running one."""
import fcntl
import os
import subprocess

from conftest import BUILD, prog

GUEST_ELF = os.path.join(BUILD, "tests", "guest", "guest.elf")
GUEST_BZ = os.path.join(BUILD, "tests", "guest", "guest.bzimage")

KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01


def kvm_unusable():
    """None when /dev/kvm can create a VM, else the reason it cannot."""
    if not os.path.exists("/dev/kvm"):
        return "/dev/kvm is absent"
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"/dev/kvm cannot be opened: {e}"
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION, 0) != 12:
            return "/dev/kvm has an unknown API version"
        vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        os.close(vm)
    except OSError as e:
        return f"/dev/kvm cannot create a VM: {e}"
    finally:
        os.close(fd)
    return None


def vmm():
    return prog("hull-vmm")


def run(*args, input=None, timeout=60):
    """Runs hull-vmm to completion; returns the CompletedProcess."""
    return subprocess.run([vmm(), *map(str, args)], input=input,
                          capture_output=True, text=True, timeout=timeout)


def guest(kernel, test, *args, cmdline_extra="", **kw):
    """Boots the test guest with test=NAME."""
    cmd = f"test={test}" + (f" {cmdline_extra}" if cmdline_extra else "")
    return run("--kernel", kernel, "--cmdline", cmd, *args, **kw)


def one_line_error(cp):
    """Asserts a refusal: non-zero exit, exactly one line on stderr."""
    assert cp.returncode != 0, cp
    lines = [l for l in cp.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one stderr line, got {cp.stderr!r}"
    assert lines[0].startswith("hull-vmm: "), lines
    return lines[0]
