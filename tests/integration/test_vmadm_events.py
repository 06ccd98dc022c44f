"""vmadm events: create, modify (one change per property) and delete, as
JSON and as SmartOS's text lines."""
import json
import queue
import subprocess
import threading

import pytest

from conftest import _init_pool, prog
from vmtools import create, install_images, unfreeze, zone


@pytest.fixture
def dirhost(bare, workdir):
    _init_pool(bare, "dir")
    bare.backend = "dir"
    install_images(bare)
    yield bare
    unfreeze(workdir)
    bare.run("hull", "fini", check=False)


class Events:
    def __init__(self, host, *args):
        self.p = subprocess.Popen([prog("vmadm"), "events", "-r", *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=host.env)
        self.q = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.q.put(line.rstrip("\n"))

    def next(self, timeout=10):
        return self.q.get(timeout=timeout)

    def close(self):
        self.p.kill()
        self.p.wait()


def test_events_json(dirhost):
    ev = Events(dirhost, "-j")
    try:
        assert json.loads(ev.next())["type"] == "ready"
        u = create(dirhost, zone(alias="ev1"))
        e = json.loads(ev.next())
        assert e["type"] == "create" and e["uuid"] == u and e["zonename"] == u
        assert e["vm"]["alias"] == "ev1"
        # seen while provisioning or after: either way it ends up stopped
        if e["vm"]["state"] == "provisioning":
            e = json.loads(ev.next())
            assert e["type"] == "modify"
            state = [c for c in e["changes"] if c["prettyPath"] == "state"]
            assert state[0]["oldValue"] == "provisioning"
            assert state[0]["newValue"] == "stopped"
        else:
            assert e["vm"]["state"] == "stopped"
        dirhost.run("vmadm", "update", u, "alias=ev2", "cpu_cap=150")
        e = json.loads(ev.next())
        assert e["type"] == "modify" and e["uuid"] == u
        changes = {c["prettyPath"]: c for c in e["changes"]}
        assert changes["alias"]["action"] == "changed"
        assert changes["alias"]["oldValue"] == "ev1"
        assert changes["alias"]["newValue"] == "ev2"
        assert changes["cpu_cap"]["action"] == "added"
        assert changes["cpu_cap"]["path"] == ["cpu_cap"]
        dirhost.run("vmadm", "update", u, input='{"set_tags": {"role": "db"}}')
        e = json.loads(ev.next())
        assert e["changes"] == [{"path": ["tags", "role"], "prettyPath": "tags.role",
                                 "action": "added", "newValue": "db"}]
        dirhost.run("vmadm", "delete", u)
        e = json.loads(ev.next())
        assert e["type"] == "delete" and e["uuid"] == u
    finally:
        ev.close()


def test_events_text_and_uuid_filter(dirhost):
    other = create(dirhost, zone(alias="other"))
    u = create(dirhost, zone(alias="watched"))
    ev = Events(dirhost, u)
    try:
        assert ev.next().endswith("] ready")
        dirhost.run("vmadm", "update", other, "alias=ignored")
        dirhost.run("vmadm", "update", u, "alias=seen")
        line = ev.next()
        assert line.startswith("[") and "Z] " in line
        assert line.split("] ", 1)[1] == (
            f'{u[:8]} seen modify: alias changed :: "watched" -> "seen"')
        with pytest.raises(queue.Empty):
            ev.next(timeout=1.5)
    finally:
        ev.close()
