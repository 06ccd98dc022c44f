"""Shared fixtures for hull's integration tests.

Every test drives the real programs as a user would, against a pool root of
its own (HULL_ROOT), and leaves the host as it found it: mounts, loop
devices, namespaces and cgroups it made are removed even when it fails.
"""
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

# Every skip must name a reason on the allow-list in skips.py; any other
# skip (or an xfail) fails the session.
pytest_plugins = ("skips",)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("HULL_BUILD", os.path.join(ROOT, "build-check"))

# The suite runs against the sanitizer build; a leak or UB report fails the
# program that has it, and so the test.
os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
os.environ.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")


def pytest_configure(config):
    """A run stopped by SIGTERM or SIGHUP (a CI timeout, a closed session)
    stops as on Ctrl-C, so every fixture's teardown still removes its
    mounts, loop devices, namespaces and cgroups."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.default_int_handler)


def prog(name):
    """Path of a built program: src/cmd/NAME or src/cmd/NAME/NAME."""
    for cand in (os.path.join(BUILD, "src", "cmd", name),
                 os.path.join(BUILD, "src", "cmd", name, name)):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    # Programs built in a folder with another name (mdata-* in mdata/).
    for dirpath, _dirs, files in os.walk(os.path.join(BUILD, "src", "cmd")):
        if name in files and os.access(os.path.join(dirpath, name), os.X_OK):
            return os.path.join(dirpath, name)
    raise FileNotFoundError(f"{name} is not built in {BUILD}")


class Result:
    def __init__(self, cp):
        self.rc = cp.returncode
        self.out = cp.stdout
        self.err = cp.stderr

    def __repr__(self):
        return f"<rc={self.rc} out={self.out!r} err={self.err!r}>"


class Host:
    """Runs hull's programs against one pool root."""

    def __init__(self, root, workdir):
        self.root = root
        self.workdir = workdir
        self.env = dict(os.environ, HULL_ROOT=root)

    def run(self, name, *args, input=None, check=True, timeout=120, env=None):
        e = dict(self.env)
        if env:
            e.update(env)
        cp = subprocess.run([prog(name), *map(str, args)], input=input,
                            capture_output=True, text=True, env=e,
                            timeout=timeout)
        r = Result(cp)
        if check and r.rc != 0:
            raise AssertionError(f"{name} {' '.join(map(str, args))} failed: {r}")
        return r

    def fails(self, name, *args, input=None, rc=None):
        """Runs a command that must fail with one clear line on stderr."""
        r = self.run(name, *args, input=input, check=False)
        assert r.rc != 0, f"{name} {args} should have failed: {r}"
        if rc is not None:
            assert r.rc == rc, r
        lines = [l for l in r.err.splitlines() if l.strip()]
        assert len(lines) == 1, f"expected one line on stderr, got {r.err!r}"
        return r


def _mounts_under(path):
    with open("/proc/self/mounts") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(path)]


def cleanup_root(workdir):
    """Unmounts everything under workdir and detaches its loop devices."""
    for m in sorted(_mounts_under(workdir), key=len, reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if workdir in line:
            subprocess.run(["losetup", "-d", line.split(":")[0]],
                           capture_output=True)
    # The dir backend seals snapshots with the immutable attribute.
    subprocess.run(["chattr", "-R", "-f", "-i", workdir], capture_output=True)
    shutil.rmtree(workdir, ignore_errors=True)
    assert not os.path.exists(workdir), f"could not remove {workdir}"


@pytest.fixture
def workdir():
    d = tempfile.mkdtemp(prefix="hull-test-")
    try:
        yield d
    finally:
        cleanup_root(d)


@pytest.fixture
def bare(workdir):
    """A host with a pool root that is not yet initialised."""
    return Host(os.path.join(workdir, "zones"), workdir)


def _init_pool(host, backend):
    if backend == "btrfs":
        host.run("hull", "init", "--file", os.path.join(host.workdir, "pool.img"),
                 "--size", "4G")
    else:
        host.run("hull", "init", "--backend", "dir")
    return host


@pytest.fixture(params=["btrfs", "dir"])
def pool(request, bare):
    """An initialised pool, once per backend."""
    _init_pool(bare, request.param)
    bare.backend = request.param
    try:
        yield bare
    finally:
        bare.run("hull", "fini", check=False)


@pytest.fixture
def btrfs_pool(bare):
    """An initialised btrfs pool (for what only btrfs does)."""
    _init_pool(bare, "btrfs")
    bare.backend = "btrfs"
    try:
        yield bare
    finally:
        bare.run("hull", "fini", check=False)
