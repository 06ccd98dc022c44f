"""A running kvm VM (QEMU) moved to another compute node with its guest
running on (issue 17): CloudAPI migrate `begin` with `live: true` (one
signed request, as test_migrate_live.py sends it: the `triton` CLI has no
option for it), then the real `triton instance migration
sync|switch|finalize`.

The guest is the Linux guest image (hvmlib; TCG where KVM cannot run it).
At the switch the source's agent runs QEMU's pre-copy while the guest
runs, its stream relayed over the agents' channel into the target's QEMU,
started paused for it, and into a file staged on the target; once QEMU
completes (the guest paused) the last increment follows and the target's
QEMU runs the guest on, or (HULL_AGENT_KVM_STAGED, or that QEMU failed)
the target's start resumes the guest from the staged stream
(src/agent/live_kvm.h). The guest's shell keeps a variable it set on the
source, its boot id, its uptime and a ticker that goes on counting, with
the same MAC and address. The pause seen from outside is the gap between
the ticker's last line read from the source's console and its first from
the target's (recorded in $HULL_BENCH_OUT when set, bench/README.md
"two-host live"). Faults: the target's agent dead before the switch, or
killed mid-copy; the target's QEMU killed while it loads the stream. Each
leaves the guest running on the source, and a retried switch then goes
through. Those are the staged path's (HULL_AGENT_KVM_STAGED in the target
agent's environment). By default the target's QEMU takes the stream live
during the copy, the staged file beside it as its fallback, and runs the
guest on after the last increment (keeps_running, takes_stream,
held_qemu_killed, the [incoming] variants)."""
import json
import os
import socket
import threading
import time

import pytest

from test_head_api import triton_bin  # noqa: F401  (fixture)
from test_head_migrate import wait_migration
from test_hvm_live import TICK, start_ticker
from test_hvm_snapshot import guest_sh
from test_hvm_vmadm import READY, console_log, qemu_present, wait_console
from test_migrate_brands import dc2  # noqa: F401 (fixture)
from test_migrate_live import (agent_time, begin_live, register_machine,
                               switch_done, switch_downtime, vmadm_create)


class ConsoleTicks:
    """Reads the ticker's "tk N" lines from a node's console socket of the
    instance, connecting (again) whenever the socket is there, and stamps
    each line as it arrives."""

    def __init__(self, node, u):
        self.path = os.path.join(node.host.root, u, "run", "console.sock")
        self.ticks = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.path)
            except OSError:
                s.close()
                time.sleep(0.005)
                continue
            s.settimeout(0.2)
            buf = b""
            while not self.stop:
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not d:
                    break
                now = time.monotonic()
                buf += d
                *lines, buf = buf.split(b"\n")
                for ln in lines:
                    m = TICK.search(ln)
                    if m:
                        self.ticks.append((now, int(m.group(1))))
            s.close()

    def close(self):
        self.stop = True
        self.t.join(5)


def guest_value(node, u, expr, tag):
    """The value the guest's shell prints for expr (its own shell, through
    the console). The tag comes from the shell too: the console's echo of
    the command, which the ticker's lines may split, never matches."""
    line = guest_sh(node.host, u, f"echo hull-guest: $(echo {tag}) {expr}",
                    f"hull-guest: {tag} ")
    return line.split(f"hull-guest: {tag} ", 1)[1].strip()


def make_kvm(dc, by_uuid, name, mac, ip):
    """The Linux guest created with vmadm on the first node, running,
    registered with the head node; (uuid, source, target)."""
    import hvmlib
    if not qemu_present():
        raise AssertionError("qemu-system-x86_64 is not installed: "
                             "run scripts/deps")
    src_uuid, src = next(iter(by_uuid.items()))
    tgt = next(n for x, n in by_uuid.items() if x != src_uuid)
    _, manifest, zvol = hvmlib.guest_image("grub", "mbr")
    with open(manifest) as f:
        img = json.load(f)["uuid"]
    src.run("imgadm", "install", "-m", manifest, "-f", zvol)
    payload = {"brand": "kvm", "ram": 256, "alias": name, "autoboot": False,
               "disks": [{"image_uuid": img, "boot": True}],
               "nics": [{"nic_tag": "pub0", "mac": mac,
                         "ips": [ip + "/24"], "primary": True,
                         "model": "virtio"}]}
    u = vmadm_create(src, payload)
    src.run("vmadm", "start", u)
    wait_console(src.host, u, READY, 180)
    register_machine(dc, u, name, "kvm", src_uuid, 256, 16, ip)
    return u, src, tgt


