"""A hull platform host under QEMU for the tests: the machine (UEFI
firmware, blank virtio disks, CDs on virtio-scsi, the serial console on a
pipe) and a console driver that waits for lines, logs root in and runs
commands. QEMU runs with -no-reboot, so a reboot of the host ends the
process: each boot is one Machine.boot()."""
import os
import re
import select
import shutil
import subprocess
import time

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
ADMIN_MAC = "52:54:00:c0:00:0a"
# Two more virtio nics, each alone on a hub of its own (they reach
# nothing, and need nothing from this host): the ports of the test's
# aggregation. Their PCI slots come after the admin nic's, so setup's
# default admin link (the first Ethernet link) stays the admin nic.
PORT_MACS = ("52:54:00:c0:00:1a", "52:54:00:c0:00:1b")


class Machine:
    def __init__(self, workdir, ndisks=3, disk_size=2 << 30, memory=2048,
                 head_port=None):
        self.workdir = workdir
        self.head_port = head_port
        self.disks = []
        for i in range(ndisks):
            p = os.path.join(workdir, f"disk{i}.img")
            with open(p, "wb") as f:
                f.truncate(disk_size)
            self.disks.append(p)
        self.vars = os.path.join(workdir, "ovmf-vars.fd")
        shutil.copy(OVMF_VARS, self.vars)
        self.memory = memory
        self.proc = None
        self.log = open(os.path.join(workdir, "console.log"), "ab")
        self.buf = b""

    def boot(self, cds=()):
        assert self.proc is None or self.proc.poll() is not None
        argv = ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
                "-m", str(self.memory), "-smp", "2", "-no-reboot",
                "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={self.vars}",
                "-device", "virtio-scsi-pci,id=scsi",
                "-device", f"virtio-net-pci,netdev=n0,mac={ADMIN_MAC}"]
        if self.head_port:
            # The admin nic on QEMU's user network, restricted: it reaches
            # nothing but 192.0.2.5:8443, which QEMU forwards (a nc per
            # connection) to a head node on this host's loopback.
            argv += ["-netdev", "user,id=n0,net=192.0.2.0/24,host=192.0.2.1,"
                     "restrict=on,guestfwd=tcp:192.0.2.5:8443-cmd:nc "
                     f"127.0.0.1 {self.head_port}"]
        else:
            # One virtio nic on a hub with no other port: a link for the
            # admin address that reaches nothing.
            argv += ["-netdev", "hubport,id=n0,hubid=0"]
        for i, d in enumerate(self.disks):
            argv += ["-drive", f"file={d},format=raw,if=virtio,cache=unsafe"]
        for i, mac in enumerate(PORT_MACS):
            argv += ["-netdev", f"hubport,id=p{i},hubid={i + 1}",
                     "-device", f"virtio-net-pci,netdev=p{i},mac={mac}"]
        for i, c in enumerate(cds):
            argv += ["-drive", f"file={c},format=raw,if=none,id=cd{i},media=cdrom,readonly=on",
                     "-device", f"scsi-cd,drive=cd{i},bus=scsi.0"]
        self.buf = b""
        self.log.write(f"\n==== boot {' '.join(argv)}\n".encode())
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.t0 = time.monotonic()

    def expect(self, pattern, timeout):
        """Waits for pattern (a regex over the console's bytes since the
        last match) and returns the match."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        end = time.monotonic() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None and not self._read(0):
                tail = self.buf[-3000:].decode(errors="replace")
                raise AssertionError(f"console: no {pattern!r} in {timeout}s "
                                     f"(qemu {'exited' if self.proc.poll() is not None else 'running'}); "
                                     f"last output:\n{tail}")
            self._read(min(left, 1.0))

    def _read(self, timeout):
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return False
        data = os.read(self.proc.stdout.fileno(), 65536)
        if not data:
            time.sleep(min(timeout, 0.2))
            return False
        self.log.write(data)
        self.log.flush()
        self.buf += data
        return True

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def login(self, password, timeout=240):
        # The getty's prompt may come before the line the caller waited
        # for (which expect then skipped): an empty line makes agetty ask
        # again.
        end = time.monotonic() + timeout
        while True:
            try:
                self.expect(r"login: ", min(30, max(1, end - time.monotonic())))
                break
            except AssertionError:
                if time.monotonic() >= end or self.proc.poll() is not None:
                    raise
                self.send("\n")
        self.send("root\n")
        self.expect(r"Password: ", 30)
        self.send(password + "\n")
        self.expect(r"# ", 60)
        self.sh("dmesg -n 1; export PS1='# '; stty -echo; "
                "bind 'set enable-bracketed-paste off' 2>/dev/null")

    def sh(self, cmd, timeout=120, check=True):
        """Runs cmd in the console's shell; returns (rc, output)."""
        tag = f"{time.monotonic_ns():x}"
        self.buf = b""
        self.send(f"{cmd}; echo ==={tag}=$?===\n")
        m = self.expect(rf"==={tag}=(\d+)===", timeout)
        out = m.string[:m.start()].decode(errors="replace").replace("\r", "")
        # The previous command's prompt may arrive after its marker.
        out = re.sub(r"^(# )+", "", out, flags=re.M)
        rc = int(m.group(1))
        if check:
            assert rc == 0, f"{cmd!r} exited {rc}:\n{out}"
        return rc, out

    def wait_exit(self, timeout=120):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("the host did not reboot or power off")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
