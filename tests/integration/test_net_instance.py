"""Instances' ports: namespaces standing in for zones, set up from records
by hull-net the way the supervisor does."""
import json

import pytest

import skips
from nethelp import net  # noqa: F401  (fixture)

M1, M2, M3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"


def addrs(net, ns, ifname):
    out = json.loads(net.ip("ip", "-j", "addr", "show", ifname, ns=ns).stdout)
    return {f"{a['local']}/{a['prefixlen']}" for a in out[0]["addr_info"]}


def routes(net, ns, family="-4"):
    return net.ip("ip", family, "route", ns=ns).stdout


def nothing_left(net, ns_list=()):
    assert net.ports() == []
    assert "hull_antispoof" not in net.ruleset()
    for ns in ns_list:
        assert set(net.links(ns=ns)) == {"lo"}


def test_two_zones_ping_each_other_and_host(net):
    net.run("nictagadm", "add", "-l", "stub0")
    net.ip("ip", "addr", "add", "192.0.2.254/24", "dev", "hbstub0")
    net.ip("ip", "addr", "add", "2001:db8::fe/64", "dev", "hbstub0", "nodad")
    a, b = net.instance_ns("a"), net.instance_ns("b")
    ua = net.record([{"nic_tag": "stub0", "mac": M1, "primary": True,
                      "ips": ["192.0.2.1/24", "2001:db8::1/64"],
                      "gateways": ["192.0.2.254", "2001:db8::fe"]}],
                    routes={"198.51.100.0/24": "192.0.2.254",
                            "203.0.113.128/25": "203.0.113.1",
                            "203.0.113.0/24": "nics[0]"})
    ub = net.record([{"nic_tag": "stub0", "mac": M2, "ip": "192.0.2.2",
                      "netmask": "255.255.255.0", "gateway": "192.0.2.254",
                      "mtu": 1400}], brand="lx")
    net.run("hull-net", "setup", ua, a)
    net.run("hull-net", "setup", ub, b)

    la, lb = net.links(ns=a), net.links(ns=b)
    assert set(la) == {"lo", "net0"} and set(lb) == {"lo", "eth0"}
    assert la["net0"]["address"] == M1 and lb["eth0"]["address"] == M2
    assert lb["eth0"]["mtu"] == 1400
    assert addrs(net, a, "net0") >= {"192.0.2.1/24", "2001:db8::1/64"}
    assert addrs(net, b, "eth0") >= {"192.0.2.2/24"}
    ra = routes(net, a)
    assert "default via 192.0.2.254 dev net0" in ra
    assert "198.51.100.0/24 via 192.0.2.254 dev net0" in ra
    assert "203.0.113.0/24 dev net0" in ra and "scope link" in ra
    # A gateway on no nic's subnet, reached through another route.
    assert "203.0.113.128/25 via 203.0.113.1 dev net0" in ra
    assert "default via 2001:db8::fe dev net0" in routes(net, a, "-6")
    # The host ends: findable names and aliases, on the tag's bridge.
    host = net.links()
    pa, pb = f"hv{ua[:8]}0", f"hv{ub[:8]}0"
    assert net.ports() == sorted([pa, pb])
    assert host[pa]["master"] == "hbstub0"
    assert host[pa]["ifalias"] == f"hull:{ua}:{M1}"
    assert host[pb]["mtu"] == 1400

    assert net.ping(a, "192.0.2.2")
    assert net.ping(b, "192.0.2.1")
    assert net.ping(a, "2001:db8::fe")
    assert net.ping(a, "192.0.2.254")
    assert net.ping(None, "192.0.2.2")  # the host namespace reaches them
    # hull's VLAN marks stay on the bridge: the host's stack sees none.
    net.ip("nft", "add table inet chk; add chain inet chk input { type "
           "filter hook input priority 0; }; add rule inet chk input ip "
           "saddr 192.0.2.1 meta mark != 0 counter")
    assert net.ping(a, "192.0.2.254")
    assert "packets 0 " in net.ip("nft", "list", "table", "inet", "chk").stdout
    net.ip("nft", "delete", "table", "inet", "chk")

    net.run("hull-net", "teardown", ua)
    assert net.ports() == [f"hv{ub[:8]}0"]
    assert not net.ping(b, "192.0.2.1")
    net.run("hull-net", "teardown", ub)
    nothing_left(net, [a, b])
    net.run("hull-net", "teardown", ub)  # again: nothing to do, fine


