"""Networks and addresses on the head node (NAPI's role) and CloudAPI's
fabric VLANs and networks, driven by the real triton 7.17.0 CLI and by
hulladm, on SQLite and PostgreSQL (the head fixture of test_head_api)."""

import concurrent.futures
import ipaddress
import json
import os
import subprocess

from conftest import prog
from test_head_api import (head, pgcluster, populate, request,  # noqa: F401
                           ssh_key, triton, triton_bin)


def two_accounts(head, workdir):  # noqa: F811
    """alice (from populate) and bob, each with a key; (home, alice fp,
    alice key, bob fp, bob key)."""
    populate(head, workdir)
    head.adm("user", "add", "bob", "--email", "bob@example.com")
    home = os.path.join(workdir, "home")
    akey, _p, afp = ssh_key(home, "ed25519", "alice")
    bkey, _p, bfp = ssh_key(home, "ecdsa", "bob")
    head.adm("user", "key-add", "alice", akey + ".pub")
    head.adm("user", "key-add", "bob", bkey + ".pub")
    return home, afp, akey, bfp, bkey


def test_fabric_vlans_and_networks_with_the_triton_cli(  # noqa: F811
        head, workdir, triton_bin):
    home, afp, akey, bfp, bkey = two_accounts(head, workdir)
    head.adm("network", "create", "external6", "--subnet", "2001:db8::/64",
             "--gateway", "2001:db8::1", "--provision-start",
             "2001:db8::10", "--provision-end", "2001:db8::ff",
             "--nic-tag", "external", "--public")
    head.start()

    def a(*args, check=True):
        return triton(triton_bin, head, home, "alice", afp, *args,
                      check=check)

    def b(*args, check=True):
        return triton(triton_bin, head, home, "bob", bfp, *args,
                      check=check)

    nets = a("network", "list", "-H", "-o",
             "name,subnet,gateway,fabric,public").stdout.split("\n")
    assert sorted(l.split() for l in nets if l.strip()) == [
        ["external", "203.0.113.0/24", "203.0.113.1", "false", "true"],
        ["external6", "2001:db8::/64", "2001:db8::1", "false", "true"]]

    # a VLAN, then a fabric network on it
    out = a("vlan", "create", "42", "--name", "prod", "-D", "web tier")
    assert out.stdout.strip() == "Created vlan prod (42)"
    vl = a("vlan", "list", "-H", "-o", "vlan_id,name,description").stdout
    assert vl.split() == ["42", "prod", "web", "tier"]
    out = a("network", "create", "42", "--name", "fab", "--subnet",
            "198.51.100.0/24", "--start-ip", "198.51.100.10", "--end-ip",
            "198.51.100.20", "--gateway", "198.51.100.1", "--resolver",
            "198.51.100.53", "--route", "192.0.2.0/24=198.51.100.254", "-j")
    fab = json.loads(out.stdout)
    assert fab["fabric"] is True and fab["public"] is False
    assert fab["vlan_id"] == 42 and fab["internet_nat"] is True
    assert fab["mtu"] == 1450 and fab["netmask"] == "255.255.255.0"
    assert fab["routes"] == {"192.0.2.0/24": "198.51.100.254"}
    assert fab["resolvers"] == ["198.51.100.53"]
    assert "owner" not in fab and "vnet_id" not in fab
    got = json.loads(a("network", "get", "fab", "-j").stdout)
    assert got == fab
    listed = a("vlan", "networks", "42", "-H", "-o", "name,subnet").stdout
    assert listed.split() == ["fab", "198.51.100.0/24"]
    mine = a("network", "list", "-H", "-o", "name,fabric,vlan").stdout
    assert ["fab", "true", "42"] in [l.split() for l in mine.splitlines()]

    # bob: his own VLAN 42 with the same subnet is fine (another
    # account's fabric); he sees none of alice's
    b("vlan", "create", "42", "--name", "prod")
    bfab = json.loads(b("network", "create", "42", "--name", "fab",
                        "--subnet", "198.51.100.0/24", "--start-ip",
                        "198.51.100.10", "--end-ip", "198.51.100.20",
                        "--no-nat", "-j").stdout)
    assert bfab["id"] != fab["id"] and bfab["internet_nat"] is False
    assert "gateway" not in bfab
    r = b("network", "get", fab["id"], check=False)
    assert r.returncode != 0 and "not found" in r.stderr
    bid = f"/bob/keys/{bfp}"
    for method, path in (
            ("GET", f"/bob/fabrics/default/vlans/42/networks/{fab['id']}"),
            ("DELETE",
             f"/bob/fabrics/default/vlans/42/networks/{fab['id']}"),
            ("GET", f"/bob/networks/{fab['id']}"),
            ("GET", "/alice/fabrics/default/vlans")):
        st, body, _ = request(head, method, path, bkey, bid)
        assert st == 404, (method, path, st, body)
    # and cannot put an instance on it
    st, body, _ = request(head, "POST", "/bob/machines", bkey, bid,
                          body={"image": "x", "package": "small-1G",
                                "networks": [fab["id"]]})
    assert st in (404, 409)

    # refusals, each one line, nothing made
    bad = [
        # overlapping another of alice's fabric networks (another VLAN)
        ("network", "create", "42", "--name", "over", "--subnet",
         "198.51.100.128/25", "--start-ip", "198.51.100.130", "--end-ip",
         "198.51.100.140", "--no-nat"),
        # an address outside the subnet
        ("network", "create", "42", "--name", "out", "--subnet",
         "192.0.2.0/24", "--start-ip", "192.0.2.10", "--end-ip",
         "203.0.113.20", "--no-nat"),
        ("network", "create", "42", "--name", "gwout", "--subnet",
         "192.0.2.0/24", "--start-ip", "192.0.2.10", "--end-ip",
         "192.0.2.20", "--gateway", "198.51.100.1"),
        # no such VLAN
        ("network", "create", "7", "--name", "novlan", "--subnet",
         "192.0.2.0/24", "--start-ip", "192.0.2.10", "--end-ip",
         "192.0.2.20", "--no-nat"),
        # the same name twice
        ("network", "create", "42", "--name", "fab", "--subnet",
         "192.0.2.0/24", "--start-ip", "192.0.2.10", "--end-ip",
         "192.0.2.20", "--no-nat"),
        ("vlan", "create", "42", "--name", "again"),
        ("vlan", "create", "4095", "--name", "toobig"),
        # a VLAN with a network on it
        ("vlan", "delete", "42"),
    ]
    a("vlan", "create", "43", "--name", "other")
    bad[0] = tuple("43" if x == "42" else x for x in bad[0])
    for args in bad:
        r = a(*args, check=False)
        assert r.returncode != 0, args
        assert r.stderr.strip(), args
    names = a("network", "list", "-H", "-o", "name").stdout.split()
    assert sorted(names) == ["external", "external6", "fab"]

    # its addresses: one the operator reserved shows to alice; on the
    # public network she sees none (no instance of hers), nor the NAT's;
    # bob cannot read hers
    head.adm("address", "reserve", fab["id"], "198.51.100.15")
    out = a("network", "ip", "list", "-j", "fab").stdout
    ips = [json.loads(line) for line in out.splitlines() if line.strip()]
    assert [(i["ip"], i["reserved"]) for i in ips] == [("198.51.100.15",
                                                        True)]
    one = json.loads(a("network", "ip", "get", "fab", "198.51.100.15",
                       "-j").stdout)
    assert one["ip"] == "198.51.100.15" and one["reserved"] is True
    assert a("network", "ip", "list", "-H", "external").stdout.strip() == ""
    st, body, _ = request(head, "GET", f"/bob/networks/{fab['id']}/ips",
                          bkey, bid)
    assert st == 404, body
    head.adm("address", "unreserve", fab["id"], "198.51.100.15")

    # the NAT gateway's outside address is held on the public network
    # until the fabric network goes
    def ext_ips():
        return {i["ip"]: i for i in json.loads(
            head.adm("-j", "address", "list", "external").out)}
    held = ext_ips()
    assert [i["machine"] for i in held.values()] == [f"nat:{fab['id']}"]
    # delete: the network, then the VLAN
    a("network", "delete", "fab")
    assert ext_ips() == {}
    assert a("vlan", "networks", "42", "-H").stdout.strip() == ""
    a("vlan", "delete", "42")
    vl = a("vlan", "list", "-H", "-o", "vlan_id").stdout.split()
    assert vl == ["43"]
    # bob's is untouched
    assert b("vlan", "networks", "42", "-H", "-o", "name").stdout.split() \
        == ["fab"]


