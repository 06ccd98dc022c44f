"""Helpers for the vmadm tests: a pool with installed images of each type
(made on the spot with imgtools, installed with imgadm), payloads, and
reading what vmadm prints."""
import json
import os
import subprocess

import pytest

from imgtools import image

ZONE_IMG = "1e2c3d4e-0000-4000-8000-00000000a001"
LX_IMG = "1e2c3d4e-0000-4000-8000-00000000a002"
DOCKER_IMG = "1e2c3d4e-0000-4000-8000-00000000a003"
MISSING_IMG = "1e2c3d4e-0000-4000-8000-00000000dead"


def install_images(host):
    d = os.path.join(host.workdir, "imgfiles")
    os.makedirs(d, exist_ok=True)
    for uuid, typ in ((ZONE_IMG, "zone-dataset"), (LX_IMG, "lx-dataset"),
                      (DOCKER_IMG, "docker")):
        _m, mpath, fpath = image(d, name=typ, uuid=uuid, type=typ)
        host.run("imgadm", "install", "-m", mpath, "-f", fpath)
    return host


def record_nictags(host, names=("admin", "external")):
    """vmadm refuses nics on unknown nic tags: record the tags the sample
    payloads name in the pool's tag store, without their bridges (these
    tests never start a zone with nics, so no network is touched)."""
    p = os.path.join(host.root, "var", "nictags.json")
    os.makedirs(os.path.dirname(p), exist_ok=True)
    tags = {}
    if os.path.exists(p):
        with open(p) as f:
            tags = json.load(f).get("tags", {})
    for n in names:
        tags.setdefault(n, {"type": "etherstub"})
    with open(p, "w") as f:
        json.dump({"tags": tags}, f)


def unfreeze(workdir):
    """The dir backend makes image snapshots immutable; let cleanup remove
    them."""
    subprocess.run(["chattr", "-R", "-i", workdir], capture_output=True)


def create(host, payload, **kw):
    """vmadm create from a payload dict; returns the new uuid."""
    r = host.run("vmadm", "create", input=json.dumps(payload), **kw)
    line = [l for l in r.err.splitlines() if l.startswith("Successfully created VM ")]
    assert line, r
    return line[0].split()[-1]


def get(host, uuid):
    return json.loads(host.run("vmadm", "get", uuid).out)


def zone(**kw):
    p = {"brand": "joyent", "image_uuid": ZONE_IMG, "autoboot": False}
    p.update(kw)
    return p


def lx(**kw):
    p = {"brand": "lx", "image_uuid": LX_IMG, "kernel_version": "4.3.0",
         "autoboot": False}
    p.update(kw)
    return p


def uuids(host):
    """Instance uuids on the pool, from `vmadm lookup`."""
    return sorted(host.run("vmadm", "lookup").out.split())


def datasets(host):
    out = host.run("hull", "pool", "list", "-j").out
    return sorted(e["name"] for e in json.loads(out))