def guest_facts(node, u):
    """(boot id, MAC the guest sees on eth0, the variable X)."""
    return (guest_value(node, u, "$(cat /proc/sys/kernel/random/boot_id)",
                        "boot"),
            guest_value(node, u, "$(cat /sys/class/net/eth0/address)",
                        "mac"),
            guest_value(node, u, "$X", "x"))


def uptime(node, u):
    return float(guest_value(node, u, "$(cut -d' ' -f1 /proc/uptime)",
                             "up"))


def wait_ticks(ct, above, timeout=120):
    end = time.monotonic() + timeout
    while not ct.ticks or ct.ticks[-1][1] <= above:
        assert time.monotonic() < end, (above, ct.ticks[-3:])
        time.sleep(0.1)
    return ct.ticks[-1][1]


def synced_kvm(dc, by_uuid, triton_bin, name, mac, ip, **begin):
    """make_kvm with a shell variable set in the guest, its live
    migration begun (with begin's extra fields) and synced once; (uuid,
    source, target, the guest's facts before)."""
    u, src, tgt = make_kvm(dc, by_uuid, name, mac, ip)
    guest_sh(src.host, u, "X=kept-$$-$RANDOM; echo hull-guest: set $X",
             "hull-guest: set ")
    facts = guest_facts(src, u)
    st, body = begin_live(dc, u, **begin)
    assert st == 201, body
    dc.triton(triton_bin, "instance", "migration", "sync", "-w", name,
              timeout=300)
    return u, src, tgt, facts


