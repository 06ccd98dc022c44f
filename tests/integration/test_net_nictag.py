"""nictagadm: nic tags as bridges, in a fresh namespace playing the host."""
import json
import os

from nethelp import net  # noqa: F401  (fixture)

MAC1 = "02:00:5e:10:00:01"


def test_add_list_exists_delete(net):
    net.uplink("up0")
    net.uplink("up1", mac=MAC1)
    net.run("nictagadm", "add", "external", "up0")
    # By MAC, given in any case and without zero padding.
    net.run("nictagadm", "add", "admin", "2:0:5E:10:0:1")
    net.run("nictagadm", "add", "-l", "stub0")
    links = net.links()
    assert links["hbexternal"]["linkinfo"]["info_kind"] == "bridge"
    assert links["up0"]["master"] == "hbexternal"
    assert links["up1"]["master"] == "hbadmin"
    assert links["hbstub0"]["ifalias"] == "hull-tag:stub0"
    up0mac = links["up0"]["address"]

    out = net.run("nictagadm", "list").out.splitlines()
    assert out[0].split() == ["NAME", "MACADDRESS", "LINK", "TYPE"]
    rows = [l.split() for l in out[1:]]
    assert rows == [["admin", MAC1, "up1", "normal"],
                    ["external", up0mac, "up0", "normal"],
                    ["stub0", "-", "-", "etherstub"]]
    assert net.run("nictagadm", "list", "-p").out.splitlines()[0] == \
        "admin:" + MAC1.replace(":", "\\:") + ":up1:normal"
    assert net.run("nictagadm", "list", "-p", "-d", "|").out.splitlines() == [
        f"admin|{MAC1}|up1|normal", f"external|{up0mac}|up0|normal",
        "stub0|-|-|etherstub"]
    assert net.run("nictagadm", "list", "-l", "-p").out == "stub0:-:-:etherstub\n"
    assert "stub0" not in net.run("nictagadm", "list", "-L").out

    net.run("nictagadm", "exists", "external", "stub0")
    r = net.fails("nictagadm", "exists", "external", "nope", "nada", rc=1)
    assert "nope nada" in r.err
    r = net.run("nictagadm", "exists", "-l", "nope", check=False)
    assert r.rc == 1 and r.err == "nope\n"

    with open(os.path.join(net.h.root, "var", "nictags.json")) as f:
        stored = json.load(f)["tags"]
    assert stored["admin"] == {"type": "normal", "mac": MAC1, "link": "up1",
                               "bridge": "hbadmin"}

    net.run("nictagadm", "delete", "external")
    links = net.links()
    assert "hbexternal" not in links
    assert "master" not in links["up0"]
    net.fails("nictagadm", "exists", "external", rc=1)
    net.run("nictagadm", "delete", "stub0")
    assert "hbstub0" not in net.links()


def test_add_refuses_bad_input(net):
    net.uplink("up0")
    net.run("nictagadm", "add", "external", "up0")
    net.fails("nictagadm", "add", "external2", "up0", rc=1)  # link taken
    net.fails("nictagadm", "add", "external", "up0", rc=1)   # exists
    net.fails("nictagadm", "add", "bad-name", "-l", rc=1)
    net.fails("nictagadm", "add", "-l", "stub", rc=1)  # must end in a digit
    net.fails("nictagadm", "add", "x" * 31, "up0", rc=1)
    net.fails("nictagadm", "add", "other", "nosuchlink", rc=1)
    net.fails("nictagadm", "add", "other", "02:00:00:00:99:99", rc=1)
    net.fails("nictagadm", "add", "other", rc=1)  # needs a link
    net.uplink("up9")
    net.ip("ip", "link", "add", "otherbr", "type", "bridge")
    net.ip("ip", "link", "set", "up9", "master", "otherbr")
    r = net.fails("nictagadm", "add", "other", "up9", rc=1)
    assert "already has a master" in r.err
    net.fails("nictagadm", "add", "-l", "-p", "mtu=100", "stub0", rc=1)
    net.fails("nictagadm", "add", "-p", "speed=1", "x", "up0", rc=2)
    net.fails("nictagadm", "frobnicate", rc=2)
    net.fails("nictagadm", "delete", "nope", rc=1)
    net.fails("nictagadm", "vms", "nope", rc=1)
    # Nothing half-made: only the first tag's bridge exists.
    assert sorted(n for n in net.links() if n.startswith("hb")) == ["hbexternal"]
    assert net.links()["up9"]["master"] == "otherbr"
    assert net.run("nictagadm", "list", "-p").out.count("\n") == 1


