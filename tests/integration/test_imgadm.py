"""imgadm as an operator uses it: install, list, get, delete, vacuum,
ancestry, sources, avail, show and import (IMGAPI on loopback, local
folders, docker save and OCI archives), and every kind of bad input refused
with one line on stderr and the pool left exactly as it was."""
import json
import os
import socket
import stat
import subprocess
import tarfile

import pytest

import imgtools as it
from conftest import ROOT, Host, _init_pool


@pytest.fixture(autouse=True)
def _unfreeze(workdir):
    """The dir backend makes snapshots immutable; let the cleanup remove
    them."""
    yield
    subprocess.run(["chattr", "-R", "-i", workdir], capture_output=True)


@pytest.fixture
def dirpool(bare):
    """A dir-backend pool: fast, for the many bad-input cases."""
    _init_pool(bare, "dir")
    bare.backend = "dir"
    yield bare
    bare.run("hull", "fini", check=False)


@pytest.fixture
def files(workdir):
    d = os.path.join(workdir, "files")
    os.makedirs(d)
    return d


def install(host, mpath, fpath):
    return host.run("imgadm", "install", "-m", mpath, "-f", fpath)


def root_of(host, uuid):
    return os.path.join(host.root, "images", uuid, "root")


def no_default_source(host):
    """Tests never reach the internet: drop SmartOS's default source."""
    host.run("imgadm", "sources", "-d", "https://images.smartos.org")


# ---- install, list, get, delete ----

def test_busybox_builder_can_carry_the_guest_tools(bare, files):
    """mkimage-busybox -M puts hull's static mdata tools in /usr/sbin and
    ships no /etc/hostname (the payload names the instance)."""
    import tarfile
    from conftest import prog
    tools = os.path.dirname(prog("mdata-get"))
    mpath = subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"),
                            "-o", files, "-M", tools], capture_output=True,
                           text=True, check=True).stdout.strip()
    with tarfile.open(mpath[:-len(".json")] + ".tar.gz") as t:
        names = set(t.getnames())
        for tool in ("mdata-get", "mdata-put", "mdata-list", "mdata-delete"):
            m = t.getmember(f"./usr/sbin/{tool}")
            assert m.isreg() and m.mode & 0o111, tool
    assert "./etc/hostname" not in names
    r = subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"),
                        "-o", files, "-M", files], capture_output=True, text=True)
    assert r.returncode != 0 and "mdata-get is missing" in r.stderr


def test_install_list_get_delete(pool, files):
    out = subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"),
                          "-o", files, "-V", "1.2.3"], capture_output=True,
                         text=True, check=True).stdout.strip()
    mpath = out
    fpath = mpath[:-len(".json")] + ".tar.gz"
    m = json.load(open(mpath))
    uuid = m["uuid"]
    r = install(pool, mpath, fpath)
    assert f"Installed image {uuid} (busybox@1.2.3)" in r.out

    root = root_of(pool, uuid)
    assert os.access(os.path.join(root, "bin", "busybox"), os.X_OK)
    assert os.readlink(os.path.join(root, "bin", "sh")) == "busybox"
    assert os.readlink(os.path.join(root, "sbin", "init")) == "../bin/busybox"
    assert "root:x:0:0" in open(os.path.join(root, "etc", "passwd")).read()
    assert stat.S_IMODE(os.stat(os.path.join(root, "tmp")).st_mode) == 0o1777

    names = [e["name"] for e in json.loads(pool.run("hull", "pool", "list", "-j").out)]
    assert f"images/{uuid}" in names and f"images/{uuid}@final" in names
    assert not any(n.endswith("-partial") for n in names)

    lines = pool.run("imgadm", "list").out.splitlines()
    assert lines[0].split() == ["UUID", "NAME", "VERSION", "OS", "TYPE", "PUB"]
    assert lines[1].split()[:5] == [uuid, "busybox", "1.2.3", "linux", "lx-dataset"]

    info = json.loads(pool.run("imgadm", "get", uuid).out)
    assert info["manifest"] == {**m, **info["manifest"]}
    assert info["manifest"]["uuid"] == uuid and info["clones"] == 0
    assert info["zpool"] == "zones" and "source" not in info
    assert json.loads(pool.run("imgadm", "info", uuid).out)["manifest"]["uuid"] == uuid

    r = pool.run("imgadm", "delete", uuid)
    assert f"Deleted image {uuid}" in r.out
    assert pool.run("imgadm", "list", "-H").out == ""
    assert not os.path.exists(os.path.join(pool.root, "images", uuid))
    pool.fails("imgadm", "get", uuid, rc=3)


def test_install_over_leftover_partial(dirpool, files):
    """An install killed midway leaves images/UUID-partial; installing the
    same image again starts afresh."""
    m, mpath, fpath = it.image(files)
    dirpool.run("hull", "pool", "create", f"images/{m['uuid']}-partial")
    open(os.path.join(dirpool.root, "images", m["uuid"] + "-partial", "junk"), "w").close()
    install(dirpool, mpath, fpath)
    names = [e["name"] for e in json.loads(dirpool.run("hull", "pool", "list", "-j").out)]
    assert names == [f"images/{m['uuid']}", f"images/{m['uuid']}@final"]
    assert not os.path.exists(os.path.join(dirpool.root, "images", m["uuid"], "junk"))


def test_not_installed_exits_3(dirpool):
    u = "11111111-2222-4333-8444-555555555555"
    r = dirpool.fails("imgadm", "get", u, rc=3)
    assert "not installed" in r.err
    dirpool.fails("imgadm", "delete", u, rc=3)
    dirpool.fails("imgadm", "ancestry", u, rc=3)
    # -E: the same error again as JSON, the last line.
    r = dirpool.run("imgadm", "-E", "get", u, check=False)
    assert r.rc == 3
    lines = r.err.splitlines()
    assert len(lines) == 2 and "not installed" in lines[0]
    assert json.loads(lines[1])["code"] == "ImageNotInstalled"


