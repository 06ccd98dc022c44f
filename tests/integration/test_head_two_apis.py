"""Two hull-api processes on one PostgreSQL database serve one datacenter
at once: 200 creates sent concurrently, split across both, never book a
server past its room nor give one address to two nics; what one process
wrote the other serves at once; and the real `triton` CLI runs an
instance's lifecycle against either process, on PostgreSQL, with a real
agent.

For the concurrency part the compute nodes are the test itself speaking
the agents' API (join, heartbeats), so that 200 creates book capacity
without 200 zones being made; the lifecycle part has a real agent.
Everything runs in a test network namespace (the head node on its
loopback), reached with curl through `ip netns exec`."""
import concurrent.futures
import email.utils
import glob
import json
import os
import shutil
import subprocess
import threading
import time
import uuid as uuidlib

import imgtools as it
from conftest import ROOT, Host, _init_pool, prog
from nethelp import NetHost
from test_head_agent import Proc, http
from test_head_api import (pg_database, pgcluster, sign,  # noqa: F401
                           ssh_key, triton_bin)
from vmtools import unfreeze
from zonekit import Zones


class Api(Proc):
    """A hull-api process in the namespace, on a config of its own."""

    def __init__(self, ns, env, config, log):
        super().__init__(ns, [prog("hull-api")] +
                         (["--config", config] if config else []), env, log)
        self.start()
        t0 = time.time()
        while '"listening"' not in self.text():
            assert self.p.poll() is None and time.time() - t0 < 30, \
                self.text()
            time.sleep(0.05)
        line = next(l for l in self.text().splitlines() if '"listening"' in l)
        self.url = json.loads(line)["url"]


def signed(ns, url, method, path, key, kid, body=None):
    """A CloudAPI request signed as the CLI signs it: (status, body)."""
    date = email.utils.formatdate(usegmt=True)
    alg, sig = sign(key, f"(request-target): {method.lower()} {path}\n"
                         f"date: {date}")
    auth = (f'Authorization: Signature keyId="{kid}",algorithm="{alg}",'
            f'headers="(request-target) date",signature="{sig}"')
    return http(ns, method, url + path, body,
                headers=(f"Date: {date}", auth, "Accept: application/json"))


class FakeNode:
    """A compute node as the head node sees it: joined with a token, then
    heartbeating (RAM in MiB) from a thread until stopped."""

    def __init__(self, ns, url, token, ram):
        self.ns, self.url, self.ram = ns, url, ram
        self.uuid = str(uuidlib.uuid4())
        st, body = http(ns, "POST", url + "/agent/join",
                        {"token": token, "server_uuid": self.uuid,
                         "hostname": "fake-" + self.uuid[:8]})
        assert st == 201, body
        self.key = body["key"]
        self.stop = threading.Event()
        assert self.beat() == 200
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def beat(self):
        st, _ = http(self.ns, "POST",
                     f"{self.url}/agent/servers/{self.uuid}/heartbeat",
                     {"hostname": "fake", "ram": self.ram, "cpus": 8,
                      "disk_pool_size_bytes": 1 << 40,
                      "disk_pool_alloc_bytes": 0, "vms": {}},
                     headers=(f"Authorization: HullAgent {self.key}",))
        return st

    def finish_tasks(self):
        """Reports every queued task done, the instance running, as an
        agent that made them would."""
        auth = (f"Authorization: HullAgent {self.key}",)
        base = f"{self.url}/agent/servers/{self.uuid}/tasks"
        st, tasks = http(self.ns, "GET", base, headers=auth)
        assert st == 200, tasks
        for t in tasks:
            st, body = http(self.ns, "POST", f"{base}/{t['id']}",
                            {"state": "done", "vm_state": "running"},
                            headers=auth)
            assert st == 200, body
        return len(tasks)

    def loop(self):
        # A heartbeat that loses a race with the bookings is sent again
        # at the next beat, as the agent's would be.
        while not self.stop.wait(2):
            self.beat()


