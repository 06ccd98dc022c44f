"""ipadm: address objects in a namespace playing the host, read back with
`ip -j addr`."""
import json
import os
import subprocess
import time

from conftest import prog
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


def running(pid):
    """True while pid runs (a zombie waiting for its reaper does not)."""
    for _ in range(25):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except FileNotFoundError:
            return False
        time.sleep(0.2)
    return True


def test_dhcp_lease_arrives_shows_and_is_released(net):
    """-T dhcp for real: dnsmasq serves a documentation range on the far
    end of a veth pair; the lease arrives, shows as dhcp, and delete-addr
    releases it (dnsmasq forgets the lease) and stops the client."""
    outside = net.uplink("up0", mac="02:00:5e:10:00:21")
    net.ip("ip", "addr", "add", "192.0.2.1/24", "dev", "ext0", ns=outside)
    net.ip("ip", "link", "set", "ext0", "up", ns=outside)
    leases = os.path.join(net.h.workdir, "dnsmasq.leases")
    open(leases, "w").close()
    with open("/etc/resolv.conf", "rb") as f:
        host_resolv = f.read()
    # DNS off (port 0) and no dns-server option: dhclient-script would
    # otherwise write the resolvers into /etc/resolv.conf, the host's.
    server = subprocess.Popen(
        ["ip", "netns", "exec", outside, "dnsmasq", "--keep-in-foreground",
         "--conf-file=/dev/null", "--port=0", "--interface=ext0",
         "--bind-interfaces", "--dhcp-range=192.0.2.50,192.0.2.59,24h",
         "--dhcp-option=option:router,192.0.2.1",
         "--dhcp-option=option:dns-server", "--dhcp-leasefile=" + leases,
         "--pid-file=", "--log-facility=-"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        net.run("ipadm", "create-addr", "-T", "dhcp", "up0/v4")
        got = []
        for _ in range(100):
            got = [a for a in kaddrs(net, "up0") if a.startswith("192.0.2.")]
            if got:
                break
            time.sleep(0.2)
        assert len(got) == 1, f"no lease arrived: {kaddrs(net, 'up0')}"
        addr = got[0]
        assert addr.endswith("/24")
        assert 50 <= int(addr.split("/")[0].split(".")[3]) <= 59
        with open(leases) as f:
            assert "02:00:5e:10:00:21" in f.read()
        routes = json.loads(net.ip("ip", "-j", "-4", "route").stdout)
        assert any(r["dst"] == "default" and r["gateway"] == "192.0.2.1"
                   for r in routes)
        assert net.run("ipadm", "show-addr", "-p", "-o",
                       "addrobj,type,state,addr", "up0/v4").out == \
            f"up0/v4:dhcp:ok:{addr}\n"
        pidfile = os.path.join(net.h.root, "var/ipadm/dhclient-up0.pid")
        with open(pidfile) as f:
            client = int(f.read())
        with open(f"/proc/{client}/comm") as f:
            assert f.read().strip() == "dhclient"
        # One DHCP object per interface, as on illumos.
        net.fails("ipadm", "create-addr", "-T", "dhcp", "up0/v4b", rc=1)

        # A static address beside the lease survives its release.
        net.run("ipadm", "create-addr", "-T", "static", "-a",
                "198.51.100.4/24", "up0/st")
        net.run("ipadm", "delete-addr", "up0/v4")
        assert [a for a in kaddrs(net, "up0") if "." in a] == \
            ["198.51.100.4/24"]
        assert not running(client), "dhclient still runs"
        assert not os.path.exists(pidfile)
        for _ in range(25):
            with open(leases) as f:
                if "02:00:5e:10:00:21" not in f.read():
                    break
            time.sleep(0.2)
        with open(leases) as f:
            assert "02:00:5e:10:00:21" not in f.read(), \
                "the lease was not released"
        assert [l.split()[0] for l in net.run(
            "ipadm", "show-addr", "up0").out.splitlines()[1:]
            if "." in l.split()[-1]] == ["up0/st"]
    finally:
        server.kill()
        server.wait()
    with open("/etc/resolv.conf", "rb") as f:
        assert f.read() == host_resolv


def init_in_uts(net, *after):
    """`ipadm init` in the host namespace and a UTS namespace of its own
    (the real host name is never touched), then the commands in after."""
    script = f"{prog('ipadm')} init; rc=$?; " + \
        "".join(a + "; " for a in after) + "exit $rc"
    return net.ip("unshare", "-u", "env", f"HULL_ROOT={net.h.root}",
                  "sh", "-c", script, check=False)


def test_platform_init_hostname_and_resolvers(net):
    net.uplink("up0", mac="02:00:5e:10:00:31")
    usbkey = os.path.join(net.h.root, "usbkey")
    os.makedirs(usbkey)
    cfg = os.path.join(usbkey, "config")
    resolv = os.path.join(net.h.root, "var/ipadm/resolv.conf")
    with open(cfg, "w") as f:
        f.write("# written by the platform's setup\n"
                "hostname=cn7.example\n"
                "dns_resolvers=192.0.2.53, 2001:db8::53\n"
                "dns_domain=example.com\n")
    cp = init_in_uts(net, "hostname")
    assert cp.returncode == 0 and cp.stderr == "", cp
    assert cp.stdout == "cn7.example\n"
    with open(resolv) as f:
        lines = [l for l in f.read().splitlines() if not l.startswith("#")]
    assert lines == ["search example.com", "nameserver 192.0.2.53",
                     "nameserver 2001:db8::53"]

    # No hostname: SmartOS names the host after its admin MAC.
    with open(cfg, "w") as f:
        f.write("hostname=unknown\nadmin_nic=2:0:5e:10:0:31\n")
    cp = init_in_uts(net, "hostname")
    assert cp.returncode == 0, cp
    assert cp.stdout == "02-00-5e-10-00-31\n"
    assert not os.path.exists(resolv)     # the keys are gone: so is it

    # Bad values: one line each, the host name is left alone.
    with open(cfg, "w") as f:
        f.write("hostname=bad_name!\ndns_resolvers=192.0.2.53,nohost\n")
    cp = init_in_uts(net, "hostname")
    assert cp.returncode == 1
    assert cp.stderr.splitlines() == [
        "ipadm: usbkey/config: hostname: 'bad_name!' is not a host name"]
    assert cp.stdout == os.uname().nodename + "\n"
    with open(cfg, "w") as f:
        f.write("dns_resolvers=192.0.2.53,nohost\n")
    cp = init_in_uts(net)
    assert cp.returncode == 1
    assert cp.stderr.splitlines() == [
        "ipadm: usbkey/config: dns_resolvers: 'nohost' is not an IP "
        "address"]
    assert not os.path.exists(resolv)
