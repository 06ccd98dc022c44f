"""`make install`'s layout: meson install under DESTDIR puts every command
in sbin and the programs only hull runs in libexec/hull, and an installed
vmadm starts zones with the installed hull-supervisor, found through the
configured libexecdir (relocated under DESTDIR), not through the build
tree or an environment variable."""
import glob
import json
import os
import subprocess

import pytest

from conftest import BUILD
from vmtools import unfreeze
from zonekit import Zones, install_busybox, wait_for, pid_alive

COMMANDS = ("hull", "sysinfo", "imgadm", "vmadm", "zlogin", "nictagadm",
            "fwadm", "hull-metadata", "hull-net", "hull-hvm", "hull-vmmzone",
            "hull-api", "hulladm", "dladm", "ipadm")
HELPERS = ("hull-supervisor", "hull-holder", "hull-vmm", "mdata/mdata-get",
           "mdata/mdata-put", "mdata/mdata-list", "mdata/mdata-delete")


def build_option(name):
    r = subprocess.run(["meson", "introspect", BUILD, "--buildoptions"],
                       capture_output=True, text=True, check=True)
    return [o["value"] for o in json.loads(r.stdout) if o["name"] == name][0]


@pytest.fixture
def installed(workdir):
    dest = os.path.join(workdir, "dest")
    r = subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild",
                        "--destdir", dest], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    prefix = build_option("prefix")
    return {"sbin": dest + os.path.join(prefix, build_option("sbindir")),
            "libexec": dest + os.path.join(prefix, build_option("libexecdir"),
                                           "hull")}


def test_install_layout(installed):
    sbin, libexec = installed["sbin"], installed["libexec"]
    assert sorted(os.listdir(sbin)) == sorted(COMMANDS)
    for c in COMMANDS:
        assert os.access(os.path.join(sbin, c), os.X_OK), c
    for h in HELPERS:
        assert os.access(os.path.join(libexec, h), os.X_OK), h
    # Test programs stay in the build tree.
    dest = os.path.dirname(os.path.dirname(sbin))
    found = [os.path.basename(p) for p in
             glob.glob(os.path.join(dest, "**", "*"), recursive=True)]
    for t in ("hull-probe", "test_lib", "hull-api-test"):
        assert t not in found, t
    r = subprocess.run([os.path.join(sbin, "vmadm"), "--version"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip(), r


def test_installed_vmadm_runs_installed_supervisor(installed, pool, workdir):
    sbin, libexec = installed["sbin"], installed["libexec"]
    zs = Zones(pool)
    env = {k: v for k, v in pool.env.items()
           if k not in ("HULL_SUPERVISOR", "HULL_MDATA_DIR")}
    env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin"

    def run(cmd, *args, input=None):
        r = subprocess.run([os.path.join(sbin, cmd), *args], input=input,
                           capture_output=True, text=True, env=env,
                           timeout=120)
        assert r.returncode == 0, f"{cmd} {args}: {r.stderr}"
        return r

    image = install_busybox(run, os.path.join(workdir, "bbimg"))
    try:
        payload = {"brand": "lx", "kernel_version": "4.3.0",
                   "image_uuid": image, "alias": "installed"}
        r = run("vmadm", "create", input=json.dumps(payload))
        u = (r.stdout.strip() or r.stderr).split()[-1]
        with open(os.path.join(pool.root, u, "run", "supervisor.pid")) as f:
            sup = int(f.read())
        assert pid_alive(sup)
        assert os.readlink(f"/proc/{sup}/exe") == \
            os.path.join(libexec, "hull-supervisor")
        # The zone got the installed guest tools.
        r = run("zlogin", u, "sh", "-c", "command -v mdata-get")
        assert "mdata-get" in r.stdout
        run("vmadm", "stop", u)
        assert wait_for(lambda: not pid_alive(sup))
        run("vmadm", "delete", u)
    finally:
        for u in pool.run("vmadm", "list", "-H", "-o", "uuid",
                          check=False).out.split():
            pool.run("vmadm", "delete", u, check=False)
        zs.cleanup()
        unfreeze(workdir)
