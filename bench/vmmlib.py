"""Shared by the bench/vmm-* benchmarks: paths, and running hull-vmm or
QEMU on the test guest while watching its COM1 lines with timestamps."""
import os
import select
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
BUILD = os.environ.get("HULL_BUILD", os.path.join(TOP, "build"))
VMM = os.path.join(BUILD, "src", "cmd", "hull-vmm", "hull-vmm")
GUEST = os.path.join(BUILD, "tests", "guest", "guest.elf")
QEMU = "qemu-system-x86_64"


def check():
    for p in (VMM, GUEST):
        if not os.path.exists(p):
            raise SystemExit(f"{p} is missing: build first (make build)")


def hull_cmd(test, mem="128M", extra=()):
    return [VMM, "--kernel", GUEST, "--cmdline", f"test={test}", "--memory",
            mem, "--boot-timer", *extra]


def qemu_cmd(test, mem="128M", extra=()):
    # microvm, KVM, no firmware; kvm64 because this host's nested KVM
    # refuses the MSRs QEMU programs for -cpu host/max.
    return [QEMU, "-M", "microvm", "-enable-kvm", "-cpu", "kvm64", "-m", mem,
            "-nodefaults", "-no-user-config", "-nographic", "-display", "none",
            "-serial", "stdio", "-kernel", GUEST, "-append", f"test={test}",
            *extra]


class Run:
    """A started VMM; lines() yields (ns since start, line) from COM1."""

    def __init__(self, cmd):
        self.t0 = time.monotonic_ns()
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        self.buf = b""
        self.err = b""

    def wait_for(self, text, timeout=120):
        """ns from start until a COM1 line containing text, or None."""
        end = time.monotonic() + timeout
        fds = [self.p.stdout.fileno(), self.p.stderr.fileno()]
        while time.monotonic() < end:
            r, _, _ = select.select(fds, [], [], 0.5)
            now = time.monotonic_ns()
            for fd in r:
                chunk = os.read(fd, 65536)
                if fd == fds[1]:
                    self.err += chunk
                    continue
                if not chunk:
                    return None
                self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                if text.encode() in line:
                    return now - self.t0
        return None

    def boot_timer(self):
        """(first guest instruction, main() entered, first KVM_RUN), ns
        after start (hull-vmm only)."""
        self.p.poll()
        for line in self.err.decode(errors="replace").splitlines():
            if line.startswith("hull-vmm: boot timer: "):
                f = line.split()
                return (int(f[3]) - self.t0, int(f[5]) - self.t0,
                        int(f[7]) - self.t0)
        return None

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        out, err = self.p.communicate()
        self.err += err or b""


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def smaps(pid):
    """[(size_kB, rss_kB, name)] for every mapping of pid."""
    maps = []
    cur = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and ":" not in parts[0]:
                cur = [0, 0, parts[5] if len(parts) > 5 else ""]
                maps.append(cur)
            elif parts[0] == "Size:":
                cur[0] = int(parts[1])
            elif parts[0] == "Rss:":
                cur[1] = int(parts[1])
    return maps
