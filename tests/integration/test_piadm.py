"""piadm(8) on an ordinary host: the boot area's bookkeeping (install with
its checksum and signature checks, activate, remove, list) against a pool
root given by HULL_ROOT and platform ISOs shaped like `make platform`'s
(live/vmlinuz, initrd.img, root.squashfs, VERSION, SHA256SUMS), made here
with xorriso. Booting them is test_platform_qemu.py's job."""
import hashlib
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT

PIADM = os.path.join(ROOT, "platform", "piadm")


def need(tool):
    assert shutil.which(tool), f"{tool} is missing (scripts/deps --platform)"


def make_iso(d, version, tamper_inner=False):
    """An ISO like mkplatform's, with its .sha256 file beside it."""
    need("xorriso")
    live = os.path.join(d, "src-" + version, "live")
    os.makedirs(live)
    for f, size in (("vmlinuz", 4096), ("initrd.img", 2048), ("root.squashfs", 8192)):
        with open(os.path.join(live, f), "wb") as fh:
            fh.write(os.urandom(size))
    with open(os.path.join(live, "VERSION"), "w") as fh:
        fh.write(version + "\n")
    subprocess.run("sha256sum vmlinuz initrd.img root.squashfs VERSION > SHA256SUMS",
                   shell=True, cwd=live, check=True)
    if tamper_inner:
        with open(os.path.join(live, "root.squashfs"), "ab") as fh:
            fh.write(b"x")
    iso = os.path.join(d, f"hull-{version}.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "HULL_PLATFORM",
                    "-o", iso, os.path.dirname(live)], check=True, capture_output=True)
    with open(iso, "rb") as fh:
        digest = hashlib.sha256(fh.read()).hexdigest()
    with open(iso + ".sha256", "w") as fh:
        fh.write(f"{digest}  hull-{version}.iso\n")
    return iso


@pytest.fixture
def area(workdir):
    root = os.path.join(workdir, "zones")
    os.makedirs(os.path.join(root, ".platform", "boot"))
    booted = os.path.join(workdir, "booted")
    with open(booted, "w") as fh:
        fh.write("20250101T000000Z\n")
    env = dict(os.environ, HULL_ROOT=root, PIADM_BOOTED_FILE=booted,
               PIADM_KEY=os.path.join(workdir, "key.pem"))

    def run(*args, check=True):
        cp = subprocess.run([PIADM, *args], capture_output=True, text=True, env=env)
        if check:
            assert cp.returncode == 0, cp
        return cp
    run.root = root
    run.boot = os.path.join(root, ".platform", "boot")
    run.workdir = workdir
    run.key = env["PIADM_KEY"]
    return run


def snapshot(boot):
    out = []
    for dp, dn, fn in os.walk(boot):
        for f in sorted(fn):
            p = os.path.join(dp, f)
            with open(p, "rb") as fh:
                out.append((os.path.relpath(p, boot), hashlib.sha256(fh.read()).hexdigest()))
    return sorted(out)