def test_uninitialised_root_names_hull_init(bare):
    r = bare.fails("imgadm", "list")
    assert "hull init" in r.err


@pytest.mark.parametrize("compression", ["none", "gzip", "bzip2", "xz", "zstd"])
def test_install_every_compression(dirpool, files, compression):
    m, mpath, fpath = it.image(files, compression=compression)
    install(dirpool, mpath, fpath)
    assert open(os.path.join(root_of(dirpool, m["uuid"]), "bin", "hello")).read() \
        == "#!/bin/sh\necho hello\n"


def test_install_preserves_owners_modes_links_xattrs(dirpool, files):
    def entries(tf):
        it.add(tf, "d", kind="dir", mode=0o750, uid=1000, gid=1001)
        it.add(tf, "d/setuid", b"x", mode=0o4755, uid=0, gid=0)
        it.add(tf, "d/owned", b"y", mode=0o600, uid=1234, gid=5678)
        it.add(tf, "d/link", kind="symlink", target="owned")
        it.add(tf, "d/abs", kind="symlink", target="/etc/passwd")
        it.add(tf, "d/hard", kind="hardlink", target="d/owned")
        it.add(tf, "d/fifo", kind="fifo", mode=0o640)
        it.add(tf, "ro", kind="dir", mode=0o555)
        it.add(tf, "ro/inside", b"z")
        ti = tarfile.TarInfo("d/xattr")
        ti.size = 1
        ti.pax_headers = {"SCHILY.xattr.user.hull": "yes"}
        import io
        tf.addfile(ti, io.BytesIO(b"q"))
    m, mpath, fpath = it.image(files, entries)
    install(dirpool, mpath, fpath)
    r = root_of(dirpool, m["uuid"])
    st = os.lstat(os.path.join(r, "d"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o750)
    assert stat.S_IMODE(os.stat(os.path.join(r, "d/setuid")).st_mode) == 0o4755
    st = os.stat(os.path.join(r, "d/owned"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 5678, 0o600)
    assert st.st_mtime == 1700000000
    assert os.readlink(os.path.join(r, "d/link")) == "owned"
    assert os.readlink(os.path.join(r, "d/abs")) == "/etc/passwd"
    assert os.stat(os.path.join(r, "d/hard")).st_ino == st.st_ino
    assert stat.S_ISFIFO(os.lstat(os.path.join(r, "d/fifo")).st_mode)
    assert stat.S_IMODE(os.stat(os.path.join(r, "ro")).st_mode) == 0o555
    assert open(os.path.join(r, "ro/inside")).read() == "z"
    assert os.getxattr(os.path.join(r, "d/xattr"), "user.hull") == b"yes"


def test_install_zvol(dirpool, files):
    raw = os.path.join(files, "disk.raw")
    data = os.urandom(4096) + b"\0" * (1 << 20) + b"tail"
    open(raw, "wb").write(data)
    subprocess.run(["gzip", "-k", raw], check=True)
    m = it.manifest(raw + ".gz", type="zvol", image_size=2)
    mpath = it.write_json(os.path.join(files, "disk.json"), m)
    install(dirpool, mpath, raw + ".gz")
    disk = os.path.join(dirpool.root, "images", m["uuid"], "disk")
    assert open(disk, "rb").read() == data
    # The zeros became a hole.
    assert os.stat(disk).st_blocks * 512 < len(data)


# ---- list options ----

@pytest.fixture
def three(dirpool, files):
    ms = []
    for i, (name, ver, pub, public) in enumerate([
            ("base", "1.0", "2024-03-01T00:00:00Z", True),
            ("alpine", "3.19", "2024-01-01T00:00:00Z", False),
            ("base", "2.0", "2024-02-01T00:00:00Z", True)]):
        d = os.path.join(files, str(i))
        os.makedirs(d)
        m, mpath, fpath = it.image(d, name=name, version=ver,
                                   published_at=pub, public=public,
                                   tags={"role": "os" if i else "db"})
        install(dirpool, mpath, fpath)
        ms.append(m)
    return dirpool, ms


def test_list_sort_filter_columns(three):
    host, ms = three
    # Default sort: published_at, then name.
    out = host.run("imgadm", "list", "-H", "-o", "name,version").out
    assert [l.split() for l in out.splitlines()] == \
        [["alpine", "3.19"], ["base", "2.0"], ["base", "1.0"]]
    out = host.run("imgadm", "list", "-H", "-o", "version", "-s", "-version").out
    assert out.split() == ["3.19", "2.0", "1.0"]
    out = host.run("imgadm", "list", "-H", "-o", "version", "-s", "name,-published_at").out
    assert out.split() == ["3.19", "1.0", "2.0"]
    out = host.run("imgadm", "list", "-H", "-o", "uuid", "name=base").out
    assert sorted(out.split()) == sorted([ms[0]["uuid"], ms[2]["uuid"]])
    out = host.run("imgadm", "list", "-H", "-o", "name", "name=~alp").out
    assert out.split() == ["alpine"]
    out = host.run("imgadm", "list", "-H", "-o", "name", "public=false").out
    assert out.split() == ["alpine"]
    out = host.run("imgadm", "list", "-H", "-o", "version", "tags.role=db").out
    assert out.split() == ["1.0"]
    out = host.run("imgadm", "list", "-H", "-o", "name", "name=base", "version=2.0").out
    assert out.split() == ["base"]
    out = host.run("imgadm", "list", "-o", "name,pub,published,clones,size").out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "PUB", "PUBLISHED", "CLONES", "SIZE"]
    assert lines[1].split()[:4] == ["alpine", "2024-01-01", "2024-01-01T00:00:00Z", "0"]
    out = host.run("imgadm", "list", "-p", "-o", "name,published", "name=alpine").out
    assert out == "alpine:2024-01-01T00\\:00\\:00Z\n"
    js = json.loads(host.run("imgadm", "list", "-j", "name=base").out)
    assert {j["manifest"]["version"] for j in js} == {"1.0", "2.0"}
    assert all(j["clones"] == 0 and j["zpool"] == "zones" for j in js)
    # A missing field shows as "-".
    out = host.run("imgadm", "list", "-H", "-o", "name,description", "name=alpine").out
    assert out.split() == ["alpine", "-"]


def test_list_usage_errors(dirpool):
    dirpool.fails("imgadm", "list", "-o", "", rc=2)
    dirpool.fails("imgadm", "list", "notafilter", rc=2)
    dirpool.fails("imgadm", "list", "-x", rc=2)


# ---- delete refusals, vacuum, ancestry ----

def test_delete_refused_while_cloned_or_origin(pool, files):
    a, ampath, afpath = it.image(files, name="parent")
    install(pool, ampath, afpath)
    d = os.path.join(files, "child")
    os.makedirs(d)
    b, bmpath, bfpath = it.image(d, name="child", origin=a["uuid"])
    install(pool, bmpath, bfpath)

    r = pool.fails("imgadm", "delete", a["uuid"])
    assert "in use" in r.err and b["uuid"] in r.err

    inst = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
    pool.run("hull", "pool", "clone", f"images/{b['uuid']}@final", inst)
    before = it.state(pool)
    r = pool.fails("imgadm", "delete", b["uuid"])
    assert "in use" in r.err and inst in r.err
    assert it.state(pool) == before
    assert json.loads(pool.run("imgadm", "get", b["uuid"]).out)["clones"] == 1

    out = pool.run("imgadm", "ancestry", "-H", "-o", "name", b["uuid"]).out
    assert out.split() == ["child", "parent"]
    js = json.loads(pool.run("imgadm", "ancestry", "-j", b["uuid"]).out)
    assert [j["manifest"]["uuid"] for j in js] == [b["uuid"], a["uuid"]]

    # Nothing unused: vacuum leaves both.
    assert "Nothing to vacuum" in pool.run("imgadm", "vacuum", "-f").out
    pool.run("hull", "pool", "destroy", inst)
    out = pool.run("imgadm", "vacuum", "-n").out
    assert f"Would delete image {b['uuid']}" in out and a["uuid"] in out
    assert len(pool.run("imgadm", "list", "-H").out.splitlines()) == 2
    pool.fails("imgadm", "vacuum")  # not a terminal, no -f
    # What a killed install leaves goes too.
    pool.run("hull", "pool", "create", "images/%s-partial" % b["uuid"].replace("b", "c"))
    out = pool.run("imgadm", "vacuum", "-f").out
    assert out.index(b["uuid"]) < out.index(a["uuid"])
    assert "-partial (left by an interrupted install)" in out
    assert pool.run("imgadm", "list", "-H").out == ""
    assert json.loads(pool.run("hull", "pool", "list", "-j").out) == []


# ---- bad input: one line, nothing changed ----

def refused(host, args, words, rc=1):
    before = it.state(host)
    r = host.fails("imgadm", *args, rc=rc)
    for w in words:
        assert w in r.err, r.err
    assert it.state(host) == before
    return r


def test_sha1_mismatch(pool, files):
    m, mpath, fpath = it.image(files)
    m["files"][0]["sha1"] = "0" * 40
    it.write_json(mpath, m)
    refused(pool, ["install", "-m", mpath, "-f", fpath], ["sha1 mismatch"])


def test_size_mismatch(dirpool, files):
    m, mpath, fpath = it.image(files)
    m["files"][0]["size"] += 1
    it.write_json(mpath, m)
    refused(dirpool, ["install", "-m", mpath, "-f", fpath], ["size mismatch"])


def big_entries(tf):
    it.add(tf, "big", os.urandom(256 << 10))
    it.add(tf, "after", b"x")


def test_truncated_archive(pool, files):
    fpath = it.make_tar(os.path.join(files, "t.tar.gz"), big_entries)
    data = open(fpath, "rb").read()
    open(fpath, "wb").write(data[: len(data) // 2])
    mpath = it.write_json(os.path.join(files, "t.json"), it.manifest(fpath))
    r = refused(pool, ["install", "-m", mpath, "-f", fpath], [])
    assert "truncated" in r.err.lower() or "premature" in r.err.lower() \
        or "unexpected end" in r.err.lower(), r.err


def text_entries(tf):
    it.add(tf, "etc", kind="dir", mode=0o755)
    for i in range(20):
        it.add(tf, f"etc/file{i}", ("line %d of some text\n" % i).encode() * 2000)


@pytest.mark.parametrize("where", ["gzip-stream", "tar-header"])
def test_corrupt_archive(dirpool, files, where):
    comp = "gzip" if where == "gzip-stream" else "none"
    fpath = it.make_tar(os.path.join(files, "c.tar"), text_entries, comp)
    data = bytearray(open(fpath, "rb").read())
    if where == "gzip-stream":
        for i in range(len(data) // 2, len(data) // 2 + 64):
            data[i] ^= 0x5A
    else:
        # A header in the middle: its checksum no longer matches.
        with tarfile.open(fpath) as tf:
            off = tf.getmembers()[5].offset
        data[off + 148: off + 156] = b"9999999\0"
    open(fpath, "wb").write(data)
    mpath = it.write_json(os.path.join(files, "c.json"),
                          it.manifest(fpath, compression=comp))
    refused(dirpool, ["install", "-m", mpath, "-f", fpath], [fpath])


def test_not_an_archive(dirpool, files):
    fpath = os.path.join(files, "junk.tar.gz")
    open(fpath, "wb").write(os.urandom(5000))
    mpath = it.write_json(os.path.join(files, "j.json"), it.manifest(fpath))
    refused(dirpool, ["install", "-m", mpath, "-f", fpath], [fpath])


def test_compression_differs_from_manifest(dirpool, files):
    fpath = it.make_tar(os.path.join(files, "x.tar.xz"), compression="xz")
    mpath = it.write_json(os.path.join(files, "x.json"),
                          it.manifest(fpath, compression="gzip"))
    refused(dirpool, ["install", "-m", mpath, "-f", fpath],
            ["xz-compressed", "gzip"])


@pytest.mark.parametrize("change,field", [
    (lambda m: m.pop("uuid"), "uuid"),
    (lambda m: m.pop("name"), "name"),
    (lambda m: m.pop("files"), "files"),
    (lambda m: m.update(v="2"), "v"),
    (lambda m: m.update(uuid="not-a-uuid"), "uuid"),
    (lambda m: m.update(name=7), "name"),
    (lambda m: m.update(name="x" * 513), "name"),
    (lambda m: m.update(version="1" * 129), "version"),
    (lambda m: m["files"][0].update(size="12"), "files[0].size"),
    (lambda m: m["files"][0].pop("sha1"), "files[0].sha1"),
    (lambda m: m.update(public="yes"), "public"),
    (lambda m: m.update(tags={"a": [1]}), "tags.a"),
    (lambda m: m.update(published_at="yesterday"), "published_at"),
    (lambda m: m.update(requirements={"min_ram": "lots"}), "requirements.min_ram"),
])
def test_manifest_missing_or_mistyped(dirpool, files, change, field):
    m, mpath, fpath = it.image(files)
    change(m)
    it.write_json(mpath, m)
    r = refused(dirpool, ["install", "-m", mpath, "-f", fpath], [field])
    assert "manifest" in r.err


def test_manifest_not_json(dirpool, files):
    m, mpath, fpath = it.image(files)
    open(mpath, "w").write("{ not json")
    refused(dirpool, ["install", "-m", mpath, "-f", fpath], ["invalid JSON"])


def test_unknown_type(dirpool, files):
    m, mpath, fpath = it.image(files, type="solaris-zone")
    refused(dirpool, ["install", "-m", mpath, "-f", fpath],
            ["type", "solaris-zone"])


def test_unknown_compression(dirpool, files):
    m, mpath, fpath = it.image(files)
    m["files"][0]["compression"] = "lz4"
    it.write_json(mpath, m)
    refused(dirpool, ["install", "-m", mpath, "-f", fpath],
            ["compression", "lz4"])


def test_install_of_an_installed_image_is_skipped(pool, files):
    """Provisioning scripts run the same install again: SmartOS prints
    that the image is there (its installed name and version) and exits
    0, changing nothing."""
    m, mpath, fpath = it.image(files, name="base", version="23.4.0")
    install(pool, mpath, fpath)
    before = it.state(pool)
    r = install(pool, mpath, fpath)
    assert r.out == (f"Image {m['uuid']} (base 23.4.0) is already installed, "
                     "skipping\n")
    assert r.err == ""
    # Another file and name under the same uuid: still the installed one.
    d = os.path.join(files, "again")
    os.makedirs(d)
    m2, mpath2, fpath2 = it.image(d, uuid=m["uuid"], name="other")
    r = install(pool, mpath2, fpath2)
    assert "(base 23.4.0) is already installed, skipping" in r.out
    assert it.state(pool) == before
    got = json.loads(pool.run("imgadm", "get", m["uuid"]).out)["manifest"]
    assert got["name"] == "base"


def debootstrap_entries(tf):
    """What debootstrap, LXC/Incus rootfs tarballs and docker export carry
    under /dev: character and block nodes and FIFOs."""
    it.add(tf, "./", kind="dir", mode=0o755)
    it.add(tf, "./dev/", kind="dir", mode=0o755)
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5),
                               ("full", 1, 7), ("random", 1, 8),
                               ("tty", 5, 0)):
        it.add(tf, f"./dev/{name}", kind="chr", mode=0o666,
               devmajor=major, devminor=minor)
    it.add(tf, "./dev/loop0", kind="blk", mode=0o660, devmajor=7, devminor=0)
    it.add(tf, "./dev/xconsole", kind="fifo", mode=0o640)
    it.add(tf, "./dev/pts/", kind="dir", mode=0o755)
    it.add(tf, "./etc/", kind="dir", mode=0o755)
    it.add(tf, "./etc/debian_version", b"12.5\n")
    it.add(tf, "./run/", kind="dir", mode=0o755)
    it.add(tf, "./run/initctl", kind="fifo", mode=0o600)


def test_rootfs_device_nodes_are_left_out(pool, files):
    m, mpath, fpath = it.image(files, entries=debootstrap_entries)
    r = install(pool, mpath, fpath)
    warn = [l for l in r.err.splitlines() if l.strip()]
    assert len(warn) == 1, r.err
    assert "warning" in warn[0] and "7 device nodes" in warn[0], warn
    assert f"Installed image {m['uuid']}" in r.out
    root = root_of(pool, m["uuid"])
    assert open(os.path.join(root, "etc/debian_version")).read() == "12.5\n"
    assert os.path.isdir(os.path.join(root, "dev/pts"))
    assert os.listdir(os.path.join(root, "dev")) == ["pts"]
    # No node reached the pool; a FIFO outside /dev is kept.
    for dirpath, dirs, names in os.walk(pool.root):
        for n in dirs + names:
            mode = os.lstat(os.path.join(dirpath, n)).st_mode
            assert not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)), \
                os.path.join(dirpath, n)
    assert stat.S_ISFIFO(os.lstat(os.path.join(root, "run/initctl")).st_mode)
    # Without nodes, no warning.
    d = os.path.join(files, "plain")
    os.makedirs(d)
    _m2, mpath2, fpath2 = it.image(d)
    assert install(pool, mpath2, fpath2).err == ""


