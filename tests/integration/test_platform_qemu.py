"""The hull platform image under QEMU (TCG: no KVM needed), driven on its
serial console like an operator would: first boot on blank disks with an
answer file makes the pool; an autoboot zone survives reboots; piadm
installs and activates a second build, the host boots it with the same
pool, and going back works; with a disk detached the host boots degraded
and says so. The images come from scripts/mkplatform
(cached under /var/cache/hull-test, so only a first run pays for
debootstrap); the boot times are printed for bench/README.md."""
import fcntl
import json
import os
import re
import shutil
import subprocess
import time

import pytest

import skips
from conftest import ROOT, prog
from platformvm import ADMIN_MAC, OVMF_CODE, PORT_MACS, Machine

V1 = "20990101T000000Z"
V2 = "20990202T000000Z"
PASSWORD = "hull-test-pw"
UUID_RE = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
CACHE = os.environ.get("HULL_TEST_CACHE", "/var/cache/hull-test")
ZONE = "8e5c6c0e-18a1-4c2b-9d3e-5f0b6a1e2d18"


def mkplatform(out, version):
    """`make platform`'s script; its cache (CACHE) makes a rerun with
    nothing changed take seconds. One build at a time shares it."""
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, ".platform.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        cp = subprocess.run([os.path.join(ROOT, "scripts", "mkplatform"), "-o", out,
                             "-V", version, "-k", CACHE],
                            capture_output=True, text=True, timeout=1800)
    if cp.returncode != 0 and "cannot download" in cp.stderr:
        skips.skip("offline", cp.stderr.strip().splitlines()[-1])
    assert cp.returncode == 0, cp.stderr[-3000:]
    return cp.stdout.strip()


