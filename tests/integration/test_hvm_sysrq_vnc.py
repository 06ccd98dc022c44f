"""vmadm sysrq (NMI, screenshot) and the kvm brand's VNC console
(issue 7): SmartOS's checks and messages, an NMI the Linux guest's kernel
reports, a screenshot of its VGA text console, and the supervisor's TCP
relay to QEMU's VNC socket (loopback here), with and without a password.
One booted guest serves most assertions: each boot costs seconds under
TCG."""
import glob
import json
import os
import socket
import struct
import time

import pytest

from hvmlib import make_guest_disk
from test_hvm_vmadm import (READY, console_log, create, install, state,  # noqa: F401
                            new_bhyve_test_vm, vmhost, wait_console)


def info_vnc(h, u):
    return json.loads(h.run("vmadm", "info", u, "vnc").out)["vnc"]


def rfb_hello(port, timeout=10):
    """Connects, reads the server's RFB banner, answers with the same
    version and returns (banner, security types offered)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        banner = b""
        while len(banner) < 12:
            d = s.recv(12 - len(banner))
            assert d, banner
            banner += d
        s.sendall(banner)
        n = s.recv(1)[0]
        assert n > 0, "the server refused the connection"
        types = b""
        while len(types) < n:
            types += s.recv(n - len(types))
        return banner, list(types)
    finally:
        s.close()


def recv_exactly(s, n):
    got = b""
    while len(got) < n:
        d = s.recv(n - len(got))
        assert d, got
        got += d
    return got


def wrong_password(port):
    """VNC authentication (RFB 3.8) with a response that cannot be right;
    returns the SecurityResult (1: failed) once the reason came too."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(recv_exactly(s, 12))
        n = recv_exactly(s, 1)[0]
        assert 2 in recv_exactly(s, n)
        s.sendall(b"\x02")
        recv_exactly(s, 16)            # the challenge
        s.sendall(b"\0" * 16)
        result = struct.unpack(">I", recv_exactly(s, 4))[0]
        if result:
            reason = recv_exactly(s, struct.unpack(">I",
                                                   recv_exactly(s, 4))[0])
            assert reason, "no reason given"
        return result
    finally:
        s.close()