def test_v1_manifest_is_upgraded(pool, files):
    """A DSAPI (v1) manifest, written from its documented shape, installs
    as SmartOS's imgadm upgrades it (imgmanifest's rules)."""
    fpath = it.make_tar(os.path.join(files, "base64-1.7.0.tar.gz"))
    uuid = "8418dccc-c9c6-11e1-91e4-5b3a5ad5b22a"
    creator = "352971aa-31ba-496c-9ade-a379feaecd52"
    v1 = {
        "uuid": uuid,
        "name": "base64",
        "version": "1.7.0",
        "urn": "sdc:sdc:base64:1.7.0",
        "description": "A 64-bit SmartOS image",
        "type": "zone-dataset",
        "os": "smartos",
        "creator_uuid": creator,
        "vendor_uuid": creator,
        "creator_name": "sdc",
        "cloud_name": "sdc",
        "platform_type": "smartos",
        "created_at": "2012-07-10T17:45Z",
        "updated_at": "2012-07-10T17:45Z",
        "files": [{"path": "base64-1.7.0.tar.gz", "sha1": it.sha1(fpath),
                   "size": os.path.getsize(fpath),
                   "url": "https://datasets.example/base64-1.7.0.tar.gz"}],
        "requirements": {"networks": [{"name": "net0",
                                       "description": "public"}]},
    }
    mpath = it.write_json(os.path.join(files, "v1.json"), v1)
    install(pool, mpath, fpath)
    got = json.loads(pool.run("imgadm", "get", uuid).out)["manifest"]
    assert got["v"] == 2
    assert got["owner"] == creator
    assert got["public"] is True and "acl" not in got
    assert got["state"] == "active" and got["disabled"] is False
    assert got["published_at"] == "2012-07-10T17:45:00Z"
    assert got["urn"] == "sdc:sdc:base64:1.7.0"
    assert got["os"] == "smartos"
    assert got["requirements"] == v1["requirements"]
    assert got["files"] == [{"sha1": it.sha1(fpath),
                             "size": os.path.getsize(fpath),
                             "compression": "gzip"}]
    for gone in ("creator_uuid", "vendor_uuid", "creator_name", "cloud_name",
                 "platform_type", "created_at", "updated_at"):
        assert gone not in got, gone
    assert os.path.isfile(os.path.join(root_of(pool, uuid), "etc/passwd"))


