"""hull-vmm's live migration (issue 17): the control socket's "migrate"
hands a connected socket to pre-copy; a second hull-vmm started with
--incoming fd=N on the other end takes the running guest over. The test
guest's test=count counts in memory and on COM1 and, with dirty=MiB,
rewrites that much memory on every count and checks it (a lost page
prints "count: LOST"), so a migration must go on from the count the
source reached, with every page intact."""
import array
import json
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib

import pytest

import skips
import vmmlib
from vmmlib import GUEST_ELF

pytestmark = skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
                          str(vmmlib.kvm_unusable()))

COUNT = re.compile(r"^count: (\d+)$", re.M)
# the stream header (docs/hull-vmm.md "Live migration")
MIG_HDR = struct.Struct("<8sIIQII32s")


def counts(text):
    return [int(n) for n in COUNT.findall(text)]


class VMM:
    """A hull-vmm with its COM1 in a file: booting test=count, the
    target of a migration on socket end `incoming`, or resuming the
    snapshot file `restore`."""

    def __init__(self, tmp_path, name, memory="256M", cmdline="",
                 incoming=None, extra=(), prefix=(), disks=None,
                 restore=None):
        self.ctl = str(tmp_path / f"{name}.sock")
        self.out = tmp_path / f"{name}.out"
        self.err = tmp_path / f"{name}.err"
        args = ["--memory", memory, "--control", f"unix:{self.ctl}",
                *extra]
        fds = ()
        if incoming is not None:
            inc = f"fd={incoming.fileno()}"
            fds = (incoming.fileno(),)
            if disks is not None:
                # the socket the disks come on at the stream's end
                inc += f",disks={disks.fileno()}"
                fds += (disks.fileno(),)
            args += ["--incoming", inc]
        elif restore is not None:
            args += ["--restore", str(restore)]
        else:
            args += ["--kernel", GUEST_ELF, "--cmdline",
                     f"test=count {cmdline}"]
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen([*prefix, vmmlib.vmm(), *args],
                                      stdin=subprocess.DEVNULL, stdout=o,
                                      stderr=e, pass_fds=fds)

    def text(self):
        return self.out.read_text(errors="replace")

    def counts(self):
        return counts(self.text())

    def wait_count(self, above, timeout=30):
        end = time.monotonic() + timeout
        while True:
            c = self.counts()
            assert "LOST" not in self.text(), self.text()[-300:]
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
            assert self.p.poll() is None, self.err.read_text()
            assert time.monotonic() < end
            time.sleep(0.02)

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def vms():
    started = []
    yield started
    for v in started:
        v.stop()


