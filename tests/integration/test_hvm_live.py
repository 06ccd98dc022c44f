"""Live migration of a kvm-brand VM on one host (issue 17): `vmadm
migrate UUID --live` moves the running guest from its QEMU to a new one
through QEMU's own pre-copy migration, and the supervisor adopts the new
one. The guest is the Linux guest image (Debian's cloud kernel and a
busybox initramfs, TCG here); its shell keeps a variable and a running
`sleep`, its nic keeps its MAC and address, its console, metadata and VNC
go on; a 1 ms ticker in the guest writes to the console, and the longest
gap between its ticks as they reach a console client is the downtime seen
from outside (recorded in $HULL_BENCH_OUT when set, see bench/README.md).
Faults: the target QEMU killed mid-migration, a migration that does not
converge: the guest runs on in the source."""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

from conftest import prog
from test_hvm_snapshot import guest_sh
from test_hvm_sysrq_vnc import info_vnc, rfb_hello
from test_hvm_vmadm import (READY, console_log, create, install, state,
                            vmhost, wait_console)  # noqa: F401 (a fixture)

# a tick ends its line; the shell's echo of a command typed on the
# console may come before it on the same line
# ("tk N UPTIME": the guest's /proc/uptime, 10 ms steps)
TICK = re.compile(rb"tk (\d+)(?: (\d+\.\d+))?\r?$")


def qemu_pid(h, u):
    with open(os.path.join(h.root, u, "run", "init.json")) as f:
        return json.load(f)["pid"]


def sv_log(h, u):
    with open(os.path.join(h.root, u, "logs", "supervisor.log")) as f:
        return f.read()


def mig_socks(h, u):
    d = os.path.join(h.root, u, "run", "vm")
    return sorted(n for n in os.listdir(d) if n.startswith("mig-"))


class Ticks:
    """A console client that timestamps each "tk N" line of the guest's
    ticker as it arrives."""

    def __init__(self, h, u):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(os.path.join(h.root, u, "run", "console.sock"))
        self.ticks = []
        self.up = []  # (arrival, the guest's uptime) of each tick
        self.raw = []
        self.stop = False
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        buf = b""
        self.s.settimeout(0.2)
        while not self.stop:
            try:
                d = self.s.recv(65536)
            except socket.timeout:
                continue
            if not d:
                break
            now = time.monotonic()
            self.raw.append((now, d))
            buf += d
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                m = TICK.search(ln)
                if m:
                    self.ticks.append((now, int(m.group(1))))
                    if m.group(2):
                        self.up.append((now, float(m.group(2))))

    def close(self):
        self.stop = True
        self.t.join(5)
        self.s.close()

    def max_gap(self, t0, t1):
        """The longest time between two ticks arriving in [t0, t1], and
        when it began."""
        ts = [t for t, _ in self.ticks if t0 <= t <= t1]
        return max((b - a, a) for a, b in zip(ts, ts[1:]))

    def max_guest_gap(self, t0, t1):
        """The longest time between two ticks arriving in [t0, t1] by the
        guest's own clock (which stands still while QEMU has the guest
        paused)."""
        us = [u for t, u in self.up if t0 <= t <= t1]
        return max(b - a for a, b in zip(us, us[1:]))


def start_ticker(h, u):
    # busybox's usleep: a tick every millisecond at best (the fork costs
    # more under TCG); each tick carries the guest's uptime (the shell's
    # read: no fork)
    guest_sh(h, u, "(i=0; while :; do i=$((i+1)); read up x </proc/uptime; "
             "echo tk $i $up; usleep 1000; done) & T=$!; "
             "echo hull-guest: ticker $T", "hull-guest: ticker ")


def network_guest(h, net):
    img = install(h)
    net.run("nictagadm", "add", "-l", "stub0")
    net.ip("ip", "addr", "add", "192.0.2.254/24", "dev", "hbstub0")
    p = {"brand": "kvm", "ram": 256,
         "disks": [{"image_uuid": img, "boot": True}],
         "nics": [{"nic_tag": "stub0", "ips": ["192.0.2.10/24"],
                   "gateways": ["192.0.2.254"], "primary": True}]}
    cp = subprocess.run(["ip", "netns", "exec", net.ns, prog("vmadm"),
                         "create"], input=json.dumps(p), capture_output=True,
                        text=True, env=h.env, timeout=180)
    assert cp.returncode == 0, cp.stderr
    u = cp.stderr.split("Successfully created VM ")[1].split()[0]
    wait_console(h, u, READY, timeout=180)
    return u


