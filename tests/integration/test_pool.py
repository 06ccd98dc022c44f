"""The pool as an operator uses it: `hull init`/`hull fini` and `hull pool`.

Each test gets its own pool root (and pool file) under a temporary folder;
the fixtures in conftest.py unmount and detach everything afterwards.
"""
import json
import os
import subprocess

import pytest


def mounted(path):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == path for line in f)


def loops_of(path):
    out = subprocess.run(["losetup", "-a"], capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if path in l]


def listing(host, *args):
    return {e["name"]: e for e in json.loads(host.run("hull", "pool", "list", "-j", *args).out)}


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read(path):
    with open(path) as f:
        return f.read()


# ---- init / fini ----

def test_init_btrfs_mounts_a_loop_file(bare):
    img = os.path.join(bare.workdir, "p.img")
    r = bare.run("hull", "init", "--file", img, "--size", "1G")
    assert "created" in r.out
    assert mounted(bare.root)
    assert len(loops_of(img)) == 1
    assert os.path.getsize(img) == 1 << 30
    # Sparse: far less on disk than its size.
    assert os.stat(img).st_blocks * 512 < (256 << 20)
    for d in ("images", "var"):
        assert os.path.isdir(os.path.join(bare.root, d))
    cfg = json.load(open(os.path.join(bare.root, "var", "pool.json")))
    assert cfg["backend"] == "btrfs" and cfg["file"] == img
    # Idempotent.
    assert "already" in bare.run("hull", "init", "--file", img).out
    assert len(loops_of(img)) == 1
    r = bare.run("hull", "fini")
    assert "unmounted" in r.out
    assert not mounted(bare.root)
    assert loops_of(img) == []
    assert os.path.exists(img)
    # A second fini is fine too.
    bare.run("hull", "fini")


def test_default_file_is_beside_the_root(bare):
    bare.run("hull", "init", "--size", "512M")
    try:
        assert mounted(bare.root)
        assert loops_of(bare.root + ".img")
    finally:
        bare.run("hull", "fini")
    assert loops_of(bare.root + ".img") == []


def test_remount_after_fini_keeps_data(bare):
    img = os.path.join(bare.workdir, "p.img")
    bare.run("hull", "init", "--file", img, "--size", "1G")
    bare.run("hull", "pool", "create", "keep")
    write(os.path.join(bare.root, "keep", "f"), "still here")
    bare.run("hull", "pool", "snapshot", "keep@s")
    bare.run("hull", "fini")
    # Unmounted, the pool is not there for any command.
    r = bare.fails("hull", "pool", "list")
    assert "hull init" in r.err
    r = bare.run("hull", "init", "--file", img)
    assert "mounted" in r.out
    assert read(os.path.join(bare.root, "keep", "f")) == "still here"
    assert "keep@s" in listing(bare)
    bare.run("hull", "fini")


def test_init_dir_backend(bare):
    r = bare.run("hull", "init", "--backend", "dir")
    assert "created" in r.out
    assert not mounted(bare.root)
    cfg = json.load(open(os.path.join(bare.root, "var", "pool.json")))
    assert cfg == {"backend": "dir"}
    assert "already" in bare.run("hull", "init").out
    r = bare.fails("hull", "init", "--backend", "btrfs")
    assert "already a dir pool" in r.err
    bare.run("hull", "fini")
    assert os.path.isfile(os.path.join(bare.root, "var", "pool.json"))


def nothing_left(host):
    assert not os.path.exists(host.root)
    assert not mounted(host.root)
    assert loops_of(host.workdir) == []


@pytest.mark.parametrize("args, what", [
    (["--size", "12Q"], "not a size"),
    (["--size", "100M"], "too small"),
    (["--backend", "zfs"], "unknown backend"),
    (["--device", "/dev/null"], "not a block device"),
    (["--device", "/nonexistent-disk"], "No such file"),
    (["--backend", "dir", "--size", "1G"], "for the btrfs backend"),
    (["--file", "x", "--device", "y"], "exclude each other"),
    (["extra"], "unexpected argument"),
])
def test_init_errors_leave_nothing(bare, args, what):
    r = bare.fails("hull", "init", *args)
    assert what in r.err
    nothing_left(bare)


def test_init_refuses_a_file_that_is_not_a_pool(bare):
    img = os.path.join(bare.workdir, "other.img")
    write(img, "precious data" * 100000)
    r = bare.fails("hull", "init", "--file", img)
    assert "refusing" in r.err
    assert read(img) == "precious data" * 100000
    nothing_left(bare)


def test_init_without_parent_folder(bare):
    bare.env["HULL_ROOT"] = os.path.join(bare.workdir, "no", "such", "zones")
    r = bare.fails("hull", "init", "--backend", "dir")
    assert "does not exist" in r.err
    assert not os.path.exists(os.path.join(bare.workdir, "no"))


