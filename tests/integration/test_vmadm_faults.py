"""vmadm under faults: create killed (-9) at each step leaves no trace or a
`failed` instance that delete removes; a full pool is one clear error with
nothing left; concurrent commands on one instance are serialised by its
lock; a duplicate uuid raced by two creates yields exactly one instance.

HULL_TEST_CRASH_AT=<step> makes vmadm create SIGKILL itself right after
the step: pending (record written), clone (dataset made), quota, record
(vm.json written), done (pending record removed)."""
import json
import os
import subprocess
import threading

import pytest

from conftest import _init_pool, prog
from imgtools import state
from vmtools import ZONE_IMG, create, get, install_images, unfreeze, uuids, zone


def pool_state(host):
    """imgtools.state, less what the first create makes and keeps: vmadm's
    own (empty) bookkeeping folders, the firewall's lock and the pool's
    server uuid."""
    names, files = state(host)
    return names, [f for f in files
                   if f[0] not in ("var/vmadm", "var/vmadm/pending",
                                   "var/server-uuid", "var/fw",
                                   "var/fw/.lockfile")]


@pytest.fixture
def vmhost(pool, workdir):
    install_images(pool)
    yield pool
    unfreeze(workdir)


@pytest.fixture
def dirhost(bare, workdir):
    _init_pool(bare, "dir")
    bare.backend = "dir"
    install_images(bare)
    yield bare
    unfreeze(workdir)
    bare.run("hull", "fini", check=False)


@pytest.mark.parametrize("step,after", [
    ("pending", "failed"), ("clone", "failed"), ("quota", "failed"),
    ("record", "stopped"), ("done", "stopped")])
def test_create_killed_at_each_step(vmhost, step, after):
    before = pool_state(vmhost)
    u = "d0d0d0d0-0000-4000-8000-00000000c001"
    r = vmhost.run("vmadm", "create", input=json.dumps(zone(uuid=u, alias="k")),
                   env={"HULL_TEST_CRASH_AT": step}, check=False)
    assert r.rc == -9, r
    # never half an instance: either failed or complete, and listed
    out = vmhost.run("vmadm", "list", "-H", "-o", "uuid,state,alias").out.split()
    assert out == [u, after, "k"]
    vm = get(vmhost, u)
    assert vm["state"] == after and vm["image_uuid"] == ZONE_IMG
    if after == "failed":
        vmhost.fails("vmadm", "start", u)
        vmhost.fails("vmadm", "update", u, "alias=x")
    # a second create with the same uuid is refused, not merged
    vmhost.fails("vmadm", "create", input=json.dumps(zone(uuid=u)))
    vmhost.run("vmadm", "delete", u)
    assert uuids(vmhost) == []
    after_names, after_files = pool_state(vmhost)
    assert sorted(set(after_names) ^ set(before[0])) == []
    assert sorted(set(after_files) ^ set(before[1])) == []


def test_full_pool(bare, workdir):
    """A pool on a small tmpfs (dir backend): filling it makes the clone
    fail; the create is one line and leaves nothing."""
    os.makedirs(bare.root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "hull-test", bare.root],
                   check=True)
    try:
        _init_pool(bare, "dir")
        install_images(bare)
        # the image is small; pad its root so a clone needs ~1 MiB
        subprocess.run(["chattr", "-R", "-i", bare.root], capture_output=True)
        before = None
        fill = os.path.join(bare.root, "var", "filler")
        with open(fill, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        before = pool_state(bare)
        r = bare.fails("vmadm", "create", input=json.dumps(zone()), rc=1)
        assert "No space left on device" in r.err
        assert uuids(bare) == []
        assert pool_state(bare) == before
        os.unlink(fill)
        u = create(bare, zone())
        assert get(bare, u)["state"] == "stopped"
    finally:
        subprocess.run(["chattr", "-R", "-i", bare.root], capture_output=True)
        subprocess.run(["umount", "-l", bare.root], capture_output=True)


def test_concurrent_updates_serialised(dirhost):
    u = create(dirhost, zone())
    n = 12
    procs = [subprocess.Popen(
        [prog("vmadm"), "update", u],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dirhost.env, text=True) for _ in range(n)]
    for i, p in enumerate(procs):
        p.stdin.write(json.dumps({"set_tags": {f"k{i}": i}}))
        p.stdin.close()
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    # with no lock, read-modify-write races would lose tags
    assert get(dirhost, u)["tags"] == {f"k{i}": i for i in range(n)}


def test_concurrent_create_same_uuid(dirhost):
    u = "e1e1e1e1-0000-4000-8000-00000000c002"
    results = []

    def run():
        results.append(dirhost.run("vmadm", "create", input=json.dumps(zone(uuid=u)),
                                   check=False))
    ts = [threading.Thread(target=run) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(r.rc for r in results) == [0, 1, 1, 1], results
    assert all("already exists" in r.err for r in results if r.rc)
    assert uuids(dirhost) == [u]
    assert get(dirhost, u)["state"] == "stopped"


def test_delete_while_update_waits_for_lock(dirhost):
    """A command holding the instance lock makes others wait, not fail."""
    u = create(dirhost, zone())
    lock = os.path.join(dirhost.root, u, "config", ".lock")
    holder = subprocess.Popen(["flock", "-x", lock, "sh", "-c",
                               "echo held; sleep 1"], stdout=subprocess.PIPE)
    try:
        import time
        assert holder.stdout.readline() == b"held\n"  # the lock is taken
        t0 = time.monotonic()
        dirhost.run("vmadm", "update", u, "alias=late")
        assert time.monotonic() - t0 >= 0.5
    finally:
        holder.wait()
        holder.stdout.close()
    assert get(dirhost, u)["alias"] == "late"


def test_dataset_without_record_shows_failed(dirhost):
    """What a host crash can leave of a create whose pending record never
    reached the disk: an instance dataset with no record. It is listed as
    failed, and delete removes it."""
    u = "f0f0f0f0-0000-4000-8000-00000000c003"
    dirhost.run("hull", "pool", "create", u)
    out = dirhost.run("vmadm", "list", "-H", "-o", "uuid,state").out.split()
    assert out == [u, "failed"]
    dirhost.fails("vmadm", "create", input=json.dumps(zone(uuid=u)))
    dirhost.run("vmadm", "delete", u)
    assert uuids(dirhost) == [] and u not in dirhost.run("hull", "pool", "list").out


def test_clone_without_metadata_is_deleted(dirhost):
    """What a create killed inside the pool's clone leaves (the clone made,
    its metadata not yet): an instance's folder that the pool does not
    know as a dataset. It is listed as failed, and delete removes it
    (the pool's sweep), so that it is not listed again."""
    u = "f0f0f0f0-0000-4000-8000-00000000c004"
    os.makedirs(os.path.join(dirhost.root, u, "root", "etc"))
    assert u not in dirhost.run("hull", "pool", "list").out
    out = dirhost.run("vmadm", "list", "-H", "-o", "uuid,state").out.split()
    assert out == [u, "failed"]
    # Its uuid is taken until then.
    dirhost.fails("vmadm", "create", input=json.dumps(zone(uuid=u)))
    dirhost.run("vmadm", "delete", u)
    assert uuids(dirhost) == []
    assert not os.path.exists(os.path.join(dirhost.root, u))
