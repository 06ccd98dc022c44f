"""The metadata channel a supervisor serves: the zone finds the socket at
/.zonecontrol/metadata.sock (/native/.zonecontrol/ for lx), read-only,
and mdata-get inside the zone reads the instance's metadata."""
import os
import shutil

from conftest import prog
from zonekit import zones, copy_libraries  # noqa: F401


def test_mdata_get_inside_the_zone(zones):
    """The zone's image carries no mdata tools: hull's own are on its PATH,
    read-only at /native/usr/sbin, as in SmartOS's LX zones."""
    z = zones.new({"customer_metadata": {"user-script": "echo hi"}})
    r = z.zlogin("sh", "-c", "ls -l /.zonecontrol/metadata.sock; "
                 "touch /.zonecontrol/x 2>&1; mdata-get sdc:uuid; "
                 "mdata-get user-script")
    lines = r.out.splitlines()
    assert lines[0].startswith("s"), r.out           # a socket
    assert "Read-only file system" in lines[1]
    assert lines[2] == z.uuid
    assert lines[3] == "echo hi"
    assert not os.path.exists(os.path.join(z.rootfs, "bin", "mdata-get"))


def test_guest_tools_are_read_only_under_native(zones):
    z = zones.new()
    r = z.zlogin("sh", "-c", "ls /native/usr/sbin; command -v mdata-put; "
                 "touch /native/usr/sbin/x 2>&1; "
                 "mdata-put k v && mdata-list && mdata-delete k && mdata-list")
    lines = r.out.splitlines()
    assert lines[:4] == ["mdata-delete", "mdata-get", "mdata-list", "mdata-put"]
    assert lines[4] == "/native/usr/sbin/mdata-put"
    assert "Read-only file system" in lines[5]
    assert lines[6:] == ["k"], r.out


def test_lx_socket_is_under_native(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.3.0"})
    r = z.zlogin("ls", "/native/.zonecontrol")
    assert r.out.split() == ["metadata.sock"]
    z.stop()
    assert not os.path.exists(os.path.join(z.dir, "run", "zonecontrol",
                                           "metadata.sock"))
