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
from test_head_api import pgcluster, pg_database  # noqa: F401  (fixture)
from test_head_api import triton_bin  # noqa: F401  (fixture)
import pytest
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


def start_dc(workdir, n, db=None, head_env=None):
    home = os.path.join(workdir, "home")
    dc = DC(workdir, home)
    headroot = os.path.join(workdir, "head", "zones")
    os.makedirs(headroot)
    head = Host(headroot, os.path.join(workdir, "head"))
    head.env.update(head_env or {})
    net = NetHost(head)
    spaces = admin_network(net, n)
    dc.setup(head.env, net.ns, f"192.0.2.1:{PORT}", db)
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
    while not all(dc.servers()[u].get("migration_port") for u in uuids):
        assert time.time() - t0 < 20, dc.servers()
        time.sleep(0.2)
    return dc, net, dict(zip(uuids, dc.nodes))


def stop_dc(dc, net, workdir):
    """Ends what start_dc started; dc and net are None where it failed
    before making them."""
    if dc:
        dc.close()
    if net:
        net.close()
    unfreeze(workdir)


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_migrate_zone(workdir, triton_bin, db, request):  # noqa: F811
    """The whole migration on either store."""
    dc = net = None
    uri = None
    if db == "postgresql":
        uri = pg_database(request.getfixturevalue("pgcluster"))
    try:
        dc, net, by_uuid = start_dc(workdir, 2, uri)
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
        # A delete would leave the target's copy: refused meanwhile.
        r = dc.triton(triton_bin, "instance", "delete", "-f", "mig0",
                      check=False)
        assert r.returncode != 0 and "being migrated" in r.stderr, r.stderr

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
        stop_dc(dc, net, workdir)


MARKER = b"hull-migration-plaintext-marker\n"


def write_blob(node, uuid, name, mib):
    """mib MiB that compress badly, with a marker a sniffer could find."""
    with open(os.path.join(zone_file(node, uuid), name), "wb") as f:
        for _ in range(mib * 16):
            f.write(MARKER + os.urandom(65536 - len(MARKER)))
    os.sync()


def running_on(nodes, uuid):
    return [n for n in nodes if (n.vm(uuid) or {}).get("state") == "running"]


def wait_events(dc, u, within=30):
    """Waits until the running phase reported progress."""
    t0 = time.time()
    while not ((dc.record("migrations", u) or {}).get("state") == "running"
               and dc.record("migrations", u).get("events")):
        assert time.time() - t0 < within, dc.record("migrations", u)
        time.sleep(0.1)


def psk_client(ns, host, port, identity, key):
    return subprocess.run(
        ["ip", "netns", "exec", ns, "openssl", "s_client", "-connect",
         f"{host}:{port}", "-tls1_2", "-psk_identity", identity, "-psk",
         key, "-cipher", "PSK-AES256-GCM-SHA384"],
        input="HULLSEND", capture_output=True, text=True, timeout=30)


def nft_reset(ns, port, on):
    """Every packet to the listener answered with a reset: a connection
    broken under the agents."""
    if on:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"],
                       input="table inet brk {\n chain c {\n"
                       "  type filter hook input priority 0;\n"
                       "  tcp dport %d reject with tcp reset\n }\n}\n"
                       % port, check=True, text=True)
    else:
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table",
                        "inet", "brk"], check=True)


