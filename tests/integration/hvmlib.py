"""Helpers for the HVM tests: the Linux guest image (scripts/mkimage-linux-vm),
built once and cached outside the repository, keyed by the script's and
the guest mdata-get's hashes; a console reader."""
import fcntl
import hashlib
import os
import socket
import subprocess
import time

import pytest

import skips
from conftest import ROOT, prog

CACHE = os.environ.get("HULL_TEST_CACHE", "/var/cache/hull-test")
SCRIPT = os.path.join(ROOT, "scripts", "mkimage-linux-vm")


def _digest(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()[:16]


def guest_image(variant="grub", table="mbr"):
    """Returns (raw disk, manifest, zvol file) of the guest image variant,
    building it on first use (about 10 s; the kernel package is downloaded
    once). Skips when the kernel package cannot be had."""
    mdata = prog("mdata-get")
    key = _digest(SCRIPT, mdata)
    d = os.path.join(CACHE, f"linux-vm-{key}-{variant}-{table}")
    raw = os.path.join(d, "guest-1.img")
    done = [raw, os.path.join(d, "guest-1.json"),
            os.path.join(d, "guest-1.zvol.gz")]
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".linux-vm.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if all(os.path.exists(p) for p in done):
            return done
        tmp = d + ".tmp"
        subprocess.run(["rm", "-rf", tmp], check=True)
        r = subprocess.run([SCRIPT, "-m", mdata, "-o", tmp, "-n", "guest",
                            "-V", "1", "-v", variant, "-t", table,
                            "-k", CACHE],
                           capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            subprocess.run(["rm", "-rf", tmp])
            if "cannot download" in r.stderr or "cannot resolve" in r.stderr:
                skips.skip("offline", f"guest kernel unavailable: {r.stderr.strip()}")
            raise AssertionError(f"mkimage-linux-vm failed: {r.stderr}")
        subprocess.run(["rm", "-rf", d], check=True)
        os.rename(tmp, d)
    return done


class Console:
    """Reads a VM's COM1 socket (QEMU listens on it)."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        wait_for(lambda: os.path.exists(path), timeout, f"{path} to appear")
        self.sock.connect(path)
        self.sock.settimeout(0.2)
        self.text = ""

    def wait(self, want, timeout):
        end = time.monotonic() + timeout
        while want not in self.text:
            if time.monotonic() > end:
                raise AssertionError(f"no {want!r} on the console in "
                                     f"{timeout}s; it shows:\n{self.text[-3000:]}")
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError(f"console closed before {want!r}:\n"
                                     f"{self.text[-3000:]}")
            self.text += data.decode("utf-8", "replace")
        return self.text

    def send(self, line):
        self.sock.sendall(line.encode() + b"\n")

    def close(self):
        self.sock.close()


def wait_for(cond, timeout, what):
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def stop(p, timeout=10):
    """Ends a process this test started."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def make_guest_disk(workdir, disk, cmdline):
    """An 8 MiB ext4 filesystem in disk whose grub.cfg boots hull-vmm's
    test guest with cmdline."""
    import vmmlib
    fs = os.path.join(workdir, "guestfs")
    subprocess.run(["rm", "-rf", fs], check=True)
    os.makedirs(os.path.join(fs, "boot", "grub"))
    subprocess.run(["cp", vmmlib.GUEST_BZ,
                    os.path.join(fs, "boot", "vmlinuz-1")], check=True)
    with open(os.path.join(fs, "boot", "grub", "grub.cfg"), "w") as f:
        f.write("menuentry 'guest' {\n"
                f"  linux /boot/vmlinuz-1 {cmdline}\n}}\n")
    subprocess.run(["mkfs.ext4", "-q", "-F", "-d", fs, disk, "8M"],
                   check=True, capture_output=True)