def test_hulladm_networks_and_reservations(head, workdir):  # noqa: F811
    head.adm("user", "add", "alice")
    head.adm("network", "create", "admin", "--subnet", "192.0.2.0/24",
             "--gateway", "192.0.2.1", "--provision-start", "192.0.2.10",
             "--provision-end", "192.0.2.12", "--nic-tag", "admin",
             "--vlan", "5", "--mtu", "9000", "--resolvers",
             "192.0.2.53,192.0.2.54", "--route",
             "198.51.100.0/24=192.0.2.254")
    n = json.loads(head.adm("-j", "network", "get", "admin").out)
    assert n["vlan_id"] == 5 and n["mtu"] == 9000 and n["fabric"] is False
    assert n["resolvers"] == ["192.0.2.53", "192.0.2.54"]
    assert n["routes"] == {"198.51.100.0/24": "192.0.2.254"}
    v6 = json.loads(head.adm("-j", "network", "create", "v6", "--subnet",
                             "2001:db8:1::/64", "--provision-start",
                             "2001:db8:1::a", "--provision-end",
                             "2001:db8:1::c", "--nic-tag", "external").out)
    assert v6["family"] == "ipv6" and "netmask" not in v6
    listing = head.adm("network", "list").out.splitlines()
    assert len(listing) == 3 and "2001:db8:1::/64" in "".join(listing)

    # reserve a given address, then the lowest free ones
    assert head.adm("address", "reserve", "admin", "192.0.2.11").out \
        .strip() == "reserved 192.0.2.11"
    assert head.adm("address", "reserve", "admin").out.strip() == \
        "reserved 192.0.2.10"
    assert head.adm("address", "reserve", "admin").out.strip() == \
        "reserved 192.0.2.12"
    r = head.host.fails("hulladm", "address", "reserve", "admin")
    assert "no free address" in r.err
    r = head.host.fails("hulladm", "address", "reserve", "admin",
                        "192.0.2.11")
    assert "taken" in r.err
    head.host.fails("hulladm", "address", "reserve", "admin",
                    "198.51.100.7")
    head.adm("address", "unreserve", "admin", "192.0.2.11")
    head.host.fails("hulladm", "address", "unreserve", "admin",
                    "192.0.2.11")
    assert head.adm("address", "reserve", "admin").out.strip() == \
        "reserved 192.0.2.11"
    ips = json.loads(head.adm("-j", "address", "list", "admin").out)
    assert sorted(i["ip"] for i in ips) == [
        "192.0.2.10", "192.0.2.11", "192.0.2.12"]
    assert all(i["reserved"] for i in ips)
    # IPv6: the numbers carry across the 16-bit group
    assert head.adm("address", "reserve", "v6").out.strip() == \
        "reserved 2001:db8:1::a"
    head.adm("address", "reserve", "v6", "2001:db8:1::b")
    assert head.adm("address", "reserve", "v6").out.strip() == \
        "reserved 2001:db8:1::c"

    bad = [
        ("network", "create", "x", "--subnet", "192.0.2.0/24",
         "--provision-start", "192.0.2.20", "--provision-end", "192.0.2.10",
         "--nic-tag", "admin"),
        ("network", "create", "x", "--subnet", "192.0.2.0/24",
         "--provision-start", "192.0.2.0", "--provision-end", "192.0.2.10",
         "--nic-tag", "admin"),
        ("network", "create", "x", "--subnet", "2001:db8::/64",
         "--provision-start", "192.0.2.1", "--provision-end",
         "2001:db8::9", "--nic-tag", "admin"),
        ("network", "create", "x", "--subnet", "192.0.2.0/24",
         "--provision-start", "192.0.2.10", "--provision-end", "192.0.2.20",
         "--nic-tag", "admin", "--route", "2001:db8::/64=192.0.2.1"),
        ("network", "create", "x", "--subnet", "192.0.2.0/24",
         "--provision-start", "192.0.2.10", "--provision-end", "192.0.2.20",
         "--nic-tag", "admin", "--vlan", "4095"),
        ("network", "create", "admin", "--subnet", "192.0.2.0/24",
         "--provision-start", "192.0.2.10", "--provision-end", "192.0.2.20",
         "--nic-tag", "admin"),
        ("network", "get", "nope"),
        ("network", "delete", "nope"),
    ]
    for args in bad:
        head.host.fails("hulladm", *args)
    assert len(head.adm("network", "list").out.splitlines()) == 3
    # delete drops its reservations with it
    head.adm("network", "delete", "admin")
    head.host.fails("hulladm", "network", "get", "admin")


