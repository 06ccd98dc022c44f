"""Helpers for the firewall tests: a pool root with hand-written instance
records, fwadm run inside a test network namespace, and a small routed
topology of namespaces whose ends play instances.

Only documentation addresses are used (192.0.2.0/24, 198.51.100.0/24), and
every namespace is removed, with whatever runs in it, even on failure.
"""
import json
import os
import secrets
import subprocess
import time

from conftest import prog


def sh(*args, check=True, timeout=30):
    cp = subprocess.run(list(map(str, args)), capture_output=True, text=True,
                        timeout=timeout)
    if check and cp.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))}: {cp.stderr}")
    return cp


class Netns:
    """Network namespaces named hull-t-<random>-<name>."""

    def __init__(self):
        self.tag = secrets.token_hex(3)
        self.names = []

    def add(self, short):
        name = f"hull-t-{self.tag}-{short}"
        sh("ip", "netns", "add", name)
        self.names.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return name

    def cleanup(self):
        for name in reversed(self.names):
            pids = sh("ip", "netns", "pids", name, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), 9)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "netns", "del", name, check=False)
        self.names = []


class Fw:
    """fwadm against one pool root, run inside network namespace ns."""

    def __init__(self, root, ns):
        self.root = root
        self.ns = ns
        os.makedirs(root, exist_ok=True)
        self.env = dict(os.environ, HULL_ROOT=root)

    def run(self, *args, input=None, check=True):
        cp = subprocess.run(["ip", "netns", "exec", self.ns, prog("fwadm"),
                             *map(str, args)], input=input,
                            capture_output=True, text=True, env=self.env,
                            timeout=120)
        if check and cp.returncode != 0:
            raise AssertionError(f"fwadm {args}: rc={cp.returncode} "
                                 f"out={cp.stdout!r} err={cp.stderr!r}")
        return cp

    def fails(self, *args, input=None):
        cp = self.run(*args, input=input, check=False)
        assert cp.returncode != 0, f"fwadm {args} should fail: {cp.stdout!r}"
        lines = [l for l in cp.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, f"expected one stderr line: {cp.stderr!r}"
        return cp

    def add(self, rule, *opts):
        out = self.run("add", *opts, rule).stdout
        return out.splitlines()[1].split()[0]

    def vm(self, uuid, ifname=None, ips=(), tags=None, owner=None,
           firewall=True, mac=None):
        """Writes the instance record vmadm would write (host_ifname only
        when ifname is given: otherwise fwadm finds the port by the alias
        src/net gives it)."""
        d = os.path.join(self.root, uuid, "config")
        os.makedirs(d, exist_ok=True)
        nic = {"interface": "net0", "ips": [f"{ip}/24" for ip in ips]}
        if ifname:
            nic["host_ifname"] = ifname
        if mac:
            nic["mac"] = mac
        rec = {"uuid": uuid, "brand": "joyent-minimal",
               "firewall_enabled": firewall, "tags": tags or {},
               "nics": [nic]}
        if owner:
            rec["owner_uuid"] = owner
        with open(os.path.join(d, "vm.json"), "w") as f:
            json.dump(rec, f)

    def rules_on_disk(self):
        d = os.path.join(self.root, "var", "fw", "rules")
        return sorted(os.listdir(d)) if os.path.isdir(d) else []


PROBE_SERVER = r"""
import socket, sys, threading
def tcp(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"ok"); c.close()
def udp(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("0.0.0.0", port))
    while True:
        d, a = s.recvfrom(100); s.sendto(d, a)
for p in map(int, sys.argv[1].split(",")):
    threading.Thread(target=tcp, args=(p,), daemon=True).start()
    threading.Thread(target=udp, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
"""

PROBE_CLIENT = r"""
import socket, sys
proto, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    if proto == "tcp":
        s = socket.create_connection((host, port), timeout=0.6)
        ok = s.recv(2) == b"ok"
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.6)
        s.sendto(b"hi", (host, port)); ok = s.recvfrom(10)[0] == b"hi"
except OSError:
    ok = False
sys.exit(0 if ok else 1)
"""

PYTHON = "/usr/bin/python3"


def serve(ns, ports):
    """Starts TCP and UDP echo servers on ports inside ns (killed with it)."""
    p = subprocess.Popen(["ip", "netns", "exec", ns, PYTHON, "-c",
                          PROBE_SERVER, ",".join(map(str, ports))],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def reaches(ns, proto, host, port):
    cp = subprocess.run(["ip", "netns", "exec", ns, PYTHON, "-c",
                         PROBE_CLIENT, proto, host, str(port)],
                        capture_output=True, timeout=30)
    return cp.returncode == 0


def pings(ns, host):
    cp = subprocess.run(["ip", "netns", "exec", ns, "busybox", "ping", "-c",
                         "1", "-W", "1", host], capture_output=True, timeout=30)
    return cp.returncode == 0


def wait_until(fn, timeout=3.0):
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return True
        time.sleep(0.1)
    return fn()
