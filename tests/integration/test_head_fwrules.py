"""Firewall rules through CloudAPI, driven by the real `triton` 7.17.0 CLI
on a converged host: `triton fwrule create|list|get|update|enable|disable|
instances|delete` and `triton instance fwrules`, and the rules reaching the
compute node's own firewall (fwadm on the node shows them, owned by the
account) within seconds of each change.

Attacks: a rule naming another account's instance is refused as if that
instance did not exist, another account neither sees nor changes the
rules, and a malformed rule is refused with the parser's reason."""
import json
import os
import re
import subprocess
import time

from test_head_agent import converged
from test_head_api import ssh_key, triton_bin  # noqa: F401  (fixture)


def node_rules(node, owner=None):
    """The node's own rules (fwadm list -j), those of owner when given."""
    rules = json.loads(node.run("fwadm", "list", "-j").stdout)
    return [r for r in rules if owner is None or r.get("owner_uuid") == owner]


def wait_rules(node, owner, pred, within=20):
    t0 = time.time()
    while True:
        rules = node_rules(node, owner)
        if pred(rules):
            return rules
        assert time.time() - t0 < within, rules
        time.sleep(0.2)


def test_fwrules_through_cloudapi(workdir, triton_bin):  # noqa: F811
    with converged(workdir) as (dc, node):
        alice = json.loads(dc.triton(triton_bin, "account", "get",
                                     "-j").stdout)["id"]

        # A rule before any instance: stored, and reaches the node with
        # the first instance (queued ahead of its create).
        r = dc.triton(triton_bin, "fwrule", "create", "-D", "ssh in",
                      "FROM any TO all vms ALLOW tcp PORT 22")
        m = re.fullmatch(r"Created firewall rule ([0-9a-f-]{36})\n",
                         r.stdout)
        assert m, r.stdout
        ssh = m.group(1)
        assert node_rules(node, alice) == []
        dc.triton(triton_bin, "instance", "create", "-w", "-n", "web0",
                  "--firewall", "-t", "role=web", dc.image_name, "bb-128M")
        dc.triton(triton_bin, "instance", "create", "-w", "-n", "db0",
                  "-t", "role=db", dc.image_name, "bb-128M")
        web = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                   "web0").stdout)
        db = json.loads(dc.triton(triton_bin, "instance", "get", "-j",
                                  "db0").stdout)
        got = wait_rules(node, alice, lambda rs: len(rs) == 1)
        assert got[0]["uuid"] == ssh and got[0]["enabled"] is True
        assert got[0]["rule"] == "FROM any TO all vms ALLOW tcp PORT 22"
        assert got[0]["description"] == "ssh in"

        # A tag rule, written loosely: stored as Triton's canonical text;
        # list, get (by short id too) and the instances it affects.
        r = dc.triton(triton_bin, "fwrule", "create", "--disabled",
                      'FROM any TO tag role = web ALLOW tcp (PORT 443 AND '
                      'PORT 80)')
        assert r.stdout.endswith(" (disabled)\n"), r.stdout
        tagrule = r.stdout.split()[3]
        listed = json.loads("[" + ",".join(dc.triton(
            triton_bin, "fwrule", "list", "-j").stdout.split("\n")[:-1]) + "]")
        assert sorted(x["id"] for x in listed) == sorted([ssh, tagrule])
        got = json.loads(dc.triton(triton_bin, "fwrule", "get", "-j",
                                   tagrule[:8]).stdout)
        assert got == {"id": tagrule, "enabled": False, "log": False,
                       "rule": 'FROM any TO tag "role" = "web" ALLOW tcp '
                               '(PORT 80 AND PORT 443)'}
        names = dc.triton(triton_bin, "fwrule", "instances", "-H", "-o",
                          "name", tagrule).stdout.split()
        assert names == ["web0"]
        both = dc.triton(triton_bin, "fwrule", "instances", "-H", "-o",
                         "name", ssh).stdout.split()
        assert sorted(both) == ["db0", "web0"]
        on_db = dc.triton(triton_bin, "instance", "fwrules", "-H", "-o",
                          "id", "db0").stdout.split()
        assert on_db == [ssh]

        # Enable: the node's copy follows, and the rule applies to web0
        # there (fwadm rules VM on the node).
        r = dc.triton(triton_bin, "fwrule", "enable", tagrule)
        assert r.stdout == f"Enabled firewall rule {tagrule}\n"
        wait_rules(node, alice, lambda rs: any(
            x["uuid"] == tagrule and x["enabled"] for x in rs))
        applies = node.run("fwadm", "rules", web["id"]).stdout
        assert tagrule in applies and ssh in applies
        assert tagrule not in node.run("fwadm", "rules", db["id"]).stdout

        # Update the text through the CLI's -f file.
        upd = os.path.join(workdir, "upd.json")
        with open(upd, "w") as f:
            json.dump({"rule": "FROM any TO tag role = web ALLOW tcp "
                               "PORT 8080"}, f)
        r = dc.triton(triton_bin, "fwrule", "update", "-f", upd, tagrule)
        assert r.stdout == f"Updated firewall rule {tagrule} (fields: rule)\n"
        wait_rules(node, alice, lambda rs: any(
            x["uuid"] == tagrule and "8080" in x["rule"] for x in rs))
        r = dc.triton(triton_bin, "fwrule", "disable", tagrule)
        wait_rules(node, alice, lambda rs: any(
            x["uuid"] == tagrule and not x["enabled"] for x in rs))

        # Refused: a malformed rule (the parser's reason), a rule naming
        # another account's instance, a missing rule.
        r = dc.triton(triton_bin, "fwrule", "create", "FROM any TO all vms "
                      "ALLOW tcp PORT 99999", check=False)
        assert r.returncode != 0
        assert "rule:" in r.stderr and "99999" in r.stderr, r.stderr
        dc.adm("user", "add", "bob")
        bpath, _bpub, bfp = ssh_key(dc.home, "ed25519", "bob")
        dc.adm("user", "key-add", "bob", bpath + ".pub")

        def as_bob(*args):
            return subprocess.run(
                ["ip", "netns", "exec", dc.head_ns, triton_bin, "-U", dc.url,
                 "-a", "bob", "-k", bfp, *args],
                env={"PATH": os.environ["PATH"], "HOME": dc.home},
                capture_output=True, text=True, timeout=180)
        r = as_bob("fwrule", "create",
                   f"FROM vm {web['id']} TO any ALLOW tcp PORT 25")
        assert r.returncode != 0
        assert f"instance {web['id']} does not exist" in r.stderr, r.stderr
        assert as_bob("fwrule", "list", "-H").stdout == ""
        for args in (("fwrule", "get", ssh), ("fwrule", "disable", ssh),
                     ("fwrule", "delete", "-f", ssh),
                     ("fwrule", "instances", ssh)):
            r = as_bob(*args)
            assert r.returncode != 0, args
            assert "does not exist" in r.stderr or "not found" in \
                r.stderr.lower(), (args, r.stderr)
        assert {x["uuid"]: x["enabled"] for x in node_rules(node, alice)} \
            == {ssh: True, tagrule: False}

        # Delete: gone from the head node and from the node.
        r = dc.triton(triton_bin, "fwrule", "delete", "-f", tagrule)
        assert r.stdout == f"Deleted rule {tagrule}\n", r.stdout
        wait_rules(node, alice, lambda rs: [x["uuid"] for x in rs] == [ssh])
        r = dc.triton(triton_bin, "fwrule", "get", tagrule, check=False)
        assert r.returncode != 0
        # The node's rules not owned by alice were never touched.
        assert all(x.get("owner_uuid") in (alice,)
                   for x in node_rules(node))