def migrate(ctl, sock, timeout=60, **opts):
    """Asks the VMM on control socket ctl to migrate to socket end sock
    (passed alongside the request); returns the answer, which comes when
    the migration ends."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(ctl)
    line = json.dumps({"command": "migrate", **opts}) + "\n"
    s.sendmsg([line.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                 array.array("i", [sock.fileno()]))])
    sock.close()
    ans = json.loads(s.makefile().readline())
    s.close()
    return ans


def ask(ctl, req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(ctl)
    s.sendall((json.dumps(req) + "\n").encode())
    ans = json.loads(s.makefile().readline())
    s.close()
    return ans


def pair(tmp_path, vms, memory="256M", cmdline="delay=20000 dirty=16"):
    """A counting source and a target waiting on a socket pair; returns
    (source, target, the source's end)."""
    src = VMM(tmp_path, "src", memory=memory, cmdline=cmdline)
    vms.append(src)
    src.wait_socket()
    src.wait_count(5)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    dst = VMM(tmp_path, "dst", memory=memory, incoming=b)
    vms.append(dst)
    b.close()
    return src, dst, a


def test_guest_keeps_counting_on_the_target(tmp_path, vms):
    src, dst, a = pair(tmp_path, vms)
    ans = migrate(src.ctl, a)
    assert ans["ok"] is True and ans["state"] == "migrated", ans
    assert src.p.wait(timeout=10) == 4, src.err.read_text()
    last = src.counts()[-1]
    dst.wait_socket()
    dst.wait_count(last + 5)
    got = dst.counts()
    # the target goes on from the count the source reached, no reset, no
    # page lost (the guest checks its 16 MiB on every count)
    assert got[0] in (last, last + 1), (last, got[:5])
    assert got == list(range(got[0], got[0] + len(got))), got[:20]
    assert ans["downtime_ns"] < 300_000_000, ans
    assert ask(dst.ctl, {"command": "status"})["state"] == "running"


def test_zero_pages_are_not_sent(tmp_path, vms):
    # 1 GiB of guest memory, of which the guest touches little
    src, dst, a = pair(tmp_path, vms, memory="1G",
                       cmdline="delay=20000 dirty=8")
    ans = migrate(src.ctl, a)
    assert ans["ok"] is True, ans
    assert ans["bytes"] < 64 << 20, ans
    assert ans["zero_pages"] > (900 << 20) // 4096, ans
    last = src.counts()[-1]
    dst.wait_count(last + 3)


def test_no_convergence_gives_up_and_keeps_running(tmp_path, vms):
    # 96 MiB rewritten on every count, 40 MiB/s of bandwidth: each pass
    # leaves more dirty than 5 ms could carry
    src, dst, a = pair(tmp_path, vms, cmdline="delay=0 dirty=96")
    ans = migrate(src.ctl, a, downtime_ms=5, bandwidth=40 << 20,
                  max_iterations=3)
    assert ans["ok"] is False, ans
    assert "did not converge" in ans["error"], ans
    assert ans["state"] == "running"
    # the target refuses to run what it got, with one line
    assert dst.p.wait(timeout=10) == 1
    assert dst.err.read_text().strip() == \
        "hull-vmm: migration: the source gave up"
    now = src.counts()[-1]
    src.wait_count(now + 5)
    assert ask(src.ctl, {"command": "status"})["state"] == "running"


def test_a_bandwidth_cap_below_a_chunk_per_window_holds(tmp_path, vms):
    # 16 MiB written once and little since, copied at 8 MiB/s: about two
    # seconds, not the one-chunk-per-10-ms (100 MiB/s) a cap that forgave
    # what a 1 MiB chunk sent over a window's budget used to give
    src, dst, a = pair(tmp_path, vms, memory="128M",
                       cmdline="delay=20000 touch=16")
    ans = migrate(src.ctl, a, bandwidth=8 << 20, timeout=120)
    assert ans["ok"] is True, ans
    assert ans["memory_bytes"] >= 16 << 20, ans
    rate = ans["bytes"] / (ans["total_ns"] / 1e9)
    assert rate <= 8 * (1 << 20) * 1.25, (rate, ans)
    assert src.p.wait(timeout=10) == 4
    dst.wait_count(src.counts()[-1] + 3)


def test_auto_converge_throttles_until_it_fits(tmp_path, vms):
    src, dst, a = pair(tmp_path, vms, cmdline="delay=0 dirty=96")
    ans = migrate(src.ctl, a, downtime_ms=50, bandwidth=200 << 20,
                  max_iterations=3, auto_converge=True, timeout=120)
    assert ans["ok"] is True, ans
    assert ans["throttle"] >= 20, ans
    assert src.p.wait(timeout=10) == 4
    last = src.counts()[-1]
    dst.wait_count(last + 3)
    got = dst.counts()
    assert got[0] in (last, last + 1), (last, got[:5])


def test_killing_the_target_leaves_the_source_running(tmp_path, vms):
    # slow enough that the target dies mid-stream
    src, dst, a = pair(tmp_path, vms, cmdline="delay=0 dirty=64")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(src.ctl)
    line = json.dumps({"command": "migrate", "bandwidth": 16 << 20}) + "\n"
    s.sendmsg([line.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                 array.array("i", [a.fileno()]))])
    a.close()
    time.sleep(0.5)
    dst.p.kill()
    dst.p.wait()
    ans = json.loads(s.makefile().readline())
    s.close()
    assert ans["ok"] is False and ans["state"] == "running", ans
    assert "connection to the target broke" in ans["error"], ans
    now = src.counts()[-1]
    src.wait_count(now + 5)


