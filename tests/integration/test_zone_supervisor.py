"""The per-instance supervisor: start, stop, reboot, restart policy, exit
records, console, and what a killed supervisor leaves (nothing)."""
import os
import signal
import subprocess
import time

from conftest import prog
from zonekit import (zones, wait_for, pid_alive, cgroup_pids, cgroup_dirs,  # noqa: F401
                     mounts_under, read_until)


def test_start_reports_readiness_and_daemonises(zones):
    z = zones.new(start=False)
    r = z.start()
    assert r.rc == 0 and r.err == ""
    pid = z.supervisor_pid()
    assert pid_alive(pid)
    # Detached: its own session, not our child; its parent is its holder
    # (docs/internals.md), which leads that session.
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    holder = int(fields[1])
    assert holder != os.getpid()                  # ppid
    assert int(fields[3]) == holder               # session leader
    with open(f"/proc/{holder}/comm") as f:
        assert f.read().strip() == "hull-holder"
    with open(os.path.join(z.dir, "run", "holder.pid")) as f:
        assert int(f.read()) == holder
    assert wait_for(lambda: "init up" in z.console_log())
    logs = z.supervisor_log()
    assert all(l["uuid"] == z.uuid for l in logs)
    assert any("zone booted" in l["msg"] for l in logs)


def stopped_tree_kept(cg):
    """A zone that ran keeps its cgroup tree, empty, for its next start
    (vmadm delete removes it: test_vmadm_lifecycle.py)."""
    return bool(cgroup_dirs(cg)) and not cgroup_pids(cg)


def test_start_failure_is_one_line_and_leaves_nothing(zones):
    z = zones.new(init=None, start=False)  # no /sbin/init in the root
    r = z.host.fails("hull-supervisor", z.uuid)
    assert "exec /sbin/init: No such file or directory" in r.err
    assert not cgroup_dirs(z.cgroup)
    assert not os.path.exists(os.path.join(z.dir, "run", "control.sock"))
    assert not pid_alive(z.supervisor_pid())
    r = zones.host.fails("hull-supervisor", "6f1e0e0c-0000-4000-8000-000000000000")
    assert "no such instance" in r.err


def test_second_supervisor_is_refused(zones):
    z = zones.new()
    r = z.host.fails("hull-supervisor", z.uuid)
    assert "already running" in r.err
    assert z.status()["state"] == "running"  # the first one is untouched


def test_stop_is_graceful_and_records_exit(zones):
    z = zones.new()
    assert wait_for(lambda: "init up" in z.console_log())
    assert z.stop(timeout=10) == {"ok": True}
    assert "init stopping" in z.console_log()
    _ms, status = z.lastexited()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert stopped_tree_kept(z.cgroup)
    assert not os.path.exists(os.path.join(z.dir, "run", "control.sock"))


def test_stop_kills_after_timeout_and_force(zones):
    stubborn = "#!/bin/sh\ntrap '' TERM\nwhile true; do sleep 1; done\n"
    z = zones.new(init=stubborn)
    t = time.monotonic()
    z.stop(timeout=1)
    assert 0.9 < time.monotonic() - t < 8
    _ms, status = z.lastexited()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    z2 = zones.new(init=stubborn)
    t = time.monotonic()
    z2.stop(timeout=60, force=True)
    assert time.monotonic() - t < 5
    assert stopped_tree_kept(z2.cgroup)


def test_kill_sends_a_signal_to_init(zones):
    init = ("#!/bin/sh\ntrap 'echo got-usr1' USR1\necho trapped\n"
            "while true; do sleep 1 & wait $!; done\n")
    z = zones.new(init=init)
    # pid 1 of a namespace ignores signals it has no handler for yet
    assert wait_for(lambda: "trapped" in z.console_log())
    assert z.ctl({"cmd": "kill", "signal": "SIGUSR1"}) == {"ok": True}
    assert wait_for(lambda: "got-usr1" in z.console_log())
    r = z.ctl({"cmd": "kill", "signal": "SIGNOPE"})
    assert r["ok"] is False and "unknown signal" in r["error"]


