"""The guest-facing servers run without root (issue 12, section 5): the
metadata server of each instance is a process of its own with the
instance's own unprivileged uid, no capabilities, no_new_privs, a seccomp
allow-list and only its own descriptors; a root keeper without
capabilities beside it holds the record. The supervisor restarts them
when they die, and the guest's next mdata-get works."""
import json
import os

from zonekit import zones, wait_for  # noqa: F401

# supervisor/privsep.h: zones' helper ids lie above the default id pool
ID_BASE = 0xF0000000


def children(pid, comm):
    kids = open(f"/proc/{pid}/task/{pid}/children").read().split()
    out = []
    for k in kids:
        try:
            if open(f"/proc/{k}/comm").read().strip() == comm:
                out.append(int(k))
        except FileNotFoundError:
            pass
    return out


def status(pid):
    fields = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        fields[k] = v.strip()
    return fields


def entered(pid):
    """Whether a child has dropped to its budget (seccomp loaded last):
    it takes its name before, as it starts, so a fast reader can see it
    still root for a moment, before it serves anything."""
    try:
        return status(pid)["Seccomp"] == "2"
    except FileNotFoundError:
        return False


def confined_children(pid, comm, timeout=5):
    """children(pid, comm) once there is one and all have dropped."""
    def ready():
        kids = children(pid, comm)
        return kids if kids and all(entered(k) for k in kids) else None
    return wait_for(ready, timeout) or []


def assert_confined(st):
    for f in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[f], 16) == 0, (f, st[f])
    assert st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2"


def fd_targets(pid):
    d = f"/proc/{pid}/fd"
    return {int(f): os.readlink(os.path.join(d, f)) for f in os.listdir(d)}


def test_metadata_server_runs_unprivileged(zones):
    z = zones.new({"customer_metadata": {"user-script": "echo hi"}})
    sv = z.supervisor_pid()
    md = confined_children(sv, "hull-metadata")[0]
    st = status(md)
    uids = [int(x) for x in st["Uid"].split()]
    gids = [int(x) for x in st["Gid"].split()]
    assert len(set(uids)) == 1 and len(set(gids)) == 1, (uids, gids)
    assert uids[0] >= ID_BASE and gids[0] >= ID_BASE, uids
    assert st["Groups"] == ""
    assert_confined(st)
    # only its own descriptors: stdio, the listener, the keeper's socket;
    # no file of the instance (the record is the keeper's)
    fds = fd_targets(md)
    assert sorted(fds)[:3] == [0, 1, 2]
    extra = [t for f, t in fds.items() if f > 2]
    assert len(extra) == 3, fds  # listener, keeper, its epoll
    assert all(t.startswith(("socket:", "anon_inode:")) for t in extra), fds
    # the keeper: root without capabilities, also under seccomp
    keeper = confined_children(sv, "hull-md-keeper")
    assert len(keeper) == 1
    kst = status(keeper[0])
    assert kst["Uid"].split()[0] == "0"
    assert_confined(kst)
    # both sit in the instance's metadata leaf
    for p in (md, keeper[0]):
        assert f"/{z.cgroup}/metadata\n" in open(f"/proc/{p}/cgroup").read()
    # and the guest is served, PUT and DELETE included
    r = z.zlogin("sh", "-c", "mdata-get user-script; mdata-put k v; "
                 "mdata-get k; mdata-delete k; mdata-list")
    assert r.out.split() == ["echo", "hi", "v", "user-script"], r.out


def test_killed_metadata_server_is_restarted(zones):
    z = zones.new()
    sv = z.supervisor_pid()
    # init's start time inside the zone: the same init after all this
    init = z.zlogin("cat", "/proc/1/stat").out.split()[21]
    md = wait_for(lambda: children(sv, "hull-metadata"), 5)
    keeper = children(sv, "hull-md-keeper")
    os.kill(md[0], 9)
    new = wait_for(lambda: [p for p in children(sv, "hull-metadata")
                            if p not in md and entered(p)], 5)
    assert new, "no new metadata server"
    # the pair is started again, the keeper too
    assert wait_for(lambda: children(sv, "hull-md-keeper") not in
                    ([], keeper), 5)
    assert_confined(status(new[0]))
    assert z.zlogin("mdata-get", "sdc:uuid").out == z.uuid + "\n"
    # the instance did not notice
    assert os.path.exists(f"/proc/{sv}")
    assert z.zlogin("cat", "/proc/1/stat").out.split()[21] == init
    assert any("metadata server died" in e["msg"]
               for e in z.supervisor_log())
    # the keeper killed: the same
    k2 = children(sv, "hull-md-keeper")
    os.kill(k2[0], 9)
    assert wait_for(lambda: children(sv, "hull-md-keeper") not in ([], k2),
                    5)
    assert z.zlogin("mdata-put", "after", "ok").rc == 0
    assert z.zlogin("mdata-get", "after").out == "ok\n"


def test_metadata_pair_serves_a_whole_workload_unkilled(zones):
    """Every kind of request a guest makes stays inside the pair's
    seccomp budgets in the build under test (ASan or release): GETs of
    sdc: and customer keys, a listing, PUT and DELETE of a small value and
    of one large enough for a side file (the keeper hashes, writes,
    reads and removes it), a GET of a deleted key. A call outside a
    budget kills the process with SIGSYS and the supervisor would start
    another: the same two processes must have served it all, and the
    supervisor logged no death."""
    z = zones.new({"customer_metadata": {"user-script": "echo hi",
                                         "note": "n" * 5000},
                   "tags": {"role": "web"}})
    sv = z.supervisor_pid()
    md = confined_children(sv, "hull-metadata")
    keeper = confined_children(sv, "hull-md-keeper")
    assert len(md) == 1 and len(keeper) == 1, (md, keeper)
    assert z.zlogin("mdata-get", "sdc:uuid").out == z.uuid + "\n"
    assert json.loads(z.zlogin("mdata-get", "sdc:tags").out) == {
        "role": "web"}
    assert z.zlogin("mdata-get", "note").out == "n" * 5000 + "\n"
    assert sorted(z.zlogin("mdata-list").out.split()) == ["note",
                                                          "user-script"]
    big = "".join(chr(ord("a") + i % 26) for i in range(20000))
    for key, value in (("small", "v"), ("big", big)):
        assert z.zlogin("mdata-put", key, value).rc == 0
        assert z.zlogin("mdata-get", key).out == value + "\n"
    side = os.path.join(z.dir, "config", "metadata")
    assert os.path.isdir(side) and os.listdir(side), "no side file"
    for key in ("big", "small", "note"):
        assert z.zlogin("mdata-delete", key).rc == 0
        r = z.zlogin("mdata-get", key, check=False)
        assert r.rc != 0 and r.out == "", (key, r.rc, r.out)
    assert z.zlogin("mdata-list").out.split() == ["user-script"]
    assert children(sv, "hull-metadata") == md
    assert children(sv, "hull-md-keeper") == keeper
    assert not [e for e in z.supervisor_log() if "died" in e["msg"]
                or "keeps dying" in e["msg"]], z.supervisor_log()
