"""hull-vmm's virtio devices, driven by the test guest's own drivers:
virtio-blk against a host file, virtio-rng, and virtio-net exchanging
frames with the host side of a tap inside a test network namespace."""
import os
import subprocess
import sys
import uuid

import pytest

import skips
import vmmlib
from vmmlib import GUEST_BZ, GUEST_ELF

pytestmark = skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
                          str(vmmlib.kvm_unusable()))


def pattern(sector, j, seed):
    return (sector * 31 + j * 7 + seed) & 0xFF


def make_disk(path, size=1 << 20):
    data = bytes((i * 13) & 0xFF for i in range(size))
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("kernel", [GUEST_ELF, GUEST_BZ], ids=["pvh", "bzimage"])
def test_blk_reads_host_data_and_writes_a_pattern(tmp_path, kernel):
    disk = tmp_path / "disk.img"
    data = make_disk(disk)
    cp = vmmlib.guest(kernel, "blk", "--memory", "64M", "--disk",
                      f"{disk},serial=hull-disk-0", cmdline_extra="blk=77")
    assert cp.returncode == 0, cp
    out = cp.stdout.splitlines()
    assert "blk: capacity 2048 sectors" in out
    assert "blk: serial 'hull-disk-0'" in out
    assert f"blk: read sectors 0-7 sum {sum(data[:4096])}" in out
    assert "blk: wrote sectors 8-15 and read them back" in out
    assert "blk: read past the end: status 1" in out
    assert "blk: discarded sectors 16-23, 0 non-zero bytes after" in out
    assert "hull-guest: PASS blk" in out
    # the host file now holds the guest's pattern, a hole where it
    # discarded, and nothing else changed
    new = disk.read_bytes()
    want = bytes(pattern(8 + j // 512, j % 512, 77) for j in range(4096))
    assert new[4096:8192] == want
    assert new[8192:12288] == bytes(4096)
    assert new[:4096] == data[:4096] and new[12288:] == data[12288:]


def test_blk_read_only_disk_refuses_writes(tmp_path):
    disk = tmp_path / "ro.img"
    data = make_disk(disk, 64 * 1024)
    cp = vmmlib.guest(GUEST_ELF, "blk", "--memory", "32M", "--disk",
                      f"{disk},ro")
    assert cp.returncode == 0, cp
    assert "blk: capacity 128 sectors read-only" in cp.stdout
    assert "blk: write refused (read-only)" in cp.stdout
    assert disk.read_bytes() == data


def test_rng_gives_random_bytes():
    cp = vmmlib.guest(GUEST_ELF, "rng", "--memory", "32M", "--rng")
    assert cp.returncode == 0, cp
    assert "rng: got 64 and 64 bytes" in cp.stdout
    # the rng test takes its completions through INTx (MSI-X off): slot 1's
    # INTA# is IOAPIC pin 17, as the interrupt line register says
    assert "rng: INTx on IOAPIC pin 17" in cp.stdout
    assert "hull-guest: PASS rng" in cp.stdout


def test_virtio_console_shares_the_console():
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=vconsole", "--memory", "32M",
                          "--virtio-console"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        seen = []
        while "vconsole: waiting" not in seen:
            line = p.stdout.readline()
            assert line, (seen, p.stderr.read())
            seen.append(line.rstrip("\n"))
        # the guest's hvc0 output came out where COM1's goes
        assert "hello from hvc0" in seen
        # with its driver ready, typed input goes to hvc0, not COM1
        p.stdin.write("typed into hvc0\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "vconsole: got 'typed into hvc0'" in out


def test_no_device_without_the_option():
    cp = vmmlib.guest(GUEST_ELF, "rng", "--memory", "32M")
    assert cp.returncode == 0
    assert "rng: no device" in cp.stdout
    assert "hull-guest: FAIL rng" in cp.stdout


RESPONDER = r"""
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.bind((sys.argv[1], 0))
print("listening", flush=True)
while True:
    f = s.recv(2048)
    if f[12:14] == b"\x88\xb5" and b"hull-guest ping" in f:
        src = f[6:12]
        print("ping from " + ":".join("%02x" % b for b in src), flush=True)
        reply = src + bytes.fromhex("020000000001") + b"\x88\xb5" + b"hull-host pong"
        s.send(reply.ljust(60, b"\0"))
        break
"""


@pytest.fixture
def netns():
    name = "hull-t-vmm" + uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_net_exchanges_frames_with_the_host_tap(netns):
    ex = ["ip", "netns", "exec", netns]
    subprocess.run(ex + ["ip", "tuntap", "add", "dev", "vtap0", "mode", "tap",
                         "vnet_hdr"], check=True)
    subprocess.run(ex + ["ip", "link", "set", "vtap0", "up"], check=True)
    resp = subprocess.Popen(ex + [sys.executable, "-c", RESPONDER, "vtap0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    vm = None
    try:
        assert resp.stdout.readline().strip() == "listening"
        vm = subprocess.run(ex + [vmmlib.vmm(), "--kernel", GUEST_ELF,
                                  "--cmdline", "test=net", "--memory", "32M",
                                  "--net", "tap=vtap0,mac=02:00:5e:10:00:42"],
                            stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, timeout=120)
        out, err = resp.communicate(timeout=30)
    finally:
        if resp.poll() is None:
            resp.kill()
            resp.wait()
    assert vm.returncode == 0, vm
    assert "net: mac 02:00:5e:10:00:42" in vm.stdout
    assert "net: got 'hull-host pong'" in vm.stdout
    assert "ping from 02:00:5e:10:00:42" in out


def test_net_tap_that_does_not_exist_in_an_unprivileged_way(tmp_path):
    # an fd that is not a tap is refused before the guest starts
    f = open(tmp_path / "x", "w")
    try:
        cp = subprocess.run([vmmlib.vmm(), "--kernel", GUEST_ELF, "--net",
                             f"fd={f.fileno()}"], pass_fds=[f.fileno()],
                            capture_output=True, text=True, timeout=30)
    finally:
        f.close()
    line = vmmlib.one_line_error(cp)
    assert "is not a tap opened with IFF_VNET_HDR" in line