def refused(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


def ppm_header(path):
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    pos += 1  # the single blank after maxval
    magic, w, h, maxval = fields[0], int(fields[1]), int(fields[2]), \
        int(fields[3])
    return magic, w, h, maxval, len(data) - pos


def test_kvm_nmi_screenshot_and_vnc(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, "vnc_password": "s3cret",
                   "disks": [{"image_uuid": img, "boot": True}]})
    # The relay listens once create returns, before QEMU's VNC is up (the
    # boot does not wait for it): the client waits for QEMU.
    assert rfb_hello(info_vnc(h, u)["port"])[1] == [2]
    wait_console(h, u, READY)

    # NMI: the guest's kernel has no handler for it and says so.
    r = h.run("vmadm", "sysrq", u, "nmi")
    assert r.err.strip() == f"Sent nmi sysrq to VM {u}"
    wait_console(h, u, "NMI received for unknown reason", 30)

    # Screenshot: the VGA text console (720x400) as a binary PPM, in the
    # instance's dataset.
    r = h.run("vmadm", "sysrq", u, "screenshot")
    path = os.path.join(h.root, u, "tmp", "vm.ppm")
    assert r.out.strip() == path
    assert r.err.strip() == f"Sent screenshot sysrq to VM {u}"
    magic, w, ht, maxval, body = ppm_header(path)
    assert (magic, w, ht, maxval) == (b"P6", 720, 400, 255)
    assert body == w * ht * 3
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not glob.glob(os.path.join(h.root, u, "run", "vm", "*.ppm"))

    # VNC: the relay on a port the kernel chose, VNC authentication only.
    v = info_vnc(h, u)
    assert v["host"] == "127.0.0.1" and v["password"] == "s3cret"
    port = v["port"]
    if port >= 5900:
        assert v["display"] == port - 5900
    banner, types = rfb_hello(port)
    assert banner.startswith(b"RFB 003.")
    assert 2 in types and 1 not in types
    # A second client at the same time, and one that leaves in the middle
    # of the handshake: the supervisor serves on.
    first = socket.create_connection(("127.0.0.1", port), timeout=10)
    assert first.recv(12).startswith(b"RFB ")
    rfb_hello(port)
    first.close()
    half = socket.create_connection(("127.0.0.1", port), timeout=10)
    half.sendall(b"RFB 0")
    half.close()
    assert rfb_hello(port)[1] == types
    # A wrong answer to the VNC challenge: QEMU says why and hangs up; its
    # last words come through the relay.
    assert wrong_password(port) == 1
    assert state(h, u) == "running"

    # Stopped: no relay, no info, and sysrq says why.
    h.run("vmadm", "stop", "-F", u, timeout=60)
    assert refused(port)
    assert not os.path.exists(os.path.join(h.root, u, "run", "vnc.json"))
    r = h.fails("vmadm", "sysrq", u, "nmi")
    assert r.err.strip() == ('Unable to send request to vm from state '
                             '"stopped", must be "running" or "stopping".')

    # Without a password: no authentication; on a fixed port (updatable,
    # used at the next start).
    fixed = free_port()
    h.run("vmadm", "update", u, input=json.dumps(
        {"vnc_password": None, "vnc_port": fixed}))
    h.run("vmadm", "start", u, timeout=120)
    v = info_vnc(h, u)
    assert v["port"] == fixed and "password" not in v
    assert rfb_hello(fixed)[1] == [1]
    h.run("vmadm", "stop", "-F", u, timeout=60)
    assert refused(fixed)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def test_kvm_without_vnc(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, "vnc_port": -1,
                   "disks": [{"image_uuid": img, "boot": True}]})
    wait_console(h, u, READY)
    assert info_vnc(h, u) == {}
    assert not os.path.exists(os.path.join(h.root, u, "run", "vm",
                                           "vnc.sock"))
    r = h.fails("vmadm", "sysrq", u, "screenshot")
    assert r.err.strip() == (f"Cannot take a screenshot of VM {u}: it has "
                             "no display (vnc_port is -1)")
    assert not os.path.exists(os.path.join(h.root, u, "tmp", "vm.ppm"))
    h.run("vmadm", "sysrq", u, "nmi")
    wait_console(h, u, "NMI received for unknown reason", 30)
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_sysrq_usage(vmhost):
    h = vmhost
    r = h.run("vmadm", "sysrq", "00000000-0000-4000-8000-000000000001",
              "reboot", check=False)
    assert r.rc == 2
    assert "Invalid sysrq type: reboot" in r.err
    r = h.run("vmadm", "sysrq", "00000000-0000-4000-8000-000000000001",
              check=False)
    assert r.rc == 2


def test_bhyve_nmi_and_no_screenshot(vmhost, workdir):
    # hull-vmm's test guest waits, halted, for an NMI (test=nmi) and
    # reports it; a screenshot is refused (hull-vmm has no framebuffer).
    h = vmhost
    u, disk = new_bhyve_test_vm(h)
    make_guest_disk(workdir, disk, "test=nmi")
    h.run("vmadm", "start", u)
    wait_console(h, u, "nmi: waiting for an NMI", 30)
    r = h.fails("vmadm", "sysrq", u, "screenshot")
    assert r.err.strip() == 'Invalid sysrq "screenshot" valid values: "nmi".'
    r = h.run("vmadm", "sysrq", u, "nmi")
    assert r.err.strip() == f"Sent nmi sysrq to VM {u}"
    wait_console(h, u, "hull-guest: PASS nmi", 30)
    assert "hull-guest: NMI received" in console_log(h, u)
    # The guest powered off after its test: the VM is stopped.
    end = time.monotonic() + 30
    while state(h, u) != "stopped":
        assert time.monotonic() < end
        time.sleep(0.1)
    assert info_vnc_refused(h, u)


def info_vnc_refused(h, u):
    r = h.fails("vmadm", "info", u, "vnc")
    return "not running" in r.err