def test_breaking_the_connection_leaves_the_source_running(tmp_path, vms):
    # a relay between source and target that cuts the stream after 4 MiB
    src = VMM(tmp_path, "src", cmdline="delay=0 dirty=32")
    vms.append(src)
    src.wait_socket()
    src.wait_count(5)
    a, a2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    b2, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    dst = VMM(tmp_path, "dst", incoming=b)
    vms.append(dst)
    b.close()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(src.ctl)
    line = json.dumps({"command": "migrate", "bandwidth": 32 << 20}) + "\n"
    s.sendmsg([line.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                 array.array("i", [a.fileno()]))])
    a.close()
    moved = 0
    while moved < 4 << 20:
        d = a2.recv(1 << 16)
        assert d
        b2.sendall(d)
        moved += len(d)
    a2.close()
    b2.close()
    ans = json.loads(s.makefile().readline())
    assert ans["ok"] is False and ans["state"] == "running", ans
    assert dst.p.wait(timeout=10) == 1
    err = dst.err.read_text().strip()
    assert err.startswith("hull-vmm: migration: ") and "\n" not in err, err
    now = src.counts()[-1]
    src.wait_count(now + 5)


def test_target_dying_at_the_handover_leaves_the_source_running(tmp_path,
                                                                vms):
    # the target's end is a fake that reads the whole stream and closes
    # instead of saying it is ready: the source must resume
    src = VMM(tmp_path, "src", cmdline="delay=20000 dirty=4")
    vms.append(src)
    src.wait_socket()
    src.wait_count(5)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    import threading
    seen = []

    def sink():
        while True:
            d = b.recv(1 << 20)
            seen.append(len(d))
            if not d:
                break
            # the end record: 16 bytes of type 4
            if d.endswith(struct.pack("<IIQ", 4, 0, 0)):
                break
        b.close()

    t = threading.Thread(target=sink)
    t.start()
    ans = migrate(src.ctl, a)
    t.join()
    assert ans["ok"] is False and ans["state"] == "running", ans
    assert "did not take the VM over" in ans["error"], ans
    now = src.counts()[-1]
    src.wait_count(now + 5)


def test_devices_come_along_and_it_migrates_again(tmp_path, vms):
    # virtio devices (rng, a disk) move with their state, and the target
    # can be migrated on in turn
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * (1 << 20))
    dev = ("--rng", "--disk", str(disk))
    src = VMM(tmp_path, "a", cmdline="delay=20000 dirty=4", extra=dev)
    vms.append(src)
    src.wait_socket()
    src.wait_count(5)
    last = None
    for name in ("b", "c"):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        dst = VMM(tmp_path, name, incoming=b, extra=dev)
        vms.append(dst)
        b.close()
        ans = migrate(src.ctl, a)
        assert ans["ok"] is True, ans
        assert src.p.wait(timeout=10) == 4
        last = src.counts()[-1]
        dst.wait_socket()
        dst.wait_count(last + 3)
        assert dst.counts()[0] in (last, last + 1)
        src = dst


def test_a_target_with_other_devices_is_refused(tmp_path, vms):
    src = VMM(tmp_path, "src", cmdline="delay=20000", extra=("--rng",))
    vms.append(src)
    src.wait_socket()
    src.wait_count(2)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    dst = VMM(tmp_path, "dst", incoming=b)
    vms.append(dst)
    b.close()
    ans = migrate(src.ctl, a)
    assert ans["ok"] is False and ans["state"] == "running", ans
    assert dst.p.wait(timeout=10) == 1
    assert dst.err.read_text() == (
        "hull-vmm: migration: the source VM has 256 MiB, 1 vCPUs and 1 "
        "virtio devices; this one 256 MiB, 1 and 0\n")
    now = src.counts()[-1]
    src.wait_count(now + 2)


