"""Helpers for the zone runtime tests: a busybox zone written by hand.

The tests drive hull-supervisor and zlogin directly (vmadm is another
module): an instance folder with a busybox root and a hand-written
instance record, as docs/internals.md describes. Every zone lives under
the test's own HULL_ROOT and cgroup parent (hull-test-<random>), and
`cleanup()` kills and removes whatever a test left, even when it failed.
"""
import glob
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import time
import uuid as uuidlib

from conftest import ROOT, prog

BUSYBOX = "/bin/busybox"
HERE = os.path.dirname(os.path.abspath(__file__))
CG = "/sys/fs/cgroup"


def cgroup_v2():
    return os.path.exists(os.path.join(CG, "cgroup.controllers"))


def cgroup_dirs(rel):
    """The folders of cgroup `rel` in every hierarchy."""
    if cgroup_v2():
        return [os.path.join(CG, rel)]
    out = []
    for h in sorted(os.listdir(CG)):
        d = os.path.join(CG, h, rel)
        if os.path.isdir(d):
            out.append(d)
    return out


def cgroup_file(rel, controller, name):
    base = os.path.join(CG, rel) if cgroup_v2() else os.path.join(CG, controller, rel)
    with open(os.path.join(base, name)) as f:
        return f.read().strip()


def cgroup_pids(rel):
    pids = set()
    for d in cgroup_dirs(rel):
        for dirpath, _dirs, files in os.walk(d):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except OSError:
                    pass
    return pids


def cgroup_remove(rel):
    """Kills every process under cgroup rel and removes it (all hierarchies)."""
    for _ in range(100):
        pids = cgroup_pids(rel)
        if not pids:
            break
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)
    for d in cgroup_dirs(rel):
        for dirpath, _dirs, _files in sorted(os.walk(d), key=lambda t: -len(t[0])):
            for _ in range(50):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)


