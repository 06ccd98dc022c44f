"""bhyve machines through CloudAPI (issue 14), with the real `triton`
7.17.0 CLI on a head node and two compute nodes (test_head_migrate.py's
start_dc).

The operator imports a zvol image (a raw disk file, as imgadm imports
zvol images here) with `hulladm image import`; a package with `--brand
bhyve` and that image make an HVM payload as Triton's CloudAPI and VMAPI
do (ram and vcpus from the package, the image's disk to boot from, a data
disk of the package's size, a 10 GiB zone root quota, virtio nics); the
agent imports the image from the head node's IMGAPI and the VM runs there
under hull-vmm. A package whose brand the image cannot boot is refused
with InvalidArgument and nothing written."""
import hashlib
import json
import os
import tempfile
import uuid as uuidlib

import pytest

from conftest import cleanup_root
from test_head_api import triton_bin  # noqa: F401  (fixture)
from test_head_migrate import start_dc, stop_dc


@pytest.fixture(scope="module")
def dc2():
    workdir = tempfile.mkdtemp(prefix="hull-test-")
    dc = net = None
    try:
        dc, net, by_uuid = start_dc(workdir, 2)
        yield dc, by_uuid, workdir
    finally:
        stop_dc(dc, net, workdir)
        cleanup_root(workdir)


def zvol_image(dc, workdir, name, brand, disk):
    """Writes a zvol manifest for the raw disk file disk (requirements
    naming brand) and imports it with hulladm; returns its uuid."""
    with open(disk, "rb") as f:
        data = f.read()
    u = str(uuidlib.uuid4())
    m = {"v": 2, "uuid": u, "owner": "00000000-0000-0000-0000-000000000000",
         "name": name, "version": "1.0.0", "state": "active",
         "disabled": False, "public": True, "type": "zvol", "os": "other",
         "image_size": len(data) >> 20,
         "requirements": {"brand": brand} if brand else {},
         "files": [{"sha1": hashlib.sha1(data).hexdigest(),
                    "size": len(data), "compression": "none"}]}
    mpath = os.path.join(workdir, name + ".json")
    with open(mpath, "w") as f:
        json.dump(m, f)
    r = dc.adm("image", "import", "-m", mpath, "-f", disk)
    assert u in r.stdout, r.stdout
    return u


def test_zvol_import_needs_size(dc2):
    """A zvol manifest without image_size: one error line, no image."""
    dc, _by_uuid, workdir = dc2
    disk = os.path.join(workdir, "nosize.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    with open(disk, "rb") as f:
        data = f.read()
    m = {"v": 2, "uuid": str(uuidlib.uuid4()),
         "owner": "00000000-0000-0000-0000-000000000000",
         "name": "nosize", "version": "1.0.0", "type": "zvol",
         "os": "linux",
         "files": [{"sha1": hashlib.sha1(data).hexdigest(),
                    "size": len(data), "compression": "none"}]}
    mpath = os.path.join(workdir, "nosize.json")
    with open(mpath, "w") as f:
        json.dump(m, f)
    r = dc.adm("image", "import", "-m", mpath, "-f", disk, check=False)
    assert r.returncode != 0
    assert "image_size is required for a zvol image" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not dc.sql("SELECT key FROM records WHERE bucket='images' "
                      "AND key = ?", m["uuid"])


def machine_count(dc):
    return int(dc.sql("SELECT count(*) FROM records "
                      "WHERE bucket='machines'")[0][0])


def test_hvm_brand_mismatch(dc2, triton_bin):  # noqa: F811
    """A bhyve package with a zone image, and a kvm package with an image
    that requires bhyve: InvalidArgument naming both, nothing written."""
    dc, _by_uuid, workdir = dc2
    disk = os.path.join(workdir, "blank.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    zvol_image(dc, workdir, "blank-bhyve", "bhyve", disk)
    zvol_image(dc, workdir, "blank-any", None, disk)
    dc.adm("package", "add", "mm-lx", "--memory", "64", "--disk", "16",
           "--vcpus", "1", "--brand", "lx")
    dc.adm("package", "add", "mm-bhyve", "--memory", "64", "--disk", "16",
           "--vcpus", "1", "--brand", "bhyve")
    dc.adm("package", "add", "mm-kvm", "--memory", "256", "--disk", "16",
           "--vcpus", "1", "--brand", "kvm")
    before = machine_count(dc)
    for name, img, pkg, why in (
            ("bad0", dc.image, "mm-bhyve", "requires another brand"),
            ("bad1", "blank-bhyve", "mm-kvm", "requires another brand"),
            ("bad2", "blank-any", "mm-lx", "bhyve or kvm only")):
        r = dc.triton(triton_bin, "instance", "create", "-n", name, img,
                      pkg, check=False)
        assert r.returncode != 0
        assert why in r.stderr and len(r.stderr.splitlines()) == 1, \
            r.stderr
        # The same through the raw API: CloudAPI's code and status.
        body = {"name": name, "package": pkg,
                "image": img if img == dc.image else
                dc.sql("SELECT key FROM records WHERE bucket='images' "
                       "AND value LIKE ?", f'%"{img}"%')[0][0]}
        r = dc.triton(triton_bin, "cloudapi", "-X", "POST",
                      "/alice/machines", "-d", json.dumps(body),
                      check=False)
        assert r.returncode != 0
        assert "error (InvalidArgument): " in r.stderr, r.stderr
        assert why in r.stderr, r.stderr
    assert machine_count(dc) == before
    r = dc.triton(triton_bin, "instance", "list", "-H", "-o", "name")
    assert "bad" not in r.stdout, r.stdout


def test_bhyve_lifecycle(dc2, triton_bin):  # noqa: F811
    """triton instance create -w of a bhyve VM (hull-vmm, the freestanding
    test guest) reaches running on a compute node with the payload Triton
    builds, shows its address, stops, starts and deletes."""
    from hvmlib import make_guest_disk
    from test_hvm_vmadm import wait_console
    from test_migrate_brands import kvm_small
    dc, by_uuid, workdir = dc2
    kvm_small(by_uuid)
    for u in by_uuid:
        dc.wait_status(u, "running")
    disk = os.path.join(workdir, "guest.img")
    make_guest_disk(workdir, disk, "test=acpibutton")
    img = zvol_image(dc, workdir, "guest-bhyve", "bhyve", disk)
    for mem in ("64", "128"):
        dc.adm("package", "add", f"vm-{mem}M", "--memory", mem, "--disk",
               "4", "--vcpus", "1", "--brand", "bhyve")
    dc.triton(triton_bin, "instance", "create", "-w", "-n", "vm0",
              "guest-bhyve", "vm-64M", timeout=300)
    inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                "vm0").stdout)
    assert inst["state"] == "running", inst
    assert inst["brand"] == "bhyve" and inst["type"] == "virtualmachine"
    assert inst["image"] == img and inst["memory"] == 64
    # Its disk is its disks' sum: the 8 MiB image and the package's 4.
    assert inst["disk"] == 8 + 4, inst
    u, node = inst["id"], by_uuid[inst["compute_node"]]
    vm = node.vm(u)
    assert vm["brand"] == "bhyve" and vm["state"] == "running", vm
    assert vm["ram"] == 64 and vm["vcpus"] == 1 and vm["quota"] == 10
    assert vm["disks"][0]["image_uuid"] == img and vm["disks"][0]["boot"]
    assert vm["disks"][1]["size"] == 4
    assert vm["nics"][0]["model"] == "virtio"
    wait_console(node.host, u, "waiting for the power button", 180)
    ip = vm["nics"][0]["ip"]
    assert inst["primaryIp"] == ip
    r = dc.triton(triton_bin, "instance", "list", "-H", "-o", "name,ips")
    assert any(line.split()[0] == "vm0" and ip in line
               for line in r.stdout.splitlines()), r.stdout
    # A resize is refused, the VM untouched.
    r = dc.triton(triton_bin, "instance", "resize", "vm0", "vm-128M",
                  check=False)
    assert r.returncode != 0
    assert "without flexible disk space is not supported" in r.stderr, \
        r.stderr
    assert node.vm(u)["ram"] == 64
    dc.triton(triton_bin, "instance", "stop", "-w", "vm0", timeout=300)
    assert node.vm(u)["state"] == "stopped"
    dc.triton(triton_bin, "instance", "start", "-w", "vm0", timeout=300)
    assert node.vm(u)["state"] == "running"
    dc.triton(triton_bin, "instance", "delete", "-w", "-f", "vm0", timeout=300)
    assert node.vm(u) is None
    r = dc.triton(triton_bin, "instance", "list", "-H", "-o", "name")
    assert "vm0" not in r.stdout


