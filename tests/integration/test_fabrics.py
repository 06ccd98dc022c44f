"""Fabrics across compute nodes: a head node and three compute nodes in
network namespaces on an underlay bridge (test_head_agent's layout), two
accounts each with a fabric VLAN in the same subnet (198.51.100.0/24),
busybox zones spread over the nodes. Each account's instances reach each
other across nodes over VXLAN; no frame of one account shows on the
other's segment; a deleted instance's MAC leaves the other nodes'
forwarding tables within a second and its address returns to the pool;
a host on the underlay that is not a compute node cannot inject a VXLAN
frame."""
import json
import os
import re
import subprocess
import time

from conftest import Host, prog
from nethelp import NetHost
from test_head_agent import DC, PORT, Node, admin_network
from test_head_api import ssh_key, triton_bin  # noqa: F401  (fixture)
from vmtools import unfreeze

SUBNET = "198.51.100.0/24"


def tri(dc, tbin, login, fp, *args, check=True):
    env = {"PATH": os.environ["PATH"], "HOME": dc.home, "TRITON_URL": dc.url,
           "TRITON_ACCOUNT": login, "TRITON_KEY_ID": fp,
           "TRITON_TLS_INSECURE": "1"}
    r = subprocess.run(["ip", "netns", "exec", dc.head_ns, tbin, *args],
                       env=env, capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, (login, args, r.stdout, r.stderr)
    return r


def ns_run(ns, *argv, check=True, timeout=60):
    r = subprocess.run(["ip", "netns", "exec", ns, *argv],
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, (argv, r.stdout, r.stderr)
    return r


def fdb(ns, dev):
    """The remote entries of a vxlan link: {(mac, dst)}."""
    out = ns_run(ns, "bridge", "fdb", "show", "dev", dev,
                 check=False).stdout
    return {(m.group(1), m.group(2)) for m in
            re.finditer(r"^(\S+) dst (\S+)", out, re.M)}


def capture(ns, dev, filt, seconds):
    """tcpdump on dev in ns for a while: a Popen whose stdout is the
    packet lines. The caller waits for it to listen (listening())."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, "timeout",
                          str(seconds), "tcpdump", "-l", "-n", "-i", dev,
                          filt], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p


def listening():
    time.sleep(1.5)  # tcpdump has opened its socket


def vxlan_frame(vni, src_mac, ip_src, ip_dst):
    """A VXLAN packet's UDP payload: the header and an ARP request."""
    import struct
    hdr = struct.pack("!II", 0x08000000, vni << 8)
    mac = bytes.fromhex(src_mac.replace(":", ""))
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + \
        bytes(map(int, ip_src.split("."))) + b"\0" * 6 + \
        bytes(map(int, ip_dst.split(".")))
    eth = b"\xff" * 6 + mac + b"\x08\x06"
    return hdr + eth + arp


def inject(ns, dst, payload, count=5):
    code = ("import socket,sys,time\n"
            "s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n"
            f"p=bytes.fromhex('{payload.hex()}')\n"
            f"for i in range({count}):\n"
            f"  s.sendto(p,('{dst}',4789)); time.sleep(0.1)\n")
    ns_run(ns, "/usr/bin/python3", "-c", code)


def test_fabrics_across_three_nodes(workdir, triton_bin):  # noqa: F811
    home = os.path.join(workdir, "home")
    dc = DC(workdir, home)
    headroot = os.path.join(workdir, "head", "zones")
    os.makedirs(headroot)
    head = Host(headroot, os.path.join(workdir, "head"))
    net = NetHost(head)
    try:
        spaces = admin_network(net, 3)
        # a host on the underlay that is not a compute node
        rogue = net.add_ns(f"{net.ns}-rogue")
        net.ip("ip", "link", "add", "rog0", "type", "veth", "peer", "name",
               "admin0", "netns", rogue)
        net.ip("ip", "link", "set", "rog0", "master", "br0", "up")
        net.ip("ip", "addr", "add", "192.0.2.99/24", "dev", "admin0",
               ns=rogue)
        net.ip("ip", "link", "set", "admin0", "up", ns=rogue)
        dc.setup(head.env, net.ns, f"192.0.2.1:{PORT}")
        for i, ns in enumerate(spaces):
            dc.nodes.append(Node(workdir, f"cn{i}", ns))
        nodes = dc.nodes
        dc.populate(nodes)
        dc.adm("user", "add", "bob")
        bkey, _pub, bfp = ssh_key(home, "ecdsa", "bob")
        dc.adm("user", "key-add", "bob", bkey + ".pub")
        # an "external" network: a namespace (203.0.113.1, the external
        # network's gateway) on a bridge linked to every node's pub0
        ext = net.add_ns(f"{net.ns}-ext")
        net.ip("ip", "link", "add", "brx", "type", "bridge", ns=ext)
        net.ip("ip", "addr", "add", "203.0.113.1/24", "dev", "brx", ns=ext)
        net.ip("ip", "link", "set", "brx", "up", ns=ext)
        for i, n in enumerate(nodes):
            net.ip("ip", "link", "add", "xe0", "type", "veth", "peer",
                   "name", f"xe{i}", "netns", ext, ns=n.ns)
            net.ip("ip", "link", "set", "xe0", "master", "hbpub0", "up",
                   ns=n.ns)
            net.ip("ip", "link", "set", f"xe{i}", "master", "brx", "up",
                   ns=ext)
        for n in nodes:
            assert dc.join(n, dc.new_token_line()).returncode == 0
            n.agent.start()
        uuids = [n.uuid() for n in nodes]
        for u in uuids:
            dc.wait_status(u, "running")
        by_uuid = dict(zip(uuids, nodes))
        ip_of = {u: f"192.0.2.{11 + i}" for i, u in enumerate(uuids)}

        accts = {"alice": dc.fp, "bob": bfp}
        for login, fp in accts.items():
            tri(dc, triton_bin, login, fp, "vlan", "create", "10",
                "--name", "back")
            # alice's fabric has a gateway, so a NAT gateway (the CLI's
            # default); bob's has neither
            nat = (["--gateway", "198.51.100.1"] if login == "alice"
                   else ["--no-nat"])
            tri(dc, triton_bin, login, fp, "network", "create", "10",
                "--name", "fab", "--subnet", SUBNET, "--start-ip",
                "198.51.100.10", "--end-ip", "198.51.100.60", *nat)

        def create(login, name):
            tri(dc, triton_bin, login, accts[login], "instance", "create",
                "-w", "-n", name, "-N", "fab", dc.image_name, "bb-128M")
            return json.loads(tri(dc, triton_bin, login, accts[login],
                                  "instance", "get", "-j", name).stdout)
        a = [create("alice", f"a{i}") for i in range(3)]
        b = [create("bob", f"b{i}") for i in range(2)]
        for inst in a + b:
            assert inst["state"] == "running"
            assert inst["primaryIp"].startswith("198.51.100.")
        assert len({i["primaryIp"] for i in a}) == 3
        # the same subnet, the same addresses, two accounts
        assert {i["primaryIp"] for i in b} <= {i["primaryIp"] for i in a}
        assert len({i["compute_node"] for i in a}) >= 2
        # each instance's nic: the fabric's MTU, the allocated address
        for inst in a + b:
            node = by_uuid[inst["compute_node"]]
            vm = node.vm(inst["id"])
            nic = vm["nics"][0]
            assert nic["ip"] == inst["primaryIp"] and nic["mtu"] == 1450
            assert nic["nic_tag"].startswith("sdc_overlay_")
            links = node.run("zlogin", inst["id"], "ip", "link").stdout
            assert re.search(r"(net|eth)0\S*: .* mtu 1450 ", links), links
        vni_a = int(by_uuid[a[0]["compute_node"]].vm(
            a[0]["id"])["nics"][0]["nic_tag"].rsplit("_", 1)[1])
        vni_b = int(by_uuid[b[0]["compute_node"]].vm(
            b[0]["id"])["nics"][0]["nic_tag"].rsplit("_", 1)[1])
        assert vni_a != vni_b

        # `triton network ip list`: alice's addresses, each with its
        # instance
        out = tri(dc, triton_bin, "alice", dc.fp, "network", "ip", "list",
                  "-j", "fab").stdout
        owned = {j["ip"]: j.get("belongs_to_uuid") for j in
                 (json.loads(line) for line in out.splitlines()
                  if line.strip())}
        assert owned == {i["primaryIp"]: i["id"] for i in a}

        def zrun(inst, *argv, check=True):
            return by_uuid[inst["compute_node"]].run(
                "zlogin", inst["id"], *argv, check=check)

        # every pair of one account's instances: ICMP and TCP
        for grp in (a, b):
            for x in grp:
                for y in grp:
                    if x is y:
                        continue
                    r = zrun(x, "ping", "-c", "1", "-W", "3",
                             y["primaryIp"], check=False)
                    assert r.returncode == 0, (x["name"], y["name"],
                                               r.stdout, r.stderr)
            srv, cli = grp[0], grp[1]
            node = by_uuid[srv["compute_node"]]
            lst = subprocess.Popen(
                ["ip", "netns", "exec", node.ns, prog("zlogin"), srv["id"],
                 "sh", "-c", "echo over-the-fabric | nc -l -p 7000"],
                env=node.host.env, stdout=subprocess.PIPE, text=True)
            got = ""
            for _ in range(20):
                r = zrun(cli, "nc", "-w", "3", srv["primaryIp"], "7000",
                         check=False)
                got = r.stdout
                if "over-the-fabric" in got:
                    break
                time.sleep(0.3)
            lst.kill()
            lst.wait()
            assert "over-the-fabric" in got

        # isolation: alice's pings show on her segment, never on bob's
        x, y = a[0], next(i for i in a if i["compute_node"] !=
                          a[0]["compute_node"])
        watch = by_uuid[y["compute_node"]].ns
        mine = capture(watch, f"hvx{vni_a}", "icmp", 7)
        other = capture(watch, f"hvx{vni_b}", "icmp", 7)
        # on the underlay: VXLAN of bob's VNI carrying ICMP (UDP header 8,
        # VXLAN 8, Ethernet 14: the inner ethertype and IP protocol)
        caps = [capture(n.ns, "admin0", f"udp port 4789 and udp[12:4] = "
                        f"{vni_b << 8} and udp[28:2] = 0x0800 and "
                        f"udp[39] = 1", 7) for n in nodes]
        # and the same filter for alice's VNI sees her pings (the filter
        # can match)
        caps_a = capture(by_uuid[x["compute_node"]].ns, "admin0",
                         f"udp port 4789 and udp[12:4] = {vni_a << 8} and "
                         f"udp[28:2] = 0x0800 and udp[39] = 1", 7)
        listening()
        zrun(x, "ping", "-c", "5", "-i", "0.2", y["primaryIp"])
        seen_mine = mine.communicate()[0]
        seen_other = other.communicate()[0]
        seen_caps = [c.communicate()[0] for c in caps]
        assert caps_a.communicate()[0].strip(), "no VXLAN seen for alice"
        assert "ICMP echo request" in seen_mine, seen_mine
        assert seen_other.strip() == "", seen_other
        assert all(s.strip() == "" for s in seen_caps), seen_caps
        # a fabric instance cannot reach the underlay or the admin network
        for ip in ("192.0.2.1", ip_of[x["compute_node"]]):
            assert zrun(x, "ping", "-c", "1", "-W", "1", ip,
                        check=False).returncode != 0

        # NAT: alice's instances reach the external namespace through
        # their fabric's gateway, masqueraded to the NAT address; bob's
        # (no NAT) do not
        natip = json.loads(dc.adm("-j", "network", "get",
                                  alice_net(dc)).stdout)["nat"]["ip"]
        assert natip.startswith("203.0.113.")
        seen = capture(ext, "brx", "icmp[icmptype] = icmp-echo", 6)
        listening()
        for inst in a:
            zrun(inst, "ping", "-c", "1", "-W", "3", "203.0.113.1")
        lines = seen.communicate()[0]
        assert lines.count(f"{natip} > 203.0.113.1") >= 3, lines
        assert "198.51.100." not in lines
        assert zrun(b[0], "ping", "-c", "1", "-W", "2", "203.0.113.1",
                    check=False).returncode != 0

        # injection: a VXLAN frame for alice's VNI from a non-node host is
        # dropped; the same frame from a compute node arrives
        target = by_uuid[a[0]["compute_node"]]
        dst = ip_of[a[0]["compute_node"]]
        frame = vxlan_frame(vni_a, "02:66:66:66:66:66", "198.51.100.200",
                            a[0]["primaryIp"])
        c1 = capture(target.ns, f"hvx{vni_a}", "arp", 5)
        listening()
        inject(rogue, dst, frame)
        assert "198.51.100.200" not in c1.communicate()[0]
        peer = next(n for n in nodes if n is not target)
        c2 = capture(target.ns, f"hvx{vni_a}", "arp", 5)
        listening()
        inject(peer.ns, dst, frame)
        assert "198.51.100.200" in c2.communicate()[0]

        # antispoof holds on a fabric nic: an address the instance was not
        # given goes nowhere, its own still does
        x, y = a[0], a[1]
        zrun(x, "ip", "addr", "add", "198.51.100.77/24", "dev", "eth0")
        assert zrun(x, "ping", "-c", "2", "-W", "1", "-I", "198.51.100.77",
                    y["primaryIp"], check=False).returncode != 0
        zrun(x, "ping", "-c", "1", "-W", "2", y["primaryIp"])

        # delete: within a second its MAC leaves the other nodes' FDB,
        # and its address is free again
        gone = a[2]
        gmac = by_uuid[gone["compute_node"]].vm(gone["id"])["nics"][0]["mac"]
        others = [n for n in nodes if n.uuid() != gone["compute_node"] and
                  any(i["compute_node"] == n.uuid() for i in a[:2])]
        assert others
        for n in others:
            assert any(m == gmac for m, _ in fdb(n.ns, f"hvx{vni_a}"))
        tri(dc, triton_bin, "alice", dc.fp, "instance", "delete", "-f", "-w",
            gone["id"])
        t0 = time.time()
        while any(any(m == gmac for m, _ in fdb(n.ns, f"hvx{vni_a}"))
                  for n in others):
            assert time.time() - t0 < 1.0, "FDB not updated within 1 s"
            time.sleep(0.05)
        ips = [i["ip"] for i in json.loads(
            dc.adm("-j", "address", "list", alice_net(dc)).stdout)]
        assert gone["primaryIp"] not in ips
        assert a[0]["primaryIp"] in ips
    finally:
        dc.close()
        net.close()
        unfreeze(workdir)


def alice_net(dc):
    """The id of alice's fabric network, from the head node's records."""
    with dc.db() as c:
        accts = {json.loads(v)["login"]: json.loads(v)["uuid"] for (v,) in
                 c.execute("SELECT value FROM records WHERE "
                           "bucket='accounts'")}
        for (v,) in c.execute("SELECT value FROM records WHERE "
                              "bucket='networks'"):
            n = json.loads(v)
            if n.get("owner") == accts["alice"] and n.get("fabric"):
                return n["id"]
    raise AssertionError("alice has no fabric network")