def one_line_error(cp, *words):
    assert cp.returncode != 0, cp
    lines = [l for l in cp.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, cp.stderr
    for w in words:
        assert w in lines[0], cp.stderr


def test_cli_edges():
    cp = subprocess.run([PIADM, "--help"], capture_output=True, text=True)
    assert cp.returncode == 0 and "usage" in cp.stdout.lower()
    cp = subprocess.run([PIADM, "--no-such-option-xyz"], capture_output=True, text=True)
    one_line_error(cp, "unknown option")
    with open(os.path.join(ROOT, "docs", "piadm.md")) as fh:
        assert "piadm install" in fh.read()


def test_install_activate_list_remove(area):
    a = make_iso(area.workdir, "20250101T000000Z")
    b = make_iso(area.workdir, "20250202T000000Z")
    assert "installed platform 20250101T000000Z" in area("install", a).stdout
    area("install", b)
    plat = os.path.join(area.boot, "platform-20250202T000000Z")
    assert sorted(os.listdir(plat)) == ["SHA256SUMS", "VERSION", "initrd.img",
                                        "root.squashfs", "vmlinuz"]
    # No leftovers of the install's scratch.
    assert sorted(os.listdir(area.boot)) == ["platform-20250101T000000Z",
                                             "platform-20250202T000000Z"]
    one_line_error(area("install", a, check=False), "already installed")

    area("activate", "20250101T000000Z")
    area("activate", "20250202T000000Z")
    rows = area("list").stdout.splitlines()
    assert rows[0].split()[:2] == ["PI", "STAMP"]
    now_next = {r.split()[0]: r.split()[-2:] for r in rows[1:]}
    assert now_next == {"20250101T000000Z": ["yes", "no"],
                        "20250202T000000Z": ["no", "yes"]}
    with open(os.path.join(area.boot, "previous")) as fh:
        assert fh.read().strip() == "20250101T000000Z"

    # Neither the one that boots next nor the one running now goes.
    one_line_error(area("remove", "20250202T000000Z", check=False), "active")
    one_line_error(area("remove", "20250101T000000Z", check=False), "running now")
    one_line_error(area("activate", "19990101T000000Z", check=False), "not installed")
    # Once the old one neither runs nor boots next, it goes.
    with open(os.path.join(area.workdir, "booted"), "w") as fh:
        fh.write("20250202T000000Z\n")
    area("remove", "20250101T000000Z")
    assert not os.path.exists(os.path.join(area.boot, "platform-20250101T000000Z"))
    assert [r.split()[0] for r in area("list").stdout.splitlines()[1:]] == ["20250202T000000Z"]


def test_corrupt_image_is_refused_and_nothing_changes(area):
    area("install", make_iso(area.workdir, "20250101T000000Z"))
    area("activate", "20250101T000000Z")
    before = snapshot(area.boot)

    bad = make_iso(area.workdir, "20250303T000000Z")
    with open(bad, "r+b") as fh:  # one flipped byte in the middle
        fh.seek(os.path.getsize(bad) // 2)
        c = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([c[0] ^ 0xFF]))
    one_line_error(area("install", bad, check=False), "checksum mismatch")
    assert snapshot(area.boot) == before

    os.unlink(bad + ".sha256")
    one_line_error(area("install", bad, check=False), "no checksum file")
    assert snapshot(area.boot) == before

    # A whole ISO whose own files do not match its SHA256SUMS.
    inner = make_iso(area.workdir, "20250404T000000Z", tamper_inner=True)
    one_line_error(area("install", inner, check=False), "do not match")
    assert snapshot(area.boot) == before
    assert sorted(os.listdir(area.boot)) == ["next", "platform-20250101T000000Z"]


def test_signature_required_when_key_configured(area):
    need("openssl")
    key = os.path.join(area.workdir, "priv.pem")
    other = os.path.join(area.workdir, "other.pem")
    for k in (key, other):
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                        "-pkeyopt", "rsa_keygen_bits:2048", "-out", k],
                       check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", area.key],
                   check=True, capture_output=True)
    iso = make_iso(area.workdir, "20250505T000000Z")
    before = snapshot(area.boot)
    one_line_error(area("install", iso, check=False), "unsigned")
    assert snapshot(area.boot) == before

    subprocess.run(["openssl", "dgst", "-sha256", "-sign", other, "-out", iso + ".sig", iso],
                   check=True)
    one_line_error(area("install", iso, check=False), "bad signature")
    assert snapshot(area.boot) == before

    subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, "-out", iso + ".sig", iso],
                   check=True)
    area("install", iso)
    assert os.path.isdir(os.path.join(area.boot, "platform-20250505T000000Z"))


def test_bootable_without_esp(area):
    # A pool root that is no btrfs on partitioned disks has nothing to boot.
    assert "non-bootable" in area("bootable").stdout
    one_line_error(area("bootable", "-e", check=False), "EFI system partition")
    one_line_error(area("bootable", "-x", check=False), "unknown option")
    one_line_error(area("bootable", "tank", check=False), "unknown pool")


@pytest.fixture
def web(workdir):
    """`python3 -m http.server` bound to 127.0.0.1 on a port the kernel
    picks, serving a folder of the test's; killed after."""
    d = os.path.join(workdir, "www")
    os.makedirs(d)
    p = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1",
                          "--directory", d, "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = p.stdout.readline()  # Serving HTTP on 127.0.0.1 port N (...)
        m = re.search(r"port (\d+)", line)
        assert m, line
        web.dir = d
        web.url = f"http://127.0.0.1:{m.group(1)}"
        yield web
    finally:
        p.kill()
        p.wait()


def flip_middle(path):
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) // 2)
        c = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([c[0] ^ 0xFF]))


def configure_source(area, url):
    u = os.path.join(area.root, "usbkey")
    os.makedirs(u, exist_ok=True)
    with open(os.path.join(u, "config"), "w") as fh:
        fh.write(f"# hull host configuration\nhostname=cn1\npiadm_source='{url}'\n")


