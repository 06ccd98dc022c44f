"""Networking and the firewall wired into instances: hull (vmadm, the
supervisor, fwadm, nictagadm) runs inside a fresh network namespace that
plays the host, with a cgroup parent of the test's own; real busybox zones
on local-only nic tags. Addresses: 192.0.2.0/24 and 198.51.100.0/24 only.
Everything (zones, namespace, cgroups) is removed even when a test fails."""
import glob
import json
import os
import subprocess
import time
import uuid as uuidlib

import pytest

from conftest import ROOT, Result, _init_pool, prog
from vmtools import unfreeze
from zonekit import cgroup_remove

HOST4 = "192.0.2.254"
HOST4B = "198.51.100.254"


def sh(*cmd, check=True, timeout=60):
    cp = subprocess.run(list(map(str, cmd)), capture_output=True, text=True,
                        timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError(f"{cmd}: {cp.stderr}")
    return cp


class WireHost:
    """A pool whose programs run in network namespace self.ns."""

    def __init__(self, bare, ns):
        self.h = bare
        self.ns = ns
        self.root = bare.root

    def run(self, name, *args, input=None, check=True, env=None, timeout=120):
        e = dict(self.h.env)
        if env:
            e.update(env)
        cp = subprocess.run(["nsenter", f"--net=/run/netns/{self.ns}",
                             prog(name), *map(str, args)], input=input,
                            capture_output=True, text=True, env=e,
                            timeout=timeout)
        r = Result(cp)
        if check and cp.returncode != 0:
            raise AssertionError(f"{name} {args}: rc {cp.returncode}: {cp.stderr}")
        return r

    def fails(self, name, *args, input=None, env=None):
        r = self.run(name, *args, input=input, check=False, env=env)
        assert r.rc != 0, f"{name} {args} succeeded"
        lines = r.err.strip().splitlines()
        assert len(lines) == 1, r.err
        return lines[0]

    def ip(self, *args, check=True):
        return sh("ip", "-n", self.ns, *args, check=check)

    def nft(self, *args, check=True):
        return sh("ip", "netns", "exec", self.ns, "nft", *args, check=check)

    def create(self, payload):
        r = self.run("vmadm", "create", input=json.dumps(payload))
        for line in r.err.splitlines():
            if line.startswith("Successfully created VM "):
                return line.split()[-1]
        raise AssertionError(r.err)

    def zlogin(self, u, *cmd, check=True, timeout=30):
        cp = subprocess.run([prog("zlogin"), u, *cmd], capture_output=True,
                            text=True, env=self.h.env, timeout=timeout)
        if check and cp.returncode != 0:
            raise AssertionError(f"zlogin {cmd}: {cp.returncode} {cp.stderr}")
        return cp

    def ping(self, u, addr, src=None):
        extra = ["-I", src] if src else []
        return self.zlogin(u, "ping", "-c", "1", "-W", "1", *extra, addr,
                           check=False).returncode == 0

    def ping6_ll(self, u, peer):
        """u pings peer's IPv6 link-local address (from its MAC)."""
        mac = json.loads(self.run("vmadm", "get", peer).out)["nics"][0]["mac"]
        b = [int(x, 16) for x in mac.split(":")]
        b[0] ^= 2
        ll = "fe80::%x:%x:%x" % ((b[0] << 8) | b[1], (b[2] << 8) | 0xff,
                                 0xfe00 | b[3]) + ":%x" % ((b[4] << 8) | b[5])
        for _ in range(30):  # duplicate address detection first
            if "tentative" not in self.zlogin(u, "ip", "-6", "addr").stdout:
                break
            time.sleep(0.1)
        return self.zlogin(u, "ping", "-6", "-c", "1", "-W", "1",
                           f"{ll}%eth0", check=False).returncode == 0

    def host_ping(self, addr):
        return sh("ip", "netns", "exec", self.ns, "ping", "-c", "1", "-W", "1",
                  addr, check=False).returncode == 0

    def bridge_mac(self):
        return self.ip("-o", "link", "show", "dev", self.bridge).stdout.split(
            "link/ether ")[1].split()[0]

    def ports_of(self, u):
        out = self.ip("-o", "link", "show").stdout
        return [l for l in out.splitlines() if f"hv{u[:8]}" in l]

    def chains_of(self, u):
        out = self.nft("list", "ruleset").stdout
        return [l for l in out.splitlines()
                if f"hv{u[:8]}" in l or u in l]


@pytest.fixture
def wire(bare, workdir):
    ns = "hull-t-" + uuidlib.uuid4().hex[:8]
    parent = "hull-t-" + uuidlib.uuid4().hex[:8]
    sh("ip", "netns", "add", ns)
    bare.env["HULL_CGROUP_PARENT"] = parent
    w = WireHost(bare, ns)
    try:
        w.ip("link", "set", "lo", "up")
        _init_pool(bare, "btrfs")
        d = os.path.join(workdir, "bb")
        os.makedirs(d)
        sh(os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o", d, "-c",
           "none")
        mpath = glob.glob(os.path.join(d, "*.json"))[0]
        with open(mpath) as f:
            w.image = json.load(f)["uuid"]
        bare.run("imgadm", "install", "-m", mpath,
                 "-f", glob.glob(os.path.join(d, "*.tar"))[0])
        w.run("nictagadm", "add", "-l", "wire0")
        br = [l.split(":")[1].strip()
              for l in w.ip("-o", "link", "show", "type", "bridge").stdout.splitlines()]
        assert len(br) == 1, br
        w.bridge = br[0]
        w.ip("addr", "add", f"{HOST4}/24", "dev", w.bridge)
        w.ip("link", "set", w.bridge, "up")
        yield w
    finally:
        for u in w.run("vmadm", "lookup", check=False).out.split():
            w.run("vmadm", "delete", u, check=False)
        w.run("nictagadm", "delete", "wire0", check=False)
        w.run("nictagadm", "delete", "wire1", check=False)
        pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
        for p in pids:
            try:
                os.kill(int(p), 9)
            except (ProcessLookupError, ValueError):
                pass
        bare.run("hull", "fini", check=False)
        # A zone started elsewhere meanwhile holds a copy of /run/netns's
        # mounts for a moment (EBUSY): try again.
        for _ in range(100):
            sh("ip", "netns", "del", ns, check=False)
            if not os.path.exists(f"/run/netns/{ns}"):
                break
            time.sleep(0.1)
        cgroup_remove(parent)
        unfreeze(workdir)


def bb(w, ip, **kw):
    p = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": w.image,
         "max_physical_memory": 128,
         "nics": [{"nic_tag": "wire0", "ips": [f"{ip}/24"],
                   "gateways": [HOST4], "primary": True}]}
    p.update(kw)
    return p


