"""Consoles in the browser, as a page (or a script) uses them: a console
ticket from CloudAPI (`triton cloudapi -X POST /my/machines/ID/console`,
signed as every CloudAPI call), then a WebSocket to the ticket's url, here
with Debian's python3-websocket, against a converged head node (the head
node and its agent on one pool, test_head_agent.py's layout).

The console is a busybox zone's: its shell answers `uname -v` with
`BrandZ virtual linux`; a resize message sets the pty's size (`stty
size`); a new console shows what the last one left (scrollback). Refused:
no ticket, a used one, an expired one, another account's instance, a
foreign Origin; a hostile client's frames (unmasked, oversized,
fragments without end, invalid UTF-8) close its own socket with the
RFC 6455 code while another console goes on."""
import contextlib
import ctypes
import json
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse

import websocket

from conftest import Host, prog
from nethelp import NetHost
from test_head_agent import (DC, Node, Proc, admin_network, converged,
                             lifecycle)
from test_head_api import ssh_key, triton_bin  # noqa: F401  (fixture)
from vmtools import unfreeze

ORIGIN = "http://127.0.0.1:8443"
CLONE_NEWNET = 0x40000000


def ns_socket(ns, host, port):
    """A TCP connection made inside network namespace ns (setns in a
    thread of its own: the socket stays in that namespace)."""
    out = {}

    def run():
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(f"/var/run/netns/{ns}", os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                out["err"] = OSError(ctypes.get_errno(), "setns")
                return
            out["sock"] = socket.create_connection((host, port), timeout=10)
        except OSError as e:
            out["err"] = e
        finally:
            os.close(fd)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "err" in out:
        raise out["err"]
    return out["sock"]


class Console:
    """A console WebSocket (websocket-client over a namespaced socket)."""

    def __init__(self, ns, url, origin=ORIGIN):
        u = urllib.parse.urlsplit(url)
        sock = ns_socket(ns, u.hostname, u.port)
        if u.scheme == "wss":
            # The head node's self-signed certificate, as a browser that
            # was told to accept it.
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname=u.hostname)
        self.ws = websocket.create_connection(url, socket=sock, origin=origin,
                                              timeout=10)
        self.seen = b""

    def type(self, text):
        self.ws.send_binary(text.encode())

    def control(self, obj):
        self.ws.send(json.dumps(obj))

    def wait_for(self, pattern, within=20):
        """Reads until the console's bytes match pattern (a regex)."""
        t0 = time.time()
        while not re.search(pattern, self.seen.decode(errors="replace")):
            assert time.time() - t0 < within, self.seen[-2000:]
            self.ws.settimeout(max(0.1, within - (time.time() - t0)))
            op, data = self.ws.recv_data()
            assert op == websocket.ABNF.OPCODE_BINARY, (op, data)
            self.seen += data
        return self.seen.decode(errors="replace")

    def close(self):
        self.ws.close()


