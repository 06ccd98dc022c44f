"""What an unprivileged host user can reach of a pool (issue 11, items 1
and 3): nothing. The pool root, every instance's folder and every image's
are root's alone, so a host user reads no instance record (its
internal_metadata passwords, its user-script), no console log, no image,
and runs no set-user-ID program that a zone's root planted in its root
filesystem. The modes are put right on every start and every command that
opens the pool, so a pool made by an older hull (every folder 0755) is
closed too.

Each test acts as nobody (uid 65534) on the host. The test's workdir
(mkdtemp, 0700) is opened to others first, so what stops nobody is hull's
own modes, not the test's folder.
"""
import json
import os
import shutil
import stat
import subprocess

import pytest

from conftest import prog
from vmtools import unfreeze
from zonekit import Zones, build_probe, install_busybox

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SECRET = "hunter2-internal"


def as_nobody(*cmd, env=None):
    """Runs cmd as nobody. Through sh: setpriv keeps its capabilities
    (keep-caps) until its own execve, so a program setpriv runs directly is
    looked up with root's CAP_DAC_OVERRIDE; sh, already nobody without
    capabilities, looks it up as nobody would."""
    return subprocess.run([*NOBODY, "sh", "-c", 'exec "$0" "$@"',
                           *map(str, cmd)], capture_output=True, text=True,
                          timeout=60, env=env)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def bbhost(pool, workdir):
    zs = Zones(pool)
    pool.image = install_busybox(pool.run, os.path.join(workdir, "bbimg"))
    # What is above the pool root is open: hull's modes must do the work.
    os.chmod(workdir, 0o755)
    try:
        yield pool
    finally:
        for u in pool.run("vmadm", "list", "-H", "-o", "uuid",
                          check=False).out.split():
            pool.run("vmadm", "delete", u, check=False)
        zs.cleanup()
        unfreeze(workdir)


def create(h, **extra):
    payload = {"brand": "lx", "kernel_version": "4.3.0", "image_uuid": h.image,
               "internal_metadata": {"root_pw": SECRET},
               "customer_metadata": {"user-script": "echo " + SECRET}}
    payload.update(extra)
    r = h.run("vmadm", "create", input=json.dumps(payload))
    return (r.out.strip() or r.err.strip()).split()[-1]


def closed_paths(h, u):
    """What nobody must not read, list or enter: (command, path)."""
    return [
        ("cat", f"{h.root}/{u}/config/vm.json"),
        ("ls", f"{h.root}/{u}"),
        ("ls", f"{h.root}/{u}/config"),
        ("ls", f"{h.root}/{u}/run"),
        ("ls", f"{h.root}/{u}/logs"),
        ("ls", f"{h.root}/{u}/root/etc"),
        ("cat", f"{h.root}/{u}/root/etc/passwd"),
        ("ls", h.root),
        ("ls", f"{h.root}/var"),
        ("cat", f"{h.root}/var/pool.json"),
        ("ls", f"{h.root}/images"),
        ("ls", f"{h.root}/images/{h.image}/root/etc"),
        ("cat", f"{h.root}/images/{h.image}/root/etc/passwd"),
    ]


def assert_closed(h, u):
    for cmd, path in closed_paths(h, u):
        r = as_nobody(cmd, path)
        assert r.returncode != 0 and "Permission denied" in r.stderr, \
            (cmd, path, r.stdout, r.stderr)
        assert SECRET not in r.stdout
    # The modes that do it, exactly.
    assert mode(h.root) == 0o700
    for d in ("var", "images", ".snapshots"):
        assert mode(os.path.join(h.root, d)) == 0o700, d
    assert mode(os.path.join(h.root, u)) == 0o700
    for d in ("config", "run", "logs"):
        assert mode(os.path.join(h.root, u, d)) == 0o700, d
    assert mode(os.path.join(h.root, u, "config", "vm.json")) == 0o600


def test_nobody_reads_no_record_log_or_image(bbhost):
    h = bbhost
    u = create(h)
    # Running: the zone's root, its console log and its run folder exist.
    assert h.run("vmadm", "list", "-H", "-o", "state",
                 f"uuid={u}").out.strip() == "running"
    assert_closed(h, u)
    for f in ("console.log", "supervisor.log"):
        p = os.path.join(h.root, u, "logs", f)
        if os.path.exists(p):
            assert mode(p) & 0o077 == 0, f
    assert mode(os.path.join(h.root, u, "run", "supervisor.pid")) == 0o600
    # A host user's hull command says why, in one line.
    for cmd in (["vmadm", "get", u], ["imgadm", "list"]):
        r = as_nobody(prog(cmd[0]), *cmd[1:], env=h.env)
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert r.returncode != 0 and len(lines) == 1, (cmd, r.stderr)
        assert "root's alone" in lines[0] and SECRET not in r.stdout
    # Root still reads it all, and the zone still runs what it holds.
    with open(os.path.join(h.root, u, "config", "vm.json")) as f:
        assert json.load(f)["internal_metadata"]["root_pw"] == SECRET
    assert h.run("zlogin", u, "cat", "/etc/passwd").out.startswith("root:")


