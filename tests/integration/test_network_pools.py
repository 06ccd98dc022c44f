"""Network pools on the head node (NAPI's network_pools): hulladm makes
them, CloudAPI lists them among the networks as Triton does, and a
create on a pool takes an address from the first member network with
one free, spilling over to the next; driven by the real triton 7.17.0
CLI and signed requests, on SQLite and PostgreSQL (the head fixture of
test_head_api).

The compute node is the test itself speaking the agents' API (join,
heartbeats, task reports), so that creates are placed and deletes
finish without zones being made."""

import concurrent.futures
import http.client
import ipaddress
import json
import os
import threading

import pytest

from test_head_api import (Head, head, pgcluster, populate,  # noqa: F401
                           request, ssh_key, triton, triton_bin)
from test_networks import two_accounts


def agent(head, method, path, body=None, key=None):
    c = http.client.HTTPConnection("127.0.0.1", head.port, timeout=20)
    hdrs = {"Accept": "application/json"}
    if key:
        hdrs["Authorization"] = f"HullAgent {key}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=hdrs)
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, (json.loads(raw) if raw else None)


class FakeNode:
    """A compute node as the head node sees it: joined, heartbeating with
    room for every create here (from a thread, until stop()), and its
    tasks reported done on demand."""

    def __init__(self, head):
        self.head = head
        self.uuid = "5e7d0c1e-0000-4000-8000-000000000001"
        tok = head.adm("join-token").out.strip()
        st, body = agent(head, "POST", "/agent/join",
                         {"token": tok, "server_uuid": self.uuid,
                          "hostname": "fake-cn"})
        assert st == 201, body
        self.key = body["key"]
        assert self.beat() == 200
        self.halt = threading.Event()
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def beat(self):
        st, _ = agent(self.head, "POST",
                      f"/agent/servers/{self.uuid}/heartbeat",
                      {"hostname": "fake-cn", "ram": 1000000, "cpus": 64,
                       "disk_pool_size_bytes": 1 << 44,
                       "disk_pool_alloc_bytes": 0, "vms": {}},
                      key=self.key)
        return st

    def loop(self):
        while not self.halt.wait(2):
            try:
                self.beat()
            except OSError:
                pass

    def stop(self):
        self.halt.set()
        self.t.join()

    def finish_tasks(self):
        base = f"/agent/servers/{self.uuid}/tasks"
        st, tasks = agent(self.head, "GET", base, key=self.key)
        assert st == 200, tasks
        for t in tasks:
            st, body = agent(self.head, "POST", f"{base}/{t['id']}",
                             {"state": "done", "vm_state": "running"},
                             key=self.key)
            assert st == 200, body
        return len(tasks)


@pytest.fixture
def nodes():
    """The fake compute nodes a test makes, stopped at its end (before
    the head node)."""
    made = []
    yield made
    for n in made:
        n.stop()


def small_net(head, name, base, *extra):
    """A public network of two addresses: base+2 and base+3 (a /29 of a
    documentation subnet, gateway base+1)."""
    net = ipaddress.ip_network(base)
    a = net.network_address
    return json.loads(head.adm(
        "-j", "network", "add", name, "--subnet", base, "--gateway",
        str(a + 1), "--provision-start", str(a + 2), "--provision-end",
        str(a + 3), "--nic-tag", "external", "--public", *extra).out)


