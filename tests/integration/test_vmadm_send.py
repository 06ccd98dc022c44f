"""vmadm send and receive between two pools on this host: a busybox zone
with data moved whole (`vmadm send A | HULL_ROOT=B vmadm receive`) and
running on B with the same uuid, MAC and addresses; an incremental send
that carries only the change; --live from a running zone; a bhyve VM
with its disk; hostile, truncated and cut streams. Both pools live in the
test's network namespaces (one each, as two hosts have), each with its
own cgroup parent."""
import json
import os
import struct
import subprocess
import tempfile

import pytest

import skips
from conftest import Host, _init_pool, cleanup_root, prog
from nethelp import NetHost
from vmtools import unfreeze
from zonekit import Zones, install_busybox, wait_for, cgroup_v2

MAC = "02:00:00:00:51:01"
IP = "192.0.2.51/24"


class Side:
    """One pool, its commands run in the shared network namespace."""

    def __init__(self, host, ns):
        self.h = host
        self.ns = ns
        self.root = host.root
        self.env = host.env

    def argv(self, name, *args):
        return ["ip", "netns", "exec", self.ns, prog(name), *map(str, args)]

    def run(self, name, *args, input=None, check=True, timeout=180):
        cp = subprocess.run(self.argv(name, *args), input=input,
                            capture_output=True, env=self.env,
                            timeout=timeout)
        if check and cp.returncode != 0:
            raise AssertionError(f"{name} {args} failed: {cp.stderr!r}")
        return cp

    def fails(self, name, *args, input=None):
        cp = self.run(name, *args, input=input, check=False)
        assert cp.returncode != 0, cp
        lines = [l for l in cp.stderr.decode().splitlines() if l.strip()]
        assert len(lines) == 1, cp.stderr
        return lines[0]

    def vms(self):
        out = self.run("vmadm", "list", "-H", "-o", "uuid,state").stdout
        return dict(l.split() for l in out.decode().splitlines())

    def get(self, u):
        return json.loads(self.run("vmadm", "get", u).stdout)

    def zlogin(self, u, script):
        return self.run("zlogin", u, "sh", "-c", script).stdout.decode()

    def leftovers(self):
        """What the pool holds besides images: datasets, pending records."""
        out = json.loads(self.run("hull", "pool", "list", "-j").stdout)
        ds = sorted(e["name"] for e in out
                    if not e["name"].startswith("images"))
        pend = os.path.join(self.root, "var", "vmadm", "pending")
        files = sorted(os.listdir(pend)) if os.path.isdir(pend) else []
        return ds, files


@pytest.fixture
def pair(bare, workdir, request):
    backend = getattr(request, "param", "btrfs")
    if not os.path.isdir("/sys/fs/cgroup/memory") and not cgroup_v2():
        skips.skip("host-denies", "no cgroup hierarchies on this host")
    wd_b = tempfile.mkdtemp(prefix="hull-test-")
    hb = Host(os.path.join(wd_b, "zones"), wd_b)
    _init_pool(bare, backend)
    _init_pool(hb, backend)
    # Tests never reach the internet: B knows no image source but those
    # a test adds.
    hb.run("imgadm", "sources", "-d", "https://images.smartos.org")
    za, zb = Zones(bare), Zones(hb)
    net, net_b = NetHost(bare), NetHost(hb)
    a, b = Side(bare, net.ns), Side(hb, net_b.ns)
    bb = os.path.join(workdir, "bbimg")
    a.image = install_busybox(bare.run, bb)
    try:
        yield a, b, bb
    finally:
        for s in (a, b):
            for u in s.run("vmadm", "list", "-H", "-o", "uuid",
                           check=False).stdout.split():
                s.run("vmadm", "delete", u.decode(), check=False)
        net.close()
        net_b.close()
        za.cleanup()
        zb.cleanup()
        bare.run("hull", "fini", check=False)
        hb.run("hull", "fini", check=False)
        unfreeze(wd_b)
        cleanup_root(wd_b)


