"""Warm migration of every brand besides lx (issue 16), through the real
`triton instance migration begin|sync|switch|finalize`, on one head node
and two compute nodes shared by the module (test_head_migrate.py's
start_dc).

A joyent zone (its image a zone-dataset) and a docker instance move with
their dataset as an lx zone does; a bhyve VM (hull-vmm) and a kvm VM
(QEMU) with their disks (the instance's dataset holds them). Data written
before the first sync, between the syncs and after the last one is on the
target, which runs the instance with the same uuid, address and MAC; the
source's copy is gone after finalize. The VMs and the docker instance are
made with vmadm on the compute node and registered in the head node's
store, since hull's CloudAPI cannot create them (yet, or ever: docker
instances are sdc-docker's)."""
import glob
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid as uuidlib

import pytest

import skips
from conftest import cleanup_root, prog
from test_head_api import triton_bin  # noqa: F401  (fixture)
from test_head_migrate import start_dc, stop_dc, write, read, migration


@pytest.fixture(scope="module")
def dc2():
    # Short (socket paths under it), as conftest's workdir.
    workdir = tempfile.mkdtemp(prefix="hull-test-")
    dc = net = None
    try:
        dc, net, by_uuid = start_dc(workdir, 2)
        # The busybox image's file again, as a zone-dataset (os smartos):
        # CloudAPI gives its instances the joyent brand.
        with open(glob.glob(os.path.join(workdir, "bbimg", "*.json"))[0]) \
                as f:
            m = json.load(f)
        m.update(uuid=str(uuidlib.uuid4()), name="busybox-joyent",
                 type="zone-dataset", os="smartos")
        m.get("requirements", {}).pop("brand", None)
        d = os.path.join(workdir, "zoneimg")
        os.makedirs(d)
        mpath = os.path.join(d, "manifest.json")
        with open(mpath, "w") as f:
            json.dump(m, f)
        dc.adm("image", "import", "-m", mpath, "-f",
               glob.glob(os.path.join(workdir, "bbimg", "*.tar"))[0])
        # And as a docker image, for a docker instance.
        dm = dict(m, uuid=str(uuidlib.uuid4()), name="busybox-docker",
                  type="docker", os="linux")
        dpath = os.path.join(d, "docker.json")
        with open(dpath, "w") as f:
            json.dump(dm, f)
        dc.adm("image", "import", "-m", dpath, "-f",
               glob.glob(os.path.join(workdir, "bbimg", "*.tar"))[0])
        dc.docker_image = (dm["uuid"], dpath)
        yield dc, by_uuid, m
    finally:
        stop_dc(dc, net, workdir)
        cleanup_root(workdir)


def migrate_all_phases(dc, tbin, by_uuid, name):
    """begin, sync, sync, switch, finalize, with a file written before
    each sync and before the switch; returns (uuid, target node)."""
    inst = json.loads(dc.triton(tbin, "instance", "get", "-j",
                                name).stdout)
    u, src_uuid = inst["id"], inst["compute_node"]
    src = by_uuid[src_uuid]
    tgt_uuid = next(x for x in by_uuid if x != src_uuid)
    tgt = by_uuid[tgt_uuid]
    nic = src.vm(u)["nics"][0]
    write(src, u, "d1", "before the first sync\n")
    dc.triton(tbin, "instance", "migration", "begin", name)
    dc.triton(tbin, "instance", "migration", "sync", "-w", name,
              timeout=300)
    assert read(tgt, u, "d1") == "before the first sync\n"
    assert tgt.vm(u)["state"] == "stopped"
    write(src, u, "d2", "between the syncs\n")
    dc.triton(tbin, "instance", "migration", "sync", "-w", name,
              timeout=300)
    write(src, u, "d3", "after the last sync\n")
    r = dc.triton(tbin, "instance", "migration", "switch", "-w", name,
                  timeout=300)
    assert "Done - switch finished" in r.stdout, r.stdout
    m = migration(dc, tbin, name)
    assert (m["phase"], m["state"]) == ("switch", "successful"), m
    moved = tgt.vm(u)
    assert moved["state"] == "running", moved
    assert moved["brand"] == inst["brand"]
    assert moved["nics"][0]["mac"] == nic["mac"]
    assert moved["nics"][0]["ip"] == nic["ip"] == inst["primaryIp"]
    for f, text in (("d1", "before the first sync\n"),
                    ("d2", "between the syncs\n"),
                    ("d3", "after the last sync\n")):
        assert read(tgt, u, f) == text, f
    assert src.vm(u)["state"] == "stopped"
    dc.triton(tbin, "instance", "migration", "finalize", name)
    t0 = time.time()
    while src.vm(u) is not None:
        assert time.time() - t0 < 30
        time.sleep(0.3)
    got = json.loads(dc.triton(tbin, "instance", "get", "-j", name).stdout)
    assert got["compute_node"] == tgt_uuid
    return u, tgt


