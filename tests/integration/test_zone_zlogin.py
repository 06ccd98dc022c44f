"""zlogin: running commands in a zone, exit status, pty, and the two runc
escapes it must not allow (CVE-2019-5736, CVE-2024-21626)."""
import fcntl
import hashlib
import os
import pty
import shutil
import signal
import subprocess
import termios
import threading
import time

from conftest import prog
from zonekit import HERE, zones, wait_for, cgroup_pids, copy_libraries  # noqa: F401


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
    #    on a full pipe so the zone can take its time: it complains about
    #    its argument, a "uuid" longer than what zlogin's relay and the
    #    pipe between them hold.
    r, w = os.pipe()
    fcntl.fcntl(w, 1031, 4096)   # F_SETPIPE_SZ
    fcntl.fcntl(w, fcntl.F_SETFL, os.O_NONBLOCK)
    try:
        while True:
            os.write(w, b"x" * 4096)
    except BlockingIOError:
        pass
    fcntl.fcntl(w, fcntl.F_SETFL, 0)
    victim = subprocess.Popen([zl, z.uuid, "/proc/self/exe", "x" * 120000],
                              stdout=w, stderr=w, env=z.host.env)
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
        # ... by draining the pipe, so it can finish.
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


class OperatorTerminal:
    """An operator's interactive host shell (sh -i) on a pty of its own, its
    controlling terminal; what it prints is collected in the background."""

    def __init__(self, env):
        self.master, slave = pty.openpty()
        self.shell = subprocess.Popen(
            ["/bin/sh", "-i"], stdin=slave, stdout=slave, stderr=slave,
            env=dict(env, PS1="$ "), start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
        os.close(slave)
        self.out = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self.out += chunk

    def type(self, line):
        os.write(self.master, line.encode() + b"\n")

    def wait_output(self, text, timeout=30):
        return wait_for(lambda: text.encode() in self.out, timeout=timeout)

    def close(self):
        try:
            self.type("exit")
            self.shell.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.shell.kill()
            self.shell.wait()
        os.close(self.master)
        self.reader.join(timeout=5)


def test_zone_never_gets_the_operators_terminal(zones, workdir):
    """CVE-2016-10124 (lxc-attach): a zone command that gets the operator's
    terminal pushes a command line into it with TIOCSTI (the host shell then
    runs it as root after zlogin returns) and leaves a setsid'd reader
    behind that reads what the operator types next. zlogin must give the
    command a pty of the zone or pipes, never a host terminal: with stdin
    not a terminal, with -T, and (its own pty) interactively."""
    z = zones.new()
    probe = os.path.join(workdir, "tty_probe")
    subprocess.run(["cc", "-static", "-O2", "-o", probe,
                    os.path.join(HERE, "helpers", "tty_probe.c")],
                   check=True, capture_output=True)
    shutil.copy2(probe, os.path.join(z.rootfs, "bin", "tty_probe"))
    for how, opt, redirect in (("stdin-not-a-tty", "", " </dev/null"),
                               ("-T", "-T ", ""), ("pty", "", "")):
        injected = os.path.join(workdir, "INJECTED-" + how)
        report = os.path.join(z.rootfs, "root", "report-" + how)
        term = OperatorTerminal(z.host.env)
        try:
            term.type(f"{prog('zlogin')} {opt}{z.uuid} /bin/tty_probe "
                      f"/root/report-{how} 'touch {injected}'{redirect}; "
                      "echo zlogin-$((40+2))")
            assert term.wait_output("zlogin-42"), term.out
            # The operator goes on typing while the zone's reader is alive.
            time.sleep(1)
            term.type("echo secret-$((2+3))")
            term.wait_output("secret-5", timeout=5)
            assert wait_for(lambda: os.path.exists(report) and
                            "reader done" in open(report).read(),
                            timeout=15), term.out
            time.sleep(0.5)  # let the host shell read what was pushed
        finally:
            term.close()
        with open(report) as f:
            found = f.read()
        stolen = report + ".stolen"
        stolen = open(stolen).read() if os.path.exists(stolen) else ""
        assert not os.path.exists(injected), (how, found)
        assert "secret" not in stolen, (how, stolen, found)
        if how == "pty":
            # A pty of the zone's devpts: pushing into it only reaches the
            # zone itself.
            assert "fd 0 tty /dev/pts/" in found, found
            continue
        for fd in range(3):
            assert f"fd {fd} notty " in found, (how, found)
            assert f"sti fd {fd} OK" not in found, (how, found)
            assert f"late sti fd {fd} OK" not in found, (how, found)
        assert "devtty ENXIO" in found, (how, found)  # no controlling tty


def test_stdio_without_a_pty(zones):
    """Without a pty the command gets pipes: input ends with zlogin's (a
    shell reading its script from stdin terminates), stdout and stderr stay
    apart, large transfers both ways do not deadlock, a command that
    ignores its input or a reader that goes away ends it, and a process the
    command leaves behind does not hold zlogin."""
    z = zones.new()
    r = z.zlogin("sh", input="echo from-script; echo to-err >&2; exit 4\n",
                 check=False)
    assert (r.rc, r.out, r.err) == (4, "from-script\n", "to-err\n")
    r = z.zlogin("sh", "-c", "cat /dev/stdin; ls -l /proc/self/fd/0",
                 input="reopened\n")
    assert r.out.startswith("reopened\n") and "pipe:" in r.out
    big = "".join(f"{i:07d}\n" for i in range(200000))  # 1.6 MB
    r = z.zlogin("sh", "-c", "cat; cat >&2", input=big)
    assert r.out == big and r.err == ""
    r = z.zlogin("sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x")
    assert len(r.out) == 3000000
    # A command that never reads: zlogin must not block writing to it.
    cp = subprocess.run([prog("zlogin"), z.uuid, "sh", "-c", "sleep 0.3"],
                        stdout=subprocess.PIPE, env=z.host.env, timeout=30,
                        input=b"y\n" * 2000000)
    assert cp.returncode == 0
    # Its reader went away: the command gets EPIPE/SIGPIPE and ends.
    cp = subprocess.run(f"{prog('zlogin')} {z.uuid} yes | head -n 2",
                        shell=True, capture_output=True, text=True,
                        env=z.host.env, timeout=30)
    assert cp.stdout == "y\ny\n"
    # Closed stdin, stdout and stderr: still runs (and finds /dev/null).
    cp = subprocess.run(f"{prog('zlogin')} {z.uuid} sh -c 'exit 5' <&- >&- 2>&-",
                        shell=True, env=z.host.env, timeout=30)
    assert cp.returncode == 5
    # What the command leaves behind does not keep zlogin (nor its pipes).
    t = time.monotonic()
    r = z.zlogin("sh", "-c", "sleep 30 & echo started")
    assert r.out == "started\n" and time.monotonic() - t < 10
    z.zlogin("pkill", "sleep", check=False)


def test_signals_reach_the_command(zones):
    """SIGTERM to zlogin reaches the command; SIGINT (a ^C at the operator's
    terminal) reaches its whole process group, as a terminal's would."""
    z = zones.new()
    p = subprocess.Popen(
        [prog("zlogin"), z.uuid, "sh", "-c",
         "trap 'echo got-term; exit 9' TERM; echo ready; "
         "while :; do sleep 0.1; done"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        env=z.host.env)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 9 and out == "got-term\n"
    # Even while zlogin waits on a host reader that does not read.
    r, w = os.pipe()
    try:
        p = subprocess.Popen(
            [prog("zlogin"), z.uuid, "sh", "-c", "echo ready >&2; exec yes"],
            stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE,
            text=True, env=z.host.env)
        os.close(w)
        assert p.stderr.readline() == "ready\n"
        # The pipe to us is full: zlogin is waiting on it.
        size = fcntl.fcntl(r, 1032)  # F_GETPIPE_SZ
        assert wait_for(lambda: int.from_bytes(fcntl.ioctl(
            r, termios.FIONREAD, b"\0" * 4), "little") >= size)
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=20) == 128 + signal.SIGTERM
    finally:
        os.close(r)
    p = subprocess.Popen(
        [prog("zlogin"), z.uuid, "sh", "-c", "echo ready; sleep 61; echo after"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True,
        env=z.host.env)
    assert p.stdout.readline() == "ready\n"
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=20)
    assert p.returncode == 130 and "after" not in out
    # The sleep went with its shell.
    assert wait_for(lambda: "sleep 61" not in
                    z.zlogin("ps", "-o", "args").out), z.zlogin("ps").out