def install_on_b(b, bb):
    import glob
    b.image = json.load(open(glob.glob(os.path.join(bb, "*.json"))[0]))["uuid"]
    b.h.run("imgadm", "install", "-m", glob.glob(os.path.join(bb, "*.json"))[0],
            "-f", glob.glob(os.path.join(bb, "*.tar"))[0])


def make_zone(a, **kw):
    a.run("nictagadm", "add", "-l", "stub0")
    payload = {"brand": "lx", "kernel_version": "4.3.0",
               "image_uuid": a.image, "alias": "moved",
               "nics": [{"nic_tag": "stub0", "mac": MAC, "ips": [IP],
                         "primary": True}]}
    payload.update(kw)
    cp = a.run("vmadm", "create", input=json.dumps(payload).encode())
    return cp.stderr.decode().split("Successfully created VM ")[1].split()[0]


def send(a, u, *args):
    """The stream of vmadm send, as bytes."""
    cp = a.run("vmadm", "send", u, *args)
    assert b"Successfully sent VM " + u.encode() in cp.stderr, cp.stderr
    return cp.stdout


def test_zone_moves_with_data_and_addresses(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    b.run("nictagadm", "add", "-l", "stub0")
    u = make_zone(a)
    a.zlogin(u, "echo precious > /data.txt; sync")
    stream = send(a, u)
    assert stream[:8] == b"HULLSEND"
    # SmartOS's send stops the instance and leaves it; so does hull's.
    assert a.vms()[u] == "stopped"
    cp = b.run("vmadm", "receive", input=stream)
    assert f"Successfully received VM {u}".encode() in cp.stderr
    assert b.vms() == {u: "running"}
    assert b.zlogin(u, "cat /data.txt").strip() == "precious"
    vm = b.get(u)
    assert vm["zonepath"] == os.path.join(b.root, u)
    assert vm["nics"][0]["mac"] == MAC and vm["nics"][0]["ips"] == [IP]
    addr = b.zlogin(u, "ip -4 -o addr show eth0")
    assert IP in addr
    # The image's blocks stay at home: the stream carries under 5% of the
    # image's size (issue 16) beyond the zone's own file.
    img = json.loads(b.h.run("imgadm", "get", a.image).out)
    assert len(stream) < int(img["manifest"]["files"][0]["size"]) * 0.05


@pytest.mark.parametrize("pair", ["dir"], indirect=True)
def test_dir_pools_move_zones_too(pair):
    """The dir backend's own stream (a tar) travels in the same frame; a
    full stream there carries the image's files too."""
    a, b, bb = pair
    install_on_b(b, bb)
    u = make_zone(a, nics=[])
    a.zlogin(u, "echo dir > /d.txt")
    stream = send(a, u)
    assert header_of(stream)[0]["backend"] == "dir"
    b.run("vmadm", "receive", input=stream)
    assert b.vms() == {u: "running"}
    assert b.zlogin(u, "cat /d.txt").strip() == "dir"
    a.run("vmadm", "start", u)
    a.zlogin(u, "echo two > /d.txt")
    inc = send(a, u, "-i", "send-1")
    b.run("vmadm", "stop", u)
    b.run("vmadm", "receive", input=inc)
    assert b.zlogin(u, "cat /d.txt").strip() == "two"


def test_incremental_carries_only_the_change(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    u = make_zone(a, autoboot=False, nics=[])
    a.run("vmadm", "start", u)
    a.zlogin(u, "dd if=/dev/urandom of=/big bs=1M count=8 2>/dev/null; sync")
    full = send(a, u)
    b.run("vmadm", "receive", input=full)
    # vmadm start set autoboot; the stream carries it as it was.
    assert b.vms() == {u: "running"}
    b.run("vmadm", "stop", u)
    a.run("vmadm", "start", u)
    a.zlogin(u, "echo second > /small.txt; sync")
    # vmadm snapshots are each pool's own: A's does not appear on B.
    a.run("vmadm", "create-snapshot", u, "on-a")
    b.run("vmadm", "create-snapshot", u, "on-b")
    inc = send(a, u, "-i", "send-1")
    assert len(full) > 8 << 20
    assert len(inc) < 1 << 20, len(inc)
    b.run("vmadm", "receive", input=inc)
    b.run("vmadm", "start", u)
    assert b.zlogin(u, "cat /small.txt; wc -c < /big").split() == \
        ["second", str(8 << 20)]
    assert [s["name"] for s in b.get(u)["snapshots"]] == ["on-b"]
    # A base the receiver lacks is refused there, and the instance stays.
    b.run("vmadm", "stop", u)
    a.fails("vmadm", "send", u, "-i", "nosuch")
    send(a, u, "-i", "send-2")  # send-3, never received
    inc = send(a, u, "-i", "send-3")
    line = b.fails("vmadm", "receive", input=inc)
    assert "no snapshot send-3" in line, line
    assert b.vms() == {u: "stopped"}
    # A running instance does not take an increment.
    inc = send(a, u, "-i", "send-2")
    b.run("vmadm", "start", u)
    line = b.fails("vmadm", "receive", input=inc)
    assert "is running here" in line, line


def test_live_send_leaves_the_zone_running(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    u = make_zone(a, nics=[])
    a.zlogin(u, "echo live > /l.txt; sync")
    # A stream kept in a file, received from it with -f.
    path = os.path.join(a.h.workdir, "live.stream")
    with open(path, "wb") as f:
        cp = subprocess.run(a.argv("vmadm", "send", u, "--live"), stdout=f,
                            stderr=subprocess.PIPE, env=a.env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert a.vms()[u] == "running"
    b.run("vmadm", "receive", "-f", path)
    # The original still runs: the copy waits for the operator.
    assert b.vms() == {u: "stopped"}
    b.run("vmadm", "start", u)
    assert b.zlogin(u, "cat /l.txt").strip() == "live"


def test_refused_on_a_terminal_and_without_image(pair):
    a, b, bb = pair
    u = make_zone(a, nics=[], autoboot=False)
    # stdout a terminal: a pty.
    import pty
    m, s = pty.openpty()
    cp = subprocess.run(a.argv("vmadm", "send", u), stdout=s,
                        stderr=subprocess.PIPE, env=a.env)
    os.close(s)
    os.close(m)
    assert cp.returncode == 1 and b"terminal" in cp.stderr
    stream = send(a, u)
    # B has no image and no source: one line naming the image.
    line = b.fails("vmadm", "receive", input=stream)
    assert a.image in line, line
    assert b.leftovers() == ([], [])
    assert b.vms() == {}


def test_receive_imports_the_missing_image(pair):
    a, b, bb = pair
    u = make_zone(a, nics=[], autoboot=False)
    stream = send(a, u)
    b.h.run("imgadm", "sources", "-a", bb)
    b.run("vmadm", "receive", input=stream)
    assert a.image in b.h.run("imgadm", "list", "-H", "-o", "uuid").out
    assert b.vms() == {u: "stopped"}
    b.run("vmadm", "start", u)
    assert b.zlogin(u, "echo ok").strip() == "ok"


def header_of(stream):
    hlen = struct.unpack(">I", stream[12:16])[0]
    return json.loads(stream[16:16 + hlen]), 16 + hlen


def with_header(stream, hdr, version=1):
    _old, off = header_of(stream)
    text = json.dumps(hdr).encode()
    return (b"HULLSEND" + struct.pack(">II", version, len(text)) + text +
            stream[off:])


def test_hostile_streams_are_refused_leaving_nothing(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    u = make_zone(a, nics=[], autoboot=False)
    stream = send(a, u)
    hdr, off = header_of(stream)
    other = "2f0e1d2c-0000-4000-8000-000000000bad"
    cases = []
    h = json.loads(json.dumps(hdr))
    h["record"]["uuid"] = other
    cases.append((with_header(stream, h), "record is for"))
    h = json.loads(json.dumps(hdr))
    h["datasets"][0]["name"] = f"{u}/../../etc"
    cases.append((with_header(stream, h), "not one of"))
    h = json.loads(json.dumps(hdr))
    h["datasets"][0]["name"] = "images"
    cases.append((with_header(stream, h), "not one of"))
    cases.append((with_header(stream, hdr, version=9), "version 9"))
    h = json.loads(json.dumps(hdr))
    h["datasets"][0]["parent"] = f"images/{other}@final"
    cases.append((with_header(stream, h), "not the instance's image"))
    cases.append((b"NOTHULL!" + stream[8:], "magic"))
    mid = off + (len(stream) - off) // 2
    cases.append((stream[:mid], "ends"))
    cases.append((stream[:-8], "ends"))
    # A flipped byte inside the btrfs stream.
    bad = bytearray(stream)
    bad[mid] ^= 0xff
    cases.append((bytes(bad), ""))
    # Chunk framing that lies about a length.
    bad = bytearray(stream)
    bad[off:off + 4] = struct.pack(">I", 0x7fffffff)
    cases.append((bytes(bad), "chunk"))
    for data, words in cases:
        line = b.fails("vmadm", "receive", input=data)
        assert words in line, (words, line)
        print("refused:", line)
        assert b.leftovers() == ([], []), line
        assert b.vms() == {}
    # And the good one still goes in.
    b.run("vmadm", "receive", input=stream)
    assert b.vms() == {u: "stopped"}


def test_cut_stream_leaves_failed_instance_that_delete_removes(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    u = make_zone(a, nics=[], autoboot=False)
    a.run("vmadm", "start", u)
    a.zlogin(u, "dd if=/dev/urandom of=/big bs=1M count=4 2>/dev/null")
    stream = send(a, u)
    _hdr, off = header_of(stream)
    p = subprocess.Popen(b.argv("vmadm", "receive"), stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=b.env)
    p.stdin.write(stream[:off + (1 << 20)])
    p.stdin.flush()
    assert wait_for(lambda: b.vms().get(u) == "receiving")
    p.kill()
    p.wait()
    p.stdin.close()
    assert wait_for(lambda: b.vms().get(u) == "failed")
    b.run("vmadm", "delete", u)
    assert b.vms() == {}
    assert b.leftovers() == ([], [])
    # Nor the partial subvolume the receive had begun.
    assert [n for n in os.listdir(os.path.join(b.root, ".snapshots"))
            if n.startswith(".")] == []


def sha256(path):
    import hashlib
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_bhyve_vm_moves_with_its_disk(pair, workdir):
    from hvmlib import make_guest_disk
    from test_hvm_vmadm import new_bhyve_test_vm, wait_console, state
    a, b, _bb = pair
    u, disk = new_bhyve_test_vm(a.h)
    b.h.env["HULL_TEST_KVM_SMALL"] = "1"
    make_guest_disk(workdir, disk, "test=acpibutton")
    a.h.run("vmadm", "start", u)
    wait_console(a.h, u, "waiting for the power button", 30)
    # send stops the running VM (the guest powers off on the ACPI
    # button) and sends its disk.
    cp = subprocess.run([prog("vmadm"), "send", u], capture_output=True,
                        env=a.env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    assert state(a.h, u) == "stopped"
    want = sha256(disk)
    cp = subprocess.run([prog("vmadm"), "receive"], input=cp.stdout,
                        capture_output=True, env=b.h.env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    vm = json.loads(b.h.run("vmadm", "get", u).out)
    bdisk = vm["disks"][0]["path"]
    assert bdisk == os.path.join(b.root, u, "disks", os.path.basename(disk))
    assert sha256(bdisk) == want
    # Its own id range on B, and it runs there (autoboot, set by start).
    assert state(b.h, u) == "running"
    wait_console(b.h, u, "waiting for the power button", 30)
    b.h.run("vmadm", "stop", u, "-t", "30", timeout=60)
    assert state(b.h, u) == "stopped"


def crc32c(data, crc=0):
    """CRC-32C (Castagnoli), as btrfs send streams carry it per command."""
    table = crc32c.table
    if table is None:
        table = crc32c.table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
    # btrfs seeds it with 0 and inverts neither end.
    for byte in data:
        crc = table[(crc ^ byte) & 0xff] ^ (crc >> 8)
    return crc


crc32c.table = None
BTRFS_SEND_C_MKFILE, BTRFS_SEND_A_PATH = 3, 15


def escape_mkfile(bstream, target):
    """A btrfs send stream whose first new file is made at target: what a
    hostile sender writes to put a file outside the subvolume (btrfs
    receive takes paths as they come)."""
    out = bytearray(bstream[:17])  # "btrfs-stream\0" + version
    off = 17
    n = 0
    while off < len(bstream):
        ln, cmd, _crc = struct.unpack_from("<IHI", bstream, off)
        body = bstream[off + 10:off + 10 + ln]
        off += 10 + ln
        if cmd == BTRFS_SEND_C_MKFILE and n == 0:
            attrs, i = b"", 0
            while i < len(body):
                t, l = struct.unpack_from("<HH", body, i)
                v = body[i + 4:i + 4 + l]
                if t == BTRFS_SEND_A_PATH:
                    v = target
                    n += 1
                attrs += struct.pack("<HH", t, len(v)) + v
                i += 4 + l
            body = attrs
        hdr = struct.pack("<IHI", len(body), cmd, 0)
        crc = crc32c(hdr + body)
        out += struct.pack("<IHI", len(body), cmd, crc) + body
    assert n > 0, "the stream makes no file"
    return bytes(out)


def test_btrfs_stream_cannot_write_outside(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    u = make_zone(a, nics=[], autoboot=False)
    stream = send(a, u)
    hdr, off = header_of(stream)
    # The one dataset's chunks, joined.
    data, i = b"", off
    while True:
        (n,) = struct.unpack_from(">I", stream, i)
        i += 4
        if n == 0:
            break
        data += stream[i:i + n]
        i += n
    assert data[:13] == b"btrfs-stream\0"
    name = "hull-escape-" + os.urandom(4).hex()
    evil = escape_mkfile(data, b"../../../../../../../../../../../" +
                          name.encode())
    framed = (stream[:off] + struct.pack(">I", len(evil)) + evil +
              struct.pack(">IQ", 0, len(evil)) + b"HULLDONE")
    line = b.fails("vmadm", "receive", input=framed)
    assert u in line
    assert b.leftovers() == ([], [])
    assert b.vms() == {}
    # Nowhere above the receiving folder: not at the host's root, not in
    # the pool, not beside it.
    for d in ("/", b.root, os.path.dirname(b.root),
              os.path.join(b.root, ".snapshots")):
        assert not os.path.exists(os.path.join(d, name)), d


def test_userns_zone_gets_a_free_range_of_the_receiver(pair):
    a, b, bb = pair
    install_on_b(b, bb)
    um = {"internal_metadata": {"hull:userns": "true"}}
    u = make_zone(a, nics=[], autoboot=False, **um)
    a.run("vmadm", "start", u)
    a.zlogin(u, "echo mine > /owned.txt; chown 1000:1000 /owned.txt; sync")
    rng_a = a.get(u)["hull_userns"]
    # Files keep the zone's own ids on disk (an idmapped mount maps them).
    path_a = os.path.join(a.root, u, "root", "owned.txt")
    assert os.stat(path_a).st_uid == 1000
    stream = send(a, u)
    # B's first range is taken by a zone of its own.
    other = make_zone(b, nics=[], autoboot=False, alias="other", **um)
    rng_other = b.get(other)["hull_userns"]
    assert rng_other == rng_a  # both pools start at the same range
    b.run("vmadm", "receive", input=stream)
    rng_b = b.get(u)["hull_userns"]
    assert rng_b["uid"] != rng_a["uid"] and rng_b["gid"] != rng_a["gid"]
    st = os.stat(os.path.join(b.root, u, "root", "owned.txt"))
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    # Both zones run on B, each in its own range.
    b.run("vmadm", "start", other)
    assert b.vms()[u] == "running"
    assert b.zlogin(u, "ls -ln /owned.txt").split()[2:4] == ["1000", "1000"]
    assert b.zlogin(u, "cat /owned.txt").strip() == "mine"


def test_bhyve_vm_warm_move(pair, workdir):
    """A warm migration's sequence for a bhyve VM, as the agents run it
    (src/agent/migrate.c; hull-api(8) MIGRATION): live sends while the
    guest runs, a full one then an increment, then the switch's send,
    which stops the VM (the guest powers off on the ACPI button) and
    carries the last increment; B starts it with the same nic. Bytes
    written into its data disk before each send are all on B."""
    import vmmlib
    from hvmlib import make_guest_disk
    from test_hvm_vmadm import wait_console, state
    why = vmmlib.kvm_unusable()
    if why is not None:
        skips.skip("no-kvm", why)
    a, b, _bb = pair
    for s in (a, b):
        s.env["HULL_TEST_KVM_SMALL"] = "1"
        s.run("nictagadm", "add", "-l", "stub0")
    payload = {"brand": "bhyve", "ram": 64, "autoboot": False,
               "disks": [{"size": 8, "boot": True}, {"size": 4}],
               "nics": [{"nic_tag": "stub0", "mac": MAC, "ips": [IP],
                         "primary": True, "model": "virtio"}]}
    cp = a.run("vmadm", "create", input=json.dumps(payload).encode())
    u = cp.stderr.decode().split("Successfully created VM ")[1].split()[0]
    disks = [d["path"] for d in a.get(u)["disks"]]
    make_guest_disk(workdir, disks[0], "test=acpibutton")
    a.run("vmadm", "start", u)
    wait_console(a.h, u, "waiting for the power button", 30)

    def mark(off, text):
        with open(disks[1], "r+b") as f:
            f.seek(off)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    mark(0, b"before the first sync")
    b.run("vmadm", "receive", input=send(a, u, "--live"))
    assert a.vms()[u] == "running" and b.vms() == {u: "stopped"}
    mark(1 << 20, b"between the syncs")
    b.run("vmadm", "receive", input=send(a, u, "--live", "-i", "send-1"))
    assert a.vms()[u] == "running"
    mark(2 << 20, b"after the last sync")
    last = send(a, u, "-i", "send-2")
    assert state(a.h, u) == "stopped"
    b.run("vmadm", "receive", input=last)
    vm = b.get(u)
    bdisks = [d["path"] for d in vm["disks"]]
    assert [sha256(p) for p in bdisks] == [sha256(p) for p in disks]
    with open(bdisks[1], "rb") as f:
        data = f.read()
    for off, text in ((0, b"before the first sync"),
                      (1 << 20, b"between the syncs"),
                      (2 << 20, b"after the last sync")):
        assert data[off:off + len(text)] == text
    assert vm["nics"][0]["mac"] == MAC and vm["nics"][0]["ips"] == [IP]
    # It runs on B (autoboot came with the record), booted from its disk.
    assert state(b.h, u) == "running"
    wait_console(b.h, u, "waiting for the power button", 30)
    b.run("vmadm", "stop", u, "-t", "30", timeout=60)