def test_install_from_url(area, web):
    iso = make_iso(web.dir, "20250606T000000Z")
    area("install", make_iso(area.workdir, "20250101T000000Z"))
    area("activate", "20250101T000000Z")
    before = snapshot(area.boot)

    # A download that differs from its checksum: refused, nothing changes.
    good = open(iso, "rb").read()
    flip_middle(iso)
    one_line_error(area("install", web.url + "/hull-20250606T000000Z.iso", check=False),
                   "checksum mismatch")
    assert snapshot(area.boot) == before
    assert sorted(os.listdir(area.boot)) == ["next", "platform-20250101T000000Z"]
    # A URL that is not there, and an image without its checksum file.
    one_line_error(area("install", web.url + "/hull-19990101T000000Z.iso", check=False),
                   "cannot download")
    with open(iso, "wb") as fh:
        fh.write(good)
    os.rename(iso + ".sha256", iso + ".sha256.away")
    one_line_error(area("install", web.url + "/hull-20250606T000000Z.iso", check=False),
                   "checksum file is required")
    assert snapshot(area.boot) == before
    os.rename(iso + ".sha256.away", iso + ".sha256")

    assert "installed platform 20250606T000000Z" in \
        area("install", web.url + "/hull-20250606T000000Z.iso").stdout
    plat = os.path.join(area.boot, "platform-20250606T000000Z")
    with open(os.path.join(plat, "VERSION")) as fh:
        assert fh.read().strip() == "20250606T000000Z"
    # Installing does not activate.
    with open(os.path.join(area.boot, "next")) as fh:
        assert fh.read().strip() == "20250101T000000Z"


def test_install_latest_from_configured_source(area, web):
    # Nothing configured: one line, nothing fetched or changed.
    before = snapshot(area.boot)
    one_line_error(area("install", "latest", check=False), "no source configured", "piadm_source")
    configure_source(area, "ftp://example.invalid/hull")
    one_line_error(area("install", "latest", check=False), "not an http(s) URL")
    assert snapshot(area.boot) == before

    configure_source(area, web.url + "/hull/")
    src = os.path.join(web.dir, "hull")
    os.makedirs(src)
    one_line_error(area("install", "latest", check=False), "cannot download", "/hull/latest")

    make_iso(src, "20250707T000000Z")
    make_iso(src, "20250808T000000Z")
    with open(os.path.join(src, "latest"), "w") as fh:
        fh.write("20250808T000000Z\n")
    # The latest image corrupted on the server: refused, the boot area as it was.
    newest = os.path.join(src, "hull-20250808T000000Z.iso")
    good = open(newest, "rb").read()
    flip_middle(newest)
    one_line_error(area("install", "latest", check=False), "checksum mismatch")
    assert snapshot(area.boot) == before
    assert os.listdir(area.boot) == []
    with open(newest, "wb") as fh:
        fh.write(good)

    assert "installed platform 20250808T000000Z" in area("install", "latest").stdout
    assert sorted(os.listdir(area.boot)) == ["platform-20250808T000000Z"]
    one_line_error(area("install", "latest", check=False), "already installed")

    # `latest` naming an image that holds another version is refused.
    os.rename(os.path.join(src, "hull-20250707T000000Z.iso"),
              os.path.join(src, "hull-20250909T000000Z.iso"))
    os.rename(os.path.join(src, "hull-20250707T000000Z.iso.sha256"),
              os.path.join(src, "hull-20250909T000000Z.iso.sha256"))
    with open(os.path.join(src, "latest"), "w") as fh:
        fh.write("20250909T000000Z\n")
    one_line_error(area("install", "latest", check=False), "holds platform 20250707T000000Z")
    with open(os.path.join(src, "latest"), "w") as fh:
        fh.write("../../etc\n")
    one_line_error(area("install", "latest", check=False), "does not name a platform version")
    assert sorted(os.listdir(area.boot)) == ["platform-20250808T000000Z"]


def test_install_latest_signed(area, web):
    need("openssl")
    key = os.path.join(area.workdir, "priv.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA",
                    "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", area.key],
                   check=True, capture_output=True)
    configure_source(area, web.url)
    iso = make_iso(web.dir, "20251010T000000Z")
    with open(os.path.join(web.dir, "latest"), "w") as fh:
        fh.write("20251010T000000Z\n")
    one_line_error(area("install", "latest", check=False), "cannot download", ".sig")
    assert os.listdir(area.boot) == []
    subprocess.run(["openssl", "dgst", "-sha256", "-sign", key, "-out", iso + ".sig", iso],
                   check=True)
    area("install", "latest")
    assert os.path.isdir(os.path.join(area.boot, "platform-20251010T000000Z"))
