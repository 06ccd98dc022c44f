"""hull-vmm confines itself once set up: a forbidden system call kills it,
and a running VMM holds no capabilities and no stray descriptors."""
import os
import subprocess
import time

import pytest

import skips
import vmmlib
from vmmlib import GUEST_ELF

pytestmark = skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
                          str(vmmlib.kvm_unusable()))


@pytest.mark.parametrize("call", ["execve", "open"])
def test_forbidden_syscall_kills_the_vmm(call):
    cp = vmmlib.run("--kernel", GUEST_ELF, "--cmdline", "test=spin",
                    "--memory", "16M", "--test-forbidden-syscall", call,
                    timeout=30)
    # killed by the seccomp filter, not exited: SIGSYS
    assert cp.returncode == -31, cp
    assert "forbidden system call was allowed" not in cp.stderr


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(l.rstrip("\n").split(":\t", 1) for l in f if ":\t" in l)


def test_running_vmm_is_confined(tmp_path):
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\0" * 1024 * 1024)
    stray = open(tmp_path / "stray", "w")  # inherited, must be closed
    ctl = tmp_path / "ctl.sock"
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=spin", "--memory", "16M", "--cpus", "2",
                          "--disk", str(disk), "--control", f"unix:{ctl}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, pass_fds=[stray.fileno()])
    try:
        end = time.monotonic() + 10
        while not ctl.exists() or _status(p.pid).get("Seccomp") != "2":
            assert time.monotonic() < end, "never confined"
            time.sleep(0.05)
        st = _status(p.pid)
        assert st["NoNewPrivs"] == "1"
        assert int(st["CapEff"], 16) == 0
        assert int(st["CapPrm"], 16) == 0
        targets = []
        for fd in os.listdir(f"/proc/{p.pid}/fd"):
            try:
                targets.append(os.readlink(f"/proc/{p.pid}/fd/{fd}"))
            except FileNotFoundError:
                pass
        assert not any(t.endswith("/stray") for t in targets), targets
        assert any(t == str(disk) for t in targets), targets
        allowed = ("/dev/kvm", "anon_inode:", "socket:", "pipe:", "/dev/null",
                   str(disk))
        assert all(t.startswith(allowed) for t in targets), targets
    finally:
        stray.close()
        p.terminate()
        p.wait(timeout=20)
