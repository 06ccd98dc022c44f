"""A running bhyve VM (hull-vmm) moved to another compute node with its
guest running on (issue 17): CloudAPI migrate `begin` with `live: true`,
then the real `triton instance migration sync|switch|finalize`. The
`triton` CLI has no option for `live`, so begin is one signed request as
the CLI would send it.

The guest is hull-vmm's freestanding test guest counting on its console
(test=count): across the switch it is paused with its memory and device
state written into its dataset, the last increment carries that state, and
the target resumes it. Its count goes on on the target from where the
source left it, never from 1 again, with the same MAC and address; a
switch whose send breaks leaves it counting on the source."""
import datetime
import email.utils
import json
import os
import re
import subprocess
import time

from conftest import prog
from test_head_api import sign, triton_bin  # noqa: F401  (fixture)
from test_head_migrate import migration, wait_migration
from test_migrate_brands import dc2, insert_machine, kvm_small  # noqa: F401 (fixture)

COUNT = re.compile(r"^count: (\d+)\s*$", re.M)


def counts(node, u):
    from test_hvm_vmadm import console_log
    return [int(n) for n in COUNT.findall(console_log(node.host, u))]


def wait_count(node, u, above, timeout=60):
    end = time.monotonic() + timeout
    while True:
        c = counts(node, u)
        if c and c[-1] > above:
            return c[-1]
        assert time.monotonic() < end, (above, c[-5:])
        time.sleep(0.1)


def consecutive(c):
    """No count skipped or started over (a reboot prints 1 again)."""
    bad = [(a, b) for a, b in zip(c, c[1:]) if b != a + 1]
    assert not bad, bad[:5]


def begin_live(dc, u, live=True):
    """POST .../migrate {action: begin, live} signed as node-triton signs:
    (status, body)."""
    path = f"/alice/machines/{u}/migrate"
    date = email.utils.formatdate(usegmt=True)
    alg, sig = sign(os.path.join(dc.home, ".ssh", "id_ed25519"),
                    f"(request-target): post {path}\ndate: {date}")
    auth = (f'Signature keyId="/alice/keys/{dc.fp}",algorithm="{alg}",'
            f'headers="(request-target) date",signature="{sig}"')
    out = subprocess.run(
        ["ip", "netns", "exec", dc.head_ns, "curl", "-sk", "-o", "-", "-w",
         "\n%{http_code}", "-X", "POST", dc.url + path, "-H", f"Date: {date}",
         "-H", f"Authorization: {auth}", "-H", "Accept: application/json",
         "-H", "Content-Type: application/json", "-d",
         json.dumps({"action": "begin", "live": live})],
        capture_output=True, text=True, timeout=60).stdout
    text, _, code = out.rpartition("\n")
    return int(code), json.loads(text) if text else None


def agent_time(node, msg):
    """When node's agent logged msg (its last such line), in ms."""
    t = None
    for line in node.agent.text().splitlines():
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("msg") == msg:
            t = datetime.datetime.fromisoformat(
                j["time"].replace("Z", "+00:00")).timestamp() * 1000
    assert t is not None, msg
    return t


def switch_downtime(src, tgt, u):
    """The guest's pause, bounded from above by the agents' logs: from the
    source's start of the switch task (which pauses it first) to the
    target's end of the start task (whose start resumed it)."""
    return (agent_time(tgt, f"task migrate_activate {u}: done") -
            agent_time(src, f"task migrate_switch {u}"))


