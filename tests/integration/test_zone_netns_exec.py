"""Instances run from `ip netns exec NS` (issue 13, robustness): that gives
the command a mount namespace of its own and a fresh sysfs on /sys, with
nothing mounted on /sys/fs/cgroup. hull mounts the hierarchies again in a
namespace of its own, so a zone or VM started there gets its cgroup and
limits in the host's tree like any other, vmadm agrees on its state inside
and outside, zlogin and the metadata peer check work, and stop and delete
leave nothing. Where the hierarchies cannot be reached at all, a start
fails with one line and runs nothing."""
import json
import os
import subprocess

import pytest

import skips
from conftest import _init_pool, prog
from nethelp import NetHost
from test_metadata_access import build_client
from vmtools import unfreeze
from zonekit import (Zones, install_busybox, cgroup_dirs, cgroup_file, cgroup_pids, cgroup_v2,
                     pid_alive)

LIMITS = {"max_physical_memory": 64, "max_lwps": 50,
          "cpu_cap": 50}


def in_ns(net, host, *cmd, input=None, timeout=120, shell=False):
    """Runs a hull program (or, with shell, a sh -c script) under
    `ip netns exec` in the test's namespace, as an operator would."""
    argv = ["sh", "-c", cmd[0]] if shell else [prog(cmd[0]), *map(str, cmd[1:])]
    return subprocess.run(["ip", "netns", "exec", net.ns, *argv],
                          input=input, capture_output=True, text=True,
                          env=host.env, timeout=timeout)


@pytest.fixture
def nshost(bare, workdir):
    """A dir-backend pool with the busybox image, its own cgroup parent
    and network namespace; every instance deleted afterwards."""
    if not os.path.isdir("/sys/fs/cgroup/memory") and not cgroup_v2():
        skips.skip("host-denies", "no cgroup hierarchies on this host")
    h = _init_pool(bare, "dir")
    zs = Zones(h)
    net = NetHost(h)
    h.image = install_busybox(h.run, os.path.join(workdir, "bbimg"))
    h.net = net
    try:
        yield h
    finally:
        for u in h.run("vmadm", "list", "-H", "-o", "uuid",
                       check=False).out.split():
            h.run("vmadm", "delete", u, check=False)
        net.close()
        zs.cleanup()
        h.run("hull", "fini", check=False)
        unfreeze(workdir)


def state_outside(h, u):
    return h.run("vmadm", "list", "-H", "-o", "state", f"uuid={u}").out.strip()


def state_inside(h, u):
    r = in_ns(h.net, h, "vmadm", "list", "-H", "-o", "state", f"uuid={u}")
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def assert_limits(rel):
    """The payload's limits, read from the host's own cgroup tree."""
    if cgroup_v2():
        assert cgroup_file(rel, "", "memory.max") == str(64 << 20)
        assert cgroup_file(rel, "", "pids.max") == "50"
        assert cgroup_file(rel, "", "cpu.max") == "50000 100000"
    else:
        assert cgroup_file(rel, "memory", "memory.limit_in_bytes") == \
            str(64 << 20)
        assert cgroup_file(rel, "pids", "pids.max") == "50"
        assert cgroup_file(rel, "cpu", "cpu.cfs_quota_us") == "50000"


