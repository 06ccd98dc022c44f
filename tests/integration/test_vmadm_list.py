"""vmadm list and lookup: SmartOS columns and widths, -H/-p/-o/-s, filters
(exact, ~regex, numeric < and >, tags./nics. paths), lookup -1/-j/-o."""
import json

import pytest

from conftest import _init_pool
from vmtools import create, install_images, record_nictags, lx, unfreeze, zone

UA = "aaaaaaaa-0000-4000-8000-000000000001"
UB = "bbbbbbbb-0000-4000-8000-000000000002"
UC = "cccccccc-0000-4000-8000-000000000003"


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    """One dir pool with three instances, shared by the read-only tests."""
    import os
    import tempfile
    from conftest import Host, cleanup_root
    wd = tempfile.mkdtemp(prefix="hull-test-")
    host = Host(os.path.join(wd, "zones"), wd)
    try:
        _init_pool(host, "dir")
        install_images(host)
        record_nictags(host)
        create(host, zone(uuid=UA, alias="web01", max_physical_memory=1024,
                          tags={"role": "web", "n": 3},
                          nics=[{"nic_tag": "admin", "ips": ["192.0.2.10/24"]}]))
        create(host, zone(uuid=UB, alias="web02", max_physical_memory=512,
                          tags={"role": "web"}, cpu_cap=50))
        create(host, lx(uuid=UC, max_physical_memory=2048, tags={"role": "db"},
                        nics=[{"nic_tag": "admin", "ips": ["198.51.100.7/24"]},
                              {"nic_tag": "external", "ips": ["203.0.113.7/24"]}]))
        yield host
    finally:
        unfreeze(wd)
        host.run("hull", "fini", check=False)
        cleanup_root(wd)


def test_default_columns_widths_and_sort(three):
    out = three.run("vmadm", "list").out.splitlines()
    assert out[0] == ("UUID" + " " * 34 + "TYPE  RAM      STATE             ALIAS")
    # default sort ram,uuid: 512, 1024, 2048
    assert [l.split()[0] for l in out[1:]] == [UB, UA, UC]
    assert out[1] == f"{UB}  OS    512      stopped           web02"
    assert out[3] == f"{UC}  LX    2048     stopped           -"


def test_header_parsable_columns_sort(three):
    out = three.run("vmadm", "list", "-H", "-o", "uuid,alias").out.splitlines()
    assert len(out) == 3 and not out[0].startswith("UUID")
    out = three.run("vmadm", "list", "-p", "-o", "alias,ram,cpu_cap", "-s", "-ram").out
    assert out.splitlines() == [":2048:", "web01:1024:", "web02:512:50"]
    out = three.run("vmadm", "list", "-H", "-o", "alias", "-s", "+alias").out
    assert out.split() == ["-", "web01", "web02"]
    out = three.run("vmadm", "list", "-o", "uuid,max_physical_memory,cpu_shares").out
    assert out.splitlines()[0] == "UUID" + " " * 34 + "MAX_PHYS  CPU_SHARE"


@pytest.mark.parametrize("flt,want", [
    (["alias=web01"], [UA]),
    (["alias=~^web"], [UB, UA]),
    (["alias=~0[12]$", "ram>600"], [UA]),
    (["ram<1024"], [UB]),
    (["ram>511"], [UB, UA, UC]),
    (["type=LX"], [UC]),
    (["brand=joyent"], [UB, UA]),
    (["tags.role=web"], [UB, UA]),
    (["tags.n=3"], [UA]),
    (["nics.*.nic_tag=external"], [UC]),
    # SmartOS keeps a representative ip beside ips, so a nic given as
    # ips is found by nics.N.ip too
    (["nics.0.ip=192.0.2.10"], [UA]),
    (["nics.1.ips.0=203.0.113.7/24"], [UC]),
    (["state=stopped", "autoboot=false"], [UB, UA, UC]),
    (["uuid=" + UB], [UB]),
    (["alias=nope"], []),
])
def test_filters(three, flt, want):
    out = three.run("vmadm", "list", "-H", "-o", "uuid", *flt).out.split()
    assert out == want
    got = three.run("vmadm", "lookup", *flt).out.split()
    assert sorted(got) == sorted(want)


@pytest.mark.parametrize("args,msg", [
    (["list", "bogus=1"], "bogus"),
    (["list", "ram>lots"], "ram>lots"),
    (["list", "alias=~("], "alias=~("),
    (["list", "-o", "tags.role"], "tags.role"),
    (["list", "-s", "nosuch"], "nosuch"),
    (["lookup", "-1", "tags.role=web"], "2"),
    (["lookup", "-1", "alias=none"], "0"),
])
def test_usage_errors(three, args, msg):
    r = three.fails("vmadm", *args, rc=1)
    assert msg in r.err


def test_lookup_json_and_unique(three):
    assert three.run("vmadm", "lookup", "-1", "alias=web02").out.strip() == UB
    vms = json.loads(three.run("vmadm", "lookup", "-j", "tags.role=db").out)
    assert len(vms) == 1 and vms[0]["uuid"] == UC
    assert vms[0]["state"] == "stopped" and vms[0]["kernel_version"] == "4.3.0"
    vms = json.loads(three.run("vmadm", "lookup", "-j", "-o", "uuid,alias",
                               "alias=~web").out)
    assert sorted(vms, key=lambda v: v["alias"]) == [
        {"uuid": UA, "alias": "web01"}, {"uuid": UB, "alias": "web02"}]
