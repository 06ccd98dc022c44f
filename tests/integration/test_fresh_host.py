"""A fresh Debian 12 host builds hull with nothing but the project's own
scripts: the README's promise, checked in a minimal Debian root.

The root is `debootstrap --variant=minbase bookworm`, built once and cached
in $HULL_TEST_CACHE or /var/cache/hull-test under a key made of the suite,
the variant and FORMAT (bump it to rebuild). Each run lays an overlay over
the cached root (the cache itself stays minbase), clones the repository's
committed HEAD into it (uncommitted changes are NOT seen: commit first) and
runs, chrooted, the README's steps: `apt-get install make` (the one tool the
README asks for by hand), then `make build`, which installs what the build
needs through scripts/deps (apt inside the root; the host's apt archive
cache is bind-mounted to save downloads).

The run first proves the check can fail: with one build package
(libnftables-dev) taken out of scripts/deps, `make build` must fail. Then,
with the committed scripts/deps again, `make build` in the same tree must
succeed, which also checks that a failed first run leaves nothing behind
that stops the next one. All mounts live in a private mount namespace of
the chrooted shell, so they go away with it, also on failure.

Needs the network to the Debian mirror this host's apt uses. Takes several
minutes (most of it the optimised build on this host's cores).
"""
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile

from conftest import ROOT

SUITE = "bookworm"
VARIANT = "minbase"
FORMAT = "1"
MISSING = "libnftables-dev"  # left out of scripts/deps by the failing run
PROGRAMS = ("hull", "sysinfo", "imgadm", "vmadm", "zlogin", "nictagadm",
            "fwadm", "hull-supervisor", "hull-vmm", "hull-metadata",
            "hull-net", "hull-hvm", "hull-vmmzone", "mdata/mdata-get",
            "hull-api", "hulladm", "hull-agent")


def cache_dir():
    d = os.environ.get("HULL_TEST_CACHE") or "/var/cache/hull-test"
    os.makedirs(d, exist_ok=True)
    return d


def mirror():
    r = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI)",
         "Identifier: Packages", f"Codename: {SUITE}"],
        capture_output=True, text=True)
    lines = r.stdout.split()
    assert r.returncode == 0 and lines, \
        f"this host's apt knows no {SUITE} mirror (apt-get update first)"
    return lines[0]


def minbase_root():
    """The cached minbase root, built on first use."""
    # scripts/deps --test installs it: its absence fails, never skips
    assert shutil.which("debootstrap"), "debootstrap is missing: run scripts/deps --test"
    base = cache_dir()
    key = hashlib.sha256(f"{SUITE} {VARIANT} {FORMAT}".encode()).hexdigest()[:12]
    prefix = f"fresh-{SUITE}-{VARIANT}-"
    d = os.path.join(base, prefix + key)
    with open(os.path.join(base, ".fresh.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not os.path.isdir(d):
            tmp = tempfile.mkdtemp(prefix=".build-", dir=base)
            try:
                r = subprocess.run(
                    ["debootstrap", f"--variant={VARIANT}", SUITE, tmp,
                     mirror()],
                    capture_output=True, text=True, timeout=1800)
                assert r.returncode == 0, \
                    f"debootstrap failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
                os.rename(tmp, d)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            for old in os.listdir(base):
                if old.startswith(prefix) and old != prefix + key:
                    shutil.rmtree(os.path.join(base, old), ignore_errors=True)
    return d


# Runs as the chrooted shell's parent, inside its own mount namespace:
# overlay root, the clone, /proc, /dev, /sys and the apt archive cache.
SETUP = r"""
set -eu
mount --make-rprivate /
mount -t overlay hull-fresh -o "lowerdir=$LOWER,upperdir=$W/upper,workdir=$W/work" "$W/root"
r=$W/root
mkdir -p "$r/src"
mount --bind "$W/clone" "$r/src"
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys"
mount --rbind /dev "$r/dev"
mount -t tmpfs tmpfs "$r/tmp"
mount --bind /var/cache/apt/archives "$r/var/cache/apt/archives"
cp /etc/resolv.conf "$r/etc/resolv.conf"
exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    LANG=C.UTF-8 /bin/sh -c "$STEPS"
"""


def in_root(w, lower, steps, timeout):
    env = dict(os.environ, W=w, LOWER=lower, STEPS=steps)
    return subprocess.run(
        ["unshare", "--mount", "--", "sh", "-c", SETUP], env=env,
        capture_output=True, text=True, timeout=timeout)


def tail(r):
    return (r.stdout[-6000:] + "\n--- stderr ---\n" + r.stderr[-6000:])


def test_fresh_host_builds_with_scripts_deps():
    assert os.geteuid() == 0, "make check runs as root (chroot, mounts)"
    assert os.path.exists(os.path.join(ROOT, ".git")), \
        "not a git checkout: the test builds a clean clone"
    lower = minbase_root()
    w = tempfile.mkdtemp(prefix="hull-fresh-")
    try:
        for sub in ("upper", "work", "root"):
            os.mkdir(os.path.join(w, sub))
        clone = os.path.join(w, "clone")
        # A clean clone of what is committed at HEAD (of this worktree).
        subprocess.run(["git", "init", "-q", clone], check=True)
        subprocess.run(["git", "-C", clone, "fetch", "-q", ROOT, "HEAD"],
                       check=True)
        subprocess.run(["git", "-C", clone, "checkout", "-q", "--detach",
                        "FETCH_HEAD"], check=True)

        # The README's one manual step, then `make build` with a
        # scripts/deps that lacks one build package: it must fail.
        deps = os.path.join(clone, "scripts", "deps")
        with open(deps) as f:
            text = f.read()
        assert f" {MISSING}" in text
        with open(deps, "w") as f:
            f.write(text.replace(f" {MISSING}", ""))
        r = in_root(w, lower,
                    "set -e; apt-get update -q >/dev/null; "
                    "apt-get install -y -q --no-install-recommends make "
                    ">/dev/null; cd /src; make build", timeout=1800)
        assert r.returncode != 0, "make build succeeded without " + MISSING
        assert "libnftables" in r.stdout + r.stderr, tail(r)

        # The committed scripts/deps: the same tree now builds, the failed
        # first run notwithstanding.
        subprocess.run(["git", "-C", clone, "checkout", "-q", "--",
                        "scripts/deps"], check=True)
        r = in_root(w, lower, "cd /src && make build", timeout=2400)
        assert r.returncode == 0, tail(r)
        built = clone  # bind-mounted at /src: the build is here
        for p in PROGRAMS:
            path = os.path.join(built, "build", "src", "cmd", p)
            if not os.path.exists(path):
                path = os.path.join(built, "build", "src", "cmd",
                                    os.path.basename(p), os.path.basename(p))
            assert os.access(path, os.X_OK), f"make build made no {p}"
    finally:
        shutil.rmtree(w, ignore_errors=True)
