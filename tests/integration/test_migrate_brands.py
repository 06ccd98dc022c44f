"""Warm migration of the zone brands besides lx (issue 16), through the
real `triton instance migration begin|sync|switch|finalize`, on one head
node and two compute nodes shared by the module (test_head_migrate.py's
start_dc).

A joyent zone (its image a zone-dataset) moves with its dataset as an lx
zone does: a file written before the first sync, one between the syncs and
one after the last are all on the target, which runs it with the same uuid,
address and MAC; the source's copy is gone after finalize."""
import glob
import json
import os
import tempfile
import time
import uuid as uuidlib

import pytest

from conftest import cleanup_root
from test_head_api import triton_bin  # noqa: F401  (fixture)
from test_head_migrate import start_dc, write, read, migration
from vmtools import unfreeze


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
        yield dc, by_uuid, m
    finally:
        if dc:
            dc.close()
        if net:
            net.close()
        unfreeze(workdir)
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