def raw_upgrade(ns, url, origin=ORIGIN, key="dGhlIHNhbXBsZSBub25jZQ=="):
    """A hand-made handshake: (status, headers text, socket)."""
    u = urllib.parse.urlsplit(url)
    s = ns_socket(ns, u.hostname, u.port)
    target = u.path + (f"?{u.query}" if u.query else "")
    hdrs = [f"GET {target} HTTP/1.1", f"Host: {u.hostname}:{u.port}",
            "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        hdrs.append(f"Origin: {origin}")
    s.sendall(("\r\n".join(hdrs) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    return status, head.decode(), s, rest


def frame(op, payload, fin=True, mask=True, length=None):
    """A client frame; length overrides the declared length."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | op
    m = 0x80 if mask else 0
    if n < 126:
        h = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, m | 126, n)
    else:
        h = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return h + payload
    key = b"\x11\x22\x33\x44"
    return h + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def close_code(s, rest=b"", within=10):
    """Reads server frames until a close frame; returns its code (None
    when the connection ends without one)."""
    s.settimeout(within)
    buf = rest
    while True:
        while len(buf) >= 2:
            op, n = buf[0] & 0x0f, buf[1] & 0x7f
            off = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, off = struct.unpack("!H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, off = struct.unpack("!Q", buf[2:10])[0], 10
            if len(buf) < off + n:
                break
            if op == 0x8:
                return struct.unpack("!H", buf[off:off + 2])[0]
            buf = buf[off + n:]
        try:
            d = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return None
        if not d:
            return None
        buf += d


class Site:
    """A head node and its node (as a layout below yields them), with
    alice (the layout's), bob and the operator holding keys, and the CLI
    to ask for tickets."""

    def __init__(self, dc, node, tbin):
        self.dc, self.node, self.tbin = dc, node, tbin
        self.ns = dc.head_ns  # where a browser would be
        self.suuid = node.uuid()
        self.keys = {"alice": dc.fp}
        for login in ("bob", "admin"):
            if login != "admin":
                dc.adm("user", "add", login)
            path, _pub, self.keys[login] = ssh_key(dc.home, "ed25519", login)
            dc.adm("user", "key-add", login, path + ".pub")

    def zone(self, name):
        return lifecycle(self.dc, self.tbin, {self.suuid: self.node}, name)

    def post(self, path, body=None, account="alice"):
        """triton cloudapi -X POST as alice, bob or admin: (rc, parsed
        body)."""
        args = ["-U", self.dc.url, "-a", account, "-k", self.keys[account],
                "cloudapi", "-X", "POST", path]
        if self.dc.url.startswith("https:"):
            args.insert(0, "-i")
        if body is not None:
            args += ["-d", json.dumps(body)]
        r = subprocess.run(["ip", "netns", "exec", self.dc.head_ns,
                            self.tbin, *args],
                           env={"PATH": os.environ["PATH"],
                                "HOME": self.dc.home},
                           capture_output=True, text=True, timeout=120)
        try:
            return r.returncode, json.loads(r.stdout)
        except ValueError:
            return r.returncode, r.stdout + r.stderr

    def ticket(self, u, **body):
        rc, t = self.post(f"/my/machines/{u}/console", body)
        assert rc == 0 and "ticket" in t, t
        return t

    def open(self, u):
        return Console(self.ns, self.ticket(u)["url"])


@contextlib.contextmanager
def remote(workdir):
    """A head node alone in its namespace (192.0.2.1:8080) and one
    compute node in another, on an admin bridge (test_head_agent.py's
    datacenter layout): the head node cannot reach the node's sockets."""
    dc = DC(workdir, os.path.join(workdir, "home"))
    headroot = os.path.join(workdir, "head", "zones")
    os.makedirs(headroot)
    head = Host(headroot, os.path.join(workdir, "head"))
    net = NetHost(head)
    try:
        (ns,) = admin_network(net, 1)
        dc.setup(head.env, net.ns, "192.0.2.1:8080")
        node = Node(workdir, "cn0", ns)
        dc.nodes.append(node)
        dc.populate([node])
        assert dc.join(node, dc.new_token_line()).returncode == 0
        node.agent.start()
        dc.wait_status(node.uuid(), "running")
        yield dc, node
    finally:
        dc.close()
        net.close()
        unfreeze(workdir)


@contextlib.contextmanager
def converged_tls(workdir):
    """The converged host as `hulladm setup` makes it by default: HTTPS
    with a self-signed certificate (the agent joins with --insecure-tls,
    the line setup prints)."""
    dc = DC(workdir, os.path.join(workdir, "home"))
    node = Node(workdir, "cn0", None)
    net = NetHost(node.host)
    node.ns = node.agent.ns = net.ns
    dc.nodes.append(node)
    try:
        dc.head_env, dc.head_ns = node.host.env, net.ns
        out = dc.adm("setup").stdout
        m = re.search(r"^\s*(hull-agent join --head (https://\S+) --token "
                      r"[0-9a-f]{64} --insecure-tls)\s*$", out, re.M)
        assert m, out
        dc.url, dc.join_line = m.group(2), m.group(1)
        dc.api = Proc(net.ns, [prog("hull-api")], dc.head_env,
                      os.path.join(workdir, "hull-api.log"))
        dc.start_api()
        dc.populate([node])
        assert dc.join(node).returncode == 0
        node.agent.start()
        dc.wait_status(node.uuid(), "running")
        yield dc, node
    finally:
        dc.close()
        net.close()
        unfreeze(workdir)


def test_console_zone(workdir, triton_bin):  # noqa: F811
    with converged(workdir) as (dc, node):
        site = Site(dc, node, triton_bin)
        u = site.zone("con0")["id"]
        ns = site.ns

        # A ticket: CloudAPI's answer, with a url of the head node's own.
        t = site.ticket(u)
        assert set(t) == {"ticket", "url", "expires", "type"}
        assert t["type"] == "serial"
        assert re.fullmatch(r"[0-9a-f]{64}", t["ticket"])
        assert t["url"] == \
            f"ws://127.0.0.1:8443/alice/machines/{u}/console?ticket={t['ticket']}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", t["expires"])
        # Kept for later: it expires while the rest runs.
        stale = site.ticket(u)
        stale_at = time.time()

        # The shell on the zone's console: typed keys, its answer.
        con = Console(ns, t["url"])
        con.type("\n")
        con.type("uname -v\n")
        con.wait_for(r"BrandZ virtual linux")
        # Resize: the pty takes the size the page sends.
        con.control({"type": "resize", "rows": 37, "cols": 111})
        con.type("stty size\n")
        con.wait_for(r"\n37 111\r?\n")
        con.type("echo mark-$((6*7))-done\n")
        con.wait_for(r"mark-42-done")

        # A second console (the first stays open) starts with the
        # scrollback: what the first one showed is in it.
        con2 = site.open(u)
        con2.wait_for(r"mark-42-done", within=5)

        # Refusals, each with the reason in CloudAPI's error body.
        base = t["url"].split("?")[0]
        status, _, s, _ = raw_upgrade(ns, base)
        s.close()
        assert status == 401
        # The ticket already used.
        status, _, s, _ = raw_upgrade(ns, t["url"])
        s.close()
        assert status == 401
        # A foreign origin, with a good ticket.
        t2 = site.ticket(u)
        status, _, s, _ = raw_upgrade(ns, t2["url"], origin="http://evil.example")
        s.close()
        assert status == 403
        status, _, s, _ = raw_upgrade(ns, t2["url"], origin=None)
        s.close()
        assert status == 403
        # The ticket of one instance for another's path.
        other = site.zone("con1")["id"]
        status, _, s, _ = raw_upgrade(ns, t2["url"].replace(u, other))
        s.close()
        assert status == 401
        # Another account: no ticket for alice's instance, and alice's
        # ticket is not good under bob's login.
        rc, err = site.post(f"/my/machines/{u}/console", {}, account="bob")
        assert rc != 0 and "ResourceNotFound" in json.dumps(err), err
        t3 = site.ticket(u)
        status, _, s, _ = raw_upgrade(ns, t3["url"].replace("/alice/", "/bob/"))
        s.close()
        assert status == 401
        # The operator (the admin account) may open anyone's console.
        rc, ta = site.post(f"/my/machines/{u}/console", {}, account="admin")
        assert rc == 0 and ta["url"].startswith(
            f"ws://127.0.0.1:8443/admin/machines/{u}/console?ticket="), ta
        op = Console(ns, ta["url"])
        op.type("echo op-$((6*7))\n")
        op.wait_for(r"op-42")
        op.close()
        # A type the instance has not.
        rc, err = site.post(f"/my/machines/{u}/console", {"type": "vnc"})
        assert rc != 0 and "InvalidArgument" in json.dumps(err), err
        # A malformed Sec-WebSocket-Key.
        status, _, s, _ = raw_upgrade(ns, site.ticket(u)["url"].replace(
            "ticket=", "ticket=x"), key="short")
        s.close()
        assert status == 400

        # Hostile clients: each is cut off with RFC 6455's code.
        def hostile(data, code):
            status, _, s, rest = raw_upgrade(ns, site.ticket(u)["url"])
            assert status == 101
            try:
                for d in data:
                    s.sendall(d)
            except (BrokenPipeError, ConnectionResetError):
                pass
            got = close_code(s, rest)
            s.close()
            assert got == code, (got, code)
        hostile([frame(0x2, b"ls\n", mask=False)], 1002)
        hostile([frame(0x2, b"", length=1 << 30)], 1009)
        hostile([frame(0x1, b"\xc3\x28")], 1007)
        hostile([frame(0x0 if i else 0x2, b"x" * 1024, fin=False)
                 for i in range(200)], 1009)
        hostile([frame(0x1, b'{"type":"reboot"}')], 1003)

        # ...and the first console never noticed.
        con.type("uname -v\n")
        con.seen = b""
        con.wait_for(r"BrandZ virtual linux")
        con.close()
        con2.close()

        # The ticket kept from the start has expired by now.
        time.sleep(max(0, 31 - (time.time() - stale_at)))
        status, _, s, _ = raw_upgrade(ns, stale["url"])
        s.close()
        assert status == 401

        # A console of a stopped instance: no ticket; one open while it
        # stops is closed with 1001 (going away).
        con = site.open(u)
        site.dc.triton(triton_bin, "instance", "stop", "-w", u)
        rc, err = site.post(f"/my/machines/{u}/console", {})
        assert rc != 0 and "InvalidState" in json.dumps(err), err
        con.ws.settimeout(10)
        while True:
            op, data = con.ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_CLOSE:
                assert struct.unpack("!H", data[:2])[0] == 1001
                break

        # hull-api stops at once with a console open (it closes them
        # first, as libmicrohttpd requires).
        site.dc.triton(triton_bin, "instance", "start", "-w", u)
        con = site.open(u)
        t0 = time.time()
        site.dc.api.p.send_signal(signal.SIGTERM)
        assert site.dc.api.p.wait(10) == 0
        assert time.time() - t0 < 5
        con.ws.settimeout(5)
        try:
            while con.ws.recv_data(control_frame=True)[0] != \
                    websocket.ABNF.OPCODE_CLOSE:
                pass
        except (websocket.WebSocketConnectionClosedException,
                ConnectionResetError):
            pass



def kvm_vm_with_vnc(ns, h):
    """A kvm VM with a VNC password, created in namespace ns (its VNC
    relay then listens on that namespace's loopback, as on a converged
    host): its uuid."""
    from test_hvm_vmadm import install
    h.images = {}
    img = install(h)
    r = subprocess.run(
        ["ip", "netns", "exec", ns, prog("vmadm"), "create"],
        input=json.dumps({"brand": "kvm", "ram": 256,
                          "vnc_password": "s3cret",
                          "disks": [{"image_uuid": img, "boot": True}]}),
        env=h.env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    return r.stderr.split("Successfully created VM ")[1].split()[0]


def test_console_kvm_vnc_and_serial(workdir, triton_bin):  # noqa: F811
    """A kvm VM's screen through the WebSocket: the VNC relay's RFB
    banner and its security types (a password is set: VNC auth); and its
    COM1 as a serial console, where a resize is harmless. CloudAPI cannot
    create kvm machines yet (docs/hull-api.md), so the VM is made by
    vmadm on the converged host and its machine record written into the
    head node's state as a create would have left it."""
    from test_hvm_vmadm import READY, qemu_present, wait_console
    if not qemu_present():
        raise AssertionError("qemu-system-x86_64 is not installed: "
                             "run scripts/deps")
    with converged(workdir) as (dc, node):
        site = Site(dc, node, triton_bin)
        h = site.node.host
        u = kvm_vm_with_vnc(site.ns, h)
        with site.dc.db() as c:
            alice = next(json.loads(v) for (v,) in c.execute(
                "SELECT value FROM records WHERE bucket='accounts'")
                if json.loads(v)["login"] == "alice")
        rec = {"id": u, "name": "vm0", "brand": "kvm", "state": "running",
               "owner": alice["uuid"], "server": site.suuid,
               "compute_node": site.suuid, "type": "virtualmachine"}
        with site.dc.db() as c:
            c.execute("INSERT INTO records (bucket, key, etag, value, mtime) "
                      "VALUES ('machines', ?, 'e0', ?, 0)",
                      (u, json.dumps(rec)))

        t = site.ticket(u)
        assert t["type"] == "vnc"
        status, _, s, rest = raw_upgrade(site.ns, t["url"])
        assert status == 101
        s.close()
        # The same through a client that asks for noVNC's subprotocol.
        t = site.ticket(u)
        uu = urllib.parse.urlsplit(t["url"])
        ws = websocket.create_connection(
            t["url"], socket=ns_socket(site.ns, uu.hostname, uu.port),
            origin=ORIGIN, subprotocols=["binary"], timeout=30)
        assert ws.getsubprotocol() == "binary"
        got = b""
        while len(got) < 12:
            got += ws.recv_data()[1]
        assert re.fullmatch(rb"RFB 003\.00[38]\n", got[:12]), got
        ws.send_binary(got[:12])
        got = got[12:]
        while len(got) < 1 or len(got) < 1 + got[0]:
            got += ws.recv_data()[1]
        assert list(got[1:1 + got[0]]) == [2]  # VNC authentication
        ws.close()

        # COM1: a serial console; resize does nothing there, and the
        # socket stays up (a ping is answered).
        wait_console(h, u, READY)
        t = site.ticket(u, type="serial")
        assert t["type"] == "serial"
        con = Console(site.ns, t["url"])
        con.wait_for(re.escape(READY), within=10)  # the scrollback
        con.control({"type": "resize", "rows": 40, "cols": 120})
        con.ws.ping(b"still-there")
        con.ws.settimeout(10)
        while True:
            op, data = con.ws.recv_data(control_frame=True)
            if op == websocket.ABNF.OPCODE_PONG:
                assert data == b"still-there"
                break
        con.close()



def test_console_compute_node(workdir, triton_bin):  # noqa: F811
    """A zone on a compute node: the head node asks the node's agent,
    which connects back and carries the console."""
    with remote(workdir) as (dc, node):
        site = Site(dc, node, triton_bin)
        u = site.zone("far0")["id"]
        t = site.ticket(u)
        assert t["url"].startswith("ws://192.0.2.1:8080/alice/machines/")
        con = Console(site.ns, t["url"], origin="http://192.0.2.1:8080")
        con.type("echo far-$((6*7))\n")
        con.wait_for(r"far-42")
        con.type("uname -v\n")
        con.wait_for(r"BrandZ virtual linux")
        # Resize reaches the zone's pty through the node's agent, and
        # keystrokes after it still arrive whole.
        con.control({"type": "resize", "rows": 41, "cols": 97})
        con.type("stty size\n")
        con.wait_for(r"\n41 97\r?\n")
        con.control({"type": "resize", "rows": 25, "cols": 132})
        con.type("stty size; echo far-$((7*8))\n")
        con.wait_for(r"\n25 132\r?\nfar-56")
        con.close()
        # The scrollback comes from the node too.
        con = Console(site.ns, site.ticket(u)["url"],
                      origin="http://192.0.2.1:8080")
        con.wait_for(r"far-42", within=10)
        con.close()
        # An agent cannot take another's console: a made-up pairing id
        # is refused, and one server's key is good for itself only.
        key = json.load(open(os.path.join(
            site.node.host.root, "var", "agent", "agent.json")))["key"]
        st, _, s, _ = raw_upgrade(
            site.ns, f"ws://192.0.2.1:8080/agent/servers/{site.suuid}/"
            f"consoles/{u}", origin=None)
        s.close()
        assert st == 401
        from test_head_agent import http
        st, body = http(site.ns, "GET",
                        f"{site.dc.url}/agent/servers/{site.suuid}/consoles/{u}",
                        headers=[f"Authorization: HullAgent {key}",
                                 "Connection: Upgrade",
                                 "Upgrade: hull-console"])
        assert st == 404, body



def test_console_tls(workdir, triton_bin):  # noqa: F811
    """Under TLS: a wss:// url, the WebSocket through libmicrohttpd's TLS
    upgrade, an https Origin required."""
    with converged_tls(workdir) as (dc, node):
        site = Site(dc, node, triton_bin)
        u = site.zone("tls0")["id"]
        t = site.ticket(u)
        assert t["url"].startswith(f"wss://127.0.0.1:8443/alice/machines/{u}/")
        # The plain-http origin of the same host is another origin.
        try:
            Console(site.ns, t["url"], origin="http://127.0.0.1:8443")
            raise AssertionError("a foreign origin was let in")
        except websocket.WebSocketBadStatusException as e:
            assert e.status_code == 403
        con = Console(site.ns, t["url"], origin="https://127.0.0.1:8443")
        con.type("uname -v\n")
        con.wait_for(r"BrandZ virtual linux")
        con.close()