def test_kvm_live_migration_keeps_the_guest_running(vmhost):
    from nethelp import NetHost
    h = vmhost
    net = NetHost(h)
    try:
        u = network_guest(h, net)
        mac = json.loads(h.run("vmadm", "get", u).out)["nics"][0]["mac"]
        before = guest_sh(h, u, "X=kept-$((6 * 7)); "
                          "(sleep 15; echo hull-guest: slept) & S=$!; "
                          "echo hull-guest: before X=$X S=$S "
                          "mac=$(cat /sys/class/net/eth0/address) "
                          "ip=$(ip -4 -o addr show eth0 | "
                          "awk '{print $4}')",
                          "hull-guest: before ")
        assert f"X=kept-42" in before and f"mac={mac}" in before and \
            "ip=192.0.2.10/24" in before, before
        sleeper = re.search(r"S=(\d+)", before).group(1)
        assert net.ping(None, "192.0.2.10", count=2)
        old = qemu_pid(h, u)
        ticks = Ticks(h, u)
        # the host pings the guest every 2 ms meanwhile: the longest
        # silence between replies is the guest's downtime on the network
        # (the console's ticks also wait for the supervisor's relay)
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", net.ns, "ping", "-D", "-n", "-i",
             "0.002", "-W", "1", "192.0.2.10"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        try:
            start_ticker(h, u)
            time.sleep(1)
            t0, w0 = time.monotonic(), time.time()
            r = h.run("vmadm", "migrate", u, "--live", timeout=600)
            t1, w1 = time.monotonic(), time.time()
            time.sleep(1)
            pinger.send_signal(signal.SIGINT)
            replies = [float(m.group(1)) for m in re.finditer(
                r"^\[(\d+\.\d+)\] \d+ bytes from",
                pinger.communicate(timeout=30)[0], re.M)]
            # the shell echoes this command on the console, between ticks
            t_stop = time.monotonic()
            guest_sh(h, u, "kill $T; echo hull-guest: ticker stopped",
                     "hull-guest: ticker stopped")
        finally:
            ticks.close()
            if pinger.poll() is None:
                pinger.kill()
                pinger.wait()
        assert re.search(r"Successfully migrated VM \S+ to a new QEMU "
                         r"\(pid \d+, downtime \d+\.\d{3} ms\)", r.err), r.err
        m = re.search(r"live migration done: QEMU pid \d+ runs the guest "
                      r"\(downtime (\d+) ms, (\d+) passes, (\d+) bytes",
                      sv_log(h, u))
        assert m, sv_log(h, u)[-2000:]
        qemu_downtime = int(m.group(1))
        # a new QEMU runs the guest; the old one is gone
        new = qemu_pid(h, u)
        assert new != old
        assert os.readlink(f"/proc/{new}/exe").endswith(
            "qemu-system-x86_64")
        end = time.monotonic() + 10
        while os.path.exists(f"/proc/{old}") and time.monotonic() < end:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{old}")
        assert state(h, u) == "running"
        assert mig_socks(h, u) == []
        # the same shell: its variable, its background sleep still there,
        # and it finishes; the nic kept its MAC and address
        after = guest_sh(h, u, "echo hull-guest: after X=$X "
                         f"alive=$(kill -0 {sleeper} 2>/dev/null && "
                         "echo yes || echo no) "
                         "mac=$(cat /sys/class/net/eth0/address) "
                         "ip=$(ip -4 -o addr show eth0 | awk '{print $4}')",
                         "hull-guest: after ")
        assert after == (f"hull-guest: after X=kept-42 alive=yes mac={mac} "
                         "ip=192.0.2.10/24"), after
        wait_console(h, u, "hull-guest: slept", 60)
        assert console_log(h, u).count(READY) == 1
        # the tap goes on: the host reaches the guest at the same MAC
        assert net.ping(None, "192.0.2.10", count=3)
        neigh = net.ip("ip", "neigh", "show", "192.0.2.10").stdout
        assert mac in neigh, neigh
        # metadata (COM2) reaches the new QEMU (VNC: the next test; this
        # VM's relay listens in the test's network namespace)
        guest_sh(h, u, "echo hull-guest: md $(mdata-get sdc:uuid)",
                 f"hull-guest: md {u}")
        # the ticker's numbers run on without a restart, and its longest
        # silence around the migration is the downtime seen from outside
        nums = [n for t, n in ticks.ticks if t < t_stop]
        assert nums == list(range(nums[0], nums[0] + len(nums))), \
            f"ticks lost or repeated: {ticks.raw}"
        assert any(t < t0 for t, _ in ticks.ticks) and \
            any(t > t1 for t, _ in ticks.ticks)
        gap, gap_at = ticks.max_gap(t0, t1 + 1)
        gap_ms = gap * 1000
        guest_gap_ms = ticks.max_guest_gap(t0, t1 + 1) * 1000
        period_ms = (ticks.ticks[-1][0] - ticks.ticks[0][0]) * 1000 / \
            len(ticks.ticks)
        out = os.environ.get("HULL_BENCH_OUT")
        win = [t for t in replies if w0 <= t <= w1 + 1]
        assert any(t < w0 for t in replies) and any(t > w1 for t in replies)
        ping_gap_ms, ping_gap_end = max(
            ((b - a) * 1000, b) for a, b in zip(win, win[1:]))
        steps = re.search(r"source completed at (\d+) ms, target ran at "
                          r"(\d+) ms, source gone at (\d+) ms, adopted at "
                          r"(\d+) ms", sv_log(h, u))
        # (bench/kvm-live's baseline runs an older supervisor without
        # this line)
        assert steps or os.environ.get("HULL_BENCH_BASE"), \
            sv_log(h, u)[-2000:]
        done, ran, gone, adopted = (int(x) for x in steps.groups()) \
            if steps else (None,) * 4
        rec = {"gap_ms": round(gap_ms, 1), "tick_ms": round(period_ms, 2),
               # where the console's gap begins: ms after vmadm migrate
               # started, and before it returned
               "gap_from_start_ms": round((gap_at - t0) * 1000),
               "gap_before_end_ms": round((t1 - gap_at) * 1000),
               "guest_gap_ms": round(guest_gap_ms, 1),
               # the supervisor's steps after QEMU's completion (ms)
               "target_ran_ms": steps and ran - done,
               "source_gone_ms": steps and gone - ran,
               "adopted_ms": steps and adopted - gone,
               "ping_gap_ms": round(ping_gap_ms, 1),
               # where the gap ends: ms before vmadm migrate returned
               # (negative: after)
               "ping_gap_end_ms": round((w1 - ping_gap_end) * 1000),
               "migrate_start_to_gap_end_ms":
                   round((ping_gap_end - w0) * 1000),
               "qemu_downtime_ms": qemu_downtime,
               "passes": int(m.group(2)), "bytes": int(m.group(3)),
               "migrate_s": round(t1 - t0, 2)}
        print("kvm live migration:", rec)
        if out:
            with open(out, "a") as f:
                f.write(json.dumps(rec) + "\n")
        # QEMU aims at its 300 ms limit from its bandwidth estimate; on a
        # loaded host the pause can run over it, not by twice. What the
        # ping and the console saw also holds the new TCG's cold code
        # cache and (the console) the supervisor's relay.
        assert qemu_downtime <= 600, rec
        assert gap_ms < 2000 and ping_gap_ms < 5000, rec
        sv = sv_log(h, u)
        assert "live migration done" in sv
        r = subprocess.run(["ip", "netns", "exec", net.ns, prog("vmadm"),
                            "stop", u], capture_output=True, text=True,
                           env=h.env, timeout=90)
        assert r.returncode == 0, r.stderr
    finally:
        net.close()


