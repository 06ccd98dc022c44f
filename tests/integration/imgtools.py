"""Helpers for the imgadm tests: image files and manifests made on the spot
(python tarfile + json, never downloaded), a snapshot of a pool's state to
prove a failure changed nothing, and a loopback IMGAPI server."""
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import urllib.parse
import uuid as uuidlib

OWNER = "00000000-0000-0000-0000-000000000000"

MODES = {"none": "w", "gzip": "w:gz", "bzip2": "w:bz2", "xz": "w:xz"}
EXT = {"none": "tar", "gzip": "tar.gz", "bzip2": "tar.bz2", "xz": "tar.xz",
       "zstd": "tar.zst"}


def sha1(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def add(tf, name, data=None, kind="file", mode=0o644, uid=0, gid=0,
        target=None, devmajor=0, devminor=0, mtime=1700000000):
    """Adds one entry to an open TarFile; kinds: file dir symlink hardlink
    chr blk fifo."""
    ti = tarfile.TarInfo(name)
    ti.mode = mode
    ti.uid, ti.gid = uid, gid
    ti.mtime = mtime
    if kind == "file":
        data = data if data is not None else b""
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        return
    ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
               "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
               "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
    if target is not None:
        ti.linkname = target
    ti.devmajor, ti.devminor = devmajor, devminor
    tf.addfile(ti)


def basic_entries(tf):
    add(tf, "bin", kind="dir", mode=0o755)
    add(tf, "bin/hello", b"#!/bin/sh\necho hello\n", mode=0o755)
    add(tf, "etc", kind="dir", mode=0o755)
    add(tf, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")


def make_tar(path, entries=basic_entries, compression="gzip", fmt=None):
    """Writes a (compressed) tar whose content entries(tf) adds."""
    if compression == "zstd":
        raw = path + ".raw"
        with tarfile.open(raw, "w", format=fmt or tarfile.PAX_FORMAT) as tf:
            entries(tf)
        import subprocess
        subprocess.run(["zstd", "-q", "-f", "--rm", raw, "-o", path], check=True)
        return path
    with tarfile.open(path, MODES[compression],
                      format=fmt or tarfile.PAX_FORMAT) as tf:
        entries(tf)
    return path


def manifest(file=None, uuid=None, compression="gzip", type="lx-dataset",
             name="test", version="1.0", **extra):
    m = {
        "v": 2,
        "uuid": uuid or str(uuidlib.uuid4()),
        "owner": OWNER,
        "name": name,
        "version": version,
        "state": "active",
        "disabled": False,
        "public": True,
        "published_at": "2024-01-02T03:04:05.678Z",
        "type": type,
        "os": "linux",
    }
    if file is not None:
        m["files"] = [{"sha1": sha1(file), "size": os.path.getsize(file),
                       "compression": compression}]
    m.update(extra)
    return m


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
    return path


def image(dirpath, entries=basic_entries, compression="gzip", name="test",
          **kw):
    """Makes NAME.json + NAME.<ext> in dirpath; returns (manifest, mpath,
    fpath)."""
    fpath = os.path.join(dirpath, f"{name}.{EXT[compression]}")
    make_tar(fpath, entries, compression)
    m = manifest(fpath, compression=compression, name=name, **kw)
    mpath = write_json(os.path.join(dirpath, f"{name}.json"), m)
    return m, mpath, fpath


def state(host):
    """What a failed command must leave untouched: the pool's datasets and
    snapshots, and every path under the root with its type and size (lock
    files aside: they exist to be taken)."""
    datasets = host.run("hull", "pool", "list", "-j").out
    names = sorted(e["name"] for e in json.loads(datasets))
    files = []
    for dirpath, dirs, fnames in os.walk(host.root):
        dirs.sort()
        for n in sorted(dirs + fnames):
            p = os.path.join(dirpath, n)
            if n.endswith(".lock"):
                continue
            st = os.lstat(p)
            files.append((os.path.relpath(p, host.root), st.st_mode,
                          st.st_size if not os.path.isdir(p) else 0))
    return names, files


class ImgapiServer:
    """A minimal IMGAPI on 127.0.0.1 (a random port), serving manifests and
    files from memory. drop=UUID cuts that file's download half way."""

    def __init__(self):
        self.images = {}   # uuid -> (manifest, bytes)
        self.drop = set()
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def send_json(self, obj, code=200):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                outer.requests.append(self.path)
                parts = self.path.split("?")[0].strip("/").split("/")
                if parts == ["ping"]:
                    return self.send_json({"ping": "pong"})
                if parts == ["images"]:
                    # Pages as IMGAPI gives them: `limit` images after
                    # `marker` (here in uuid order).
                    q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                    limit = int(q.get("limit", ["1000"])[0])
                    marker = q.get("marker", [""])[0]
                    ms = sorted((m for m, _ in outer.images.values()),
                                key=lambda m: m["uuid"])
                    ms = [m for m in ms if m["uuid"] > marker][:limit]
                    return self.send_json(ms)
                if len(parts) >= 2 and parts[0] == "images" and parts[1] in outer.images:
                    m, data = outer.images[parts[1]]
                    if len(parts) == 2:
                        return self.send_json(m)
                    if len(parts) == 3 and parts[2] == "file":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/octet-stream")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        if parts[1] in outer.drop:
                            self.wfile.write(data[: len(data) // 2])
                            self.wfile.flush()
                            self.connection.shutdown(2)
                            self.close_connection = True
                            return
                        self.wfile.write(data)
                        return
                self.send_json({"code": "ResourceNotFound",
                                "message": "not found"}, 404)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)

    def add(self, m, fpath):
        with open(fpath, "rb") as f:
            self.images[m["uuid"]] = (m, f.read())

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()
