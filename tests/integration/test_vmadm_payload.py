"""vmadm create/validate/get/update/delete with SmartOS payloads: what is
accepted unchanged, what is refused (one line naming the property, nothing
created), defaults, and update rules."""
import json
import os

import pytest

from conftest import _init_pool
from imgtools import state
from vmtools import (DOCKER_IMG, LX_IMG, MISSING_IMG, ZONE_IMG, create,
                     datasets, get, install_images, lx, record_nictags,
                     unfreeze, uuids, zone)


@pytest.fixture
def vmhost(pool, workdir):
    install_images(pool)
    record_nictags(pool)
    yield pool
    unfreeze(workdir)


@pytest.fixture
def dirhost(bare, workdir):
    """A dir-backend pool with images: fast, for the many bad-input cases."""
    _init_pool(bare, "dir")
    bare.backend = "dir"
    install_images(bare)
    record_nictags(bare)
    yield bare
    unfreeze(workdir)
    bare.run("hull", "fini", check=False)


# SmartOS payloads as operators write them for these brands; they must be
# accepted unchanged (only the image uuid is ours).
SAMPLES = [
    {"brand": "joyent", "image_uuid": ZONE_IMG, "alias": "web01",
     "hostname": "web01", "max_physical_memory": 512, "quota": 20,
     "cpu_cap": 100, "cpu_shares": 50, "max_lwps": 4000,
     "zfs_io_priority": 30, "resolvers": ["198.51.100.53", "198.51.100.54"],
     "dns_domain": "example.com", "owner_uuid": "930896af-bf8c-48d4-885c-6573a94b1853",
     "billing_id": "73a1ca34-1e30-48c7-8681-70314a9c67d3",
     "nics": [{"nic_tag": "admin", "ip": "198.51.100.10",
               "netmask": "255.255.255.0", "gateway": "198.51.100.1",
               "primary": True}],
     "customer_metadata": {"user-script": "#!/bin/sh\necho hi\n",
                           "root_authorized_keys": "ssh-ed25519 AAAA x"},
     "internal_metadata": {"operator-script": "true"},
     "tags": {"role": "web", "prod": True, "tier": 3},
     "autoboot": False},
    {"brand": "joyent-minimal", "image_uuid": ZONE_IMG, "ram": 128,
     "autoboot": False, "routes": {"203.0.113.0/24": "nics[0]"},
     "nics": [{"nic_tag": "external", "ips": ["203.0.113.7/24"],
               "gateways": ["203.0.113.1"], "vlan_id": 12,
               "allow_ip_spoofing": False, "mtu": 1500}]},
    {"brand": "lx", "image_uuid": LX_IMG, "kernel_version": "3.13.0",
     "alias": "ubuntu", "max_physical_memory": 1024, "autoboot": False,
     "nics": [{"nic_tag": "admin", "ips": ["dhcp", "addrconf"]}]},
    {"brand": "lx", "image_uuid": DOCKER_IMG, "docker": True,
     "kernel_version": "4.3.0", "autoboot": False,
     "internal_metadata": {"docker:cmd": "[\"/bin/sh\"]",
                           "docker:env": "[\"PATH=/bin\"]"}},
]


@pytest.mark.parametrize("i", range(len(SAMPLES)))
def test_smartos_sample_payloads_validate_and_create(dirhost, i):
    p = SAMPLES[i]
    r = dirhost.run("vmadm", "validate", "create", input=json.dumps(p))
    assert r.out.startswith(f"VALID 'create' payload for {p['brand']} brand VMs.")
    uuid = create(dirhost, p)
    vm = get(dirhost, uuid)
    for k, v in p.items():
        if k == "nics":
            for got, want in zip(vm["nics"], v):
                assert {kk: got[kk] for kk in want} == want
        elif k == "ram" and p["brand"] != "kvm":
            assert vm["max_physical_memory"] == v
        else:
            assert vm[k] == v, k
    assert vm["state"] == "stopped" and vm["zone_state"] == "installed"
    assert vm["uuid"] == uuid and vm["zonename"] == uuid
    assert vm["zonepath"] == os.path.join(dirhost.root, uuid)
    assert os.path.isdir(os.path.join(dirhost.root, uuid, "root", "bin"))


