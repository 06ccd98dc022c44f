"""The web console in a real browser: Debian's chromium, headless, driven
through python3-selenium and chromium-driver against a converged head node
(the head node and one compute node on one pool, test_head_agent.py's
layout), as a user and as an attacker would use it.

The browser runs in the test's network namespace: the test's thread enters
it (setns) before chromedriver starts, so chromedriver, chromium and
selenium's connection to chromedriver all live there.

Screenshots go to $HULL_WEB_SHOTS when set, else to the test's own work
folder (never into the repository)."""
import contextlib
import ctypes
import glob
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time

import pytest

from conftest import ROOT, Host
from nethelp import NetHost
from test_head_agent import DC, Node
from test_head_api import Head, head, pgcluster  # noqa: F401  (fixtures)
from vmtools import unfreeze

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import (NoSuchElementException,
                                        StaleElementReferenceException)
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

CLONE_NEWNET = 0x40000000
COLUMNS = ["Name", "IP", "Image", "Firewall", "Created", "Status", "Brand",
           "Package", "Server"]
PASSWORD = "correct horse battery staple"
# The console ticket endpoint and its WebSocket (POST
# /:login/machines/:id/console) are issue 15's other half, built in
# src/head/console.c on their own branch: the Console tab is driven once
# that file is in the tree (a property of the source, not of this host;
# once both halves are merged this is always true and can go).
HAS_CONSOLE_WS = os.path.exists(os.path.join(ROOT, "src", "head",
                                             "console.c"))
# The alias of an instance made outside the API (the store is the
# datacenter's truth; any writer could have put it there).
HTML_ALIAS = '<img src=x onerror="window.pwned=1">'


# The accessible-name rule, simplified: what a screen reader would read
# for each visible control.
UNNAMED_JS = """
const bad = [];
for (const e of document.querySelectorAll(
        'button, input, select, textarea, a[href], [role=button], [tabindex]')) {
  if (e.type === 'hidden' || e.closest('.xterm, #screen') ||
      !e.getClientRects().length) continue;
  let name = e.getAttribute('aria-label') || '';
  const by = e.getAttribute('aria-labelledby');
  if (!name && by) name = by.split(/\\s+/).map(
      id => (document.getElementById(id) || {}).textContent || '').join(' ');
  if (!name && e.labels && e.labels.length)
    name = [...e.labels].map(l => l.textContent).join(' ');
  if (!name) name = e.getAttribute('title') || '';
  if (!name && (e.tagName === 'BUTTON' || e.tagName === 'A'))
    name = e.textContent;
  if (!name && (e.type === 'submit' || e.type === 'button')) name = e.value;
  if (!name.trim()) bad.push(e.outerHTML.slice(0, 160));
}
return bad;
"""


