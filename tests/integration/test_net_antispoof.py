"""Antispoof: frames a zone may not send never reach the other side; the
ones it may send do. Frames are forged with raw sockets inside a zone."""
import ipaddress
import json
import os
import subprocess
import time

import pytest

from nethelp import net  # noqa: F401  (fixture)

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"
MA, MB = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
BCAST = "ff:ff:ff:ff:ff:ff"


def frames_a():
    """What zone A (192.0.2.1, 2001:db8::1, MA) sends towards zone B."""
    good = dict(dst=MB, src=MA, sip="192.0.2.1", dip="192.0.2.2")
    return {
        "legit": dict(good, kind="udp4"),
        "legit6": dict(good, kind="udp6", sip="2001:db8::1",
                       dip="2001:db8::2"),
        "legitarp": dict(kind="arp", dst=BCAST, src=MA, sha=MA,
                         sip="192.0.2.1", dip="192.0.2.2"),
        "allowed": dict(good, kind="udp4", sip="203.0.113.7"),
        "srcmac": dict(good, kind="udp4", src="02:00:00:00:00:99"),
        "srcip": dict(good, kind="udp4", sip="192.0.2.99"),
        "srcip6": dict(good, kind="udp6", sip="2001:db8::99",
                       dip="2001:db8::2"),
        "arpip": dict(kind="arp", dst=BCAST, src=MA, sha=MA,
                      sip="192.0.2.2", dip="192.0.2.2"),
        "arpmac": dict(kind="arp", dst=BCAST, src=MA,
                       sha="02:00:00:00:00:99", sip="192.0.2.1",
                       dip="192.0.2.2"),
        "dhcpoffer": dict(kind="udp4", dst=BCAST, src=MA, sip="192.0.2.1",
                          dip="255.255.255.255", sport=67, dport=68),
        "ethertype": dict(kind="raw", dst=MB, src=MA, ethertype=0x88B5),
        "vlantag": dict(kind="vlan", dst=MB, src=MA),
        "smtp": dict(good, kind="udp4", dport=25),
    }


def exchange(net, a, b, frames):
    """Sends frames from a's net0 and returns the markers b's eth0 saw."""
    for k, f in frames.items():
        f["marker"] = f"HULLMARK{k.upper()}X"
    markers = ",".join(f["marker"] for f in frames.values())
    # A legitimate frame sent last ends the wait as soon as it arrives.
    end = dict(frames["legit"], marker="HULLMARKENDX")
    path = os.path.join(net.h.workdir, "frames.json")
    with open(path, "w") as fh:
        json.dump(list(frames.values()) + [end], fh)
    rx = subprocess.Popen(["ip", "netns", "exec", b, PY,
                           os.path.join(HERE, "rawframes.py"), "recv", "eth0",
                           "15", markers, end["marker"]],
                          stdout=subprocess.PIPE, text=True)
    try:
        assert rx.stdout.readline().strip() == "READY"
        net.ip(PY, os.path.join(HERE, "rawframes.py"), "send", "net0", path,
               ns=a)
        out = rx.stdout.readline()
    finally:
        rx.wait(timeout=30)
    seen = json.loads(out)
    return {k for k, f in frames.items() if f["marker"] in seen}


def setup_pair(net, flags):
    net.run("nictagadm", "add", "-l", "stub0")
    a, b = net.instance_ns("a"), net.instance_ns("b")
    ua = net.record([dict({"nic_tag": "stub0", "mac": MA,
                           "ips": ["192.0.2.1/24", "2001:db8::1/64"],
                           "allowed_ips": ["203.0.113.0/24"]}, **flags)])
    ub = net.record([{"nic_tag": "stub0", "mac": MB,
                      "ips": ["192.0.2.2/24", "2001:db8::2/64"]}], brand="lx")
    net.run("hull-net", "setup", ua, a)
    net.run("hull-net", "setup", ub, b)
    return a, b, ua, ub


def test_spoofed_frames_are_dropped(net):
    a, b, ua, ub = setup_pair(net, {})
    got = exchange(net, a, b, frames_a())
    assert got == {"legit", "legit6", "legitarp", "allowed", "smtp"}
    # The zones still talk normally.
    assert net.ping(a, "192.0.2.2") and net.ping(b, "2001:db8::1")
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)
    assert "hull_antispoof" not in net.ruleset()