def test_200_concurrent_allocations_never_share_an_address(  # noqa: F811
        head, workdir):
    """200 writers at once (separate processes, one database) on a network
    of 50 addresses: 50 win, each a different address, 150 are told the
    network is full."""
    head.adm("network", "create", "small", "--subnet", "192.0.2.0/26",
             "--gateway", "192.0.2.1", "--provision-start", "192.0.2.1",
             "--provision-end", "192.0.2.51", "--nic-tag", "admin")

    def one(_i):
        return subprocess.run([prog("hulladm"), "address", "reserve",
                               "small"], env=head.host.env,
                              capture_output=True, text=True, timeout=300)
    # PostgreSQL's default allows 100 connections: 60 at a time.
    with concurrent.futures.ThreadPoolExecutor(max_workers=60) as ex:
        res = list(ex.map(one, range(200)))
    got = [r.stdout.split()[1] for r in res if r.returncode == 0]
    full = [r for r in res if r.returncode != 0]
    assert len(got) == 50, [r.stderr for r in full][:3]
    assert len(set(got)) == 50
    assert all("no free address" in r.stderr for r in full), \
        {r.stderr for r in full}
    want = {str(ipaddress.ip_address("192.0.2.2") + i) for i in range(50)}
    assert set(got) == want  # the gateway (192.0.2.1) is never handed out
    ips = json.loads(head.adm("-j", "address", "list", "small").out)
    assert sorted(i["ip"] for i in ips) == sorted(got)
