"""imgadm against archives built to hurt the host: docker/OCI archives whose
blobs are symlinks to host files or FIFOs, decompression bombs, and imports
killed midway. Each attack is refused with one line on stderr (never
quoting a host file), leaves the pool as it was, and the next import
works."""
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time

import pytest

import imgtools as it
from conftest import _init_pool, prog
from test_imgadm import _unfreeze, dirpool, files  # noqa: F401 (fixtures)

SECRET = "swordfishsecret"  # letters only: a JSON error quotes the whole word




@pytest.fixture
def secret(workdir):
    """A root-only host file holding a secret word, and a root-only tar
    holding it (what a layer symlink would smuggle into an image)."""
    path = os.path.join(workdir, "shadow")
    with open(path, "w") as f:
        f.write(SECRET + ":$6$salt$hash:19000:0:99999:7:::\n")
    os.chmod(path, 0o600)
    tpath = os.path.join(workdir, "shadow.tar")
    with tarfile.open(tpath, "w") as tf:
        it.add(tf, "stolen", (SECRET + "\n").encode())
    os.chmod(tpath, 0o600)
    return path, tpath


def refused(host, args, words, env=None, timeout=60, hidden=()):
    """The command fails at once with one line naming words, the pool
    unchanged, the secret (and whatever else is hidden) not quoted."""
    before = it.state(host)
    r = host.run("imgadm", *args, check=False, env=env, timeout=timeout)
    assert r.rc == 1, r
    lines = [l for l in r.err.splitlines() if l.strip()]
    assert len(lines) == 1, r.err
    for w in words:
        assert w in r.err, r.err
    for h in (SECRET, *hidden):
        assert h not in r.err and h not in r.out, r.err
    assert it.state(host) == before
    return r


# ---- archives to build ----

def layer_bytes(entries, mode="w"):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode, format=tarfile.PAX_FORMAT) as tf:
        entries(tf)
    return buf.getvalue()


def hello_layer(tf):
    it.add(tf, "etc", kind="dir", mode=0o755)
    it.add(tf, "etc/hello", b"hello\n")


CONFIG = json.dumps({"architecture": "amd64", "os": "linux",
                     "config": {"Cmd": ["/bin/sh"]},
                     "rootfs": {"type": "layers", "diff_ids": []}},
                    sort_keys=True).encode()


def oci_uuid(config):
    """The image uuid imgadm derives from the config digest."""
    h = list(hashlib.sha256(config).hexdigest()[:32])
    h[12] = "5"
    h[16] = "89ab"[int(h[16], 16) & 3]
    h = "".join(h)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def docker_save(path, layers=(None,), config=CONFIG, replace=None,
                config_name=None):
    """A docker save archive. layers: each a layer's bytes (None: a small
    good one). replace: {member name: (kind, target)} makes that member a
    symlink or a FIFO instead."""
    replace = replace or {}
    cname = config_name or hashlib.sha256(config).hexdigest() + ".json"
    members = {}
    names = []
    for i, data in enumerate(layers):
        n = f"layer{i}/layer.tar"
        members[n] = data if data is not None else layer_bytes(hello_layer)
        names.append(n)
    members[cname] = config
    members["manifest.json"] = json.dumps(
        [{"Config": cname, "RepoTags": ["evil:1"], "Layers": names}]).encode()
    with tarfile.open(path, "w") as tf:
        for n, data in members.items():
            if n in replace:
                kind, target = replace[n]
                it.add(tf, n, kind=kind, target=target)
            else:
                it.add(tf, n, data)
    return path


def oci_dir(d, link=None):
    """An OCI layout folder; link=(name, target) makes that file a
    symlink."""
    blobs = os.path.join(d, "blobs", "sha256")
    os.makedirs(blobs)

    def blob(data):
        h = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, h), "wb") as f:
            f.write(data)
        return h
    lh = blob(layer_bytes(hello_layer))
    ch = blob(CONFIG)
    man = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + ch},
                      "layers": [{"digest": "sha256:" + lh}]}).encode()
    mh = blob(man)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"digest": "sha256:" + mh}]}, f)
    if link:
        name, target = link
        p = os.path.join(d, name)
        os.unlink(p)
        os.symlink(target, p)
    return d


# ---- item 10: blobs that are symlinks to host files, or FIFOs ----