def test_live_migrate_kvm_keeps_running(dc2, triton_bin):  # noqa: F811
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:11", "203.0.113.243"
    u, src, tgt = make_kvm(dc, by_uuid, "klive0", mac, ip)
    since = len(tgt.agent.text())
    guest_sh(src.host, u, "X=kept-$$-$RANDOM; echo hull-guest: set $X",
             "hull-guest: set ")
    boot, gmac, x = guest_facts(src, u)
    assert gmac == mac and x.startswith("kept-"), (gmac, x)
    up0 = uptime(src, u)
    st, body = begin_live(dc, u)
    assert st == 201, body
    assert body["live"] is True and body["phase"] == "begin", body
    dc.triton(triton_bin, "instance", "migration", "sync", "-w", "klive0",
              timeout=300)
    assert src.vm(u)["state"] == "running"
    assert tgt.vm(u)["state"] == "stopped"
    start_ticker(src.host, u)
    on_src = ConsoleTicks(src, u)
    on_tgt = ConsoleTicks(tgt, u)
    try:
        last_before = wait_ticks(on_src, 0)
        t_switch = time.monotonic()
        switch_done(dc, triton_bin, "klive0", u, src, tgt, mac, ip)
        src_last = on_src.ticks[-1]
        assert src_last[1] >= last_before
        # The ticker goes on on the target from where the source left it:
        # its first line there follows the source's last, never a restart.
        wait_ticks(on_tgt, src_last[1] + 20)
        tgt_first = next(t for t in on_tgt.ticks if t[0] > src_last[0])
        assert src_last[1] < tgt_first[1] <= src_last[1] + 50, \
            (src_last, on_tgt.ticks[:3])
        gap_ms = (tgt_first[0] - src_last[0]) * 1000
        assert src_last[0] > t_switch
    finally:
        on_src.close()
        on_tgt.close()
    # The same guest: its boot id, the MAC it sees, the variable its shell
    # set on the source; its uptime went on (never a boot).
    assert guest_facts(tgt, u) == (boot, mac, x)
    assert uptime(tgt, u) > up0
    assert console_log(tgt.host, u).count(READY) <= 1
    bound = switch_downtime(src, tgt, u)
    # the steps, from the agents' logs: the state written and QEMU ended
    # (until the target sees the stream), the last increment, the head
    # node's hand-over, the target's start
    t_sw = agent_time(src, f"task migrate_switch {u}")
    t_rx = agent_time(tgt, f"migration stream for {u}")
    t_got = agent_time(tgt, f"migration stream for {u}: received")
    t_act = agent_time(tgt, f"task migrate_activate {u}")
    t_done = agent_time(tgt, f"task migrate_activate {u}: done")
    path = ("QEMU fed live" if agent_line(
        tgt, "resumed in the QEMU that took the stream live", since)
        else "staged")
    parts = (f"pre-copy {t_rx - t_sw:.0f} ms, last increment "
             f"{t_got - t_rx:.0f} ms, hand-over {t_act - t_got:.0f} ms, "
             f"target's start {t_done - t_act:.0f} ms")
    import vmmlib
    accel = "TCG" if vmmlib.kvm_unusable() else "KVM"
    line = (f"kvm two-host live (pre-copy, {path}), 256 MiB guest, {accel}, "
            f"load {os.getloadavg()[0]:.1f}: ticker gap {gap_ms:.0f} ms, "
            f"agents' bound {bound:.0f} ms ({parts})")
    print(line)
    if os.environ.get("HULL_BENCH_OUT"):
        with open(os.environ["HULL_BENCH_OUT"], "a") as f:
            f.write(line + "\n")
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive0")
    t0 = time.time()
    while src.vm(u) is not None:
        assert time.time() - t0 < 30
        time.sleep(0.3)
    got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                               "klive0").stdout)
    assert got["compute_node"] != next(iter(by_uuid))
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def test_live_kvm_switch_without_target_stays(dc2, triton_bin):  # noqa: F811
    """The target's agent killed (kill -9) before the switch: the source
    cannot reach the target and the guest runs on there: the same boot,
    the same variable. The switch retried with the target back goes
    through."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:12", "203.0.113.244"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, "klive1", mac, ip)
    tgt.agent.kill()
    try:
        dc.triton(triton_bin, "instance", "migration", "switch", "klive1")
        wait_migration(dc, triton_bin, "klive1", "switch", "failed",
                       within=240)
        assert src.vm(u)["state"] == "running", src.vm(u)
        assert tgt.vm(u)["state"] == "stopped"
        assert guest_facts(src, u) == facts
        assert console_log(src.host, u).count(READY) == 1
        got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "klive1").stdout)
        assert got["compute_node"] == next(iter(by_uuid))
    finally:
        tgt.agent.start()
    dc.triton(triton_bin, "instance", "migration", "switch", "-w", "klive1",
              timeout=300)
    wait_migration(dc, triton_bin, "klive1", "switch", "successful")
    assert tgt.vm(u)["state"] == "running"
    assert guest_facts(tgt, u) == facts
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive1")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def kill_incoming_qemu(node, u, stop, killed):
    """Kills (SIGKILL) node's QEMU for u as soon as it runs with
    -incoming, that is while it loads the guest's state, before it runs
    the guest; appends its pid to killed."""
    qmpc = os.path.join(node.host.root, u, "run", "vm", "qmp-cmd.sock")
    while not stop.is_set() and not killed:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            # once its command socket is up: migrate-incoming follows
            if (argv and b"qemu-system" in argv[0] and b"-incoming" in argv
                    and any(node.host.root.encode() in a and u.encode() in a
                            for a in argv)
                    and os.path.exists(qmpc)):
                try:
                    os.kill(int(pid), 9)
                    killed.append(int(pid))
                except OSError:
                    pass
        time.sleep(0.002)


def test_live_kvm_target_qemu_killed_stays(dc2, triton_bin):  # noqa: F811
    """The staged path (HULL_AGENT_KVM_STAGED): the target's QEMU killed
    while it loads the staged stream (before it runs the guest): the
    target's start fails, the head node moves the instance back and the
    source's agent resumes the guest there from the stream it kept in its
    dataset: the same boot, the same variable. A retried switch then goes
    through."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:13", "203.0.113.245"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, "klive2", mac, ip)
    live_target(tgt, False)
    stop, killed = threading.Event(), []
    t = threading.Thread(target=kill_incoming_qemu,
                         args=(tgt, u, stop, killed), daemon=True)
    t.start()
    try:
        dc.triton(triton_bin, "instance", "migration", "switch", "klive2")
        m = wait_migration(dc, triton_bin, "klive2", "switch", "failed",
                           within=240)
    finally:
        stop.set()
        t.join(5)
    assert killed, "the target's QEMU never ran with -incoming"
    assert "back on its source" in json.dumps(m), m
    end = time.monotonic() + 120
    while src.vm(u)["state"] != "running":
        assert time.monotonic() < end, src.vm(u)
        time.sleep(0.3)
    assert tgt.vm(u)["state"] != "running"
    assert guest_facts(src, u) == facts
    assert console_log(src.host, u).count(READY) == 1
    got = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                               "klive2").stdout)
    assert got["compute_node"] == next(iter(by_uuid))
    dc.triton(triton_bin, "instance", "migration", "switch", "-w", "klive2",
              timeout=300)
    wait_migration(dc, triton_bin, "klive2", "switch", "successful")
    assert tgt.vm(u)["state"] == "running"
    assert guest_facts(tgt, u) == facts
    live_target(tgt, True)
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive2")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def test_live_kvm_fed_qemu_killed_falls_back(dc2, triton_bin):  # noqa: F811
    """The target's QEMU killed while it takes the stream live (during the
    copy): its agent goes on with the staged file only, and the target's
    start resumes the guest from it: the switch goes through with the
    same boot and the same variable, the guest never running twice."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:18", "203.0.113.250"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, "klive6", mac, ip)
    since = len(tgt.agent.text())
    stop, killed = threading.Event(), []
    t = threading.Thread(target=kill_incoming_qemu,
                         args=(tgt, u, stop, killed), daemon=True)
    t.start()
    try:
        switch_done(dc, triton_bin, "klive6", u, src, tgt, mac, ip)
    finally:
        stop.set()
        t.join(5)
    assert killed, "the target's QEMU never ran with -incoming"
    line = agent_line(tgt, "the incoming QEMU", since)
    assert line and not line.startswith("the incoming QEMU took"), line
    assert not agent_line(tgt, "resumed in the QEMU that took the stream",
                          since)
    assert guest_facts(tgt, u) == facts
    assert console_log(tgt.host, u).count(READY) <= 1
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive6")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


@pytest.mark.parametrize("incoming", [False, True],
                         ids=["staged", "incoming"])
def test_live_kvm_agent_killed_mid_precopy(dc2, triton_bin,  # noqa: F811
                                           incoming):
    """The target's agent killed (kill -9) while QEMU's pre-copy streams
    to it (capped at 20 MB/s so that it lasts): the source's QEMU sees
    its stream break, its migration fails and the guest runs on there,
    never rebooted; nothing staged is left on the source. With the
    target's agent back and no cap, the switch goes through. incoming (the
    default; staged: HULL_AGENT_KVM_STAGED): the target's QEMU fed live
    from the channel ends with the agent (its stream broken) and the
    instance is stopped there."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:14", "203.0.113.246"
    name = "klive3" + ("i" if incoming else "")
    if incoming:
        mac, ip = "02:00:00:00:17:17", "203.0.113.249"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, name, mac, ip)
    live_target(tgt, incoming)
    since = len(tgt.agent.text())
    dc.adm("migration", "limit", u, "160")
    part = os.path.join(tgt.host.root, "var", "agent",
                        f"live-{u}.vmstate.part")
    dc.triton(triton_bin, "instance", "migration", "switch", name)
    end = time.monotonic() + 120
    while not (os.path.exists(part) and os.path.getsize(part) > 4 << 20):
        assert time.monotonic() < end, "no pre-copy reached the target"
        time.sleep(0.05)
    tgt.agent.kill()
    try:
        m = wait_migration(dc, triton_bin, name, "switch", "failed",
                           within=240)
        assert src.vm(u)["state"] == "running", (src.vm(u), m)
        # (the QEMU fed live exits when its stream breaks)
        end = time.monotonic() + 60
        while tgt.vm(u)["state"] != "stopped":
            assert time.monotonic() < end, tgt.vm(u)
            time.sleep(0.2)
        assert guest_facts(src, u) == facts
        assert console_log(src.host, u).count(READY) == 1
        staged = [n for n in os.listdir(os.path.join(src.host.root, "var",
                                                     "agent"))
                  if n.startswith(f"live-{u}")]
        assert not staged, staged
        # the dataset's state file is only written once the target has
        # the whole stream
        assert not os.path.exists(os.path.join(src.host.root, u,
                                               "vmstate"))
    finally:
        tgt.agent.start()
    dc.adm("migration", "limit", u, "0")
    dc.triton(triton_bin, "instance", "migration", "switch", "-w", name,
              timeout=300)
    wait_migration(dc, triton_bin, name, "switch", "successful")
    assert tgt.vm(u)["state"] == "running"
    assert guest_facts(tgt, u) == facts
    if incoming:
        assert agent_line(tgt, "resumed in the QEMU that took the stream "
                          "live", since), \
            agent_line(tgt, "the QEMU that took", since)
    else:
        live_target(tgt, True)
    dc.triton(triton_bin, "instance", "migration", "finalize", name)
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def live_target(node, on):
    """Restarts node's agent so that its QEMU takes a live switch's stream
    live (on: the default) or the staged path only (HULL_AGENT_KVM_STAGED;
    src/agent/live_kvm.c)."""
    node.agent.kill()
    node.agent.env = {k: v for k, v in node.agent.env.items()
                      if k != "HULL_AGENT_KVM_STAGED"}
    if not on:
        node.agent.env["HULL_AGENT_KVM_STAGED"] = "1"
    node.agent.start()