def vmadm_create(node, payload):
    """vmadm create of payload on node (in its namespace); the uuid."""
    r = subprocess.run(["ip", "netns", "exec", node.ns, prog("vmadm"),
                        "create"], input=json.dumps(payload),
                       env=node.host.env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr
    return r.stderr.split("Successfully created VM ")[1].split()[0]


def register_machine(dc, u, name, brand, server, memory, disk, ip):
    """The head node's record of alice's running VM u on server, as if
    CloudAPI had made it."""
    with dc.db() as c:
        alice = next(json.loads(v) for (v,) in c.execute(
            "SELECT value FROM records WHERE bucket='accounts'")
            if json.loads(v)["login"] == "alice")
    insert_machine(dc, {
        "id": u, "name": name, "brand": brand, "state": "running",
        "owner": alice["uuid"], "server": server, "compute_node": server,
        "type": "virtualmachine", "memory": memory, "disk": disk,
        "ips": [ip], "primaryIp": ip, "tags": {}, "metadata": {},
        "created": "2026-01-01T00:00:00.000Z",
        "updated": "2026-01-01T00:00:00.000Z"})


def switch_done(dc, triton_bin, name, u, src, tgt, mac, ip):
    """`triton instance migration switch -w` of name goes through: the VM
    runs on the target with its MAC and address, stopped on the source."""
    r = dc.triton(triton_bin, "instance", "migration", "switch", "-w",
                  name, timeout=300)
    assert "Done - switch finished" in r.stdout, r.stdout
    m = migration(dc, triton_bin, name)
    assert (m["phase"], m["state"]) == ("switch", "successful"), \
        json.dumps(m)
    moved = tgt.vm(u)
    assert moved["state"] == "running", moved
    assert moved["nics"][0]["mac"] == mac
    assert moved["nics"][0]["ips"] == [ip + "/24"]
    assert src.vm(u)["state"] == "stopped"


def make_vm(dc, by_uuid, name, mac, ip):
    """The counting guest created with vmadm on the first node, running,
    registered with the head node; (uuid, source, target)."""
    from hvmlib import make_guest_disk
    from test_hvm_vmadm import wait_console
    src_uuid, src = next(iter(by_uuid.items()))
    tgt = next(n for x, n in by_uuid.items() if x != src_uuid)
    payload = {"brand": "bhyve", "ram": 64, "alias": name, "autoboot": False,
               "disks": [{"size": 8, "boot": True}],
               "nics": [{"nic_tag": "pub0", "mac": mac,
                         "ips": [ip + "/24"], "primary": True,
                         "model": "virtio"}]}
    u = vmadm_create(src, payload)
    workdir = os.path.dirname(os.path.dirname(src.host.root))
    # a count every few ms while 2 MiB are rewritten and checked (a page
    # lost prints "count: LOST")
    make_guest_disk(workdir, src.vm(u)["disks"][0]["path"],
                    "test=count delay=2000 dirty=2")
    src.run("vmadm", "start", u)
    wait_console(src.host, u, "count: 20", 180)
    register_machine(dc, u, name, "bhyve", src_uuid, 64, 8, ip)
    return u, src, tgt


def test_live_migrate_bhyve_keeps_counting(dc2, triton_bin):  # noqa: F811
    dc, by_uuid, _img = dc2
    kvm_small(by_uuid)
    mac, ip = "02:00:00:00:17:01", "203.0.113.241"
    u, src, tgt = make_vm(dc, by_uuid, "live0", mac, ip)
    st, body = begin_live(dc, u)
    assert st == 201, body
    assert body["live"] is True and body["phase"] == "begin", body
    dc.triton(triton_bin, "instance", "migration", "sync", "-w", "live0",
              timeout=300)
    assert src.vm(u)["state"] == "running"
    before = wait_count(src, u, counts(src, u)[-1] + 20)
    switch_done(dc, triton_bin, "live0", u, src, tgt, mac, ip)
    last_src = counts(src, u)[-1]
    assert last_src >= before
    # The guest goes on on the target from where it paused: counts beyond
    # the source's last, in one unbroken run, no page lost, never a boot.
    wait_count(tgt, u, last_src + 50)
    from test_hvm_vmadm import console_log
    log = console_log(tgt.host, u)
    assert "LOST" not in log, log[-500:]
    c = counts(tgt, u)
    consecutive(c)
    assert c[0] <= last_src + 1 and c[-1] > last_src + 50, (c[:3], c[-3:])
    if c[0] == 1:
        # the source's log came along with the dataset: one boot only
        assert log.count("hull-guest: ready") == 1
    print(f"live switch: downtime at most "
          f"{switch_downtime(src, tgt, u):.0f} ms, source's last "
          f"count {last_src}, target's log from {c[0]} to {c[-1]}")
    dc.triton(triton_bin, "instance", "migration", "finalize", "live0")
    t0 = time.time()
    while src.vm(u) is not None:
        assert time.time() - t0 < 30
        time.sleep(0.3)
    got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                               "live0").stdout)
    assert got["compute_node"] != next(iter(by_uuid))
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def test_live_switch_without_target_resumes_on_source(dc2,  # noqa: F811
                                                      triton_bin):  # noqa: F811
    """The target's agent killed (kill -9) before the switch: the source
    pauses the guest and writes its state, cannot reach the target, and
    resumes it from that state: it goes on counting on the source, one
    unbroken run; the switch retried with the target back goes through."""
    dc, by_uuid, _img = dc2
    kvm_small(by_uuid)
    mac, ip = "02:00:00:00:17:02", "203.0.113.242"
    u, src, tgt = make_vm(dc, by_uuid, "live1", mac, ip)
    st, body = begin_live(dc, u)
    assert st == 201, body
    dc.triton(triton_bin, "instance", "migration", "sync", "-w", "live1",
              timeout=300)
    tgt.agent.kill()
    try:
        before = wait_count(src, u, counts(src, u)[-1] + 10)
        dc.triton(triton_bin, "instance", "migration", "switch", "live1")
        m = wait_migration(dc, triton_bin, "live1", "switch", "failed",
                           within=180)
        assert src.vm(u)["state"] == "running", src.vm(u)
        assert tgt.vm(u)["state"] == "stopped"
        wait_count(src, u, before + 50)
        from test_hvm_vmadm import console_log
        log = console_log(src.host, u)
        assert "LOST" not in log, log[-500:]
        assert log.count("hull-guest: ready") == 1, m
        consecutive(counts(src, u))
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "live1").stdout)
        assert got["compute_node"] == next(iter(by_uuid))
    finally:
        tgt.agent.start()
    last = counts(src, u)[-1]
    dc.triton(triton_bin, "instance", "migration", "switch", "-w", "live1",
              timeout=300)
    wait_migration(dc, triton_bin, "live1", "switch", "successful")
    assert tgt.vm(u)["state"] == "running"
    wait_count(tgt, u, last + 50)
    c = counts(tgt, u)
    consecutive(c)
    dc.triton(triton_bin, "instance", "migration", "finalize", "live1")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def test_live_refused_for_other_brands(dc2, triton_bin):  # noqa: F811
    """live is for bhyve and kvm VMs (test_migrate_live_kvm.py): a zone's
    begin with it is refused, and a live that is not a boolean too;
    nothing is begun."""
    dc, by_uuid, img = dc2
    dc.triton(triton_bin, "instance", "create", "-w", "-n", "zlive",
              img["uuid"], "bb-128M")
    u = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                             "zlive").stdout)["id"]
    st, body = begin_live(dc, u)
    assert st == 409 and "bhyve and kvm" in body["message"], body
    st, body = begin_live(dc, u, live="yes")
    assert st == 409 and "boolean" in body["message"], body
    r = dc.triton(triton_bin, "instance", "migration", "get", "zlive",
                  check=False)
    assert r.returncode != 0
    dc.triton(triton_bin, "instance", "delete", "-f", "-w", "zlive")