def test_zone_created_under_ip_netns_exec_gets_its_cgroup(nshost, workdir):
    h = nshost
    payload = {"brand": "lx", "kernel_version": "4.3.0",
               "image_uuid": h.image, "alias": "netns", **LIMITS}
    # The shell that ran vmadm keeps the namespace ip netns exec gave it:
    # hull mounted nothing there (its /sys/fs/cgroup is still empty sysfs).
    r = in_ns(h.net, h, f"{prog('vmadm')} create && "
              "stat -f -c %T /sys/fs/cgroup && ls /sys/fs/cgroup | wc -l",
              input=json.dumps(payload), shell=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["sysfs", "0"], r.stdout
    u = r.stderr.split("Successfully created VM ")[1].split()[0]
    rel = f"{h.env['HULL_CGROUP_PARENT']}/{u}"

    # The zone runs inside its cgroup, limited, in the host's tree.
    assert_limits(rel)
    assert cgroup_pids(rel + "/zone")
    # Both sides agree it runs.
    assert state_inside(h, u) == "running"
    assert state_outside(h, u) == "running"
    assert "already running" in in_ns(h.net, h, "vmadm", "start", u).stderr

    # zlogin, from either side, lands in the zone's cgroup.
    for run in (lambda *c: in_ns(h.net, h, "zlogin", u, *c),
                lambda *c: h.run("zlogin", u, *c, check=False)):
        z = run("sh", "-c", "cat /proc/self/cgroup")
        zr = z.returncode if hasattr(z, "returncode") else z.rc
        out = z.stdout if hasattr(z, "stdout") else z.out
        assert zr == 0, z
        # From inside its cgroup namespace the zone is its own root.
        mem = [ln for ln in out.splitlines() if ":memory:" in ln or
               ln.startswith("0::")]
        assert mem and all(ln.endswith(":/") for ln in mem), out

    # The metadata server serves the zone's users, which it knows by
    # their cgroup: root through mdata-get, and an unprivileged user.
    vm = json.loads(h.run("vmadm", "get", u).out)
    client = build_client(workdir)
    dst = os.path.join(vm["zonepath"], "root", "bin", "md_client")
    subprocess.run(["cp", client, dst], check=True)
    r = in_ns(h.net, h, "zlogin", u, "mdata-get", "sdc:uuid")
    assert (r.returncode, r.stdout.strip()) == (0, u), r
    r = in_ns(h.net, h, "zlogin", u, "/bin/md_client", "send",
              "/native/.zonecontrol/metadata.sock", "GET sdc:uuid", "65534")
    assert r.stdout.strip() == "answer: SUCCESS", r

    # Stop and start again from inside, then delete: nothing is left.
    r = in_ns(h.net, h, "vmadm", "stop", u, "-F")
    assert r.returncode == 0, r.stderr
    assert state_outside(h, u) == state_inside(h, u) == "stopped"
    assert not cgroup_pids(rel)
    r = in_ns(h.net, h, "vmadm", "start", u)
    assert r.returncode == 0, r.stderr
    assert state_outside(h, u) == "running"
    assert_limits(rel)
    r = in_ns(h.net, h, "vmadm", "delete", u)
    assert r.returncode == 0, r.stderr
    assert h.run("vmadm", "list", "-H").out.strip() == ""
    assert not cgroup_dirs(rel)
    assert not os.path.exists(os.path.join(h.root, u))


def test_start_without_reachable_cgroups_fails_with_one_line(nshost):
    # /sys/fs hidden under a read-only tmpfs: no hierarchy, and nowhere to
    # mount one. The start is refused; nothing runs without its limits.
    h = nshost
    payload = {"brand": "lx", "kernel_version": "4.3.0",
               "image_uuid": h.image, "autoboot": False, **LIMITS}
    r = h.run("vmadm", "create", input=json.dumps(payload))
    u = r.err.split("Successfully created VM ")[1].split()[0]
    rel = f"{h.env['HULL_CGROUP_PARENT']}/{u}"
    script = ("mount -t tmpfs -o ro none /sys/fs && "
              f"exec {prog('vmadm')} start {u}")
    cp = subprocess.run(["ip", "netns", "exec", h.net.ns, "unshare", "-m",
                         "--propagation", "slave", "sh", "-c", script],
                        capture_output=True, text=True, env=h.env,
                        timeout=120)
    assert cp.returncode != 0, cp
    lines = [ln for ln in cp.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, cp.stderr
    assert "cgroup" in lines[0], lines
    assert state_outside(h, u) == "stopped"
    assert not cgroup_dirs(rel)
    pidf = os.path.join(h.root, u, "run", "supervisor.pid")
    if os.path.exists(pidf):
        with open(pidf) as f:
            text = f.read().strip()
        assert not text or not pid_alive(int(text))
