"""A compute node that vanishes in the middle of a create, in the layout of
test_head_agent.py (a head node and three compute nodes, each in its own
network namespace, the real `triton` CLI).

The node goes away right after its agent takes the create task: the agent
is killed, or the node's admin link is cut. Once the server shows
`unknown` (no heartbeat for 11 s) the head node gives the create up on it:
retried once on another server with the same address, or, with no other
server that has room, failed visibly with its address released. When the
node comes back, its agent is never handed the create again, and what the
cut-off create left on it is deleted (a `discard` task), so the instance
does not run twice."""
import datetime
import json
import os
import re
import subprocess
import time

from conftest import Host
from nethelp import NetHost
from test_head_agent import (DC, PORT, Node, admin_network, lifecycle,
                             wait_for_text)
from test_head_api import triton_bin  # noqa: F401  (fixture)
from vmtools import unfreeze

TAKEN = re.compile(r'"msg":"task create ([0-9a-f-]{36})"')


def create_and_cut(dc, tbin, name, cut):
    """Starts `triton instance create -w` and calls cut(node) the moment
    a node's agent logs that it took the create. Returns (the CLI's
    process, the node, the machine's uuid, the time of the cut)."""
    marks = {id(n): len(n.agent.text()) for n in dc.nodes}
    env = {"PATH": os.environ["PATH"], "HOME": dc.home,
           "TRITON_URL": dc.url, "TRITON_ACCOUNT": "alice",
           "TRITON_KEY_ID": dc.fp, "TRITON_TLS_INSECURE": "1"}
    p = subprocess.Popen(["ip", "netns", "exec", dc.head_ns, tbin,
                          "instance", "create", "-w", "-n", name,
                          dc.image_name, "bb-128M"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    t0 = time.time()
    while True:
        for n in dc.nodes:
            m = TAKEN.search(n.agent.text()[marks[id(n)]:])
            if m:
                cut(n)
                return p, n, m.group(1), time.time()
        assert time.time() - t0 < 60, "no agent took the create"
        time.sleep(0.005)


def iso_s(text):
    """Seconds since the epoch of the head node's ISO time."""
    return datetime.datetime.strptime(
        text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()


def creates(dc, machine):
    return sorted((t for t in dc.records("tasks")
                   if t["machine"] == machine and t["action"] == "create"),
                  key=lambda t: t["created_ms"])


def wait_gone(node, u, within=30):
    t0 = time.time()
    while node.vm(u) is not None:
        assert time.time() - t0 < within, node.vm(u)
        time.sleep(0.2)


def test_node_vanishes_mid_create(workdir, triton_bin):  # noqa: F811
    dc = DC(workdir, os.path.join(workdir, "home"))
    headroot = os.path.join(workdir, "head", "zones")
    os.makedirs(headroot)
    head = Host(headroot, os.path.join(workdir, "head"))
    net = NetHost(head)
    try:
        spaces = admin_network(net, 3)
        dc.setup(head.env, net.ns, f"192.0.2.1:{PORT}")
        for i, ns in enumerate(spaces):
            dc.nodes.append(Node(workdir, f"cn{i}", ns))
        dc.populate(dc.nodes)
        for n in dc.nodes:
            assert dc.join(n, dc.new_token_line()).returncode == 0
            n.agent.start()
        by_uuid = {n.uuid(): n for n in dc.nodes}
        for u in by_uuid:
            dc.wait_status(u, "running")
        # One instance on each node (spread): every node has the image,
        # so a create there needs nothing from the head node.
        first = [lifecycle(dc, triton_bin, by_uuid, f"web{i}")
                 for i in range(3)]
        assert len({i["compute_node"] for i in first}) == 3
        uuid_of = {id(n): u for u, n in by_uuid.items()}

        # 1. The agent killed right after it took the create: the create
        # is moved to another server once the first shows unknown, with
        # the same address; the CLI's create -w ends with it running.
        ips = dc.count("ips")
        p, a, u, t_cut = create_and_cut(dc, triton_bin, "lost0",
                                        lambda n: n.agent.kill())
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
        assert "Created instance lost0" in out, out
        assert time.time() - t_cut < 40
        inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                    "lost0").stdout)
        a_uuid = uuid_of[id(a)]
        assert inst["id"] == u and inst["state"] == "running"
        assert inst["compute_node"] != a_uuid
        b = by_uuid[inst["compute_node"]]
        vm = b.vm(u)
        assert vm["state"] == "running"
        assert vm["nics"][0]["ip"] == inst["primaryIp"]
        assert dc.count("ips") == ips + 1
        ts = creates(dc, u)
        assert [(t["server"], t["state"]) for t in ts] == \
            [(a_uuid, "failed"), (inst["compute_node"], "done")], ts
        assert ts[0]["error"] == (f"server {a_uuid} stopped answering "
                                  "before it reported this create")
        # Given up only once the server showed unknown: 11 s after its
        # last heartbeat (which came before the kill).
        silent = iso_s(ts[0]["finished"]) - iso_s(
            dc.servers()[a_uuid]["last_heartbeat"])
        assert 11 <= silent < 20, silent
        assert iso_s(ts[1]["created"]) >= iso_s(ts[0]["finished"])
        rec = dc.record("machines", u)
        assert rec["first_try"]["server"] == a_uuid
        # Hull's bookkeeping is not CloudAPI's: not shown.
        assert "stray_server" not in inst and "first_try" not in inst

        # The agent back: it is not handed the create again, and what the
        # cut-off create left there (if it got that far) is deleted.
        a.agent.start()
        dc.wait_status(a_uuid, "running")
        wait_gone(a, u)
        time.sleep(2)  # a few more heartbeats and task polls
        assert a.vm(u) is None
        assert b.vm(u)["state"] == "running"
        assert dc.record("tasks", ts[0]["id"])["state"] == "failed"
        assert dc.record("machines", u)["server"] == inst["compute_node"]
        assert json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                    "lost0").stdout)["state"] == "running"

        # 2. The node's admin link cut instead: its agent finishes the
        # create (the instance runs there) but cannot report it. The
        # create is moved all the same; once the link is back the late
        # report changes nothing and the node's copy is deleted.
        def cut(n):
            net.ip("ip", "link", "set", "admin0", "down", ns=n.ns)
        p, a, u2, t_cut = create_and_cut(dc, triton_bin, "lost1", cut)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (out, err)
        a_uuid = uuid_of[id(a)]
        inst2 = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                     "lost1").stdout)
        assert inst2["compute_node"] != a_uuid
        assert inst2["state"] == "running"
        b = by_uuid[inst2["compute_node"]]
        assert b.vm(u2)["state"] == "running"
        # Cut off from the head node, the node ran it too.
        t0 = time.time()
        while (a.vm(u2) or {}).get("state") != "running":
            assert time.time() - t0 < 30, a.vm(u2)
            time.sleep(0.2)
        lost = creates(dc, u2)[0]
        assert (lost["server"], lost["state"]) == (a_uuid, "failed")
        net.ip("ip", "link", "set", "admin0", "up", ns=a.ns)
        wait_for_text(a.agent, "task discard " + u2, 60)
        wait_gone(a, u2)
        assert dc.record("tasks", lost["id"])["state"] == "failed"
        assert dc.record("tasks", lost["id"])["error"] == lost["error"]
        rec = dc.record("machines", u2)
        assert rec["server"] == inst2["compute_node"]
        assert rec["state"] == "running"
        assert b.vm(u2)["state"] == "running"
        # The discard is the node's business only: no audit entry.
        audit = dc.triton(triton_bin, "instance", "audit", "-j",
                          "lost1").stdout
        assert "discard" not in audit, audit

        # 3. No other server with room (both reserved): the create fails
        # visibly, and its address is free again. The other agents are
        # down too, as on a head node with one compute node: what the
        # head node hears is the CLI asking after the create.
        target = next(n for n in dc.nodes)
        t_uuid = uuid_of[id(target)]
        for s in by_uuid:
            if s != t_uuid:
                dc.adm("server", "reserve", s)
                by_uuid[s].agent.kill()
        ips = dc.count("ips")
        p, a, u3, t_cut = create_and_cut(dc, triton_bin, "lost2",
                                         lambda n: n.agent.kill())
        assert a is target
        out, err = p.communicate(timeout=120)
        assert p.returncode != 0, out
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "lost2").stdout)
        assert got["state"] == "failed"
        assert dc.count("ips") == ips
        rec = dc.record("machines", u3)
        assert rec["error"] == (f"server {t_uuid} stopped answering "
                                "before it reported this create")
        for s in by_uuid:
            if s != t_uuid:
                assert by_uuid[s].vm(u3) is None
                dc.adm("server", "unreserve", s)
                by_uuid[s].agent.start()
        target.agent.start()
        for s in by_uuid:
            dc.wait_status(s, "running")
        wait_gone(target, u3)
        time.sleep(2)
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "lost2").stdout)
        assert got["state"] == "failed"
        assert target.vm(u3) is None

        for name in ("web0", "web1", "web2", "lost0", "lost1", "lost2"):
            dc.triton(triton_bin, "instance", "delete", "-f", "-w", name)
        for n in dc.nodes:
            assert n.run("vmadm", "list", "-H").stdout == ""
    finally:
        dc.close()
        net.close()
        unfreeze(workdir)