def test_two_zones_ping_each_other_and_the_host(wire):
    a = wire.create(bb(wire, "192.0.2.11"))
    b = wire.create(bb(wire, "192.0.2.12"))
    assert wire.ping(a, "192.0.2.12")
    assert wire.ping(b, "192.0.2.11")
    assert wire.ping(a, HOST4)
    assert wire.host_ping("192.0.2.12")
    out = wire.zlogin(a, "ip", "addr", "show", "eth0").stdout
    assert "192.0.2.11/24" in out
    assert wire.ports_of(a) and wire.chains_of(a)
    mac = wire.bridge_mac()
    wire.run("vmadm", "stop", a)
    assert wire.ports_of(a) == [] and wire.chains_of(a) == []
    # the tag's bridge keeps its MAC when a port goes: b's neighbour
    # entry for the host stays right
    assert wire.bridge_mac() == mac
    assert wire.ping(b, HOST4)
    wire.run("vmadm", "delete", a)
    wire.run("vmadm", "delete", b)
    assert wire.ports_of(b) == [] and wire.chains_of(b) == []
    # nothing of hull's left but the tag's own bridge
    assert "hull_antispoof" not in wire.nft("list", "tables").stdout


def test_firewall_blocks_inbound_until_a_rule_allows_it(wire):
    a = wire.create(bb(wire, "192.0.2.21"))
    b = wire.create(bb(wire, "192.0.2.22", firewall_enabled=True))
    # nothing allows it: neither a zone nor the host reaches b
    assert not wire.ping(a, "192.0.2.22")
    assert not wire.host_ping("192.0.2.22")
    wire.zlogin(b, "sh", "-c", "nc -l -p 8080 -e echo hi >/dev/null 2>&1 &")
    assert "hi" not in wire.zlogin(a, "sh", "-c", "echo | nc -w 2 192.0.2.22 8080",
                                   check=False).stdout
    # nor over IPv6 to its link-local address
    assert not wire.ping6_ll(a, b)
    # while b still reaches out
    assert wire.ping(b, "192.0.2.21") and wire.ping(b, HOST4)
    assert wire.ping6_ll(b, a)
    r = wire.run("fwadm", "add", "-e", "-g",
                 f"FROM any TO vm {b} ALLOW icmp TYPE 8 CODE 0")
    rule = r.out.splitlines()[1].split()[0]
    assert wire.ping(a, "192.0.2.22") and wire.host_ping("192.0.2.22")
    r2 = wire.run("fwadm", "add", "-e", "-g",
                  f"FROM vm {a} TO vm {b} ALLOW tcp PORT 8080")
    assert "hi" in wire.zlogin(a, "sh", "-c", "echo | nc -w 2 192.0.2.22 8080",
                               check=False).stdout
    wire.run("fwadm", "delete", rule)
    assert not wire.ping(a, "192.0.2.22")
    # stop and start: the filter is back with the zone
    wire.run("vmadm", "stop", b)
    wire.run("vmadm", "start", b)
    assert not wire.ping(a, "192.0.2.22")
    assert wire.ping(b, "192.0.2.21")
    del r2
    # firewall off by update: reachable
    wire.run("vmadm", "update", b, "firewall_enabled=false")
    assert wire.ping(a, "192.0.2.22")
    wire.run("vmadm", "delete", b)
    assert b not in wire.nft("list", "ruleset").stdout


