"""The metadata channel as a guest sees it: hull-metadata serving an
instance record on a unix socket (a zone's channel) and on a pty standing
in for a VM's COM2, the guest tools mdata-get/put/list/delete, the raw
protocol, hostile clients, and Debian's cloud-init SmartOS datasource.
"""
import base64
import binascii
import functools
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

import skips
from conftest import prog

UUID = "4f2b1c3e-6a7d-4e8f-9a0b-1c2d3e4f5a6b"
OTHER = "0b6d2a4e-1111-4c2d-9e8f-7a6b5c4d3e2f"

USER_DATA = "#cloud-config\nhostname: web0\n"


def make_record(uuid=UUID, alias="web0"):
    return {
        "uuid": uuid,
        "alias": alias,
        "hostname": alias,
        "brand": "lx",
        "owner_uuid": "930896af-bf8c-48d4-885c-6573a94b1853",
        "server_uuid": "44454c4c-5000-104d-8037-b7c04f5a5131",
        "datacenter_name": "us-test-1",
        "dns_domain": "example.com",
        "customer_metadata": {
            "user-script": "#!/bin/sh\necho hello\n",
            "root_authorized_keys": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAtest test@example\n",
            "cloud-init:user-data": USER_DATA,
            "motd_sys_info": "no",
            "multi": ".starts with a dot\n.\nend",
        },
        "internal_metadata": {
            "operator-script": "#!/bin/sh\ntrue\n",
            "secret:token": "s3cr3t",
            "hidden:thing": "never",
            "admin_pw": "pw",
        },
        "internal_metadata_namespaces": ["secret"],
        "tags": {"role": "web"},
        "resolvers": ["192.0.2.53"],
        "nics": [{
            "interface": "net0",
            "mac": "02:08:20:aa:bb:cc",
            "ips": ["192.0.2.10/24"],
            "gateways": ["192.0.2.1"],
            "primary": True,
            "mtu": 1500,
        }],
        "routes": {"198.51.100.0/24": "192.0.2.254"},
    }


def write_record(path, rec):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(rec, f, indent=2, sort_keys=True)
    os.rename(tmp, path)


def read_record(path):
    with open(path) as f:
        return json.load(f)


