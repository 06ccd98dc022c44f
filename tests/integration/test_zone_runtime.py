"""The zone runtime, driven through hull-supervisor and zlogin: what a
process inside a busybox zone sees and may do."""
import os
import re

from zonekit import probe, zones, wait_for, cgroup_pids  # noqa: F401


def test_zone_has_its_own_namespaces(zones):
    z = zones.new()
    r = z.zlogin("sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; "
                 "ps -o pid,comm; cat /proc/net/dev", input="")
    lines = r.out.splitlines()
    assert lines[0].startswith("/bin/sh /sbin/init")
    assert lines[1] == z.record["hostname"]
    pids = [int(l.split()[0]) for l in lines if re.match(r"\s*\d+ ", l)]
    # init, its sleep, the shell, ps: nothing of the host.
    assert 1 in pids and max(pids) < 100 and len(pids) <= 6, r.out
    ifaces = [l.split(":")[0].strip() for l in lines if ":" in l and "|" not in l]
    assert ifaces == ["lo"], r.out
    # The supervisor is outside; init is its child and in the zone's cgroup.
    st = z.status()
    assert st["state"] == "running"
    assert st["pid"] in cgroup_pids(z.cgroup)


def test_dev_is_minimal(zones):
    z = zones.new()
    r = z.zlogin("ls", "-1", "/dev")
    assert sorted(r.out.split()) == sorted([
        "console", "core", "fd", "full", "mqueue", "null", "ptmx", "pts",
        "random", "shm", "stderr", "stdin", "stdout", "tty", "urandom", "zero"])
    r = z.zlogin("sh", "-c", "echo x > /dev/null && head -c 4 /dev/zero | wc -c"
                 " && head -c 8 /dev/urandom | wc -c && ls -l /dev/console")
    out = r.out.split("\n")
    assert out[0].strip() == "4" and out[1].strip() == "8"
    assert out[2].startswith("c"), r.out  # the console is a character device


def test_proc_and_sys_are_masked_and_read_only(zones):
    z = zones.new()
    r = z.zlogin("sh", "-c",
                 "echo x > /proc/sys/kernel/domainname; touch /sys/hull-x; "
                 "echo 1 > /proc/sys/net/ipv4/ip_forward && echo net-ok; "
                 "cat /proc/sysrq-trigger | wc -c; cat /proc/timer_list | wc -c; "
                 "find /proc/acpi /sys/firmware -mindepth 1 2>/dev/null | wc -l; "
                 "grep -c . /proc/keys",
                 check=False)
    assert "/proc/sys/kernel/domainname: Read-only file system" in r.err
    assert "/sys/hull-x: Read-only file system" in r.err
    assert "net-ok" in r.out  # the zone's own network stack stays tunable
    nums = [l.strip() for l in r.out.splitlines() if l.strip().isdigit()]
    assert nums[:3] == ["0", "0", "0"], r.out
    # The host's /proc/sys was not touched.
    with open("/proc/sys/kernel/domainname") as f:
        assert f.read().strip() != "x"


def test_capabilities_are_reduced(zones):
    z = zones.new()
    r = z.zlogin("grep", "CapBnd", "/proc/self/status")
    bnd = int(r.out.split()[1], 16)
    for cap in (16, 17, 19, 25, 27):  # sys_module rawio ptrace time mknod
        assert not bnd & (1 << cap), hex(bnd)
    assert not bnd & (1 << 21)  # no sys_admin unless the record asks
    r = z.zlogin("mknod", "/tmp/sda", "b", "8", "0", check=False)
    assert r.rc != 0 and "Operation not permitted" in r.err
    # so no fresh, unmasked procfs and no way around the read-only binds
    r = z.zlogin("sh", "-c", "mkdir -p /mnt/p; mount -t proc proc /mnt/p; "
                 "mount -o remount,rw /proc/sys; mount --bind /proc /mnt/p",
                 check=False)
    assert r.err.count("permission denied") == 3, r


def test_sys_admin_is_opt_in(zones):
    z = zones.new({"internal_metadata": {"hull:sys_admin": "true"}})
    r = z.zlogin("grep", "CapBnd", "/proc/self/status")
    assert int(r.out.split()[1], 16) & (1 << 21)
    d = zones.new({"docker": True, "internal_metadata": {
        "hull:sys_admin": "true", "docker:cmd": '["/bin/sh","-c","sleep 100"]'}},
        init=None)
    r = d.zlogin("grep", "CapBnd", "/proc/self/status")
    assert not int(r.out.split()[1], 16) & (1 << 21)  # never for docker


def test_minimal_and_docker_zones_lose_sys_admin(zones):
    z = zones.new({"brand": "joyent-minimal"})
    r = z.zlogin("grep", "CapBnd", "/proc/self/status")
    assert not int(r.out.split()[1], 16) & (1 << 21)
    # joyent-minimal: no /sys, no tmpfs /run
    r = z.zlogin("sh", "-c", "ls /sys | wc -l; grep -c ' /run ' /proc/mounts; true")
    assert r.out.split() == ["0", "0"]