def test_two_apis_on_one_postgresql(workdir, pgcluster, triton_bin):  # noqa: F811
    db = pg_database(pgcluster)
    root = os.path.join(workdir, "cn0", "zones")
    os.makedirs(root)
    host = Host(root, os.path.join(workdir, "cn0"))
    _init_pool(host, "btrfs")
    net = NetHost(host)
    ns = net.ns
    apis, fakes = [], []
    agent = None
    try:
        host.run("hulladm", "setup", "--db", db, "--listen", "127.0.0.1:0",
                 "--no-tls")
        cfg = os.path.join(root, "head", "config.json")
        conf = json.load(open(cfg))
        assert conf["db"] == db
        # 200 creates at once from one account: above CloudAPI's
        # per-account rate, which is tested on its own elsewhere.
        conf["throttle"] = {"rate": 100000, "burst": 100000}
        with open(cfg, "w") as f:
            json.dump(conf, f)
        cfg2 = os.path.join(workdir, "second.json")
        shutil.copy(cfg, cfg2)
        apis.append(Api(ns, host.env, None, os.path.join(workdir, "a.log")))
        apis.append(Api(ns, host.env, cfg2, os.path.join(workdir, "b.log")))
        a, b = apis
        assert a.url != b.url

        home = os.path.join(workdir, "home")
        host.run("hulladm", "user", "add", "alice")
        key, _pub, fp = ssh_key(home, "ed25519")
        kid = f"/alice/keys/{fp}"
        host.run("hulladm", "user", "key-add", "alice", key + ".pub")
        host.run("hulladm", "package", "add", "p-1G", "--memory", "1024",
                 "--disk", "1024", "--vcpus", "1")
        host.run("hulladm", "package", "add", "p-64M", "--memory", "64",
                 "--disk", "16", "--vcpus", "1")
        host.run("hulladm", "network", "add", "net", "--subnet",
                 "198.51.100.0/24", "--gateway", "198.51.100.1",
                 "--provision-start", "198.51.100.10", "--provision-end",
                 "198.51.100.209", "--nic-tag", "ext0", "--public")
        d = os.path.join(workdir, "img")
        os.makedirs(d)
        m, mpath, fpath = it.image(d, name="base-64", version="24.4.0")
        host.run("hulladm", "image", "import", "-m", mpath, "-f", fpath)
        image = m["uuid"]

        # What one process wrote (hulladm, through the database) the
        # other serves at once.
        st, pk = signed(ns, b.url, "GET", "/alice/packages/p-1G", key, kid)
        assert st == 200 and pk["memory"] == 1024, pk

        # One server with room for exactly 10 of p-1G: 12050 MiB less
        # 15% is 10242.
        tok = host.run("hulladm", "join-token").out.strip()
        fakes.append(FakeNode(ns, a.url, tok, 12050))

        def create(i, pkg):
            # A create that lost every race for the room or an address is
            # 503, nothing written: asked again, as a client would.
            for _ in range(30):
                st, body = signed(ns, apis[i % 2].url, "POST",
                                  "/alice/machines", key, kid,
                                  {"name": f"{pkg}-{i}", "image": image,
                                   "package": pkg})
                if st != 503:
                    return st, body
                time.sleep(0.05)
            return st, body

        with concurrent.futures.ThreadPoolExecutor(24) as ex:
            got = list(ex.map(lambda i: create(i, "p-1G"), range(200)))
        codes = [st for st, _ in got]
        srv = json.loads(host.run("hulladm", "-j", "server", "get",
                                  fakes[0].uuid).out)
        assert codes.count(201) == 10, sorted(set(codes))
        assert codes.count(409) == 190, [x for x in got if x[0] != 409][:3]
        assert all(body["code"] == "InsufficientCapacity"
                   for st, body in got if st == 409)
        ips = [body["primaryIp"] for st, body in got if st == 201]
        assert len(set(ips)) == 10
        srv = json.loads(host.run("hulladm", "-j", "server", "get",
                                  fakes[0].uuid).out)
        assert srv["unreserved_ram"] == 10242 - 10 * 1024
        assert len(srv["vms"]) == 10

        # A second server with room for all: 200 small creates across
        # both processes. The network's 200 addresses less the 10 in use
        # go to 190 of them, each once; the other 10 are refused.
        tok = host.run("hulladm", "join-token").out.strip()
        fakes.append(FakeNode(ns, b.url, tok, 400000))
        with concurrent.futures.ThreadPoolExecutor(24) as ex:
            got = list(ex.map(lambda i: create(i, "p-64M"), range(200)))
        codes = [st for st, _ in got]
        assert codes.count(201) == 190, sorted(set(codes))
        assert codes.count(409) == 10, [x for x in got if x[0] != 201][:3]
        st, listed = signed(ns, a.url, "GET", "/alice/machines?limit=1000",
                            key, kid)
        assert st == 200 and len(listed) == 200
        assert len({x["primaryIp"] for x in listed}) == 200
        st, listed_b = signed(ns, b.url, "GET",
                              "/alice/machines?limit=1000", key, kid)
        assert sorted(x["id"] for x in listed_b) == \
            sorted(x["id"] for x in listed)
        for f in fakes:
            f.stop.set()
            f.t.join()
            host.run("hulladm", "server", "reserve", f.uuid)

        # The lifecycle through the real CLI on PostgreSQL with a real
        # agent on the pool, each command against one process or the
        # other.
        host.run("hulladm", "network", "add", "net2", "--subnet",
                 "203.0.113.0/24", "--gateway", "203.0.113.1",
                 "--provision-start", "203.0.113.10", "--provision-end",
                 "203.0.113.20", "--nic-tag", "ext0", "--public")
        r = subprocess.run(["ip", "netns", "exec", ns, prog("nictagadm"),
                            "add", "-l", "ext0"], env=host.env,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        tok = host.run("hulladm", "join-token").out.strip()
        r = subprocess.run(["ip", "netns", "exec", ns, prog("hull-agent"),
                            "join", "--head", a.url, "--token", tok],
                           env=host.env, capture_output=True, text=True)
        assert r.returncode == 0 and "Joined" in r.stdout, r.stderr
        agent = Proc(ns, [prog("hull-agent")], host.env,
                     os.path.join(workdir, "agent.log"))
        agent.start()
        suuid = json.loads(host.run("sysinfo").out)["UUID"]
        t0 = time.time()
        while json.loads(host.run("hulladm", "-j", "server", "get",
                                  suuid).out)["status"] != "running":
            assert time.time() - t0 < 30, agent.text()
            time.sleep(0.2)
        bb = os.path.join(workdir, "bbimg")
        os.makedirs(bb)
        subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"),
                        "-o", bb, "-c", "none"], check=True,
                       capture_output=True)
        bm = glob.glob(os.path.join(bb, "*.json"))[0]
        host.run("hulladm", "image", "import", "-m", bm, "-f",
                 glob.glob(os.path.join(bb, "*.tar"))[0])
        bname = json.load(open(bm))["name"]
        host.run("hulladm", "package", "add", "bb-64M", "--memory", "64",
                 "--disk", "512", "--vcpus", "1")

        def tri(api, *args):
            r = subprocess.run(["ip", "netns", "exec", ns, triton_bin, "-U",
                                api.url, "-a", "alice", "-k", fp, *args],
                               env={"PATH": os.environ["PATH"],
                                    "HOME": home},
                               capture_output=True, text=True, timeout=180)
            assert r.returncode == 0, (args, r.stdout, r.stderr,
                                       agent.text()[-2000:])
            return r.stdout
        out = tri(a, "instance", "create", "-w", "-n", "pg0", "--network", "net2",
                  bname, "bb-64M")
        assert "Created instance pg0" in out
        inst = json.loads(tri(b, "instance", "get", "-j", "pg0"))
        assert inst["state"] == "running" and inst["compute_node"] == suuid
        assert inst["primaryIp"] == "203.0.113.10"
        tri(b, "instance", "stop", "-w", "pg0")
        assert json.loads(host.run("vmadm", "get", inst["id"]).out)[
            "state"] == "stopped"
        tri(a, "instance", "start", "-w", "pg0")
        tri(b, "instance", "snapshot", "create", "-w", "-n", "s1", "pg0")
        assert "s1" in tri(a, "instance", "snapshot", "list", "pg0")
        tri(a, "instance", "delete", "-w", "-f", "pg0")
        assert host.run("vmadm", "get", inst["id"], check=False).rc != 0
    finally:
        for f in fakes:
            f.stop.set()
        if agent:
            agent.kill()
        for api in apis:
            api.kill()
        for u in host.run("vmadm", "list", "-H", "-o", "uuid",
                          check=False).out.split():
            host.run("vmadm", "delete", u, check=False)
        Zones(host).cleanup()
        net.close()
        host.run("hull", "fini", check=False)
        unfreeze(workdir)
