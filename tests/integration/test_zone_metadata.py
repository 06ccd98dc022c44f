"""The metadata channel a supervisor serves: the zone finds the socket at
/.zonecontrol/metadata.sock (/native/.zonecontrol/ for lx), read-only,
and mdata-get inside the zone reads the instance's metadata."""
import os
import shutil

from conftest import prog
from zonekit import zones, copy_libraries  # noqa: F401


def test_mdata_get_inside_the_zone(zones):
    z = zones.new({"customer_metadata": {"user-script": "echo hi"}}, start=False)
    md = prog("mdata-get")
    copy_libraries(md, z.rootfs)
    shutil.copy2(md, os.path.join(z.rootfs, "bin", "mdata-get"))
    z.start()
    r = z.zlogin("sh", "-c", "ls -l /.zonecontrol/metadata.sock; "
                 "touch /.zonecontrol/x 2>&1; mdata-get sdc:uuid; "
                 "mdata-get user-script")
    lines = r.out.splitlines()
    assert lines[0].startswith("s"), r.out           # a socket
    assert "Read-only file system" in lines[1]
    assert lines[2] == z.uuid
    assert lines[3] == "echo hi"


def test_lx_socket_is_under_native(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.3.0"})
    r = z.zlogin("ls", "/native/.zonecontrol")
    assert r.out.split() == ["metadata.sock"]
    z.stop()
    assert not os.path.exists(os.path.join(z.dir, "run", "zonecontrol",
                                           "metadata.sock"))
