"""dladm: links shown and made over netlink, in a namespace playing the
host. Uplinks are veths (this host's "physical" links); what each command
made is read back with `ip -j -d link`."""
import json
import os
import stat

import pytest

import skips
from nethelp import net  # noqa: F401  (fixture)
from test_zone_netns_exec import in_ns, nshost  # noqa: F401  (fixture)
from conftest import prog

NOTE = "changed the running system only"


def rows(out):
    return [l.split() for l in out.splitlines()]


def test_etherstub_and_vnics(net):
    net.uplink("up0")
    r = net.run("dladm", "create-etherstub", "stub0")
    assert NOTE in r.err and len(r.err.splitlines()) == 1
    net.run("dladm", "create-vnic", "-l", "up0", "vnic0")
    net.run("dladm", "create-vnic", "-l", "stub0", "-m", "2:8:20:0:0:5",
            "-p", "mtu=1400", "vnic1")
    links = net.links()
    assert links["stub0"]["linkinfo"]["info_kind"] == "bridge"
    assert links["stub0"]["ifalias"] == "hull-etherstub"
    assert "UP" in links["stub0"]["flags"]
    assert links["vnic0"]["linkinfo"]["info_kind"] == "macvlan"
    assert links["vnic0"]["linkinfo"]["info_data"]["mode"] == "bridge"
    assert links["vnic0"]["link"] == "up0"
    assert links["vnic1"]["link"] == "stub0"
    assert links["vnic1"]["address"] == "02:08:20:00:00:05"
    assert links["vnic1"]["mtu"] == 1400

    out = rows(net.run("dladm", "show-link").out)
    assert out[0] == ["LINK", "CLASS", "MTU", "STATE", "BRIDGE", "OVER"]
    by = {r[0]: r for r in out[1:]}
    assert by["up0"][1] == "phys"
    assert by["stub0"][1:3] == ["etherstub", "1500"]
    assert by["vnic0"][1] == "vnic" and by["vnic0"][5] == "up0"
    assert by["vnic1"] == ["vnic1", "vnic", "1400", by["vnic1"][3], "--",
                           "stub0"]
    assert "lo" not in by

    out = rows(net.run("dladm", "show-vnic").out)
    assert out[0] == ["LINK", "OVER", "SPEED", "MACADDRESS", "MACADDRTYPE",
                      "VID"]
    by = {r[0]: r for r in out[1:]}
    # illumos prints MAC addresses without zero padding.
    assert by["vnic1"][1:] == ["stub0", "0", "2:8:20:0:0:5", "fixed", "0"]
    assert by["vnic0"][4] == "random"
    assert net.run("dladm", "show-vnic", "-p", "-o", "link,macaddress",
                   "vnic1").out == "vnic1:2\\:8\\:20\\:0\\:0\\:5\n"
    assert net.run("dladm", "show-link", "-p", "-o", "LINK,class,over",
                   "vnic0").out == "vnic0:vnic:up0\n"
    assert net.run("dladm", "show-etherstub", "-p", "-o", "link").out == \
        "stub0\n"
    phys = rows(net.run("dladm", "show-phys").out)
    assert phys[0] == ["LINK", "MEDIA", "STATE", "SPEED", "DUPLEX", "DEVICE"]
    assert [r[0] for r in phys[1:]] == ["up0"]
    assert phys[1][1] == "Ethernet" and phys[1][5] == "veth"

    # An etherstub with a vnic over it is busy.
    r = net.fails("dladm", "delete-etherstub", "stub0", rc=1)
    assert "busy" in r.err and "vnic1" in r.err
    net.run("dladm", "delete-vnic", "vnic1")
    net.run("dladm", "delete-etherstub", "stub0")
    net.run("dladm", "delete-vnic", "vnic0")
    assert set(net.links()) == {"lo", "up0"}