def test_init_mkfs_failure_leaves_nothing(bare):
    # A file system that cannot hold the pool file: a 1 MiB tmpfs.
    small = os.path.join(bare.workdir, "small")
    os.mkdir(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", small], check=True)
    try:
        img = os.path.join(small, "p.img")
        r = bare.fails("hull", "init", "--file", img, "--size", "1G")
        assert "mkfs.btrfs" in r.err or "No space" in r.err
        assert not os.path.exists(img)
        nothing_left(bare)
    finally:
        subprocess.run(["umount", small])


def test_init_on_a_block_device(bare):
    backing = os.path.join(bare.workdir, "disk.img")
    with open(backing, "wb") as f:
        f.truncate(1 << 30)
    dev = subprocess.run(["losetup", "-f", "--show", backing], capture_output=True,
                         text=True, check=True).stdout.strip()
    try:
        bare.run("hull", "init", "--device", dev)
        assert mounted(bare.root)
        bare.run("hull", "pool", "create", "d")
        bare.run("hull", "fini")
        # The device still holds the pool: init mounts it again.
        assert "mounted" in bare.run("hull", "init", "--device", dev).out
        assert "d" in listing(bare)
        bare.run("hull", "fini")
        # A device with another filesystem is refused.
        subprocess.run(["mkfs.ext4", "-q", "-F", dev], check=True)
        r = bare.fails("hull", "init", "--device", dev)
        assert "ext4" in r.err
        assert not mounted(bare.root) and os.listdir(bare.root) == []
    finally:
        subprocess.run(["losetup", "-d", dev])


def test_commands_need_init(bare):
    r = bare.fails("hull", "pool", "list")
    assert "hull init" in r.err


def test_help_and_usage(bare):
    assert "hull init" in bare.run("hull", "--help").out or "init" in bare.run("hull", "--help").out
    bare.fails("hull", "frobnicate", rc=2)
    bare.fails("hull", rc=2)


# ---- datasets ----

def test_create_snapshot_clone_destroy(pool):
    pool.run("hull", "pool", "create", "images/a")
    a = os.path.join(pool.root, "images", "a")
    write(os.path.join(a, "f"), "v1")
    pool.run("hull", "pool", "snapshot", "images/a@final")
    pool.run("hull", "pool", "clone", "images/a@final", "inst")
    inst = os.path.join(pool.root, "inst")
    assert read(os.path.join(inst, "f")) == "v1"
    # Clone independence, both ways.
    write(os.path.join(inst, "f"), "changed in clone")
    assert read(os.path.join(a, "f")) == "v1"
    write(os.path.join(a, "f"), "changed in origin")
    assert read(os.path.join(inst, "f")) == "changed in clone"
    ls = listing(pool)
    assert set(ls) == {"images/a", "images/a@final", "inst"}
    assert ls["inst"]["origin"] == "images/a@final"
    assert ls["images/a@final"]["type"] == "snapshot"
    # Snapshots never show inside the dataset.
    assert os.listdir(a) == ["f"]
    # Destroying what a clone depends on is refused and changes nothing.
    r = pool.fails("hull", "pool", "destroy", "images/a@final")
    assert "inst" in r.err
    r = pool.fails("hull", "pool", "destroy", "images/a")
    assert "clones" in r.err
    assert set(listing(pool)) == {"images/a", "images/a@final", "inst"}
    pool.run("hull", "pool", "destroy", "inst")
    pool.run("hull", "pool", "destroy", "images/a")
    assert listing(pool) == {}
    assert not os.path.exists(a)


def test_snapshot_is_read_only(pool):
    pool.run("hull", "pool", "create", "ro")
    write(os.path.join(pool.root, "ro", "f"), "x")
    os.mkdir(os.path.join(pool.root, "ro", "sub"))
    pool.run("hull", "pool", "snapshot", "ro@s")
    snapdir = [d for d in os.listdir(os.path.join(pool.root, ".snapshots"))
               if d == "ro"][0]
    snap = os.path.join(pool.root, ".snapshots", snapdir, "s")
    for attempt in (lambda: write(os.path.join(snap, "f"), "y"),
                    lambda: write(os.path.join(snap, "new"), "y"),
                    lambda: write(os.path.join(snap, "sub", "new"), "y"),
                    lambda: os.unlink(os.path.join(snap, "f"))):
        with pytest.raises(OSError):
            attempt()
    assert read(os.path.join(snap, "f")) == "x"


def test_dataset_errors(pool):
    pool.run("hull", "pool", "create", "a")
    for args, what in [
        (["create", "a"], "already exists"),
        (["create", "../etc"], "not a valid dataset name"),
        (["create", "var"], "not a valid dataset name"),
        (["create", "missing/child"], "parent of missing/child does not exist"),
        (["snapshot", "nope@s"], "no such dataset"),
        (["snapshot", "a"], "not a valid snapshot name"),
        (["clone", "a@none", "b"], "no such snapshot"),
        (["destroy", "nope"], "no such dataset"),
        (["rename", "a", "images"], "already exists"),
        (["quota", "a", "lots"], "not a size"),
        (["frob"], "unknown subcommand"),
    ]:
        r = pool.fails("hull", "pool", *args)
        assert what in r.err, (args, r.err)
    assert set(listing(pool)) == {"a"}


def test_rename_keeps_snapshots_and_clone_origins(pool):
    pool.run("hull", "pool", "create", "images/x-partial")
    pool.run("hull", "pool", "snapshot", "images/x-partial@final")
    pool.run("hull", "pool", "clone", "images/x-partial@final", "vm")
    pool.run("hull", "pool", "rename", "images/x-partial", "images/x")
    ls = listing(pool)
    assert set(ls) == {"images/x", "images/x@final", "vm"}
    assert ls["vm"]["origin"] == "images/x@final"


def test_destroy_is_recursive(pool):
    pool.run("hull", "pool", "create", "z")
    pool.run("hull", "pool", "create", "z/root")
    pool.run("hull", "pool", "snapshot", "z/root@a")
    pool.run("hull", "pool", "snapshot", "z@b")
    pool.run("hull", "pool", "destroy", "z")
    assert listing(pool) == {}
    assert not os.path.exists(os.path.join(pool.root, "z"))