def test_kvm_lifecycle(dc2, triton_bin):  # noqa: F811
    """The same for a kvm VM under QEMU (TCG where KVM cannot run it),
    from the Linux guest image (hvmlib) imported with hulladm as its
    gzip-compressed zvol file: it boots to its ready line on a compute
    node, stops, starts and deletes."""
    import hvmlib
    from test_hvm_vmadm import READY, qemu_present, wait_console
    if not qemu_present():
        raise AssertionError("qemu-system-x86_64 is not installed: "
                             "run scripts/deps")
    dc, by_uuid, _workdir = dc2
    _, manifest, zvol = hvmlib.guest_image("grub", "mbr")
    with open(manifest) as f:
        img = json.load(f)
    r = dc.adm("image", "import", "-m", manifest, "-f", zvol)
    assert img["uuid"] in r.stdout, r.stdout
    dc.adm("package", "add", "kvm-256M", "--memory", "256", "--disk", "8",
           "--vcpus", "1", "--brand", "kvm")
    dc.triton(triton_bin, "instance", "create", "-w", "-n", "kvm0",
              img["uuid"], "kvm-256M", timeout=300)
    inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                "kvm0").stdout)
    assert inst["state"] == "running", inst
    assert inst["brand"] == "kvm" and inst["type"] == "virtualmachine"
    assert inst["disk"] == img["image_size"] + 8, inst
    u, node = inst["id"], by_uuid[inst["compute_node"]]
    vm = node.vm(u)
    assert vm["brand"] == "kvm" and vm["ram"] == 256 and vm["vcpus"] == 1
    assert vm["disks"][0]["image_uuid"] == img["uuid"]
    assert vm["disks"][0]["image_size"] == img["image_size"]
    assert vm["disks"][1]["size"] == 8
    assert vm["nics"][0]["model"] == "virtio"
    wait_console(node.host, u, READY, 240)
    ip = vm["nics"][0]["ip"]
    r = dc.triton(triton_bin, "instance", "list", "-H", "-o", "name,ips")
    assert any(line.split()[0] == "kvm0" and ip in line
               for line in r.stdout.splitlines()), r.stdout
    r = dc.triton(triton_bin, "instance", "resize", "kvm0", "kvm-256M",
                  check=False)
    assert r.returncode != 0
    assert "resize is not supported for KVM virtualmachines" in r.stderr, \
        r.stderr
    dc.triton(triton_bin, "instance", "stop", "-w", "kvm0", timeout=300)
    assert node.vm(u)["state"] == "stopped"
    dc.triton(triton_bin, "instance", "start", "-w", "kvm0", timeout=300)
    assert node.vm(u)["state"] == "running"
    dc.triton(triton_bin, "instance", "delete", "-w", "-f", "kvm0",
              timeout=300)
    assert node.vm(u) is None
