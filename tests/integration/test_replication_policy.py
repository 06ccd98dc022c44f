"""Disaster recovery's policies beyond one instance (issue 16): a package
that carries a replication interval protects every instance created from
it, only the newest replicas are kept on either side, and the copies a
server holds for others (a standby's, a migration's hidden one) book its
room, so that placement cannot over-book it.

A head node and two compute nodes in network namespaces
(test_head_migrate.py's start_dc), the real `triton` CLI and `hulladm`."""
import json
import os
import re
import time

from test_head_api import triton_bin  # noqa: F401  (fixture)
from test_head_migrate import start_dc, stop_dc, write, read


def send_snaps(node, uuid):
    """The send-N snapshots the node's pool holds of uuid, by number
    (src/pool/btrfs.c keeps a dataset's snapshots under
    .snapshots/<dataset>/)."""
    d = os.path.join(node.host.root, ".snapshots", uuid)
    if not os.path.isdir(d):
        return []
    return sorted(int(s[5:]) for s in os.listdir(d)
                  if re.fullmatch(r"send-\d+", s))


def reps(dc):
    return {r["vm"]: r for r in
            json.loads(dc.adm("-j", "replication", "list").stdout)}


def test_package_policy_prune_and_placement(workdir, triton_bin):  # noqa: F811
    dc = net = None
    try:
        dc, net, by_uuid = start_dc(workdir, 2)
        # A policy needs an interval; a count alone is refused.
        r = dc.adm("package", "add", "bad", "--memory", "128", "--disk",
                   "1024", "--vcpus", "1", "--replication-keep", "2",
                   check=False)
        assert r.returncode != 0 and r.stderr.count("\n") == 1, r.stderr
        assert "--replication" in r.stderr
        pkg = json.loads(dc.adm(
            "-j", "package", "add", "rep-1G", "--memory", "128", "--disk",
            "1024", "--vcpus", "1", "--replication", "2").stdout)
        assert pkg["replication_interval"] == 2
        assert pkg["replication_keep"] == 2  # the default
        before = {u: s["unreserved_disk"] for u, s in dc.servers().items()}

        dc.triton(triton_bin, "instance", "create", "-w", "-n", "rep0",
                  dc.image_name, "rep-1G")
        inst = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                    "rep0").stdout)
        u, src_uuid = inst["id"], inst["compute_node"]
        sb_uuid = next(x for x in by_uuid if x != src_uuid)
        src, sb = by_uuid[src_uuid], by_uuid[sb_uuid]
        # Protected from its creation on: the package's policy.
        rec = reps(dc)[u]
        assert rec["standby"] == sb_uuid and rec["interval_s"] == 2
        assert rec["keep"] == 2 and rec["state"] == "active"

        # The standby's copy books its disk and RAM there, as the
        # instance itself does on its server.
        srv = dc.servers()
        assert srv[sb_uuid]["copies_disk"] == 1024
        assert srv[sb_uuid]["copies_ram"] == 128
        assert srv[src_uuid]["copies_disk"] == 0
        assert srv[sb_uuid]["unreserved_disk"] == before[sb_uuid] - 1024
        assert srv[src_uuid]["unreserved_disk"] == before[src_uuid] - 1024

        # Replicas come every 2 s; only the newest 2 stay, on both sides,
        # and increments still apply after the older ones are gone.
        t0 = time.time()
        while True:
            last = reps(dc)[u].get("last_snapshot") or "send-0"
            if int(last[5:]) >= 5:
                break
            assert time.time() - t0 < 90, reps(dc)[u]
            time.sleep(0.5)
        write(src, u, "late.txt", "after the pruning\n")
        t0 = time.time()
        while read(sb, u, "late.txt") != "after the pruning\n":
            assert time.time() - t0 < 60, reps(dc)[u]
            time.sleep(0.5)
        # Settled: a replica has landed and been pruned on both sides.
        t0 = time.time()
        while True:
            rec = reps(dc)[u]
            n = int(rec["last_snapshot"][5:])
            if (not rec.get("busy") and send_snaps(src, u) == [n - 1, n]
                    and send_snaps(sb, u) == [n - 1, n]):
                break
            assert time.time() - t0 < 30, (rec, send_snaps(src, u),
                                           send_snaps(sb, u))
            time.sleep(0.2)
        text = dc.adm("replication", "list").stdout
        assert re.search(rf"{u}\s+{sb_uuid}\s+active\s+2\s+2\s+\S", text), \
            text

        # Placement: a package that fits the standby's room only if its
        # copy were not counted is placed nowhere (the source has the
        # instance itself).
        srv = dc.servers()
        fill = max(s["unreserved_disk"] for s in srv.values()) + 1
        assert fill <= srv[sb_uuid]["unreserved_disk"] + 1024
        dc.adm("package", "add", "fill", "--memory", "128", "--disk",
               str(fill), "--vcpus", "1")
        r = dc.triton(triton_bin, "instance", "create", "-w", "-n", "fill0",
                      dc.image_name, "fill", check=False)
        assert r.returncode != 0, r.stdout
        assert "InsufficientCapacity" in r.stderr or \
            "no compute node has room" in r.stderr, r.stderr

        # The instance's standby never becomes its migration's target
        # (the replica there has its uuid): with two servers it has none.
        r = dc.triton(triton_bin, "instance", "migration", "begin", "rep0",
                      check=False)
        assert r.returncode != 0 and "room" in r.stderr, r.stderr
        assert reps(dc)[u]["state"] == "active"

        # A migration's hidden copy books disk on its target until the
        # migration is over (here aborted).
        dc.triton(triton_bin, "instance", "create", "-w", "-n", "mig0",
                  dc.image_name, "bb-128M")
        mi = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                  "mig0").stdout)
        tgt_uuid = next(x for x in by_uuid if x != mi["compute_node"])
        c0 = dc.servers()[tgt_uuid]
        dc.triton(triton_bin, "instance", "migration", "begin", "mig0")
        m = json.loads(dc.triton(triton_bin, "instance", "migration", "get",
                                 "-j", "mig0").stdout)
        assert m["phase"] == "begin" and m["state"] == "successful", m
        c1 = dc.servers()[tgt_uuid]
        assert c1["copies_disk"] == c0["copies_disk"] + 1024
        assert c1["unreserved_disk"] == c0["unreserved_disk"] - 1024
        dc.triton(triton_bin, "instance", "migration", "abort", "mig0")
        t0 = time.time()
        while dc.servers()[tgt_uuid]["copies_disk"] != c0["copies_disk"]:
            assert time.time() - t0 < 30, dc.record("migrations", mi["id"])
            time.sleep(0.3)
    finally:
        stop_dc(dc, net, workdir)
