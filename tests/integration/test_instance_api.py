"""The instance library (include/hull/instance.h) driven from C with no CLI
in the loop: tests/api/hull-api-test creates, starts, snapshots, rolls
back, stops and deletes a real busybox zone through the API alone, and
races threads and processes on one instance. The pool, its image and the
cgroup parent are the test's own; what the program leaves is checked from
outside."""
import glob
import json
import os
import subprocess
import uuid as uuidlib

import pytest

from conftest import BUILD, ROOT, _init_pool, prog
from vmtools import unfreeze
from zonekit import cgroup_dirs, cgroup_remove

API_TEST = os.path.join(BUILD, "tests", "api", "hull-api-test")


@pytest.fixture
def apihost(bare, workdir):
    """A btrfs pool with the busybox image and a cgroup parent of its own."""
    parent = "hull-t-" + uuidlib.uuid4().hex[:8]
    bare.env["HULL_CGROUP_PARENT"] = parent
    # The test program is not beside the supervisor in the build tree.
    bare.env["HULL_SUPERVISOR"] = prog("hull-supervisor")
    _init_pool(bare, "btrfs")
    d = os.path.join(workdir, "bb")
    os.makedirs(d)
    subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o", d,
                    "-c", "none"], check=True, capture_output=True)
    mpath = glob.glob(os.path.join(d, "*.json"))[0]
    with open(mpath) as f:
        bare.image = json.load(f)["uuid"]
    bare.run("imgadm", "install", "-m", mpath,
             "-f", glob.glob(os.path.join(d, "*.tar"))[0])
    bare.parent = parent
    try:
        yield bare
    finally:
        for u in bare.run("vmadm", "lookup", check=False).out.split():
            bare.run("vmadm", "delete", u, check=False)
        bare.run("hull", "fini", check=False)
        cgroup_remove(parent)
        unfreeze(workdir)


def run_api(host, *args, timeout=300):
    cp = subprocess.run([API_TEST, *args], capture_output=True, text=True,
                        env=host.env, timeout=timeout)
    assert cp.returncode == 0, f"rc={cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp.stdout.splitlines()


def instances(host):
    """What is left in the pool root: instance folders and records."""
    return [e for e in os.listdir(host.root)
            if len(e) == 36 and os.path.isdir(os.path.join(host.root, e))]


def supervisors():
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True,
                         text=True).stdout
    return [l for l in out.splitlines() if "hull-supervisor" in l]


def test_lifecycle_through_the_library(apihost):
    out = run_api(apihost, "lifecycle", apihost.image)
    assert out[0].startswith("ok create ")
    uuid = out[0].split()[-1]
    assert [l.split()[1] for l in out] == [
        "create", "list", "start", "snapshot", "rollback", "stop",
        "delete-snapshot", "delete", "events", "autoboot"]
    # Gone for the CLI too, and from the pool, the host and the cgroups.
    r = apihost.run("vmadm", "get", uuid, check=False)
    assert r.rc == 1 and uuid in r.err
    assert uuid not in instances(apihost)
    assert instances(apihost) == []  # the autoboot one went too
    assert not [s for s in supervisors() if uuid in s]
    assert not any(os.path.isdir(os.path.join(d, uuid))
                   for d in cgroup_dirs(apihost.parent))


def test_concurrent_calls_are_serialised(apihost):
    out = run_api(apihost, "race", apihost.image)
    assert out == ["ok concurrent updates", "ok lock blocks",
                   "ok concurrent snapshots", "ok concurrent start/stop",
                   "ok delete"]
    assert instances(apihost) == []
    assert apihost.run("vmadm", "lookup").out.split() == []
