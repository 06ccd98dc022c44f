"""The firewall is loaded per instance: vmadm and fwadm change only the
chains of the instances a change affects (nftables keeps the handles of
every other chain's rules), load nothing at all for an instance the filter
cannot depend on, and always end in the state a full `fwadm reload` gives.
After a crash between a load and its bookkeeping, the next change or
`fwadm reload` brings the whole ruleset back."""
import json
import os
import subprocess

import pytest

from conftest import _init_pool, prog
from fwnet import Netns, sh
from vmtools import install_images, record_nictags, unfreeze, zone


class NsHost:
    """vmadm and fwadm against one dir-backend pool, run in netns ns."""

    def __init__(self, bare, ns):
        self.bare = bare
        self.ns = ns

    def run(self, name, *args, input=None, env=None, check=True):
        e = dict(self.bare.env)
        if env:
            e.update(env)
        cp = subprocess.run(["ip", "netns", "exec", self.ns, prog(name),
                             *map(str, args)], input=input, env=e,
                            capture_output=True, text=True, timeout=120)
        if check and cp.returncode != 0:
            raise AssertionError(f"{name} {args}: rc={cp.returncode} "
                                 f"err={cp.stderr!r}")
        return cp

    def create(self, ip, **kw):
        p = zone(nics=[{"nic_tag": "admin", "ip": ip,
                        "netmask": "255.255.255.0"}], **kw)
        cp = self.run("vmadm", "create", input=json.dumps(p))
        for line in cp.stderr.splitlines():
            if line.startswith("Successfully created VM "):
                return line.split()[-1]
        raise AssertionError(cp.stderr)

    def add(self, rule):
        out = self.run("fwadm", "add", "-e", rule).stdout
        return out.splitlines()[1].split()[0]

    def table(self):
        """This pool's table as nftables JSON objects, or None."""
        cp = sh("ip", "netns", "exec", self.ns, "nft", "-j", "list",
                "tables")
        names = [o["table"]["name"] for o in json.loads(cp.stdout)["nftables"]
                 if "table" in o and o["table"]["family"] == "inet"
                 and o["table"]["name"].startswith("hull_")]
        if not names:
            return None
        assert len(names) == 1, names
        cp = sh("ip", "netns", "exec", self.ns, "nft", "-j", "list", "table",
                "inet", names[0])
        return json.loads(cp.stdout)["nftables"]

    def handles(self):
        """Per instance chain (i-/o-<uuid>): the handles of its rules."""
        out = {}
        for o in self.table() or []:
            if "rule" in o and o["rule"]["chain"][:2] in ("i-", "o-"):
                out.setdefault(o["rule"]["chain"], []).append(
                    o["rule"]["handle"])
        return out

    def token(self):
        for o in self.table() or []:
            if "set" in o and o["set"]["name"] == "gen":
                return o["set"].get("elem")
        return None

    def shape(self):
        """What the table does, without handles, order or the load token:
        chains with their rules, sets and maps with their elements."""
        chains, sets = {}, {}
        for o in self.table() or []:
            if "rule" in o:
                r = o["rule"]
                chains.setdefault(r["chain"], []).append(
                    json.dumps(r["expr"], sort_keys=True))
            elif "chain" in o:
                chains.setdefault(o["chain"]["name"], [])
            elif ("set" in o and o["set"]["name"] != "gen") or "map" in o:
                s = o.get("set") or o.get("map")
                sets[s["name"]] = sorted(json.dumps(e, sort_keys=True)
                                         for e in s.get("elem", []))
        return chains, sets

    def assert_as_full_reload(self):
        """The incremental state is exactly what a full reload loads."""
        now = self.shape()
        self.run("fwadm", "reload")
        assert self.shape() == now


@pytest.fixture
def fwhost(bare, workdir):
    _init_pool(bare, "dir")
    install_images(bare)
    record_nictags(bare)
    nets = Netns()
    try:
        ns = nets.add("fw")
        yield NsHost(bare, ns)
    finally:
        nets.cleanup()
        unfreeze(workdir)
        bare.run("hull", "fini", check=False)


def chains_of(h, uuid):
    return {k: v for k, v in h.handles().items() if k.endswith(uuid)}


def test_firewall_less_create_loads_nothing(fwhost):
    h = fwhost
    a = h.create("192.0.2.10", firewall_enabled=True, tags={"role": "web"})
    b = h.create("192.0.2.11", firewall_enabled=True)
    h.add("FROM any TO all vms ALLOW tcp PORT 22")
    h.add("FROM tag role = web TO vm " + b + " ALLOW tcp PORT 5432")
    before, token = h.handles(), h.token()
    assert chains_of(h, a) and chains_of(h, b)
    # c has no firewall and no rule names it (b's rule names tag role=web
    # only): not a thing is loaded.
    c = h.create("192.0.2.12", tags={"role": "db"})
    assert h.handles() == before
    assert h.token() == token
    assert c not in json.dumps(h.table())
    # d has its firewall on: its chain comes, the others keep theirs.
    d = h.create("192.0.2.13", firewall_enabled=True)
    after = h.handles()
    assert chains_of(h, d)
    assert {k: v for k, v in after.items() if not k.endswith(d)} == before
    assert h.token() != token
    # a web instance without a firewall is still b's peer: b's chain
    # changes (its address joins the rule), a's and d's do not.
    h.create("192.0.2.14", tags={"role": "web"})
    again = h.handles()
    assert again[f"i-{b}"] != after[f"i-{b}"]
    for u in (a, d):
        assert chains_of(h, u) == {k: v for k, v in after.items()
                                   if k.endswith(u)}
    out = sh("ip", "netns", "exec", h.ns, "nft", "list", "chain", "inet",
             h.table()[1]["table"]["name"], f"i-{b}").stdout
    assert "192.0.2.14" in out and "192.0.2.10" in out
    h.assert_as_full_reload()


