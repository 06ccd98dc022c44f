"""fwadm as an operator uses it: rules added, listed, changed and removed,
kept under the pool root, and refused with one clear line when wrong.
Each test runs fwadm inside a network namespace of its own, so the live
filter it loads never touches the host."""
import json
import os

import pytest

from fwnet import Fw, Netns

OWNER = "cccccccc-0000-4000-8000-000000000001"
VM_A = "aaaaaaaa-0000-4000-8000-000000000001"
VM_B = "bbbbbbbb-0000-4000-8000-000000000002"


@pytest.fixture
def fw(workdir):
    nets = Netns()
    try:
        ns = nets.add("fw")
        yield Fw(os.path.join(workdir, "zones"), ns)
    finally:
        nets.cleanup()


def test_add_list_get_delete(fw):
    out = fw.run("add", "-e", "from", "any", "to", "all", "vms", "allow",
                 "tcp", "port", "22").stdout.splitlines()
    assert out[0] == "Added rules:"
    uuid, text = out[1].split(" ", 1)
    assert text == "FROM any TO all vms ALLOW tcp PORT 22"
    assert fw.rules_on_disk() == [f"{uuid}.json"]

    rec = json.loads(fw.run("get", uuid).stdout)
    assert rec["uuid"] == uuid and rec["enabled"] is True
    assert rec["global"] is True and "owner_uuid" not in rec
    assert rec["rule"] == text
    ms, pid = rec["version"].split(".")
    assert len(pid) == 6 and int(ms) > 0

    lst = fw.run("list").stdout.splitlines()
    assert lst[0].split() == ["UUID", "ENABLED", "RULE"]
    assert lst[1].split(None, 2) == [uuid, "true", text]
    assert fw.run("list", "-p", "-d", "|", "-o", "uuid,enabled").stdout == \
        f"{uuid}|true\n"
    assert json.loads(fw.run("list", "-j").stdout)[0]["uuid"] == uuid

    assert fw.run("delete", uuid).stdout.splitlines() == ["Deleted rules:", uuid]
    assert fw.rules_on_disk() == []
    fw.fails("get", uuid)


def test_payload_file_update_enable_disable(fw, workdir):
    payload = {"rules": [
        {"rule": "FROM tag role = web TO tag role = db ALLOW tcp PORT 5432",
         "owner_uuid": OWNER, "description": "web to db", "enabled": True},
        {"uuid": "dddddddd-0000-4000-8000-000000000001",
         "rule": "FROM all vms TO any BLOCK udp PORTS 53, 1000-2000"},
    ]}
    path = os.path.join(workdir, "rules.json")
    with open(path, "w") as f:
        json.dump(payload, f)
    out = fw.run("add", "-f", path).stdout.splitlines()
    assert len(out) == 3
    assert "FROM all vms TO any BLOCK udp PORTS 53, 1000 - 2000" in out[2] or \
        "FROM all vms TO any BLOCK udp PORTS 53, 1000 - 2000" in out[1]
    r2 = json.loads(fw.run("get", "dddddddd-0000-4000-8000-000000000001").stdout)
    assert r2["enabled"] is False

    fw.run("enable", r2["uuid"])
    assert json.loads(fw.run("get", r2["uuid"]).stdout)["enabled"] is True
    fw.run("disable", r2["uuid"])
    assert json.loads(fw.run("get", r2["uuid"]).stdout)["enabled"] is False

    # update from the command line keeps what it does not name
    fw.run("update", r2["uuid"], "FROM all vms TO any BLOCK udp PORT 53")
    r3 = json.loads(fw.run("get", r2["uuid"]).stdout)
    assert r3["rule"] == "FROM all vms TO any BLOCK udp PORT 53"
    assert r3["enabled"] is False and r3["version"] != r2["version"]

    # update from a file, payload on stdin
    upd = json.dumps({"rules": [{"uuid": r2["uuid"], "enabled": True,
                                 "description": "dns"}]})
    fw.run("update", "-f", "-", input=upd)
    r4 = json.loads(fw.run("get", r2["uuid"]).stdout)
    assert r4["enabled"] is True and r4["description"] == "dns"
    assert r4["rule"] == r3["rule"]
    assert fw.run("list", "-p", "-o", "description").stdout.splitlines() \
        .count("dns") == 1


