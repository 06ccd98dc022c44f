"""The loaded firewall really filters. A namespace plays the host and routes
between two more that play instances A and B, each plugged in through a veth
pair; A's host end is named in its record (host_ifname), B's is found the
way src/net marks its ports (alias "hull:<uuid>:<mac>"). Probes (TCP, UDP,
ICMP) go through as the rules say, and only then."""
import os

import pytest

from fwnet import Fw, Netns, pings, reaches, serve, sh

VM_A = "aaaaaaaa-0000-4000-8000-000000000001"
VM_B = "bbbbbbbb-0000-4000-8000-000000000002"
B_MAC = "90:b8:d0:00:00:0b"
A_IP, A_GW = "192.0.2.10", "192.0.2.1"
B_IP, B_GW = "198.51.100.10", "198.51.100.1"


@pytest.fixture
def net(workdir):
    nets = Netns()
    try:
        host = nets.add("h")
        a = nets.add("a")
        b = nets.add("b")
        sh("ip", "netns", "exec", host, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        for ns, port, ip, gw in ((a, "vha", A_IP, A_GW), (b, "vhb", B_IP, B_GW)):
            sh("ip", "-n", host, "link", "add", port, "type", "veth",
               "peer", "name", "net0", "netns", ns)
            sh("ip", "-n", host, "addr", "add", f"{gw}/24", "dev", port)
            sh("ip", "-n", host, "link", "set", port, "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "net0")
            sh("ip", "-n", ns, "link", "set", "net0", "up")
            sh("ip", "-n", ns, "route", "add", "default", "via", gw)
        sh("ip", "-n", host, "link", "set", "vhb", "alias",
           f"hull:{VM_B}:{B_MAC}")
        fw = Fw(os.path.join(workdir, "zones"), host)
        fw.host, fw.a, fw.b = host, a, b
        fw.vm(VM_A, ifname="vha", ips=[A_IP], tags={"role": "web"},
              firewall=False)
        fw.vm(VM_B, ips=[B_IP], tags={"role": "db"}, mac=B_MAC)
        serve(a, [22, 80])
        serve(b, [22, 23, 53, 80, 5432])
        yield fw
    finally:
        nets.cleanup()


def test_inbound_blocked_unless_allowed(net):
    # Without the filter everything flows.
    assert reaches(net.a, "tcp", B_IP, 22)
    net.run("reload")
    # B's firewall is on: nothing reaches it, but B can still go out and
    # its replies come back (stateful).
    assert not reaches(net.a, "tcp", B_IP, 22)
    assert not reaches(net.a, "udp", B_IP, 53)
    assert not pings(net.a, B_IP)
    assert not reaches(net.host, "tcp", B_IP, 22)
    assert reaches(net.b, "tcp", A_IP, 22)
    assert pings(net.b, A_IP)

    net.add("FROM any TO vm " + VM_B + " ALLOW tcp PORT 22", "-e")
    assert reaches(net.a, "tcp", B_IP, 22)
    assert reaches(net.host, "tcp", B_IP, 22)
    assert not reaches(net.a, "tcp", B_IP, 23)

    net.add("FROM tag role = web TO tag role = db ALLOW udp PORTS 50-60", "-e")
    assert reaches(net.a, "udp", B_IP, 53)
    assert not reaches(net.host, "udp", B_IP, 53)  # the host is not tagged web

    icmp = net.add("FROM any TO all vms ALLOW icmp TYPE 8", "-e")
    assert pings(net.a, B_IP)
    net.run("disable", icmp)
    assert not pings(net.a, B_IP)

    # A block at a higher priority beats the allow.
    net.add("FROM subnet 192.0.2.0/24 TO vm " + VM_B +
            " BLOCK tcp PORT 22 PRIORITY 10", "-e")
    assert not reaches(net.a, "tcp", B_IP, 22)
    assert reaches(net.host, "tcp", B_IP, 22)  # from 198.51.100.1


def test_outbound_allowed_unless_blocked(net):
    net.vm(VM_A, ifname="vha", ips=[A_IP], tags={"role": "web"})
    net.add("FROM any TO all vms ALLOW tcp (PORT 22 AND PORT 80)", "-e")
    assert reaches(net.a, "tcp", B_IP, 80)
    block = net.add("FROM vm " + VM_A + " TO any BLOCK tcp PORT 80", "-e")
    assert not reaches(net.a, "tcp", B_IP, 80)   # A's outbound rule
    assert reaches(net.a, "tcp", B_IP, 22)
    assert reaches(net.b, "tcp", A_IP, 80)       # B to A: A's inbound allows
    # At equal priority the outbound BLOCK wins; a higher ALLOW beats it.
    net.add("FROM vm " + VM_A + " TO any ALLOW tcp PORT 80", "-e")
    assert not reaches(net.a, "tcp", B_IP, 80)
    net.add("FROM vm " + VM_A + " TO any ALLOW tcp PORT 80 PRIORITY 1", "-e")
    assert reaches(net.a, "tcp", B_IP, 80)
    net.run("delete", block)
    assert reaches(net.a, "tcp", B_IP, 80)


def test_tags_follow_instances_and_stop_start(net):
    net.add("FROM tag role = web TO tag role = db ALLOW tcp PORT 5432", "-e")
    assert reaches(net.a, "tcp", B_IP, 5432)
    # A retagged: after the reload vmadm triggers, the rule no longer
    # names A's address.
    net.vm(VM_A, ifname="vha", ips=[A_IP], tags={"role": "batch"},
           firewall=False)
    net.run("reload")
    assert not reaches(net.a, "tcp", B_IP, 5432)
    net.run("stop", VM_B)
    assert reaches(net.a, "tcp", B_IP, 5432)
    assert reaches(net.a, "tcp", B_IP, 23)
    net.run("start", VM_B)
    assert not reaches(net.a, "tcp", B_IP, 23)


def test_reloads_never_open_a_window(net):
    """While the filter is replaced again and again, a blocked port stays
    blocked and an allowed one stays open: each reload is one transaction."""
    import threading

    net.add("FROM any TO vm " + VM_B + " ALLOW tcp PORT 22", "-e")
    stop = threading.Event()
    errors = []

    def reload_loop():
        while not stop.is_set():
            cp = net.run("reload", check=False)
            if cp.returncode != 0:
                errors.append(cp.stderr)

    t = threading.Thread(target=reload_loop)
    t.start()
    try:
        leaked = [reaches(net.a, "tcp", B_IP, 23) for _ in range(8)]
        open_ = [reaches(net.a, "tcp", B_IP, 22) for _ in range(8)]
    finally:
        stop.set()
        t.join()
    assert not errors
    assert not any(leaked)
    assert all(open_)


A_MAC = "90:b8:d0:00:00:0a"


@pytest.fixture
def bridged(workdir):
    """A, B and the host on one bridge, as src/net plugs zones into a nic
    tag: host ends enslaved to br0, named and aliased the way src/net does
    (hv<8 hex><k>, "hull:<uuid>:<mac>"), records without host_ifname."""
    nets = Netns()
    try:
        host = nets.add("h")
        a = nets.add("a")
        b = nets.add("b")
        sh("ip", "-n", host, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", host, "addr", "add", "192.0.2.1/24", "dev", "br0")
        sh("ip", "-n", host, "link", "set", "br0", "up")
        for ns, uuid, mac, ip in ((a, VM_A, A_MAC, "192.0.2.10"),
                                  (b, VM_B, B_MAC, "192.0.2.11")):
            port = f"hv{uuid[:8]}0"
            sh("ip", "-n", host, "link", "add", port, "type", "veth",
               "peer", "name", "net0", "netns", ns)
            sh("ip", "-n", host, "link", "set", port, "master", "br0",
               "alias", f"hull:{uuid}:{mac}", "up")
            sh("ip", "-n", ns, "link", "set", "net0", "address", mac, "up")
            sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "net0")
        fw = Fw(os.path.join(workdir, "zones"), host)
        fw.host, fw.a, fw.b = host, a, b
        fw.vm(VM_A, ips=["192.0.2.10"], mac=A_MAC, firewall=False)
        fw.vm(VM_B, ips=["192.0.2.11"], mac=B_MAC)
        yield fw
    finally:
        nets.cleanup()


def _bridge_ct(ns):
    return sh("ip", "netns", "exec", ns, "nft", "-c",
              "add table bridge hull_probe; add chain bridge hull_probe c "
              "{ type filter hook forward priority filter; policy accept; "
              "ct state established accept; }", check=False).returncode == 0


def test_bridged_port_status(bridged):
    """fwadm finds the bridge port by its alias and says whether this
    kernel lets it filter bridged traffic."""
    out = bridged.run("status", "-v", VM_B).stdout.splitlines()
    port = f"hv{VM_B[:8]}0"
    if _bridge_ct(bridged.host):
        assert out[2] == f"port {port}: bridged"
    else:
        assert out[2] == (f"port {port}: bridged, filtered by address (no "
                          "bridge connection tracking in this kernel)")


def test_bridged_traffic_is_filtered(bridged):
    """In table bridge where the kernel tracks bridged connections, else
    by address in table inet (br_netfilter)."""
    serve(bridged.b, [22, 23])
    assert reaches(bridged.a, "tcp", "192.0.2.11", 22)
    bridged.run("reload")
    assert not reaches(bridged.a, "tcp", "192.0.2.11", 22)
    assert not reaches(bridged.host, "tcp", "192.0.2.11", 22)
    bridged.add("FROM any TO vm " + VM_B + " ALLOW tcp PORT 22", "-e")
    assert reaches(bridged.a, "tcp", "192.0.2.11", 22)
    assert reaches(bridged.host, "tcp", "192.0.2.11", 22)
    assert not reaches(bridged.a, "tcp", "192.0.2.11", 23)


def test_two_pools_keep_their_own_filters(net, workdir):
    """Two pools on one host (the head node's tests run many): each loads
    tables of its own, so a reload in pool 2 (as vmadm create does) leaves
    pool 1's rules in force, and removing pool 2's rules leaves them too."""
    from nethelp import root_tag
    net.run("reload")
    assert not reaches(net.a, "tcp", B_IP, 22)  # pool 1 guards B
    two = Fw(os.path.join(workdir, "zones2"), net.host)
    two.vm(VM_A, ifname="vha", ips=[A_IP], tags={"role": "web"})
    rule = two.add("FROM any TO all vms ALLOW tcp PORT 80", "-e")
    # Pool 1's filter still holds, pool 2's works as well.
    assert not reaches(net.a, "tcp", B_IP, 22)
    assert not reaches(net.b, "tcp", A_IP, 22)
    assert reaches(net.b, "tcp", A_IP, 80)
    tables = sh("ip", "netns", "exec", net.host, "nft", "list",
                "tables").stdout.splitlines()
    t1, t2 = (f"hull_{root_tag(f.root)}" for f in (net, two))
    assert t1 != t2
    assert f"table inet {t1}" in tables and f"table inet {t2}" in tables
    # Pool 1 reloads: pool 2's filter stays.
    net.run("reload")
    assert not reaches(net.b, "tcp", A_IP, 22)
    assert reaches(net.b, "tcp", A_IP, 80)
    # Pool 2's instance stops using its firewall: only pool 2's table
    # changes.
    two.run("delete", rule)
    two.vm(VM_A, ifname="vha", ips=[A_IP], firewall=False)
    two.run("reload")
    assert reaches(net.b, "tcp", A_IP, 22)
    assert not reaches(net.a, "tcp", B_IP, 22)


def test_fini_takes_only_its_own_tables(btrfs_pool, net, workdir):
    """`hull fini` of one pool removes that pool's tables in the namespace
    it runs in, and leaves another pool's filter in force."""
    import subprocess

    from conftest import prog
    from nethelp import root_tag
    assert net.root == btrfs_pool.root
    net.run("reload")
    two = Fw(os.path.join(workdir, "zones2"), net.host)
    two.vm(VM_A, ifname="vha", ips=[A_IP])
    two.run("reload")
    assert not reaches(net.a, "tcp", B_IP, 22)
    assert not reaches(net.b, "tcp", A_IP, 22)
    cp = subprocess.run(["ip", "netns", "exec", net.host, prog("hull"),
                         "fini"], capture_output=True, text=True,
                        env=btrfs_pool.env, timeout=120)
    assert cp.returncode == 0, cp.stderr
    tables = sh("ip", "netns", "exec", net.host, "nft", "list",
                "tables").stdout.splitlines()
    assert f"table inet hull_{root_tag(net.root)}" not in tables
    assert f"table inet hull_{root_tag(two.root)}" in tables
    assert reaches(net.a, "tcp", B_IP, 22)
    assert not reaches(net.b, "tcp", A_IP, 22)