def test_rule_change_touches_only_the_instances_it_names(fwhost):
    h = fwhost
    a = h.create("192.0.2.20", firewall_enabled=True, tags={"role": "web"})
    b = h.create("192.0.2.21", firewall_enabled=True, tags={"role": "web"})
    c = h.create("192.0.2.22", firewall_enabled=True, tags={"role": "db"})
    h.add("FROM any TO all vms ALLOW tcp PORT 22")
    base = h.handles()
    # one instance's rule: only its chain is refilled
    r1 = h.add("FROM any TO vm " + a + " ALLOW tcp PORT 80")
    one = h.handles()
    assert one[f"i-{a}"] != base[f"i-{a}"]
    assert one[f"i-{b}"] == base[f"i-{b}"]
    assert one[f"i-{c}"] == base[f"i-{c}"]
    h.assert_as_full_reload()
    base = h.handles()
    # a tag rule: every instance with the tag, and no other
    h.add("FROM any TO tag role = web ALLOW tcp PORT 443")
    tag = h.handles()
    assert tag[f"i-{a}"] != base[f"i-{a}"]
    assert tag[f"i-{b}"] != base[f"i-{b}"]
    assert tag[f"i-{c}"] == base[f"i-{c}"]
    # an outbound block makes an o- chain for a alone
    h.add("FROM vm " + a + " TO subnet 198.51.100.0/24 BLOCK tcp PORT 25")
    out = h.handles()
    assert f"o-{a}" in out and f"o-{b}" not in out
    assert out[f"i-{b}"] == tag[f"i-{b}"]
    # disabling and deleting take back only what they added
    h.run("fwadm", "disable", r1)
    h.run("fwadm", "delete", r1)
    gone = h.handles()
    assert gone[f"i-{b}"] == tag[f"i-{b}"]
    assert gone[f"i-{c}"] == tag[f"i-{c}"]
    assert "dport 80" not in json.dumps(h.table())
    # a retag moves c into the tag rule; a and b stay as they were
    h.run("vmadm", "update", c, input=json.dumps(
        {"set_tags": {"role": "web"}}))
    retag = h.handles()
    assert retag[f"i-{c}"] != gone[f"i-{c}"]
    assert retag[f"i-{a}"] == gone[f"i-{a}"]
    assert retag[f"i-{b}"] == gone[f"i-{b}"]
    h.assert_as_full_reload()
    retag = h.handles()
    # fwadm stop/start and a delete drop and restore one instance's chains
    h.run("fwadm", "stop", b)
    assert not chains_of(h, b)
    assert h.handles()[f"i-{a}"] == retag[f"i-{a}"]
    h.run("fwadm", "start", b)
    h.run("vmadm", "delete", a)
    assert not chains_of(h, a)
    assert h.handles()[f"i-{c}"] == retag[f"i-{c}"]
    h.assert_as_full_reload()


def test_crash_between_load_and_bookkeeping_converges(fwhost):
    h = fwhost
    a = h.create("192.0.2.30", firewall_enabled=True)
    b = h.create("192.0.2.31", firewall_enabled=True)
    h.add("FROM any TO vm " + a + " ALLOW tcp PORT 22")
    # fwadm is killed right after the kernel took its change, before it
    # recorded what it loaded
    cp = h.run("fwadm", "add", "-e", "FROM any TO vm " + b +
               " ALLOW tcp PORT 80", env={"HULL_TEST_CRASH_AT": "fw-loaded"},
               check=False)
    assert cp.returncode == -9 or cp.returncode == 137, cp
    # the next change starts from a record that is not what the kernel
    # holds: it must notice and load everything
    h.add("FROM any TO vm " + a + " ALLOW tcp PORT 443")
    text = json.dumps(h.table())
    assert text.count('"dport"') >= 3
    h.assert_as_full_reload()
    # a crash inside a vmadm create (after the load), then a start of
    # the firewall of another instance
    c = None
    cp = h.run("vmadm", "create", input=json.dumps(zone(
        firewall_enabled=True, nics=[{"nic_tag": "admin",
                                      "ip": "192.0.2.32",
                                      "netmask": "255.255.255.0"}])),
               env={"HULL_TEST_CRASH_AT": "fw-loaded"}, check=False)
    assert cp.returncode in (-9, 137), cp
    h.run("fwadm", "stop", a)
    h.run("fwadm", "start", a)
    for line in h.run("vmadm", "list", "-H", "-o", "uuid").stdout.split():
        if line not in (a, b):
            c = line
    assert c and chains_of(h, c)
    h.assert_as_full_reload()
    # someone else's nft command empties a's chain behind hull's back:
    # fwadm reload puts it back
    sh("ip", "netns", "exec", h.ns, "nft", "flush", "chain", "inet",
       h.table()[1]["table"]["name"], f"i-{a}")
    h.run("fwadm", "reload")
    assert "443" in sh("ip", "netns", "exec", h.ns, "nft", "list", "chain",
                       "inet", h.table()[1]["table"]["name"],
                       f"i-{a}").stdout