def test_spoofed_traffic_from_a_zone_is_dropped(wire):
    a = wire.create(bb(wire, "192.0.2.31"))
    b = wire.create(bb(wire, "192.0.2.32"))
    assert wire.ping(a, "192.0.2.32")
    # a plants another address and sends from it with a raw socket (ping)
    wire.zlogin(a, "ip", "addr", "add", "192.0.2.99/24", "dev", "eth0")
    assert not wire.ping(a, "192.0.2.32", src="192.0.2.99")
    assert not wire.ping(a, HOST4, src="192.0.2.99")
    # another source MAC: dropped too
    wire.zlogin(a, "ip", "addr", "del", "192.0.2.99/24", "dev", "eth0")
    wire.zlogin(a, "ip", "link", "set", "eth0", "address", "02:00:00:00:99:99")
    assert not wire.ping(a, "192.0.2.32")
    assert wire.ping(b, HOST4)


def test_add_and_remove_nics_on_a_running_zone(wire):
    wire.run("nictagadm", "add", "-l", "wire1")
    br = [l.split(":")[1].strip() for l in
          wire.ip("-o", "link", "show", "type", "bridge").stdout.splitlines()]
    br1 = [x for x in br if x != wire.bridge][0]
    wire.ip("addr", "add", f"{HOST4B}/24", "dev", br1)
    wire.ip("link", "set", br1, "up")
    a = wire.create(bb(wire, "192.0.2.41"))
    wire.run("vmadm", "update", a, input=json.dumps(
        {"add_nics": [{"nic_tag": "wire1", "ips": ["198.51.100.41/24"]}]}))
    nics = json.loads(wire.run("vmadm", "get", a).out)["nics"]
    assert len(nics) == 2 and nics[1]["mac"].split(":")[0][1] == "2"
    assert "198.51.100.41/24" in wire.zlogin(a, "ip", "addr", "show", "eth1").stdout
    assert "dev eth1" in wire.zlogin(a, "ip", "route", "get", HOST4B).stdout
    assert wire.ping(a, HOST4B)
    assert len(wire.ports_of(a)) == 2
    wire.run("vmadm", "update", a, input=json.dumps(
        {"remove_nics": [nics[1]["mac"]]}))
    assert len(wire.ports_of(a)) == 1
    assert "eth1" not in wire.zlogin(a, "ip", "-o", "link").stdout
    assert wire.ping(a, HOST4)


def test_killed_supervisor_leaves_nothing_after_stop(wire):
    a = wire.create(bb(wire, "192.0.2.51"))
    with open(os.path.join(wire.root, a, "run", "supervisor.pid")) as f:
        os.kill(int(f.read().split()[0]), 9)
    wire.run("vmadm", "stop", a)
    assert wire.ports_of(a) == [] and wire.chains_of(a) == []
    wire.run("vmadm", "start", a)
    assert wire.ping(a, HOST4)
    wire.run("vmadm", "delete", a)
    assert wire.ports_of(a) == [] and wire.chains_of(a) == []