def test_migrate_needs_a_socket_and_sane_options(tmp_path, vms):
    src = VMM(tmp_path, "src", cmdline="delay=20000")
    vms.append(src)
    src.wait_socket()
    ans = ask(src.ctl, {"command": "migrate"})
    assert ans == {"ok": False, "error": "migrate: pass the connected "
                   "socket to the target with the request (SCM_RIGHTS)"}
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ans = migrate(src.ctl, a, downtime_ms=0)
    assert ans["ok"] is False and "downtime_ms" in ans["error"], ans
    b.close()
    assert ask(src.ctl, {"command": "status"})["state"] == "running"


SNIFFER = """
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
s.settimeout(60)
print("listening", flush=True)
while True:
    d = s.recv(2048)
    if d[12:14] == b"\\x80\\x35":
        print(d[0:6].hex(":"), d[6:12].hex(":"), int.from_bytes(d[20:22],
              "big"), d[22:28].hex(":"), flush=True)
        break
"""


@pytest.fixture
def netns():
    name = "hull-t-live" + uuid.uuid4().hex[:6]
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def test_target_announces_the_mac_on_its_own_port(tmp_path, vms, netns):
    # two ports as on two hosts: the source's tap and the target's; the
    # nic keeps its MAC, and the target's port carries a RARP broadcast
    # from it as the guest resumes (QEMU's self-announce), so switches
    # learn where the MAC went
    ex = ["ip", "netns", "exec", netns]
    for tap in ("ltap0", "ltap1"):
        subprocess.run(ex + ["ip", "tuntap", "add", "dev", tap, "mode", "tap",
                             "vnet_hdr"], check=True)
        subprocess.run(ex + ["ip", "link", "set", tap, "up"], check=True)
    mac = "02:00:5e:10:00:77"
    sniff = subprocess.Popen(ex + [sys.executable, "-c", SNIFFER, "ltap1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert sniff.stdout.readline().strip() == "listening"
        src = VMM(tmp_path, "src", cmdline="delay=20000", prefix=ex,
                  extra=("--net", f"tap=ltap0,mac={mac}"))
        vms.append(src)
        src.wait_socket()
        src.wait_count(3)
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        dst = VMM(tmp_path, "dst", incoming=b, prefix=ex,
                  extra=("--net", f"tap=ltap1,mac={mac}"))
        vms.append(dst)
        b.close()
        ans = migrate(src.ctl, a)
        assert ans["ok"] is True, ans
        out, err = sniff.communicate(timeout=30)
    finally:
        if sniff.poll() is None:
            sniff.kill()
            sniff.wait()
    assert out.split() == ["ff:ff:ff:ff:ff:ff", mac, "3", mac], (out, err)
    dst.wait_count(src.counts()[-1] + 2)


def test_restored_guest_announces_the_mac(tmp_path, vms, netns):
    # a snapshot resumed by another hull-vmm on another port (a live
    # switch between hosts restores the state it staged): the new port
    # carries the RARP broadcast as the guest resumes, as after a live
    # migration's hand-over
    from test_vmm_snapshot import snapshot
    ex = ["ip", "netns", "exec", netns]
    for tap in ("rtap0", "rtap1"):
        subprocess.run(ex + ["ip", "tuntap", "add", "dev", tap, "mode", "tap",
                             "vnet_hdr"], check=True)
        subprocess.run(ex + ["ip", "link", "set", tap, "up"], check=True)
    mac = "02:00:5e:10:00:78"
    src = VMM(tmp_path, "src", cmdline="delay=20000", prefix=ex,
              extra=("--net", f"tap=rtap0,mac={mac}"))
    vms.append(src)
    src.wait_socket()
    src.wait_count(3)
    state = tmp_path / "state"
    ans = snapshot(src.ctl, state, resume=False)
    assert ans["ok"] is True, ans
    src.p.kill()
    src.p.wait()
    sniff = subprocess.Popen(ex + [sys.executable, "-c", SNIFFER, "rtap1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        assert sniff.stdout.readline().strip() == "listening"
        dst = VMM(tmp_path, "dst", prefix=ex, restore=state,
                  extra=("--net", f"tap=rtap1,mac={mac}"))
        vms.append(dst)
        out, err = sniff.communicate(timeout=30)
    finally:
        if sniff.poll() is None:
            sniff.kill()
            sniff.wait()
    assert out.split() == ["ff:ff:ff:ff:ff:ff", mac, "3", mac], (out, err)
    dst.wait_count(src.counts()[-1] + 2)


def header(version=1, mem=64 << 20, ncpus=1, nvirtio=0):
    h = MIG_HDR.pack(b"HULLVMML", version, 72, mem, ncpus, nvirtio,
                     b"test")
    return h + struct.pack("<II", zlib.crc32(h), 0)


def receive(tmp_path, stream):
    """Runs a target on a stream of these bytes; returns its result."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.sendall(stream)
    a.shutdown(socket.SHUT_WR)
    cp = subprocess.run([vmmlib.vmm(), "--memory", "64M", "--console",
                         "none", "--incoming", f"fd={b.fileno()}"],
                        pass_fds=(b.fileno(),), capture_output=True,
                        text=True, timeout=30)
    a.close()
    b.close()
    return cp


@pytest.mark.parametrize("stream,want", [
    (header(version=3), "stream version 3 (from hull-vmm test); this "
     "hull-vmm reads versions 1 to 2"),
    # version 2's disk record: another count of disks, too many, and no
    # such record in version 1
    (header(version=2) + struct.pack("<IIQQ", 6, 1, 0, 1 << 20),
     "the source VM has 1 disks, this one 0"),
    (header(version=2) + struct.pack("<IIQ", 6, 17, 0),
     "a disk record of 17 disks"),
    (header(version=2) + struct.pack("<IIQ", 6, 0, 0) +
     struct.pack("<IIQ", 6, 0, 0), "a disk record out of place"),
    (header(version=1) + struct.pack("<IIQ", 6, 0, 0),
     "unknown record type 6"),
    (b"HULLVMMS" + bytes(64), "not a hull-vmm migration stream"),
    (header(mem=128 << 20), "the source VM has 128 MiB"),
    # a page beyond the guest's 64 MiB
    (header() + struct.pack("<IIQ", 1, 1, 64 << 20) + bytes(4096),
     "lie outside guest memory"),
    # a page record that ends past the guest's memory
    (header() + struct.pack("<IIQ", 1, 2, (64 << 20) - 4096),
     "lie outside guest memory"),
    (header() + struct.pack("<IIQ", 1, 257, 0), "a page record of 257"),
    # a state section bigger than any state
    (header() + struct.pack("<IIQ", 3, 0, 1 << 40), "a state record of"),
    (header() + struct.pack("<IIQ", 9, 0, 0), "unknown record type 9"),
    (header() + struct.pack("<IIQ", 4, 0, 0), "without the VM's state"),
    (header() + struct.pack("<IIQ", 1, 1, 0) + bytes(100),
     "the stream ended before the VM was complete"),
])
def test_hostile_streams_are_refused_with_one_line(tmp_path, stream, want):
    cp = receive(tmp_path, stream)
    line = vmmlib.one_line_error(cp)
    assert want in line, line


@pytest.mark.parametrize("args,want", [
    (["--incoming", "tcp:1"], "incoming: 'tcp:1' is not fd=N with N >= 3"),
    (["--incoming", "fd=1"], "incoming: 'fd=1' is not fd=N with N >= 3"),
    (["--incoming", "fd=5", "--restore", "/nonexistent"],
     "--incoming and --restore exclude each other"),
    (["--incoming", "fd=5,disks=5"], "incoming: 'fd=5,disks=5' is not "
     "fd=N or fd=N,disks=M with N and M >= 3 and different"),
    (["--incoming", "fd=5,disk=6"], "incoming: 'fd=5,disk=6' is not "
     "fd=N or fd=N,disks=M with N and M >= 3 and different"),
])
def test_bad_incoming_options_are_refused(args, want):
    cp = vmmlib.run("--memory", "64M", *args)
    assert vmmlib.one_line_error(cp) == f"hull-vmm: {want}"


def test_a_source_that_goes_away_leaves_the_target_unrun(tmp_path):
    # the source dies before the stream is complete: the target never
    # runs a half-copied guest
    cp = receive(tmp_path, header() + struct.pack("<IIQ", 1, 1, 0) +
                 bytes(4096))
    assert vmmlib.one_line_error(cp) == (
        "hull-vmm: migration: the stream ended before the VM was complete")


def test_a_vm_that_ends_mid_migration_says_so(tmp_path, vms):
    src, dst, a = pair(tmp_path, vms, cmdline="delay=0 dirty=64")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(60)
    s.connect(src.ctl)
    line = json.dumps({"command": "migrate", "bandwidth": 8 << 20}) + "\n"
    s.sendmsg([line.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                 array.array("i", [a.fileno()]))])
    a.close()
    time.sleep(0.3)
    assert ask(src.ctl, {"command": "stop"})["ok"] is True
    ans = json.loads(s.makefile().readline())
    assert ans == {"ok": False, "state": "stopped",
                   "error": "migration: the VM ended before it moved"}
    assert src.p.wait(timeout=10) == 3
    # the target got half a stream and never runs it
    assert dst.p.wait(timeout=10) == 1


def disk_count(path):
    """The count the test guest (disk=1) keeps in sector 0."""
    with open(path, "rb") as f:
        return struct.unpack("<I", f.read(4))[0]


class Migration(threading.Thread):
    """migrate() on a thread, so a test can act while the source is
    paused at the stream's end."""

    def __init__(self, ctl, sock, **opts):
        super().__init__(daemon=True)
        self.args = (ctl, sock)
        self.opts = opts
        self.ans = None

    def run(self):
        self.ans = migrate(*self.args, **self.opts)

    def answer(self):
        self.join(90)
        assert not self.is_alive()
        return self.ans


def gated_pair(tmp_path, vms, dst_disk):
    """A source counting on its disk (src.img, 1 MiB) and a target whose
    disk dst_disk comes on a disks= socket at the stream's end; returns
    (source, target, the migration started, the disks socket's end)."""
    disk = tmp_path / "src.img"
    disk.write_bytes(bytes(1 << 20))
    src = VMM(tmp_path, "src", cmdline="delay=20000 dirty=4 disk=1",
              extra=("--disk", str(disk)))
    vms.append(src)
    src.wait_socket()
    src.wait_count(5)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    g, gt = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    dst = VMM(tmp_path, "dst", incoming=b, disks=gt,
              extra=("--disk", str(dst_disk)))
    vms.append(dst)
    b.close()
    gt.close()
    mig = Migration(src.ctl, a)
    mig.start()
    # "W": the stream has ended, the source is paused, its disk final
    g.settimeout(60)
    assert g.recv(1) == b"W", dst.err.read_text()
    return src, dst, mig, g


def test_the_target_takes_the_disk_the_source_left_at_the_handover(
        tmp_path, vms):
    # between hosts the target's copy of a disk gets the source's last
    # writes only once the source has paused: here the target is started
    # on an older copy, which is replaced by a new file (a new inode, as
    # a received increment is) after the stream's end and before "go"
    disk = tmp_path / "dst.img"
    disk.write_bytes(bytes(1 << 20))
    src, dst, mig, g = gated_pair(tmp_path, vms, disk)
    stale = disk_count(disk)
    last = disk_count(tmp_path / "src.img")
    assert last >= 5 and stale == 0, (last, stale)
    new = tmp_path / "dst.img.new"
    new.write_bytes((tmp_path / "src.img").read_bytes())
    os.rename(new, disk)
    g.sendall(b"D")  # no descriptors: open the paths it was given
    ans = mig.answer()
    assert ans["ok"] is True and ans["state"] == "migrated", ans
    assert src.p.wait(timeout=10) == 4, src.err.read_text()
    assert src.counts()[-1] == last
    dst.wait_socket()
    # the guest reads back the count the source wrote last and goes on
    # writing it (wait_count fails on "count: DISK LOST")
    dst.wait_count(last + 5)
    got = dst.counts()
    assert got[0] == last + 1, (last, got[:5])
    assert disk_count(disk) > last + 3
    assert "DISK" not in dst.text()


def test_disks_passed_as_descriptors_are_taken(tmp_path, vms):
    # the disks= socket may carry the disks themselves, one descriptor
    # each in order; the path given on the command line is then unused
    src, dst, mig, g = gated_pair(tmp_path, vms, tmp_path / "absent.img")
    copy = tmp_path / "copy.img"
    copy.write_bytes((tmp_path / "src.img").read_bytes())
    fd = os.open(copy, os.O_RDWR)
    g.sendmsg([b"D"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                        array.array("i", [fd]))])
    os.close(fd)
    ans = mig.answer()
    assert ans["ok"] is True, ans
    last = src.counts()[-1]
    dst.wait_count(last + 3)
    assert disk_count(copy) > last


@pytest.mark.parametrize("how", ["size", "closed", "readonly"])
def test_a_wrong_disk_is_refused_and_the_source_runs_on(tmp_path, vms,
                                                         how):
    big = tmp_path / "big.img"
    big.write_bytes(bytes(2 << 20))
    src, dst, mig, g = gated_pair(tmp_path, vms, big)
    if how == "size":
        g.sendall(b"D")
        want = (f"hull-vmm: migration: disk {big} is 2097152 bytes, the "
                "source's 1048576")
    elif how == "closed":
        g.close()
        want = ("hull-vmm: migration: the disks socket closed before the "
                "disks came")
    else:
        fd = os.open(big, os.O_RDONLY)
        g.sendmsg([b"D"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                            array.array("i", [fd]))])
        os.close(fd)
        want = f"hull-vmm: migration: disk {big}: not open for writing"
    # the target refuses with one line and never runs the guest
    assert dst.p.wait(timeout=30) == 1
    assert dst.err.read_text().strip() == want
    assert dst.counts() == []
    # the source gets no "ready", takes its guest back and runs on, its
    # disk still its own (the guest checks every count it wrote)
    ans = mig.answer()
    assert ans["ok"] is False and ans["state"] == "running", ans
    assert "did not take the VM over" in ans["error"], ans
    now = src.counts()[-1]
    src.wait_count(now + 5)
    assert disk_count(tmp_path / "src.img") > now
    assert ask(src.ctl, {"command": "status"})["state"] == "running"
    assert big.read_bytes() == bytes(2 << 20)


def test_a_disk_written_on_every_line_survives_moves(tmp_path, vms):
    # one host, one disk path: the guest reads and writes its disk as
    # fast as it can (delay=0) while it moves from one hull-vmm to the
    # next, eight times, and every count it reads back is the one it
    # wrote before (else "count: DISK LOST", which wait_count fails on).
    # A request queued at the pause is the target's alone: a source that
    # also ran it after the hand-over wrote an older count over the
    # target's (seen once in ~30 moves in bench/vmm-live; the unit test
    # test_vmm_iothread pins the cause down deterministically)
    disk = tmp_path / "disk.img"
    disk.write_bytes(bytes(1 << 20))
    dev = ("--disk", str(disk))
    src = VMM(tmp_path, "m0", memory="128M",
              cmdline="delay=0 dirtykb=64 disk=1", extra=dev)
    vms.append(src)
    src.wait_socket()
    src.wait_count(200)
    for hop in range(1, 9):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        dst = VMM(tmp_path, f"m{hop}", memory="128M", incoming=b,
                  extra=dev)
        vms.append(dst)
        b.close()
        ans = migrate(src.ctl, a)
        assert ans["ok"] is True, ans
        assert src.p.wait(timeout=10) == 4
        last = src.counts()[-1]
        dst.wait_socket()
        dst.wait_count(last + 300)
        assert "DISK" not in src.text() + dst.text()
        src = dst
    assert disk_count(disk) > last + 300