def test_setup_replaces_stale_ports(net):
    net.run("nictagadm", "add", "-l", "stub0")
    a = net.instance_ns("a")
    u = net.record([{"nic_tag": "stub0", "mac": M1, "ips": ["192.0.2.1/24"]}])
    net.run("hull-net", "setup", u, a)
    # A crashed supervisor left the port; a new namespace is started.
    a2 = net.instance_ns("a2")
    net.run("hull-net", "setup", u, a2)
    assert net.ports() == [f"hv{u[:8]}0"]
    assert set(net.links(ns=a)) == {"lo"}
    net.run("hull-net", "teardown", u)
    nothing_left(net, [a, a2])


def test_failure_mid_setup_undoes_everything(net):
    net.run("nictagadm", "add", "-l", "stub0")
    a = net.instance_ns("a")
    u = net.record([
        {"nic_tag": "stub0", "mac": M1, "ips": ["192.0.2.1/24"]},
        {"nic_tag": "stub0", "mac": M2, "ips": ["198.51.100.1/24"]},
        {"nic_tag": "stub0", "mac": M3, "ips": ["203.0.113.1/24"]}])
    r = net.fails("hull-net", "setup", u, a, rc=1,
                  env={"HULL_TEST_NET_FAIL_NIC": "2"})
    assert "nics.2" in r.err
    nothing_left(net, [a])
    # The same record then sets up fine.
    net.run("hull-net", "setup", u, a)
    assert set(net.links(ns=a)) == {"lo", "net0", "net1", "net2"}
    net.run("hull-net", "teardown", u)
    nothing_left(net, [a])


BAD = [
    ({"nic_tag": "nosuch", "mac": M1}, "nic tag 'nosuch' does not exist"),
    ({"nic_tag": "stub0", "mac": "02:00:00:00:00"}, "invalid MAC address"),
    ({"nic_tag": "stub0", "mac": "01:00:5e:00:00:01"}, "not a unicast MAC"),
    ({"nic_tag": "stub0", "mac": M1, "ips": ["192.0.2.1/24"],
      "gateways": ["198.51.100.1"]}, "outside the nic's subnets"),
    ({"nic_tag": "stub0", "mac": M1, "ip": "192.0.2.1",
      "netmask": "255.255.0.255"}, "not a netmask"),
    ({"nic_tag": "stub0", "mac": M1, "vlan_id": 4095}, "out of range"),
    ({"nic_tag": "stub0", "mac": M1, "vlan_id": 70000}, "out of range"),
    ({"nic_tag": "stub0", "mac": M1, "ips": ["192.0.2.300/24"]},
     "not an address"),
]


@pytest.mark.parametrize("nic,msg", BAD, ids=[m for _, m in BAD])
def test_bad_nic_one_line_nothing_made(net, nic, msg):
    net.run("nictagadm", "add", "-l", "stub0")
    a = net.instance_ns("a")
    # A good first nic, so a late failure would have something to undo.
    u = net.record([{"nic_tag": "stub0", "mac": "02:00:00:00:00:09",
                     "ips": ["203.0.113.9/24"]}, nic])
    r = net.fails("hull-net", "setup", u, a, rc=1)
    assert msg in r.err
    nothing_left(net, [a])


def test_duplicate_macs_refused(net):
    net.run("nictagadm", "add", "-l", "stub0")
    a, b = net.instance_ns("a"), net.instance_ns("b")
    u = net.record([{"nic_tag": "stub0", "mac": M1},
                    {"nic_tag": "stub0", "mac": "2:0:0:0:0:1"}])
    assert "duplicate MAC" in net.fails("hull-net", "setup", u, a).err
    ua = net.record([{"nic_tag": "stub0", "mac": M2}])
    ub = net.record([{"nic_tag": "stub0", "mac": "02:00:00:00:00:09"},
                     {"nic_tag": "stub0", "mac": M2}])
    net.run("hull-net", "setup", ua, a)
    r = net.fails("hull-net", "setup", ub, b)
    assert f"already used by instance {ua}" in r.err
    assert net.ports() == [f"hv{ua[:8]}0"]
    assert set(net.links(ns=b)) == {"lo"}
    net.run("hull-net", "teardown", ua)
    net.run("hull-net", "setup", ub, b)  # free once ua is down
    net.run("hull-net", "teardown", ub)
    nothing_left(net, [a, b])