def test_v1_manifest_restricted_and_without_creator(dirpool, files):
    fpath = it.make_tar(os.path.join(files, "r.tar.gz"))
    owner = "930896af-bf8c-48d4-885c-6573a94b1853"
    v1 = {"uuid": "5c7d0d24-3475-11e5-8e67-27953a8b237e", "name": "priv",
          "version": "1", "type": "zone-dataset", "os": "smartos",
          "creator_uuid": owner, "restricted_to_uuid": owner,
          "disabled": True, "published_at": "2013-01-02T03:04:05Z",
          "files": [{"path": "r.tar.gz", "sha1": it.sha1(fpath),
                     "size": os.path.getsize(fpath)}]}
    mpath = it.write_json(os.path.join(files, "r.json"), v1)
    install(dirpool, mpath, fpath)
    got = json.loads(dirpool.run("imgadm", "get", v1["uuid"]).out)["manifest"]
    assert got["public"] is False and got["acl"] == [owner]
    assert got["state"] == "disabled" and got["disabled"] is True
    assert got["published_at"] == "2013-01-02T03:04:05Z"
    # v 1 without creator_uuid cannot be upgraded: refused, one line.
    bad = dict(v1, uuid="6c7d0d24-3475-11e5-8e67-27953a8b237e", v=1)
    del bad["creator_uuid"]
    mpath = it.write_json(os.path.join(files, "bad.json"), bad)
    refused(dirpool, ["install", "-m", mpath, "-f", fpath], ["creator_uuid"])