@contextlib.contextmanager
def in_netns(ns):
    """This thread (and what it starts) in network namespace ns."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    old = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    new = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if libc.setns(new, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        yield
    finally:
        libc.setns(old, CLONE_NEWNET)
        os.close(old)
        os.close(new)


def start_browser(workdir):
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1400,1000",
              f"--user-data-dir={workdir}/chromium", "--no-first-run"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    svc = Service("/usr/bin/chromedriver",
                  log_path=os.path.join(workdir, "chromedriver.log"))
    d = webdriver.Chrome(service=svc, options=opts)
    d.set_script_timeout(30)
    return d


class Page:
    """The browser on the console, with the log checks the test makes."""

    def __init__(self, driver, url, shots):
        self.d, self.url, self.shots = driver, url, shots
        self.errors = []
        self.expected = []  # (url part, status) of requests meant to fail
        self.n = 0

    def find(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def finds(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def wait(self, fn, within=30, what="condition"):
        try:
            # A page re-rendered between two WebDriver calls leaves stale
            # elements: look again.
            return WebDriverWait(self.d, within, 0.05, ignored_exceptions=(
                StaleElementReferenceException, NoSuchElementException)
            ).until(lambda d: fn())
        except Exception:
            self.shot("timeout")
            raise AssertionError(f"timed out waiting for {what}; status: "
                                 f"{self.status()!r}; log: {self.log()}")

    def status(self):
        return self.find("#status").text

    def shot(self, name):
        self.n += 1
        self.d.save_screenshot(os.path.join(self.shots,
                                            f"{self.n:02d}-{name}.png"))

    def log(self):
        """The browser's log since the last call; errors other than the
        expected failed requests are kept for the final check."""
        entries = self.d.get_log("browser")
        for e in entries:
            if e["level"] != "SEVERE":
                continue
            m = re.search(r"(\S+) - Failed to load resource: the server "
                          r"responded with a status of (\d+)", e["message"])
            if m and any(part in m.group(1) and int(m.group(2)) == st
                         for part, st in self.expected):
                continue
            self.errors.append(e["message"])
        return entries

    def login(self, login, password):
        self.wait(lambda: self.find("#login").is_displayed(), what="login")
        self.find("#login-name").clear()
        self.find("#login-name").send_keys(login)
        self.find("#login-password").clear()
        self.find("#login-password").send_keys(password)
        self.find("#login-submit").click()

    def login_by_keyboard(self, login, password):
        """The login form with the keyboard only: Tab to the login field,
        type, Tab, type, Enter."""
        self.wait(lambda: self.find("#login").is_displayed(), what="login")
        self.d.execute_script("document.activeElement.blur()")
        chain = ActionChains(self.d)
        for _ in range(12):
            if self.d.execute_script(
                    "return document.activeElement.id") == "login-name":
                break
            chain.send_keys(Keys.TAB).perform()
        else:
            raise AssertionError("Tab never reached the login field")
        ActionChains(self.d).send_keys(login, Keys.TAB, password,
                                       Keys.ENTER).perform()

    def unnamed_controls(self):
        """The visible controls a screen reader could not name (no
        aria-label, aria-labelledby, label, title or text), outside the
        third-party terminal and screen widgets."""
        return self.d.execute_script(UNNAMED_JS)

    def go(self, hash_):
        self.d.execute_script("location.hash = arguments[0]", hash_)

    # Read in one script: the table may be re-rendered between two
    # WebDriver calls.
    def rows(self):
        return self.d.execute_script(
            "return [...document.querySelectorAll('#instances tbody tr')]"
            ".map(tr => tr.dataset.id)")

    def cell(self, uuid, col):
        return self.d.execute_script(
            "const td = document.querySelector(`#instances tr[data-id=\"${"
            "arguments[0]}\"] td[data-col=\"${arguments[1]}\"]`);"
            "return td ? td.textContent : null;", uuid, col)

    def csrf(self):
        return self.d.execute_async_script(
            "const done = arguments[0];"
            "fetch('/console/session').then(r => r.json())"
            ".then(s => done(s.csrf));")


def curl(ns, method, url, body=None, headers=(), cookie=None, source=None,
         tls=False):
    """(status, headers text, body) of one request from inside ns (tls:
    the head node's self-signed certificate accepted)."""
    cmd = ["ip", "netns", "exec", ns, "curl", "-s", "-i", "--path-as-is",
           "-X", method, url]
    if tls:
        cmd.append("-k")
    if source:
        cmd += ["--interface", source]
    if cookie:
        cmd += ["-H", f"Cookie: hull_session={cookie}"]
    for h in headers:
        cmd += ["-H", h]
    if body is not None:
        cmd += ["-H", "Content-Type: application/json", "-d",
                json.dumps(body)]
    out = subprocess.run(cmd, capture_output=True,
                         timeout=30).stdout.decode()
    head, _, text = out.partition("\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, head, text


def cookie_of(head):
    m = re.search(r"^Set-Cookie: hull_session=([0-9a-f]*);(.*)$", head,
                  re.M | re.I)
    return (m.group(1), m.group(2)) if m else (None, None)


def set_passwords(dc, workdir, *logins):
    pw = os.path.join(workdir, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    for login in logins:
        if dc.adm("user", "passwd", login, "--password-file", pw,
                  check=False).returncode != 0:
            dc.adm("user", "add", login, "--password-file", pw)


def put_machine(dc, rec):
    """A machine record written into the head node's store as another
    writer would (with its index rows)."""
    with dc.db() as c:
        c.execute("INSERT INTO records (bucket, key, etag, value, mtime) "
                  "VALUES ('machines', ?, 'x', ?, 0)",
                  (rec["id"], json.dumps(rec)))
        for f in ("owner", "name", "server"):
            c.execute("INSERT INTO record_index (bucket, key, field, value)"
                      " VALUES ('machines', ?, ?, ?)",
                      (rec["id"], f, rec[f]))


def set_config(dc, **kv):
    path = os.path.join(dc.head_env["HULL_ROOT"], "head", "config.json")
    with open(path) as f:
        c = json.load(f)
    c.update(kv)
    with open(path, "w") as f:
        json.dump(c, f)
    dc.api.kill()
    dc.start_api()
    # start_api finds the first start's line in the log: wait for this
    # one to answer.
    t0 = time.time()
    while curl(dc.head_ns, "GET", dc.url + "/--ping")[0] != 200:
        assert time.time() - t0 < 30, dc.api.text()[-2000:]
        time.sleep(0.05)


class ImgapiServer:
    """A one-image IMGAPI (GET /images/UUID, /images/UUID/file) on
    127.0.0.1 of the namespace this is made in."""

    def __init__(self, manifest, path):
        body = json.dumps(manifest).encode()
        uuid = manifest["uuid"]

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == f"/images/{uuid}":
                    data, ctype = body, "application/json"
                elif self.path == f"/images/{uuid}/file":
                    with open(path, "rb") as f:
                        data, ctype = f.read(), "application/octet-stream"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.srv.server_address[1]}"
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def admin_lists(dc, page, driver, ns, base, workdir):
    """The operator creates and deletes packages, networks and images
    from the pages (in page: the admin's session); anyone else is refused
    through the same session path with the API's error."""
    st, head, b = curl(ns, "POST", base + "/console/login",
                       {"login": "bob", "password": PASSWORD})
    bob, _ = cookie_of(head)
    bob_csrf = json.loads(b)["csrf"]
    for method, path, body in (
            ("POST", "/my/packages", {"name": "x", "memory": 1, "disk": 1,
                                      "vcpus": 1}),
            ("DELETE", "/my/networks/external", None),
            ("POST", "/my/images?action=import-from-url",
             {"url": "http://127.0.0.1:1", "uuid": dc.image}),
            ("DELETE", f"/my/images/{dc.image}", None)):
        st, _, b = curl(ns, method, base + path, body, cookie=bob,
                        headers=[f"X-CSRF-Token: {bob_csrf}"])
        assert st == 403, (path, st, b)
        assert json.loads(b)["code"] == "NotAuthorized", b
        assert "only the operator (admin)" in json.loads(b)["message"]

    def records(bucket):
        with dc.db() as c:
            return [json.loads(v) for v, in c.execute(
                "SELECT value FROM records WHERE bucket=?", (bucket,))]

    def fill(form, values):
        for k, v in values.items():
            e = page.find(f"#{form} [name='{k}']")
            if e.get_attribute("type") == "checkbox":
                if v:
                    e.click()
            else:
                e.clear()
                e.send_keys(str(v))
        page.find(f"#{form}-submit").click()

    def delete_row(text):
        rows = [r for r in page.finds("#view tbody tr") if text in r.text]
        assert len(rows) == 1, text
        rows[0].find_element(By.CSS_SELECTOR, "button.row-delete").click()
        driver.switch_to.alert.accept()
        page.wait(lambda: text not in page.find("#view table").text,
                  what=f"{text} gone from the list")

    # Packages: add one, see it, an invalid one shows the API's error,
    # delete it; one in use is refused with the reason.
    page.go("#/packages")
    page.wait(lambda: page.finds("#create-package"), what="package form")
    fill("create-package", {"name": "web-256M", "memory": 256,
                            "disk": 2048, "vcpus": 2})
    page.wait(lambda: "web-256M" in page.find("#view table").text,
              what="the new package listed")
    p = [r for r in records("packages") if r["name"] == "web-256M"]
    assert len(p) == 1 and p[0]["memory"] == 256 and p[0]["vcpus"] == 2
    page.expected.append(("/my/packages", 409))
    fill("create-package", {"name": "web-256M", "memory": 256,
                            "disk": 2048, "vcpus": 2})
    page.wait(lambda: page.find("#status").get_attribute("role") ==
              "alert" and "web-256M" in page.status(),
              what="the duplicate refused")
    delete_row("web-256M")
    assert not [r for r in records("packages") if r["name"] == "web-256M"]

    # Networks.
    page.go("#/networks")
    page.wait(lambda: page.finds("#create-network"), what="network form")
    fill("create-network", {"name": "lab", "subnet": "198.51.100.0/24",
                            "gateway": "198.51.100.1",
                            "provision_start_ip": "198.51.100.10",
                            "provision_end_ip": "198.51.100.99",
                            "nic_tag": "pub0", "resolvers": "192.0.2.53",
                            "public": True})
    page.wait(lambda: "198.51.100.0/24" in page.find("#view table").text,
              what="the new network listed")
    n = [r for r in records("networks") if r["name"] == "lab"]
    assert len(n) == 1 and n[0]["resolvers"] == ["192.0.2.53"], n
    page.expected.append(("/my/networks", 409))
    fill("create-network", {"name": "bad", "subnet": "198.51.100.0/24",
                            "provision_start_ip": "203.0.113.5",
                            "provision_end_ip": "198.51.100.99",
                            "nic_tag": "pub0"})
    page.wait(lambda: page.find("#status").get_attribute("role") ==
              "alert", what="the bad range refused")
    assert not [r for r in records("networks") if r["name"] == "bad"]
    delete_row("198.51.100.0/24")
    assert not [r for r in records("networks") if r["name"] == "lab"]

    # Images: import from an IMGAPI URL (the busybox image under a new
    # uuid and name), then delete it.
    d = os.path.join(workdir, "bbimg")
    with open(glob.glob(os.path.join(d, "*.json"))[0]) as f:
        m = json.load(f)
    m["uuid"] = "0b0e0000-0000-4000-8000-0000000000a1"
    m["name"] = "bb-imported"
    srv = ImgapiServer(m, glob.glob(os.path.join(d, "*.tar"))[0])
    try:
        page.go("#/images")
        page.wait(lambda: page.finds("#create-image"), what="image form")
        page.expected.append(("/my/images", 409))
        fill("create-image", {"url": srv.url,
                              "uuid": "0b0e0000-0000-4000-8000-0000000000a2"})
        page.wait(lambda: page.find("#status").get_attribute("role") ==
                  "alert" and "404" in page.status(),
                  what="an unknown image refused")
        fill("create-image", {"url": srv.url + "/", "uuid": m["uuid"]})
        page.wait(lambda: "bb-imported" in page.find("#view table").text,
                  within=60, what="the imported image listed")
        img = [r for r in records("images") if r["uuid"] == m["uuid"]]
        assert len(img) == 1 and img[0]["state"] == "active"
        files = glob.glob(os.path.join(workdir, "**", m["uuid"], "file0"),
                          recursive=True)
        assert files
        delete_row("bb-imported")
        assert not [r for r in records("images") if r["uuid"] == m["uuid"]]
        assert all(not os.path.exists(f) for f in files)
    finally:
        srv.close()
    page.shot("admin-images")


def test_web_console(workdir):
    home = os.path.join(workdir, "home")
    shots = os.environ.get("HULL_WEB_SHOTS") or os.path.join(workdir,
                                                              "screenshots")
    os.makedirs(shots, exist_ok=True)
    dc = DC(workdir, home)
    node = Node(workdir, "cn0", None)
    net = NetHost(node.host)
    node.ns = net.ns
    node.agent.ns = net.ns
    dc.nodes.append(node)
    driver = None
    try:
        dc.setup(node.host.env, net.ns)
        dc.populate([node])
        set_passwords(dc, workdir, "alice", "bob", "admin")
        assert dc.join(node).returncode == 0
        suuid = node.uuid()
        node.agent.start()
        dc.wait_status(suuid, "running")
        alice = dc.db().execute(
            "SELECT key FROM record_index WHERE bucket='accounts' AND "
            "field='login' AND value='alice'").fetchone()[0]
        base = dc.url
        console = base + "/console/"

        # The pages: their types and the headers that keep them from being
        # framed, sniffed or running inline script.
        st, head, body = curl(net.ns, "GET", console)
        assert st == 200 and "text/html" in head
        assert "default-src 'none'; script-src 'self'" in head
        assert "frame-ancestors 'none'" in head
        assert re.search(r"^X-Frame-Options: DENY", head, re.M | re.I)
        assert re.search(r"^X-Content-Type-Options: nosniff", head,
                         re.M | re.I)
        assert "<script type=\"module\" src=\"/console/app.js\">" in body
        assert "onclick" not in body and "<script>" not in body
        st, head, _ = curl(net.ns, "GET", base + "/console/app.js")
        assert st == 200 and "text/javascript" in head
        # node-xterm's CommonJS modules, each wrapped for the page's loader.
        st, head, body = curl(net.ns, "GET", base +
                              "/console/vendor/xterm-cjs/lib/public/Terminal.js")
        assert st == 200 and "text/javascript" in head
        assert body.startswith('hullCjs.define("lib/public/Terminal.js", '
                               'function (require, module, exports) {\n')
        assert 'require("../Terminal")' in body
        assert curl(net.ns, "GET", base +
                    "/console/vendor/xterm-cjs/package.json")[0] == 404
        st, _, _ = curl(net.ns, "GET", base + "/console/vendor/novnc/core/rfb.js")
        assert st == 200
        for bad in ("/console/../head/config.json", "/console/.hidden",
                    "/console/vendor/other/x.js"):
            assert curl(net.ns, "GET", base + bad)[0] == 404, bad

        # An instance whose alias is HTML, made outside the API.
        html_id = "0b0e0000-0000-4000-8000-000000000001"
        put_machine(dc, {"id": html_id, "name": HTML_ALIAS, "owner":
                         alice, "server": "", "state": "stopped",
                         "brand": "lx", "image": dc.image, "package":
                         "bb-128M", "created": "2026-12-07T00:00:00.000Z",
                         "firewall_enabled": False, "memory": 128,
                         "disk": 1024, "tags": {}, "metadata": {}})

        with in_netns(net.ns):
            driver = start_browser(workdir)
            page = Page(driver, console, shots)
            driver.get(console)
            page.shot("login")

            # A wrong password: refused, said so; an immediate retry waits.
            page.expected.append(("/console/login", 401))
            page.expected.append(("/console/login", 429))
            page.login("alice", "not the password")
            page.wait(lambda: "wrong login or password" in page.status(),
                      what="wrong password message")
            assert page.find("#status").get_attribute("role") == "alert"
            page.login("alice", PASSWORD)
            page.wait(lambda: "Too many failed logins" in page.status(),
                      what="delay message")
            time.sleep(1.1)
            assert page.unnamed_controls() == []
            page.login_by_keyboard("alice", PASSWORD)
            page.wait(lambda: page.finds("#instances[data-ready]"),
                      what="instances table")
            assert page.unnamed_controls() == []
            first_cookie = driver.get_cookie("hull_session")
            assert first_cookie["httpOnly"] and \
                first_cookie["sameSite"] == "Strict"
            page.shot("instances-empty")

            # The table's columns; the HTML alias is text, never markup.
            heads = [th.text for th in page.finds("#instances thead th")][1:]
            assert heads == COLUMNS
            assert page.cell(html_id, "name") == HTML_ALIAS
            assert not page.finds("#instances img")
            assert driver.execute_script("return window.pwned") is None

            # Create a busybox zone through the form; watch it run.
            page.go("#/create")
            page.wait(lambda: page.finds("#create-image option"),
                      what="create form")
            page.find("#create-name").send_keys("web0")
            Select(page.find("#create-package")).select_by_value("bb-128M")
            page.find("#create-tags").send_keys("role=web")
            page.find("#create-user-script").send_keys("#!/bin/sh\necho hi")
            assert page.unnamed_controls() == []
            page.shot("create-form")
            page.find("#create-submit").click()
            page.wait(lambda: page.find("#create-progress").get_attribute(
                "data-state") == "running", within=180, what="running")
            page.shot("create-running")
            u = dc.db().execute(
                "SELECT key FROM record_index WHERE bucket='machines' AND "
                "field='name' AND value='web0'").fetchone()[0]
            vm = node.vm(u)
            assert vm["state"] == "running" and vm["alias"] == "web0"
            assert vm["customer_metadata"]["user-script"] == \
                "#!/bin/sh\necho hi"
            assert vm["tags"] == {"role": "web"}

            # The form shows the API's refusal as it is: a name in use.
            page.expected.append(("/my/machines", 409))
            page.go("#/instances")
            page.go("#/create")
            page.wait(lambda: page.finds("#create-image option"),
                      what="create form again")
            page.find("#create-name").send_keys("web0")
            page.find("#create-submit").click()
            page.wait(lambda: "an instance named web0 already exists" in
                      page.status(), what="the API's error")
            assert page.find("#status").get_attribute("role") == "alert"
            with dc.db() as c:
                assert c.execute("SELECT count(*) FROM record_index WHERE "
                                 "bucket='machines' AND field='name' AND "
                                 "value='web0'").fetchone()[0] == 1

            # Its console in the browser: uname -v typed, BrandZ's answer.
            if HAS_CONSOLE_WS:
                page.go(f"#/instances/{u}")
                page.wait(lambda: page.finds('[data-prop="package"]'),
                          what="properties")
                assert page.unnamed_controls() == []
                page.find("#tab-console").click()
                page.wait(lambda: page.finds("#terminal[data-open]"),
                          what="terminal")
                term_text = ("const t = document.getElementById('terminal')"
                             ".hullTerm; if (t.text) return t.text(); "
                             "t.selectAll(); const s = t.getSelection(); "
                             "t.clearSelection(); return s;")
                page.find("#terminal [data-term-input]").send_keys("\n")
                time.sleep(0.5)
                page.find("#terminal [data-term-input]").send_keys("uname -v\n")
                page.wait(lambda: "BrandZ virtual linux" in
                          driver.execute_script(term_text), within=20,
                          what="uname -v in the terminal")
                # A real xterm: Debian's xterm.js, not the plain fallback.
                assert driver.execute_script(
                    "return !!document.querySelector('#terminal .xterm')")
                # Full-screen drawing: clear, then text at cursor positions;
                # the rows on screen are as the program placed them.
                rows_js = ("const t = document.getElementById('terminal')"
                           ".hullTerm._core; const b = t.buffer; const o = [];"
                           " for (let y = 0; y < t.rows; y++) o.push(b."
                           "translateBufferLineToString(b.ydisp + y, true));"
                           " return o;")
                page.find("#terminal [data-term-input]").send_keys(
                    "clear; printf '\\033[6;20HSIX\\033[3;5HTHREE"
                    "\\033[9;1H'\n")
                page.wait(lambda: driver.execute_script(rows_js)[5] ==
                          " " * 19 + "SIX", what="SIX at row 6 col 20")
                scr = driver.execute_script(rows_js)
                assert scr[2] == "    THREE", scr
                assert scr[0].strip() == "", scr
                # top draws its screen (busybox's: its header at the top).
                page.find("#terminal [data-term-input]").send_keys(
                    "top -n 1\n")
                page.wait(lambda: any(r.startswith("Mem:") for r in
                                      driver.execute_script(rows_js)[:3]),
                          what="top's screen")
                page.wait(lambda: any("PID" in r for r in
                                      driver.execute_script(rows_js)[:6]),
                          what="top's columns")
                page.shot("console-top")
                # Resize: a taller, wider window is a bigger terminal, and
                # the zone's pty takes its size.
                size0 = driver.execute_script(
                    "const t = document.getElementById('terminal').hullTerm;"
                    " return [t.rows, t.cols];")
                driver.set_window_size(1000, 700)
                page.wait(lambda: driver.execute_script(
                    "const t = document.getElementById('terminal').hullTerm;"
                    " return [t.rows, t.cols];") != size0, what="refit")
                rows, cols = driver.execute_script(
                    "const t = document.getElementById('terminal').hullTerm;"
                    " return [t.rows, t.cols];")
                page.find("#terminal [data-term-input]").send_keys(
                    "clear; stty size\n")
                page.wait(lambda: f"{rows} {cols}" in
                          driver.execute_script(term_text), within=10,
                          what=f"stty size {rows} {cols}")
                page.shot("console")

                # Resource use, through the session: real figures from
                # the zone's cgroup, pool dataset and ports, as its agent
                # reports them; memory the zone's shell takes shows.
                usage_js = ("const done = arguments[arguments.length - 1];"
                            f" fetch('/my/machines/{u}/usage', {{cache: "
                            "'no-store'}).then((r) => r.json()).then(done,"
                            " (e) => done(String(e)));")
                page.wait(lambda: "mem_used_bytes" in
                          driver.execute_async_script(usage_js),
                          what="a usage report")
                u0 = driver.execute_async_script(usage_js)
                assert u0["mem_limit_bytes"] == 128 << 20, u0
                assert 0 < u0["mem_used_bytes"] < 128 << 20, u0
                assert u0["processes"] >= 2 and u0["cpu_usec"] > 0, u0
                assert u0["disk_used_bytes"] > 0, u0
                assert "net_rx_bytes" in u0 and "net_tx_bytes" in u0, u0
                assert u0["state"] == "running" and u0["memory"] == 128
                page.find("#terminal [data-term-input]").send_keys(
                    "hog=$(head -c 48000000 /dev/zero | tr '\\0' a);"
                    " echo hog-${#hog}\n")
                page.wait(lambda: "hog-48000000" in
                          driver.execute_script(term_text), within=30,
                          what="48 MB held by the zone's shell")
                # Packets out of the zone (ARP for its gateway at least).
                page.find("#terminal [data-term-input]").send_keys(
                    "ping -c 3 -W 1 203.0.113.1; echo pinged-$((2*3))\n")
                page.wait(lambda: "pinged-6" in
                          driver.execute_script(term_text), within=30,
                          what="ping done")
                page.wait(lambda: driver.execute_async_script(usage_js)[
                    "net_tx_bytes"] >= u0["net_tx_bytes"] + 3 * 42,
                    within=20, what="the zone's packets counted")
                page.find("#tab-usage").click()
                mem = ('return (document.querySelector("[data-usage='
                       '\'memory\']") || {}).dataset')
                page.wait(lambda: (driver.execute_script(mem) or {}).get(
                    "value") and int(driver.execute_script(mem)["value"]) >=
                    u0["mem_used_bytes"] + (40 << 20), within=20,
                    what="the page's memory use up by the 48 MB")
                assert " MiB of 128.0 MiB (" in page.find(
                    "[data-usage='memory']").text
                assert re.match(r"\d+\.\d\d s", page.find(
                    "[data-usage='cpu']").text)
                page.shot("usage")

            # The list shows it; stop it from the table and see the state
            # change without a reload, within 1 s of the head node's.
            page.go("#/instances")
            page.wait(lambda: page.cell(u, "state") == "running",
                      what="web0 running in the table")
            assert page.cell(u, "ip").startswith("203.0.113.")
            assert page.cell(u, "package") == "bb-128M"
            assert page.cell(u, "server") == suuid
            assert page.cell(u, "brand") == "lx"
            assert page.cell(u, "image") == \
                f"{dc.image_name}@{dc.image_version}"
            driver.execute_script("window.noReload = 1")
            page.find(f'#instances tr[data-id="{u}"] input').click()
            page.find("#act-stop").click()
            t0 = time.time()
            while dc.record("machines", u)["state"] != "stopped":
                assert time.time() - t0 < 60, dc.record("machines", u)
                time.sleep(0.02)
            t_head = time.time()
            page.wait(lambda: page.cell(u, "state") == "stopped",
                      within=5, what="stopped in the table")
            assert time.time() - t_head < 1.0
            assert driver.execute_script("return window.noReload") == 1
            page.shot("instances-stopped")

            # Sorting, the text and state filters, the columns.
            page.find('#instances th button[data-sort="name"]').click()
            names = driver.execute_script(
                "return [...document.querySelectorAll('#instances td"
                "[data-col=\"name\"]')].map(td => td.textContent)")
            assert names == sorted(names, reverse=True)
            page.find("#filter").send_keys("web")
            page.wait(lambda: page.rows() == [u], what="filtered")
            page.find("#filter").send_keys(Keys.CONTROL, "a")
            page.find("#filter").send_keys(Keys.BACKSPACE)
            Select(page.find("#state-filter")).select_by_value("running")
            page.wait(lambda: page.rows() == [], what="no running")
            Select(page.find("#state-filter")).select_by_value("")
            page.find('input[data-column="server"]').click()
            assert "Server" not in [th.text for th in
                                    page.finds("#instances thead th")]
            page.find('input[data-column="server"]').click()

            # Snapshot create and roll back on the instance's page.
            page.go(f"#/instances/{u}")
            page.wait(lambda: page.finds('[data-prop="package"]'),
                      what="properties")
            assert page.find('[data-prop="package"]').text == "bb-128M"
            page.find("#tab-snapshots").click()
            page.wait(lambda: page.finds("#snap-name"), what="snapshots")
            page.find("#snap-name").send_keys("before")
            page.find("#snap-create").click()

            def snap_state():
                page.find("#snap-refresh").click()
                time.sleep(0.2)
                els = page.finds('tr[data-snapshot="before"] .snap-state')
                return els and els[0].text == "created"
            page.wait(snap_state, within=60, what="snapshot created")
            page.shot("snapshot")
            page.find('tr[data-snapshot="before"] .snap-rollback').click()
            page.wait(lambda: page.find("#instance-state").text == "running",
                      within=90, what="running after rollback")
            assert dc.record("machines", u)["state"] == "running"

            # A tag whose value is HTML, set through the page, is text.
            page.find("#tab-tags").click()
            page.wait(lambda: page.finds("#tag-key"), what="tags")
            page.find("#tag-key").send_keys("note")
            page.find("#tag-value").send_keys(HTML_ALIAS)
            page.find("#tag-set").click()
            page.wait(lambda: "set" in page.status(), what="tag set")
            t0 = time.time()
            while dc.record("machines", u)["tags"].get("note") != HTML_ALIAS:
                assert time.time() - t0 < 60
                time.sleep(0.1)
            page.find("#tab-tags").click()
            page.wait(lambda: HTML_ALIAS in page.find("#tab-panel").text,
                      what="tag shown")
            assert not page.finds("#tab-panel img")
            assert driver.execute_script("return window.pwned") is None

            # The attacker's checks through the session path.
            sid = driver.get_cookie("hull_session")["value"]
            csrf = page.csrf()

            # A firewall rule made through the session (a script can do
            # what the page does) shows on the instance's Firewall tab.
            st, _, b = curl(net.ns, "POST", base + "/my/fwrules",
                            {"rule": f"FROM any TO vm {u} ALLOW tcp PORT 80",
                             "enabled": True}, cookie=sid,
                            headers=[f"X-CSRF-Token: {csrf}"])
            assert st == 201, b
            page.find("#tab-firewall").click()
            page.wait(lambda: "PORT 80" in page.find("#tab-panel").text,
                      what="the rule on the Firewall tab")
            assert u in page.find("#tab-panel").text
            # A change with the cookie but without the token, or from
            # another origin, is refused; with both it passes.
            st, _, b = curl(net.ns, "POST", f"{base}/my/machines/{u}"
                            "?action=stop", cookie=sid)
            assert st == 403 and "X-CSRF-Token" in b
            st, _, b = curl(net.ns, "POST", f"{base}/my/machines/{u}"
                            "?action=stop", cookie=sid,
                            headers=[f"X-CSRF-Token: {csrf}",
                                     "Origin: http://evil.example"])
            assert st == 403 and "cross-origin" in b
            st, _, b = curl(net.ns, "POST", f"{base}/my/machines/{u}"
                            "?action=stop", cookie=sid,
                            headers=[f"X-CSRF-Token: {csrf}",
                                     "Sec-Fetch-Site: cross-site"])
            assert st == 403
            assert dc.record("machines", u)["state"] == "running"
            # A wrong token from the page itself is refused too.
            st = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch('/my/machines/' + arguments[0] + '?action=stop',"
                " {method: 'POST', headers: {'X-CSRF-Token': arguments[1]}})"
                ".then(r => done(r.status));", u, "x" * 64)
            assert st == 403
            page.expected.append((f"/my/machines/{u}", 403))
            # bob's session cannot reach alice's instance.
            st, head, _ = curl(net.ns, "POST", base + "/console/login",
                               {"login": "bob", "password": PASSWORD})
            bob, attrs = cookie_of(head)
            assert st == 200 and bob and "HttpOnly" in attrs and \
                "SameSite=Strict" in attrs
            for path in (f"/my/machines/{u}", f"/alice/machines/{u}",
                         "/alice/machines"):
                assert curl(net.ns, "GET", base + path,
                            cookie=bob)[0] == 404, path
            st, _, b = curl(net.ns, "GET", base + "/my/machines", cookie=bob)
            assert st == 200 and json.loads(b) == []
            # Nor see the servers (the operator's view).
            assert curl(net.ns, "GET", base + "/console/servers",
                        cookie=bob)[0] == 403
            # Session fixation: a planted id is never the session's.
            planted = "ab" * 32
            st, head, _ = curl(net.ns, "POST", base + "/console/login",
                               {"login": "bob", "password": PASSWORD},
                               cookie=planted)
            new, _ = cookie_of(head)
            assert st == 200 and new and new != planted
            assert curl(net.ns, "GET", base + "/my/machines",
                        cookie=planted)[0] == 401
            # Only the session's hash is stored.
            with dc.db() as c:
                keys = [k for k, in c.execute(
                    "SELECT key FROM records WHERE bucket='sessions'")]
                assert new not in keys and bob not in keys
                assert all(new not in v for v, in c.execute(
                    "SELECT value FROM records WHERE bucket='sessions'"))

            # Delete from the instance's page.
            page.go(f"#/instances/{u}")
            page.wait(lambda: page.finds("#inst-delete"), what="page")
            page.find("#inst-delete").click()
            driver.switch_to.alert.accept()
            t0 = time.time()
            while dc.record("machines", u)["state"] != "deleted":
                assert time.time() - t0 < 60, dc.record("machines", u)
                time.sleep(0.1)
            page.go("#/instances")
            page.wait(lambda: u not in page.rows(), what="row gone")
            assert node.vm(u) is None

            # The lists.
            for what, text in (("images", dc.image_name),
                               ("packages", "bb-128M"),
                               ("networks", "203.0.113.0/24")):
                page.go(f"#/{what}")
                page.wait(lambda: text in page.find("#view").text,
                          what=what)
            page.shot("images")

            # Firewall rules: add one through the page, disable, delete.
            page.go("#/fwrules")
            page.wait(lambda: page.finds("#rule-text"), what="rules page")
            assert page.unnamed_controls() == []
            page.find("#rule-text").send_keys(
                "FROM any TO all vms ALLOW tcp PORT 443")
            page.find("#rule-add").click()
            page.wait(lambda: "PORT 443" in page.find("#fwrules").text,
                      what="rule added")
            with dc.db() as c:
                rules = [json.loads(v) for v, in c.execute(
                    "SELECT value FROM records WHERE bucket='fwrules'")]
            new = [r for r in rules if "PORT 443" in r["rule"]]
            assert len(new) == 1 and new[0]["enabled"] is True
            row = f'#fwrules tr[data-rule="{new[0]["uuid"]}"]' \
                if "uuid" in new[0] else f'#fwrules tr[data-rule="{new[0]["id"]}"]'
            page.find(row + " .rule-toggle").click()
            page.wait(lambda: page.finds(row) and "no" in
                      page.find(row).text.split(), what="rule disabled")
            page.find(row + " .rule-delete").click()
            page.wait(lambda: not page.finds(row), what="rule deleted")

            # The operator's servers page: reserve and unreserve.
            page.find("#logout").click()
            page.wait(lambda: page.find("#login").is_displayed(),
                      what="logged out")
            assert curl(net.ns, "GET", base + "/my/machines",
                        cookie=sid)[0] == 401
            page.go("#/instances")
            page.login("admin", PASSWORD)
            page.wait(lambda: page.finds("#instances[data-ready]"),
                      what="admin in")
            page.go("#/servers")
            page.wait(lambda: page.finds(f'tr[data-server="{suuid}"]'),
                      what="servers")
            row = page.find(f'tr[data-server="{suuid}"]')
            assert "running" in row.text and suuid in row.text
            assert page.unnamed_controls() == []
            page.shot("servers")
            row.find_element(By.CSS_SELECTOR, "button.reserve").click()
            page.wait(lambda: dc.servers()[suuid]["reserved"] is True,
                      what="reserved")
            page.wait(lambda: page.find(
                f'tr[data-server="{suuid}"] button.reserve').text ==
                "Unreserve", what="unreserve button")
            page.find(f'tr[data-server="{suuid}"] button.reserve').click()
            page.wait(lambda: dc.servers()[suuid]["reserved"] is False,
                      what="unreserved")

            admin_lists(dc, page, driver, net.ns, base, workdir)

            # An expired session: the page goes back to the login form.
            page.find("#logout").click()
            page.wait(lambda: page.find("#login").is_displayed(),
                      what="logged out")
            set_config(dc, session_ttl=2)
            page.expected.append(("/my/", 401))
            page.expected.append(("/console/events", 401))
            driver.get(console)
            page.login("alice", PASSWORD)
            page.wait(lambda: page.finds("#instances[data-ready]"),
                      what="in again")
            time.sleep(2.5)
            page.go("#/images")
            page.wait(lambda: page.find("#login").is_displayed() and
                      "expired" in page.status(), what="expired")
            page.shot("expired")
            page.log()
            assert page.errors == [], page.errors

        # Login timing: an unknown login costs what a wrong password does
        # (each try from its own address and login, so no delay applies).
        # The fastest of 7 interleaved tries of each: the least disturbed
        # by other load on the machine.
        set_passwords(dc, workdir, *[f"timing{i}" for i in range(7)])
        unknown, wrong = [], []
        for i in range(7):
            for lst, login, src in ((unknown, f"nosuch{i}", f"127.0.0.{10+i}"),
                                    (wrong, f"timing{i}", f"127.0.0.{20+i}")):
                t0 = time.time()
                st, _, _ = curl(net.ns, "POST", base + "/console/login",
                                {"login": login, "password": "wrong"},
                                source=src)
                lst.append(time.time() - t0)
                assert st == 401
        mu, mw = min(unknown), min(wrong)
        assert 0.6 < mu / mw < 1.6, (unknown, wrong)
        # The delay grows per login (from any address): 1 s, then 2 s.
        def attempt(src):
            return curl(net.ns, "POST", base + "/console/login",
                        {"login": "timing9", "password": "wrong"},
                        source=src)
        set_passwords(dc, workdir, "timing9")
        assert attempt("127.0.0.30")[0] == 401
        st, head, _ = attempt("127.0.0.31")
        assert st == 429 and re.search(r"^Retry-After: 1\r?$", head, re.M)
        time.sleep(1.1)
        assert attempt("127.0.0.32")[0] == 401
        st, head, _ = attempt("127.0.0.33")
        assert st == 429 and re.search(r"^Retry-After: 2\r?$", head, re.M)
    finally:
        if driver:
            driver.quit()
        dc.close()
        net.close()
        unfreeze(workdir)
        if not os.environ.get("HULL_WEB_SHOTS"):
            shutil.rmtree(shots, ignore_errors=True)


def session_checks(ns, url, h, workdir):
    """Login, the session's calls, logout and a new password, through
    one store."""
    st, head_, b = curl(ns, "POST", url + "/console/login",
                        {"login": "alice", "password": PASSWORD})
    assert st == 200, b
    sid, attrs = cookie_of(head_)
    csrf = json.loads(b)["csrf"]
    assert json.loads(b)["login"] == "alice" and not json.loads(b)["admin"]
    st, _, b = curl(ns, "GET", url + "/console/session", cookie=sid)
    assert st == 200 and json.loads(b)["csrf"] == csrf
    # A change through the session reaches CloudAPI (which then finds the
    # body lacking): the session authenticated it.
    st, _, b = curl(ns, "POST", url + "/my/keys", {}, cookie=sid,
                    headers=[f"X-CSRF-Token: {csrf}"])
    assert st == 409 and json.loads(b)["code"] == "MissingParameter"
    st, head_, _ = curl(ns, "POST", url + "/console/logout", cookie=sid,
                        headers=[f"X-CSRF-Token: {csrf}"])
    assert st == 204 and cookie_of(head_)[0] == ""
    assert curl(ns, "GET", url + "/my", cookie=sid)[0] == 401
    assert json.loads(curl(ns, "GET", url + "/console/session",
                           cookie=sid)[2]) == {"login": None}
    # A new password ends the account's sessions.
    st, head_, _ = curl(ns, "POST", url + "/console/login",
                        {"login": "alice", "password": PASSWORD})
    sid = cookie_of(head_)[0]
    assert curl(ns, "GET", url + "/my", cookie=sid)[0] == 200
    with open(os.path.join(workdir, "pw2"), "w") as f:
        f.write("another one\n")
    h.adm("user", "passwd", "alice", "--password-file",
          os.path.join(workdir, "pw2"))
    assert curl(ns, "GET", url + "/my", cookie=sid)[0] == 401
    st, _, _ = curl(ns, "POST", url + "/console/login",
                    {"login": "alice", "password": "another one"})
    assert st == 200
    return attrs


def test_console_sessions_on_each_store(head, workdir):  # noqa: F811
    """Sessions live in the head node's store: SQLite and PostgreSQL."""
    with open(os.path.join(workdir, "pw"), "w") as f:
        f.write(PASSWORD + "\n")
    head.adm("user", "add", "alice", "--password-file",
             os.path.join(workdir, "pw"))
    net = NetHost(head.host)
    try:
        with in_netns(net.ns):
            head.start()
        attrs = session_checks(net.ns, head.url, head, workdir)
        assert "Secure" not in attrs
    finally:
        head.stop()
        net.close()


def test_console_over_tls(workdir):
    """Under TLS the cookie is Secure; a bad session_ttl keeps hull-api
    from starting, with one line."""
    root = os.path.join(workdir, "pool")
    os.makedirs(root)
    h = Head(Host(root, workdir), "sqlite")
    h.adm("setup", "--listen", "127.0.0.1:0", "--tls")
    with open(os.path.join(workdir, "pw"), "w") as f:
        f.write(PASSWORD + "\n")
    h.adm("user", "add", "alice", "--password-file",
          os.path.join(workdir, "pw"))
    # hulladm user passwd: an unknown login, no password file.
    r = h.adm("user", "passwd", "nobody9", "--password-file",
              os.path.join(workdir, "pw"), check=False)
    assert r.rc == 1 and r.err.strip() == "hulladm: no account nobody9"
    r = h.adm("user", "passwd", "alice", check=False)
    assert r.rc == 2 and "user passwd LOGIN --password-file F" in r.err
    cfg = os.path.join(root, "head", "config.json")
    with open(cfg) as f:
        good = json.load(f)
    with open(cfg, "w") as f:
        json.dump(dict(good, session_ttl=0), f)
    r = h.host.run("hull-api", check=False)
    assert r.rc == 1
    assert r.err.strip() == (f"hull-api: {cfg}: session_ttl: wants whole "
                             "seconds, 1 to 2592000")
    with open(cfg, "w") as f:
        json.dump(good, f)
    net = NetHost(h.host)
    try:
        with in_netns(net.ns):
            h.start()
        assert h.url.startswith("https://")
        st, hdr, _ = curl(net.ns, "GET", h.url + "/console/", tls=True)
        assert st == 200 and "frame-ancestors 'none'" in hdr
        st, hdr, _ = curl(net.ns, "POST", h.url + "/console/login",
                          {"login": "alice", "password": PASSWORD}, tls=True)
        sid, attrs = cookie_of(hdr)
        assert st == 200 and sid
        assert "; Secure" in attrs and "HttpOnly" in attrs and \
            "SameSite=Strict" in attrs
        # The origin check knows its scheme: http:// is another origin.
        st, hdr, b = curl(net.ns, "POST", h.url + "/console/login",
                          {"login": "alice", "password": PASSWORD}, tls=True,
                          headers=[f"Origin: {h.url.replace('https', 'http')}"])
        assert st == 403 and "cross-origin" in b
    finally:
        h.stop()
        net.close()