def test_allow_flags_lift_the_checks(net):
    a, b, ua, ub = setup_pair(net, {"allow_mac_spoofing": True,
                                    "allow_ip_spoofing": True,
                                    "allow_dhcp_spoofing": True,
                                    "allow_restricted_traffic": True})
    got = exchange(net, a, b, frames_a())
    assert got == set(frames_a())
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)


def test_each_flag_alone(net):
    a, b, ua, ub = setup_pair(net, {"allow_dhcp_spoofing": True,
                                    "blocked_outgoing_ports": [25]})
    # DHCP spoofing implies IP spoofing (SmartOS), not MAC spoofing.
    got = exchange(net, a, b, frames_a())
    assert got == {"legit", "legit6", "legitarp", "allowed", "srcip",
                   "srcip6", "arpip", "dhcpoffer"}
    # Retagging the record with another flag and setting up again swaps
    # the rules atomically.
    net.record([{"nic_tag": "stub0", "mac": MA, "ips": ["192.0.2.1/24"],
                 "allow_restricted_traffic": True}], uuid=ua)
    net.run("hull-net", "setup", ua, a)
    got = exchange(net, a, b, frames_a())
    assert got == {"legit", "legitarp", "ethertype", "vlantag", "smtp"}
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)


def link_local(m):
    """The EUI-64 link-local address the kernel derives from MAC m."""
    b = [int(x, 16) for x in m.split(":")]
    b[0] ^= 2
    eui = bytes([0xfe, 0x80] + [0] * 6 + b[:3] + [0xff, 0xfe] + b[3:])
    return str(ipaddress.IPv6Address(eui))


def default_routes6(net, ns):
    out = net.ip("ip", "-6", "-j", "route", "show", "default", ns=ns).stdout
    return [r.get("gateway") for r in json.loads(out or "[]")]


@pytest.mark.parametrize("allow", [False, True], ids=["plain", "router"])
def test_router_advertisements_and_redirects(net, allow):
    """Zone A tells its bridge neighbours to route through it: an IPv6
    router advertisement to all nodes, an IPv6 redirect and an IPv4 ICMP
    redirect to zone B. B's nic takes router advertisements (addrconf), so
    one that got through would give B a default route via A. Only a nic
    allowed to speak for other addresses (allow_ip_spoofing) may do it."""
    net.run("nictagadm", "add", "-l", "stub0")
    a, b = net.instance_ns("a"), net.instance_ns("b")
    lla = link_local(MA)
    ua = net.record([{"nic_tag": "stub0", "mac": MA,
                      "ips": ["192.0.2.1/24", "2001:db8::1/64"],
                      "allow_ip_spoofing": allow}])
    ub = net.record([{"nic_tag": "stub0", "mac": MB,
                      "ips": ["192.0.2.2/24", "addrconf"]}], brand="lx")
    net.run("hull-net", "setup", ua, a)
    net.run("hull-net", "setup", ub, b)
    assert net.ip("sysctl", "-n", "net.ipv6.conf.eth0.accept_ra",
                  ns=b).stdout.strip() == "1"
    assert default_routes6(net, b) == []
    frames = {
        "legit": dict(kind="udp4", dst=MB, src=MA, sip="192.0.2.1",
                      dip="192.0.2.2"),
        "ra": dict(kind="ra", dst="33:33:00:00:00:01", src=MA, sip=lla,
                   dip="ff02::1"),
        "redirect6": dict(kind="redirect6", dst=MB, src=MA, sip=lla,
                          dip=link_local(MB), target=lla,
                          dest="2001:db8:ffff::1"),
        "redirect4": dict(kind="redirect4", dst=MB, src=MA, sip="192.0.2.1",
                          dip="192.0.2.2", gateway="192.0.2.1"),
    }
    got = exchange(net, a, b, frames)
    # The kernel handles an RA as it arrives, before the frame sent after
    # it; a little slack all the same.
    routers = []
    for _ in range(5):
        routers = default_routes6(net, b)
        if routers:
            break
        time.sleep(0.1)
    if allow:
        assert got == set(frames)
        assert routers == [lla]
    else:
        assert got == {"legit"}
        assert routers == []
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)