@pytest.mark.parametrize("member", ["manifest.json", "config", "layer"])
def test_docker_save_symlink_to_host_file(dirpool, files, secret, member):
    """A docker save whose manifest.json, config or layer is an absolute
    symlink to a root-only host file: nothing of the host file is read
    into the image or the error."""
    shadow, shadow_tar = secret
    cname = "config.json"  # not a digest: no digest check to hide behind
    name = {"manifest.json": "manifest.json", "config": cname,
            "layer": "layer0/layer.tar"}[member]
    target = shadow_tar if member == "layer" else shadow
    path = docker_save(os.path.join(files, "evil.tar"), config_name=cname,
                       replace={name: ("symlink", target)})
    refused(dirpool, ["import", path], [])
    assert json.loads(dirpool.run("imgadm", "list", "-j").out) == []
    # The same archive without the trick imports: the lock is free.
    good = docker_save(os.path.join(files, "good.tar"), config_name=cname)
    dirpool.run("imgadm", "import", good)


@pytest.mark.parametrize("how", ["absolute", "relative"])
@pytest.mark.parametrize("name", ["index.json", "blobs/sha256/layer"])
def test_oci_layout_symlink_to_host_file(dirpool, files, secret, how, name):
    """An OCI layout folder (a user's, say) whose index.json or layer blob
    is a symlink out of the layout to a host file."""
    shadow, shadow_tar = secret
    target = shadow_tar if "blobs" in name else shadow
    if how == "relative":
        target = "../" * 12 + target.lstrip("/")
    lay = os.path.join(files, "oci")
    if name == "index.json":
        oci_dir(lay, link=("index.json", target))
    else:
        oci_dir(lay)
        # Point the layer's blob (the first descriptor) at the host file.
        man = [json.load(open(os.path.join(lay, "blobs/sha256", n)))
               for n in os.listdir(os.path.join(lay, "blobs/sha256"))
               if open(os.path.join(lay, "blobs/sha256", n), "rb").read(1) == b"{"]
        lh = next(m for m in man if "layers" in m)["layers"][0]["digest"][7:]
        p = os.path.join(lay, "blobs/sha256", lh)
        os.unlink(p)
        os.symlink(target, p)
    # Not even the host file's digest (a "digest mismatch" would say it).
    digest = hashlib.sha256(open(shadow_tar if "blobs" in name else shadow,
                                 "rb").read()).hexdigest()
    refused(dirpool, ["import", lay], [], hidden=[digest])


def test_docker_save_repeated_layer_symlink_still_imports(dirpool, files):
    """docker's own archives store a repeated layer as a relative symlink to
    the first copy: such links inside the archive keep working."""
    path = os.path.join(files, "dup.tar")
    data = layer_bytes(hello_layer)
    docker_save(path, layers=(data, data),
                replace={"layer1/layer.tar": ("symlink", "../layer0/layer.tar")})
    assert "Imported image" in dirpool.run("imgadm", "import", path).out


@pytest.mark.parametrize("member", ["manifest.json", "layer0/layer.tar"])
def test_fifo_blob_refused_at_once(dirpool, files, member):
    """A FIFO where a blob should be is refused at once (before: imgadm hung
    holding the install lock), and the next import goes through."""
    path = docker_save(os.path.join(files, "fifo.tar"),
                       replace={member: ("fifo", None)})
    t = time.monotonic()
    refused(dirpool, ["import", path], ["not a regular file"], timeout=30)
    assert time.monotonic() - t < 20
    good = docker_save(os.path.join(files, "good.tar"))
    r = dirpool.run("imgadm", "import", good, timeout=30)
    assert "Imported image" in r.out


# ---- item 11: decompression bombs ----

def zero_tar(path, size, compressor):
    """A tar of one file of size zero bytes, compressed by streaming it
    through compressor (argv)."""
    ti = tarfile.TarInfo("zeros")
    ti.size = size
    ti.mode = 0o644
    with open(path, "wb") as out:
        p = subprocess.Popen(compressor, stdin=subprocess.PIPE, stdout=out)
        p.stdin.write(ti.tobuf(format=tarfile.PAX_FORMAT))
        block = bytes(1 << 20)
        for _ in range(size >> 20):
            p.stdin.write(block)
        p.stdin.write(bytes(1024))  # the end-of-archive blocks
        p.stdin.close()
        assert p.wait() == 0
    return path


def test_install_zstd_bomb_refused(pool, files):
    """A tiny zstd tarball that unpacks to 1 GiB of zeros stops at the
    expansion limit, the pool left as before."""
    fpath = zero_tar(os.path.join(files, "bomb.tar.zst"), 1 << 30,
                     ["zstd", "-q", "-c"])
    assert os.path.getsize(fpath) < 1 << 20
    mpath = it.write_json(os.path.join(files, "bomb.json"),
                          it.manifest(fpath, compression="zstd"))
    df0 = os.statvfs(pool.root)
    r = refused(pool, ["install", "-m", mpath, "-f", fpath],
                ["unpacks to more than", "times its compressed size",
                 "IMGADM_MAX_EXPANSION"])
    assert "bomb.tar.zst" in r.err
    df1 = os.statvfs(pool.root)
    # Nothing of it stays: free space is back (within 8 MiB of noise).
    assert abs(df1.f_bavail - df0.f_bavail) * df0.f_frsize < 8 << 20
    # A real image still installs.
    m, mpath, fpath = it.image(files)
    pool.run("imgadm", "install", "-m", mpath, "-f", fpath)


