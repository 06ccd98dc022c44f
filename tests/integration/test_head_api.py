"""The head node as its users see it: `hulladm setup` makes it, `hull-api`
serves it, and the real `triton` 7.17.0 CLI from npm (installed once into
a cache under /var/cache/hull-test with the host's node) reads the account,
keys, images, packages and networks with rsa, ecdsa and ed25519 keys made
by ssh-keygen. Every API test runs on both state drivers: SQLite, and a
throwaway PostgreSQL 15 cluster (initdb in a temporary folder as nobody,
on a unix socket there) that the module starts and removes.

The attacks are driven by a small HTTP Signature client here (Python's
cryptography): no credentials, a wrong signature, an unknown key, a stale
Date, another account's key, an oversized body, unknown routes.
"""
import base64
import email.utils
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

import imgtools as it
import pglib
import skips
from conftest import Host, prog

TRITON_VERSION = "7.17.0"
PG_BIN = pglib.PG_BIN


# ---- PostgreSQL: one throwaway cluster for the module ----

@pytest.fixture(scope="module")
def pgcluster():
    # scripts/deps --test installs postgresql-15: its absence fails.
    assert os.path.exists(os.path.join(PG_BIN, "initdb")), \
        "postgresql-15 is missing: run scripts/deps --test"
    d, stop = pglib.start_cluster()
    try:
        yield d
    finally:
        stop()


pg_database = pglib.pg_database


# ---- the head node ----

class Head:
    def __init__(self, host, db):
        self.host = host
        self.db = db
        self.proc = None
        self.url = None
        self.log = os.path.join(host.workdir, "hull-api.log")

    def adm(self, *args, check=True):
        return self.host.run("hulladm", *args, check=check)

    def start(self):
        logf = open(self.log, "w")
        self.proc = subprocess.Popen([prog("hull-api")], env=self.host.env,
                                     stdout=subprocess.DEVNULL, stderr=logf)
        logf.close()
        deadline = time.time() + 20
        while time.time() < deadline:
            with open(self.log) as f:
                for line in f:
                    if '"listening"' in line:
                        j = json.loads(line)
                        self.url, self.port = j["url"], j["port"]
                        return
            assert self.proc.poll() is None, open(self.log).read()
            time.sleep(0.05)
        raise AssertionError("hull-api did not start: " + open(self.log).read())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(params=["sqlite", "postgresql"])
def head(request, workdir):
    root = os.path.join(workdir, "pool")
    os.makedirs(root)
    host = Host(root, workdir)
    db = "sqlite"
    if request.param == "postgresql":
        db = pg_database(request.getfixturevalue("pgcluster"))
    h = Head(host, db)
    r = h.adm("setup", "--db", db, "--listen", "127.0.0.1:0", "--no-tls")
    assert "hull-agent join --head http://127.0.0.1:0 --token " in r.out
    yield h
    h.stop()


# ---- keys and the signing client ----

def ssh_key(home, kind, name="id"):
    """A key made by ssh-keygen in HOME/.ssh; (private path, pub line,
    md5 fingerprint)."""
    d = os.path.join(home, ".ssh")
    os.makedirs(d, mode=0o700, exist_ok=True)
    path = os.path.join(d, f"{name}_{kind.replace(' ', '')}")
    args = {"rsa": ["-t", "rsa", "-b", "2048"],
            "ecdsa": ["-t", "ecdsa", "-b", "256"],
            "ecdsa384": ["-t", "ecdsa", "-b", "384"],
            "ed25519": ["-t", "ed25519"]}[kind]
    subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C",
                    f"{name}@test", "-f", path], check=True)
    pub = open(path + ".pub").read()
    fp = subprocess.run(["ssh-keygen", "-E", "md5", "-l", "-f", path + ".pub"],
                        capture_output=True, text=True, check=True).out \
        if False else subprocess.run(
            ["ssh-keygen", "-E", "md5", "-l", "-f", path + ".pub"],
            capture_output=True, text=True, check=True).stdout
    md5 = fp.split()[1][len("MD5:"):]
    return path, pub, md5