@pytest.fixture(scope="module")
def head(tmp_path_factory):
    """A head node on this host's loopback (a pool of its own, dir
    backend), for the platform's setup to join: (its port, a join token,
    a function running hulladm)."""
    d = str(tmp_path_factory.mktemp("head"))
    root = os.path.join(d, "zones")
    os.makedirs(root)
    env = dict(os.environ, HULL_ROOT=root)

    def run(*args):
        cp = subprocess.run([prog(args[0]), *args[1:]], env=env,
                            capture_output=True, text=True, timeout=120)
        assert cp.returncode == 0, (args, cp.stderr)
        return cp.stdout
    run("hull", "init", "--backend", "dir")
    run("hulladm", "setup", "--no-tls", "--listen", "127.0.0.1:0")
    log = os.path.join(d, "hull-api.log")
    api = subprocess.Popen([prog("hull-api")], env=env,
                           stdout=subprocess.DEVNULL, stderr=open(log, "w"))
    try:
        t0 = time.monotonic()
        while '"listening"' not in open(log).read():
            assert api.poll() is None and time.monotonic() - t0 < 30, \
                open(log).read()
            time.sleep(0.05)
        port = next(json.loads(l)["port"] for l in open(log)
                    if '"listening"' in l)
        yield port, run("hulladm", "join-token").strip(), run
    finally:
        api.terminate()
        api.wait(30)
        subprocess.run([prog("hull"), "fini"], env=env, capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def media(tmp_path_factory, head):
    assert os.path.exists(OVMF_CODE), "ovmf is missing (scripts/deps)"
    d = str(tmp_path_factory.mktemp("platform"))
    iso1 = mkplatform(os.path.join(d, "v1"), V1)
    iso2 = mkplatform(os.path.join(d, "v2"), V2)
    # The second medium: SmartOS's private/answers.json, a zone image and
    # the second platform build with its checksum file.
    data = os.path.join(d, "data")
    os.makedirs(os.path.join(data, "private"))
    os.makedirs(os.path.join(data, "platform"))
    with open(os.path.join(data, "private", "answers.json"), "w") as f:
        json.dump({"config_console": True, "skip_instructions": True,
                   "simple_headers": True, "hostname": "plat0",
                   "admin_ip": "192.0.2.10", "admin_netmask": "255.255.255.0",
                   "headnode_default_gateway": "192.0.2.1",
                   "dns_resolver1": "192.0.2.53", "dns_search": "example.com",
                   "zpool_layout": "raidz", "root_password": PASSWORD,
                   "hull_head_url": "http://192.0.2.5:8443",
                   "hull_head_token": head[1],
                   "skip_final_confirm": True}, f)
    subprocess.run([os.path.join(ROOT, "scripts", "mkimage-busybox"), "-o",
                    os.path.join(data, "images"), "-n", "busybox", "-V", "1"],
                   check=True, capture_output=True)
    # Two system extensions (squashfs, as `mksquashfs` makes them): one
    # for this platform's base (its os-release: ID=debian, VERSION_ID=12)
    # and one built for Debian 11, which systemd-sysext must refuse.
    for name, version_id in (("hello", "12"), ("old", "11")):
        tree = os.path.join(d, "ext-" + name)
        os.makedirs(os.path.join(tree, "usr", "bin"))
        os.makedirs(os.path.join(tree, "usr", "lib", "extension-release.d"))
        with open(os.path.join(tree, "usr", "bin", "hull-" + name), "w") as f:
            f.write(f"#!/bin/sh\necho extension {name} says hi\n")
        os.chmod(os.path.join(tree, "usr", "bin", "hull-" + name), 0o755)
        with open(os.path.join(tree, "usr", "lib", "extension-release.d",
                               "extension-release." + name), "w") as f:
            f.write(f"ID=debian\nVERSION_ID={version_id}\n")
        os.makedirs(os.path.join(data, "extensions"), exist_ok=True)
        subprocess.run(["mksquashfs", tree,
                        os.path.join(data, "extensions", name + ".raw"),
                        "-all-root", "-noappend", "-quiet", "-no-progress"],
                       check=True, capture_output=True)
    for f in (iso2, iso2 + ".sha256"):
        os.link(f, os.path.join(data, "platform", os.path.basename(f)))
    dataiso = os.path.join(d, "data.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-r", "-V", "HULLTEST",
                    "-o", dataiso, data], check=True, capture_output=True)
    yield {"iso1": iso1, "data": dataiso}
    # Three ISOs of some 150 MiB each: not left for pytest's kept temp dirs.
    shutil.rmtree(d, ignore_errors=True)


def ready(m, version):
    """Waits for the host to say the pool is imported and autoboot done."""
    mt = m.expect(r"hull-platform: ready (\S+) uptime ([\d.]+) initramfs ([\d.]+)", 420)
    assert mt.group(1).decode() == version
    t = {"wall": round(time.monotonic() - m.t0, 1), "uptime": float(mt.group(2)),
         "initramfs": float(mt.group(3))}
    print(f"\nplatform {version} boot: {t}")
    return t