def hostile(kind):
    def entries(tf):
        it.add(tf, "etc", kind="dir", mode=0o755)
        it.add(tf, "etc/ok", b"fine")
        if kind == "dotdot":
            it.add(tf, "etc/../../escape", b"evil")
        elif kind == "absolute":
            it.add(tf, "/tmp/hull-escape", b"evil")
        elif kind == "symlink":
            it.add(tf, "etc/up", kind="symlink", target="../../../../etc")
        elif kind == "hardlink":
            it.add(tf, "etc/shadow", kind="hardlink", target="../../etc/shadow")
        elif kind == "through-symlink":
            it.add(tf, "lnk", kind="symlink", target="/etc")
            it.add(tf, "lnk/passwd", b"evil")
        elif kind == "through-symlink-dir":
            it.add(tf, "lnk", kind="symlink", target="etc")
            it.add(tf, "lnk/x", kind="dir")
    return entries


@pytest.mark.parametrize("kind,words", [
    ("dotdot", ["..", "refused"]),
    ("absolute", ["absolute path"]),
    ("symlink", ["symlink pointing outside"]),
    ("hardlink", ["hard link target outside"]),
    ("through-symlink", ["through a symlink"]),
    ("through-symlink-dir", ["through a symlink"]),
])
def test_hostile_archive(pool, files, kind, words):
    fpath = it.make_tar(os.path.join(files, "h.tar.gz"), hostile(kind),
                        fmt=tarfile.GNU_FORMAT)
    mpath = it.write_json(os.path.join(files, "h.json"), it.manifest(fpath))
    refused(pool, ["install", "-m", mpath, "-f", fpath], words)
    assert not os.path.exists("/tmp/hull-escape")
    assert not os.path.exists(os.path.join(pool.workdir, "escape"))