class Server:
    """hull-metadata serve on a socket and a pty, for one instance."""

    def __init__(self, workdir, uuid=UUID, alias="web0", extra=()):
        self.dir = os.path.join(workdir, "zones", uuid, "config")
        os.makedirs(self.dir, exist_ok=True)
        self.record = os.path.join(self.dir, "vm.json")
        write_record(self.record, make_record(uuid, alias))
        self.sock = os.path.join(workdir, f"{uuid}.sock")
        self.tty = os.path.join(workdir, f"{uuid}.ttyS1")
        # Stale files from an earlier run may be there: wait for new ones
        # (a fresh link inode, a socket that accepts).
        old_link = os.lstat(self.tty).st_ino if os.path.lexists(self.tty) else None
        self.proc = subprocess.Popen(
            [prog("hull-metadata"), "serve", "--record", self.record,
             "--socket", self.sock, "--serial", self.tty, *extra],
            stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 20
        while not (self._accepts() and os.path.islink(self.tty) and
                   os.lstat(self.tty).st_ino != old_link):
            assert self.proc.poll() is None, self.proc.stderr.read()
            assert time.time() < deadline, "hull-metadata did not start"
            time.sleep(0.02)

    def _accepts(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        err = self.proc.stderr.read()
        return rc, err

    def env(self, channel="socket"):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("HULL_MDATA_")}
        if channel == "socket":
            e["HULL_MDATA_SOCKET"] = self.sock
        else:
            e["HULL_MDATA_SERIAL"] = self.tty
        return e

    def mdata(self, tool, *args, channel="socket", input=None, stdin=None,
              timeout=30):
        kw = {"stdin": stdin} if stdin is not None else {"input": input}
        cp = subprocess.run([prog(tool), *args], capture_output=True,
                            env=self.env(channel), timeout=timeout, **kw)
        return cp


@pytest.fixture
def server(workdir):
    s = Server(workdir)
    yield s
    rc, err = s.stop()
    assert rc == 0, err
    assert not os.path.exists(s.sock) and not os.path.lexists(s.tty)


def out(cp):
    return cp.stdout.decode()


def err1(cp):
    """The one line a failing tool writes to stderr."""
    lines = [l for l in cp.stderr.decode().splitlines() if l.strip()]
    assert len(lines) == 1, cp.stderr
    return lines[0]


# --- the guest tools --------------------------------------------------

@pytest.mark.parametrize("channel", ["socket", "serial"])
def test_mdata_get(server, channel):
    cp = server.mdata("mdata-get", "sdc:uuid", channel=channel)
    assert cp.returncode == 0, cp.stderr
    assert out(cp) == UUID + "\n"
    assert out(server.mdata("mdata-get", "sdc:hostname", channel=channel)) == "web0\n"
    # A value ending in a newline is printed as it is; others get one.
    assert out(server.mdata("mdata-get", "user-script", channel=channel)) == \
        "#!/bin/sh\necho hello\n"
    assert out(server.mdata("mdata-get", "multi", channel=channel)) == \
        ".starts with a dot\n.\nend\n"
    assert json.loads(out(server.mdata("mdata-get", "sdc:nics", channel=channel)))[0]["mac"] == \
        "02:08:20:aa:bb:cc"
    assert out(server.mdata("mdata-get", "sdc:nics.0.interface", channel=channel)) == "net0\n"
    assert out(server.mdata("mdata-get", "sdc:tags.role", channel=channel)) == "web\n"
    assert out(server.mdata("mdata-get", "secret:token", channel=channel)) == "s3cr3t\n"

    cp = server.mdata("mdata-get", "no-such-key", channel=channel)
    assert cp.returncode == 1
    assert err1(cp) == "No metadata for 'no-such-key'"
    assert cp.stdout == b""
    cp = server.mdata("mdata-get", "hidden:thing", channel=channel)
    assert cp.returncode == 1


def test_mdata_usage_errors(server):
    for tool, args, usage in [
            ("mdata-get", [], "Usage: mdata-get <keyname>"),
            ("mdata-get", ["a", "b"], "Usage: mdata-get <keyname>"),
            ("mdata-list", ["x"], "Usage: mdata-list"),
            ("mdata-delete", [], "Usage: mdata-delete <keyname>"),
            ("mdata-put", [], "Usage: mdata-put <keyname> [ <value> ]")]:
        cp = server.mdata(tool, *args)
        assert cp.returncode == 3, (tool, cp)
        assert err1(cp) == usage
    for tool in ("mdata-get", "mdata-put", "mdata-list", "mdata-delete"):
        cp = server.mdata(tool, "--help")
        assert cp.returncode == 0 and b"Usage" in cp.stdout


def test_mdata_put_refuses_a_terminal(server):
    master, slave = os.openpty()
    try:
        cp = server.mdata("mdata-put", "k", stdin=slave)
    finally:
        os.close(master)
        os.close(slave)
    assert cp.returncode == 3
    assert err1(cp).startswith("ERROR: either specify the metadata value")


def test_no_channel_is_an_error(workdir):
    env = dict(os.environ, HULL_MDATA_SOCKET=os.path.join(workdir, "none.sock"))
    cp = subprocess.run([prog("mdata-get"), "sdc:uuid"], capture_output=True,
                        env=env, timeout=30)
    assert cp.returncode == 2
    assert err1(cp).startswith("ERROR: could not initialise protocol: connect to")


@pytest.mark.parametrize("channel", ["socket", "serial"])
def test_mdata_list(server, channel):
    cp = server.mdata("mdata-list", channel=channel)
    assert cp.returncode == 0, cp.stderr
    # customer keys, then readable internal ones, each in record order
    # (vmadm writes keys sorted); never sdc: keys or hidden internal ones.
    assert out(cp).splitlines() == [
        "cloud-init:user-data", "motd_sys_info", "multi",
        "root_authorized_keys", "user-script", "admin_pw", "secret:token"]


@pytest.mark.parametrize("channel", ["socket", "serial"])
def test_put_and_delete_are_durable(server, channel):
    cp = server.mdata("mdata-put", "color", "blue", channel=channel)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout == b"" and cp.stderr == b""
    value = "line one\n.line two\n\x01 binary-ish \u00e9\n"
    cp = server.mdata("mdata-put", "blob", channel=channel, input=value.encode())
    assert cp.returncode == 0, cp.stderr
    rec = read_record(server.record)
    assert rec["customer_metadata"]["color"] == "blue"
    assert rec["customer_metadata"]["blob"] == value
    # Everything else in the record is kept.
    assert rec["nics"] == make_record()["nics"]
    assert rec["internal_metadata"] == make_record()["internal_metadata"]
    assert out(server.mdata("mdata-get", "blob", channel=channel)) == value

    # _pw keys land in internal_metadata.
    assert server.mdata("mdata-put", "root_pw", "hunter2", channel=channel).returncode == 0
    rec = read_record(server.record)
    assert rec["internal_metadata"]["root_pw"] == "hunter2"
    assert "root_pw" not in rec["customer_metadata"]

    cp = server.mdata("mdata-delete", "color", channel=channel)
    assert cp.returncode == 0, cp.stderr
    assert "color" not in read_record(server.record)["customer_metadata"]
    assert server.mdata("mdata-get", "color", channel=channel).returncode == 1
    # Deleting what is not there succeeds, as on SmartOS.
    assert server.mdata("mdata-delete", "color", channel=channel).returncode == 0


def test_put_survives_a_restart(workdir):
    s = Server(workdir)
    try:
        assert s.mdata("mdata-put", "kept", "yes").returncode == 0
    finally:
        assert s.stop()[0] == 0
    proc = subprocess.Popen([prog("hull-metadata"), "serve", "--record",
                             s.record, "--socket", s.sock])
    try:
        while not os.path.exists(s.sock):
            time.sleep(0.02)
        assert out(s.mdata("mdata-get", "kept")) == "yes\n"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize("key,msg", [
    ("sdc:alias", 'Cannot update the "sdc" Namespace.'),
    ("secret:token", 'Cannot update the "secret" Namespace.'),
    ("operator-script", 'Cannot update "operator-script".'),
])
def test_protected_keys_are_refused(server, key, msg):
    before = open(server.record).read()
    cp = server.mdata("mdata-put", key, "x")
    assert cp.returncode == 2
    assert err1(cp) == f"Error putting metadata for key '{key}': {msg}"
    cp = server.mdata("mdata-delete", key)
    assert cp.returncode == 2
    assert err1(cp) == f"Error deleting metadata key '{key}': {msg}"
    assert open(server.record).read() == before


def test_record_update_is_seen_at_once(server):
    """What vmadm update does to the record, the next GET sees."""
    assert out(server.mdata("mdata-get", "sdc:alias")) == "web0\n"
    for i in range(5):
        rec = read_record(server.record)
        rec["alias"] = f"renamed{i}"
        rec["customer_metadata"]["user-script"] = f"v{i}"
        write_record(server.record, rec)
        assert out(server.mdata("mdata-get", "sdc:alias")) == f"renamed{i}\n"
        assert out(server.mdata("mdata-get", "user-script")) == f"v{i}\n"


def test_guest_reads_only_its_own_record(workdir):
    a = Server(workdir)
    b = Server(workdir, uuid=OTHER, alias="db0")
    try:
        assert out(a.mdata("mdata-get", "sdc:uuid")) == UUID + "\n"
        assert out(b.mdata("mdata-get", "sdc:uuid")) == OTHER + "\n"
        assert out(b.mdata("mdata-get", "sdc:alias", channel="serial")) == "db0\n"
        assert b.mdata("mdata-put", "mine", "b").returncode == 0
        assert a.mdata("mdata-get", "mine").returncode == 1
        assert "mine" not in read_record(a.record)["customer_metadata"]
        # Names are keys, never paths or other records.
        for key in (f"../../{OTHER}/config/vm.json", f"sdc:../{OTHER}",
                    "sdc:internal_metadata.hidden:thing", "sdc:zonepath",
                    "sdc:customer_metadata", "hidden:thing"):
            assert a.mdata("mdata-get", key).returncode == 1, key
    finally:
        a.stop()
        b.stop()


# --- the raw protocol --------------------------------------------------

def frame(body):
    return f"V2 {len(body)} {binascii.crc32(body.encode()) & 0xffffffff:08x} {body}\n"


class Raw:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.connect(path)
        self.f = self.s.makefile("rwb")

    def ask(self, line):
        self.f.write(line.encode() if isinstance(line, str) else line)
        self.f.flush()
        return self.f.readline().decode()

    def close(self):
        self.f.close()
        self.s.close()


def test_raw_protocol_v1_and_v2(server):
    r = Raw(server.sock)
    try:
        # The spec's worked example, byte for byte.
        assert r.ask("V2 25 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=\n") == \
            "V2 65 3695fa49 8c2a91f0 SUCCESS NGYyYjFjM2UtNmE3ZC00ZThmLTlhMGItMWMyZDNlNGY1YTZi\n"
        assert r.ask("NEGOTIATE V2\n") == "V2_OK\n"
        assert r.ask("NEGOTIATE V3\n") == "FAILURE\n"
        assert r.ask("\n") == "invalid command\n"
        assert r.ask("PUT foo bar\n") == "invalid command\n"
        assert r.ask("GET nope\n") == "NOTFOUND\n"
        # V1 dot-stuffing of a value whose lines start with '.'.
        assert r.ask("GET multi\n") == "SUCCESS\n"
        assert [r.f.readline().decode() for _ in range(4)] == \
            ["..starts with a dot\n", "..\n", "end\n", ".\n"]
        # Bad CRC and bad length: noise; bad base64 and unknown codes:
        # FAILURE addressed to the request.
        assert r.ask("V2 25 c4192fce 8c2a91f0 GET c2RjOnV1aWQ=\n") == "invalid command\n"
        assert r.ask("V2 26 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=\n") == "invalid command\n"
        for body, why in [("0000abcd GET c2RjOnV1aWQ", "Invalid base64 payload"),
                          ("0000abcd FROB", "Unknown command"),
                          ("0000abcd PUT Zm9v", "Invalid PUT Request")]:
            got = r.ask(frame(body))
            payload = base64.b64encode(why.encode()).decode()
            assert got == frame(f"0000abcd FAILURE {payload}"), body
        # PUT sdc: is refused with the spec's frame.
        put = "8c2a91f0 PUT " + base64.b64encode(b"c2RjOnV1aWQ= eA==").decode()
        assert r.ask(frame(put)) == \
            "V2 65 2fc64522 8c2a91f0 FAILURE Q2Fubm90IHVwZGF0ZSB0aGUgInNkYyIgTmFtZXNwYWNlLg==\n"
        # Still in step after all that.
        assert r.ask("V2 13 069659f3 8c2a91f0 KEYS\n").startswith("V2 ")
    finally:
        r.close()


def test_hostile_clients_do_not_block_others(workdir):
    s = Server(workdir, extra=("--max-connections", "8"))
    hostile = []
    try:
        # One that never ends its line, one that sends a line far over
        # the limit, one that asks and never reads, and a crowd of idle
        # connections beyond the bound.
        slow = Raw(s.sock)
        slow.s.sendall(b"V2 25 c4192fcf 8c2a91f0 GET c2Rj")
        hostile.append(slow)
        huge = Raw(s.sock)
        huge.s.setblocking(False)
        chunk = b"x" * 65536
        sent = 0
        deadline = time.time() + 5
        while sent < 4 << 20 and time.time() < deadline:
            try:
                sent += huge.s.send(chunk)
            except BlockingIOError:
                time.sleep(0.001)
        hostile.append(huge)
        greedy = Raw(s.sock)
        greedy.s.setblocking(False)
        try:
            for _ in range(20000):
                greedy.s.send(b"GET multi\n")
        except BlockingIOError:
            pass
        hostile.append(greedy)

        def served():
            t0 = time.time()
            for _ in range(20):
                cp = s.mdata("mdata-get", "sdc:uuid", timeout=10)
                assert cp.returncode == 0, cp.stderr
                assert out(cp) == UUID + "\n"
            assert out(s.mdata("mdata-get", "sdc:hostname",
                               channel="serial")) == "web0\n"
            assert time.time() - t0 < 20

        # A well-behaved guest is served, promptly, over and over.
        served()
        # The over-long line got its one answer once it ended.
        huge.s.setblocking(True)
        huge.s.settimeout(10)
        huge.s.sendall(b"\nNEGOTIATE V2\n")
        assert huge.f.readline() == b"invalid command\n"
        assert huge.f.readline() == b"V2_OK\n"

        # A crowd of idle connections far over the bound (8) costs the
        # crowd its oldest members, not the newcomer its answer.
        for _ in range(40):
            hostile.append(Raw(s.sock))
        served()
    finally:
        for h in hostile:
            h.close()
        rc, err = s.stop()
    assert rc == 0, err


# --- Debian's cloud-init, unmodified ------------------------------------

CLOUDINIT_CLIENT = r"""
import json, sys
from cloudinit.sources import DataSourceSmartOS as ds
kind, path = sys.argv[1], sys.argv[2]
if kind == "socket":
    c = ds.JoyentMetadataSocketClient(path, smartos_type=ds.SMARTOS_ENV_LX_BRAND)
elif kind == "serial":
    c = ds.JoyentMetadataSerialClient(path, timeout=10, smartos_type=ds.SMARTOS_ENV_KVM)
else:
    c = ds.jmc_client_factory(smartos_type=ds.SMARTOS_ENV_KVM, serial_device=path,
                              serial_timeout=10)
c.open_transport()
got = {}
for ci, (key, strip) in ds.SMARTOS_ATTRIB_MAP.items():
    got[ci] = c.get(key, strip=strip)
for ci, key in ds.SMARTOS_ATTRIB_JSON.items():
    got[ci] = c.get_json(key)
got["keys"] = c.list()
got["put"] = c.put("from-cloud-init", "hello")
got["after_put"] = c.get("from-cloud-init")
got["delete"] = c.delete("from-cloud-init")
got["after_delete"] = c.get("from-cloud-init")
c.close_transport()
got["network_config"] = ds.convert_smartos_network_data(
    network_data=got["network-data"], dns_servers=got["dns_servers"],
    dns_domain=got["dns_domain"], routes=got["routes"])
print(json.dumps(got))
"""


def run_cloudinit(code, *args, timeout=120):
    cp = subprocess.run(["/usr/bin/python3", "-c", code, *args],
                        capture_output=True, text=True, timeout=timeout)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout.splitlines()[-1])