def test_bad_input_is_one_line_and_changes_nothing(net):
    net.uplink("up0")
    net.run("dladm", "create-etherstub", "stub0")
    before = net.links()
    net.fails("dladm", "create-etherstub", "stub", rc=1)   # no digit
    net.fails("dladm", "create-etherstub", "0stub1", rc=1)
    net.fails("dladm", "create-etherstub", "averyveryverylong1", rc=1)
    net.fails("dladm", "create-etherstub", "stub0", rc=1)  # exists
    net.fails("dladm", "create-vnic", "-l", "nosuch0", "vnic0", rc=1)
    net.fails("dladm", "create-vnic", "vnic0", rc=2)       # no -l
    net.fails("dladm", "create-vnic", "-l", "up0", "-m", "zz", "vnic0", rc=2)
    net.fails("dladm", "create-vnic", "-l", "up0", "-m", "1:0:5e:0:0:1",
              "vnic0", rc=1)                                 # multicast
    net.fails("dladm", "create-vnic", "-l", "up0", "-p", "speed=1", "v0",
              rc=2)
    net.fails("dladm", "create-vlan", "-l", "up0", "-v", "4095", "vlan0",
              rc=2)
    net.fails("dladm", "create-aggr", "aggr0", rc=2)       # no port
    net.fails("dladm", "create-aggr", "-l", "nosuch0", "aggr0", rc=1)
    net.fails("dladm", "create-aggr", "-L", "sometimes", "-l", "up0",
              "aggr0", rc=2)
    net.fails("dladm", "delete-vnic", "stub0", rc=1)      # not a vnic
    net.fails("dladm", "delete-etherstub", "nosuch0", rc=1)
    r = net.fails("dladm", "show-link", "-p", rc=2)
    assert "-o" in r.err
    net.fails("dladm", "show-link", "-o", "link,nosuch", rc=2)
    net.fails("dladm", "show-vnic", "stub0", rc=1)
    net.fails("dladm", "frobnicate", rc=2)
    net.fails("dladm", "show-link", "-z", rc=2)
    # A link that is a nic tag's uplink is a bridge port: no vnic on it.
    net.uplink("up1")
    net.run("nictagadm", "add", "external", "up1")
    r = net.fails("dladm", "create-vnic", "-l", "up1", "vnic0", rc=1)
    assert "port of" in r.err
    after = net.links()
    assert set(after) - set(before) == {"up1", "hbexternal"}


def test_nic_tag_over_etherstub_delete_refused(net):
    net.run("dladm", "create-etherstub", "stub1")
    net.run("nictagadm", "add", "internal", "stub1")
    # The tag uses the etherstub itself as its bridge.
    assert "hbinternal" not in net.links()
    out = net.run("nictagadm", "list", "-p", "-d", "|").out
    assert out.startswith("internal|") and "|stub1|normal" in out
    r = net.fails("dladm", "delete-etherstub", "stub1", rc=1)
    assert "nic tag 'internal'" in r.err
    net.run("nictagadm", "delete", "internal")
    assert "stub1" in net.links()   # dladm's, kept
    net.run("dladm", "delete-etherstub", "stub1")
    assert "stub1" not in net.links()


def test_vlan(net):
    net.uplink("up0")
    if not _vlan_ok(net):
        r = net.fails("dladm", "create-vlan", "-l", "up0", "-v", "5",
                      "vlan5", rc=1)
        assert "no support" in r.err
        assert "vlan5" not in net.links()
        skips.skip("kernel-lacks", "no 802.1Q VLAN support (8021q) in "
                   "this kernel: the refusal was checked")
    net.run("dladm", "create-vlan", "-l", "up0", "-v", "5", "vlan5")
    l = net.links()["vlan5"]
    assert l["linkinfo"]["info_kind"] == "vlan"
    assert l["linkinfo"]["info_data"]["id"] == 5 and l["link"] == "up0"
    assert rows(net.run("dladm", "show-vlan").out) == [
        ["LINK", "VID", "OVER", "FLAGS"], ["vlan5", "5", "up0", "-----"]]
    net.run("dladm", "create-vnic", "-l", "vlan5", "vnic5")
    assert net.run("dladm", "show-vnic", "-p", "-o", "link,over,vid").out \
        == "vnic5:vlan5:5\n"
    net.fails("dladm", "delete-vlan", "vlan5", rc=1)  # busy
    net.run("dladm", "delete-vnic", "vnic5")
    net.run("dladm", "delete-vlan", "vlan5")
    assert "vlan5" not in net.links()