def test_full_disk(bare, files):
    # A 6 MiB pool (tmpfs) and an image that unpacks to 16 MiB.
    os.makedirs(bare.root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "hull-test", bare.root],
                   check=True)
    _init_pool(bare, "dir")

    def entries(tf):
        for i in range(4):
            it.add(tf, f"blob{i}", os.urandom(4 << 20))
    fpath = it.make_tar(os.path.join(files, "big.tar.gz"), entries)
    mpath = it.write_json(os.path.join(files, "big.json"), it.manifest(fpath))
    r = refused(bare, ["install", "-m", mpath, "-f", fpath], [])
    assert "No space left on device" in r.err


def test_usage_errors(dirpool, files):
    dirpool.fails("imgadm", "install", "-f", "x", rc=2)
    dirpool.fails("imgadm", "install", "-m", "x", rc=2)
    dirpool.fails("imgadm", "get", rc=2)
    dirpool.fails("imgadm", "get", "nope", rc=2)
    dirpool.fails("imgadm", "nosuch", rc=2)
    r = dirpool.fails("imgadm", "install", "-m", os.path.join(files, "missing.json"),
                      "-f", "x")
    assert "missing.json" in r.err


SUBCOMMANDS = ["install", "list", "get", "info", "delete", "destroy", "vacuum",
               "ancestry", "sources", "avail", "available", "show", "import"]


@pytest.mark.parametrize("cmd", SUBCOMMANDS)
def test_subcommand_help(bare, cmd):
    r = bare.run("imgadm", cmd, "--help")
    assert r.out.startswith("usage: imgadm ")
    r2 = bare.run("imgadm", "help", cmd)
    assert r2.out == r.out


# ---- sources, avail, show, import ----

def test_sources_add_list_delete(dirpool, files):
    assert dirpool.run("imgadm", "sources").out == "https://images.smartos.org\n"
    no_default_source(dirpool)
    assert dirpool.run("imgadm", "sources").out == ""
    with it.ImgapiServer() as srv:
        r = dirpool.run("imgadm", "sources", "-a", srv.url)
        assert f'Added "imgapi" image source "{srv.url}"' in r.out
        dirpool.run("imgadm", "sources", "-a", files)
        assert dirpool.run("imgadm", "sources").out.split() == [srv.url, files]
        js = json.loads(dirpool.run("imgadm", "sources", "-j").out)
        assert js == [{"url": srv.url, "type": "imgapi"},
                      {"url": files, "type": "dir"}]
        out = dirpool.run("imgadm", "sources", "-v").out
        assert out.splitlines()[0].split() == ["URL", "TYPE"]
        assert "ok" in dirpool.run("imgadm", "sources", "-c").out
    r = dirpool.run("imgadm", "sources", "-d", srv.url)
    assert "Deleted" in r.out
    assert dirpool.run("imgadm", "sources").out.split() == [files]
    dirpool.fails("imgadm", "sources", "-d", "http://192.0.2.1/")
    dirpool.fails("imgadm", "sources", "-a", "http://x/", "-t", "bogus")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_source(pool, files):
    no_default_source(pool)
    dead = f"http://127.0.0.1:{free_port()}"
    refused(pool, ["sources", "-a", dead], [dead])
    pool.run("imgadm", "sources", "-a", dead, "-f")
    before = it.state(pool)
    u = "12345678-1234-4234-8234-123456789abc"
    r = pool.fails("imgadm", "import", u)
    assert dead in r.err and "onnect" in r.err
    pool.fails("imgadm", "avail")
    assert it.state(pool) == before


def test_imgapi_avail_show_import(pool, files):
    no_default_source(pool)
    m, mpath, fpath = it.image(files, name="web", version="7")
    with it.ImgapiServer() as srv:
        srv.add(m, fpath)
        pool.run("imgadm", "sources", "-a", srv.url)
        lines = pool.run("imgadm", "avail").out.splitlines()
        assert lines[1].split()[:5] == [m["uuid"], "web", "7", "linux", "lx-dataset"]
        js = json.loads(pool.run("imgadm", "avail", "-j").out)
        assert js[0]["manifest"]["uuid"] == m["uuid"] and js[0]["source"] == srv.url
        assert json.loads(pool.run("imgadm", "show", m["uuid"]).out) == m
        r = pool.fails("imgadm", "show", "12345678-1234-4234-8234-123456789abc")
        assert "not found" in r.err
        r = pool.run("imgadm", "import", m["uuid"])
        assert f"Imported image {m['uuid']} (web@7)" in r.out
        assert r.err == ""  # no progress when stderr is not a terminal
        assert f"/images/{m['uuid']}/file" in srv.requests
        info = json.loads(pool.run("imgadm", "get", m["uuid"]).out)
        assert info["source"] == srv.url
        assert os.path.isfile(os.path.join(root_of(pool, m["uuid"]), "bin", "hello"))
        # Again: nothing to do.
        assert "already installed" in pool.run("imgadm", "import", m["uuid"]).out
    # No download left behind.
    assert not [n for n in os.listdir(os.path.join(pool.root, "var", "imgadm"))
                if n.startswith(".download")]