def kvm_small(by_uuid):
    """Skips without a usable /dev/kvm; else lets every node's agent run
    the freestanding test guest (restarted once with the switch)."""
    import vmmlib
    why = vmmlib.kvm_unusable()
    if why is not None:
        skips.skip("no-kvm", why)
    # The test guest runs where stock Linux does not: both agents (which
    # start the VM on the target) get the switch that lets bhyve use it.
    for node in by_uuid.values():
        if node.host.env.get("HULL_TEST_KVM_SMALL") != "1":
            node.host.env["HULL_TEST_KVM_SMALL"] = "1"
            node.agent.kill(signal.SIGTERM)
            node.agent.start()


def test_migrate_joyent_zone(dc2, triton_bin):  # noqa: F811
    dc, by_uuid, img = dc2
    dc.triton(triton_bin, "instance", "create", "-w", "-n", "joy0",
              img["uuid"], "bb-128M")
    inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                "joy0").stdout)
    assert inst["brand"] == "joyent" and inst["state"] == "running", inst
    u, tgt = migrate_all_phases(dc, triton_bin, by_uuid, "joy0")
    assert tgt.vm(u)["brand"] == "joyent"
    # It stays manageable on its new server.
    dc.triton(triton_bin, "instance", "stop", "-w", "joy0")
    assert tgt.vm(u)["state"] == "stopped"


def insert_machine(dc, rec):
    """A machine into the head node's store as a create would leave it
    (test_console_ws.py does the same): hull's CloudAPI cannot create
    bhyve or kvm machines yet."""
    with dc.db() as c:
        c.execute("INSERT INTO records (bucket, key, etag, value, mtime) "
                  "VALUES ('machines', ?, 'e0', ?, 0)",
                  (rec["id"], json.dumps(rec)))
        for field in ("owner", "name", "server"):
            c.execute("INSERT INTO record_index (bucket, key, field, value) "
                      "VALUES ('machines', ?, ?, ?)",
                      (rec["id"], field, rec[field]))