def test_docker_layer_bomb_refused(dirpool, files):
    """The same as a gzip docker layer (256 MiB of zeros in ~250 KiB)."""
    lpath = zero_tar(os.path.join(files, "bomb.tar.gz"), 256 << 20,
                     ["gzip", "-c", "-1"])
    path = docker_save(os.path.join(files, "bomb.tar"),
                       layers=(open(lpath, "rb").read(),))
    refused(dirpool, ["import", path], ["layer", "unpacks to more than"])
    # With the ratio limit lifted the same image is accepted.
    r = dirpool.run("imgadm", "import", path,
                    env={"IMGADM_MAX_EXPANSION": "0"})
    assert "Imported image" in r.out


def test_bomb_stops_at_free_space(bare, files):
    """With no ratio limit, a bomb still stops short of filling the pool:
    at its free space less the reserve, before the disk is full."""
    os.makedirs(bare.root)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "hull-test",
                    bare.root], check=True)
    _init_pool(bare, "dir")
    fpath = zero_tar(os.path.join(files, "bomb.tar.zst"), 256 << 20,
                     ["zstd", "-q", "-c"])
    mpath = it.write_json(os.path.join(files, "bomb.json"),
                          it.manifest(fpath, compression="zstd"))
    refused(bare, ["install", "-m", mpath, "-f", fpath],
            ["unpacks to more than", "free space less a reserve"],
            env={"IMGADM_MAX_EXPANSION": "0"})


def test_max_expansion_must_be_a_number(dirpool, files):
    m, mpath, fpath = it.image(files)
    refused(dirpool, ["install", "-m", mpath, "-f", fpath],
            ["IMGADM_MAX_EXPANSION"], env={"IMGADM_MAX_EXPANSION": "lots"})


def test_zvol_larger_than_image_size_refused(dirpool, files):
    """A zvol stream that decompresses to more than the manifest's
    image_size is not the image the manifest describes."""
    raw = os.path.join(files, "disk.raw")
    with open(raw, "wb") as f:
        f.write(os.urandom(3 << 20))
    subprocess.run(["gzip", "-k", raw], check=True)
    fpath = raw + ".gz"
    m = it.manifest(fpath, type="zvol", image_size=1)
    mpath = it.write_json(os.path.join(files, "disk.json"), m)
    refused(dirpool, ["install", "-m", mpath, "-f", fpath], ["image_size"])
    m["image_size"] = 3
    it.write_json(mpath, m)
    dirpool.run("imgadm", "install", "-m", mpath, "-f", fpath)


# ---- item 12: an import killed midway ----

def big_layer(tf):
    it.add(tf, "data", kind="dir", mode=0o755)
    chunk = os.urandom(1 << 20)
    for i in range(160):
        it.add(tf, f"data/f{i}", chunk[i:] + chunk[:i])


def test_killed_import_is_swept_by_hull_init(pool, files):
    """kill -9 while the layers are being unpacked leaves the scratch folder
    and images/UUID-partial; `hull init` removes both, `imgadm list` never
    shows it, and the same import then works."""
    path = docker_save(os.path.join(files, "big.tar"),
                       layers=(layer_bytes(big_layer),))
    uuid = oci_uuid(CONFIG)
    partial = os.path.join(pool.root, "images", uuid + "-partial")
    var = os.path.join(pool.root, "var")
    p = subprocess.Popen([prog("imgadm"), "import", path], env=pool.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(partial, "root", "data")):
        assert p.poll() is None, "imgadm ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    p.send_signal(signal.SIGKILL)
    p.wait()
    scratch = [n for n in os.listdir(var) if n.startswith(".oci-")]
    assert scratch and os.path.exists(partial)
    assert json.loads(pool.run("imgadm", "list", "-j").out) == []

    pool.run("hull", "init")
    assert not [n for n in os.listdir(var) if n.startswith(".oci-")]
    assert not os.path.exists(partial)
    names = [e["name"] for e in json.loads(pool.run("hull", "pool", "list", "-j").out)]
    assert not [n for n in names if n.endswith("-partial")], names
    assert json.loads(pool.run("imgadm", "list", "-j").out) == []
    assert "Imported image" in pool.run("imgadm", "import", path).out
    assert [i["manifest"]["uuid"] for i in
            json.loads(pool.run("imgadm", "list", "-j").out)] == [uuid]

