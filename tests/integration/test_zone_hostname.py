"""An lx zone's root renames its zone without CAP_SYS_ADMIN: sethostname(2)
is a seccomp user notification the supervisor answers in the zone's uts
namespace (uid 0 only, at most 64 bytes). A busybox zone, so this runs
without the Debian image (test_debian_zone.py covers systemd and
cloud-init doing it)."""
import os

from zonekit import zones  # noqa: F401


def lx(zones):
    return zones.new({"brand": "lx", "kernel_version": "4.19.0"})


def test_root_renames_its_lx_zone(zones):
    z = lx(zones)
    r = z.zlogin("sh", "-c", "hostname renamed && uname -n && hostname")
    assert r.out.split() == ["renamed", "renamed"]
    # Still the zone's own name: a new zlogin sees it, the host does not.
    assert z.zlogin("uname", "-n").out.strip() == "renamed"
    assert os.uname().nodename != "renamed"


def test_non_root_and_long_names_are_refused(zones):
    z = lx(zones)
    before = z.zlogin("uname", "-n").out.strip()
    su = ("su", "-s", "/bin/sh", "nobody", "-c")
    assert z.zlogin(*su, "id -u").out.strip() == "65534"
    r = z.zlogin(*su, "hostname nope", check=False)
    assert r.rc != 0 and "Operation not permitted" in r.err, r
    r = z.zlogin("hostname", "x" * 65, check=False)
    assert r.rc != 0 and "Invalid argument" in r.err, r
    assert z.zlogin("uname", "-n").out.strip() == before


def test_joyent_zone_still_cannot_rename(zones):
    # No notification listener there: the kernel's answer (no
    # CAP_SYS_ADMIN) stands.
    z = zones.new()
    before = z.zlogin("uname", "-n").out.strip()
    r = z.zlogin("hostname", "nope", check=False)
    assert r.rc != 0 and "Operation not permitted" in r.err, r
    assert z.zlogin("uname", "-n").out.strip() == before