def test_create_on_both_backends_with_quota_and_defaults(vmhost):
    uuid = create(vmhost, zone(alias="a", quota=2, uuid="5b3c3a1e-7a2c-4bd2-9b8c-6c1e7f2a0b11"))
    assert uuid == "5b3c3a1e-7a2c-4bd2-9b8c-6c1e7f2a0b11"
    vm = get(vmhost, uuid)
    assert vm["brand"] == "joyent"
    assert vm["max_physical_memory"] == vm["ram"] == 256
    assert vm["max_swap"] == 256 and vm["max_locked_memory"] == 256
    assert vm["max_lwps"] == 2000 and vm["cpu_shares"] == 100
    assert vm["zfs_io_priority"] == 100 and vm["quota"] == 2
    assert vm["owner_uuid"] == "00000000-0000-0000-0000-000000000000"
    assert vm["create_timestamp"].endswith("Z")
    # what is on disk never holds the derived state
    with open(os.path.join(vmhost.root, uuid, "config", "vm.json")) as f:
        rec = json.load(f)
    assert "state" not in rec and "zone_state" not in rec
    if vmhost.backend == "btrfs":
        ds = [l.split() for l in vmhost.run("hull", "pool", "list", "-H", "-p").out.splitlines()]
        quota = [d for d in ds if d[0] == uuid]
        assert quota and str(2 << 30) in quota[0], ds
    assert uuid in datasets(vmhost)


BAD = [
    ({"ram": "lots"}, "ram"),
    ({"max_physical_memory": 0}, "max_physical_memory"),
    ({"cpu_shares": 100000}, "cpu_shares"),
    ({"max_swap": 100}, "max_swap"),
    ({"autoboot": "yes"}, "autoboot"),
    ({"hostname": "not a host"}, "hostname"),
    ({"resolvers": ["8.8.8"]}, "resolvers"),
    ({"customer_metadata": {"k": 1}}, "customer_metadata"),
    ({"tags": []}, "tags"),
    ({"nics": [{"nic_tag": "admin", "vlan_id": 9999}]}, "nics"),
    ({"nics": [{"ip": "192.0.2.1"}]}, "nics"),
    ({"image_uuid": "not-a-uuid"}, "image_uuid"),
    ({"uuid": "xyz"}, "uuid"),
    ({"max_locked_memory": 4096}, "max_locked_memory"),
]


