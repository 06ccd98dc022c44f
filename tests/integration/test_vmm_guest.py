"""hull-vmm boots the freestanding test guests (tests/guest/) through both
boot paths and checks what they report over COM1."""
import json
import os
import select
import socket
import subprocess
import time

import pytest

import skips
import vmmlib
from vmmlib import GUEST_BZ, GUEST_ELF

pytestmark = skips.skipif(vmmlib.kvm_unusable() is not None, "no-kvm",
                          str(vmmlib.kvm_unusable()))

KERNELS = [pytest.param(GUEST_ELF, "pvh", id="pvh"),
           pytest.param(GUEST_BZ, "bzimage", id="bzimage")]


def usable_kib(mem_bytes):
    """RAM the e820 map must give: 0..0x9fc00, then 1 MiB up to 3 GiB, then
    the rest above 4 GiB."""
    low = min(mem_bytes, 0xC0000000)
    return (0x9FC00 + (low - 0x100000) + (mem_bytes - low)) // 1024


@pytest.mark.parametrize("kernel,kind", KERNELS)
def test_boot_reports_cmdline_memmap_and_powers_off(kernel, kind):
    cp = vmmlib.guest(kernel, "hello", "--memory", "64M",
                      cmdline_extra="root=/dev/vda quiet=\"x y\"")
    assert cp.returncode == 0, cp
    out = cp.stdout.splitlines()
    assert f"boot: {kind}" in out
    assert 'cmdline: test=hello root=/dev/vda quiet="x y"' in out
    assert "memmap: 0-9fbff type 1" in out
    assert "memmap: 100000-3ffffff type 1" in out
    assert f"memory: {usable_kib(64 << 20)} KiB usable" in out
    assert "hull-guest: ready" in out
    assert out[-1] == "hull-guest: PASS hello"
    assert cp.stderr == ""


def test_memory_above_4g_is_mapped_past_the_hole():
    cp = vmmlib.guest(GUEST_ELF, "hello", "--memory", "4G")
    assert cp.returncode == 0, cp
    out = cp.stdout.splitlines()
    assert "memmap: 100000-bfffffff type 1" in out
    assert "memmap: 100000000-13fffffff type 1" in out
    assert f"memory: {usable_kib(4 << 30)} KiB usable" in out


@pytest.mark.parametrize("kernel,kind", KERNELS)
def test_timer_and_serial_input_interrupts(kernel, kind):
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", kernel, "--cmdline",
                          "test=serial", "--memory", "32M"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line, before = "", ""
        while "serial: send a line" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
            before += line
        p.stdin.write("hello from the host\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=30)
        out = before + out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    # the PIT's IRQ 0 reaches the guest on the IOAPIC pin the MP table names
    assert "PIT interrupts on IOAPIC pin 0" in out
    assert "serial: got 'hello from the host' in" in out
    assert "hull-guest: PASS serial" in out


@pytest.mark.parametrize("cpus", [1, 2, 5, 64])
def test_every_vcpu_checks_in(cpus):
    cp = vmmlib.guest(GUEST_ELF, "smp", "--cpus", cpus, "--memory", "32M")
    assert cp.returncode == 0, cp
    out = cp.stdout.splitlines()
    assert f"smp: MP table lists {cpus} cpus" in out
    for i in range(1, cpus):
        assert f"smp: cpu {i} checked in" in out
    assert f"smp: {cpus} of {cpus} cpus checked in" in out
    assert "hull-guest: PASS smp" in out


@pytest.mark.parametrize("kernel,kind", KERNELS)
def test_reboot_is_exit_status_2(kernel, kind):
    cp = vmmlib.guest(kernel, "reboot", "--memory", "16M")
    assert cp.returncode == 2, cp
    assert "hull-guest: rebooting" in cp.stdout


def _wait_for(path, timeout=10):
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.02)


class Control:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.f = self.s.makefile("rw")

    def ask(self, req):
        self.f.write((req if isinstance(req, str) else json.dumps(req)) + "\n")
        self.f.flush()
        return json.loads(self.f.readline())

    def close(self):
        self.f.close()
        self.s.close()


def _spawn(tmp_path, test, *extra):
    ctl = str(tmp_path / "ctl.sock")
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          f"test={test}", "--memory", "32M", "--control",
                          f"unix:{ctl}", *extra],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    return p, ctl


def test_control_socket_status_pause_resume_stop(tmp_path):
    p, path = _spawn(tmp_path, "spin")
    try:
        assert p.stdout.readline()  # booting
        _wait_for(path)
        c = Control(path)
        st = c.ask({"command": "status"})
        assert st == {"ok": True, "state": "running", "cpus": 1,
                      "memory": 32 << 20}
        assert c.ask({"command": "pause"}) == {"ok": True, "state": "paused"}
        assert c.ask({"command": "status"})["state"] == "paused"
        assert c.ask({"command": "resume"})["state"] == "running"
        bad = c.ask("not json")
        assert bad["ok"] is False and "JSON" in bad["error"]
        assert c.ask({"command": "fly"}) == {"ok": False,
                                             "error": "unknown command"}
        assert c.ask({"command": "stop"})["ok"] is True
        c.close()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 3, p.stderr.read()