def sign(path, text):
    """(algorithm, base64 signature) as node-triton makes them."""
    key = serialization.load_ssh_private_key(open(path, "rb").read(), None)
    data = text.encode()
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519-sha512", base64.b64encode(key.sign(data)).decode()
    if isinstance(key, ec.EllipticCurvePrivateKey):
        bits = key.curve.key_size
        h = {256: hashes.SHA256(), 384: hashes.SHA384()}.get(bits,
                                                             hashes.SHA512())
        alg = {256: "sha256", 384: "sha384"}.get(bits, "sha512")
        return (f"ecdsa-{alg}",
                base64.b64encode(key.sign(data, ec.ECDSA(h))).decode())
    return ("rsa-sha256", base64.b64encode(
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode())


def request(head, method, path, key=None, key_id=None, body=None,
            date=None, raw_body=None, algorithm=None):
    """One request; key signs it as the CLI does. (status, json, headers)"""
    c = http.client.HTTPConnection("127.0.0.1", head.port, timeout=20)
    hdrs = {"Accept": "application/json"}
    if date is None:
        date = email.utils.formatdate(usegmt=True)
    hdrs["Date"] = date
    if key:
        text = f"(request-target): {method.lower()} {path}\ndate: {date}"
        alg, sig = sign(key, text)
        hdrs["Authorization"] = (
            f'Signature keyId="{key_id}",algorithm="{algorithm or alg}",'
            f'headers="(request-target) date",signature="{sig}"')
    data = raw_body
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=hdrs)
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, (json.loads(raw) if raw else None), dict(r.getheaders())


# ---- the real triton CLI ----