def test_seccomp_denies_what_reaches_the_host(zones, probe):
    z = zones.new(probe=probe)
    calls = ["keyctl", "add_key", "kexec_load", "kexec_file_load", "init_module",
             "finit_module", "delete_module", "bpf", "perf_event_open",
             "open_by_handle_at", "unshare_user", "reboot_kexec", "swapon"]
    r = z.zlogin("/bin/zone_probe", "getpid", *calls)
    got = dict(l.split() for l in r.out.splitlines())
    assert got.pop("getpid") == "OK"
    assert got == {c: "EPERM" for c in calls}
    r = z.zlogin("/bin/zone_probe", "clone3")
    assert r.out.split() == ["clone3", "ENOSYS"]  # libc falls back to clone
    r = z.zlogin("unshare", "-U", "true", check=False)
    assert r.rc != 0 and "Operation not permitted" in r.err


def test_init_is_filtered_too(zones, probe):
    init = "#!/bin/sh\n/bin/zone_probe keyctl bpf\nwhile true; do sleep 1; done\n"
    z = zones.new(init=init, probe=probe)
    assert wait_for(lambda: "bpf" in z.console_log())
    assert "keyctl EPERM" in z.console_log() and "bpf EPERM" in z.console_log()


def test_lx_uname_is_brandz(zones):
    init = "#!/bin/sh\nuname -r\nuname -v\nwhile true; do sleep 1; done\n"
    # (hull:sys_admin only so that the zone may rename itself below)
    z = zones.new({"brand": "lx", "kernel_version": "4.19.0",
                   "internal_metadata": {"hull:sys_admin": "true"}}, init=init)
    assert wait_for(lambda: "BrandZ" in z.console_log())
    assert re.search(r"4\.19\.0\r?\nBrandZ virtual linux", z.console_log())
    r = z.zlogin("uname", "-r", "-v", "-n")
    assert r.out.strip() == f"{z.record['hostname']} 4.19.0 BrandZ virtual linux"
    # The zone's own hostname changes show through.
    r = z.zlogin("sh", "-c", "hostname renamed; uname -n")
    assert r.out.strip() == "renamed"
    # Nothing in the zone was modified to do it.
    assert not os.path.exists(os.path.join(z.rootfs, "etc", "ld.so.preload"))


def test_joyent_uname_is_the_host(zones):
    z = zones.new()
    r = z.zlogin("uname", "-r", "-v")
    u = os.uname()
    assert r.out.strip() == f"{u.release} {u.version}"


def test_hostname_and_resolvers(zones):
    z = zones.new({"hostname": "web1", "resolvers": ["192.0.2.53", "2001:db8::53"],
                   "dns_domain": "example.com"})
    r = z.zlogin("sh", "-c", "hostname; cat /etc/resolv.conf")
    assert r.out.splitlines() == ["web1", "search example.com",
                                  "nameserver 192.0.2.53", "nameserver 2001:db8::53"]


def test_resolv_conf_symlink_is_replaced_not_followed(zones):
    z = zones.new({"resolvers": ["192.0.2.1"]}, start=False)
    target = os.path.join(z.dir, "outside")
    os.symlink(target, os.path.join(z.rootfs, "etc", "resolv.conf"))
    z.start()
    assert not os.path.exists(target)
    assert z.zlogin("cat", "/etc/resolv.conf").out == "nameserver 192.0.2.1\n"


def test_systemd_conventions(zones):
    z = zones.new()
    r = z.zlogin("sh", "-c", "tr '\\0' '\\n' < /proc/1/environ | grep container=; "
                 "grep -E ' /(run|tmp) ' /proc/mounts | cut -d' ' -f2,3; "
                 "cat /proc/1/cgroup | cut -d: -f3 | sort -u; "
                 "mkdir /sys/fs/cgroup/pids/sub && "
                 "echo $$ > /sys/fs/cgroup/pids/sub/cgroup.procs"
                 " && echo moved; grep pids /proc/self/cgroup")
    lines = r.out.splitlines()
    assert lines[0] == "container=hull"
    assert "/run tmpfs" in lines and "/tmp tmpfs" in lines
    assert "/" in lines  # every hierarchy shows the zone's cgroup as its root
    assert "moved" in lines, r  # the zone's own tree is writable
    assert lines[-1].endswith(":pids:/sub")
    # ... and from the host that is inside the zone's cgroup
    from zonekit import cgroup_dirs
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        assert any(os.path.isdir(os.path.join(d, "zone", "sub"))
                   for d in cgroup_dirs(z.cgroup))


def test_no_host_descriptor_reaches_init(zones):
    z = zones.new()
    r = z.zlogin("ls", "/proc/1/fd")
    # stdio, and busybox sh's own descriptor on its script (fd 10)
    assert sorted(r.out.split()) == ["0", "1", "10", "2"], r.out
    r = z.zlogin("readlink", "/proc/1/fd/10")
    assert r.out.strip() == "/sbin/init"
    r = z.zlogin("sh", "-c", "for l in /proc/1/fd/0 /proc/1/cwd /proc/1/root; do "
                 "readlink $l; done")
    assert r.out.split() == ["/dev/console", "/", "/"]


def test_symlinked_mountpoints_are_refused(zones):
    """/tmp -> /proc in an image would lay the zone's tmpfs over its procfs,
    leaving an unmasked /proc beneath for a zone root to uncover."""
    for name, target in (("tmp", "/proc"), ("proc", "/tmp/p"), ("dev", "../dev2")):
        z = zones.new(start=False)
        p = os.path.join(z.rootfs, name)
        os.rmdir(p)
        os.symlink(target, p)
        r = z.host.fails("hull-supervisor", z.uuid)
        assert f"the image's /{name} is a symbolic link" in r.err
        assert not cgroup_pids(z.cgroup)