def test_reboot_boots_again(zones):
    z = zones.new()
    pid1 = z.status()["pid"]
    assert z.ctl({"cmd": "reboot", "timeout": 5}) == {"ok": True}
    st = z.status()
    assert st["state"] == "running" and st["pid"] != pid1 and st["restarts"] == 1
    assert wait_for(lambda: z.console_log().count("init up") == 2)


def test_restart_init_policy(zones):
    dies = "#!/bin/sh\necho dying\nexit 3\n"
    z = zones.new({"restart_init": False}, init=dies)
    assert wait_for(lambda: not pid_alive(z.supervisor_pid()))
    _ms, status = z.lastexited()
    assert os.WEXITSTATUS(status) == 3
    assert stopped_tree_kept(z.cgroup)
    # Default restart_init=true: init comes back (after a back-off).
    z2 = zones.new(init=dies)
    assert wait_for(lambda: z2.console_log().count("dying") >= 2, 10)
    assert z2.status()["restarts"] >= 1
    z2.stop(timeout=1)


def test_reboot_and_halt_from_inside(zones):
    init = "#!/bin/sh\necho up\nwhile true; do sleep 1 & wait $!; done\n"
    z = zones.new({"restart_init": False}, init=init)
    pid1 = z.status()["pid"]
    z.zlogin("reboot", "-f")   # reboot(2) ends the pid namespace with SIGHUP
    assert wait_for(lambda: z.status().get("pid", pid1) != pid1, 10)
    assert z.status()["state"] == "running"
    sup = z.supervisor_pid()
    z.zlogin("poweroff", "-f", check=False)  # SIGINT: stays down
    assert wait_for(lambda: not pid_alive(sup), 10)
    _ms, status = z.lastexited()
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGINT


def test_kill_9_of_holder_leaves_nothing(zones):
    """kill -9 of the holder: nothing can adopt the zone any more, so its
    supervisor stops it (a killed supervisor alone is adopted:
    test_supervisor_adopt.py)."""
    z = zones.new()
    z.zlogin("sh", "-c", "sleep 1000 >/dev/null 2>&1 & sleep 1000 >/dev/null 2>&1 &")
    init = z.status()["pid"]
    procs = cgroup_pids(z.cgroup)
    assert len(procs) >= 3
    os.kill(z.holder_pid(), signal.SIGKILL)
    assert wait_for(lambda: not cgroup_pids(z.cgroup), 5)
    assert not any(pid_alive(p) for p in procs | {init})
    assert mounts_under(z.dir) == []
    # The next start cleans what is left (an empty cgroup, stale sockets).
    z.start()
    assert z.status()["state"] == "running"
    z.stop()
    assert stopped_tree_kept(z.cgroup)


def test_console_is_logged_and_attachable(zones):
    init = ("#!/bin/sh\necho 'console ready'\nwhile read line; do echo \"got:$line\";"
            " done\nwhile true; do sleep 1; done\n")
    z = zones.new(init=init)
    assert wait_for(lambda: "console ready" in z.console_log())
    # Input and ^] in one go: what comes before ^] reaches the console.
    p = subprocess.run([prog("zlogin"), "-C", z.uuid], input=b"hello\n\x1d",
                       capture_output=True, env=z.host.env, timeout=10)
    assert p.returncode == 0
    p = subprocess.Popen([prog("zlogin"), "-C", z.uuid], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=z.host.env)
    connected = read_until(p.stderr, b"[Connected to zone")
    p.stdin.write(b"again\n")
    p.stdin.flush()
    assert wait_for(lambda: "got:again" in z.console_log())
    seen = read_until(p.stdout, b"got:again")  # the answer reached us
    p.stdin.write(b"\x1d")
    p.stdin.flush()
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0
    assert b"got:again" in seen + out
    assert f"[Connected to zone '{z.uuid}' console]".encode() in connected + err
    assert "got:hello" in z.console_log()
    assert z.status()["state"] == "running"  # detaching leaves it running