def test_kvm_live_migration_keeps_the_network_while_copying(vmhost):
    # The new QEMU shares the old one's taps, and its tap set-up sets the
    # virtio-net header back to 10 bytes on the shared file; the old
    # QEMU, whose guest negotiated 12, then read every packet 2 bytes off
    # (the guest dropped them all) until the switch, and for good after a
    # failed migration. The supervisor gives the old QEMU its header size
    # back: the guest answers pings while it is copied and after the new
    # QEMU is killed.
    from nethelp import NetHost
    h = vmhost
    net = NetHost(h)
    try:
        u = network_guest(h, net)
        pinger = subprocess.Popen(
            ["ip", "netns", "exec", net.ns, "ping", "-D", "-n", "-i",
             "0.01", "-W", "1", "192.0.2.10"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        try:
            time.sleep(1)
            p, target = slow_migration(h, u)
            t1 = time.time()
            time.sleep(2)
            t2 = time.time()
            assert p.poll() is None, "the 1 MB/s migration ended early"
            os.kill(target, 9)
            _, err = p.communicate(timeout=60)
            assert p.returncode != 0 and "Cannot migrate VM" in err, err
            t3 = time.time()
            time.sleep(2)
            t4 = time.time()
        finally:
            pinger.send_signal(signal.SIGINT)
            out = pinger.communicate(timeout=30)[0]
        replies = [float(m.group(1)) for m in re.finditer(
            r"^\[(\d+\.\d+)\] \d+ bytes from", out, re.M)]

        def answered(a, b):
            return sum(1 for t in replies if a <= t < b)
        # 200 requests in each 2 s; TCG on a loaded host answers fewer,
        # the bug none
        assert answered(t1, t2) >= 40, (answered(t1, t2), out[-2000:])
        assert answered(t3, t4) >= 40, (answered(t3, t4), out[-2000:])
        assert "tap 0's header size" not in sv_log(h, u)
        r = subprocess.run(["ip", "netns", "exec", net.ns, prog("vmadm"),
                            "stop", "-F", u], capture_output=True,
                           text=True, env=h.env, timeout=90)
        assert r.returncode == 0, r.stderr
    finally:
        net.close()


def kvm_guest(h, **extra):
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, **extra,
                   "disks": [{"image_uuid": img, "boot": True}]})
    wait_console(h, u, READY, timeout=180)
    return u


