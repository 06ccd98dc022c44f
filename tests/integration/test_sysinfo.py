"""sysinfo as an operator reads it: host facts as JSON, pool facts once the
pool is initialised, interfaces as the kernel has them."""
import json
import os
import socket
import subprocess
import uuid

import pytest

from conftest import prog


def sysinfo(host, *args, env=None):
    return json.loads(host.run("sysinfo", *args, env=env).out)


def expected_layout():
    def fstype(path):
        out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True,
                             text=True).stdout.strip()
        return out
    if fstype("/sys/fs/cgroup") == "cgroup2fs":
        return "v2"
    if os.path.isdir("/sys/fs/cgroup/unified") and \
            fstype("/sys/fs/cgroup/unified") == "cgroup2fs":
        return "hybrid"
    return "v1"


def test_host_facts(bare):
    a = sysinfo(bare)
    b = sysinfo(bare)
    assert a["UUID"] == b["UUID"]
    uuid.UUID(a["UUID"])
    assert a["Hostname"] == socket.gethostname()
    assert a["System Type"] == "Linux"
    assert a["Kernel Version"] == os.uname().release
    assert a["CPU Total Cores"] == os.cpu_count()
    assert a["CPU Virtualization"] in ("vmx", "svm", "none")
    flags = open("/proc/cpuinfo").read()
    if " vmx" in flags:
        assert a["CPU Virtualization"] == "vmx"
    elif " svm" in flags:
        assert a["CPU Virtualization"] == "svm"
    mem_kib = int([l for l in open("/proc/meminfo") if l.startswith("MemTotal:")][0].split()[1])
    assert a["MiB of Memory"] == str(mem_kib // 1024)
    assert a["HVM API"] == os.access("/dev/kvm", os.R_OK | os.W_OK)
    with open("/proc/cpuinfo") as f:
        virt = any(w in ("vmx", "svm") for l in f if l.startswith("flags")
                   for w in l.split())
    full = a["HVM API"] and virt
    assert a["Bhyve Capable"] == full
    assert a["HVM Acceleration"] == ("kvm" if full else "tcg")
    assert a["Cgroup Layout"] == expected_layout()
    btime = [l for l in open("/proc/stat") if l.startswith("btime ")][0].split()[1]
    assert a["Boot Time"] == btime
    assert a["Live Image"]
    # No pool: no pool facts.
    assert not [k for k in a if k.startswith("Zpool")]


def test_pool_facts(pool):
    info = sysinfo(pool)
    assert info["Zpool"] == "zones"
    assert info["Zpool Root"] == pool.root
    assert info["Zpool Backend"] == pool.backend
    st = os.statvfs(pool.root)
    assert info["Zpool Size in GiB"] == st.f_blocks * st.f_frsize // (1 << 30)
    assert 0 <= info["Zpool Free in GiB"] <= info["Zpool Size in GiB"]
    if pool.backend == "btrfs":
        assert info["Zpool Size in GiB"] in (3, 4)
        assert info["Zpool Disks"].endswith("pool.img")


@pytest.fixture
def netns():
    name = f"hull-t-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name])


def test_network_interfaces(bare, netns):
    ip = ["ip", "-n", netns]
    # veth pairs: a link is up once both of its ends are.
    subprocess.run(ip + ["link", "add", "hullt0", "address", "02:00:5e:10:00:01",
                         "type", "veth", "peer", "name", "hullt1"], check=True)
    subprocess.run(ip + ["addr", "add", "192.0.2.10/24", "dev", "hullt0"], check=True)
    subprocess.run(ip + ["addr", "add", "198.51.100.7/24", "dev", "hullt0"], check=True)
    subprocess.run(ip + ["link", "set", "hullt0", "up"], check=True)
    subprocess.run(ip + ["link", "set", "hullt1", "up"], check=True)
    subprocess.run(ip + ["link", "add", "hullt2", "type", "veth", "peer", "name",
                         "hullt3"], check=True)
    cp = subprocess.run(["ip", "netns", "exec", netns, prog("sysinfo")],
                        capture_output=True, text=True, env=bare.env, check=True)
    nics = json.loads(cp.stdout)["Network Interfaces"]
    assert set(nics) == {"hullt0", "hullt1", "hullt2", "hullt3"}  # no loopback
    n0 = nics["hullt0"]
    assert n0["MAC Address"] == "02:00:5e:10:00:01"
    assert n0["ip4addr"] == "192.0.2.10"
    assert n0["IPv4 Addresses"] == ["192.0.2.10", "198.51.100.7"]
    assert n0["Link Status"] == "up"
    assert nics["hullt2"]["Link Status"] == "down"
    assert nics["hullt2"]["ip4addr"] == ""


def test_parsable_form(bare):
    info = sysinfo(bare)
    lines = bare.run("sysinfo", "-p").out.splitlines()
    kv = dict(l.split("=", 1) for l in lines)
    assert kv["UUID"] == f"'{info['UUID']}'"
    assert kv["CPU_Total_Cores"] == f"'{info['CPU Total Cores']}'"
    assert kv["HVM_API"] == ("'true'" if info["HVM API"] else "'false'")
    # Every line is a shell assignment that a shell reads back.
    script = "\n".join(lines) + '\nprintf %s "$UUID"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True).stdout
    assert out == info["UUID"]


def test_usage(bare):
    assert "sysinfo" in bare.run("sysinfo", "--help").out
    r = bare.fails("sysinfo", "-x", rc=2)
    assert "unknown option" in r.err


def test_nic_names_are_the_nic_tags_on_a_link(pool, netns):
    ip = ["ip", "-n", netns]
    subprocess.run(ip + ["link", "add", "hullt0", "type", "veth", "peer", "name",
                         "hullt1"], check=True)
    subprocess.run(ip + ["link", "set", "hullt0", "up"], check=True)
    subprocess.run(ip + ["link", "set", "hullt1", "up"], check=True)
    cp = subprocess.run(["ip", "netns", "exec", netns, prog("nictagadm"), "add",
                         "admin", "hullt0"], capture_output=True, text=True,
                        env=pool.env)
    assert cp.returncode == 0, cp
    cp = subprocess.run(["ip", "netns", "exec", netns, prog("sysinfo")],
                        capture_output=True, text=True, env=pool.env, check=True)
    nics = json.loads(cp.stdout)["Network Interfaces"]
    assert nics["hullt0"]["NIC Names"] == ["admin"]
    assert nics["hullt1"]["NIC Names"] == []


def test_server_uuid_is_the_pools_own(bare, tmp_path):
    """With HULL_ROOT set the pool is a server of its own (a simulated
    compute node): its UUID is kept in the pool, 0600, stable, and differs
    from the host's and from another pool's. Without HULL_ROOT it is the
    host's (the machine-id as a UUID)."""
    a = sysinfo(bare)["UUID"]
    path = os.path.join(bare.root, "var", "server-uuid")
    assert open(path).read().strip() == a
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert sysinfo(bare)["UUID"] == a
    other = tmp_path / "other-pool"
    other.mkdir()
    b = sysinfo(bare, env=dict(bare.env, HULL_ROOT=str(other)))["UUID"]
    uuid.UUID(b)
    assert b != a
    if os.path.exists("/etc/machine-id"):
        mid = open("/etc/machine-id").read().strip().lower()
        assert a.replace("-", "") != mid
        env = {k: v for k, v in bare.env.items() if k != "HULL_ROOT"}
        out = subprocess.run([prog("sysinfo")], env=env, capture_output=True,
                             text=True, check=True).stdout
        assert json.loads(out)["UUID"].replace("-", "") == mid