def test_zone_sysrq_refused(btrfs_pool, workdir):
    from zonekit import Zones, install_busybox
    from vmtools import unfreeze
    pool = btrfs_pool
    zs = Zones(pool)
    image = install_busybox(pool.run, os.path.join(workdir, "bbimg"))
    try:
        r = pool.run("vmadm", "create", input=json.dumps(
            {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": image}))
        u = r.err.split("Successfully created VM ")[1].split()[0]
        assert state(pool, u) == "running"
        r = pool.fails("vmadm", "sysrq", u, "nmi")
        assert r.err.strip() == ("The sysrq command is only supported for "
                                 'VMs with brand "bhyve" or "kvm".')
        # A zone has no vnc info either (SmartOS: no info types for it).
        r = pool.fails("vmadm", "info", u, "vnc")
        assert "vnc" in r.err
    finally:
        for x in pool.run("vmadm", "list", "-H", "-o", "uuid",
                          check=False).out.split():
            pool.run("vmadm", "delete", x, check=False)
        zs.cleanup()
        unfreeze(workdir)


@pytest.mark.parametrize("brand,payload,prop", [
    ("kvm", {"vnc_port": 65536}, "vnc_port"),
    ("kvm", {"vnc_port": -2}, "vnc_port"),
    ("kvm", {"vnc_password": "123456789"}, "vnc_password"),
    ("kvm", {"vnc_password": 12345678}, "vnc_password"),
])
def test_vnc_properties_refused(vmhost, brand, payload, prop):
    h = vmhost
    p = dict(payload, brand=brand, disks=[{"size": 8, "boot": True}])
    before = sorted(os.listdir(h.root))
    r = h.fails("vmadm", "create", input=json.dumps(p))
    assert prop in r.err, r.err
    assert sorted(os.listdir(h.root)) == before
    assert h.run("vmadm", "list", "-H").out.strip() == ""


@pytest.mark.parametrize("payload,prop", [
    ({"vnc_port": 5901}, "vnc_port"),
    ({"vnc_password": "pw"}, "vnc_password"),
])
def test_vnc_properties_dropped_on_bhyve(vmhost, payload, prop):
    """hull-vmm has no VNC: like any property that is not the brand's,
    a bhyve payload's VNC settings are dropped with one warning (as
    SmartOS's create drops what it does not take) and never stored."""
    h = vmhost
    p = dict(payload, brand="bhyve", autoboot=False,
             disks=[{"size": 8, "boot": True}])
    r = h.run("vmadm", "create", input=json.dumps(p))
    assert [l for l in r.err.splitlines() if prop in l], r.err
    u = h.run("vmadm", "list", "-H", "-o", "uuid").out.strip()
    assert prop not in json.loads(h.run("vmadm", "get", u).out)


def test_vnc_update_refused(vmhost):
    h = vmhost
    u = create(h, {"brand": "kvm", "autoboot": False,
                   "disks": [{"size": 8}]})
    before = h.run("vmadm", "get", u).out
    for bad, prop in (({"vnc_port": 70000}, "vnc_port"),
                      ({"vnc_password": "far too long"}, "vnc_password")):
        r = h.fails("vmadm", "update", u, input=json.dumps(bad))
        assert prop in r.err, r.err
    assert h.run("vmadm", "get", u).out == before


def test_vnc_relay_and_metadata_run_unprivileged(vmhost):
    """The relay (hull-vnc) and the metadata server of a VM are processes
    of their own with the ids after the emulator's (hull_userns uid + 2
    and + 1), no capabilities, under seccomp; the supervisor restarts
    the relay when it is killed and clients are served again."""
    from test_privsep import (assert_confined, children, confined_children,
                              entered, fd_targets, status)
    from zonekit import wait_for
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, "vnc_password": "s3cret",
                   "disks": [{"image_uuid": img, "boot": True}]})
    port = info_vnc(h, u)["port"]
    assert rfb_hello(port)[1] == [2]
    ids = json.loads(h.run("vmadm", "get", u).out)["hull_userns"]
    with open(os.path.join(h.root, u, "run", "supervisor.pid")) as f:
        sv = int(f.read())
    for comm, off in (("hull-vnc", 2), ("hull-metadata", 1)):
        pid = confined_children(sv, comm)
        assert len(pid) == 1, (comm, pid)
        st = status(pid[0])
        assert st["Uid"].split() == [str(ids["uid"] + off)] * 4, st["Uid"]
        assert st["Gid"].split() == [str(ids["gid"] + off)] * 4, st["Gid"]
        assert_confined(st)
        assert all(t.startswith(("socket:", "anon_inode:", "/dev/null",
                                 "/dev/pts", "pipe:")) or f <= 2
                   for f, t in fd_targets(pid[0]).items()), comm
    relay = children(sv, "hull-vnc")
    os.kill(relay[0], 9)
    new = wait_for(lambda: [p for p in children(sv, "hull-vnc")
                            if p not in relay and entered(p)], 5)
    assert new, "the relay was not restarted"
    assert rfb_hello(port)[1] == [2]
    assert state(h, u) == "running"
    h.run("vmadm", "stop", "-F", u, timeout=60)
    assert wait_for(lambda: not os.path.exists(f"/proc/{new[0]}"), 10)