def migrate_vm(dc, tbin, by_uuid, name, payload, boot, ready, mac, ip):
    """Creates a VM from payload on the first node (boot(disks) readies
    its boot disk), registers it with the head node, writes into its data
    disk (the second) before the first sync, between the syncs and after
    the last one, and migrates it through the CLI: every mark is on the
    target, which runs it with the same MAC and address."""
    from test_hvm_vmadm import wait_console
    src_uuid, src = next(iter(by_uuid.items()))
    tgt_uuid, tgt = [(u, n) for u, n in by_uuid.items() if u != src_uuid][0]
    payload = dict(payload, alias=name, autoboot=False,
                   nics=[{"nic_tag": "pub0", "mac": mac,
                          "ips": [ip + "/24"], "primary": True,
                          "model": "virtio"}])
    r = subprocess.run(["ip", "netns", "exec", src.ns, prog("vmadm"),
                        "create"], input=json.dumps(payload),
                       env=src.host.env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr
    u = r.stderr.split("Successfully created VM ")[1].split()[0]
    disks = [d["path"] for d in src.vm(u)["disks"]]
    boot(disks)
    src.run("vmadm", "start", u)
    wait_console(src.host, u, ready, 180)
    with dc.db() as c:
        alice = next(json.loads(v) for (v,) in c.execute(
            "SELECT value FROM records WHERE bucket='accounts'")
            if json.loads(v)["login"] == "alice")
    insert_machine(dc, {
        "id": u, "name": name, "brand": payload["brand"],
        "state": "running", "owner": alice["uuid"], "server": src_uuid,
        "compute_node": src_uuid, "type": "virtualmachine",
        "memory": payload["ram"], "disk": 16, "ips": [ip],
        "primaryIp": ip, "tags": {}, "metadata": {},
        "created": "2026-01-01T00:00:00.000Z",
        "updated": "2026-01-01T00:00:00.000Z"})

    def mark(off, text):
        with open(disks[1], "r+b") as f:
            f.seek(off)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    marks = ((0, b"before the first sync"), (1 << 20, b"between the syncs"),
             (2 << 20, b"after the last sync"))
    mark(*marks[0])
    dc.triton(tbin, "instance", "migration", "begin", name)
    dc.triton(tbin, "instance", "migration", "sync", "-w", name,
              timeout=300)
    assert tgt.vm(u)["state"] == "stopped"
    assert src.vm(u)["state"] == "running"
    mark(*marks[1])
    dc.triton(tbin, "instance", "migration", "sync", "-w", name,
              timeout=300)
    mark(*marks[2])
    r = dc.triton(tbin, "instance", "migration", "switch", "-w", name,
                  timeout=300)
    assert "Done - switch finished" in r.stdout, r.stdout
    moved = tgt.vm(u)
    assert moved["state"] == "running", moved
    assert moved["brand"] == payload["brand"]
    assert moved["nics"][0]["mac"] == mac
    assert moved["nics"][0]["ips"] == [ip + "/24"]
    with open(moved["disks"][1]["path"], "rb") as f:
        data = f.read()
    for off, text in marks:
        assert data[off:off + len(text)] == text, text
    wait_console(tgt.host, u, ready, 180)
    assert src.vm(u)["state"] == "stopped"
    dc.triton(tbin, "instance", "migration", "finalize", name)
    t0 = time.time()
    while src.vm(u) is not None:
        assert time.time() - t0 < 30
        time.sleep(0.3)
    tgt.run("vmadm", "stop", u, "-t", "60")


def test_migrate_bhyve_vm(dc2, triton_bin):  # noqa: F811
    """A bhyve VM under hull-vmm (the freestanding test guest, which
    powers off on the ACPI button) with a boot and a data disk."""
    from hvmlib import make_guest_disk
    dc, by_uuid, _img = dc2
    kvm_small(by_uuid)
    workdir = os.path.dirname(os.path.dirname(
        next(iter(by_uuid.values())).host.root))
    migrate_vm(dc, triton_bin, by_uuid, "vm0",
               {"brand": "bhyve", "ram": 64,
                "disks": [{"size": 8, "boot": True}, {"size": 4}]},
               lambda disks: make_guest_disk(workdir, disks[0],
                                             "test=acpibutton"),
               "waiting for the power button", "02:00:00:00:16:01",
               "203.0.113.240")


def test_migrate_kvm_vm(dc2, triton_bin):  # noqa: F811
    """A kvm VM under QEMU (TCG where KVM cannot run it), booted from the
    guest image (hvmlib), with a data disk."""
    import hvmlib
    from test_hvm_vmadm import READY, qemu_present
    if not qemu_present():
        raise AssertionError("qemu-system-x86_64 is not installed: "
                             "run scripts/deps")
    dc, by_uuid, _img = dc2
    src = next(iter(by_uuid.values()))
    _, manifest, zvol = hvmlib.guest_image("grub", "mbr")
    with open(manifest) as f:
        img = json.load(f)["uuid"]
    src.run("imgadm", "install", "-m", manifest, "-f", zvol)
    migrate_vm(dc, triton_bin, by_uuid, "kvm0",
               {"brand": "kvm", "ram": 256,
                "disks": [{"image_uuid": img, "boot": True}, {"size": 4}]},
               lambda disks: None, READY, "02:00:00:00:16:02",
               "203.0.113.241")


def test_migrate_docker_zone(dc2, triton_bin):  # noqa: F811
    """A docker instance (an lx zone with `docker: true`, its command its
    init) moves with its dataset as an lx zone does. Triton creates those
    through sdc-docker, which hull lacks: made with vmadm on the compute
    node, registered as test_migrate_bhyve_vm's VM is."""
    dc, by_uuid, _img = dc2
    src_uuid, src = next(iter(by_uuid.items()))
    ip = "203.0.113.242"
    workdir = os.path.dirname(os.path.dirname(src.host.root))
    img, dpath = dc.docker_image
    src.run("imgadm", "install", "-m", dpath, "-f",
            glob.glob(os.path.join(workdir, "bbimg", "*.tar"))[0])
    payload = {
        "brand": "lx", "docker": True, "kernel_version": "4.3.0",
        "alias": "dock0", "image_uuid": img, "max_physical_memory": 128,
        "autoboot": True,
        "internal_metadata": {
            "docker:entrypoint": json.dumps(["/bin/sh", "-c"]),
            "docker:cmd": json.dumps(
                ["trap 'exit 0' TERM; while :; do sleep 1; done"])},
        "nics": [{"nic_tag": "pub0", "mac": "02:00:00:00:16:03",
                  "ips": [ip + "/24"], "primary": True}]}
    r = subprocess.run(["ip", "netns", "exec", src.ns, prog("vmadm"),
                        "create"], input=json.dumps(payload),
                       env=src.host.env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr
    u = r.stderr.split("Successfully created VM ")[1].split()[0]
    assert src.vm(u)["state"] == "running"
    with dc.db() as c:
        alice = next(json.loads(v) for (v,) in c.execute(
            "SELECT value FROM records WHERE bucket='accounts'")
            if json.loads(v)["login"] == "alice")
    insert_machine(dc, {
        "id": u, "name": "dock0", "brand": "lx", "docker": True,
        "state": "running", "owner": alice["uuid"], "server": src_uuid,
        "compute_node": src_uuid, "type": "smartmachine", "memory": 128,
        "disk": 1024, "image": img, "ips": [ip], "primaryIp": ip,
        "tags": {}, "metadata": {}, "created": "2026-01-01T00:00:00.000Z",
        "updated": "2026-01-01T00:00:00.000Z"})
    u2, tgt = migrate_all_phases(dc, triton_bin, by_uuid, "dock0")
    assert u2 == u
    moved = tgt.vm(u)
    assert moved["docker"] is True
    assert moved["internal_metadata"]["docker:cmd"] == \
        payload["internal_metadata"]["docker:cmd"]
