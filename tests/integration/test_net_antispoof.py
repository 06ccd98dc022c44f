"""Antispoof: frames a zone may not send never reach the other side; the
ones it may send do. Frames are forged with raw sockets inside a zone."""
import ipaddress
import json
import os
import subprocess
import time
import uuid as uuidlib

import pytest

from nethelp import net, root_tag, sh  # noqa: F401  (net: a fixture)

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
    router advertisement to all nodes (also behind a hop-by-hop header),
    an IPv6 redirect and an IPv4 ICMP redirect to zone B. B's nic takes router advertisements (addrconf), so
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
        "ra_hbh": dict(kind="ra", dst="33:33:00:00:00:01", src=MA, sip=lla,
                       dip="ff02::1", hbh=True),
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


def test_pools_have_their_own_tables(net):
    """A second pool on the same host keeps its ports in a table of its
    own: its last port going takes only its table, and the first pool's
    zones stay filtered."""
    a, b, ua, ub = setup_pair(net, {})
    root2 = os.path.join(net.h.workdir, "zones2")
    env2 = {"HULL_ROOT": root2}
    uc = str(uuidlib.uuid4())
    os.makedirs(os.path.join(root2, uc, "config"))
    with open(os.path.join(root2, uc, "config", "vm.json"), "w") as f:
        json.dump({"uuid": uc, "brand": "joyent", "nics": [
            {"nic_tag": "stub1", "mac": "02:00:00:00:00:0c",
             "ips": ["198.51.100.3/24"]}]}, f)
    net.run("nictagadm", "add", "-l", "stub1", env=env2)
    c = net.instance_ns("c")
    net.run("hull-net", "setup", uc, c, env=env2)
    t1 = net.antispoof_table()
    t2 = f"hull_antispoof_{root_tag(root2)}"
    assert t1 != t2
    tables = net.ip("nft", "list", "tables").stdout
    assert f"table bridge {t1}" in tables and f"table bridge {t2}" in tables
    assert f"p_hv{uc[:8]}0" not in net.ip("nft", "list", "table", "bridge",
                                           t1).stdout
    net.run("hull-net", "teardown", uc, env=env2)
    tables = net.ip("nft", "list", "tables").stdout
    assert f"table bridge {t2}" not in tables
    assert f"table bridge {t1}" in tables
    got = exchange(net, a, b, frames_a())
    assert got == {"legit", "legit6", "legitarp", "allowed", "smtp"}
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)
    assert "hull_antispoof" not in net.ruleset()


def test_old_shared_table_is_left_behind(net):
    """Ports an older hull set up sit in the one `hull_antispoof` table it
    shared among pools: setting a port up again moves it to the pool's own
    table, and the old table goes with its last port."""
    a, b, ua, ub = setup_pair(net, {})
    port = f"hv{ua[:8]}0"
    old = ("add table bridge hull_antispoof\n"
           "add map bridge hull_antispoof ports { type ifname : verdict; }\n"
           "add chain bridge hull_antispoof pre { type filter hook "
           "prerouting priority -300; policy accept; }\n"
           "add rule bridge hull_antispoof pre iifname vmap @ports\n"
           f"add chain bridge hull_antispoof p_{port}\n"
           f"add rule bridge hull_antispoof p_{port} ether type ip6 drop\n"
           f"add element bridge hull_antispoof ports {{ \"{port}\" : "
           f"jump p_{port} }}\n")
    sh("ip", "netns", "exec", net.ns, "nft", "-f", "-", input=old)
    assert not net.ping(a, "2001:db8::2")
    net.run("hull-net", "setup", ua, a)
    assert "table bridge hull_antispoof" not in \
        net.ip("nft", "list", "tables").stdout.splitlines()
    assert net.ping(a, "2001:db8::2")
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)
    assert "hull_antispoof" not in net.ruleset()