def test_pool_fills_then_spills_with_the_triton_cli(  # noqa: F811
        head, nodes, workdir, triton_bin):
    home, afp, akey, bfp, bkey = two_accounts(head, workdir)
    n1 = small_net(head, "pub-a", "198.51.100.0/29")
    n2 = small_net(head, "pub-b", "198.51.100.8/29")
    # alice's own network, and a pool only she may use
    n3 = json.loads(head.adm(
        "-j", "network", "add", "alice-net", "--subnet", "192.0.2.0/29",
        "--gateway", "192.0.2.1", "--provision-start", "192.0.2.2",
        "--provision-end", "192.0.2.3", "--nic-tag", "external",
        "--owner", "alice").out)
    pool = json.loads(head.adm("-j", "network-pool", "add", "web",
                               "--networks", "pub-a,pub-b",
                               "--description", "web tier").out)
    assert pool["networks"] == [n1["id"], n2["id"]]
    assert pool["family"] == "ipv4" and pool["nic_tag"] == "external"
    apool = json.loads(head.adm("-j", "network-pool", "add", "alices",
                                "--networks", "alice-net",
                                "--owner", "alice").out)
    head.start()
    node = FakeNode(head)
    nodes.append(node)

    def a(*args, check=True):
        return triton(triton_bin, head, home, "alice", afp, *args,
                      check=check)

    def b(*args, check=True):
        return triton(triton_bin, head, home, "bob", bfp, *args,
                      check=check)

    # The list: the pools in place of their member networks (sdc-cloudapi
    # ListNetworks); alice's own network is named by her pool too.
    rows = sorted(l.split() for l in a("network", "list", "-H", "-o",
                                       "name,public").stdout.splitlines())
    assert rows == [["alices", "false"], ["external", "true"],
                    ["web", "true"]]
    got = json.loads(a("network", "get", "web", "-j").stdout)
    assert got == {"id": pool["id"], "name": "web", "public": True,
                   "description": "web tier"}
    assert json.loads(a("network", "get", pool["id"], "-j").stdout) == got
    # a member network is still there by its id
    assert json.loads(a("network", "get", n1["id"], "-j").stdout)["name"] \
        == "pub-a"
    # a pool has no addresses of its own (sdc-cloudapi's refusal)
    r = a("network", "ip", "list", "web", check=False)
    assert r.returncode != 0 and "network pool" in r.stderr, r.stderr

    # bob sees the public pool, never alice's, nor her network
    rows = sorted(l.split()[0] for l in b("network", "list", "-H", "-o",
                                          "name").stdout.splitlines())
    assert rows == ["external", "web"]
    bid = f"/bob/keys/{bfp}"
    for path in (f"/bob/networks/{apool['id']}", "/bob/networks/alices",
                 f"/bob/networks/{n3['id']}"):
        st, body, _ = request(head, "GET", path, bkey, bid)
        assert st == 404, (path, st, body)
    img = json.loads(a("image", "get", "base-64", "-j").stdout)["id"]
    st, body, _ = request(head, "POST", "/bob/machines", bkey, bid,
                          body={"image": img, "package": "small-1G",
                                "networks": [apool["id"]]})
    assert st == 409 and "does not exist" in body["message"], body

    # Four creates on the pool: pub-a's two addresses, then pub-b's.
    def create(name):
        a("instance", "create", "-n", name, "--network", "web", "base-64",
          "small-1G")
        return json.loads(a("instance", "get", "-j", name).stdout)
    insts = [create(f"w{i}") for i in range(4)]
    assert [i["primaryIp"] for i in insts] == [
        "198.51.100.2", "198.51.100.3", "198.51.100.10", "198.51.100.11"]
    # the nic is on the member network, as NAPI records it
    assert [i["networks"] for i in insts] == [[n1["id"]]] * 2 + \
        [[n2["id"]]] * 2
    ips = json.loads(head.adm("-j", "address", "list", "pub-b").out)
    assert sorted(i["machine"] for i in ips) == sorted(
        i["id"] for i in insts[2:])

    # Full: NAPI's PoolFullError, nothing made.
    r = a("instance", "create", "-n", "w4", "--network", "web", "base-64",
          "small-1G", check=False)
    assert r.returncode != 0
    assert f"All networks in pool {pool['id']} are full" in r.stderr, \
        r.stderr
    names = a("instance", "list", "-H", "-o", "name").stdout.split()
    assert sorted(names) == ["w0", "w1", "w2", "w3"]

    # A delete gives its address back to its network; the next create on
    # the pool takes it.
    a("instance", "delete", "-f", "w1")
    assert node.finish_tasks() >= 1
    assert "198.51.100.3" not in {
        i["ip"] for i in json.loads(head.adm("-j", "address", "list",
                                             "pub-a").out)}
    again = create("w5")
    assert again["primaryIp"] == "198.51.100.3"
    assert again["networks"] == [n1["id"]]

    # alice's own pool works for her
    a("instance", "create", "-n", "own", "--network", "alices", "base-64",
      "small-1G")
    own = json.loads(a("instance", "get", "-j", "own").stdout)
    assert own["primaryIp"] == "192.0.2.2" and own["networks"] == [n3["id"]]

    # Deleting the pool leaves its instances their addresses (NAPI), and
    # its member networks show in the list again.
    head.adm("network-pool", "delete", "web")
    assert [l.split()[0] for l in a("network", "list", "-H", "-o",
                                    "name").stdout.splitlines()
            ].count("pub-a") == 1
    assert len(json.loads(head.adm("-j", "address", "list",
                                   "pub-a").out)) == 2


