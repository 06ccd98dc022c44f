"""ListMachines' paging (`GET /:login/machines?offset=&limit=`), as the
`triton` CLI pages: it asks for the next page whenever a page came back
full, so the page after the last is asked for on every full listing and
is answered from the index alone (src/head/machines.c). Deleted machines
(their tombstones stay in the store) must not shift pages. On SQLite and
PostgreSQL; the compute node is played over the agents' API."""
import os

import pytest

from conftest import Host, _init_pool
from nethelp import NetHost
from test_head_api import pg_database, pgcluster, ssh_key  # noqa: F401
from test_head_two_apis import Api, FakeNode, signed
import imgtools as it


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_machine_pages(workdir, store, request):
    root = os.path.join(workdir, "hn", "zones")
    os.makedirs(root)
    host = Host(root, os.path.join(workdir, "hn"))
    _init_pool(host, "btrfs")
    net = NetHost(host)
    ns = net.ns
    api = fake = None
    try:
        db = pg_database(request.getfixturevalue("pgcluster")) \
            if store == "postgresql" else "sqlite"
        host.run("hulladm", "setup", "--db", db, "--listen", "127.0.0.1:0",
                 "--no-tls")
        api = Api(ns, host.env, None, os.path.join(workdir, "api.log"))
        home = os.path.join(workdir, "home")
        host.run("hulladm", "user", "add", "alice")
        key, _pub, fp = ssh_key(home, "ed25519")
        kid = f"/alice/keys/{fp}"
        host.run("hulladm", "user", "key-add", "alice", key + ".pub")
        host.run("hulladm", "package", "add", "p-64M", "--memory", "64",
                 "--disk", "16", "--vcpus", "1")
        host.run("hulladm", "network", "add", "net", "--subnet",
                 "198.51.100.0/24", "--gateway", "198.51.100.1",
                 "--provision-start", "198.51.100.10", "--provision-end",
                 "198.51.100.200", "--nic-tag", "ext0", "--public")
        d = os.path.join(workdir, "img")
        os.makedirs(d)
        m, mpath, fpath = it.image(d, name="base-64", version="24.4.0")
        host.run("hulladm", "image", "import", "-m", mpath, "-f", fpath)
        fake = FakeNode(ns, api.url, host.run("hulladm", "join-token")
                        .out.strip(), 64000)

        def get(path):
            st, body = signed(ns, api.url, "GET", path, key, kid)
            assert st == 200, (path, body)
            return body

        def names(path):
            return [x["name"] for x in get(path)]

        ids = {}
        for i in range(6):
            st, body = signed(ns, api.url, "POST", "/alice/machines", key,
                              kid, {"name": f"m{i}", "image": m["uuid"],
                                    "package": "p-64M"})
            assert st == 201, body
            ids[f"m{i}"] = body["id"]
        assert fake.finish_tasks() == 6
        # Pages in the store's order (by id), together the whole list.
        whole = names("/alice/machines?limit=1000")
        assert sorted(whole) == [f"m{i}" for i in range(6)]
        assert names("/alice/machines?limit=4&offset=0") == whole[:4]
        assert names("/alice/machines?limit=4&offset=4") == whole[4:]
        assert names("/alice/machines?limit=4&offset=6") == []
        assert names("/alice/machines?limit=4&offset=60") == []
        # Hidden fields stay hidden in a page as in a get.
        one = get("/alice/machines?limit=1&offset=5")[0]
        assert one == get(f"/alice/machines/{one['id']}")
        assert "owner" not in one and "audit" not in one
        # Two deleted: their tombstones stay in the store but in no page,
        # and the pages after them shift.
        gone = whole[1:3]
        for n in gone:
            st, _ = signed(ns, api.url, "DELETE", f"/alice/machines/{ids[n]}",
                           key, kid)
            assert st == 204
        assert fake.finish_tasks() == 2
        live = [n for n in whole if n not in gone]
        assert names("/alice/machines?limit=1000") == live
        assert names("/alice/machines?limit=3&offset=3") == live[3:]
        assert names("/alice/machines?limit=3&offset=4") == []
        assert names("/alice/machines?limit=2&offset=2") == live[2:4]
        # An offset without a limit: the default limit (1,000).
        assert names("/alice/machines?offset=1") == live[1:]
        # Every tombstone counted, none shown: an offset past the live
        # machines but not past the records is still an empty page.
        assert names("/alice/machines?offset=5") == []
    finally:
        if fake:
            fake.stop.set()
        if api:
            api.kill()
        net.close()
        host.run("hull", "fini", check=False)
