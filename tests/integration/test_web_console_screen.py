"""A kvm VM's screen in the browser (issue 15): the instance page's Screen
tab runs Debian's noVNC (/usr/share/novnc's ES modules) on the console
WebSocket of a {type: "vnc"} ticket, through the supervisor's VNC relay
to QEMU (TCG). The VM has a VNC password: the page asks for it. The
canvas noVNC draws is read back from the page: the guest's screen, not a
blank one. CloudAPI cannot create kvm machines yet (docs/hull-api.md), so
the VM is made by vmadm on the converged host and its machine record
written into the head node's state as a create would have left it (as
test_console_ws does)."""
import json
import os
import subprocess
import time

from conftest import prog
from test_console_ws import kvm_vm_with_vnc
from test_head_agent import converged
from test_web_console import (PASSWORD, Page, in_netns, set_passwords,
                              start_browser)

# Counts the pixels of the screen's canvas that are not black, and the
# distinct colours among them (a few hundred sampled at most).
CANVAS = """
const c = document.querySelector('#screen canvas');
if (!c || !c.width) return null;
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let lit = 0;
const colours = new Set();
for (let i = 0; i < d.length; i += 4) {
  if (d[i] || d[i + 1] || d[i + 2]) {
    lit++;
    if (colours.size < 300) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
  }
}
return {w: c.width, h: c.height, lit, colours: colours.size};
"""

# Alt+SysRq+H through noVNC's key events (keysym and physical key).
SYSRQ_H = """
const r = document.getElementById('screen').hullRfb;
r.sendKey(0xffe9, 'AltLeft', true);
r.sendKey(0xff61, 'PrintScreen', true);
r.sendKey(0x68, 'KeyH', true);
r.sendKey(0x68, 'KeyH', false);
r.sendKey(0xff61, 'PrintScreen', false);
r.sendKey(0xffe9, 'AltLeft', false);
"""


def test_vm_screen(workdir):
    from test_hvm_vmadm import READY, console_log, qemu_present
    if not qemu_present():
        raise AssertionError("qemu-system-x86_64 is not installed: "
                             "run scripts/deps")
    driver = None
    with converged(workdir) as (dc, node):
        h = node.host
        u = kvm_vm_with_vnc(dc.head_ns, h)
        set_passwords(dc, workdir, "alice")
        with dc.db() as c:
            alice = next(json.loads(v) for (v,) in c.execute(
                "SELECT value FROM records WHERE bucket='accounts'")
                if json.loads(v)["login"] == "alice")
            rec = {"id": u, "name": "vm0", "brand": "kvm",
                   "state": "running", "owner": alice["uuid"],
                   "server": node.uuid(), "compute_node": node.uuid(),
                   "type": "virtualmachine", "memory": 256}
            c.execute("INSERT INTO records (bucket, key, etag, value, mtime)"
                      " VALUES ('machines', ?, 'e0', ?, 0)",
                      (u, json.dumps(rec)))
        shots = os.environ.get("HULL_WEB_SHOTS") or os.path.join(
            workdir, "screenshots")
        os.makedirs(shots, exist_ok=True)
        try:
            with in_netns(dc.head_ns):
                driver = start_browser(workdir)
                console = dc.url + "/console/"
                page = Page(driver, console, shots)
                driver.get(console)
                page.login("alice", PASSWORD)
                page.wait(lambda: page.finds("#instances[data-ready]"),
                          what="the instances page")
                page.go(f"#/instances/{u}")
                page.wait(lambda: page.finds("#tab-screen"),
                          what="a Screen tab for a VM")
                page.find("#tab-screen").click()
                # The VNC password, asked by the page (noVNC's VNC auth).
                page.wait(lambda: page.finds("#vnc-password"),
                          what="the VNC password prompt")
                page.find("#vnc-password").send_keys("s3cret\n")
                page.wait(lambda: page.finds("#screen[data-open]"),
                          what="the screen connected")
                # The guest's screen drawn: a framebuffer of its size with
                # text on it (the boot loader's or the kernel's), not black.
                page.wait(lambda: (driver.execute_script(CANVAS) or {})
                          .get("lit", 0) > 500, within=60,
                          what="the guest's screen drawn")
                got = driver.execute_script(CANVAS)
                assert got["w"] >= 320 and got["h"] >= 200, got
                assert got["colours"] >= 1, got
                page.shot("vm-screen")
                # Keys reach the guest through noVNC: Alt+SysRq+H on its
                # PS/2 keyboard, which the guest's kernel answers on its
                # serial console (the test guest's VGA shows no shell).
                t0 = time.time()
                while READY not in console_log(h, u):
                    assert time.time() - t0 < 180, console_log(h, u)
                    time.sleep(0.5)
                assert "sysrq" not in console_log(h, u).lower()
                driver.execute_script(SYSRQ_H)
                t0 = time.time()
                while "sysrq" not in console_log(h, u).lower():
                    assert time.time() - t0 < 20, console_log(h, u)[-2000:]
                    time.sleep(0.2)
                assert page.finds("#screen[data-open]")
                page.log()
                assert page.errors == [], page.errors
        finally:
            if driver:
                driver.quit()
            subprocess.run(["ip", "netns", "exec", dc.head_ns,
                            prog("vmadm"), "delete", u], env=h.env,
                           capture_output=True, timeout=120)