def aggr_and_vlan(m):
    """dladm's aggregation and VLAN success paths, which this host's
    kernel (no bonding, no 8021q) cannot run: the platform's Debian cloud
    kernel loads both modules on demand. An LACP aggregation of the VM's
    two spare nics, a VLAN over it, what dladm and the kernel say of
    them, the pool's record of them, and nothing left once deleted."""
    t0 = time.monotonic()
    _, out = m.sh("ip -j link | jq -M -r '.[] | .address + \" \" + .ifname'")
    by_mac = dict(l.split() for l in out.splitlines() if len(l.split()) == 2)
    p0, p1 = by_mac[PORT_MACS[0]], by_mac[PORT_MACS[1]]
    m.sh(f"dladm create-aggr -L active -T short -l {p0} -l {p1} aggr0")
    _, out = m.sh("dladm show-aggr -p -o link,lacpactivity,lacptimer aggr0; "
                  "dladm show-link -p -o link,class,over aggr0")
    assert out.strip().splitlines() == ["aggr0:active:short",
                                        f"aggr0:aggr:{p0} {p1}"], out
    _, out = m.sh("cat /proc/net/bonding/aggr0")
    assert "Bonding Mode: IEEE 802.3ad Dynamic link aggregation" in out, out
    assert re.findall(r"^Slave Interface: (\S+)", out, re.M) == [p0, p1], out
    assert re.search(r"^LACP rate: fast", out, re.M), out
    m.sh("dladm create-vlan -l aggr0 -v 42 vlan42")
    _, out = m.sh("dladm show-link -p -o link,class,over vlan42; "
                  "dladm show-vlan -p -o link,vid,over vlan42; "
                  "ip -j -d link show vlan42 | jq -M -r '.[0].linkinfo.info_data.id'")
    assert out.strip().splitlines() == ["vlan42:vlan:aggr0", "vlan42:42:aggr0",
                                        "42"], out
    _, out = m.sh("cat /proc/net/vlan/config")
    assert re.search(r"^vlan42\s*\|\s*42\s*\|\s*aggr0\s*$", out, re.M), out
    # The platform keeps both in the pool for `dladm init` at boot.
    _, out = m.sh("jq -M -c . /usbkey/net.json")
    assert '"aggr0"' in out and '"vlan42"' in out, out
    # The VLAN holds the aggregation: refused in one line, both kept.
    rc, out = m.sh("dladm delete-aggr aggr0", check=False)
    assert rc == 1 and "link aggr0 is busy: vlan vlan42 is over it" in out, out
    m.sh("test -e /proc/net/bonding/aggr0")
    m.sh("dladm delete-vlan vlan42")
    m.sh("dladm delete-aggr aggr0")
    m.sh("test ! -e /proc/net/bonding/aggr0")
    _, out = m.sh("ip -o link; cat /proc/net/vlan/config; "
                  "jq -M -c . /usbkey/net.json")
    assert "aggr0" not in out and "vlan42" not in out, out
    # Loading the bonding driver made no bond of its own (mkplatform sets
    # its max_bonds to 0).
    assert "bond0" not in out, out
    assert not re.search(rf"{p0}.* master ", out) and \
        not re.search(rf"{p1}.* master ", out), out
    print(f"\naggr and vlan steps: {time.monotonic() - t0:.1f} s")


