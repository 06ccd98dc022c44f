"""Payload forms SmartOS takes and converts (VM.js normalizePayload,
validateProperty; nic.js upgradeNic): integers as strings, booleans as 1
or "1", properties it does not know dropped with a warning on create and
update, nics in the older ip/netmask/gateway form upgraded to ips and
gateways with a representative ip/netmask/gateway kept beside them."""
import json
import os

import pytest

from test_vmadm_payload import dirhost  # noqa: F401 (fixture)
from vmtools import create, get, record_nictags, zone


def record(host, u):
    with open(os.path.join(host.root, u, "config", "vm.json")) as f:
        return json.load(f)


# The shape of SmartOS's bhyve how-to: ram and vcpus as strings, an
# old-form nic, a blank boot disk.
BHYVE_HOWTO = {
    "brand": "bhyve", "alias": "howto", "autoboot": False,
    "ram": "1024", "vcpus": "2", "resolvers": ["198.51.100.53"],
    "nics": [{"nic_tag": "admin", "ip": "192.0.2.52",
              "netmask": "255.255.255.0", "gateway": "192.0.2.1",
              "model": "virtio", "primary": True}],
    "disks": [{"size": 8, "boot": True, "model": "virtio"}],
}


def test_bhyve_howto_string_integers_converted(btrfs_pool):
    h = btrfs_pool
    record_nictags(h)
    r = h.run("vmadm", "validate", "create", input=json.dumps(BHYVE_HOWTO))
    assert r.out.strip() == "VALID 'create' payload for bhyve brand VMs."
    u = create(h, BHYVE_HOWTO)
    vm = get(h, u)
    assert vm["ram"] == 1024 and vm["vcpus"] == 2
    assert vm["max_physical_memory"] == 1024 + 1280
    rec = record(h, u)
    assert rec["ram"] == 1024 and isinstance(rec["vcpus"], int)
    nic = vm["nics"][0]
    assert nic["ips"] == ["192.0.2.52/24"] and nic["gateways"] == ["192.0.2.1"]
    assert nic["ip"] == "192.0.2.52" and nic["netmask"] == "255.255.255.0"
    h.run("vmadm", "delete", u)


@pytest.mark.parametrize("ram,ok", [("512", True), (" 512 ", True),
                                    ("5e2", True), ("512MB", False),
                                    ("0x200", False), ("512.5", False),
                                    ("", True)])
def test_which_integer_strings_convert(dirhost, ram, ok):
    p = zone(ram=ram)
    if not ok:
        r = dirhost.fails("vmadm", "create", input=json.dumps(p), rc=1)
        assert r.err.strip() == "Invalid value for ram: must be an integer"
        assert dirhost.run("vmadm", "lookup").out.strip() == ""
        return
    u = create(dirhost, p)
    want = 256 if ram == "" else int(float(ram))
    assert get(dirhost, u)["max_physical_memory"] == want
    # an update takes them too, and key=value always did
    dirhost.run("vmadm", "update", u, input='{"max_physical_memory": "768"}')
    assert get(dirhost, u)["max_physical_memory"] == 768


def test_template_booleans_given_as_1(dirhost):
    p = zone(autoboot="false", indestructible_zoneroot="1",
             nics=[{"nic_tag": "admin", "ips": ["192.0.2.20/24"],
                    "primary": 1, "dhcp_server": "1",
                    "allow_ip_spoofing": "false"}])
    r = dirhost.run("vmadm", "validate", "create", input=json.dumps(p))
    assert "VALID" in r.out
    assert "DEPRECATED: indestructible_zoneroot is given as 1; use true" in r.err
    r = dirhost.run("vmadm", "create", input=json.dumps(p))
    warnings = [l for l in r.err.splitlines() if l.startswith("DEPRECATED")]
    assert sorted(warnings) == [
        "DEPRECATED: indestructible_zoneroot is given as 1; use true",
        "DEPRECATED: nics.*.dhcp_server is given as 1; use true",
        "DEPRECATED: nics.*.primary is given as 1; use true"]
    u = r.err.split("Successfully created VM ")[1].split()[0]
    vm = get(dirhost, u)
    assert vm["autoboot"] is False and vm["indestructible_zoneroot"] is True
    nic = vm["nics"][0]
    assert nic["primary"] is True and nic["dhcp_server"] is True
    assert nic["allow_ip_spoofing"] is False
    # 0 and "0" are not booleans to SmartOS either
    r = dirhost.fails("vmadm", "create", input=json.dumps(zone(autoboot=0)), rc=1)
    assert r.err.strip() == "Invalid value for autoboot: must be true or false"
    dirhost.run("vmadm", "update", u, input='{"indestructible_zoneroot": "false"}')
    assert get(dirhost, u)["indestructible_zoneroot"] is False


