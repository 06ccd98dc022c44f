"""The pool as an operator uses it: `hull init`/`hull fini` and `hull pool`.

Each test gets its own pool root (and pool file) under a temporary folder;
the fixtures in conftest.py unmount and detach everything afterwards.
"""
import json
import os
import shutil
import subprocess
import time

import pytest

import skips
from conftest import Host, prog


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
        # The kernel lets go of an unmounted btrfs device a moment later.
        for _ in range(50):
            if subprocess.run(["mkfs.ext4", "-q", "-F", dev],
                              capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"mkfs.ext4 {dev} keeps failing")
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


def test_rollback(pool):
    pool.run("hull", "pool", "create", "r")
    d = os.path.join(pool.root, "r")
    write(os.path.join(d, "f"), "before")
    pool.run("hull", "pool", "snapshot", "r@s")
    write(os.path.join(d, "f"), "after")
    write(os.path.join(d, "g"), "new")
    pool.run("hull", "pool", "rollback", "r@s")
    assert read(os.path.join(d, "f")) == "before"
    assert sorted(os.listdir(d)) == ["f"]
    write(os.path.join(d, "g"), "writable again")
    assert "r@s" in listing(pool)
    r = pool.fails("hull", "pool", "rollback", "r@gone")
    assert "no such snapshot" in r.err
    # A nested dataset (an instance's root) is left as it is.
    pool.run("hull", "pool", "create", "r/root")
    write(os.path.join(d, "root", "etc"), "zone file")
    pool.run("hull", "pool", "snapshot", "r@s2")
    write(os.path.join(d, "root", "etc"), "changed after s2")
    write(os.path.join(d, "top"), "changed after s2")
    pool.run("hull", "pool", "rollback", "r@s2")
    assert read(os.path.join(d, "root", "etc")) == "changed after s2"
    assert not os.path.exists(os.path.join(d, "top"))
    assert "r/root" in listing(pool)


def test_list_used_and_referenced(pool):
    pool.run("hull", "pool", "create", "big")
    with open(os.path.join(pool.root, "big", "data"), "wb") as f:
        f.write(os.urandom(8 << 20))
    pool.run("hull", "pool", "snapshot", "big@s")
    pool.run("hull", "pool", "clone", "big@s", "copy")
    ls = listing(pool)
    for name in ("big", "big@s", "copy"):
        assert ls[name]["referenced"] >= 8 << 20, ls[name]
    if pool.backend == "btrfs":
        # The clone shares every block with its origin: nothing of its own.
        assert ls["copy"]["used"] < 1 << 20
        with open(os.path.join(pool.root, "copy", "more"), "wb") as f:
            f.write(os.urandom(2 << 20))
        ls = listing(pool)
        assert 2 << 20 <= ls["copy"]["used"] < 3 << 20
        assert ls["copy"]["referenced"] >= 10 << 20
    else:
        assert ls["copy"]["used"] == ls["copy"]["referenced"]
    # Limits to one dataset and its children; -t snapshot only snapshots.
    assert set(listing(pool, "big")) == {"big", "big@s"}
    assert set(listing(pool, "-t", "snapshot")) == {"big@s"}
    table = pool.run("hull", "pool", "list").out.splitlines()
    assert table[0].split() == ["NAME", "USED", "REFER", "QUOTA", "ORIGIN"]
    assert table[1].split()[0] == "big"
    row = pool.run("hull", "pool", "list", "-H", "-p", "copy").out.split()
    assert row[0] == "copy" and int(row[2]) >= 8 << 20 and row[4] == "big@s"


def test_quota(pool):
    pool.run("hull", "pool", "create", "q")
    if pool.backend == "dir":
        r = pool.fails("hull", "pool", "quota", "q", "1M")
        assert "btrfs" in r.err
        return
    pool.run("hull", "pool", "quota", "q", "4M")
    assert listing(pool)["q"]["quota"] == 4 << 20
    path = os.path.join(pool.root, "q", "fill")
    with pytest.raises(OSError) as e:
        with open(path, "wb") as f:
            for _ in range(16):
                f.write(b"\0" * (1 << 20))
                f.flush()
                os.fsync(f.fileno())
    assert e.value.errno == 122  # EDQUOT
    os.unlink(path)
    pool.run("hull", "pool", "quota", "q", "none")
    assert listing(pool)["q"]["quota"] == 0
    with open(path, "wb") as f:
        f.write(b"\0" * (8 << 20))
        os.fsync(f.fileno())


