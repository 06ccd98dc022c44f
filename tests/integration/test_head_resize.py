"""`triton instance resize` through CloudAPI on a converged host: the
new package's limits reach the instance on its node (vmadm update), the
room is booked on the instance's own server, a resize that does not fit
or names no package is refused with nothing changed, and a resize the
node refuses gives the old size back."""
import json
import os
import subprocess
import time

from test_head_agent import converged
from test_head_api import ssh_key, triton_bin  # noqa: F401  (fixture)


def test_resize_through_cloudapi(workdir, triton_bin):  # noqa: F811
    with converged(workdir) as (dc, node):
        dc.adm("package", "add", "bb-256M", "--memory", "256", "--disk",
               "2048", "--vcpus", "1", "--cpu-cap", "50")
        dc.triton(triton_bin, "instance", "create", "-w", "-n", "web0",
                  dc.image_name, "bb-128M")
        u = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                 "web0").stdout)["id"]
        before = dc.servers()[node.uuid()]["unreserved_ram"]

        r = dc.triton(triton_bin, "instance", "resize", "-w", "web0",
                      "bb-256M")
        assert r.stdout.splitlines() == [
            'Resizing instance web0 to "bb-256M"',
            'Resized instance web0 to "bb-256M"'], r.stdout
        vm = node.vm(u)
        assert vm["max_physical_memory"] == 256 and vm["quota"] == 2
        assert vm["cpu_cap"] == 50 and vm["state"] == "running"
        inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                    "web0").stdout)
        assert inst["package"] == "bb-256M" and inst["memory"] == 256
        assert inst["disk"] == 2048 and "resize" not in inst
        assert dc.servers()[node.uuid()]["unreserved_ram"] == before - 128

        # Refused, nothing changed: no room on the instance's server, an
        # unknown package, another account's instance.
        dc.adm("package", "add", "bb-huge", "--memory", "4000000",
               "--disk", "1024", "--vcpus", "1")
        r = dc.triton(triton_bin, "instance", "resize", "web0", "bb-huge",
                      check=False)
        assert r.returncode != 0
        assert "has no room for package bb-huge" in r.stderr, r.stderr
        r = dc.triton(triton_bin, "instance", "resize", "web0", "nosuch",
                      check=False)
        assert r.returncode != 0 and "nosuch" in r.stderr, r.stderr
        dc.adm("user", "add", "bob")
        bpath, _bpub, bfp = ssh_key(dc.home, "ed25519", "bob")
        dc.adm("user", "key-add", "bob", bpath + ".pub")
        pkg128 = json.loads(dc.triton(triton_bin, "package", "get", "-j",
                                      "bb-128M").stdout)["id"]
        r = subprocess.run(
            ["ip", "netns", "exec", dc.head_ns, triton_bin, "-U", dc.url,
             "-a", "bob", "-k", bfp, "instance", "resize", u, pkg128],
            env={"PATH": os.environ["PATH"], "HOME": dc.home},
            capture_output=True, text=True, timeout=180)
        assert r.returncode != 0
        assert "does not exist" in r.stderr or "not found" in r.stderr, \
            r.stderr
        assert node.vm(u)["max_physical_memory"] == 256
        inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                    "web0").stdout)
        assert inst["package"] == "bb-256M" and inst["memory"] == 256

        # The node refuses the update: the record goes back to the size
        # the instance has. The stand-in for any update a node refuses is
        # a package whose swap is below its memory (vmadm refuses that;
        # hulladm would not make it, so it is written to the store).
        bad = dict(json.loads(dc.triton(triton_bin, "package", "get", "-j",
                                        "bb-256M").stdout),
                   id="0b6fd9f8-5f8a-4d25-9a3c-1f0c2a7d0001",
                   name="bb-badswap", memory=512, swap=300)
        with dc.db() as c:
            c.execute("INSERT INTO records (bucket, key, etag, value, "
                      "mtime) VALUES ('packages', ?, 'e0', ?, 0)",
                      (bad["id"], json.dumps(bad)))
        dc.triton(triton_bin, "instance", "resize", "web0", "bb-badswap")
        t0 = time.time()
        while time.time() - t0 < 30:
            rec = dc.record("machines", u)
            if "resize" not in rec:
                break
            time.sleep(0.2)
        assert "resize" not in rec, rec
        assert rec["memory"] == 256 and rec["package"] == "bb-256M"
        assert node.vm(u)["max_physical_memory"] == 256
        audit = [a["action"] for a in rec["audit"]]
        assert audit[-1] == "resize" and rec["audit"][-1]["success"] == "no"
        assert dc.servers()[node.uuid()]["unreserved_ram"] == before - 128