def test_old_open_pool_is_closed_on_start_and_init(bbhost):
    """A pool whose folders an older hull made 0755 (and records 0644):
    `vmadm start` closes the instance's, every command that opens the pool
    closes the pool's own, `hull init` too."""
    h = bbhost
    u = create(h)
    h.run("vmadm", "stop", u)
    assert mode(os.path.join(h.root, u, "lastexited")) == 0o600

    def reopen():
        for d in (h.root, f"{h.root}/var", f"{h.root}/images",
                  f"{h.root}/.snapshots", f"{h.root}/images/{h.image}",
                  f"{h.root}/{u}", f"{h.root}/{u}/config", f"{h.root}/{u}/run",
                  f"{h.root}/{u}/logs"):
            os.chmod(d, 0o755)
        os.chmod(f"{h.root}/{u}/config/vm.json", 0o644)
        # As an old pool is: nobody reads the record.
        r = as_nobody("cat", f"{h.root}/{u}/config/vm.json")
        assert r.returncode == 0 and SECRET in r.stdout

    reopen()
    h.run("vmadm", "start", u)
    assert_closed(h, u)

    h.run("vmadm", "stop", u)
    reopen()
    h.run("hull", "init")
    for cmd, path in closed_paths(h, u):
        r = as_nobody(cmd, path)
        assert r.returncode != 0, (cmd, path, r.stdout)
    assert mode(h.root) == 0o700


@pytest.mark.parametrize("userns", [False, True], ids=["plain", "userns"])
def test_setuid_file_planted_by_zone_root_does_not_run_for_host_user(
        bbhost, workdir, userns):
    """Zone root is host root in a plain zone; in a hull:userns zone it is
    the range's first uid, but the root is an idmapped mount that keeps
    the image's ownership on disk, so what that zone's root owns is owned
    by uid 0 on the host. Either way the file is a set-user-ID root
    program on the host, and it must not run for a host user."""
    h = bbhost
    probe = build_probe(workdir)
    im = {"root_pw": SECRET}
    if userns:
        im["hull:userns"] = "true"
    u = create(h, internal_metadata=im)
    assert ("hull_userns" in json.loads(h.run("vmadm", "get", u).out)) == \
        userns
    # Root of the zone makes a set-user-ID root copy of a static program.
    shutil.copy(probe, os.path.join(h.root, u, "root", "probe"))
    h.run("zlogin", u, "sh", "-c",
          "cp /probe /suid-probe && chmod 4755 /suid-probe")
    planted = os.path.join(h.root, u, "root", "suid-probe")
    st = os.stat(planted)
    assert st.st_uid == 0 and st.st_mode & stat.S_ISUID
    # Inside the zone it works as a set-user-ID program should (this is why
    # the pool is not mounted nosuid: docs/hull.md).
    r = h.run("zlogin", u, "su", "-s", "/bin/sh", "nobody", "-c",
              "/suid-probe euid")
    assert r.out.split() == ["euid", "0"], r
    # On the host, nobody cannot even reach it.
    r = as_nobody(planted, "euid")
    assert r.returncode != 0 and "euid 0" not in r.stdout, (r.stdout, r.stderr)
    assert "Permission denied" in r.stderr


def test_nobody_reads_no_vm_disk(pool, workdir):
    """A VM's disks (the guest's whole filesystem) are as closed as a
    zone's root; its emulator reaches them through its own hull's binds."""
    os.chmod(workdir, 0o755)
    r = pool.run("vmadm", "create", input=json.dumps(
        {"brand": "bhyve", "ram": 64, "autoboot": False,
         "disks": [{"size": 8, "boot": True}]}))
    u = (r.out.strip() or r.err.strip()).split()[-1]
    try:
        disk = json.loads(pool.run("vmadm", "get", u).out)["disks"][0]["path"]
        assert disk.startswith(os.path.join(pool.root, u))
        r = as_nobody("dd", f"if={disk}", "of=/dev/null", "count=1")
        assert r.returncode != 0 and "Permission denied" in r.stderr, r
        assert mode(os.path.join(pool.root, u)) == 0o700
        assert mode(os.path.join(pool.root, u, "config", "vm.json")) == 0o600
    finally:
        pool.run("vmadm", "delete", u, check=False)