def test_imgapi_avail_pages(dirpool, files):
    """An IMGAPI with more images than one page (1000) holds."""
    no_default_source(dirpool)
    m, mpath, fpath = it.image(files)
    with it.ImgapiServer() as srv:
        for i in range(1234):
            mi = dict(m, uuid=str(it.uuidlib.uuid4()), name=f"n{i}")
            srv.images[mi["uuid"]] = (mi, b"")
        dirpool.run("imgadm", "sources", "-a", srv.url)
        out = dirpool.run("imgadm", "avail", "-H", "-o", "uuid").out.split()
        assert sorted(out) == sorted(srv.images)
        assert sum(r.startswith("/images?") for r in srv.requests) == 2


def test_imgapi_dropped_connection(pool, files):
    no_default_source(pool)
    m, mpath, fpath = it.image(files, big_entries)
    with it.ImgapiServer() as srv:
        srv.add(m, fpath)
        srv.drop.add(m["uuid"])
        pool.run("imgadm", "sources", "-a", srv.url)
        r = refused(pool, ["import", m["uuid"]], [m["uuid"]])
        assert "download" in r.err


def test_imgapi_sha1_mismatch(dirpool, files):
    no_default_source(dirpool)
    m, mpath, fpath = it.image(files)
    m["files"][0]["sha1"] = "f" * 40
    with it.ImgapiServer() as srv:
        srv.add(m, fpath)
        dirpool.run("imgadm", "sources", "-a", srv.url)
        refused(dirpool, ["import", m["uuid"]], ["sha1 mismatch"])


def test_imgapi_bad_manifest(dirpool, files):
    no_default_source(dirpool)
    m, mpath, fpath = it.image(files)
    m["type"] = "floppy"
    with it.ImgapiServer() as srv:
        srv.add(m, fpath)
        dirpool.run("imgadm", "sources", "-a", srv.url)
        refused(dirpool, ["import", m["uuid"]], ["type", "floppy"])
        # avail skips what it cannot trust.
        assert dirpool.run("imgadm", "avail", "-H").out == ""


def test_dir_source_import(pool, files):
    no_default_source(pool)
    src = os.path.join(files, "src")
    os.makedirs(src)
    m1, _, _ = it.image(src, name="one")
    # The IMGAPI-like layout too.
    d2 = os.path.join(src, "images")
    os.makedirs(d2)
    tmp = os.path.join(files, "tmp")
    os.makedirs(tmp)
    m2, mp2, fp2 = it.image(tmp, name="two", compression="xz")
    os.makedirs(os.path.join(d2, m2["uuid"]))
    os.rename(mp2, os.path.join(d2, m2["uuid"], "manifest.json"))
    os.rename(fp2, os.path.join(d2, m2["uuid"], "file"))
    pool.run("imgadm", "sources", "-a", src)
    out = pool.run("imgadm", "avail", "-H", "-o", "name").out
    assert sorted(out.split()) == ["one", "two"]
    pool.run("imgadm", "import", m1["uuid"])
    pool.run("imgadm", "sources", "-d", src)
    # -S names a source that is not configured.
    pool.fails("imgadm", "import", m2["uuid"])
    pool.run("imgadm", "import", "-S", src, m2["uuid"])
    out = pool.run("imgadm", "list", "-H", "-o", "name,source").out
    assert sorted(l.split()[0] for l in out.splitlines()) == ["one", "two"]
    assert src in out


def test_import_origin_first(dirpool, files):
    no_default_source(dirpool)
    a, _, _ = it.image(files, name="base")
    b, _, _ = it.image(files, name="derived", origin=a["uuid"])
    dirpool.run("imgadm", "sources", "-a", files)
    dirpool.run("imgadm", "import", b["uuid"])
    out = dirpool.run("imgadm", "ancestry", "-H", "-o", "name", b["uuid"]).out
    assert out.split() == ["derived", "base"]


# ---- OCI / docker ----

def layer(path, entries):
    return it.make_tar(path, entries, compression="none")


def oci_files(d):
    """Two layers: the second deletes /etc/old (whiteout), empties /opt
    (opaque) and adds /etc/new."""
    import hashlib

    def l1(tf):
        it.add(tf, "etc", kind="dir", mode=0o755)
        it.add(tf, "etc/old", b"old")
        it.add(tf, "etc/keep", b"keep")
        it.add(tf, "opt", kind="dir", mode=0o755)
        it.add(tf, "opt/a", b"a")
        it.add(tf, "bin", kind="dir", mode=0o755)
        it.add(tf, "bin/app", b"#!/bin/sh\n", mode=0o755)

    def l2(tf):
        it.add(tf, "etc/.wh.old")
        it.add(tf, "opt", kind="dir", mode=0o755)
        it.add(tf, "opt/.wh..wh..opq")
        it.add(tf, "opt/b", b"b")
        it.add(tf, "etc/new", b"new")
    a = layer(os.path.join(d, "l1.tar"), l1)
    b = layer(os.path.join(d, "l2.tar"), l2)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "created": "2024-05-06T07:08:09.123456789Z",
        "config": {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"],
                   "Env": ["PATH=/bin", "MODE=test"], "WorkingDir": "/srv",
                   "User": "1000:1000"},
        "rootfs": {"type": "layers", "diff_ids": []},
    }, sort_keys=True).encode()
    cid = hashlib.sha256(config).hexdigest()
    return a, b, config, cid