def test_delete_refused_while_in_use(net):
    net.run("nictagadm", "add", "-l", "stub0")
    uuid = net.record([{"nic_tag": "stub0", "mac": "02:00:00:00:00:01"}])
    assert net.run("nictagadm", "vms", "stub0").out == uuid + "\n"
    r = net.fails("nictagadm", "delete", "stub0", rc=1)
    assert uuid in r.err and "used by 1 instance" in r.err
    assert "hbstub0" in net.links()
    net.run("nictagadm", "delete", "-f", "stub0")
    assert "hbstub0" not in net.links()


def test_update_mtu_and_rebind(net):
    net.uplink("up0")
    net.uplink("up1", mac=MAC1)
    net.run("nictagadm", "add", "-p", "mtu=9000", "external", "up0")
    links = net.links()
    assert links["hbexternal"]["mtu"] == 9000 and links["up0"]["mtu"] == 9000
    net.run("nictagadm", "update", "external", MAC1)
    links = net.links()
    assert links["up1"]["master"] == "hbexternal"
    assert "master" not in links["up0"]
    assert MAC1 in net.run("nictagadm", "list").out
    net.run("nictagadm", "add", "-l", "stub0")
    net.run("nictagadm", "update", "-p", "mtu=1400", "stub0")
    assert net.links()["hbstub0"]["mtu"] == 1400
    net.fails("nictagadm", "update", "stub0", MAC1, rc=1)
    net.fails("nictagadm", "update", "nope", "-p", "mtu=1500", rc=1)


def test_restore_after_reboot(net):
    """A host reboot loses bridges; restore (or first use) remakes them."""
    net.uplink("up0")
    net.run("nictagadm", "add", "external", "up0")
    net.run("nictagadm", "add", "-l", "stub0")
    net.ip("ip", "link", "del", "hbexternal")
    net.ip("ip", "link", "del", "hbstub0")
    net.run("nictagadm", "restore")
    links = net.links()
    assert links["up0"]["master"] == "hbexternal"
    assert "UP" in links["hbstub0"]["flags"]
    # The uplink comes back under another name: found by its MAC.
    net.ip("ip", "link", "del", "hbexternal")
    net.ip("ip", "link", "set", "up0", "name", "eno1")
    net.run("nictagadm", "restore")
    assert net.links()["eno1"]["master"] == "hbexternal"
    assert "eno1" in net.run("nictagadm", "list").out
    # Another link now wears the old name: the MAC decides.
    net.ip("ip", "link", "del", "hbexternal")
    net.uplink("up0")
    net.run("nictagadm", "restore")
    links = net.links()
    assert links["eno1"]["master"] == "hbexternal"
    assert "master" not in links["up0"]
    # First use by an instance remakes a missing bridge too.
    net.ip("ip", "link", "del", "hbstub0")
    ns = net.instance_ns("a")
    uuid = net.record([{"nic_tag": "stub0", "mac": "02:00:00:00:00:01",
                        "ips": ["192.0.2.1/24"]}])
    net.run("hull-net", "setup", uuid, ns)
    assert net.links()["hbstub0"]["linkinfo"]["info_kind"] == "bridge"
    net.run("hull-net", "teardown", uuid)


def test_help(net):
    r = net.run("nictagadm", "-h")
    assert "Usage: nictagadm" in r.out and "exists" in r.out
    assert "Usage: hull-net" in net.run("hull-net", "--help").out