def have_cloudinit():
    return subprocess.run(
        ["/usr/bin/python3", "-c", "import cloudinit.sources.DataSourceSmartOS"],
        capture_output=True).returncode == 0


def needs_cloudinit(f):
    """cloud-init is installed by scripts/deps --test: its absence fails."""
    def check(*a, **kw):
        if not have_cloudinit():
            pytest.fail("Debian's cloud-init is not installed: run scripts/deps --test")
        return f(*a, **kw)
    return functools.wraps(f)(check)


@needs_cloudinit
@pytest.mark.parametrize("kind", ["socket", "serial", "factory-serial"])
def test_cloudinit_client_reads_the_record(server, kind):
    path = server.sock if kind == "socket" else server.tty
    got = run_cloudinit(CLOUDINIT_CLIENT, kind, path)
    assert got["instance-id"] == UUID
    assert got["hostname"] == "web0"
    assert got["local-hostname"] is None  # no "hostname" key: cloud-init falls back
    assert got["user-data"] == USER_DATA
    assert got["public-keys"] == "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAtest test@example"
    assert got["user-script"] == "#!/bin/sh\necho hello\n"
    assert got["operator-script"] == "#!/bin/sh\ntrue\n"
    assert got["availability_zone"] == "us-test-1"
    assert got["dns_domain"] == "example.com"
    assert got["vendor-data"] is None
    # sdc:nics: the record's nics with SmartOS's representative
    # ip/netmask/gateway beside ips/gateways
    want = [dict(n) for n in make_record()["nics"]]
    want[0].update(ip="192.0.2.10", netmask="255.255.255.0", gateway="192.0.2.1")
    assert got["network-data"] == want
    assert got["dns_servers"] == ["192.0.2.53"]
    assert got["routes"] == [{"dst": "198.51.100.0/24", "gateway": "192.0.2.254",
                              "linklocal": False}]
    assert "cloud-init:user-data" in got["keys"]
    assert got["put"] == "OK" and got["after_put"] == "hello"
    assert got["delete"] == "OK" and got["after_delete"] is None
    cfg = got["network_config"]
    phys = [c for c in cfg["config"] if c["type"] == "physical"]
    assert phys[0]["name"] == "net0"
    assert phys[0]["mac_address"] == "02:08:20:aa:bb:cc"
    assert phys[0]["mtu"] == 1500
    subnet = phys[0]["subnets"][0]
    assert subnet["type"] == "static" and subnet["address"] == "192.0.2.10/24"
    assert subnet["gateway"] == "192.0.2.1"
    assert {"network": "198.51.100.0/24", "gateway": "192.0.2.254"} in \
        [{k: r[k] for k in ("network", "gateway")} for r in subnet["routes"]]
    ns = [c for c in cfg["config"] if c["type"] == "nameserver"]
    assert ns[0]["address"] == ["192.0.2.53"]
    # The record is as it was: the PUT and DELETE went through it.
    assert "from-cloud-init" not in read_record(server.record)["customer_metadata"]