def test_unknown_and_deprecated_properties_dropped_with_a_warning(dirhost):
    p = zone(alias="dropme", comment="made by hand",
             default_gateway="192.0.2.1", cpu_type="host",
             nics=[{"nic_tag": "admin", "ips": ["192.0.2.30/24"],
                    "physical": "net0", "index": 0}])
    r = dirhost.fails("vmadm", "validate", "create", input=json.dumps(p), rc=1)
    assert sorted(json.loads(r.out)["bad_properties"]) == [
        "comment", "cpu_type", "default_gateway", "nics.*.index",
        "nics.*.physical"]
    r = dirhost.run("vmadm", "create", input=json.dumps(p))
    dropped = sorted(l for l in r.err.splitlines() if l.startswith("Warning"))
    assert dropped == [
        f"Warning: invalid create property {k}, removed from the payload"
        for k in ("comment", "cpu_type", "default_gateway", "nics.*.index",
                  "nics.*.physical")]
    u = r.err.split("Successfully created VM ")[1].split()[0]
    rec = record(dirhost, u)
    for k in ("comment", "default_gateway", "cpu_type"):
        assert k not in rec
    assert set(rec["nics"][0]) >= {"nic_tag", "ips", "mac", "interface"}
    assert "physical" not in rec["nics"][0] and "index" not in rec["nics"][0]
    assert rec["alias"] == "dropme"
    # a bad value still refuses the whole payload, nothing created
    bad = dict(p, ram="lots")
    r = dirhost.fails("vmadm", "create", input=json.dumps(bad), rc=1)
    assert r.err.strip() == "Invalid value for ram: must be an integer"
    assert dirhost.run("vmadm", "lookup").out.split() == [u]


def test_update_drops_add_nics_physical_and_index(dirhost):
    u = create(dirhost, zone(alias="upd"))
    upd = {"alias": "upd2", "brand": "lx", "nosuch": 1,
           "add_nics": [{"nic_tag": "admin", "physical": "net0", "index": 0,
                         "ip": "192.0.2.40", "netmask": "255.255.255.0",
                         "gateway": "192.0.2.1"}]}
    r = dirhost.run("vmadm", "update", u, input=json.dumps(upd))
    dropped = sorted(l for l in r.err.splitlines() if l.startswith("Warning"))
    assert dropped == [
        f"Warning: invalid update property {k}, removed from the payload"
        for k in ("brand", "nics.*.index", "nics.*.physical", "nosuch")]
    assert f"Successfully updated VM {u}" in r.err
    vm = get(dirhost, u)
    assert vm["alias"] == "upd2" and vm["brand"] == "joyent"
    nic = vm["nics"][0]
    assert "physical" not in nic and "index" not in nic
    assert nic["ips"] == ["192.0.2.40/24"] and nic["ip"] == "192.0.2.40"
    assert nic["gateways"] == ["192.0.2.1"] and nic["gateway"] == "192.0.2.1"
    # update_nics changing only ip keeps the netmask, only netmask keeps ip
    mac = nic["mac"]
    dirhost.run("vmadm", "update", u, input=json.dumps(
        {"update_nics": [{"mac": mac, "ip": "192.0.2.41"}]}))
    nic = get(dirhost, u)["nics"][0]
    assert nic["ips"] == ["192.0.2.41/24"] and nic["netmask"] == "255.255.255.0"
    dirhost.run("vmadm", "update", u, input=json.dumps(
        {"update_nics": [{"mac": mac, "netmask": "255.255.0.0"}]}))
    nic = get(dirhost, u)["nics"][0]
    assert nic["ips"] == ["192.0.2.41/16"] and nic["ip"] == "192.0.2.41"
    # to IPv6 only: no representative IPv4 address is left
    dirhost.run("vmadm", "update", u, input=json.dumps(
        {"update_nics": [{"mac": mac, "ips": ["2001:db8::41/64"],
                          "gateways": ["2001:db8::1"]}]}))
    nic = get(dirhost, u)["nics"][0]
    assert nic["ips"] == ["2001:db8::41/64"]
    for k in ("ip", "netmask", "gateway"):
        assert k not in nic
    r = dirhost.fails("vmadm", "update", u, input=json.dumps(
        {"update_nics": [{"mac": mac, "ip": "192.0.2.42"}]}), rc=1)
    assert "exactly one IPv4 address" in r.err