def test_vlan_isolation(net):
    """Zones on one etherstub talk only within their VLAN: through bridge
    VLAN filtering where the kernel has it, and the antispoof table's
    marks (which hull loads in both cases)."""
    net.run("nictagadm", "add", "-l", "stub0")
    a, b, c, d = (net.instance_ns(x) for x in "abcd")
    ua = net.record([{"nic_tag": "stub0", "mac": M1, "vlan_id": 10,
                      "ips": ["192.0.2.1/24"]}])
    ub = net.record([{"nic_tag": "stub0", "mac": M2, "vlan_id": 20,
                      "ips": ["192.0.2.2/24"]}])
    uc = net.record([{"nic_tag": "stub0", "mac": M3, "vlan_id": 10,
                      "ips": ["192.0.2.3/24"]}])
    ud = net.record([{"nic_tag": "stub0", "mac": "02:00:00:00:00:04",
                      "ips": ["192.0.2.4/24"]}])
    for u, ns in ((ua, a), (ub, b), (uc, c), (ud, d)):
        net.run("hull-net", "setup", u, ns)
    assert net.ping(a, "192.0.2.3")
    assert not net.ping(a, "192.0.2.2")
    assert not net.ping(b, "192.0.2.3")
    assert not net.ping(d, "192.0.2.1")  # untagged is a VLAN of its own
    assert not net.ping(b, "192.0.2.4")
    # A live nic joins its VLAN too.
    ue = net.record([{"nic_tag": "stub0", "mac": "02:00:00:00:00:05",
                      "vlan_id": 20, "ips": ["192.0.2.5/24"]}])
    e = net.instance_ns("e")
    net.run("hull-net", "setup", ue, e)
    assert net.ping(e, "192.0.2.2") and not net.ping(e, "192.0.2.1")
    if net.vlan_filtering():
        vl = json.loads(net.ip("bridge", "-j", "vlan", "show").stdout)
        port = {v["ifname"]: v["vlans"] for v in vl}[f"hv{ua[:8]}0"]
        assert port == [{"vlan": 10, "flags": ["PVID", "Egress Untagged"]}]
    else:
        # The marks are what keeps them apart here: without the table
        # the VLANs would meet.
        net.ip("nft", "delete", "table", "bridge", net.antispoof_table())
        assert net.ping(a, "192.0.2.2")
    for u in (ua, ub, uc, ud, ue):
        net.run("hull-net", "teardown", u)
    nothing_left(net, [a, b, c, d, e])


def test_vlan_on_uplink_needs_kernel_support(net):
    if net.vlan_filtering():
        skips.skip("kernel-has", "this kernel has bridge VLAN filtering")
    net.uplink("up0")
    net.run("nictagadm", "add", "external", "up0")
    a = net.instance_ns("a")
    u = net.record([{"nic_tag": "external", "mac": M1, "vlan_id": 10,
                     "ips": ["192.0.2.1/24"]}])
    r = net.fails("hull-net", "setup", u, a, rc=1)
    assert "CONFIG_BRIDGE_VLAN_FILTERING" in r.err
    nothing_left(net, [a])


def test_live_add_and_remove_nic(net):
    net.run("nictagadm", "add", "-l", "stub0")
    net.run("nictagadm", "add", "-l", "stub1")
    a, b = net.instance_ns("a"), net.instance_ns("b")
    nic0 = {"nic_tag": "stub0", "mac": M1, "ips": ["192.0.2.1/24"]}
    ua = net.record([nic0])
    ub = net.record([{"nic_tag": "stub1", "mac": M2,
                      "ips": ["198.51.100.2/24"]}])
    net.run("hull-net", "setup", ua, a)
    net.run("hull-net", "setup", ub, b)
    assert not net.ping(a, "198.51.100.2")
    # vmadm update add_nics: the record first, then the live port.
    net.record([nic0, {"nic_tag": "stub1", "mac": M3,
                       "ips": ["198.51.100.1/24"]}], uuid=ua)
    net.run("hull-net", "add-nic", ua, M3, a)
    assert set(net.links(ns=a)) == {"lo", "net0", "net1"}
    assert net.ping(a, "198.51.100.2")
    r = net.fails("hull-net", "add-nic", ua, M3, a)
    assert "already set up" in r.err
    net.run("hull-net", "remove-nic", ua, M3)
    assert set(net.links(ns=a)) == {"lo", "net0"}
    assert net.ports() == sorted([f"hv{ua[:8]}0", f"hv{ub[:8]}0"])
    assert f"p_hv{ua[:8]}1" not in net.ruleset()
    net.fails("hull-net", "remove-nic", ua, M3)
    for u in (ua, ub):
        net.run("hull-net", "teardown", u)
    nothing_left(net, [a, b])


