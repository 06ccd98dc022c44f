"""The kvm brand's QEMU launcher booting the real Linux guest image
(scripts/mkimage-linux-vm) under TCG on this host (KVM where the host has
full hardware virtualization): the guest reaches "ready" on COM1,
`mdata-get sdc:uuid` inside it returns the UUID that hull-metadata serves
on COM2, and QMP system_powerdown powers it off cleanly."""
import json
import os
import subprocess

import pytest

import hvmlib
from conftest import prog

# qemu-system-x86 is installed by scripts/deps: its absence fails.

UUID = "8e2c1f4a-6b3d-4e5f-9a7b-0c1d2e3f4a5b"


def boot(workdir, variant, table):
    raw, _, _ = hvmlib.guest_image(variant, table)
    # The VM's disk is its own copy, as vmadm clones it from the image.
    disk = os.path.join(workdir, "disk0.img")
    subprocess.run(["cp", "--sparse=always", raw, disk], check=True)
    run = os.path.join(workdir, "run")
    bootdir = os.path.join(workdir, "boot")
    os.mkdir(run)
    os.mkdir(bootdir)
    rec = os.path.join(workdir, "vm.json")
    with open(rec, "w") as f:
        json.dump({"uuid": UUID, "brand": "kvm", "alias": "guest",
                   "vcpus": 1, "ram": 256, "customer_metadata": {},
                   "disks": [{"path": disk, "boot": True,
                              "model": "virtio"}], "nics": []}, f)
    qemu = subprocess.Popen(
        [prog("hull-hvm"), "qemu", "--record", rec, "--run-dir", run,
         "--boot-dir", bootdir, "--console-log",
         os.path.join(workdir, "console.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    md = None
    try:
        com2 = os.path.join(run, "ttyb.sock")
        hvmlib.wait_for(lambda: os.path.exists(com2) or qemu.poll() is not None,
                        30, "QEMU's COM2 socket")
        assert qemu.poll() is None, qemu.communicate()
        md = subprocess.Popen([prog("hull-metadata"), "serve", "--record",
                               rec, "--serial", com2],
                              stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        return qemu, md, run
    except BaseException:
        hvmlib.stop(qemu)
        if md:
            hvmlib.stop(md)
        raise


@pytest.mark.parametrize("variant,table", [("grub", "mbr"), ("newest", "gpt")])
def test_guest_boots_metadata_powerdown(workdir, variant, table):
    qemu, md, run = boot(workdir, variant, table)
    con = None
    try:
        con = hvmlib.Console(os.path.join(run, "console.sock"))
        text = con.wait("hull-guest: ready", 180)
        # mdata-get inside the guest, over COM2, from hull-metadata.
        assert f"hull-guest: uuid={UUID}\n" in text.replace("\r", "")
        # The command line came from grub.cfg's default entry, or is
        # the newest-kernel rule's.
        want = ("console=ttyS0 quiet hull.test=grub" if variant == "grub"
                else "console=ttyS0")
        assert f"hull-guest: cmdline={want}\n" in text.replace("\r", "")
        # The QMP client a stop goes through.
        r = subprocess.run([prog("hull-hvm"), "qmp", run, "status"],
                           capture_output=True, text=True, timeout=30)
        assert (r.returncode, r.stdout) == (0, "running\n"), r
        if variant == "grub":
            # vmadm stop's way: power-off, quit only after the timeout.
            r = subprocess.run([prog("hull-hvm"), "qmp", run, "stop", "60"],
                               capture_output=True, text=True, timeout=90)
            assert (r.returncode, r.stdout) == (0, "powered off\n"), r
        else:
            r = subprocess.run([prog("hull-hvm"), "qmp", run, "powerdown"],
                               capture_output=True, text=True, timeout=30)
            assert r.returncode == 0, r
        con.wait("hull-guest: powering off", 60)
        rc = qemu.wait(60)
        assert rc == 0, qemu.stderr.read()
        # COM1 was also logged.
        with open(os.path.join(workdir, "console.log"), errors="replace") as f:
            assert "hull-guest: ready" in f.read()
    finally:
        if con:
            con.close()
        hvmlib.stop(qemu)
        hvmlib.stop(md)


def test_bootrom_bios_and_forced_stop(workdir):
    # Firmware boot (SeaBIOS) of a disk with nothing on it: the firmware
    # ignores the power button, so stop comes to quit after its timeout.
    # Without a display (vnc_port -1) SeaBIOS writes to COM1; with one it
    # writes to the VGA screen, as on a PC.
    disk = os.path.join(workdir, "empty.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    run = os.path.join(workdir, "run")
    os.mkdir(run)
    rec = os.path.join(workdir, "vm.json")
    with open(rec, "w") as f:
        json.dump({"uuid": UUID, "brand": "kvm", "ram": 64,
                   "vnc_port": -1,
                   "bootrom": "bios", "disks": [{"path": disk,
                                                 "boot": True}]}, f)
    qemu = subprocess.Popen([prog("hull-hvm"), "qemu", "--record", rec,
                             "--run-dir", run],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    con = None
    try:
        con = hvmlib.Console(os.path.join(run, "console.sock"))
        con.wait("SeaBIOS", 60)
        r = subprocess.run([prog("hull-hvm"), "qmp", run, "stop", "1"],
                           capture_output=True, text=True, timeout=60)
        assert (r.returncode, r.stdout) == (0, "forced\n"), r
        assert qemu.wait(30) == 0
    finally:
        if con:
            con.close()
        hvmlib.stop(qemu)