@pytest.mark.parametrize("change,prop", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_payload_refused_naming_property_nothing_created(dirhost, change, prop):
    before = state(dirhost)
    p = zone(**change)
    r = dirhost.fails("vmadm", "create", input=json.dumps(p), rc=1)
    assert prop in r.err
    assert state(dirhost) == before
    r = dirhost.fails("vmadm", "validate", "create", input=json.dumps(p), rc=1)
    assert prop in r.err
    verdict = json.loads(r.out)
    assert any(prop in verdict.get(k, []) for k in
               ("bad_properties", "bad_values", "missing_properties"))


# SmartOS's create and update drop properties its validate lists as bad
# (VM.js normalizePayload), with a warning line each, and go on.
DROPPED = [({"foo": 1}, "foo"), ({"vcpus": 2}, "vcpus"),
           ({"kernel_version": "3.13.0"}, "kernel_version"),
           ({"docker": True}, "docker"), ({"state": "running"}, "state")]


@pytest.mark.parametrize("change,prop", DROPPED, ids=[d[1] for d in DROPPED])
def test_bad_properties_dropped_with_a_warning(dirhost, change, prop):
    p = zone(**change)
    r = dirhost.fails("vmadm", "validate", "create", input=json.dumps(p), rc=1)
    assert json.loads(r.out)["bad_properties"] == [prop]
    r = dirhost.run("vmadm", "create", input=json.dumps(p))
    assert f"Warning: invalid create property {prop}, removed from the payload" \
        in r.err.splitlines()
    u = r.err.split("Successfully created VM ")[1].split()[0]
    vm = get(dirhost, u)
    assert prop not in vm or vm[prop] != change[prop]


@pytest.mark.parametrize("upd,prop", [
    ({"brand": "lx"}, "brand"), ({"image_uuid": LX_IMG}, "image_uuid"),
    ({"uuid": ZONE_IMG}, "uuid"), ({"customer_metadata": {}}, "customer_metadata"),
    ({"nosuch": 1}, "nosuch")])
def test_update_drops_bad_properties_with_a_warning(dirhost, upd, prop):
    u = create(dirhost, zone(max_physical_memory=512,
                             customer_metadata={"k": "v"}))
    before = get(dirhost, u)
    r = dirhost.run("vmadm", "update", u, input=json.dumps(upd))
    assert f"Warning: invalid update property {prop}, removed from the payload" \
        in r.err.splitlines()
    after = get(dirhost, u)
    for k in ("brand", "image_uuid", "uuid", "customer_metadata"):
        assert after[k] == before[k]
    assert "nosuch" not in after


def test_missing_required_and_bad_brand(dirhost):
    r = dirhost.fails("vmadm", "create", input=json.dumps({"brand": "lx", "image_uuid": LX_IMG}))
    assert "kernel_version" in r.err
    r = dirhost.fails("vmadm", "create", input=json.dumps({"alias": "x"}))
    assert "image_uuid" in r.err
    r = dirhost.fails("vmadm", "validate", "create", input='{"brand":"solaris"}')
    assert json.loads(r.out)["bad_brand"] == '"solaris"'
    # HVM brands are created (test_hvm_vmadm.py); beyond the brand's
    # limits they are refused, naming the property.
    r = dirhost.fails("vmadm", "create", input=json.dumps({"brand": "bhyve", "ram": 512,
                                                           "vcpus": 100}))
    assert "vcpus" in r.err
    assert uuids(dirhost) == []


def test_invalid_json_missing_file_and_image(dirhost):
    before = state(dirhost)
    r = dirhost.fails("vmadm", "create", input='{"alias": ')
    assert r.err.startswith("Invalid JSON payload:")
    r = dirhost.fails("vmadm", "create", "-f", "/nonexistent/p.json")
    assert r.err.strip() == "File: /nonexistent/p.json does not exist."
    r = dirhost.fails("vmadm", "create", input=json.dumps(zone(image_uuid=MISSING_IMG)))
    assert MISSING_IMG in r.err and "not installed" in r.err
    # an image of the wrong type for the brand
    r = dirhost.fails("vmadm", "create", input=json.dumps(zone(image_uuid=LX_IMG)))
    assert "lx-dataset" in r.err and "joyent" in r.err
    r = dirhost.fails("vmadm", "create", input=json.dumps(lx(image_uuid=ZONE_IMG)))
    assert "zone-dataset" in r.err
    r = dirhost.fails("vmadm", "create", input=json.dumps(lx(docker=True)))
    assert "docker" in r.err
    assert state(dirhost) == before


def test_duplicate_uuid_refused_alias_may_repeat(dirhost):
    u = "6a0f1b7c-55a4-4c6e-9a51-2f3a4b5c6d7e"
    create(dirhost, zone(uuid=u, alias="same"))
    r = dirhost.fails("vmadm", "create", input=json.dumps(zone(uuid=u, alias="other")))
    assert u in r.err and "already exists" in r.err
    assert get(dirhost, u)["alias"] == "same"
    # SmartOS does not make aliases unique
    u2 = create(dirhost, zone(alias="same"))
    out = dirhost.run("vmadm", "lookup", "alias=same").out.split()
    assert sorted(out) == sorted([u, u2])


def test_get_unknown_uuid_smartos_message(dirhost):
    u = "0a0a0a0a-0000-4000-8000-000000000000"
    r = dirhost.fails("vmadm", "get", u, rc=1)
    assert r.err.strip() == f"zoneadm: {u}: No such zone configured"


def test_update_rules(dirhost):
    u = create(dirhost, zone(alias="db", max_physical_memory=512,
                             customer_metadata={"a": "1", "b": "2"},
                             tags={"t": "x"}))
    upd = {"set_customer_metadata": {"c": "3"}, "remove_customer_metadata": ["a"],
           "set_internal_metadata": {"operator-script": "x"},
           "set_tags": {"n": 5, "on": True}, "remove_tags": ["t"],
           "max_physical_memory": 1024, "cpu_cap": 200, "alias": "db2"}
    r = dirhost.run("vmadm", "update", u, input=json.dumps(upd))
    assert f"Successfully updated VM {u}" in r.err
    vm = get(dirhost, u)
    assert vm["customer_metadata"] == {"b": "2", "c": "3"}
    assert vm["internal_metadata"] == {"operator-script": "x"}
    assert vm["tags"] == {"n": 5, "on": True}
    assert vm["max_physical_memory"] == 1024 == vm["ram"]
    assert vm["max_swap"] == 1024 and vm["max_locked_memory"] == 1024
    assert vm["cpu_cap"] == 200 and vm["alias"] == "db2"
    # key=value arguments are typed by the property table
    dirhost.run("vmadm", "update", u, "ram=2048", "autoboot=true", "cpu_cap=0",
                "hostname=db-two")
    vm = get(dirhost, u)
    assert vm["max_physical_memory"] == 2048 and vm["autoboot"] is True
    assert "cpu_cap" not in vm and vm["hostname"] == "db-two"
    # nics by mac
    dirhost.run("vmadm", "update", u, input=json.dumps(
        {"add_nics": [{"nic_tag": "admin", "ips": ["192.0.2.9/24"]}]}))
    nic = get(dirhost, u)["nics"][0]
    assert nic["interface"] == "net0" and nic["primary"] is True
    mac = nic["mac"]
    dirhost.run("vmadm", "update", u, input=json.dumps(
        {"update_nics": [{"mac": mac, "vlan_id": 7}]}))
    assert get(dirhost, u)["nics"][0]["vlan_id"] == 7
    dirhost.run("vmadm", "update", u, input=json.dumps({"remove_nics": [mac]}))
    assert get(dirhost, u)["nics"] == []


@pytest.mark.parametrize("upd,prop", [
    ({"ram": "big"}, "ram"),
    ({"max_swap": 257}, "max_swap"),
    ({"update_nics": [{"mac": "02:00:00:00:00:09", "vlan_id": 1}]}, "update_nics"),
])
def test_update_refused_record_unchanged(dirhost, upd, prop):
    u = create(dirhost, zone(max_physical_memory=512))
    path = os.path.join(dirhost.root, u, "config", "vm.json")
    with open(path) as f:
        before = f.read()
    r = dirhost.fails("vmadm", "update", u, input=json.dumps(upd), rc=1)
    assert prop in r.err
    with open(path) as f:
        assert f.read() == before
    r = dirhost.fails("vmadm", "update", u, "ram=lots")
    assert "ram" in r.err


def test_validate_update(dirhost):
    r = dirhost.run("vmadm", "validate", "update", "joyent", input='{"set_tags":{"a":"b"}}')
    assert r.out.strip() == "VALID 'update' payload for joyent brand VMs."
    r = dirhost.fails("vmadm", "validate", "update", "joyent", input='{"kernel_version":"4.0"}')
    assert "kernel_version" in json.loads(r.out)["bad_properties"]
    dirhost.run("vmadm", "validate", "update", "lx", input='{"kernel_version":"4.0"}')


def test_delete_removes_dataset_and_record(vmhost):
    u = create(vmhost, zone())
    assert u in datasets(vmhost)
    r = vmhost.run("vmadm", "delete", u)
    assert f"Successfully deleted VM {u}" in r.err
    assert u not in datasets(vmhost)
    assert not os.path.exists(os.path.join(vmhost.root, u))
    vmhost.fails("vmadm", "get", u)
    vmhost.fails("vmadm", "delete", u)


def test_indestructible_zoneroot(dirhost):
    u = create(dirhost, zone(indestructible_zoneroot=True))
    r = dirhost.fails("vmadm", "delete", u, rc=1)
    assert "indestructible_zoneroot" in r.err
    assert get(dirhost, u)["state"] == "stopped"
    dirhost.run("vmadm", "update", u, "indestructible_zoneroot=false")
    dirhost.run("vmadm", "delete", u)
    assert uuids(dirhost) == []


def test_stdin_tty_and_usage(dirhost):
    r = dirhost.run("vmadm", "create", "extra", check=False)
    assert r.rc == 2
    r = dirhost.run("vmadm", "lookup", "-o", "uuid", check=False)
    assert r.rc == 1 and "Cannot specify -o without -j" in r.err
    r = dirhost.run("vmadm", "--help")
    assert r.rc == 0 and "vmadm create" in r.out


@pytest.mark.parametrize("comp", ["none", "gzip"])
def test_imgadm_create_from_stopped_instance(vmhost, comp):
    u = create(vmhost, zone(alias="src"))
    with open(os.path.join(vmhost.root, u, "root", "etc", "motd"), "w") as f:
        f.write("made in a zone\n")
    prefix = os.path.join(vmhost.workdir, "myimg")
    r = vmhost.run("imgadm", "create", "-c", comp, "-o", prefix, u,
                   "name=myimg", "version=1.2", 'tags={"a":"b"}')
    mpath = prefix + ".imgmanifest"
    fpath = prefix + (".tar.gz" if comp == "gzip" else ".tar")
    assert mpath in r.out and fpath in r.out
    with open(mpath) as f:
        m = json.load(f)
    assert m["origin"] == ZONE_IMG and m["type"] == "zone-dataset"
    assert m["name"] == "myimg" and m["version"] == "1.2" and m["tags"] == {"a": "b"}
    assert m["files"][0]["compression"] == comp
    vmhost.run("imgadm", "install", "-m", mpath, "-f", fpath)
    info = json.loads(vmhost.run("imgadm", "get", m["uuid"]).out)
    assert info["manifest"]["origin"] == ZONE_IMG
    u2 = create(vmhost, zone(image_uuid=m["uuid"]))
    with open(os.path.join(vmhost.root, u2, "root", "etc", "motd")) as f:
        assert f.read() == "made in a zone\n"
    # name and version are required; an unknown VM is one clear line
    r = vmhost.fails("imgadm", "create", "-o", prefix + "2", u, "name=x")
    assert "version" in r.err
    vmhost.fails("imgadm", "create", "0a0a0a0a-0000-4000-8000-000000000000",
                 "name=x", "version=1")


def test_snapshots_create_rollback_delete(vmhost):
    u = create(vmhost, zone(alias="snap"))
    motd = os.path.join(vmhost.root, u, "root", "etc", "motd")

    def write(text):
        with open(motd, "w") as f:
            f.write(text)

    write("one\n")
    r = vmhost.run("vmadm", "create-snapshot", u, "s1")
    assert f"Created snapshot s1 for VM {u}" in r.err
    write("two\n")
    vmhost.run("vmadm", "create-snapshot", u, "s2")
    write("three\n")
    snaps = get(vmhost, u)["snapshots"]
    assert [s["name"] for s in snaps] == ["s2", "s1"]
    assert all(s["created_at"].endswith("Z") for s in snaps)
    vmhost.run("vmadm", "update", u, "alias=after")
    r = vmhost.run("vmadm", "rollback-snapshot", u, "s1")
    assert f"Rolled back VM {u} to snapshot s1" in r.err
    with open(motd) as f:
        assert f.read() == "one\n"
    vm = get(vmhost, u)
    # newer snapshots are gone; the record is not rolled back
    assert [s["name"] for s in vm["snapshots"]] == ["s1"]
    assert vm["alias"] == "after" and vm["state"] == "stopped"
    assert f"{u}@vmsnap-s2" not in vmhost.run("hull", "pool", "list").out
    vmhost.fails("vmadm", "create-snapshot", u, "s1")
    vmhost.fails("vmadm", "create-snapshot", u, "bad/name")
    vmhost.fails("vmadm", "delete-snapshot", u, "nosuch")
    vmhost.fails("vmadm", "rollback-snapshot", u, "s2")
    r = vmhost.run("vmadm", "delete-snapshot", u, "s1")
    assert f"Deleted snapshot s1 for VM {u}" in r.err
    assert get(vmhost, u)["snapshots"] == []
    vmhost.run("vmadm", "create-snapshot", u, "last")
    vmhost.run("vmadm", "delete", u)      # takes its snapshots along
    assert u not in vmhost.run("hull", "pool", "list").out
