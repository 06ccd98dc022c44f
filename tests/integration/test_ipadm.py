"""ipadm: address objects in a namespace playing the host, read back with
`ip -j addr`."""
import json
import os

from nethelp import net  # noqa: F401  (fixture)


def kaddrs(net, ifname):
    out = net.ip("ip", "-j", "addr", "show", "dev", ifname).stdout
    return [f"{a['local']}/{a['prefixlen']}"
            for l in json.loads(out) for a in l["addr_info"]]


def test_static_and_addrconf(net):
    net.uplink("up0", mac="02:00:5e:10:00:01")
    r = net.run("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.5/24",
                "up0/v4")
    assert "changed the running system only" in r.err
    net.run("ipadm", "create-addr", "-T", "static", "-a",
            "2001:db8::5/64", "up0/v6s")
    net.run("ipadm", "create-addr", "-T", "addrconf", "up0/v6")
    have = kaddrs(net, "up0")
    assert "192.0.2.5/24" in have and "2001:db8::5/64" in have
    assert "fe80::5eff:fe10:1/64" in have   # EUI-64 of the MAC
    out = [l.split() for l in net.run("ipadm", "show-addr").out.splitlines()]
    assert out[0] == ["ADDROBJ", "TYPE", "STATE", "ADDR"]
    by = {r[0]: r[1:] for r in out[1:]}
    assert by["up0/v4"] == ["static", "ok", "192.0.2.5/24"]
    assert by["up0/v6s"] == ["static", "ok", "2001:db8::5/64"]
    assert by["up0/v6"] == ["addrconf", "ok", "fe80::5eff:fe10:1/64"]
    assert net.run("ipadm", "show-addr", "-p", "-o", "addrobj,addr",
                   "up0/v4").out == "up0/v4:192.0.2.5/24\n"
    assert net.run("ipadm", "show-addr", "-p", "-o", "addr",
                   "up0/v6").out == "fe80::5eff:fe10:1/64\n"
    ifs = [l.split() for l in net.run("ipadm", "show-if").out.splitlines()]
    assert ifs[0] == ["IFNAME", "STATE", "CURRENT", "PERSISTENT"]
    row = [r for r in ifs[1:] if r[0] == "up0"][0]
    assert row[1] == "ok" and row[2].endswith("46") and row[3] == "---"
    assert net.run("ipadm", "show-if", "-p", "-o", "ifname,state",
                   "up0").out == "up0:ok\n"

    net.run("ipadm", "delete-addr", "up0/v4")
    net.run("ipadm", "delete-addr", "up0/v6")
    have = kaddrs(net, "up0")
    assert have == ["2001:db8::5/64"]
    net.fails("ipadm", "delete-addr", "up0/v4", rc=1)
    assert [l.split()[0] for l in
            net.run("ipadm", "show-addr", "up0").out.splitlines()[1:]] == \
        ["up0/v6s"]


def test_bad_input_one_line_nothing_changed(net):
    net.uplink("up0")
    net.run("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.5/24",
            "up0/v4")
    net.fails("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.6/24",
              "up0/v4", rc=1)                        # the name is taken
    net.fails("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.5/24",
              "up0/other", rc=1)                     # the address is there
    net.fails("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.300/24",
              "up0/x", rc=1)
    net.fails("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.7",
              "up0/x", rc=1)                         # no prefix
    net.fails("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.7/24",
              "nosuch0/x", rc=1)
    net.fails("ipadm", "create-addr", "-T", "static", "-a", "192.0.2.7/24",
              "up0/1bad", rc=1)
    net.fails("ipadm", "create-addr", "-T", "static", "up0/x", rc=2)
    net.fails("ipadm", "create-addr", "-T", "magic", "up0/x", rc=2)
    net.fails("ipadm", "create-addr", "-T", "dhcp", "-a", "192.0.2.7/24",
              "up0/x", rc=2)
    net.fails("ipadm", "show-addr", "-p", rc=2)
    net.fails("ipadm", "show-addr", "nosuch0/v4", rc=1)
    net.fails("ipadm", "frobnicate", rc=2)
    assert kaddrs(net, "up0") == ["192.0.2.5/24"]


def test_platform_init_applies_admin_keys_and_objects(net):
    net.uplink("up0", mac="02:00:5e:10:00:07")
    net.uplink("up1")
    usbkey = os.path.join(net.h.root, "usbkey")
    os.makedirs(usbkey)
    with open(os.path.join(usbkey, "config"), "w") as f:
        f.write("admin_nic=2:0:5e:10:0:7\nadmin_ip=192.0.2.9\n"
                "admin_netmask=255.255.255.0\nadmin_gateway=192.0.2.1\n")
    r = net.run("ipadm", "create-addr", "-T", "static", "-a",
                "198.51.100.4/24", "up1/v4")
    assert r.err == ""
    net.ip("ip", "addr", "flush", "dev", "up1")   # a reboot
    net.run("ipadm", "init")
    assert kaddrs(net, "up0") == ["192.0.2.9/24"]
    assert kaddrs(net, "up1") == ["198.51.100.4/24"]
    routes = json.loads(net.ip("ip", "-j", "-4", "route").stdout)
    assert any(r["dst"] == "default" and r["gateway"] == "192.0.2.1"
               for r in routes)
    assert net.run("ipadm", "show-addr", "-p", "-o", "addrobj",
                   "up0").out == "up0/admin\n"
    net.run("ipadm", "delete-addr", "up1/v4")
    with open(os.path.join(usbkey, "net.json")) as f:
        assert json.load(f)["addrs"] == []
