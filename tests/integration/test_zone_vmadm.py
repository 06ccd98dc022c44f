"""A busybox zone the way an operator runs one: vmadm create from an
installed image, zlogin, vmadm list, stop/start, a killed supervisor, and
delete, with the real supervisor underneath."""
import glob
import json
import os
import signal
import subprocess

import pytest

from conftest import ROOT
from vmtools import unfreeze
from zonekit import Zones, wait_for, cgroup_dirs, pid_alive


@pytest.fixture
def bbhost(pool, workdir):
    zs = Zones(pool)
    img = os.path.join(workdir, "bbimg")
    os.makedirs(img)
    subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o", img,
                    "-c", "none"], check=True, capture_output=True)
    manifest = glob.glob(os.path.join(img, "*.json"))[0]
    pool.run("imgadm", "install", "-m", manifest,
             "-f", glob.glob(os.path.join(img, "*.tar"))[0])
    with open(manifest) as f:
        pool.image = json.load(f)["uuid"]
    try:
        yield pool
    finally:
        for u in pool.run("vmadm", "list", "-H", "-o", "uuid", check=False).out.split():
            pool.run("vmadm", "delete", u, check=False)
        zs.cleanup()
        unfreeze(workdir)


def state(host, u):
    return host.run("vmadm", "list", "-H", "-o", "state", f"uuid={u}").out.strip()


def test_create_zlogin_list_stop_delete(bbhost):
    h = bbhost
    payload = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
               "alias": "web", "max_lwps": 100, "resolvers": ["192.0.2.53"]}
    r = h.run("vmadm", "create", input=json.dumps(payload))
    u = r.out.split()[-1] if r.out.strip() else r.err.split()[-1]
    assert state(h, u) == "running"
    r = h.run("zlogin", u, "sh", "-c", "uname -r; cat /etc/resolv.conf")
    assert r.out.splitlines()[0] == "4.3.0"
    assert "nameserver 192.0.2.53" in r.out
    assert h.run("zlogin", u, "sh", "-c", "exit 9", check=False).rc == 9
    h.run("vmadm", "stop", u)
    assert state(h, u) == "stopped"
    vm = json.loads(h.run("vmadm", "get", u).out)
    assert "exit_timestamp" in vm
    h.run("vmadm", "start", u)
    assert state(h, u) == "running"
    # A killed supervisor: the zone is shown stopped, nothing is left.
    with open(os.path.join(h.root, u, "run", "supervisor.pid")) as f:
        sup = int(f.read())
    os.kill(sup, signal.SIGKILL)
    assert wait_for(lambda: not pid_alive(sup))
    assert wait_for(lambda: state(h, u) == "stopped")
    h.run("vmadm", "start", u)
    assert state(h, u) == "running"
    h.run("vmadm", "delete", u)
    assert h.run("vmadm", "list", "-H").out.strip() == ""
    assert not cgroup_dirs(f"{h.env['HULL_CGROUP_PARENT']}/{u}")