def test_hulladm_network_pools_and_refusals(head, workdir):  # noqa: F811
    head.adm("user", "add", "alice")
    head.adm("user", "add", "bob")
    n1 = small_net(head, "a1", "198.51.100.0/29")
    n2 = small_net(head, "a2", "198.51.100.8/29")
    head.adm("network", "add", "adm", "--subnet", "203.0.113.0/29",
             "--provision-start", "203.0.113.2", "--provision-end",
             "203.0.113.3", "--nic-tag", "admin")
    head.adm("network", "add", "six", "--subnet", "2001:db8::/64",
             "--provision-start", "2001:db8::2", "--provision-end",
             "2001:db8::3", "--nic-tag", "external")
    head.adm("network", "add", "bobs", "--subnet", "192.0.2.0/29",
             "--provision-start", "192.0.2.2", "--provision-end",
             "192.0.2.3", "--nic-tag", "external", "--owner", "bob")

    out = head.adm("network-pool", "add", "p", "--networks", "a2,a1").out
    assert out.startswith("added network pool p (")
    p = json.loads(head.adm("-j", "network-pool", "get", "p").out)
    assert p["networks"] == [n2["id"], n1["id"]]  # the order given
    assert p["public"] is True and p["description"] == ""
    listing = head.adm("network-pool", "list").out.splitlines()
    assert len(listing) == 2 and listing[1].split()[1:] == [
        "p", "ipv4", "external", "a2,a1"]

    bad = [
        # mixed nic tags, mixed families, unknown, twice, none
        (("network-pool", "add", "x", "--networks", "a1,adm"),
         "nic tags of all networks in a network pool must match"),
        (("network-pool", "add", "x", "--networks", "a1,six"),
         "address family of all networks in a network pool must match"),
        (("network-pool", "add", "x", "--networks", "a1,nope"),
         "unknown network nope"),
        (("network-pool", "add", "x", "--networks", "a1,a1"),
         "named twice"),
        (("network-pool", "add", "x", "--networks", ","),
         "at least one network"),
        (("network-pool", "add", "x"), "--networks is required"),
        # bob's network only in a pool of bob's
        (("network-pool", "add", "x", "--networks", "bobs"),
         "owner_uuids do not match"),
        (("network-pool", "add", "x", "--networks", "bobs", "--owner",
          "alice"), "owner_uuids do not match"),
        (("network-pool", "add", "x", "--networks", "a1", "--owner",
          "nosuch"), "nosuch"),
        # names unique among pools and networks
        (("network-pool", "add", "p", "--networks", "a1"), "exists"),
        (("network-pool", "add", "a1", "--networks", "a1"),
         "a network is named a1"),
        # a network a pool names stays (NAPI: in use)
        (("network", "delete", "a1"), "in use by network pool p"),
        # an update keeps the family
        (("network-pool", "update", "p", "--networks", "six"),
         "address family"),
        (("network-pool", "get", "nope"), "not found"),
        (("network-pool", "delete", "nope"), "not found"),
        (("network-pool", "frob"), "unknown subcommand"),
    ]
    for args, why in bad:
        r = head.host.fails("hulladm", *args)
        assert why in r.err, (args, r.err)
    assert len(head.adm("network-pool", "list").out.splitlines()) == 2
    assert json.loads(head.adm("-j", "network-pool", "get", "p").out) == p
    head.adm("network", "get", "a1")

    # bob's pool of his network
    bp = json.loads(head.adm("-j", "network-pool", "add", "bp",
                             "--networks", "bobs", "--owner", "bob").out)
    assert bp["public"] is False and len(bp["owner_uuids"]) == 1

    # update: order, name, description
    up = json.loads(head.adm("-j", "network-pool", "update", "p",
                             "--networks", f"{n1['id']},a2", "--name",
                             "q", "--description", "two").out)
    assert up["id"] == p["id"] and up["networks"] == [n1["id"], n2["id"]]
    assert up["name"] == "q" and up["description"] == "two"
    head.host.fails("hulladm", "network-pool", "get", "p")
    # delete the pool; then its networks may go
    assert head.adm("network-pool", "delete", "q").out.strip() == \
        f"deleted network pool q ({p['id']})"
    head.adm("network", "delete", "a1")
    assert [x["name"] for x in json.loads(
        head.adm("-j", "network-pool", "list").out)] == ["bp"]