REPR = [
    ({"ip": "192.0.2.50", "netmask": "255.255.255.0", "gateway": "192.0.2.1"},
     {"ips": ["192.0.2.50/24"], "gateways": ["192.0.2.1"], "ip": "192.0.2.50",
      "netmask": "255.255.255.0", "gateway": "192.0.2.1"}),
    ({"ips": ["2001:db8::50/64", "192.0.2.51/25", "192.0.2.52/24"],
      "gateways": ["2001:db8::1", "192.0.2.1"]},
     {"ips": ["2001:db8::50/64", "192.0.2.51/25", "192.0.2.52/24"],
      "gateways": ["2001:db8::1", "192.0.2.1"], "ip": "192.0.2.51",
      "netmask": "255.255.255.128", "gateway": "192.0.2.1"}),
    ({"ips": ["2001:db8::53/64"]}, {"ips": ["2001:db8::53/64"]}),
    ({"ip": "dhcp"}, {"ips": ["dhcp"], "ip": "dhcp"}),
    ({"ips": ["addrconf", "dhcp"]}, {"ips": ["addrconf", "dhcp"], "ip": "dhcp"}),
    ({"ips": ["addrconf"]}, {"ips": ["addrconf"]}),
]


@pytest.mark.parametrize("given,stored", REPR, ids=[
    "old-form", "several", "ipv6-only", "dhcp", "addrconf-dhcp", "addrconf"])
def test_nic_forms_kept_side_by_side_and_looked_up(dirhost, given, stored):
    nic = dict(given, nic_tag="admin")
    u = create(dirhost, zone(nics=[nic]))
    got = get(dirhost, u)["nics"][0]
    assert {k: got[k] for k in got if k in
            ("ip", "netmask", "gateway", "ips", "gateways")} == stored
    assert record(dirhost, u)["nics"][0]["ips"] == stored["ips"]
    if "ip" in stored:
        out = dirhost.run("vmadm", "lookup", f"nics.*.ip={stored['ip']}").out
        assert out.split() == [u]


def test_bad_old_form_nics_refused(dirhost):
    for nic, msg in [
            ({"ip": "192.0.2.60"}, "ip 192.0.2.60 needs a netmask"),
            ({"ip": "192.0.2.60", "netmask": "255.0.255.0"},
             "netmask must be an IPv4 netmask")]:
        r = dirhost.fails("vmadm", "create", input=json.dumps(
            zone(nics=[dict(nic, nic_tag="admin")])), rc=1)
        assert msg in r.err and len(r.err.strip().splitlines()) == 1
    assert dirhost.run("vmadm", "lookup").out.strip() == ""


def test_nowait_not_stored(dirhost):
    u = create(dirhost, zone(nowait=True))
    assert "nowait" not in get(dirhost, u)
    assert "nowait" not in record(dirhost, u)


def test_old_form_nic_as_cloud_init_reads_it(dirhost):
    """sdc:nics serves the record's nics (unit-tested in
    test_metadata_resolve.c); with ips beside ip, Debian 12's cloud-init
    SmartOS datasource configures the address (with ip alone it made
    none)."""
    try:
        from cloudinit.sources import DataSourceSmartOS as ds
    except ImportError:
        pytest.fail("Debian's cloud-init is not installed: run scripts/deps --test")
    u = create(dirhost, zone(nics=[{
        "nic_tag": "admin", "ip": "192.0.2.70", "netmask": "255.255.255.0",
        "gateway": "192.0.2.1", "primary": 1}]))
    nics = get(dirhost, u)["nics"]
    cfg = ds.convert_smartos_network_data(network_data=nics)
    phys = [c for c in cfg["config"] if c["type"] == "physical"]
    assert phys[0]["subnets"] == [{"type": "static", "address": "192.0.2.70/24",
                                   "gateway": "192.0.2.1"}]