def make_rootfs(root, probe=None):
    for d in ("bin", "sbin", "etc", "tmp", "root", "proc", "sys", "dev", "run"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(root, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True,
                             text=True, check=True).stdout.split()
    for a in applets:
        if a == "busybox":
            continue
        p = os.path.join(root, "bin", a)
        if not os.path.lexists(p):
            os.symlink("busybox", p)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    if probe:
        shutil.copy2(probe, os.path.join(root, "bin", "zone_probe"))


def build_probe(workdir):
    out = os.path.join(workdir, "zone_probe")
    if not os.path.exists(out):
        subprocess.run(["cc", "-static", "-O2", "-o", out,
                        os.path.join(HERE, "helpers", "zone_probe.c")],
                       check=True, capture_output=True)
    return out


# An init that stops on SIGTERM, says so once it does ("init up": pid 1
# of a namespace ignores signals it has no handler for), and idles.
DEFAULT_INIT = """#!/bin/sh
trap 'echo "init stopping"; exit 0' TERM
echo "init up $$"
while true; do sleep 1 & wait $!; done
"""


class Zone:
    def __init__(self, host, record=None, init=DEFAULT_INIT, probe=None):
        self.host = host
        self.uuid = str(uuidlib.uuid4())
        self.dir = os.path.join(host.root, self.uuid)
        self.rootfs = os.path.join(self.dir, "root")
        make_rootfs(self.rootfs, probe)
        if init is not None:
            with open(os.path.join(self.rootfs, "sbin", "init"), "w") as f:
                f.write(init)
            os.chmod(os.path.join(self.rootfs, "sbin", "init"), 0o755)
        os.makedirs(os.path.join(self.dir, "config"))
        rec = {"uuid": self.uuid, "brand": "joyent", "hostname": "z-" + self.uuid[:8]}
        rec.update(record or {})
        self.record = rec
        self.write_record()

    def write_record(self):
        p = os.path.join(self.dir, "config", "vm.json")
        with open(p + ".tmp", "w") as f:
            json.dump(self.record, f)
        os.rename(p + ".tmp", p)

    @property
    def cgroup(self):
        return f"{self.host.env['HULL_CGROUP_PARENT']}/{self.uuid}"

    def start(self):
        return self.host.run("hull-supervisor", self.uuid)

    def supervisor_pid(self):
        try:
            with open(os.path.join(self.dir, "run", "supervisor.pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def ctl(self, req, timeout=60):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        try:
            s.connect(os.path.join(self.dir, "run", "control.sock"))
            s.sendall((json.dumps(req) + "\n").encode())
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
        finally:
            s.close()
        return json.loads(buf)

    def status(self):
        return self.ctl({"cmd": "status"})

    def stop(self, timeout=10, force=False):
        pid = self.supervisor_pid()
        r = self.ctl({"cmd": "stop", "timeout": timeout, "force": force},
                     timeout=timeout + 30)
        wait_for(lambda: not pid_alive(pid), 10)
        return r

    def zlogin(self, *cmd, check=True, **kw):
        return self.host.run("zlogin", self.uuid, *cmd, check=check, **kw)

    def console_log(self):
        try:
            with open(os.path.join(self.dir, "logs", "console.log"),
                      errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def supervisor_log(self):
        with open(os.path.join(self.dir, "logs", "supervisor.log")) as f:
            return [json.loads(l) for l in f if l.strip().startswith("{")]

    def lastexited(self):
        with open(os.path.join(self.dir, "lastexited")) as f:
            ms, status = f.read().split()
        return int(ms), int(status)

    def holder_pid(self):
        try:
            with open(os.path.join(self.dir, "run", "holder.pid")) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def cleanup(self):
        # The holder first: it would start another supervisor.
        kill_holder(self.holder_pid())
        pid = self.supervisor_pid()
        if pid and pid_alive(pid) and is_supervisor(pid):
            os.kill(pid, signal.SIGKILL)
        cgroup_remove(self.cgroup)


def pid_alive(pid):
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def kill_holder(pid):
    """SIGKILLs pid if it is an instance's hull-holder."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            if f.read().strip() != "hull-holder":
                return
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def is_supervisor(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"hull-supervisor" in f.read()
    except OSError:
        return False


def wait_for(pred, timeout=10.0, interval=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


def read_until(stream, want, timeout=10.0):
    """Reads a child's pipe (a Popen's stdout or stderr) until the bytes
    WANT have arrived; returns everything read. Fails on end of file or
    after TIMEOUT seconds, showing what came."""
    fd = stream.fileno()
    got = b""
    end = time.monotonic() + timeout
    while want not in got:
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {want!r} in {timeout}s; read {got[-2000:]!r}")
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            if not chunk:
                raise AssertionError(f"end of file before {want!r}; read {got[-2000:]!r}")
            got += chunk
    return got


def _ldd(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    paths = []
    for line in out.splitlines():
        path = line.split("=>")[-1].split("(")[0].strip()
        if path.startswith("/") and os.path.exists(path):
            paths.append(path)
    return paths


def _loaded_on_first_use(binary):
    """The libraries binary loads with dlopen (src/lib/dl.h), which ldd
    does not list: their sonames are in its text, found on this host as
    scripts/mkplatform finds them."""
    with open(binary, "rb") as f:
        names = set(re.findall(rb"lib[a-z0-9_+-]*\.so\.[0-9]+", f.read()))
    known = {}
    out = subprocess.run(["ldconfig", "-p"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) \(.*x86-64.*\) => (\S+)$", line)
        if m:
            known.setdefault(m.group(1), m.group(2))
    return [known[n.decode()] for n in sorted(names) if n.decode() in known]


def copy_libraries(binary, root):
    """Copies the shared libraries binary needs into root, as a Debian zone
    would have them: those it links and those it loads on first use."""
    paths = _ldd(binary)
    for lib in _loaded_on_first_use(binary):
        paths += [lib] + _ldd(lib)
    for path in sorted(set(paths)):
        dst = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(os.path.realpath(path), dst)


def mounts_under(path):
    with open("/proc/self/mounts") as f:
        return [l.split()[1] for l in f if l.split()[1].startswith(path)]


class Zones:
    """Factory fixture object: zones.new(record=..., init=...)."""

    def __init__(self, host):
        self.host = host
        self.made = []
        self.parent = "hull-test-" + uuidlib.uuid4().hex[:10]
        host.env["HULL_CGROUP_PARENT"] = self.parent
        os.makedirs(host.root, exist_ok=True)

    def new(self, record=None, init=DEFAULT_INIT, probe=None, start=True):
        z = Zone(self.host, record, init, probe)
        self.made.append(z)
        if start:
            z.start()
        return z

    def cleanup(self):
        for z in self.made:
            z.cleanup()
        cgroup_remove(self.parent)


import pytest  # noqa: E402


@pytest.fixture
def zones(bare):
    """Zones under the test's own pool root and cgroup parent."""
    zs = Zones(bare)
    try:
        yield zs
    finally:
        zs.cleanup()


@pytest.fixture
def probe(workdir):
    """The static syscall probe, built for this test."""
    return build_probe(workdir)


def install_busybox(run, folder):
    """Builds scripts/mkimage-busybox's image (uncompressed) in folder and
    installs it with run("imgadm", ...): a Host's run, or any callable of
    that shape. Returns the image's uuid."""
    os.makedirs(folder)
    subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o",
                    folder, "-c", "none"], check=True, capture_output=True)
    manifest = glob.glob(os.path.join(folder, "*.json"))[0]
    run("imgadm", "install", "-m", manifest,
        "-f", glob.glob(os.path.join(folder, "*.tar"))[0])
    with open(manifest) as f:
        return json.load(f)["uuid"]
