"""scripts/demo-head, the end of `make demo`: on a pool holding the demo's
busybox image, it makes a converged host (hulladm setup, hull-api, this
host joined by hull-agent) and has the real `triton` CLI create and list
an instance through CloudAPI; run again it changes nothing; --stop stops
the daemons it started. Run in a test namespace, on a pool of its own."""
import json
import os
import subprocess

from conftest import ROOT, Host, _init_pool
from nethelp import NetHost
from test_head_api import triton_bin  # noqa: F401  (fixture)
from vmtools import unfreeze
from zonekit import Zones


def test_demo_head(workdir, triton_bin):  # noqa: F811
    root = os.path.join(workdir, "zones")
    os.makedirs(root)
    host = Host(root, workdir)
    _init_pool(host, "btrfs")
    net = NetHost(host)
    cache = os.path.dirname(os.path.dirname(os.path.dirname(triton_bin)))
    env = dict(host.env, HULL_BUILD=os.environ.get(
        "HULL_BUILD", os.path.join(ROOT, "build-check")),
        HULL_TRITON_CACHE=cache)

    def demo(*args):
        return subprocess.run(["ip", "netns", "exec", net.ns,
                               os.path.join(ROOT, "scripts", "demo-head"),
                               *args], env=env, capture_output=True,
                              text=True, timeout=600)
    try:
        r = demo()
        assert r.returncode == 0, (r.stdout, r.stderr)
        out = r.stdout
        assert "hull-api started" in out and "hull-agent started" in out
        assert "Created instance demo-api" in out, out
        listing = out.split("==> triton instance list", 1)[1]
        row = next(l for l in listing.splitlines() if "demo-api" in l)
        assert " running " in row and "busybox-demo" in row, row
        vms = host.run("vmadm", "list", "-H", "-o", "alias,state").out
        assert vms.split() == ["demo-api", "running"]
        assert oct(os.stat(os.path.join(root, "head", "demo")).st_mode
                   & 0o777) == "0o700"
        # It ends with the web console's URL and login; the password,
        # never printed, is in a file only root reads, and logs in.
        pwfile = os.path.join(root, "head", "demo", "console-password")
        tail = out.rsplit("==> the head node", 1)[1]
        assert "The web console (docs/web-console.md): " \
            "http://127.0.0.1:8443/console/" in tail
        assert "login: demo" in tail and f"password: in {pwfile}" in tail
        assert oct(os.stat(pwfile).st_mode & 0o777) == "0o600"
        pw = open(pwfile).read().strip()
        assert pw not in out and pw not in r.stderr
        login = subprocess.run(
            ["ip", "netns", "exec", net.ns, "curl", "-s", "-o", "/dev/null",
             "-w", "%{http_code}", "-H", "Content-Type: application/json",
             "-d", json.dumps({"login": "demo", "password": pw}),
             "http://127.0.0.1:8443/console/login"],
            capture_output=True, text=True, timeout=30).stdout
        assert login == "200"

        # Again: everything is there already.
        r = demo()
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "hull-api already running" in r.stdout
        assert "already joined" in r.stdout
        assert "==> triton instance create" in r.stdout
        assert "already there" in r.stdout
        assert open(pwfile).read().strip() == pw  # kept
        assert host.run("vmadm", "list", "-H", "-o",
                        "alias").out.split() == ["demo-api"]

        r = demo("--stop")
        assert r.returncode == 0
        assert r.stdout.splitlines() == ["stopped hull-agent",
                                         "stopped hull-api"]
        assert not os.path.exists(os.path.join(root, "head", "demo",
                                               "hull-api.pid"))
    finally:
        demo("--stop")
        for u in host.run("vmadm", "list", "-H", "-o", "uuid",
                          check=False).out.split():
            host.run("vmadm", "delete", u, check=False)
        Zones(host).cleanup()
        net.close()
        host.run("hull", "fini", check=False)
        unfreeze(workdir)