def agent_line(node, prefix, since=0):
    """The text of node's agent's last log line starting with prefix, in
    its log from offset since on (the agents serve every test here)."""
    got = None
    for line in node.agent.text()[since:].splitlines():
        try:
            msg = json.loads(line).get("msg", "")
        except ValueError:
            continue
        if msg.startswith(prefix):
            got = msg
    return got


def last_sector(node, u, tag):
    """The guest's shell reads its disk's last sector (past its partition;
    O_DIRECT, not its page cache): the text in it, NULs dropped."""
    return guest_value(
        node, u, "$(dd if=/dev/vda bs=512 iflag=direct count=1 "
        "skip=$(($(cat /sys/block/vda/size) - 1)) 2>/dev/null "
        "| tr -d '\\000')", tag)


def test_live_kvm_target_qemu_takes_stream(dc2, triton_bin):  # noqa: F811
    """The target agent's instance starts paused with QEMU waiting (-S
    -incoming defer) when the pre-copy begins, and QEMU takes the stream
    live from the channel (getfd, migrate-incoming fd:) beside the staged
    file. The last
    increment is received under it (the disks' new files beside the old),
    its disks are re-pointed to them (add-fd, blockdev-reopen) and it runs
    the guest on (cont). The ticker goes on; what the guest wrote to its
    disk on the source after the sync is there on the target, and what it
    writes on the target lands in the dataset's disk file."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:15", "203.0.113.247"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, "klive4", mac, ip)
    since = len(tgt.agent.text())
    mark = f"hull-src-{os.getpid()}-{time.monotonic_ns()}"
    # after the sync: only the switch's last increment carries it
    guest_sh(src.host, u, f"echo {mark} | dd of=/dev/vda bs=512 "
             "seek=$(($(cat /sys/block/vda/size) - 1)) oflag=direct "
             "conv=fsync 2>/dev/null; echo hull-guest: $(echo marked)",
             "hull-guest: marked")
    start_ticker(src.host, u)
    on_src = ConsoleTicks(src, u)
    on_tgt = ConsoleTicks(tgt, u)
    try:
        wait_ticks(on_src, 0)
        switch_done(dc, triton_bin, "klive4", u, src, tgt, mac, ip)
        src_last = on_src.ticks[-1]
        wait_ticks(on_tgt, src_last[1] + 20)
        tgt_first = next(t for t in on_tgt.ticks if t[0] > src_last[0])
        assert src_last[1] < tgt_first[1] <= src_last[1] + 50, \
            (src_last, on_tgt.ticks[:3])
        gap_ms = (tgt_first[0] - src_last[0]) * 1000
        took = agent_line(tgt, "the incoming QEMU took the stream live: ",
                          since)
        assert took and took.endswith(", paused"), \
            (took, agent_line(tgt, "the incoming QEMU", since))
        resumed = agent_line(tgt, "resumed in the QEMU that took the "
                             "stream live", since)
        assert resumed, agent_line(tgt, "the QEMU that took", since)
        assert guest_facts(tgt, u) == facts
        assert console_log(tgt.host, u).count(READY) <= 1
        assert last_sector(tgt, u, "sec") == mark
        mark2 = mark.replace("src", "tgt")
        guest_sh(tgt.host, u, f"echo {mark2} | dd of=/dev/vda bs=512 "
                 "seek=$(($(cat /sys/block/vda/size) - 1)) oflag=direct "
                 "conv=fsync 2>/dev/null; echo hull-guest: $(echo marked)",
                 "hull-guest: marked")
        disk = os.path.join(tgt.host.root, u, "disks", "disk0.img")
        with open(disk, "rb") as f:
            f.seek(-512, os.SEEK_END)
            assert f.read(512).startswith(mark2.encode())
        bound = switch_downtime(src, tgt, u)
        t_sw = agent_time(src, f"task migrate_switch {u}")
        t_rx = agent_time(tgt, f"migration stream for {u}")
        t_got = agent_time(tgt, f"migration stream for {u}: received")
        t_act = agent_time(tgt, f"task migrate_activate {u}")
        t_done = agent_time(tgt, f"task migrate_activate {u}: done")
        line = (f"kvm two-host live, the target's QEMU fed live, load "
                f"{os.getloadavg()[0]:.1f}: ticker gap {gap_ms:.0f} ms, "
                f"agents' bound {bound:.0f} ms (pre-copy "
                f"{t_rx - t_sw:.0f} ms, last increment {t_got - t_rx:.0f} "
                f"ms, hand-over {t_act - t_got:.0f} ms, target's resume "
                f"{t_done - t_act:.0f} ms; {took}; {resumed})")
        print(line)
        if os.environ.get("HULL_BENCH_OUT"):
            with open(os.environ["HULL_BENCH_OUT"], "a") as f:
                f.write(line + "\n")
    finally:
        on_src.close()
        on_tgt.close()
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive4")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def kill_held_qemu(node, u, stop, killed):
    """Kills (SIGKILL) node's QEMU for u once its agent holds it with the
    whole stream in (the marker live-UUID.vmstate.held), that is during
    the last increment or the hand-over; appends its pid to killed."""
    held = os.path.join(node.host.root, "var", "agent",
                        f"live-{u}.vmstate.held")
    while not stop.is_set() and not killed:
        if os.path.exists(held):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        argv = f.read().split(b"\0")
                except OSError:
                    continue
                if (argv and b"qemu-system" in argv[0]
                        and b"-incoming" in argv
                        and any(node.host.root.encode() in a
                                and u.encode() in a for a in argv)):
                    try:
                        os.kill(int(pid), 9)
                        killed.append(int(pid))
                    except OSError:
                        pass
        time.sleep(0.002)


def test_live_kvm_held_qemu_killed_falls_back(dc2, triton_bin):  # noqa: F811
    """The target's QEMU killed once it holds the
    whole stream (before the last increment is in or the guest runs
    there): the target resumes the guest from the staged stream instead,
    as without it; the same boot, the same variable, and the guest runs
    on the target only."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:16", "203.0.113.248"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, "klive5", mac, ip)
    since = len(tgt.agent.text())
    stop, killed = threading.Event(), []
    t = threading.Thread(target=kill_held_qemu,
                         args=(tgt, u, stop, killed), daemon=True)
    t.start()
    try:
        switch_done(dc, triton_bin, "klive5", u, src, tgt, mac, ip)
    finally:
        stop.set()
        t.join(5)
    assert killed, "the target's QEMU never held the stream"
    assert "resumed from the staged state instead" in \
        (agent_line(tgt, "the QEMU that took the stream live", since)
         or ""), \
        agent_line(tgt, "the QEMU that took", since)
    assert guest_facts(tgt, u) == facts
    assert console_log(tgt.host, u).count(READY) <= 1
    assert src.vm(u)["state"] == "stopped"
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive5")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)