def blob_digest(path):
    import hashlib
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def make_oci_layout(d):
    a, b, config, cid = oci_files(d)
    lay = os.path.join(d, "oci")
    blobs = os.path.join(lay, "blobs", "sha256")
    os.makedirs(blobs)
    descs = []
    for p in (a, b):
        h = blob_digest(p)
        os.rename(p, os.path.join(blobs, h))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar",
                      "digest": "sha256:" + h, "size": os.path.getsize(os.path.join(blobs, h))})
    open(os.path.join(blobs, cid), "wb").write(config)
    man = json.dumps({"schemaVersion": 2,
                      "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                 "digest": "sha256:" + cid, "size": len(config)},
                      "layers": descs}).encode()
    import hashlib
    mh = hashlib.sha256(man).hexdigest()
    open(os.path.join(blobs, mh), "wb").write(man)
    json.dump({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": "sha256:" + mh, "size": len(man),
         "annotations": {"io.containerd.image.name": "docker.io/library/demo:1.5",
                         "org.opencontainers.image.ref.name": "1.5"}}]},
        open(os.path.join(lay, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(lay, "oci-layout"), "w"))
    return lay, cid


def make_docker_save(d):
    a, b, config, cid = oci_files(d)
    out = os.path.join(d, "save.tar")
    with tarfile.open(out, "w") as tf:
        for i, p in enumerate((a, b)):
            tf.add(p, f"layer{i}/layer.tar")
        ti = tarfile.TarInfo(cid + ".json")
        ti.size = len(config)
        import io
        tf.addfile(ti, io.BytesIO(config))
        man = json.dumps([{"Config": cid + ".json", "RepoTags": ["demo:1.5"],
                           "Layers": ["layer0/layer.tar", "layer1/layer.tar"]}]).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(man)
        tf.addfile(ti, io.BytesIO(man))
    return out, cid


def check_docker_image(host, cid):
    js = json.loads(host.run("imgadm", "list", "-j", "type=docker").out)
    assert len(js) == 1
    m = js[0]["manifest"]
    assert m["type"] == "docker" and m["os"] == "linux"
    assert m["uuid"].replace("-", "")[:12] == cid[:12]
    t = m["tags"]
    assert t["docker:id"] == "sha256:" + cid
    assert t["docker:config"] == {"Entrypoint": ["/bin/app"], "Cmd": ["--serve"],
                                  "Env": ["PATH=/bin", "MODE=test"],
                                  "WorkingDir": "/srv", "User": "1000:1000"}
    assert m["name"].endswith("demo") and m["version"] == "1.5"
    r = root_of(host, m["uuid"])
    assert not os.path.exists(os.path.join(r, "etc/old"))
    assert open(os.path.join(r, "etc/keep")).read() == "keep"
    assert open(os.path.join(r, "etc/new")).read() == "new"
    assert sorted(os.listdir(os.path.join(r, "opt"))) == ["b"]
    assert not [n for n in os.listdir(os.path.join(r, "etc")) if n.startswith(".wh.")]
    out = host.run("imgadm", "list", "--docker", "-H").out
    assert cid[:12] in out
    return m


def test_import_oci_layout_dir_and_tar(pool, files):
    lay, cid = make_oci_layout(files)
    r = pool.run("imgadm", "import", lay)
    assert "Imported image" in r.out
    m = check_docker_image(pool, cid)
    # Deterministic: the same image again is the same uuid.
    assert "already installed" in pool.run("imgadm", "import", lay).out
    pool.run("imgadm", "delete", m["uuid"])
    tarpath = os.path.join(files, "oci.tar")
    with tarfile.open(tarpath, "w") as tf:
        for n in os.listdir(lay):
            tf.add(os.path.join(lay, n), n)
    pool.run("imgadm", "import", tarpath)
    assert check_docker_image(pool, cid)["uuid"] == m["uuid"]
    assert not [n for n in os.listdir(os.path.join(pool.root, "var")) if n.startswith(".oci")]


def test_import_docker_save(dirpool, files):
    path, cid = make_docker_save(files)
    dirpool.run("imgadm", "import", path)
    check_docker_image(dirpool, cid)


def test_import_oci_bad_digest(dirpool, files):
    lay, cid = make_oci_layout(files)
    blobs = os.path.join(lay, "blobs", "sha256")
    # Damage a layer: its digest no longer matches.
    for n in os.listdir(blobs):
        p = os.path.join(blobs, n)
        if open(p, "rb").read(3) not in (b'{"s', b'{"a'):
            with open(p, "r+b") as f:
                f.seek(100)
                f.write(b"X")
            break
    r = refused(dirpool, ["import", lay], [])
    assert "digest mismatch" in r.err or "layer" in r.err


def test_import_oci_hostile_layer(dirpool, files):
    lay, cid = make_oci_layout(files)
    blobs = os.path.join(lay, "blobs", "sha256")
    man_path = None
    for n in os.listdir(blobs):
        try:
            j = json.load(open(os.path.join(blobs, n)))
        except (UnicodeDecodeError, ValueError):
            continue
        if "layers" in j:
            man_path = os.path.join(blobs, n)
            man = j
    evil = layer(os.path.join(files, "evil.tar"), hostile("symlink"))
    h = blob_digest(evil)
    os.rename(evil, os.path.join(blobs, h))
    man["layers"][1]["digest"] = "sha256:" + h
    json.dump(man, open(man_path, "w"))
    # The index names the manifest by digest; keep it consistent.
    import hashlib
    data = open(man_path, "rb").read()
    mh = hashlib.sha256(data).hexdigest()
    os.rename(man_path, os.path.join(blobs, mh))
    idx = json.load(open(os.path.join(lay, "index.json")))
    idx["manifests"][0]["digest"] = "sha256:" + mh
    json.dump(idx, open(os.path.join(lay, "index.json"), "w"))
    refused(dirpool, ["import", lay], ["symlink pointing outside"])


def test_import_not_an_image(dirpool, files):
    refused(dirpool, ["import", files], ["index.json"])
    refused(dirpool, ["import", "ubuntu:latest"], [], rc=2)
