"""hull-vmm's memory snapshots (issue 17): the control socket's
"snapshot" writes a running guest's whole state to a file passed with the
request, and `hull-vmm --restore FILE` resumes it exactly where it stood.
The test guest's test=count counts in memory and on COM1, so a restore
must go on from the saved count, neither from 0 nor from the count the
first VM reached later."""
import array
import json
import os
import re
import socket
import struct
import subprocess
import time
import zlib

import pytest

import skips
import vmmlib
from vmmlib import GUEST_ELF

pytestmark = skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
                          str(vmmlib.kvm_unusable()))

COUNT = re.compile(r"^count: (\d+)$", re.M)
# the header (docs/hull-vmm.md "Snapshot file")
HDR = struct.Struct("<8sIIQIIQQII32sII")


def counts(text):
    return [int(n) for n in COUNT.findall(text)]


def snapshot(ctl, path, **req):
    """Asks the VMM on control socket ctl for a snapshot into path, the
    descriptor passed alongside the request; returns the answer."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(ctl)
        line = json.dumps({"command": "snapshot", **req}) + "\n"
        s.sendmsg([line.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                     array.array("i", [fd]))])
        ans = json.loads(s.makefile().readline())
        s.close()
        return ans
    finally:
        os.close(fd)


def ask(ctl, req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ctl)
    s.sendall((json.dumps(req) + "\n").encode())
    ans = json.loads(s.makefile().readline())
    s.close()
    return ans


class Counter:
    """A hull-vmm running test=count, its COM1 in a file."""

    def __init__(self, tmp_path, name, *extra, memory="256M", restore=None):
        self.ctl = str(tmp_path / f"{name}.sock")
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        args = ["--memory", memory, "--control", f"unix:{self.ctl}", *extra]
        if restore:
            args += ["--restore", str(restore)]
        else:
            args += ["--kernel", GUEST_ELF, "--cmdline",
                     "test=count delay=5000"]
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen([vmmlib.vmm(), *args],
                                      stdin=subprocess.DEVNULL, stdout=o,
                                      stderr=e)

    def counts(self):
        return counts(self.out.read_text(errors="replace"))

    def wait_count(self, above, timeout=30):
        end = time.monotonic() + timeout
        while True:
            c = self.counts()
            if c and c[-1] > above:
                return c[-1]
            if self.p.poll() is not None:
                raise AssertionError(f"hull-vmm ended ({self.p.returncode}):"
                                     f" {self.err.read_text()}")
            assert time.monotonic() < end, f"count stuck at {c[-1:]}"
            time.sleep(0.02)

    def wait_socket(self):
        end = time.monotonic() + 10
        while not os.path.exists(self.ctl):
            assert time.monotonic() < end
            time.sleep(0.02)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture
def vms():
    started = []
    yield started
    for v in started:
        v.stop()


def take(tmp_path, vms, *extra):
    """A counting guest snapshotted mid-count: returns (vm, state file,
    the last count on its console before the snapshot)."""
    vm = Counter(tmp_path, "a", *extra)
    vms.append(vm)
    vm.wait_socket()
    vm.wait_count(5)
    path = tmp_path / "state"
    ans = snapshot(vm.ctl, path)
    assert ans["ok"] is True and ans["state"] == "running", ans
    # COM1 is flushed before the state is taken: the console has every
    # count the guest printed up to the pause
    saved = vm.counts()[-1]
    return vm, path, saved


def test_restore_goes_on_from_the_saved_count(tmp_path, vms):
    vm, path, saved = take(tmp_path, vms, "--rng")
    later = vm.wait_count(saved + 20)
    vm.stop()
    assert later > saved + 20
    r = Counter(tmp_path, "b", "--rng", restore=path)
    vms.append(r)
    r.wait_count(saved + 3)
    got = r.counts()
    # the restored guest prints the next count first: the one after the
    # last it printed before the snapshot (a line cut by the snapshot may
    # come first as its tail, which is not a whole "count:" line)
    assert got[0] in (saved + 1, saved), (saved, got[:5])
    assert got == list(range(got[0], got[0] + len(got))), got[:20]
    assert got[0] < later
    # and it runs on: the guest is live, not replaying output
    r.wait_count(got[-1] + 5)
    assert ask(r.ctl, {"command": "status"})["state"] == "running"


def test_state_file_is_sparse_and_versioned(tmp_path, vms):
    vm, path, _ = take(tmp_path, vms)
    vm.stop()
    st = os.stat(path)
    with open(path, "rb") as f:
        hdr = HDR.unpack(f.read(HDR.size))
        (magic, fmt, hsize, state_len, _crc, ncpus, mem_size, mem_off,
         _nsec, _nvirtio, version, _hcrc, _res) = hdr
        assert (magic, fmt, hsize, ncpus, mem_size) == (
            b"HULLVMMS", 1, 96, 1, 256 << 20)
        assert mem_off % 4096 == 0 and mem_off >= 96 + state_len
        assert version.rstrip(b"\0").decode() in subprocess.run(
            [vmmlib.vmm(), "--version"], capture_output=True,
            text=True).stdout
        # the file spans all of RAM, but the test guest touched little of
        # it: the untouched pages are holes, not zeros on disk
        assert st.st_size == mem_off + mem_size
        assert st.st_blocks * 512 < 8 << 20, st.st_blocks
        hole = os.lseek(f.fileno(), mem_off, os.SEEK_HOLE)
        assert hole < st.st_size


def corrupt(path, out, offset, data, fix_header_crc=False):
    b = bytearray(path.read_bytes())
    b[offset:offset + len(data)] = data
    if fix_header_crc:
        struct.pack_into("<I", b, 88, zlib.crc32(bytes(b[:88])))
    out.write_bytes(bytes(b))
    return out


def refused(tmp_path, state, *extra, memory="256M"):
    cp = vmmlib.run("--memory", memory, "--restore", str(state), *extra,
                    "--console", "none", timeout=30)
    return vmmlib.one_line_error(cp)


def test_bad_state_files_are_refused_with_one_line(tmp_path, vms):
    vm, path, _ = take(tmp_path, vms)
    vm.stop()
    size = os.stat(path).st_size
    hdr = HDR.unpack(path.read_bytes()[:HDR.size])
    state_len = hdr[3]
    # truncated: the RAM image is cut short
    short = tmp_path / "short"
    short.write_bytes(path.read_bytes())
    os.truncate(short, size - 4096)
    assert "truncated" in refused(tmp_path, short)
    # a flipped byte in the device state: its checksum says so
    flip = corrupt(path, tmp_path / "flip", 96 + state_len // 2,
                   bytes([path.read_bytes()[96 + state_len // 2] ^ 0xff]))
    assert "checksum" in refused(tmp_path, flip)
    # a flipped byte in the header
    assert "checksum" in refused(
        tmp_path, corrupt(path, tmp_path / "hdr", 20, b"\xff"))
    # another format (a later hull-vmm's): refused naming both formats
    other = corrupt(path, tmp_path / "v2", 8, struct.pack("<I", 2),
                    fix_header_crc=True)
    line = refused(tmp_path, other)
    assert "format 2" in line and "format 1" in line, line
    # not a snapshot at all
    junk = tmp_path / "junk"
    junk.write_bytes(b"\0" * 4096)
    assert "not a hull-vmm snapshot" in refused(tmp_path, junk)
    # a VM of another size
    assert "256 MiB" in refused(tmp_path, path, memory="128M")
    # a VM with other devices
    assert "virtio" in refused(tmp_path, path, "--rng")


def test_snapshot_needs_a_descriptor_and_can_leave_the_vm_paused(tmp_path,
                                                                 vms):
    vm = Counter(tmp_path, "a")
    vms.append(vm)
    vm.wait_socket()
    vm.wait_count(2)
    ans = ask(vm.ctl, {"command": "snapshot"})
    assert ans["ok"] is False and "descriptor" in ans["error"], ans
    ans = snapshot(vm.ctl, tmp_path / "s", resume=False)
    assert ans["ok"] is True and ans["state"] == "paused", ans
    n = vm.counts()[-1]
    time.sleep(0.5)
    assert vm.counts()[-1] == n
    assert ask(vm.ctl, {"command": "status"})["state"] == "paused"
    assert ask(vm.ctl, {"command": "resume"})["state"] == "running"
    vm.wait_count(n + 2)
    # a directory is no state file: refused, and the VM runs on
    fd = os.open(tmp_path, os.O_RDONLY)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(vm.ctl)
    s.sendmsg([b'{"command": "snapshot"}\n'],
              [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                array.array("i", [fd]))])
    ans = json.loads(s.makefile().readline())
    s.close()
    os.close(fd)
    assert ans["ok"] is False, ans
    assert ask(vm.ctl, {"command": "status"})["state"] == "running"