def test_vnic_with_vid(net):
    """create-vnic -v: a macvlan over an 802.1Q link made on the fly,
    shown as the vnic's OVER and VID, gone with its last vnic."""
    net.uplink("up0")
    net.fails("dladm", "create-vnic", "-l", "up0", "-v", "4095", "vnic7",
              rc=2)
    net.fails("dladm", "create-vnic", "-l", "up0", "-v", "x", "vnic7", rc=2)
    vlan_ok = _vlan_ok(net)
    before = set(net.links())
    if not vlan_ok:
        r = net.fails("dladm", "create-vnic", "-l", "up0", "-v", "7",
                      "vnic7", rc=1)
        assert "no 802.1Q VLAN support" in r.err
        assert set(net.links()) == before
        skips.skip("kernel-lacks", "no 802.1Q VLAN support (8021q) in "
                   "this kernel: the refusal was checked")
    usbkey = os.path.join(net.h.root, "usbkey")
    os.makedirs(usbkey)
    open(os.path.join(usbkey, "config"), "w").close()
    net.run("dladm", "create-vnic", "-l", "up0", "-v", "7", "-m",
            "2:0:5e:10:0:41", "vnic7")
    net.run("dladm", "create-vnic", "-l", "up0", "-v", "7", "vnic7b")
    links = net.links()
    q = links[links["vnic7"]["link"]]
    assert links["vnic7"]["linkinfo"]["info_kind"] == "macvlan"
    assert q["linkinfo"]["info_kind"] == "vlan" and q["link"] == "up0"
    assert q["linkinfo"]["info_data"]["id"] == 7
    assert links["vnic7b"]["link"] == q["ifname"]      # shared
    assert set(links) - before == {"vnic7", "vnic7b", q["ifname"]}
    assert net.run("dladm", "show-vnic", "-p", "-o",
                   "link,over,vid,macaddress", "vnic7").out == \
        "vnic7:up0:7:2\\:0\\:5e\\:10\\:0\\:41\n"
    shown = rows(net.run("dladm", "show-link").out)
    assert q["ifname"] not in [r[0] for r in shown]
    assert [r[5] for r in shown if r[0] == "vnic7"] == ["up0"]
    # A reboot: the platform makes both again, on the same VLAN.
    net.ip("ip", "link", "del", "vnic7")
    net.ip("ip", "link", "del", "vnic7b")
    net.ip("ip", "link", "del", q["ifname"])
    net.run("dladm", "init")
    assert net.run("dladm", "show-vnic", "-p", "-o", "link,over,vid").out \
        == "vnic7:up0:7\nvnic7b:up0:7\n"
    net.run("dladm", "delete-vnic", "vnic7")
    q = net.links()[net.links()["vnic7b"]["link"]]
    net.run("dladm", "delete-vnic", "vnic7b")
    assert set(net.links()) == before                 # its vlan went too
    assert q["ifname"] not in net.links()


def _vlan_ok(net):
    net.uplink("probe0")
    r = net.ip("ip", "link", "add", "link", "probe0", "probe1", "type",
               "vlan", "id", "5", check=False)
    net.ip("ip", "link", "del", "probe0", check=False)
    return r.returncode == 0


def _bond_ok(net):
    r = net.ip("ip", "link", "add", "probe1", "type", "bond", check=False)
    net.ip("ip", "link", "del", "probe1", check=False)
    return r.returncode == 0


