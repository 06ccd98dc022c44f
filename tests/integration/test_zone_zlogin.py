"""zlogin: running commands in a zone, exit status, pty, and the two runc
escapes it must not allow (CVE-2019-5736, CVE-2024-21626)."""
import fcntl
import hashlib
import os
import pty
import subprocess
import time

from conftest import prog
from zonekit import zones, wait_for, cgroup_pids, copy_libraries  # noqa: F401


def test_exit_status_is_passed_through(zones):
    z = zones.new()
    assert z.zlogin("sh", "-c", "exit 7", check=False).rc == 7
    assert z.zlogin("true").rc == 0
    assert z.zlogin("sh", "-c", "kill -9 $$", check=False).rc == 137
    r = z.zlogin("/no/such/program", check=False)
    assert r.rc == 127 and "/no/such/program" in r.err
    r = z.zlogin("sh", "-c", "echo out; echo err >&2")
    assert r.out == "out\n" and r.err == "err\n"
    r = z.zlogin("cat", input="piped\n")
    assert r.out == "piped\n"


def test_joins_namespaces_and_cgroup(zones):
    z = zones.new()
    r = z.zlogin("sh", "-c", "echo $$; hostname; cat /proc/self/cgroup | grep pids; "
                 "readlink /proc/self/ns/pid; readlink /proc/1/ns/pid")
    lines = r.out.splitlines()
    assert int(lines[0]) < 100                      # a pid of the zone
    assert lines[1] == z.record["hostname"]
    assert lines[2].endswith(":pids:/")             # the zone's cgroup, as its root
    assert lines[3] == lines[4]                     # init's pid namespace


def test_pty_when_asked_or_interactive(zones):
    z = zones.new()
    assert z.zlogin("tty", check=False).out.strip() == "not a tty"
    r = z.host.run("zlogin", "-t", z.uuid, "sh", "-c", "tty; exit 3", check=False)
    assert r.rc == 3 and r.out.startswith("/dev/pts/")
    # A real terminal on stdin: a pty without -t.
    m, s = pty.openpty()
    p = subprocess.Popen([prog("zlogin"), z.uuid, "sh", "-c", "tty; stty size"],
                         stdin=s, stdout=s, stderr=s, env=z.host.env)
    os.close(s)
    assert p.wait(timeout=20) == 0
    out = b""
    fcntl.fcntl(m, fcntl.F_SETFL, os.O_NONBLOCK)
    try:
        while True:
            chunk = os.read(m, 4096)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    os.close(m)
    assert b"/dev/pts/" in out


def test_refuses_what_is_not_a_running_zone(zones):
    z = zones.new(start=False)
    r = z.host.fails("zlogin", z.uuid, "true")
    assert "not running" in r.err
    r = z.host.fails("zlogin", "not-a-uuid", "true")
    assert "not a uuid" in r.err


def test_cve_2024_21626_no_host_cwd_or_descriptor(zones, workdir):
    z = zones.new()
    hostdir = os.path.join(workdir, "secret-host-dir")
    os.makedirs(hostdir)
    fd = os.open(hostdir, os.O_RDONLY | os.O_DIRECTORY)  # inheritable
    os.set_inheritable(fd, True)
    try:
        cp = subprocess.run([prog("zlogin"), z.uuid, "sh", "-c",
                             f"readlink /proc/self/cwd; ls /proc/self/fd; "
                             f"ls /proc/self/fd/{fd}/ 2>&1; cd /proc/self/fd/{fd} 2>&1"
                             " && echo ESCAPED"],
                            cwd=hostdir, pass_fds=(fd,), capture_output=True,
                            text=True, env=z.host.env, timeout=30)
    finally:
        os.close(fd)
    lines = cp.stdout.splitlines()
    assert lines[0] == "/"                 # cwd is the zone's root, not hostdir
    fds = [l for l in lines[1:] if l.isdigit()]
    assert set(fds) <= {"0", "1", "2", "3"}, cp.stdout  # 3: ls's own directory
    assert str(fd) not in fds or fd <= 3
    assert "ESCAPED" not in cp.stdout


def test_cve_2019_5736_host_binary_is_not_writable(zones, workdir):
    """The zone runs the joining program (#!/proc/self/exe trick) and keeps
    a handle on it: writing through it must not reach the host binary."""
    z = zones.new()
    zl = prog("zlogin")
    copy_libraries(zl, z.rootfs)  # so zlogin's image can run in the zone
    with open(zl, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    # 1. Make zlogin's own image run inside the zone, and keep it blocked
    #    on a full pipe so the zone can take its time.
    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)   # F_SETPIPE_SZ
    fcntl.fcntl(w, fcntl.F_SETFL, os.O_NONBLOCK)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, 0)
    victim = subprocess.Popen([zl, z.uuid, "/proc/self/exe", "--help"],
                              stdout=w, stderr=subprocess.DEVNULL, env=z.host.env)
    os.close(w)
    try:
        # 2. From the zone, find it, open its exe, let it exit, write.
        attack = (
            "for t in $(seq 300); do "
            "  for p in /proc/[0-9]*; do "
            "    case $(readlink $p/exe) in *zlogin*|*memfd*|*hull*) v=$p;; esac; "
            "  done; [ -n \"$v\" ] && break; sleep 0.1; "
            "done; [ -n \"$v\" ] || { echo NOVICTIM; exit 1; }; "
            "readlink $v/exe; exec 5<$v/exe; echo opened; touch /root/opened; "
            "while [ -e $v/exe ]; do sleep 0.1; done; "
            "echo EVIL >/proc/self/fd/5 && echo WROTE || echo REFUSED")
        attacker = subprocess.Popen([zl, z.uuid, "sh", "-c", attack],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, env=z.host.env)
        # 3. Once the zone holds its handle, release the victim
        end = time.monotonic() + 30
        while time.monotonic() < end and attacker.poll() is None:
            if os.path.exists(os.path.join(z.rootfs, "root", "opened")):
                break
            time.sleep(0.1)
        # ... by draining the pipe, so --help can finish.
        os.set_blocking(r, False)
        end = time.monotonic() + 10
        while victim.poll() is None and time.monotonic() < end:
            try:
                os.read(r, 65536)
            except BlockingIOError:
                time.sleep(0.05)
        out, _ = attacker.communicate(timeout=30)
    finally:
        os.close(r)
        if victim.poll() is None:
            victim.kill()
    assert "opened" in out, out           # the zone did get a handle
    assert "memfd" in out, out            # ... on a sealed copy
    assert "REFUSED" in out and "WROTE" not in out, out
    with open(zl, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == before