def test_bad_input_changes_nothing(fw, workdir):
    good = fw.add("FROM any TO all vms ALLOW tcp PORT 22")
    before = fw.rules_on_disk()
    err = fw.fails("add", "FROM any TO all vms ALLOW tcp PORT 70000").stderr
    assert "character 36" in err and "70000" in err
    err = fw.fails("add", "FROM any TO any ALLOW tcp PORT 1").stderr
    assert "rule does not affect VMs" in err
    # A batch with one bad rule adds none of them.
    bad = json.dumps({"rules": [
        {"rule": "FROM any TO all vms ALLOW tcp PORT 80"},
        {"rule": "FROM any TO all vms ALLOW tcp PORT 80", "owner_uuid": OWNER,
         "global": True}]})
    assert "global" in fw.fails("add", "-f", "-", input=bad).stderr
    fw.fails("add", "-f", "-", input="{not json")
    fw.fails("add", "-f", "-", input=json.dumps(
        {"rules": [{"uuid": good, "rule": "FROM any TO all vms ALLOW tcp PORT 1"}]}))
    fw.fails("delete", good, "eeeeeeee-0000-4000-8000-000000000000")
    fw.fails("update", "eeeeeeee-0000-4000-8000-000000000000",
             "FROM any TO all vms ALLOW tcp PORT 1")
    fw.fails("enable", "not-a-uuid")
    assert fw.rules_on_disk() == before
    # -j turns errors into JSON
    cp = fw.run("-j", "add", "FROM any TO all vms ALLOW tcp PORT 0", check=False)
    assert cp.returncode == 1 and "message" in json.loads(cp.stderr)
    # unknown command / option: usage error
    assert fw.run("frobnicate", check=False).returncode == 2
    assert fw.run("add", "--frob", check=False).returncode == 2


def test_dryrun_stores_nothing(fw):
    fw.vm(VM_A, ifname="vha", ips=["192.0.2.10"], tags={"role": "db"})
    out = fw.run("add", "--dryrun", "--stdout", "-e",
                 "FROM any TO tag role ALLOW tcp PORT 22").stdout
    assert "table inet hull" in out
    assert f"chain i-{VM_A}" in out and "tcp dport 22 accept" in out
    assert fw.rules_on_disk() == []
    uuid = fw.add("FROM any TO tag role ALLOW tcp PORT 22")
    fw.run("delete", "--dryrun", uuid)
    assert fw.rules_on_disk() == [f"{uuid}.json"]


def test_vms_rules_status_start_stop(fw):
    fw.vm(VM_A, ifname="vha", ips=["192.0.2.10"], tags={"role": "db"},
          owner=OWNER)
    fw.vm(VM_B, ifname="vhb", ips=["192.0.2.11"], tags={"role": "web"},
          owner=OWNER)
    db = fw.add("FROM any TO tag role = db ALLOW tcp PORT 5432", "-e")
    every = fw.add("FROM any TO all vms ALLOW tcp PORT 22", "-e")
    mine = fw.add("FROM vm " + VM_B + " TO any BLOCK tcp PORT 25", "-e",
                  "-O", "cccccccc-0000-4000-8000-000000000009")
    assert fw.run("vms", db).stdout.split() == [VM_A]
    assert fw.run("vms", every).stdout.split() == [VM_A, VM_B]
    assert fw.run("vms", mine).stdout.split() == []  # another owner's rule
    rules_b = fw.run("rules", "-p", "-o", "uuid", VM_B).stdout.split()
    assert rules_b == [every]
    assert fw.run("status", VM_A).stdout == "running\n"
    assert fw.run("status", "-v", VM_A).stdout == \
        "running\nrules: 2\nport vha: routed\n"
    fw.run("stop", VM_A)
    assert fw.run("status", VM_A).stdout == "stopped\n"
    assert f"chain i-{VM_A}" not in fw.run("reload", "--dryrun",
                                            "--stdout").stdout
    fw.run("start", VM_A)
    assert fw.run("status", VM_A).stdout == "running\n"
    assert f"chain i-{VM_A}" in fw.run("reload", "--dryrun", "--stdout").stdout
    fw.vm(VM_B, ifname="vhb", ips=["192.0.2.11"], firewall=False)
    assert "firewall_enabled" in fw.fails("start", VM_B).stderr
    fw.fails("status", "eeeeeeee-0000-4000-8000-000000000000")


def test_help_and_version(fw):
    assert "usage: fwadm" in fw.run("--help").stdout
    assert fw.run("--version").stdout.startswith("fwadm (hull) ")