@pytest.fixture(scope="module")
def triton_bin():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        skips.skip("no-node", "node and npm run the real triton CLI")
    base = os.environ.get("HULL_TEST_CACHE") or "/var/cache/hull-test"
    d = os.path.join(base, f"npm-triton-{TRITON_VERSION}")
    os.makedirs(d, exist_ok=True)
    binp = os.path.join(d, "node_modules", ".bin", "triton")
    with open(os.path.join(base, ".triton.lock"), "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if not os.path.exists(binp):
            r = subprocess.run([npm, "install", "--prefix", d, "--no-audit",
                                "--no-fund", f"triton@{TRITON_VERSION}"],
                               capture_output=True, text=True, timeout=600)
            if r.returncode != 0:
                skips.skip("offline", "npm could not install triton: "
                           + r.stderr.strip().splitlines()[-1][:200])
    return binp


def triton(tbin, head, home, login, fp, *args, check=True):
    env = {"PATH": os.environ["PATH"], "HOME": home,
           "TRITON_URL": head.url, "TRITON_ACCOUNT": login,
           "TRITON_KEY_ID": fp, "TRITON_TLS_INSECURE": "1"}
    r = subprocess.run([tbin, *args], env=env, capture_output=True,
                       text=True, timeout=120)
    if check:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def populate(head, workdir):
    """An account, a package, a public network and a public image."""
    head.adm("user", "add", "alice", "--email", "alice@example.com")
    head.adm("package", "add", "small-1G", "--memory", "1024", "--disk",
             "25600", "--vcpus", "1")
    head.adm("network", "add", "external", "--subnet", "203.0.113.0/24",
             "--gateway", "203.0.113.1", "--provision-start", "203.0.113.10",
             "--provision-end", "203.0.113.250", "--nic-tag", "external",
             "--vlan", "0", "--public")
    d = os.path.join(workdir, "img")
    os.makedirs(d)
    m, mpath, fpath = it.image(d, name="base-64", version="24.4.0")
    head.adm("image", "import", "-m", mpath, "-f", fpath)
    return m


# triton 7.17.0 itself cannot sign with P-384 ("SHA384 is not a supported
# hash algorithm", client side): test_keys_over_the_api signs with one.
@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_triton_cli_reads_the_head_node(head, workdir, triton_bin, kind):
    m = populate(head, workdir)
    home = os.path.join(workdir, "home")
    _path, _pub, fp = ssh_key(home, kind)
    head.adm("user", "key-add", "alice", _path + ".pub")
    head.start()

    info = triton(triton_bin, head, home, "alice", fp, "info").stdout
    assert "login: alice" in info and "email: alice@example.com" in info
    assert "instances: 0" in info

    pk = triton(triton_bin, head, home, "alice", fp, "package", "list",
                "-H", "-o", "name,memory,disk,vcpus").stdout.split()
    assert pk == ["small-1G", "1G", "25G", "1"]

    net = triton(triton_bin, head, home, "alice", fp, "network", "list",
                 "-H", "-o", "name,subnet,gateway,public").stdout.split()
    assert net == ["external", "203.0.113.0/24", "203.0.113.1", "true"]

    img = triton(triton_bin, head, home, "alice", fp, "image", "list",
                 "-H", "-o", "id,name,version,os,type").stdout.split()
    assert img == [m["uuid"], "base-64", "24.4.0", "linux", "lx-dataset"]
    # filters pass through to the server
    none = triton(triton_bin, head, home, "alice", fp, "image", "list",
                  "-H", "name=other").stdout
    assert none.strip() == ""

    keys = triton(triton_bin, head, home, "alice", fp, "key", "list",
                  "-o", "fingerprint").stdout.split()
    assert keys == ["FINGERPRINT", fp]  # key list has no -H


def test_triton_cli_over_tls(workdir, triton_bin):
    root = os.path.join(workdir, "pool")
    os.makedirs(root)
    h = Head(Host(root, workdir), "sqlite")
    h.adm("setup", "--listen", "127.0.0.1:0", "--tls")
    key = os.path.join(root, "head", "tls", "key.pem")
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert os.stat(os.path.join(root, "head", "state.db")).st_mode & 0o777 \
        == 0o600
    assert os.stat(os.path.join(root, "head")).st_mode & 0o777 == 0o700
    h.adm("user", "add", "alice")
    home = os.path.join(workdir, "home")
    path, _pub, fp = ssh_key(home, "ed25519")
    h.adm("user", "key-add", "alice", path + ".pub")
    h.start()
    try:
        assert h.url.startswith("https://127.0.0.1:")
        out = triton(triton_bin, h, home, "alice", fp, "info").stdout
        assert "login: alice" in out
        # without -i the CLI refuses the self-signed certificate
        env_bad = triton(triton_bin, h, home, "alice", fp, "info",
                         check=False)
        assert env_bad.returncode == 0  # TRITON_TLS_INSECURE is set
    finally:
        h.stop()


def test_attacks_are_refused(head, workdir):
    populate(head, workdir)
    head.adm("user", "add", "bob")
    home = os.path.join(workdir, "home")
    akey, _apub, afp = ssh_key(home, "ed25519", "alice")
    bkey, _bpub, bfp = ssh_key(home, "rsa", "bob")
    head.adm("user", "key-add", "alice", akey + ".pub")
    head.adm("user", "key-add", "bob", bkey + ".pub")
    head.start()
    aid = f"/alice/keys/{afp}"

    # no credentials: only /--ping answers
    st, body, hdr = request(head, "GET", "/--ping")
    assert st == 200 and body["ping"] == "pong"
    for path in ("/alice", "/alice/keys", "/alice/images", "/my/packages"):
        st, body, _ = request(head, "GET", path)
        assert st == 401 and body["code"] == "InvalidCredentials", path

    # the good request works
    st, body, hdr = request(head, "GET", "/alice", akey, aid)
    assert st == 200 and body["login"] == "alice"
    assert hdr.get("Api-Version") and hdr.get("Request-Id")

    # wrong signature: bob's key signs under alice's keyId
    st, body, _ = request(head, "GET", "/alice", bkey, aid,
                          algorithm="ed25519-sha512")
    assert st == 401 and body["code"] == "InvalidCredentials"
    assert "signature" in body["message"]

    # unknown key, unknown login: the same answer
    st, body, _ = request(head, "GET", "/alice", akey,
                          "/alice/keys/00:11:22:33:44:55:66:77:88:99:aa:bb:"
                          "cc:dd:ee:ff")
    assert (st, body["code"]) == (401, "InvalidCredentials")
    assert body["message"].startswith("Invalid key")
    st, body2, _ = request(head, "GET", "/mallory", akey,
                           f"/mallory/keys/{afp}")
    assert (st, body2["code"]) == (401, "InvalidCredentials")
    assert body2["message"].startswith("Invalid key")

    # a stale Date (replay), properly signed
    old = email.utils.formatdate(time.time() - 400, usegmt=True)
    st, body, _ = request(head, "GET", "/alice", akey, aid, date=old)
    assert st == 401 and "clock skew" in body["message"]
    future = email.utils.formatdate(time.time() + 400, usegmt=True)
    st, body, _ = request(head, "GET", "/alice", akey, aid, date=future)
    assert st == 401 and "clock skew" in body["message"]

    # another account's key: alice's resources are 404 to bob, exactly as
    # an account that does not exist
    bid = f"/bob/keys/{bfp}"
    st, body, _ = request(head, "GET", "/alice/keys", bkey, bid)
    assert (st, body["code"]) == (404, "ResourceNotFound")
    st, body_none, _ = request(head, "GET", "/nosuchuser/keys", bkey, bid)
    assert (st, body_none["code"]) == (404, "ResourceNotFound")
    st, _, _ = request(head, "GET", f"/alice/keys/{afp}", bkey, bid)
    assert st == 404
    # and bob's own key list does not show alice's key
    st, body, _ = request(head, "GET", "/my/keys", bkey, bid)
    assert st == 200 and [k["fingerprint"] for k in body] == [bfp]

    # an oversized body is refused before it is read, and nothing is added
    big = {"name": "big", "key": "ssh-ed25519 " + "A" * 100000}
    st, body, _ = request(head, "POST", "/alice/keys", akey, aid, body=big)
    assert (st, body["code"]) == (413, "RequestEntityTooLarge")
    st, body, _ = request(head, "GET", "/alice/keys", akey, aid)
    assert len(body) == 1

    # unknown routes and methods
    st, body, _ = request(head, "GET", "/alice/nothing", akey, aid)
    assert (st, body["code"]) == (404, "ResourceNotFound")
    st, body, _ = request(head, "PUT", "/alice/packages", akey, aid)
    assert (st, body["code"]) == (405, "MethodNotAllowed")

    # the server is still up and right after all of it
    st, body, _ = request(head, "GET", "/my", akey, aid)
    assert st == 200 and body["login"] == "alice"


def test_keys_over_the_api(head, workdir):
    head.adm("user", "add", "alice")
    home = os.path.join(workdir, "home")
    akey, _pub, afp = ssh_key(home, "ecdsa", "alice")
    head.adm("user", "key-add", "alice", akey + ".pub")
    _p2, pub2, fp2 = ssh_key(home, "ed25519", "laptop")
    head.start()
    aid = f"/alice/keys/{afp}"
    st, body, _ = request(head, "POST", "/alice/keys", akey, aid,
                          body={"name": "laptop", "key": pub2})
    assert st == 201 and body["fingerprint"] == fp2 and body["name"] == "laptop"
    st, body, _ = request(head, "POST", "/alice/keys", akey, aid,
                          body={"name": "again", "key": pub2})
    assert st == 409 and "already registered" in body["message"]
    st, body, _ = request(head, "POST", "/alice/keys", akey, aid,
                          body={"name": "junk", "key": "ssh-rsa AAAA"})
    assert st == 409 and body["code"] == "InvalidArgument"
    st, body, _ = request(head, "POST", "/alice/keys", akey, aid,
                          body={"name": "x"})
    assert (st, body["code"]) == (409, "MissingParameter")
    st, body, _ = request(head, "GET", "/alice/keys/laptop", akey, aid)
    assert st == 200 and body["fingerprint"] == fp2
    st, body, _ = request(head, "DELETE", "/alice/keys/laptop", akey, aid)
    assert st == 204
    st, body, _ = request(head, "GET", "/alice/keys", akey, aid)
    assert [k["fingerprint"] for k in body] == [afp]
    # the deleted key no longer signs in
    st, body, _ = request(head, "GET", "/alice", _p2, f"/alice/keys/{fp2}")
    assert st == 401
    # a P-384 key added over the API signs with ecdsa-sha384
    p3, pub3, fp3 = ssh_key(home, "ecdsa384", "p384")
    st, body, _ = request(head, "POST", "/alice/keys", akey, aid,
                          body={"key": pub3})
    assert st == 201 and body["name"] == fp3
    st, body, _ = request(head, "GET", "/my", p3, f"/alice/keys/{fp3}")
    assert st == 200 and body["login"] == "alice"


def test_imgadm_imports_from_the_head_nodes_imgapi(head, workdir):
    m = populate(head, workdir)
    # a private image is not served without credentials
    d = os.path.join(workdir, "img2")
    os.makedirs(d)
    m2, mp2, fp2 = it.image(d, name="private", public=False)
    head.adm("image", "import", "-m", mp2, "-f", fp2)
    head.start()
    url = head.url + "/imgapi"
    pool = Host(os.path.join(workdir, "cn"), workdir)
    os.makedirs(pool.root)
    pool.run("hull", "init", "--backend", "dir")
    try:
        pool.run("imgadm", "sources", "-d", "https://images.smartos.org")
        pool.run("imgadm", "sources", "-a", url)
        avail = pool.run("imgadm", "avail", "-H", "-o", "uuid,name").out
        assert avail.split() == [m["uuid"], "base-64"]
        pool.run("imgadm", "import", m["uuid"])
        got = json.loads(pool.run("imgadm", "get", m["uuid"]).out)
        assert got["manifest"]["name"] == "base-64"
        r = pool.run("imgadm", "import", m2["uuid"], check=False)
        assert r.rc != 0
    finally:
        pool.run("hull", "fini", check=False)
        subprocess.run(["chattr", "-R", "-i", pool.root], capture_output=True)


def test_hulladm_refuses_bad_input_and_changes_nothing(head, workdir):
    head.adm("user", "add", "alice")
    state = os.path.join(head.host.root, "head")
    bad = [
        ("user", "add", "alice"),
        ("user", "add", "my"),
        ("user", "add", "9lives"),
        ("user", "key-add", "nobody-here", "/etc/hostname"),
        ("user", "key-add", "alice", "/etc/hostname"),
        ("package", "add", "p", "--memory", "lots", "--disk", "1",
         "--vcpus", "1"),
        ("package", "add", "p", "--memory", "1024", "--disk", "1024",
         "--vcpus", "1", "--swap", "512"),
        ("package", "add", "p", "--memory", "1024", "--disk", "1024",
         "--vcpus", "1", "--brand", "vmware"),
        ("network", "add", "n", "--subnet", "203.0.113.0/24", "--gateway",
         "198.51.100.1", "--provision-start", "203.0.113.10",
         "--provision-end", "203.0.113.20", "--nic-tag", "external"),
        ("network", "add", "n", "--subnet", "203.0.113.5/24", "--gateway",
         "203.0.113.1", "--provision-start", "203.0.113.10",
         "--provision-end", "203.0.113.20", "--nic-tag", "external"),
        ("setup", "--db", "mysql://x"),
        ("setup", "--listen", "localhost"),
    ]
    for args in bad:
        head.host.fails("hulladm", *args)
    d = os.path.join(workdir, "img")
    os.makedirs(d)
    m, mpath, fpath = it.image(d, name="x")
    with open(fpath, "ab") as f:
        f.write(b"tampered")
    r = head.host.fails("hulladm", "image", "import", "-m", mpath, "-f", fpath)
    assert "sha1" in r.err
    assert not os.path.exists(os.path.join(state, "images", m["uuid"]))
    # nothing of the above landed
    accts = head.adm("-j", "user", "add", "carol").out
    assert json.loads(accts)["login"] == "carol"
    head.start()
    st, body, _ = request(head, "GET", "/--ping")
    assert st == 200


def test_setup_is_idempotent_and_join_tokens_are_fresh(head):
    cfg = os.path.join(head.host.root, "head", "config.json")
    before = json.load(open(cfg))
    r1 = json.loads(head.adm("-j", "setup").out)
    r2 = json.loads(head.adm("-j", "setup").out)
    assert json.load(open(cfg)) == before
    assert r1["token"] != r2["token"] and len(r1["token"]) == 64
    assert r1["command"] == (f"hull-agent join --head {r1['url']} --token "
                             f"{r1['token']}")
    assert r1["db"] == ("sqlite" if head.db == "sqlite" else "postgresql")
    t = head.adm("join-token").out.strip()
    assert len(t) == 64 and t not in (r1["token"], r2["token"])
    # the admin account exists once
    head.host.fails("hulladm", "user", "add", "admin")


def set_throttle(head, throttle):
    cfg = os.path.join(head.host.root, "head", "config.json")
    conf = json.load(open(cfg))
    conf["throttle"] = throttle
    with open(cfg, "w") as f:
        json.dump(conf, f)


def test_a_flood_is_throttled_per_account(head, workdir):
    """Each account has its own token bucket (restify's throttle, keyed
    by login as CloudAPI configures it): past its burst an account gets
    429 RequestThrottled with Retry-After, others are served as before,
    and requests that fail authentication spend no one's tokens."""
    head.adm("user", "add", "alice")
    head.adm("user", "add", "bob")
    home = os.path.join(workdir, "home")
    akey, _a, afp = ssh_key(home, "ed25519", "alice")
    bkey, _b, bfp = ssh_key(home, "ed25519", "bob")
    head.adm("user", "key-add", "alice", akey + ".pub")
    head.adm("user", "key-add", "bob", bkey + ".pub")
    set_throttle(head, {"rate": 0.5, "burst": 3})
    head.start()
    aid, bid = f"/alice/keys/{afp}", f"/bob/keys/{bfp}"

    # Forged requests naming alice (bob's key under her keyId) are 401
    # and do not touch her bucket.
    for _ in range(8):
        st, body, _h = request(head, "GET", "/alice", bkey, aid,
                               algorithm="ed25519-sha512")
        assert st == 401 and body["code"] == "InvalidCredentials"

    codes = []
    for _ in range(20):
        st, body, hdr = request(head, "GET", "/my", akey, aid)
        codes.append(st)
        if st == 429:
            break
    assert codes[:3] == [200, 200, 200], codes
    assert codes[-1] == 429, codes
    assert body == {"code": "RequestThrottled",
                    "message": "You have exceeded your request rate of "
                               "0.5 r/s."}
    retry = int(hdr["Retry-After"])
    assert 1 <= retry <= 2, hdr
    # Throttled is not a 5xx and changes nothing: a write is refused too.
    st, body, _h = request(head, "POST", "/alice/keys", akey, aid,
                           body={"name": "x", "key": _b})
    assert (st, body["code"]) == (429, "RequestThrottled")

    # bob is served meanwhile.
    st, body, hdr = request(head, "GET", "/my", bkey, bid)
    assert st == 200 and body["login"] == "bob" and "Retry-After" not in hdr

    # Once Retry-After has passed alice is served again; the refused
    # write left nothing behind.
    time.sleep(retry)
    st, body, _h = request(head, "GET", "/my/keys", akey, aid)
    assert st == 200 and [k["fingerprint"] for k in body] == [afp]

    # A bad throttle in the config: hull-api refuses to start.
    head.stop()
    set_throttle(head, {"rate": "fast"})
    r = subprocess.run([prog("hull-api")], env=head.host.env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "throttle" in r.stderr


def test_a_stalled_client_holds_up_no_one(head, workdir):
    """Clients that send half a request and stall (headers cut off, or a
    body shorter than its Content-Length) do not keep others waiting:
    the server reads every connection without blocking."""
    import socket
    head.adm("user", "add", "alice")
    home = os.path.join(workdir, "home")
    akey, _a, afp = ssh_key(home, "ed25519", "alice")
    head.adm("user", "key-add", "alice", akey + ".pub")
    head.start()
    aid = f"/alice/keys/{afp}"
    stalled = []
    try:
        for i in range(10):
            s = socket.create_connection(("127.0.0.1", head.port), 10)
            if i % 2:
                s.sendall(b"GET /alice HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Date: ")
            else:
                s.sendall(b"POST /alice/keys HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\n"
                          b"Content-Length: 1000\r\n\r\n{\"name\":")
            stalled.append(s)
        for _ in range(3):
            t0 = time.time()
            st, body, _h = request(head, "GET", "/my", akey, aid)
            took = time.time() - t0
            assert st == 200 and body["login"] == "alice"
            # The server's idle timeout is 30 s: a blocked server would
            # answer after it, a serving one at once (generous bound for
            # a loaded machine).
            assert took < 10, took
        # The stalled ones are still waiting, unanswered.
        for s in stalled:
            s.setblocking(False)
            try:
                assert s.recv(1) == b"", "answered a half request"
            except BlockingIOError:
                pass
    finally:
        for s in stalled:
            s.close()
    st, body, _h = request(head, "GET", "/--ping")
    assert st == 200