def test_failure_mid_setup_leaves_nothing(wire):
    p = bb(wire, "192.0.2.61", autoboot=False)
    p["nics"].append({"nic_tag": "wire0", "ips": ["192.0.2.62/24"]})
    a = wire.create(p)
    wire.h.env["HULL_TEST_NET_FAIL_NIC"] = "1"
    try:
        line = wire.fails("vmadm", "start", a)
    finally:
        del wire.h.env["HULL_TEST_NET_FAIL_NIC"]
    assert "network" in line
    assert wire.ports_of(a) == [] and wire.chains_of(a) == []
    assert wire.run("vmadm", "list", "-H", "-o", "state", f"uuid={a}").out.strip() \
        == "stopped"
    wire.run("vmadm", "start", a)
    assert wire.ping(a, HOST4)


@pytest.mark.parametrize("nic,msg", [
    ({"nic_tag": "nosuch", "ips": ["192.0.2.71/24"]}, "nic tag 'nosuch'"),
    ({"nic_tag": "wire0", "ips": ["192.0.2.72/24"], "vlan_id": 4095}, "vlan_id"),
    ({"nic_tag": "wire0", "ips": ["192.0.2.73/24"], "mac": "01:00:00:00:00:01"},
     "mac"),
    ({"nic_tag": "wire0", "ips": ["192.0.2.74/24"], "gateways": ["198.51.100.1"]},
     "outside"),
])
def test_bad_nics_refused_with_one_line(wire, nic, msg):
    p = bb(wire, "192.0.2.70", autoboot=False)
    p["nics"] = [nic]
    line = wire.fails("vmadm", "create", input=json.dumps(p))
    assert msg in line
    assert wire.run("vmadm", "lookup").out.split() == []


def test_duplicate_mac_or_address_across_the_pool_refused(wire):
    a = wire.create(bb(wire, "192.0.2.81", autoboot=False))
    mac = json.loads(wire.run("vmadm", "get", a).out)["nics"][0]["mac"]
    p = bb(wire, "192.0.2.82", autoboot=False)
    p["nics"][0]["mac"] = mac
    assert f"already used by VM {a}" in wire.fails("vmadm", "create",
                                                    input=json.dumps(p))
    line = wire.fails("vmadm", "create", input=json.dumps(bb(wire, "192.0.2.81")))
    assert "192.0.2.81" in line and a in line
    b = wire.create(bb(wire, "192.0.2.83", autoboot=False))
    line = wire.fails("vmadm", "update", b, input=json.dumps(
        {"add_nics": [{"nic_tag": "wire0", "ips": ["192.0.2.81/24"]}]}))
    assert "already used" in line
    assert len(json.loads(wire.run("vmadm", "get", b).out)["nics"]) == 1


def test_routes_resolvers_dns_domain_at_start_and_after_update(wire):
    a = wire.create(bb(wire, "192.0.2.91", resolvers=["192.0.2.53"],
                       dns_domain="example.com",
                       routes={"198.51.100.0/24": "192.0.2.1"}))
    conf = wire.zlogin(a, "cat", "/etc/resolv.conf").stdout
    assert "nameserver 192.0.2.53" in conf and "search example.com" in conf
    routes = wire.zlogin(a, "ip", "route").stdout
    assert "default via 192.0.2.254" in routes
    assert "198.51.100.0/24 via 192.0.2.1" in routes
    wire.run("vmadm", "update", a, input=json.dumps(
        {"resolvers": ["198.51.100.53"],
         "set_routes": {"198.51.100.128/25": "192.0.2.2"}}))
    wire.run("vmadm", "stop", a)
    wire.run("vmadm", "start", a)
    assert "nameserver 198.51.100.53" in wire.zlogin(a, "cat", "/etc/resolv.conf").stdout
    assert "198.51.100.128/25 via 192.0.2.2" in wire.zlogin(a, "ip", "route").stdout


def test_update_nics_on_a_running_zone(wire):
    a = wire.create(bb(wire, "192.0.2.95"))
    mac = json.loads(wire.run("vmadm", "get", a).out)["nics"][0]["mac"]
    wire.run("vmadm", "update", a, input=json.dumps(
        {"update_nics": [{"mac": mac, "ips": ["192.0.2.96/24"]}]}))
    out = wire.zlogin(a, "ip", "addr", "show", "eth0").stdout
    assert "192.0.2.96/24" in out and "192.0.2.95/" not in out
    assert wire.ping(a, HOST4)
    assert len(wire.ports_of(a)) == 1
