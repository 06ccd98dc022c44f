"""Shared set-up for the network benchmarks: a namespace playing the host,
namespaces for instances, a pool root of their own; all removed on exit."""
import json
import os
import shutil
import subprocess
import tempfile
import uuid as uuidlib

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("HULL_BUILD", os.path.join(REPO, "build"))


def prog(name):
    return os.path.join(BUILD, "src", "cmd", name)


def sh(*cmd, check=True, **kw):
    cp = subprocess.run(list(map(str, cmd)), capture_output=True, text=True,
                        **kw)
    if check and cp.returncode:
        raise SystemExit(f"{' '.join(map(str, cmd))}: {cp.stderr.strip()}")
    return cp


class Lab:
    def __init__(self):
        self.id = uuidlib.uuid4().hex[:8]
        self.host = f"hull-t-{self.id}"
        self.namespaces = []
        self.root = tempfile.mkdtemp(prefix="hull-bench-")
        self.env = dict(os.environ, HULL_ROOT=os.path.join(self.root, "zones"))
        self.ns(self.host)

    def ns(self, name):
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        return name

    def instance(self, suffix):
        return self.ns(f"{self.host}-{suffix}")

    def at(self, ns, *cmd, check=True, timeout=120):
        return sh("ip", "netns", "exec", ns, *cmd, check=check, env=self.env,
                  timeout=timeout)

    def hull(self, name, *args):
        return self.at(self.host, prog(name), *args)

    def record(self, nics, uuid=None, brand="joyent"):
        uuid = uuid or str(uuidlib.uuid4())
        d = os.path.join(self.env["HULL_ROOT"], uuid, "config")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "vm.json"), "w") as f:
            json.dump({"uuid": uuid, "brand": brand, "nics": nics}, f)
        return uuid

    def close(self):
        for ns in reversed(self.namespaces):
            for p in sh("ip", "netns", "pids", ns, check=False).stdout.split():
                sh("kill", "-9", p, check=False)
            sh("ip", "netns", "del", ns, check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