def slow_migration(h, u):
    """vmadm migrate --live at 1 MB/s (slow enough to be interrupted
    half-way), once its target QEMU runs: (the vmadm process, the target's
    pid)."""
    p = subprocess.Popen([prog("vmadm"), "migrate", u, "--live",
                          "--bandwidth", "1"], env=h.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    end = time.monotonic() + 60
    while not (m := re.search(r"target QEMU is pid (\d+)",
                              sv_log(h, u))):
        if time.monotonic() >= end or p.poll() is not None:
            p.kill()
            raise AssertionError(sv_log(h, u)[-2000:])
        time.sleep(0.1)
    return p, int(m.group(1))


def test_kvm_live_migration_target_killed_leaves_the_source(vmhost):
    h = vmhost
    u = kvm_guest(h, vnc_password="s3cret")
    guest_sh(h, u, "X=still; echo hull-guest: set X=$X", "hull-guest: set ")
    old = qemu_pid(h, u)
    p, target = slow_migration(h, u)
    try:
        time.sleep(2)  # copying
        assert p.poll() is None
        os.kill(target, 9)
        out, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode != 0
    assert len(err.strip().splitlines()) == 1, err
    assert f"Cannot migrate VM {u}" in err and "migration" in err, err
    # the guest runs on in the same QEMU, its shell as it was
    assert qemu_pid(h, u) == old and os.path.exists(f"/proc/{old}")
    assert state(h, u) == "running"
    assert mig_socks(h, u) == []
    again = guest_sh(h, u, "echo hull-guest: again X=$X",
                     "hull-guest: again ")
    assert again == "hull-guest: again X=still", again
    assert "live migration failed, the guest runs on" in sv_log(h, u)
    # and a migration after it succeeds; VNC (its password set again
    # in the new QEMU) and metadata go on
    port = info_vnc(h, u)["port"]
    h.run("vmadm", "migrate", u, "--live", timeout=600)
    assert qemu_pid(h, u) != old
    assert guest_sh(h, u, "echo hull-guest: moved X=$X",
                    "hull-guest: moved ") == "hull-guest: moved X=still"
    assert info_vnc(h, u)["port"] == port
    banner, types = rfb_hello(port)
    assert banner.startswith(b"RFB 003.") and types == [2], types
    guest_sh(h, u, "echo hull-guest: md $(mdata-get sdc:uuid)",
             f"hull-guest: md {u}")
    h.run("vmadm", "stop", "-F", u, timeout=60)


def start_writer(h, u):
    """Rewrites 8 MiB of the guest's memory over and over."""
    guest_sh(h, u, "dd if=/dev/urandom of=/tmp/r bs=1M count=8 "
             "2>/dev/null; (while :; do cp /tmp/r /tmp/w; done) & W=$!; "
             "echo hull-guest: writer $W", "hull-guest: writer ")


def test_kvm_live_migration_that_does_not_converge_is_cancelled(vmhost):
    h = vmhost
    u = kvm_guest(h)
    old = qemu_pid(h, u)
    start_writer(h, u)
    ticks = Ticks(h, u)
    try:
        start_ticker(h, u)
        # 1 ms at 20 MB/s: 20 KB, less than the writer dirties in any
        # pass
        r = h.run("vmadm", "migrate", u, "--live", "--downtime", "1",
                  "--bandwidth", "20", check=False, timeout=600)
        t1 = time.monotonic()
        time.sleep(2)
    finally:
        ticks.close()
    assert r.rc != 0, r
    msg = r.err.strip()
    assert msg.startswith(
        f"Cannot migrate VM {u}: did not converge within the downtime "
        "limit of 1 ms after 30 passes ("), msg
    assert msg.endswith("bytes left; allow auto-converge to throttle the "
                        "guest)"), msg
    assert len(msg.splitlines()) == 1
    assert qemu_pid(h, u) == old and state(h, u) == "running"
    assert mig_socks(h, u) == []
    # the guest was never stopped: the ticker ran on after the cancel
    assert any(t > t1 for t, _ in ticks.ticks)
    # allowed to throttle the guest's vCPUs, QEMU gets there; the guest
    # keeps rewriting its memory all along, and its memory arrives whole:
    # its kernel runs on in the new QEMU without a panic (QEMU 7.2 under
    # TCG loses guest writes in a long migration: without the -m of
    # src/hvm/qemu.c's ram_arg the kernel found its page lists corrupt
    # within seconds, in 2 of 2 runs)
    n0 = len(console_log(h, u))
    r = h.run("vmadm", "migrate", u, "--live", "--downtime", "50",
              "--bandwidth", "20", "--auto-converge", timeout=600)
    assert "Successfully migrated" in r.err, r.err
    assert qemu_pid(h, u) != old
    assert "auto-converge on" in sv_log(h, u)
    time.sleep(10)
    guest_sh(h, u, "kill $W $T; echo hull-guest: quiet", "hull-guest: quiet")
    after = console_log(h, u)[n0:]
    for bad in ("Kernel panic", "BUG", "Oops", "corruption",
                "general protection"):
        assert bad not in after, after[-4000:]
    h.run("vmadm", "stop", "-F", u, timeout=60)


def test_migrate_usage_and_refusals(vmhost):
    h = vmhost
    img = install(h)
    u = create(h, {"brand": "kvm", "ram": 256, "autoboot": False,
                   "disks": [{"image_uuid": img, "boot": True}]})
    r = h.run("vmadm", "migrate", u, "--live", check=False)
    assert r.rc != 0 and r.err.strip() == \
        'Unable to migrate vm from state "stopped", must be "running".', \
        r.err
    r = h.run("vmadm", "migrate", u, check=False)
    assert r.rc != 0 and "Usage: vmadm migrate" in r.err, r.err
    r = h.run("vmadm", "migrate", u, "--live", "--downtime", "0",
              check=False)
    assert r.rc != 0 and "Invalid value for downtime" in r.err, r.err


def test_kvm_migrated_vm_is_adopted_after_its_supervisor_is_killed(vmhost):
    # The supervisor's holder keeps the new QEMU's console and QMP and
    # its pid: a supervisor killed after the migration is replaced by one
    # that adopts the new QEMU. The cgroup's memory limit is back to one
    # guest's.
    from test_supervisor_adopt import (alive, kill_and_adopt, memory_limit,
                                       vm_asks_metadata)
    h = vmhost
    u = kvm_guest(h)
    limit = memory_limit(h, u)
    guest_sh(h, u, "X=adopted; echo hull-guest: set X=$X",
             "hull-guest: set ")
    old = qemu_pid(h, u)
    h.run("vmadm", "migrate", u, "--live", timeout=600)
    new = qemu_pid(h, u)
    assert new != old and not alive(old)
    assert memory_limit(h, u) == limit
    kill_and_adopt(h, u)
    assert qemu_pid(h, u) == new and alive(new)
    assert guest_sh(h, u, "echo hull-guest: again X=$X",
                    "hull-guest: again ") == "hull-guest: again X=adopted"
    assert vm_asks_metadata(h, u)
    h.run("vmadm", "stop", u, "-t", "60", timeout=90)
    assert state(h, u) == "stopped" and not alive(new)


def test_kvm_supervisor_killed_mid_migration_leaves_the_source(vmhost):
    # The supervisor dies while QEMU copies: the one that adopts the VM
    # finds the target's sockets, ends the migration (the target quits)
    # and the guest runs on in the source.
    from test_supervisor_adopt import alive, kill_and_adopt
    h = vmhost
    u = kvm_guest(h)
    guest_sh(h, u, "X=stays; echo hull-guest: set X=$X", "hull-guest: set ")
    old = qemu_pid(h, u)
    p, target = slow_migration(h, u)
    try:
        time.sleep(1)
        kill_and_adopt(h, u)
        _, err = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode != 0 and "Cannot migrate VM" in err, err
    end = time.monotonic() + 20
    while alive(target) and time.monotonic() < end:
        time.sleep(0.1)
    assert not alive(target)
    assert qemu_pid(h, u) == old and alive(old)
    assert mig_socks(h, u) == []
    assert state(h, u) == "running"
    assert guest_sh(h, u, "echo hull-guest: again X=$X",
                    "hull-guest: again ") == "hull-guest: again X=stays"
    assert "a predecessor's migration was under way" in sv_log(h, u)
    h.run("vmadm", "migrate", u, "--live", timeout=600)
    assert qemu_pid(h, u) != old
    h.run("vmadm", "stop", "-F", u, timeout=60)


def qmp_cmd(h, u, *cmds):
    """Runs (command, arguments[, fd]) tuples on the kvm VM's QMP command
    socket (the one hull's agents and vmadm use), fd passed with its
    command; returns their answers."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(os.path.join(h.root, u, "run", "vm", "qmp-cmd.sock"))
    f = s.makefile("rw")
    try:
        json.loads(f.readline())  # the greeting
        out = []
        for c, a, *fds in (("qmp_capabilities", {}),) + cmds:
            msg = (json.dumps({"execute": c, "arguments": a}) + "\n").encode()
            if fds:
                socket.send_fds(s, [msg], fds)
            else:
                s.sendall(msg)
            while "event" in (ans := json.loads(f.readline())):
                pass
            out.append(ans)
        return out[1:]
    finally:
        f.close()
        s.close()


def test_kvm_disk_repointed_to_a_new_file(vmhost):
    """hull names its QEMU's block nodes (hull-fmtN, hull-fileN): a live
    migration's target points a disk at the files of the last disk
    increment with blockdev-add and blockdev-reopen, which QEMU 7.2
    refuses for its automatic node names. The guest's writes then land
    in the new file, not the old."""
    h = vmhost
    u = kvm_guest(h)
    nodes = {n["node-name"]: n for n in
             qmp_cmd(h, u, ("query-named-block-nodes", {}))[0]["return"]}
    assert {"hull-fmt0", "hull-file0"} <= set(nodes), sorted(nodes)
    old = nodes["hull-file0"]["file"]
    new = old + ".new"
    # the guest's disk as it stands (no write in flight: the guest's
    # shell waits at its prompt)
    subprocess.run(["cp", "--reflink=auto", "--sparse=always", old, new],
                   check=True)
    fd = os.open(new, os.O_RDWR | os.O_CLOEXEC)
    try:
        # QEMU runs in its hull, which holds only the files it was
        # started with: a new one goes to it as a descriptor (add-fd)
        (fdset,) = qmp_cmd(h, u, ("add-fd", {}, fd))
        assert "return" in fdset, fdset
        add, reopen = qmp_cmd(
            h, u,
            ("blockdev-add", {"driver": "file", "filename":
                              f"/dev/fdset/{fdset['return']['fdset-id']}",
                              "node-name": "hull-file0-new"}),
            ("blockdev-reopen", {"options": [{
                "driver": "raw", "node-name": "hull-fmt0",
                "file": "hull-file0-new"}]}))
        assert add == {"return": {}} and reopen == {"return": {}}, \
            (add, reopen)
        nodes = {n["node-name"]: n for n in
                 qmp_cmd(h, u, ("query-named-block-nodes", {}))[0]["return"]}
        # the old file node went with its last user
        assert nodes["hull-fmt0"]["file"].startswith("/dev/fdset/") and \
            "hull-file0" not in nodes, nodes
        mark = f"hull-mark-{os.getpid()}-{time.monotonic_ns()}"
        # into the disk's last sector, past the guest's partition
        got = guest_sh(h, u, f"echo {mark} | dd of=/dev/vda bs=512 "
                       "seek=$(($(cat /sys/block/vda/size) - 1)) "
                       "conv=fsync 2>/dev/null; echo hull-guest: marked",
                       "hull-guest: marked")
        assert got == "hull-guest: marked"
        with open(new, "rb") as f:
            assert mark.encode() in f.read()
        with open(old, "rb") as f:
            assert mark.encode() not in f.read()
        assert state(h, u) == "running"
    finally:
        os.close(fd)
        h.run("vmadm", "stop", "-F", u, timeout=60)
        os.unlink(new)