def test_200_concurrent_creates_on_a_pool(head, nodes,  # noqa: F811
                                          workdir):
    """200 creates at once on a pool of a full network and one of 100
    addresses: 100 win, each a different address of the second network,
    100 are told the pool is full."""
    populate(head, workdir)
    home = os.path.join(workdir, "home")
    key, _pub, fp = ssh_key(home, "ed25519")
    head.adm("user", "key-add", "alice", key + ".pub")
    kid = f"/alice/keys/{fp}"
    head.adm("package", "add", "tiny", "--memory", "64", "--disk", "16",
             "--vcpus", "1")
    full = small_net(head, "full", "192.0.2.0/29")
    head.adm("address", "reserve", "full")
    head.adm("address", "reserve", "full")
    big = json.loads(head.adm(
        "-j", "network", "add", "big", "--subnet", "198.51.100.0/24",
        "--gateway", "198.51.100.1", "--provision-start", "198.51.100.100",
        "--provision-end", "198.51.100.199", "--nic-tag", "external",
        "--public").out)
    pool = json.loads(head.adm("-j", "network-pool", "add", "spill",
                               "--networks", "full,big").out)
    cfg = os.path.join(head.host.root, "head", "config.json")
    conf = json.load(open(cfg))
    conf["throttle"] = {"rate": 100000, "burst": 100000}
    with open(cfg, "w") as f:
        json.dump(conf, f)
    head.start()
    nodes.append(FakeNode(head))
    st, imgs, _ = request(head, "GET", "/alice/images", key, kid)
    assert st == 200 and imgs, imgs
    img = imgs[0]["id"]

    def one(i):
        for _ in range(40):
            st, body, _ = request(head, "POST", "/alice/machines", key, kid,
                                  body={"name": f"c{i}", "image": img,
                                        "package": "tiny",
                                        "networks": [pool["id"]]})
            if st != 503:
                return st, body
        return st, body
    with concurrent.futures.ThreadPoolExecutor(24) as ex:
        got = list(ex.map(one, range(200)))
    won = [body for st, body in got if st == 201]
    lost = [(st, body) for st, body in got if st != 201]
    assert len(won) == 100, lost[:3]
    ips = [m["primaryIp"] for m in won]
    assert len(set(ips)) == 100
    assert set(ips) == {f"198.51.100.{i}" for i in range(100, 200)}
    assert all(m["networks"] == [big["id"]] for m in won)
    assert all(st == 409 and body["code"] == "InvalidArgument" and
               "are full" in body["message"] for st, body in lost), \
        {(st, json.dumps(body)) for st, body in lost}
    held = json.loads(head.adm("-j", "address", "list", "big").out)
    assert sorted(i["ip"] for i in held) == sorted(ips)
    assert len(json.loads(head.adm("-j", "address", "list",
                                   "full").out)) == 2