DATASOURCE = r"""
import json, os, sys
from cloudinit import distros, helpers, settings
from cloudinit.sources import DataSourceSmartOS as ds
kind, path, cloud_dir = sys.argv[1], sys.argv[2], sys.argv[3]
sys_cfg = {"datasource": {"Joyent": {"metadata_sockfile": path,
                                     "serial_device": path,
                                     "serial_timeout": 10}}}
paths = helpers.Paths({"cloud_dir": cloud_dir, "run_dir": cloud_dir + "/run"})
distro = distros.fetch("debian")("debian", {}, paths)
src = ds.DataSourceSmartOS(sys_cfg, distro, paths)
src.smartos_type = ds.SMARTOS_ENV_LX_BRAND if kind == "socket" else ds.SMARTOS_ENV_KVM
src.md_client = ds.sources.UNSET
src._init()
assert src.get_data()
print(json.dumps({"instance_id": src.get_instance_id(),
                  "hostname": src.get_hostname().hostname,
                  "keys": src.get_public_ssh_keys(),
                  "userdata": src.get_userdata_raw(),
                  "network": src.network_config,
                  "user_script": open(os.path.join(cloud_dir, "instances",
                      src.get_instance_id(), "data", "user-script")).read()}))
"""


@needs_cloudinit
@pytest.mark.parametrize("kind", ["socket", "serial"])
def test_cloudinit_datasource_end_to_end(server, workdir, kind):
    """DataSourceSmartOS.get_data() as cloud-init runs it at boot. It also
    writes SmartOS's legacy files under /var/db and /var/svc, so it runs in
    a mount namespace of its own with a scratch /var."""
    path = server.sock if kind == "socket" else server.tty
    cloud_dir = os.path.join(workdir, "cloud")
    script = os.path.join(workdir, "ds.py")
    with open(script, "w") as f:
        f.write(DATASOURCE)
    cp = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         'mount -t tmpfs scratch /var && exec /usr/bin/python3 "$@"', "sh",
         script, kind, path, cloud_dir],
        capture_output=True, text=True, timeout=120)
    if cp.returncode != 0 and "unshare failed" in cp.stderr:
        skips.skip("host-denies", "cannot make a mount namespace here: " + cp.stderr.strip())
    assert cp.returncode == 0, cp.stderr
    got = json.loads(cp.stdout.splitlines()[-1])
    assert got["instance_id"] == UUID
    assert got["hostname"] == "web0"
    assert got["keys"] == ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAtest test@example"]
    assert got["userdata"] == USER_DATA
    assert got["user_script"] == "#!/bin/sh\necho hello\n"
    phys = [c for c in got["network"]["config"] if c["type"] == "physical"]
    assert phys[0]["mac_address"] == "02:08:20:aa:bb:cc"