@pytest.mark.parametrize("lacp", ["off", "active", "passive"])
def test_aggr(net, lacp):
    net.uplink("up0")
    net.uplink("up1")
    if not _bond_ok(net):
        r = net.fails("dladm", "create-aggr", "-L", lacp, "-l", "up0", "-l",
                      "up1", "aggr0", rc=1)
        assert "no support" in r.err
        links = net.links()
        assert "aggr0" not in links and "master" not in links["up0"]
        skips.skip("kernel-lacks", "no bonding driver in this kernel: the "
                   "refusal was checked")
    net.run("dladm", "create-aggr", "-L", lacp, "-T", "short", "-l", "up0",
            "-l", "up1", "aggr0")
    links = net.links()
    bond = links["aggr0"]["linkinfo"]["info_data"]
    assert bond["mode"] == ("active-backup" if lacp == "off" else "802.3ad")
    assert links["up0"]["master"] == "aggr0"
    assert links["up1"]["master"] == "aggr0"
    out = rows(net.run("dladm", "show-aggr").out)
    assert out[0] == ["LINK", "POLICY", "ADDRPOLICY", "LACPACTIVITY",
                      "LACPTIMER", "FLAGS"]
    assert out[1][0] == "aggr0" and out[1][3] == lacp
    assert net.run("dladm", "show-link", "-p", "-o", "class,over",
                   "aggr0").out == "aggr:up0 up1\n"
    # A nic tag over the aggregation, found again by its MAC.
    net.run("nictagadm", "add", "external", "aggr0")
    assert net.links()["aggr0"]["master"] == "hbexternal"
    net.fails("dladm", "delete-aggr", "aggr0", rc=1)  # the tag's uplink
    net.run("nictagadm", "delete", "external")
    net.run("dladm", "delete-aggr", "aggr0")
    links = net.links()
    assert "aggr0" not in links and "master" not in links["up0"]


def test_platform_config_kept_and_applied(net):
    net.uplink("up0")
    usbkey = os.path.join(net.h.root, "usbkey")
    os.makedirs(usbkey)
    with open(os.path.join(usbkey, "config"), "w") as f:
        f.write("# the platform's setup writes this\netherstub=stub7\n")
    r = net.run("dladm", "create-etherstub", "stub0")
    assert r.err == ""   # kept: no note
    net.run("dladm", "create-vnic", "-l", "stub0", "vnic0")
    net.run("dladm", "create-vnic", "-t", "-l", "up0", "vnic9")
    mac = net.links()["vnic0"]["address"]
    path = os.path.join(usbkey, "net.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        stored = json.load(f)
    assert [l["name"] for l in stored["links"]] == ["stub0", "vnic0"]
    assert stored["links"][1]["over"] == "stub0"
    # A reboot: every link gone; init makes them again, vnic0 with the
    # same MAC, and the etherstub the config's etherstub= key names.
    for l in ("vnic0", "vnic9", "stub0"):
        net.ip("ip", "link", "del", l)
    net.run("dladm", "init")
    links = net.links()
    assert links["vnic0"]["address"] == mac
    assert links["vnic0"]["link"] == "stub0"
    assert links["stub7"]["ifalias"] == "hull-etherstub"
    assert "vnic9" not in links
    net.run("dladm", "init")   # again: nothing to do, no error
    net.run("dladm", "delete-vnic", "vnic0")
    with open(path) as f:
        assert [l["name"] for l in json.load(f)["links"]] == ["stub0"]


def test_zone_nic_on_tag_over_etherstub(nshost):
    """A real zone's nic joins a nic tag over a dladm etherstub, and the
    host reaches it through a vnic over the same etherstub."""
    h = nshost
    for cmd in (("dladm", "create-etherstub", "stub1"),
                ("nictagadm", "add", "internal", "stub1"),
                ("dladm", "create-vnic", "-l", "stub1", "vnic0"),
                ("ipadm", "create-addr", "-T", "static", "-a",
                 "192.0.2.1/24", "vnic0/v4")):
        r = in_ns(h.net, h, *cmd)
        assert r.returncode == 0, (cmd, r.stderr)
    payload = {"brand": "lx", "kernel_version": "4.3.0",
               "image_uuid": h.image,
               "alias": "onstub",
               "nics": [{"nic_tag": "internal", "ips": ["192.0.2.41/24"],
                         "primary": True}]}
    r = in_ns(h.net, h, f"{prog('vmadm')} create", input=json.dumps(payload),
              shell=True)
    assert r.returncode == 0, r.stderr
    links = h.net.links()
    ports = [n for n, l in links.items() if l.get("master") == "stub1"]
    assert len(ports) == 1 and ports[0].startswith("hv")
    assert h.net.ping(h.net.ns, "192.0.2.41", count=3)