def test_live_kvm_begin_options_reach_qemu(dc2, triton_bin):  # noqa: F811
    """begin's downtime and auto_converge go with the switch task to the
    source's QEMU (its downtime-limit and auto-converge capability, which
    it would refuse with the migration failed): the switch goes through
    and the source agent's pre-copy says what it asked for."""
    dc, by_uuid, _img = dc2
    mac, ip = "02:00:00:00:17:18", "203.0.113.238"
    u, src, tgt, facts = synced_kvm(dc, by_uuid, triton_bin, "klive8", mac,
                                    ip, downtime=2000, auto_converge=True)
    m = json.loads(dc.triton(triton_bin, "instance", "migration", "get",
                             "-j", "klive8").stdout)
    assert m["downtime"] == 2000 and m["auto_converge"] is True, m
    switch_done(dc, triton_bin, "klive8", u, src, tgt, mac, ip)
    assert guest_facts(tgt, u) == facts
    line = next(json.loads(x)["msg"] for x in src.agent.text().splitlines()
                if f"pre-copy of {u}" in x)
    assert "(limit 2000 ms, auto-converge on)" in line, line
    dc.triton(triton_bin, "instance", "migration", "finalize", "klive8")
    tgt.run("vmadm", "stop", u, "-F")
    tgt.run("vmadm", "delete", u)