def test_operator_endpoints_make_and_delete_pools(head, workdir):  # noqa: F811
    """The operator's POST /:login/networks with a "networks" list makes a
    pool and DELETE of its id removes it, with hulladm's checks; anyone
    else is refused."""
    home = os.path.join(workdir, "home")
    head.adm("user", "add", "alice")
    okey, _p, ofp = ssh_key(home, "ed25519", "admin")
    akey, _p, afp = ssh_key(home, "ed25519", "alice")
    head.adm("user", "key-add", "admin", okey + ".pub")
    head.adm("user", "key-add", "alice", akey + ".pub")
    n1 = small_net(head, "a1", "198.51.100.0/29")
    head.adm("network", "add", "adm", "--subnet", "203.0.113.0/29",
             "--provision-start", "203.0.113.2", "--provision-end",
             "203.0.113.3", "--nic-tag", "admin")
    head.start()
    oid, aid = f"/admin/keys/{ofp}", f"/alice/keys/{afp}"

    st, body, _ = request(head, "POST", "/alice/networks", akey, aid,
                          body={"name": "p", "networks": [n1["id"]]})
    assert st == 403 and body["code"] == "NotAuthorized", body
    st, body, _ = request(head, "POST", "/admin/networks", okey, oid,
                          body={"name": "p", "networks": ["a1", "adm"]})
    assert st == 409 and "nic tags" in body["message"], body
    st, body, _ = request(head, "POST", "/admin/networks", okey, oid,
                          body={"name": "p", "networks": ["a1"],
                                "description": "d", "frob": 1})
    assert st == 409 and "unknown field frob" in body["message"], body
    assert json.loads(head.adm("-j", "network-pool", "list").out) == []
    st, pool, _ = request(head, "POST", "/admin/networks", okey, oid,
                          body={"name": "p", "networks": ["a1"],
                                "description": "d"})
    assert st == 201 and pool["networks"] == [n1["id"]], pool
    st, got, _ = request(head, "GET", f"/alice/networks/{pool['id']}",
                         akey, aid)
    assert st == 200 and got == {"id": pool["id"], "name": "p",
                                 "public": True, "description": "d"}, got
    st, body, _ = request(head, "DELETE", "/admin/networks/a1", okey, oid)
    assert st == 409 and "in use by network pool p" in body["message"]
    st, body, _ = request(head, "DELETE", f"/alice/networks/{pool['id']}",
                          akey, aid)
    assert st == 403, body
    st, body, _ = request(head, "DELETE", f"/admin/networks/{pool['id']}",
                          okey, oid)
    assert st == 204, body
    assert json.loads(head.adm("-j", "network-pool", "list").out) == []
    st, body, _ = request(head, "GET", f"/alice/networks/{pool['id']}",
                          akey, aid)
    assert st == 404, body


def test_pool_create_racing_a_network_delete(head, workdir):  # noqa: F811
    """A pool made while its network is deleted, at the same moment
    through two hull-api processes on one database: exactly one of the
    two wins, and no pool ever names a network that is gone (on
    PostgreSQL the two transactions run at once; each rewrites or
    deletes the network on its etag)."""
    home = os.path.join(workdir, "home")
    okey, _p, ofp = ssh_key(home, "ed25519", "admin")
    head.adm("user", "key-add", "admin", okey + ".pub")
    nets = [small_net(head, f"r{i}", f"198.51.100.{8 * i}/29")
            for i in range(24)]
    head.start()
    other = Head(head.host, head.db)
    other.log = os.path.join(workdir, "hull-api-2.log")
    other.start()
    oid = f"/admin/keys/{ofp}"

    def one(i, n):
        go = threading.Barrier(2)

        def pool():
            go.wait()
            return request(head, "POST", "/admin/networks", okey, oid,
                           body={"name": f"p{i}",
                                 "networks": [n["id"]]})[0]

        def delete():
            go.wait()
            return request(other, "DELETE",
                           f"/admin/networks/{n['id']}", okey, oid)[0]

        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fp, fd = ex.submit(pool), ex.submit(delete)
            return fp.result(), fd.result()

    try:
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            got = list(ex.map(lambda a: one(*a), enumerate(nets)))
    finally:
        other.stop()
    for sp, sd in got:
        assert (sp, sd) in ((201, 409), (409, 204)), got
    left = {n["id"] for n in json.loads(
        head.adm("-j", "network", "list").out)}
    pools = json.loads(head.adm("-j", "network-pool", "list").out)
    assert len(pools) == sum(sp == 201 for sp, _ in got)
    for p in pools:
        assert set(p["networks"]) <= left, (p, left)