def second_pool(host, backend):
    """Another pool beside host's, in the same work folder."""
    other = Host(os.path.join(host.workdir, "other"), host.workdir)
    if backend == "btrfs":
        other.run("hull", "init", "--file", os.path.join(host.workdir, "other.img"),
                  "--size", "1G")
    else:
        other.run("hull", "init", "--backend", "dir")
    return other


def snapshot_tree(root):
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("dir", st.st_mode)
            else:
                out[rel] = ("file", st.st_mode, read(p), int(st.st_mtime))
    return out


def test_send_receive_full_and_incremental(pool):
    src = os.path.join(pool.root, "d")
    pool.run("hull", "pool", "create", "d")
    write(os.path.join(src, "f"), "one")
    os.makedirs(os.path.join(src, "sub", "deep"))
    write(os.path.join(src, "sub", "deep", "x"), "x")
    os.symlink("f", os.path.join(src, "lnk"))
    os.chmod(os.path.join(src, "f"), 0o640)
    os.mkdir(os.path.join(src, "gone"))
    write(os.path.join(src, "gone", "y"), "y")
    pool.run("hull", "pool", "snapshot", "d@1")
    write(os.path.join(src, "g"), "two")
    os.unlink(os.path.join(src, "f"))
    shutil.rmtree(os.path.join(src, "gone"))
    write(os.path.join(src, "sub", "deep", "x"), "changed")
    pool.run("hull", "pool", "snapshot", "d@2")

    full = os.path.join(pool.workdir, "full.stream")
    incr = os.path.join(pool.workdir, "incr.stream")
    with open(full, "wb") as f:
        subprocess.run([prog("hull"), "pool", "send", "d@1"], stdout=f,
                       env=pool.env, check=True)
    with open(incr, "wb") as f:
        subprocess.run([prog("hull"), "pool", "send", "-i", "d@1", "d@2"],
                       stdout=f, env=pool.env, check=True)
    # An incremental stream carries only the change.
    assert os.path.getsize(incr) < os.path.getsize(full) or pool.backend == "btrfs"

    other = second_pool(pool, pool.backend)
    try:
        # The incremental one needs its base first.
        with open(incr, "rb") as f:
            cp = subprocess.run([prog("hull"), "pool", "receive", "copy"], stdin=f,
                                env=other.env, capture_output=True, text=True)
        assert cp.returncode != 0 and len(cp.stderr.strip().splitlines()) == 1
        assert "copy" not in listing(other)
        for stream in (full, incr):
            with open(stream, "rb") as f:
                subprocess.run([prog("hull"), "pool", "receive", "copy"], stdin=f,
                               env=other.env, check=True)
        ls = listing(other)
        assert set(ls) == {"copy", "copy@1", "copy@2"}
        snaps = os.path.join(other.root, ".snapshots", "copy")
        assert snapshot_tree(os.path.join(snaps, "1")) == \
            snapshot_tree(os.path.join(pool.root, ".snapshots", "d", "1"))
        assert snapshot_tree(os.path.join(snaps, "2")) == \
            snapshot_tree(os.path.join(pool.root, ".snapshots", "d", "2"))
        assert snapshot_tree(os.path.join(other.root, "copy")) == snapshot_tree(src)
        # The received dataset is an ordinary writable dataset.
        write(os.path.join(other.root, "copy", "h"), "mine")
        # Receiving the same full stream again is refused, nothing changes.
        with open(full, "rb") as f:
            cp = subprocess.run([prog("hull"), "pool", "receive", "copy"], stdin=f,
                                env=other.env, capture_output=True, text=True)
        assert cp.returncode != 0 and len(cp.stderr.strip().splitlines()) == 1
        assert set(listing(other)) == {"copy", "copy@1", "copy@2"}
        # A truncated stream is refused and leaves nothing.
        with open(full, "rb") as f:
            data = f.read()
        cp = subprocess.run([prog("hull"), "pool", "receive", "cut"],
                            input=data[:len(data) // 2], env=other.env,
                            capture_output=True)
        assert cp.returncode != 0 and len(cp.stderr.strip().splitlines()) == 1
        assert "cut" not in listing(other)
        assert not os.path.exists(os.path.join(other.root, "cut"))
        assert [e for e in os.listdir(os.path.join(other.root, ".snapshots"))
                if e != "copy"] == []
    finally:
        other.run("hull", "fini", check=False)


def test_send_errors(pool):
    pool.run("hull", "pool", "create", "s")
    pool.run("hull", "pool", "snapshot", "s@1")
    pool.run("hull", "pool", "create", "t")
    pool.run("hull", "pool", "snapshot", "t@1")
    for args, what in [
        (["send", "s@nope"], "no such snapshot"),
        (["send", "-i", "t@1", "s@1"], "not a snapshot of s"),
        (["send", "-i", "s@1", "s@1"], "itself"),
        (["receive", "bad name"], "not a valid dataset name"),
    ]:
        r = pool.fails("hull", "pool", *args)
        assert what in r.err, (args, r.err)
    r = pool.fails("hull", "pool", "receive", "junk", input="garbage\n")
    assert "junk" not in listing(pool)


@pytest.mark.parametrize("mode", ["simple", "full", "none"])
def test_quota_modes(bare, mode):
    img = os.path.join(bare.workdir, "p.img")
    r = bare.run("hull", "init", "--file", img, "--size", "1G", "--quota", mode,
                 check=False)
    if r.rc != 0 and mode == "simple" and "Invalid argument" in r.err:
        skips.skip("kernel-lacks", "this kernel has no simple quotas (needs 6.7+)")
    assert r.rc == 0, r
    try:
        cfg = json.load(open(os.path.join(bare.root, "var", "pool.json")))
        assert cfg["quotas"] == mode
        bare.run("hull", "pool", "create", "m")
        with open(os.path.join(bare.root, "m", "data"), "wb") as f:
            f.write(os.urandom(4 << 20))
        bare.run("hull", "pool", "snapshot", "m@s")
        bare.run("hull", "pool", "clone", "m@s", "c")
        ls = listing(bare)
        # Whatever the accounting, what a dataset sees is counted.
        for name in ("m", "m@s", "c"):
            assert ls[name]["referenced"] >= 4 << 20, (name, ls[name])
        if mode == "none":
            r = bare.fails("hull", "pool", "quota", "c", "1M")
            assert "quotas are off" in r.err
            return
        if mode == "simple":
            # Charged to the writer, whoever shares the blocks since.
            assert ls["m"]["used"] >= 4 << 20
        else:
            # Exclusive bytes: m shares all of its data with m@s.
            assert ls["m"]["used"] < 1 << 20
        assert ls["c"]["used"] < 1 << 20
        bare.run("hull", "pool", "quota", "c", "2M")
        with pytest.raises(OSError) as e:
            with open(os.path.join(bare.root, "c", "fill"), "wb") as f:
                for _ in range(64):
                    f.write(b"\1" * (1 << 20))
                    f.flush()
                    os.fsync(f.fileno())
        assert e.value.errno == 122  # EDQUOT
    finally:
        bare.run("hull", "fini", check=False)


def test_init_quota_option_errors(bare):
    r = bare.fails("hull", "init", "--quota", "lots")
    assert "--quota takes" in r.err
    r = bare.fails("hull", "init", "--backend", "dir", "--quota", "full")
    assert "for the btrfs backend" in r.err


def test_init_sweeps_leftovers_of_killed_commands(pool):
    pool.run("hull", "pool", "create", "images/keep")
    write(os.path.join(pool.root, "images", "keep", "f"), "kept")
    pool.run("hull", "pool", "snapshot", "images/keep@s")
    snaps = os.path.join(pool.root, ".snapshots")
    # What a command killed midway leaves: a record being built, a dataset
    # moved aside, a half-made copy.
    os.makedirs(os.path.join(snaps, ".new-999-0"))
    write(os.path.join(snaps, ".new-999-0", "@origin"), "images/keep@s\n")
    trash = os.path.join(snaps, ".trash-999-1")
    if pool.backend == "btrfs":
        subprocess.run(["btrfs", "-q", "subvolume", "create", trash], check=True)
    else:
        os.mkdir(trash)
    write(os.path.join(trash, "junk"), "x" * 1000)
    os.makedirs(os.path.join(pool.root, "images", ".copy-half"))
    os.makedirs(os.path.join(snaps, "images:keep", ".copy-s2"))
    assert "already" in pool.run("hull", "init").out
    assert sorted(os.listdir(snaps)) == ["images:keep"]
    assert os.listdir(os.path.join(snaps, "images:keep")) == ["s"]
    assert os.listdir(os.path.join(pool.root, "images")) == ["keep"]
    assert read(os.path.join(pool.root, "images", "keep", "f")) == "kept"
    assert set(listing(pool)) == {"images/keep", "images/keep@s"}