# --- the host program ----------------------------------------------------

def test_hull_metadata_errors(workdir):
    def fails(*args):
        cp = subprocess.run([prog("hull-metadata"), *args], capture_output=True,
                            text=True, timeout=30)
        assert cp.returncode != 0
        lines = [l for l in cp.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, cp.stderr
        return lines[0]
    assert "needs --record" in fails("serve", "--socket", os.path.join(workdir, "s"))
    assert "No such file" in fails("serve", "--record", os.path.join(workdir, "none.json"),
                                   "--socket", os.path.join(workdir, "s"))
    bad = os.path.join(workdir, "bad.json")
    with open(bad, "w") as f:
        f.write("{not json")
    assert "invalid JSON" in fails("serve", "--record", bad, "--socket",
                                   os.path.join(workdir, "s"))
    rec = os.path.join(workdir, "vm.json")
    write_record(rec, make_record())
    notsock = os.path.join(workdir, "file")
    open(notsock, "w").close()
    assert "not a socket" in fails("serve", "--record", rec, "--socket", notsock)
    assert "unknown command" in fails("frob")
    assert "unknown option '--bogus'" in fails("serve", "--bogus")
    assert "'--record' needs a value" in fails("serve", "--record")
    assert "--max-connections" in fails("serve", "--record", rec, "--socket",
                                        os.path.join(workdir, "s"),
                                        "--max-connections", "0")
    assert not os.path.exists(os.path.join(workdir, "s"))
    cp = subprocess.run([prog("hull-metadata"), "--help"], capture_output=True, text=True)
    assert cp.returncode == 0 and "serve" in cp.stdout


# --- the guest tools against an old, V1-only host ----------------------

def test_mdata_tools_fall_back_to_v1(workdir):
    """A host that does not know NEGOTIATE: GET and KEYS still work over
    V1 (with dot-stuffed multi-line values), PUT and DELETE are refused
    by the tools themselves, as SmartOS's are."""
    import threading
    path = os.path.join(workdir, "v1.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(8)
    seen = []

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            f = c.makefile("rwb")
            for line in f:
                line = line.decode().rstrip("\n")
                seen.append(line)
                if line == "GET sdc:uuid":
                    f.write(f"SUCCESS\n{UUID}\n.\n".encode())
                elif line == "GET dots":
                    f.write(b"SUCCESS\n..one\n...\nthree\n.\n")
                elif line == "KEYS":
                    f.write(b"SUCCESS\na\nb\n.\n")
                elif line.startswith("GET "):
                    f.write(b"NOTFOUND\n")
                else:
                    f.write(b"invalid command\n")
                f.flush()
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    env = dict(os.environ, HULL_MDATA_SOCKET=path)

    def run(*args):
        return subprocess.run([prog(args[0]), *args[1:]], capture_output=True,
                              env=env, timeout=30)
    try:
        assert out(run("mdata-get", "sdc:uuid")) == UUID + "\n"
        assert out(run("mdata-get", "dots")) == ".one\n..\nthree\n"
        assert run("mdata-get", "nope").returncode == 1
        assert out(run("mdata-list")) == "a\nb\n"
        cp = run("mdata-put", "k", "v")
        assert cp.returncode == 2 and err1(cp) == "ERROR: host does not support PUT"
        cp = run("mdata-delete", "k")
        assert cp.returncode == 2 and err1(cp) == "ERROR: host does not support DELETE"
        assert "NEGOTIATE V2" in seen
        assert not [l for l in seen if l.startswith(("PUT", "DELETE", "V2 "))]
    finally:
        lsock.close()


def test_guest_tools_are_static():
    """They run inside any guest image: no program interpreter (PT_INTERP),
    so no shared libraries."""
    import struct
    for tool in ("mdata-get", "mdata-put", "mdata-list", "mdata-delete"):
        with open(prog(tool), "rb") as f:
            elf = f.read()
        assert elf[:4] == b"\x7fELF" and elf[4] == 2, tool
        phoff, = struct.unpack_from("<Q", elf, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
        types = [struct.unpack_from("<I", elf, phoff + i * phentsize)[0]
                 for i in range(phnum)]
        assert 3 not in types, f"{tool} is dynamically linked"


def test_stale_pty_link_is_replaced(workdir):
    """After a crash the COM2 stand-in link points to a pty that is gone;
    the next run replaces it instead of opening whatever has that name."""
    s = Server(workdir)
    s.proc.kill()
    s.proc.wait()
    s.proc.stderr.close()
    assert os.readlink(s.tty).startswith("/dev/pts/")
    s2 = Server(workdir)
    try:
        assert out(s2.mdata("mdata-get", "sdc:uuid", channel="serial")) == UUID + "\n"
    finally:
        rc, err = s2.stop()
    assert rc == 0, err
    assert not os.path.lexists(s.tty)


def test_serial_on_an_existing_device(workdir):
    """--serial PATH on a character device that exists: hull-metadata
    opens it raw and serves it. Here the device is a pty's guest end and
    this test speaks from the other end, as a VMM's UART would."""
    rec = os.path.join(workdir, "vm.json")
    write_record(rec, make_record())
    master, slave = os.openpty()
    dev = os.ttyname(slave)
    os.close(slave)
    proc = subprocess.Popen([prog("hull-metadata"), "serve", "--record", rec,
                             "--serial", dev], stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 20
        got = b""
        # Resynchronise as a serial client does: bare newlines until the
        # host answers "invalid command" (it may not be listening yet).
        while b"invalid command\n" not in got:
            assert time.time() < deadline, got
            os.write(master, b"\n")
            time.sleep(0.05)
            while select.select([master], [], [], 0.05)[0]:
                got += os.read(master, 4096)
        os.write(master, b"V2 25 c4192fcf 8c2a91f0 GET c2RjOnV1aWQ=\n")
        line = b""
        while not line.endswith(b"\n"):
            line += os.read(master, 4096)
        assert line == b"V2 65 3695fa49 8c2a91f0 SUCCESS " \
            b"NGYyYjFjM2UtNmE3ZC00ZThmLTlhMGItMWMyZDNlNGY1YTZi\n"
    finally:
        proc.terminate()
        rc = proc.wait(timeout=20)
        os.close(master)
    assert rc == 0, proc.stderr.read()


def test_put_while_the_instance_is_locked(server):
    """A command holding the instance lock long makes a PUT fail after a
    bounded wait, never stalls the server: GETs go on meanwhile."""
    import fcntl
    lock = os.open(os.path.join(server.dir, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        put = subprocess.Popen([prog("mdata-put"), "k", "v"], env=server.env(),
                               stderr=subprocess.PIPE)
        time.sleep(0.2)
        assert out(server.mdata("mdata-get", "sdc:uuid", channel="serial")) == UUID + "\n"
        assert put.wait(timeout=30) == 2
        assert put.stderr.read().decode().strip() == \
            "Error putting metadata for key 'k': Instance busy, try again"
        assert "k" not in read_record(server.record)["customer_metadata"]
    finally:
        os.close(lock)
    assert server.mdata("mdata-put", "k", "v").returncode == 0
    assert read_record(server.record)["customer_metadata"]["k"] == "v"


def test_mdata_get_retries_when_the_host_goes_away(workdir, server):
    """The first connection breaks mid-request (the host restarted): the
    tool opens the channel afresh and asks again, as mdata-client does."""
    import threading
    path = os.path.join(workdir, "flaky.sock")
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(path)
    lsock.listen(8)
    conns = []

    def serve():
        while True:
            try:
                c, _ = lsock.accept()
            except OSError:
                return
            conns.append(c)
            f = c.makefile("rwb")
            assert f.readline() == b"NEGOTIATE V2\n"
            f.write(b"V2_OK\n")
            f.flush()
            req = f.readline()
            if len(conns) == 1:
                f.close()
                c.close()  # gone mid-request
                continue
            # Relay to the real server, as a restarted host would answer.
            r = Raw(server.sock)
            f.write(r.ask(req).encode())
            f.flush()
            r.close()
            f.close()
            c.close()

    threading.Thread(target=serve, daemon=True).start()
    try:
        cp = subprocess.run([prog("mdata-get"), "sdc:uuid"], capture_output=True,
                            env=dict(os.environ, HULL_MDATA_SOCKET=path), timeout=30)
        assert cp.returncode == 0, cp.stderr
        assert out(cp) == UUID + "\n"
        assert len(conns) == 2
    finally:
        lsock.close()


def test_tools_find_the_channel_themselves(server, workdir):
    """Without HULL_MDATA_*: a zone socket at one of SmartOS's paths wins,
    else COM2 (/dev/ttyS1). Shown in a private mount namespace where
    /var/run/smartdc/metadata.sock is the server's socket, then where only
    /dev/ttyS1 (the server's pty) exists."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HULL_MDATA_")}
    get = prog("mdata-get")
    sock_script = (
        'mount -t tmpfs run /run && mkdir -p /run/smartdc && '
        'touch /run/smartdc/metadata.sock && '
        'mount --bind "$1" /run/smartdc/metadata.sock && exec "$2" sdc:uuid')
    tty = os.path.realpath(server.tty)
    hold = os.path.join(workdir, "ttyS1")
    serial_script = (
        'touch "$3" && mount --bind "$1" "$3" && '
        'mount -t tmpfs run /run && mount -t tmpfs dev /dev && '
        'touch /dev/ttyS1 && mount --bind "$3" /dev/ttyS1 && exec "$2" sdc:hostname')
    results = []
    for script, args in ((sock_script, [server.sock, get]),
                         (serial_script, [tty, get, hold])):
        cp = subprocess.run(["unshare", "--mount", "--propagation", "private",
                             "sh", "-c", script, "sh", *args],
                            capture_output=True, text=True, env=env, timeout=60)
        if cp.returncode != 0 and ("unshare failed" in cp.stderr or
                                   "mount:" in cp.stderr):
            skips.skip("host-denies", "cannot make a mount namespace here: " + cp.stderr.strip())
        results.append(cp)
    assert results[0].returncode == 0, results[0].stderr
    assert results[0].stdout == UUID + "\n"
    assert results[1].returncode == 0, results[1].stderr
    assert results[1].stdout == "web0\n"


def test_large_values_on_both_channels(server):
    """The largest value a guest may PUT goes through the socket and comes
    back whole over the serial line; one byte more is refused."""
    limit = 512 * 1024
    big = ("0123456789abcdef" * (limit // 16 + 1))[:limit - 1] + "\n"
    cp = server.mdata("mdata-put", "big", input=big.encode())
    assert cp.returncode == 0, cp.stderr
    cp = server.mdata("mdata-get", "big", channel="serial", timeout=60)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.decode() == big
    cp = server.mdata("mdata-put", "big2", input=(big + "x").encode())
    assert cp.returncode == 2
    assert "value too large" in err1(cp)
    assert "big2" not in read_record(server.record)["customer_metadata"]


def test_record_bound_counts_json_escapes(server):
    """The 2 MiB a guest may grow its record to is counted as the record
    file holds it: 400 KiB of control characters is 2.4 MiB there
    ("\\u0001" each), refused, and the record stays as it was."""
    def put(key, value):
        b64 = base64.b64encode
        body = "0000abcd PUT " + b64(b64(key.encode()) + b" " +
                                     b64(value.encode())).decode()
        return f"V2 {len(body)} {binascii.crc32(body.encode()):08x} {body}\n"

    size0 = os.path.getsize(server.record)
    r = Raw(server.sock)
    try:
        got = r.ask(put("esc", "\x01" * (400 << 10)))
        assert got.split()[4] == "FAILURE", got
        assert base64.b64decode(got.split()[5]) == b"Metadata too large"
        assert "esc" not in read_record(server.record)["customer_metadata"]
        assert os.path.getsize(server.record) == size0
        # the same number of plain letters is within the bound
        got = r.ask(put("plain", "x" * (400 << 10)))
        assert got.split()[4] == "SUCCESS", got
    finally:
        r.close()


# --- large values beside the record (issue 11 item 6) -------------------

def md_io(pid):
    """Bytes the process handed to write(2) (wchar: counted whatever the
    file system, unlike write_bytes, which tmpfs never charges) and the
    bytes it sent to storage."""
    with open(f"/proc/{pid}/io") as f:
        io = dict(l.split(": ") for l in f.read().splitlines())
    return int(io["wchar"]), int(io["write_bytes"])


def side_files(config):
    d = os.path.join(config, "metadata")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def side_files_consistent(config):
    """Every side file vm.json names is there and holds what it names, and
    nothing else is there. Returns the names."""
    import hashlib
    refs = read_record(os.path.join(config, "vm.json")).get(
        "hull_metadata_files", {})
    named = {}
    for which in refs.values():
        for ref in which.values():
            named[ref["sha256"]] = ref["size"]
    assert side_files(config) == sorted(named)
    for sha, size in named.items():
        with open(os.path.join(config, "metadata", sha), "rb") as f:
            data = f.read()
        assert len(data) == size and hashlib.sha256(data).hexdigest() == sha
    return sorted(named)


def test_large_values_live_beside_the_record(bare):
    """Large metadata values live in root-only side files beside vm.json,
    so a guest's small PUT rewrites a small record: with 1.5 MiB of
    metadata present, 50 PUTs of a few bytes wrote 75 MiB before (each an
    fsync'd rewrite of it all). Every reader still sees the values in
    customer_metadata / internal_metadata, and a record from before side
    files (a 1.5 MiB value inline) is read as it is and moved out at its
    next write."""
    from conftest import _init_pool
    from vmtools import create, get, install_images, record_nictags, zone, \
        unfreeze
    import hashlib
    _init_pool(bare, "dir")
    install_images(bare)
    record_nictags(bare)
    try:
        # vmadm takes values of up to 4 KiB, 40 of them are 160 KiB: the
        # largest go beside the record until it holds 64 KiB of metadata
        many = {f"v{i:02d}": chr(ord("a") + i % 26) * 4000 for i in range(40)}
        u = create(bare, zone(customer_metadata={"small": "s", **many}))
        config = os.path.join(bare.root, u, "config")
        record = os.path.join(config, "vm.json")
        assert os.path.getsize(record) < 80 << 10
        assert len(side_files_consistent(config)) >= 20
        assert get(bare, u)["customer_metadata"] == {"small": "s", **many}
        assert "hull_metadata_files" not in get(bare, u)
        lk = json.loads(bare.run("vmadm", "lookup", "-j", "-o",
                                 "uuid,customer_metadata").out)
        assert lk == [{"uuid": u, "customer_metadata": {"small": "s",
                                                        **many}}]
        d = os.path.join(config, "metadata")
        assert os.stat(d).st_mode & 0o777 == 0o700
        for name in os.listdir(d):
            st = os.stat(os.path.join(d, name))
            assert st.st_mode & 0o777 == 0o600 and st.st_uid == 0
        # an older reader sees a key as missing, never a reference as its
        # value
        raw = read_record(record)["customer_metadata"]
        assert raw["small"] == "s"
        assert all(raw.get(k, v) == v for k, v in many.items())
        bare.run("vmadm", "update", u, input=json.dumps({
            "remove_customer_metadata": sorted(many)}))
        assert side_files(config) == []

        # a record from before side files, holding a 1.5 MiB value (three
        # guest PUTs of 512 KiB made as much before)
        big = "".join(f"{i:07d} line of a big value\n"
                      for i in range(1536 * 1024 // 28 + 1))[:1536 * 1024]
        rec = read_record(record)
        rec["customer_metadata"]["big"] = big
        write_record(record, rec)
        assert get(bare, u)["customer_metadata"]["big"] == big
        sha = hashlib.sha256(big.encode()).hexdigest()

        sock = os.path.join(bare.workdir, "md.sock")
        proc = subprocess.Popen([prog("hull-metadata"), "serve", "--record",
                                 record, "--socket", sock],
                                stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            while not os.path.exists(sock):
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline
                time.sleep(0.02)
            env = dict(os.environ, HULL_MDATA_SOCKET=sock)

            def mdata(*args, value=None):
                return subprocess.run([prog(args[0]), *args[1:]],
                                      capture_output=True, env=env,
                                      input=value, timeout=60)
            cp = mdata("mdata-get", "big")
            assert cp.returncode == 0, cp.stderr
            assert cp.stdout.decode() == big + "\n"
            # the first write moves it out
            assert mdata("mdata-put", "first", "x").returncode == 0
            assert side_files_consistent(config) == [sha]
            w0, b0 = md_io(proc.pid)
            t0 = time.monotonic()
            for i in range(50):
                cp = mdata("mdata-put", f"k{i}", "tiny")
                assert cp.returncode == 0, cp.stderr
            dt = time.monotonic() - t0
            w1, b1 = md_io(proc.pid)
            print(f"\n50 small PUTs with a 1.5 MiB value: wchar "
                  f"{w1 - w0} write_bytes {b1 - b0} in {dt:.2f} s")
            # each PUT rewrote a record of a few KiB, not 1.5 MiB
            assert w1 - w0 < 50 * (64 << 10), w1 - w0
            assert os.path.getsize(record) < 64 << 10
            assert side_files_consistent(config) == [sha]
            assert mdata("mdata-get", "big").stdout.decode() == big + "\n"
            assert mdata("mdata-get", "k49").stdout == b"tiny\n"
            # a guest's value past the threshold goes beside the record too
            mid = "m" * (300 << 10)
            assert mdata("mdata-put", "mid", value=mid.encode()).returncode == 0
            assert len(side_files_consistent(config)) == 2
            assert "mid" not in read_record(record)["customer_metadata"]
            assert mdata("mdata-get", "mid").stdout.decode() == mid + "\n"
            # replaced by a small value: its file goes
            assert mdata("mdata-put", "mid", "short").returncode == 0
            assert side_files_consistent(config) == [sha]
            assert read_record(record)["customer_metadata"]["mid"] == "short"
            # a _pw key is internal_metadata, large or not
            assert mdata("mdata-put", "root_pw",
                         value=mid.encode()).returncode == 0
            assert get(bare, u)["internal_metadata"]["root_pw"] == mid
            assert mdata("mdata-delete", "root_pw").returncode == 0
            # deleting the key removes its side file
            cp = mdata("mdata-delete", "big")
            assert cp.returncode == 0, cp.stderr
            assert side_files(config) == []
            assert mdata("mdata-get", "big").returncode == 1
        finally:
            proc.terminate()
            assert proc.wait(timeout=20) == 0, proc.stderr.read()
        assert "big" not in get(bare, u)["customer_metadata"]

        # vmadm update sets and removes values beside the record the same
        # way, in internal_metadata too
        env_value = "E" * 4096
        bare.run("vmadm", "update", u, input=json.dumps({
            "set_internal_metadata": {"docker:env": env_value}}))
        assert len(side_files_consistent(config)) == 1
        assert get(bare, u)["internal_metadata"]["docker:env"] == env_value

        # a snapshot holds the record and its side files; a rollback keeps
        # the record as it is now (as on SmartOS) with its side files
        bare.run("vmadm", "create-snapshot", u, "s1")
        bare.run("vmadm", "update", u, input=json.dumps({
            "remove_internal_metadata": ["docker:env"],
            "set_customer_metadata": {"later": "L" * 4096}}))
        later = side_files_consistent(config)
        assert len(later) == 1
        bare.run("vmadm", "rollback-snapshot", u, "s1")
        assert side_files_consistent(config) == later
        vm = get(bare, u)
        assert vm["customer_metadata"]["later"] == "L" * 4096
        assert "docker:env" not in vm["internal_metadata"]

        # delete removes the instance, side files and all
        bare.run("vmadm", "delete", u)
        assert not os.path.exists(os.path.join(bare.root, u))
    finally:
        unfreeze(bare.workdir)
        bare.run("hull", "fini", check=False)