def test_control_shutdown_is_seen_by_the_guest(tmp_path):
    p, path = _spawn(tmp_path, "kbd")
    try:
        line = ""
        while "kbd: waiting" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        c = Control(path)
        assert c.ask({"command": "shutdown"}) == {"ok": True}
        c.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "kbd: ctrl-alt-del" in out


def test_sigterm_stops_the_vm(tmp_path):
    p, path = _spawn(tmp_path, "spin")
    try:
        _wait_for(path)
        p.terminate()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 3


def test_console_on_a_unix_socket(tmp_path):
    sock = str(tmp_path / "console.sock")
    ctl = str(tmp_path / "ctl.sock")
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=serial", "--memory", "32M", "--console",
                          f"unix:{sock}", "--control", f"unix:{ctl}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(sock)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        f = s.makefile("rw")
        # the guest waits for a line
        f.write("typed on the socket\n")
        f.flush()
        seen = ""
        while "hull-guest: PASS serial" not in seen:
            l = f.readline()
            assert l, seen
            seen += l
        assert "serial: got 'typed on the socket'" in seen
        s.close()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0
    assert p.stdout.read() == ""


def test_metadata_port_is_com2_on_a_socket(tmp_path):
    sock = str(tmp_path / "meta.sock")
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=com2", "--memory", "32M", "--metadata",
                          f"unix:{sock}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(sock)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        f = s.makefile("rw")
        f.write("GET sdc:uuid\n")
        f.flush()
        out, err = p.communicate(timeout=30)
        s.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "com2: got 'GET sdc:uuid'" in out


def fnv1a(data):
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def big_value(size, seed):
    """size bytes of base64-like lines, some starting with '.' (which the
    metadata protocol's first version doubles), no trailing newline."""
    import random
    rnd = random.Random(seed)
    alpha = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/."
    out = bytearray()
    while len(out) < size:
        line = bytes(rnd.choice(alpha) for _ in range(rnd.randint(1, 120)))
        out += line + b"\n"
    return bytes(out[:size - 1]) + b"x"


@pytest.mark.parametrize("size", [8192, 100 * 1024])
def test_com2_input_is_held_back_not_dropped(tmp_path, size):
    """Input beyond the UART's 4 KiB ring waits for the guest to read it
    (back-pressure), so a large metadata answer reaches the guest whole:
    the guest reports the length and hash of the value it read."""
    sock = str(tmp_path / "meta.sock")
    value = big_value(size, size)
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=mdget key=user-script", "--memory", "64M",
                          "--metadata", f"unix:{sock}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(sock)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        f = s.makefile("rwb")
        assert f.readline() == b"GET user-script\n"
        esc = b"\n".join(b"." + l if l.startswith(b".") else l
                         for l in value.split(b"\n"))
        f.write(b"SUCCESS\n" + esc + b"\n.\n")
        f.flush()
        out, err = p.communicate(timeout=90)
        s.close()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert f"mdget: {len(value)} bytes fnv {fnv1a(value):x}" in out, out
    assert "hull-guest: PASS mdget" in out


def test_smbios_identity():
    cp = vmmlib.guest(GUEST_ELF, "smbios", "--memory", "16M", "--uuid",
                      "5B1E0B6A-8A0C-4A5E-9C9F-2F3B3A9F0E01")
    assert cp.returncode == 0, cp
    out = cp.stdout.splitlines()
    assert "smbios: 2.8, 3 structures, checksum ok" in out
    assert ("smbios: manufacturer 'Joyent' product 'SmartDC HVM' serial "
            "'5b1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e01'") in out
    assert "smbios: uuid 5b1e0b6a-8a0c-4a5e-9c9f-2f3b3a9f0e01" in out
    # without --uuid: a random version 4 UUID; --product overrides
    cp = vmmlib.guest(GUEST_BZ, "smbios", "--memory", "16M", "--product",
                      "Test Cloud 1")
    assert cp.returncode == 0, cp
    line = [l for l in cp.stdout.splitlines() if l.startswith("smbios: uuid")][0]
    assert line[len("smbios: uuid ") + 14] == "4", line
    assert "product 'Test Cloud 1'" in cp.stdout


def test_console_on_a_pty():
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=serial", "--memory", "32M", "--console", "pty"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        line = p.stderr.readline()
        assert line.startswith("hull-vmm: console on /dev/pts/"), line
        pty = line.split(" on ", 1)[1].strip()
        fd = os.open(pty, os.O_RDWR | os.O_NOCTTY)
        with os.fdopen(fd, "r+b", buffering=0) as t:
            seen = b""
            while b"serial: send a line" not in seen:
                chunk = t.read(4096)
                assert chunk, seen
                seen += chunk
            t.write(b"over the pty\r")
            # the guest powers off right after its last lines, and a pty
            # whose master closes may drop what was not read yet (EIO)
            try:
                while b"hull-guest: PASS serial" not in seen:
                    chunk = t.read(4096)
                    if not chunk:
                        break
                    seen += chunk
            except OSError:
                pass
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    # status 0: the serial test passed, so the line typed on the pty arrived
    assert p.returncode == 0, seen
    assert b"serial: send a line" in seen
    assert p.stdout.read() == ""


