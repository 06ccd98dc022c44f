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


# The payload's hostname is written where the zone's distribution reads
# it at boot (SmartOS: VM.js writes a joyent zone's /etc/nodename, the lx
# brand's boot scripts the distribution's files).

from zonekit import wait_for  # noqa: E402

HOSTNAME_INIT = """#!/bin/sh
trap 'exit 0' TERM
hostname -F /etc/hostname
echo "named $(hostname)"
while true; do sleep 1 & wait $!; done
"""


def rootfile(z, *path):
    with open(os.path.join(z.rootfs, *path)) as f:
        return f.read()


def write_rootfile(z, text, *path):
    p = os.path.join(z.rootfs, *path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        f.write(text)


def test_init_reading_etc_hostname_gets_the_payloads_name(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0",
                   "hostname": "web1"}, init=HOSTNAME_INIT, start=False)
    write_rootfile(z, "image-name\n", "etc", "hostname")
    z.start()
    assert wait_for(lambda: "named " in z.console_log()), z.console_log()
    assert "named web1" in z.console_log(), z.console_log()
    assert z.zlogin("uname", "-n").out.strip() == "web1"
    assert rootfile(z, "etc", "hostname") == "web1\n"


def test_debian_root_gets_hostname_and_hosts_line(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0",
                   "hostname": "db1"}, start=False)
    write_rootfile(z, "12.5\n", "etc", "debian_version")
    write_rootfile(z, "debian\n", "etc", "hostname")
    write_rootfile(z, "127.0.0.1\tlocalhost\n127.0.1.1\tdebian\n"
                   "# keep me\n", "etc", "hosts")
    z.start()
    assert z.zlogin("cat", "/etc/hostname").out == "db1\n"
    hosts = z.zlogin("cat", "/etc/hosts").out.splitlines()
    # The image's lines stay; one line names the zone's hostname.
    assert hosts[:3] == ["127.0.0.1\tlocalhost", "127.0.1.1\tdebian",
                         "# keep me"]
    named = [l for l in hosts if "db1" in l.split("#")[0].split()[1:]]
    assert len(named) == 1 and named[0].split()[0] == "127.0.1.1"
    assert z.zlogin("sh", "-c", "grep -w db1 /etc/hosts | wc -l").out.strip() == "1"
    # Renamed with the zone stopped: the next boot writes the new name,
    # and the old line of ours goes.
    z.stop()
    z.record["hostname"] = "db2"
    z.write_record()
    z.start()
    assert z.zlogin("cat", "/etc/hostname").out == "db2\n"
    hosts = z.zlogin("cat", "/etc/hosts").out
    assert "db1" not in hosts
    assert [l for l in hosts.splitlines() if "db2" in l][0].startswith("127.0.1.1")


def test_hosts_line_not_added_when_the_image_names_the_host(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0",
                   "hostname": "named"}, start=False)
    text = "127.0.0.1 localhost\n192.0.2.7 named.example.com named\n"
    write_rootfile(z, text, "etc", "hosts")
    z.start()
    assert z.zlogin("cat", "/etc/hosts").out == text


def test_redhat_root_gets_sysconfig_network(zones):
    z = zones.new({"brand": "lx", "kernel_version": "3.10.0",
                   "hostname": "rh1"}, start=False)
    write_rootfile(z, "CentOS release 6.10 (Final)\n", "etc", "redhat-release")
    write_rootfile(z, "NETWORKING=yes\nHOSTNAME=localhost.localdomain\n"
                   "NOZEROCONF=yes\n", "etc", "sysconfig", "network")
    z.start()
    assert z.zlogin("cat", "/etc/sysconfig/network").out.splitlines() == [
        "NETWORKING=yes", "NOZEROCONF=yes", "HOSTNAME=rh1"]
    assert z.zlogin("cat", "/etc/hostname").out == "rh1\n"


def test_redhat_root_without_sysconfig_network(zones):
    z = zones.new({"brand": "lx", "kernel_version": "3.10.0",
                   "hostname": "rh2"}, start=False)
    write_rootfile(z, "Red Hat Enterprise Linux release 8.9\n",
                   "etc", "redhat-release")
    z.start()
    assert z.zlogin("cat", "/etc/sysconfig/network").out == \
        "NETWORKING=yes\nHOSTNAME=rh2\n"


def test_debian_root_has_no_sysconfig_network(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0",
                   "hostname": "deb"}, start=False)
    write_rootfile(z, "12.5\n", "etc", "debian_version")
    z.start()
    assert z.zlogin("cat", "/etc/hostname").out == "deb\n"
    assert not os.path.exists(os.path.join(z.rootfs, "etc", "sysconfig"))


def test_joyent_zone_gets_etc_nodename(zones):
    z = zones.new({"hostname": "smart1"})
    assert z.zlogin("cat", "/etc/nodename").out == "smart1\n"
    # No lx files in a joyent zone.
    assert not os.path.exists(os.path.join(z.rootfs, "etc", "hostname"))


def test_joyent_nodename_defaults_to_the_uuid(zones):
    z = zones.new(start=False)
    del z.record["hostname"]
    z.write_record()
    z.start()
    assert rootfile(z, "etc", "nodename") == z.uuid + "\n"


def test_planted_symlinks_never_carry_the_write_out(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0",
                   "hostname": "safe"}, start=False)
    outside = os.path.join(z.dir, "host-file")
    with open(outside, "w") as f:
        f.write("host data\n")
    etc = os.path.join(z.rootfs, "etc")
    os.symlink(outside, os.path.join(etc, "hostname"))
    os.symlink(outside, os.path.join(etc, "hosts"))
    # a hard link too: written through, it would change the host's file
    os.link(outside, os.path.join(etc, "redhat-release"))
    os.makedirs(os.path.join(etc, "sysconfig"))
    os.symlink(outside, os.path.join(etc, "sysconfig", "network"))
    z.start()
    with open(outside) as f:
        assert f.read() == "host data\n"
    assert z.zlogin("cat", "/etc/hostname").out == "safe\n"
    assert "HOSTNAME=safe" in z.zlogin("cat", "/etc/sysconfig/network").out
    for name in ("hostname", "hosts"):
        assert not os.path.islink(os.path.join(etc, name))


def test_symlinked_etc_folder_is_refused(zones):
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0"}, start=False)
    outside = os.path.join(z.dir, "host-etc")
    etc = os.path.join(z.rootfs, "etc")
    os.rename(etc, outside)
    os.symlink(outside, etc)
    r = z.host.fails("hull-supervisor", z.uuid)
    assert "/etc is a symbolic link" in r.err, r.err
    assert sorted(os.listdir(outside)) == ["group", "passwd"]
