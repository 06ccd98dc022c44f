"""Network namespaces for the src/net tests.

Each test gets a fresh namespace playing the host (`hull-t-<id>`), where
nictagadm and hull-net run (through `ip netns exec`), and any number of
namespaces standing in for instances. Everything is removed at the end,
also when the test fails; the real host's network is never touched.
Addresses are documentation ranges only.
"""
import hashlib
import json
import os
import subprocess
import uuid as uuidlib

import pytest

from conftest import Result, prog


def sh(*cmd, check=True, input=None, timeout=60):
    cp = subprocess.run(list(map(str, cmd)), capture_output=True, text=True,
                        check=False, input=input, timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError(f"{cmd} failed: {cp.stderr}")
    return cp


def root_tag(root):
    """hull_root_tag(): what a pool's nftables tables are named after."""
    return hashlib.sha256(os.path.realpath(root).encode()).hexdigest()[:12]


class NetHost:
    def __init__(self, host):
        self.h = host
        self.id = uuidlib.uuid4().hex[:8]
        self.ns = f"hull-t-{self.id}"
        self.namespaces = []
        self.add_ns(self.ns)

    def add_ns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        return name

    def instance_ns(self, suffix):
        return self.add_ns(f"{self.ns}-{suffix}")

    def close(self):
        for ns in reversed(self.namespaces):
            pids = sh("ip", "netns", "pids", ns, check=False).stdout.split()
            for p in pids:
                try:
                    os.kill(int(p), 9)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", ns, check=False)

    # Commands in a namespace (the host one by default).
    def ip(self, *args, ns=None, check=True):
        return sh("ip", "netns", "exec", ns or self.ns, *args, check=check)

    def run(self, name, *args, check=True, env=None, ns=None):
        e = dict(self.h.env)
        if env:
            e.update(env)
        cp = subprocess.run(["ip", "netns", "exec", ns or self.ns, prog(name),
                             *map(str, args)], capture_output=True,
                            text=True, env=e, timeout=120)
        r = Result(cp)
        if check and r.rc != 0:
            raise AssertionError(f"{name} {args} failed: {r}")
        return r

    def fails(self, name, *args, rc=None, env=None):
        r = self.run(name, *args, check=False, env=env)
        assert r.rc != 0, f"{name} {args} should have failed: {r}"
        if rc is not None:
            assert r.rc == rc, r
        lines = [l for l in r.err.splitlines() if l.strip()]
        assert len(lines) == 1, f"expected one line on stderr, got {r.err!r}"
        return r

    # What the host namespace holds.
    def links(self, ns=None):
        out = self.ip("ip", "-j", "-d", "link", "show", ns=ns).stdout
        return {l["ifname"]: l for l in json.loads(out)}

    def ports(self):
        return sorted(n for n in self.links() if n.startswith("hv"))

    def antispoof_table(self):
        return f"hull_antispoof_{root_tag(self.h.root)}"

    def ruleset(self):
        return self.ip("nft", "list", "ruleset").stdout

    def uplink(self, name, mac=None):
        """A host link (a veth whose peer sits in an outside namespace)."""
        outside = self.instance_ns(f"o{len(self.namespaces)}")
        self.ip("ip", "link", "add", name, "type", "veth", "peer", "name",
                "ext0", "netns", outside)
        if mac:
            self.ip("ip", "link", "set", name, "address", mac)
        return outside

    def record(self, nics, brand="joyent", uuid=None, **extra):
        uuid = uuid or str(uuidlib.uuid4())
        d = os.path.join(self.h.root, uuid, "config")
        os.makedirs(d, exist_ok=True)
        rec = dict(uuid=uuid, brand=brand, nics=nics, **extra)
        with open(os.path.join(d, "vm.json"), "w") as f:
            json.dump(rec, f)
        return uuid

    def ping(self, ns, addr, count=1):
        return self.ip("ping", "-c", count, "-W", "1", "-i", "0.2", addr,
                       ns=ns, check=False).returncode == 0

    def vlan_filtering(self):
        """True when the kernel has bridge VLAN filtering."""
        r = self.ip("ip", "link", "add", "hvlanprobe", "type", "bridge",
                    "vlan_filtering", "1", check=False)
        if r.returncode == 0:
            self.ip("ip", "link", "del", "hvlanprobe")
        return r.returncode == 0


@pytest.fixture
def net(bare):
    n = NetHost(bare)
    try:
        yield n
    finally:
        n.close()