def test_partial_line_is_not_held_back():
    """A prompt without a newline reaches the console on its own (output is
    gathered into lines, with a short timer for the rest)."""
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=prompt", "--memory", "16M"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        seen = b""
        fd = p.stdout.fileno()
        end = time.monotonic() + 20
        while not seen.endswith(b"login: "):
            ready, _, _ = select.select([fd], [], [], end - time.monotonic())
            assert ready, f"the prompt never came out: {seen!r}"
            chunk = os.read(fd, 4096)
            assert chunk, seen
            seen += chunk
        p.stdin.write(b"root\n")
        p.stdin.flush()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert b"prompt: got 'root'" in out


@pytest.mark.parametrize("kernel,kind", KERNELS)
@pytest.mark.parametrize("cpus", [1, 3])
def test_acpi_tables_and_s5_poweroff(kernel, kind, cpus):
    """The guest finds the RSDP, checks every table, counts the MADT's
    local APICs and powers off by writing \\_S5's SLP_TYP to PM1a_CNT; the
    VMM exits 0 only through that write (the guest fails otherwise)."""
    cp = vmmlib.guest(kernel, "acpi", "--memory", "32M", "--cpus", cpus)
    assert cp.returncode == 0, cp
    out = cp.stdout.splitlines()
    assert "memmap: e0000-fffff type 2" in out
    assert "acpi: RSDP at e0000 revision 2 checksum ok extended ok" in out
    for sig in ("RSDT", "XSDT", "FACP", "APIC", "DSDT"):
        assert any(l.startswith(f"acpi: {sig} at ") and
                   l.endswith("checksum ok") for l in out), (sig, out)
    assert f"acpi: MADT {cpus} local APICs (MP table {cpus}), IOAPIC id {cpus}" in out
    assert "acpi: override IRQ 9 -> GSI 9 flags d" in out
    assert "acpi: \\_S5 SLP_TYP 5, PM1a_CNT at 604" in out
    assert out[-1] == "hull-guest: PASS acpi"


def test_control_powerdown_is_the_acpi_power_button(tmp_path):
    """"powerdown" presses the fixed ACPI power button: the guest, having
    enabled PWRBTN_EN and routed the FADT's SCI, takes the interrupt, sees
    PWRBTN_STS, clears it and powers off through \\_S5 (exit status 0)."""
    p, path = _spawn(tmp_path, "acpibutton")
    try:
        line = ""
        while "acpi: waiting for the power button (SCI 9)" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        c = Control(path)
        assert c.ask({"command": "powerdown"}) == {"ok": True}
        c.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "acpi: power button pressed, status 100" in out
    assert out.splitlines()[-1] == "hull-guest: PASS acpibutton"


def test_control_nmi_reaches_the_guest(tmp_path):
    """"nmi" sends vCPU 0 an NMI (an NMI message to its local APIC): the
    guest, halted with interrupts off, takes it in its vector-2 handler,
    which reports it on COM1. One sent while the VM is paused is taken
    when it resumes."""
    p, path = _spawn(tmp_path, "nmi")
    try:
        line = ""
        while "nmi: waiting for an NMI" not in line:
            line = p.stdout.readline()
            assert line, p.stderr.read()
        c = Control(path)
        assert c.ask({"command": "pause"})["state"] == "paused"
        assert c.ask({"command": "nmi"}) == {"ok": True}
        assert c.ask({"command": "resume"})["state"] == "running"
        c.close()
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 0, err
    assert "hull-guest: NMI received" in out
    assert "nmi: 1 received" in out
    assert out.splitlines()[-1] == "hull-guest: PASS nmi"


def test_console_socket_keeps_the_boot_messages_for_a_late_client(tmp_path):
    """Output while nobody is connected to COM1's socket is kept (the last
    64 KiB) and handed to the next client: a supervisor that connects after
    the guest started still logs its boot from the first line."""
    sock = str(tmp_path / "console.sock")
    p = subprocess.Popen([vmmlib.vmm(), "--kernel", GUEST_ELF, "--cmdline",
                          "test=prompt", "--memory", "32M", "--console",
                          f"unix:{sock}"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        _wait_for(sock)
        time.sleep(1)  # let the guest print before anyone connects
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(sock)
        s.settimeout(30)
        got = b""
        while b"login: " not in got:
            chunk = s.recv(4096)
            assert chunk, got
            got += chunk
        s.sendall(b"late\n")
        while b"hull-guest: PASS prompt" not in got:
            chunk = s.recv(4096)
            assert chunk, got
            got += chunk
        s.close()
        p.wait(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    text = got.decode()
    assert text.startswith("memmap: 0-9fbff type 1"), text
    assert "hull-guest: ready" in text
    assert "prompt: got 'late'" in text
    assert p.returncode == 0
