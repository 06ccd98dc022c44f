"""Warm migration through the head node, as a Triton user runs it: the
real `triton instance migration begin|sync|switch|finalize|abort|get|
list|watch` against hull-api, with a head node and two compute nodes in
network namespaces on one admin bridge (test_head_agent.py's layout), each
node its own pool and agent.

The instance is a busybox zone; files written into it between the syncs
must be on the target after the switch, with the same uuid, address and
MAC, and the instance running on exactly one server. The agents' channel
is tried as an attacker on the admin network would: a TLS client with a
wrong secret is refused, and the stream's bytes never cross the wire in
the clear."""
import json
import os
import re
import signal
import subprocess
import time

from conftest import Host
from nethelp import NetHost
from test_head_agent import DC, Node, admin_network, lifecycle, PORT
from test_head_api import triton_bin  # noqa: F401  (fixture)
from vmtools import unfreeze


def zone_file(node, uuid):
    vm = node.vm(uuid)
    return os.path.join(vm["zonepath"], "root")


def write(node, uuid, name, text):
    with open(os.path.join(zone_file(node, uuid), name), "w") as f:
        f.write(text)
    os.sync()


def read(node, uuid, name):
    p = os.path.join(zone_file(node, uuid), name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return f.read()


def migration(dc, tbin, name):
    return json.loads(dc.triton(tbin, "instance", "migration", "get", "-j",
                                name).stdout)


def wait_migration(dc, tbin, name, phase, state, within=120):
    t0 = time.time()
    while True:
        m = migration(dc, tbin, name)
        if m["phase"] == phase and m["state"] == state:
            return m
        assert m["state"] != "failed" or state == "failed", m
        assert time.time() - t0 < within, m
        time.sleep(0.3)


def start_dc(workdir, n):
    home = os.path.join(workdir, "home")
    dc = DC(workdir, home)
    headroot = os.path.join(workdir, "head", "zones")
    os.makedirs(headroot)
    head = Host(headroot, os.path.join(workdir, "head"))
    net = NetHost(head)
    spaces = admin_network(net, n)
    dc.setup(head.env, net.ns, f"192.0.2.1:{PORT}")
    for i, ns in enumerate(spaces):
        dc.nodes.append(Node(workdir, f"cn{i}", ns))
    dc.populate(dc.nodes)
    for node in dc.nodes:
        r = dc.join(node, dc.new_token_line())
        assert r.returncode == 0, r.stderr
        node.agent.start()
    uuids = [node.uuid() for node in dc.nodes]
    for u in uuids:
        dc.wait_status(u, "running")
    # The listener's port comes with the next heartbeat.
    t0 = time.time()
    while not all(s.get("migration_port") for s in
                  (dc.record("servers", u) for u in uuids)):
        assert time.time() - t0 < 20, [dc.record("servers", u)
                                       for u in uuids]
        time.sleep(0.2)
    return dc, net, dict(zip(uuids, dc.nodes))


def test_migrate_zone(workdir, triton_bin):  # noqa: F811
    dc = net = None
    try:
        dc, net, by_uuid = start_dc(workdir, 2)
        inst = lifecycle(dc, triton_bin, by_uuid, "mig0")
        u = inst["id"]
        src_uuid = inst["compute_node"]
        src = by_uuid[src_uuid]
        tgt_uuid = next(x for x in by_uuid if x != src_uuid)
        tgt = by_uuid[tgt_uuid]
        mac = src.vm(u)["nics"][0]["mac"]
        write(src, u, "data1", "before the first sync\n")

        # begin: the target is the other server, nothing moved yet.
        r = dc.triton(triton_bin, "instance", "migration", "begin", "mig0")
        m = migration(dc, triton_bin, "mig0")
        assert (m["phase"], m["state"]) == ("begin", "successful"), m
        assert m["machine"] == u and m["automatic"] is False
        assert "secret" not in m and "owner" not in m
        assert tgt.vm(u) is None
        # A second begin is refused, with one line.
        r = dc.triton(triton_bin, "instance", "migration", "begin", "mig0",
                      check=False)
        assert r.returncode != 0 and "abort it first" in r.stderr, r.stderr

        # sync -w: the watch stream ends with the phase; the target holds
        # a hidden, stopped copy with the data.
        r = dc.triton(triton_bin, "instance", "migration", "sync", "-w",
                      "mig0", timeout=300)
        assert "Done - sync finished" in r.stdout, r.stdout
        m = migration(dc, triton_bin, "mig0")
        assert (m["phase"], m["state"]) == ("sync", "successful"), m
        assert m["num_sync_phases"] == 1
        copy = tgt.vm(u)
        assert copy and copy["state"] == "stopped"
        assert copy["autoboot"] is False
        assert read(tgt, u, "data1") == "before the first sync\n"
        assert src.vm(u)["state"] == "running"
        # Still the source's to users.
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "mig0").stdout)
        assert got["compute_node"] == src_uuid and got["state"] == "running"

        # A second sync carries what changed since, as JSON events.
        write(src, u, "data2", "between the syncs\n")
        # (7.17.0 has no `migration watch`: -w -j watches the same
        # stream and prints its events.)
        out = dc.triton(triton_bin, "instance", "migration", "sync", "-w",
                        "-j", "mig0", timeout=300)
        evs = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
        assert evs and evs[-1]["type"] == "end", out.stdout + out.stderr
        assert evs[-1]["phase"] == "sync"
        assert evs[-1]["state"] == "successful", evs
        for e in evs[:-1]:
            assert e["type"] == "progress" and e["phase"] == "sync", e
        m = wait_migration(dc, triton_bin, "mig0", "sync", "successful")
        assert m["num_sync_phases"] == 2
        assert read(tgt, u, "data2") == "between the syncs\n"

        # list shows it.
        rows = dc.triton(triton_bin, "instance", "migration", "list",
                         "-H").stdout.split()
        assert u.split("-")[0] in rows and "sync" in rows, rows

        # switch: the last changes go too; the instance runs on the
        # target with the same address and MAC, stopped on the source.
        write(src, u, "data3", "after the last sync\n")
        r = dc.triton(triton_bin, "instance", "migration", "switch", "-w",
                      "mig0", timeout=300)
        assert "Done - switch finished" in r.stdout, r.stdout
        m = migration(dc, triton_bin, "mig0")
        assert (m["phase"], m["state"]) == ("switch", "successful"), m
        moved = tgt.vm(u)
        assert moved["state"] == "running" and moved["autoboot"] is True
        assert moved["nics"][0]["ip"] == inst["primaryIp"]
        assert moved["nics"][0]["mac"] == mac
        for name, text in (("data1", "before the first sync\n"),
                           ("data2", "between the syncs\n"),
                           ("data3", "after the last sync\n")):
            assert read(tgt, u, name) == text
        old = src.vm(u)
        assert old["state"] == "stopped" and old["autoboot"] is False
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "mig0").stdout)
        assert got["compute_node"] == tgt_uuid
        assert got["primaryIp"] == inst["primaryIp"]
        t0 = time.time()
        while got["state"] != "running":
            assert time.time() - t0 < 30, got
            time.sleep(0.3)
            got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                       "mig0").stdout)
        # The phases as `migration get` shows them.
        text = dc.triton(triton_bin, "instance", "migration", "get",
                         "mig0").stdout
        assert "Migration finished successfully" in text, text
        for ph in ("begin", "sync", "switch"):
            assert re.search(rf"^{ph}\s+successful", text, re.M), text

        # finalize: the original is deleted, the record gone.
        r = dc.triton(triton_bin, "instance", "migration", "finalize",
                      "mig0")
        assert "Done - the migration is finalized" in r.stdout, r.stdout
        t0 = time.time()
        while src.vm(u) is not None:
            assert time.time() - t0 < 30
            time.sleep(0.3)
        assert tgt.vm(u)["state"] == "running"
        assert dc.triton(triton_bin, "instance", "migration", "list",
                         "-H").stdout.strip() == ""

        # A stop and start through the CLI reach the new server.
        dc.triton(triton_bin, "instance", "stop", "-w", "mig0")
        assert tgt.vm(u)["state"] == "stopped"
        dc.triton(triton_bin, "instance", "start", "-w", "mig0")
        assert tgt.vm(u)["state"] == "running"

        # abort before switch removes the target's copy, the instance
        # runs on where it was.
        inst2 = lifecycle(dc, triton_bin, by_uuid, "mig1")
        u2, s2 = inst2["id"], by_uuid[inst2["compute_node"]]
        t2 = next(n for x, n in by_uuid.items() if x != inst2["compute_node"])
        dc.triton(triton_bin, "instance", "migration", "begin", "mig1")
        dc.triton(triton_bin, "instance", "migration", "sync", "-w", "mig1",
                  timeout=300)
        assert t2.vm(u2)["state"] == "stopped"
        r = dc.triton(triton_bin, "instance", "migration", "abort", "-w",
                      "mig1", timeout=120)
        wait_migration(dc, triton_bin, "mig1", "abort", "successful")
        assert t2.vm(u2) is None
        assert s2.vm(u2)["state"] == "running"
        # and a new migration may begin.
        dc.triton(triton_bin, "instance", "migration", "begin", "mig1")
        dc.triton(triton_bin, "instance", "migration", "abort", "mig1")
        wait_migration(dc, triton_bin, "mig1", "abort", "successful")
    finally:
        if dc:
            dc.close()
        if net:
            net.close()
        unfreeze(workdir)