def test_migrate_faults(workdir, triton_bin):  # noqa: F811
    dc = net = sniff = None
    try:
        dc, net, by_uuid = start_dc(workdir, 2)
        nodes = list(by_uuid.values())
        inst = lifecycle(dc, triton_bin, by_uuid, "f0")
        u, src_uuid = inst["id"], inst["compute_node"]
        src = by_uuid[src_uuid]
        tgt_uuid = next(x for x in by_uuid if x != src_uuid)
        tgt = by_uuid[tgt_uuid]
        tsrv = dc.servers()[tgt_uuid]
        thost, tport = tsrv["admin_ip"], tsrv["migration_port"]
        assert thost == "192.0.2.%d" % (11 + nodes.index(tgt))

        # The operator pins the target and caps the bandwidth; pinning
        # the source itself is refused at begin.
        dc.adm("migration", "pin", u, src_uuid)
        r = dc.triton(triton_bin, "instance", "migration", "begin", "f0",
                      check=False)
        assert r.returncode != 0 and "pinned server" in r.stderr, r.stderr
        dc.adm("migration", "pin", u, tgt_uuid)
        dc.adm("migration", "limit", u, "16")  # 2 MB/s
        r = dc.adm("migration", "limit", u, "x", check=False)
        assert r.returncode == 2 and r.stderr.count("\n") == 1
        dc.triton(triton_bin, "instance", "migration", "begin", "f0")
        m = dc.record("migrations", u)
        assert m["target_server_uuid"] == tgt_uuid
        assert m["limit_bytes_s"] == 2000000

        # A third party on the admin network: without the secret the
        # handshake fails, for the migrating uuid and any other.
        for n, (ident, key) in enumerate(((u, "00" * 32),
                                          (u, m["secret"][::-1]),
                                          ("0" * 8 + u[8:], m["secret"]))):
            r = psk_client(net.ns, thost, tport, ident, key)
            assert "alert" in r.stderr, (r.stdout, r.stderr)
            t0 = time.time()
            while tgt.agent.text().count("migration channel refused") \
                    < n + 1:
                assert time.time() - t0 < 10, tgt.agent.text()[-2000:]
                time.sleep(0.1)
        assert "migration stream for" not in tgt.agent.text()
        assert tgt.vm(u) is None

        # Progress at least once a second under the cap, and nothing of
        # the data in the clear on the wire.
        write_blob(src, u, "blob1", 6)
        pcap = os.path.join(workdir, "admin.pcap")
        sniff = subprocess.Popen(["ip", "netns", "exec", net.ns, "tcpdump",
                                  "-i", "br0", "-w", pcap, "-U", "tcp",
                                  "port", str(tport)],
                                 stderr=subprocess.DEVNULL)
        time.sleep(1)
        t0 = time.time()
        out = dc.triton(triton_bin, "instance", "migration", "sync", "-w",
                        "-j", "f0", timeout=300)
        took = time.time() - t0
        sniff.send_signal(signal.SIGINT)
        sniff.wait(10)
        sniff = None
        evs = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
        assert evs[-1] == {"type": "end", "phase": "sync",
                           "state": "successful"}, evs
        prog = [e for e in evs if e["type"] == "progress"]
        assert took >= 2.5, took  # 6 MiB at 2 MB/s
        assert len(prog) >= int(took) - 2, (took, evs)
        for e in prog:
            assert e["transfer_bytes_second"] <= 2600000, e
            assert {"current_progress", "total_progress", "eta_ms"} <= \
                set(e), e
        with open(pcap, "rb") as f:
            wire = f.read()
        assert len(wire) > 4 * 1024 * 1024, len(wire)  # most of it seen
        assert MARKER not in wire
        assert os.path.getsize(os.path.join(zone_file(tgt, u), "blob1")) \
            == 6 * 1024 * 1024

        def sync_again(expect_files):
            dc.triton(triton_bin, "instance", "migration", "sync", "-w",
                      "f0", timeout=300)
            m = wait_migration(dc, triton_bin, "f0", "sync", "successful")
            for name in expect_files:
                assert os.path.getsize(os.path.join(
                    zone_file(tgt, u), name)) == 6 * 1024 * 1024
            return m

        def one_running(where):
            assert running_on(nodes, u) == [where]

        # kill -9 of the source's agent during a sync: the instance runs
        # on; the restarted agent reports the sync failed; sync again.
        write_blob(src, u, "blob2", 6)
        dc.triton(triton_bin, "instance", "migration", "sync", "f0")
        wait_events(dc, u)
        src.agent.kill()
        one_running(src)
        src.agent.start()
        m = wait_migration(dc, triton_bin, "f0", "sync", "failed")
        assert "agent stopped" in m["error"], m
        one_running(src)
        sync_again(["blob1", "blob2"])

        # kill -9 of the target's agent during a sync.
        write_blob(src, u, "blob3", 6)
        dc.triton(triton_bin, "instance", "migration", "sync", "f0")
        wait_events(dc, u)
        tgt.agent.kill()
        m = wait_migration(dc, triton_bin, "f0", "sync", "failed")
        one_running(src)
        tgt.agent.start()
        sync_again(["blob1", "blob2", "blob3"])

        # kill -9 of the head node during a sync: the agents carry on,
        # the report lands once it is back.
        write_blob(src, u, "blob4", 6)
        dc.triton(triton_bin, "instance", "migration", "sync", "f0")
        wait_events(dc, u)
        dc.api.kill()
        time.sleep(2)
        one_running(src)
        dc.start_api()
        wait_migration(dc, triton_bin, "f0", "sync", "successful")
        assert os.path.getsize(os.path.join(zone_file(tgt, u), "blob4")) \
            == 6 * 1024 * 1024

        # A graceful stop of the head node while a CLI watches a sync:
        # the stream ends, hull-api exits 0 (libmicrohttpd refuses to stop
        # with a suspended connection), the sync completes.
        write_blob(src, u, "blob7", 6)
        env = {"PATH": os.environ["PATH"], "HOME": dc.home,
               "TRITON_URL": dc.url, "TRITON_ACCOUNT": "alice",
               "TRITON_KEY_ID": dc.fp, "TRITON_TLS_INSECURE": "1"}
        cli = subprocess.Popen(["ip", "netns", "exec", dc.head_ns, triton_bin,
                                "instance", "migration", "sync", "-w", "f0"],
                               env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        wait_events(dc, u)
        time.sleep(0.5)
        dc.api.p.send_signal(signal.SIGTERM)
        assert dc.api.p.wait(15) == 0, dc.api.text()[-2000:]
        cli.communicate(timeout=30)
        dc.start_api()
        wait_migration(dc, triton_bin, "f0", "sync", "successful")

        # A connection broken during a sync.
        write_blob(src, u, "blob5", 6)
        dc.triton(triton_bin, "instance", "migration", "sync", "f0")
        wait_events(dc, u)
        nft_reset(tgt.ns, tport, True)
        m = wait_migration(dc, triton_bin, "f0", "sync", "failed")
        nft_reset(tgt.ns, tport, False)
        one_running(src)
        sync_again(["blob5"])

        # A connection broken during the switch, after the stop: the
        # source runs again as before, the switch can be retried.
        write_blob(src, u, "blob6", 6)
        dc.triton(triton_bin, "instance", "migration", "switch", "f0")
        t0 = time.time()
        while (src.vm(u) or {}).get("state") == "running":
            assert time.time() - t0 < 60
            time.sleep(0.05)
        wait_events(dc, u)
        nft_reset(tgt.ns, tport, True)
        m = wait_migration(dc, triton_bin, "f0", "switch", "failed")
        nft_reset(tgt.ns, tport, False)
        t0 = time.time()
        while running_on(nodes, u) != [src]:
            assert time.time() - t0 < 60, [n.vm(u) for n in nodes]
            time.sleep(0.2)
        assert src.vm(u)["autoboot"] is True
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "f0").stdout)
        assert got["compute_node"] == src_uuid

        # Retried, it goes through, with every file.
        dc.adm("migration", "limit", u, "0")
        dc.triton(triton_bin, "instance", "migration", "switch", "-w", "f0",
                  timeout=300)
        wait_migration(dc, triton_bin, "f0", "switch", "successful")
        one_running(tgt)
        for i in range(1, 8):
            assert os.path.getsize(os.path.join(
                zone_file(tgt, u), f"blob{i}")) == 6 * 1024 * 1024
        dc.triton(triton_bin, "instance", "migration", "finalize", "f0")
    finally:
        if sniff:
            sniff.kill()
            sniff.wait()
        stop_dc(dc, net, workdir)