def test_platform_lifecycle(media, head, workdir):
    port, _token, hulladm = head
    m = Machine(workdir, head_port=port)
    try:
        # First boot: the ISO and the answers; setup makes the pool, joins
        # the head node the answers name, and reboots.
        m.boot(cds=[media["iso1"], media["data"]])
        m.expect(r"hull-setup: answers from", 420)
        m.expect(r"hull-setup: done: pool made.*, joined "
                 r"http://192\.0\.2\.5:8443", 300)
        m.expect(r"hull-setup: rebooting", 60)
        m.wait_exit(120)

        # From the disks now, with the data medium only.
        m.boot(cds=[media["data"]])
        ready(m, V1)
        m.login(PASSWORD)
        _, out = m.sh("hostname; sysinfo | grep 'Live Image'; cat /usbkey/config")
        assert "plat0" in out and V1 in out
        assert "admin_ip=192.0.2.10" in out and "root_shadow=" in out
        assert "dns_resolvers=192.0.2.53" in out
        _, out = m.sh("sysinfo | jq -r .UUID")
        host_uuid = UUID_RE.findall(out)
        assert len(host_uuid) == 1, out
        # Joined at setup: the platform's agent heartbeats the head node
        # as the server it is.
        t0 = time.monotonic()
        while True:
            srv = json.loads(hulladm("hulladm", "-j", "server", "list"))
            if [s["uuid"] for s in srv if s["status"] == "running"] == \
                    host_uuid:
                break
            if time.monotonic() - t0 > 60:
                _, why = m.sh("systemctl status hull-agent --no-pager; "
                              "journalctl -u hull-agent --no-pager | tail -20",
                              check=False)
                raise AssertionError(([(s["uuid"], s["status"],
                                        s.get("last_heartbeat"))
                                       for s in srv], host_uuid, why))
            time.sleep(1)
        assert srv[0]["hostname"] == "plat0"
        _, out = m.sh("piadm list; piadm bootable")
        assert "UEFI" in out and V1 in out
        # The pool spans the three disks, as the answer's layout asked.
        _, out = m.sh("hull status -j")
        st = json.loads(out[out.index("{"):])
        assert st["layout"] == "raid5" and len(st["disks"]) == 3, st
        # ipadm init put the admin address on the link whose MAC setup
        # recorded, and the resolvers into the linked resolv.conf.
        _, out = m.sh("grep admin_nic /usbkey/config; ipadm show-addr -p -o addrobj,addr; "
                      "cat /etc/resolv.conf")
        assert f"admin_nic={ADMIN_MAC}" in out, out
        assert "/admin:192.0.2.10/24" in out, out
        assert "nameserver 192.0.2.53" in out and "search example.com" in out, out
        aggr_and_vlan(m)
        m.sh("mkdir -p /mnt/d && mount -o ro $(blkid -L HULLTEST) /mnt/d")
        m.sh("imgadm install -m /mnt/d/images/busybox-1.json -f /mnt/d/images/busybox-1.tar.gz")
        m.sh("U=$(jq -r .uuid /mnt/d/images/busybox-1.json); "
             f"echo '{{\"uuid\":\"{ZONE}\",\"brand\":\"lx\",\"kernel_version\":\"4.3.0\","
             "\"alias\":\"plat\",\"autoboot\":true,\"image_uuid\":\"'$U'\"}' | vmadm create",
             timeout=300)
        m.sh(f"zlogin {ZONE} sh -c 'echo kept-data > /root/f'")
        # Optional software: system extensions kept in the pool's /opt,
        # merged into the read-only /usr at the next boot.
        m.sh("mkdir -p /opt/extensions && cp /mnt/d/extensions/hello.raw "
             "/mnt/d/extensions/old.raw /opt/extensions/")
        rc, _ = m.sh("command -v hull-hello", check=False)
        assert rc != 0
        m.sh("reboot")
        m.wait_exit(180)

        # The zone is back by itself, with its data.
        m.boot(cds=[media["data"]])
        t_zone = ready(m, V1)
        m.login(PASSWORD)
        # How long hull's own units took in that boot (bench/README.md).
        _, out = m.sh("for u in hull-config hull-autoboot; do echo UNIT $u "
                      "$(systemctl show -P ExecMainStartTimestampMonotonic $u) "
                      "$(systemctl show -P ExecMainExitTimestampMonotonic $u); done")
        units = {u: round((int(b) - int(a)) / 1e6, 2)
                 for u, a, b in re.findall(r"UNIT (\S+) (\d+) (\d+)", out)}
        if not units:
            print(f"\nhull units: not known: {out!r}")
        print(f"\nhull units (s): {units}")
        _, out = m.sh(f"vmadm list -H -o uuid,state; zlogin {ZONE} cat /root/f")
        assert any(l.split() == [ZONE, "running"] for l in out.splitlines()), out
        assert "kept-data" in out
        # The extension made for this platform is on /usr after the
        # reboot, and systemd-sysext says it merged it; the one made for
        # Debian 11 is refused by systemd-sysext's own check.
        _, out = m.sh("command -v hull-hello; hull-hello; systemctl is-active "
                      "systemd-sysext; systemd-sysext status")
        assert "/usr/bin/hull-hello" in out and "extension hello says hi" in out, out
        assert re.search(r"^active\s*$", out, re.M), out
        assert re.search(r"^/usr\s+hello\s", out, re.M), out
        assert "old" not in out.split("HIERARCHY", 1)[1], out
        rc, out = m.sh("command -v hull-old; touch /usr/bin/x", check=False)
        assert rc != 0 and "/usr/bin/hull-old" not in out, out
        assert "Read-only file system" in out, out
        _, out = m.sh("SYSTEMD_SYSEXT_HIERARCHIES=/usr SYSTEMD_LOG_LEVEL=debug "
                      "systemd-sysext refresh 2>&1 | grep -E \"^(Extension|Version "
                      "info|Using)\"; systemd-sysext status")
        assert re.search(r"Extension 'old' is for OS '11', but deployed on top "
                         r"of '12'", out), out
        assert "Using extensions 'hello'." in out, out
        assert re.search(r"^/usr\s+hello\s", out, re.M), out
        m.sh("mkdir -p /mnt/d && mount -o ro $(blkid -L HULLTEST) /mnt/d")
        m.sh(f"piadm install /mnt/d/platform/hull-{V2}.iso", timeout=300)
        m.sh(f"piadm activate {V2}")
        _, out = m.sh("piadm list")
        assert any(l.split()[:1] == [V2] and l.split()[-1] == "yes" for l in out.splitlines())
        m.sh("reboot")
        m.wait_exit(180)

        # The new platform, the same pool and zone.
        m.boot(cds=[])
        ready(m, V2)
        m.login(PASSWORD)
        _, out = m.sh(f"sysinfo | grep 'Live Image'; vmadm list -H -o uuid,state; "
                      f"zlogin {ZONE} cat /root/f; hull-hello")
        assert f'"Live Image": "{V2}"' in out, out
        # The extension in /opt outlives the platform upgrade too.
        assert "extension hello says hi" in out, out
        assert any(l.split() == [ZONE, "running"] for l in out.splitlines()), out
        assert "kept-data" in out
        rc, err = m.sh(f"piadm remove {V2}", check=False)
        assert rc != 0
        m.sh(f"piadm activate {V1}")
        m.sh("reboot")
        m.wait_exit(180)

        # And back.
        m.boot(cds=[])
        ready(m, V1)
        m.login(PASSWORD)
        _, out = m.sh(f"sysinfo | grep 'Live Image'; vmadm list -H -o uuid,state; "
                      f"zlogin {ZONE} cat /root/f; piadm list")
        assert f'"Live Image": "{V1}"' in out, out
        assert any(l.split() == [ZONE, "running"] for l in out.splitlines()), out
        assert "kept-data" in out
        # Both images stay installed; the running one is V1, next too.
        rows = {l.split()[0]: l.split()[-2:] for l in out.splitlines()
                if l.split()[:1] in ([V1], [V2])}
        assert rows == {V1: ["yes", "yes"], V2: ["no", "no"]}, out
        # The host kept its identity (sysinfo's UUID) through four boots and
        # two platforms.
        _, out = m.sh("sysinfo | jq -r .UUID")
        assert UUID_RE.findall(out) == host_uuid, (out, host_uuid)
        # From a timer, not from the shell: a poweroff the shell starts can
        # end the shell before it prints its exit status.
        m.sh("systemd-run --on-active=1 systemctl poweroff")
        m.wait_exit(180)

        # One disk detached (not the first, whose EFI partition the
        # firmware boots): the raid5 pool mounts degraded, the console and
        # hull status say so, and the zone runs with its data.
        m.disks.pop()
        m.boot(cds=[])
        m.expect(r"the pool is DEGRADED", 240)
        ready(m, V1)
        m.login(PASSWORD)
        _, out = m.sh(f"hull status -j; vmadm list -H -o uuid,state; zlogin {ZONE} cat /root/f")
        st = json.loads(out[out.index("{"):out.rindex("}") + 1])
        assert st["state"] == "DEGRADED", st
        assert any(l.split() == [ZONE, "running"] for l in out.splitlines()), out
        assert "kept-data" in out
        print(f"\nzone autoboot boot: {t_zone}")
    finally:
        m.kill()