def test_vm_taps(net):
    net.run("nictagadm", "add", "-l", "stub0")
    u = net.record([{"nic_tag": "stub0", "mac": M1, "ips": ["192.0.2.1/24"],
                     "model": "virtio"},
                    {"nic_tag": "stub0", "mac": M2, "ips": ["dhcp"]}],
                   brand="kvm")
    net.run("hull-net", "setup", u, "-")
    links = net.links()
    for k in (0, 1):
        t = links[f"hv{u[:8]}{k}"]
        assert t["linkinfo"]["info_kind"] == "tun"
        info = t["linkinfo"]["info_data"]
        assert info["type"] == "tap" and info["pi"] is False
        assert info["vnet_hdr"] is True and info["persist"] is True
        assert t["master"] == "hbstub0"
    assert f"p_hv{u[:8]}0" in net.ruleset()
    net.run("hull-net", "teardown", u)
    nothing_left(net)


def test_parallel_setups_and_teardowns(net):
    """The antispoof table is shared: instances coming and going at once
    never lose each other's rules."""
    import subprocess
    from conftest import prog
    net.run("nictagadm", "add", "-l", "stub0")
    zones = []
    for i in range(6):
        ns = net.instance_ns(f"z{i}")
        u = net.record([{"nic_tag": "stub0", "mac": f"02:00:00:00:01:{i:02x}",
                         "ips": [f"192.0.2.{i + 1}/24"]}])
        zones.append((u, ns))

    def all_at_once(*cmds):
        ps = [subprocess.Popen(["ip", "netns", "exec", net.ns, prog("hull-net"),
                                *c], env=net.h.env, stderr=subprocess.PIPE,
                               text=True) for c in cmds]
        for p in ps:
            assert p.wait(timeout=120) == 0, p.stderr.read()

    all_at_once(*[("setup", u, ns) for u, ns in zones])
    rules = net.ruleset()
    for u, _ in zones:
        assert f"p_hv{u[:8]}0" in rules
    assert net.ping(zones[0][1], "192.0.2.6")
    # Half go away while the other half are set up again.
    all_at_once(*[("teardown", u) for u, _ in zones[:3]],
                *[("setup", u, ns) for u, ns in zones[3:]])
    rules = net.ruleset()
    for u, _ in zones[3:]:
        assert f"p_hv{u[:8]}0" in rules
    assert net.ping(zones[3][1], "192.0.2.6")
    all_at_once(*[("teardown", u) for u, _ in zones])
    nothing_left(net, [ns for _, ns in zones])


def test_ipv6_autoconf_only_for_addrconf(net):
    net.run("nictagadm", "add", "-l", "stub0")
    a = net.instance_ns("a")
    u = net.record([{"nic_tag": "stub0", "mac": M1, "ips": ["2001:db8::1/64"]},
                    {"nic_tag": "stub0", "mac": M2, "ips": ["addrconf"]}])
    net.run("hull-net", "setup", u, a)

    def sysctl(ifname, key):
        return net.ip("cat", f"/proc/sys/net/ipv6/conf/{ifname}/{key}",
                      ns=a).stdout.strip()
    assert sysctl("net0", "accept_ra") == "0"
    assert sysctl("net0", "autoconf") == "0"
    assert sysctl("net1", "accept_ra") == "1"
    assert sysctl("net1", "autoconf") == "1"
    net.run("hull-net", "teardown", u)
    nothing_left(net, [a])