def test_disaster_recovery(workdir, triton_bin):  # noqa: F811
    """Three compute nodes, five instances replicated every 3 s; one node
    dies (its agent and its instances killed): within 30 s of its being
    declared lost (HULL_DR_LOST_S=12 here) each of its instances runs on
    its standby with the data of the last replica; back, it leaves them
    stopped."""
    dc = net = None
    try:
        dc, net, by_uuid = start_dc(workdir, 3,
                                    head_env={"HULL_DR_LOST_S": "12"})
        nodes = list(by_uuid.values())
        # Half a GiB of disk each: a standby copy books its instance's
        # disk too, and five instances of 1 GiB with their standbys
        # would not fit three 4 GiB test pools.
        dc.adm("package", "add", "bb-512", "--memory", "128", "--disk",
               "512", "--vcpus", "1")
        insts = []
        for i in range(5):
            dc.triton(triton_bin, "instance", "create", "-w", "-n",
                      f"dr{i}", dc.image_name, "bb-512")
            insts.append(json.loads(dc.triton(
                triton_bin, "instance", "get", "-j", f"dr{i}").stdout))
            assert insts[-1]["state"] == "running", insts[-1]
        for i in insts:
            out = json.loads(dc.adm("-j", "replication", "set", i["id"],
                                    "--interval", "3").stdout)
            assert out["standby"] != i["compute_node"], out
            assert out["standby"] in by_uuid
        r = dc.adm("replication", "set", insts[0]["id"], check=False)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        for i in insts:
            write(by_uuid[i["compute_node"]], i["id"], "dr.txt",
                  f"data of {i['id']}\n")
        # A replica with the data on each standby (its hidden copy).
        t0 = time.time()
        while True:
            reps = {r["vm"]: r for r in
                    json.loads(dc.adm("-j", "replication", "list").stdout)}
            if all(reps[i["id"]].get("last_replica_at") and
                   by_uuid[reps[i["id"]]["standby"]].vm(i["id"]) and
                   read(by_uuid[reps[i["id"]]["standby"]], i["id"],
                        "dr.txt") == f"data of {i['id']}\n"
                   for i in insts):
                break
            assert time.time() - t0 < 60, reps
            time.sleep(0.5)
        text = dc.adm("replication", "list").stdout
        assert "LAST REPLICA" in text and insts[0]["id"] in text

        # The server with the most instances dies.
        lost_uuid = max(by_uuid, key=lambda u: sum(
            i["compute_node"] == u for i in insts))
        lost = by_uuid[lost_uuid]
        gone = [i for i in insts if i["compute_node"] == lost_uuid]
        assert gone
        lost.agent.kill()
        t_kill = time.time()
        for i in gone:
            lost.run("vmadm", "stop", "-F", i["id"])
        # Declared lost 12 s after its last heartbeat (at most 5 s
        # before the kill); all of them run elsewhere within 30 s of it.
        deadline = t_kill + 12 + 30
        for i in gone:
            sb = by_uuid[reps[i["id"]]["standby"]]
            while running_on(nodes, i["id"]) != [sb]:
                assert time.time() < deadline, \
                    [n.vm(i["id"]) for n in nodes]
                time.sleep(0.3)
            assert read(sb, i["id"], "dr.txt") == f"data of {i['id']}\n"
            assert sb.vm(i["id"])["nics"][0]["ip"] == i["primaryIp"]
            got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                       i["id"]).stdout)
            assert got["compute_node"] == reps[i["id"]]["standby"]
        reps = {r["vm"]: r for r in
                json.loads(dc.adm("-j", "replication", "list").stdout)}
        for i in gone:
            assert reps[i["id"]]["state"] == "recovered"
            assert reps[i["id"]]["recovered_at"]
        # The others never moved.
        for i in insts:
            if i not in gone:
                assert running_on(nodes, i["id"]) == \
                    [by_uuid[i["compute_node"]]]

        # It comes back with its old copies running (as an autoboot
        # would): its agent learns they moved and stops them.
        for i in gone:
            lost.run("vmadm", "start", i["id"])
        lost.agent.start()
        for i in gone:
            t0 = time.time()
            while (lost.vm(i["id"]) or {}).get("state") != "stopped":
                assert time.time() - t0 < 30, lost.vm(i["id"])
                time.sleep(0.3)
            assert lost.vm(i["id"])["autoboot"] is False
            assert len(running_on(nodes, i["id"])) == 1
    finally:
        stop_dc(dc, net, workdir)
