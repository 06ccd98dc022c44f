"""SmartOS's limit_priv on Linux: illumos privileges with a capability
counterpart move that capability in or out of the zone's bounding set
(sys_time is CAP_SYS_TIME, net_rawaccess CAP_NET_RAW), for init and for
what zlogin starts; names without one (dtrace_*) warn once at create; the
illumos-only properties fs_allowed, zfs_root_compression and
zfs_data_compression warn once each. (VM.js stores limit_priv as zonecfg's
limitpriv; zonecfg refuses a name illumos does not know.)"""
import json

from test_vmadm_payload import dirhost  # noqa: F401 (fixture)
from vmtools import create, get, zone
from zonekit import zones  # noqa: F401

CAP_NET_RAW = 13
CAP_SYS_ADMIN = 21
CAP_SYS_TIME = 25


def caps(z, pid="1", field="CapBnd"):
    r = z.zlogin("sh", "-c", f"grep ^{field}: /proc/{pid}/status")
    return int(r.out.split()[1], 16)


def test_default_zone_has_no_sys_time(zones):
    z = zones.new({"limit_priv": "default"})
    assert not caps(z) & (1 << CAP_SYS_TIME)
    assert caps(z) & (1 << CAP_NET_RAW)


def test_sys_time_is_kept_and_net_rawaccess_dropped(zones):
    z = zones.new({"limit_priv": "default,sys_time,-net_rawaccess"})
    for field in ("CapBnd", "CapEff"):
        c = caps(z, "1", field)
        assert c & (1 << CAP_SYS_TIME), (field, hex(c))
        assert not c & (1 << CAP_NET_RAW), (field, hex(c))
        assert not c & (1 << CAP_SYS_ADMIN), (field, hex(c))
    # zlogin's processes get the same set as init.
    assert caps(z, "self") == caps(z, "1")


def test_sys_admin_is_never_granted_through_limit_priv(zones):
    z = zones.new({"limit_priv": "default,sys_admin,sys_mount"})
    assert not caps(z) & (1 << CAP_SYS_ADMIN)


def test_array_form_is_taken(zones):
    z = zones.new({"limit_priv": ["default", "sys_time"]})
    assert caps(z) & (1 << CAP_SYS_TIME)


def warnings_of(r):
    return [l for l in r.err.splitlines() if l.startswith("Warning")]


def test_create_warns_once_per_privilege_without_counterpart(dirhost):
    p = zone(limit_priv="default,dtrace_proc,dtrace_user,dtrace_proc,sys_time")
    r = dirhost.run("vmadm", "create", input=json.dumps(p))
    assert warnings_of(r) == [
        "Warning: limit_priv: dtrace_proc has no Linux counterpart, ignored",
        "Warning: limit_priv: dtrace_user has no Linux counterpart, ignored",
    ], r.err
    u = r.err.strip().splitlines()[-1].split()[-1]
    assert get(dirhost, u)["limit_priv"] == \
        "default,dtrace_proc,dtrace_user,dtrace_proc,sys_time"


def test_create_array_limit_priv_is_stored_as_a_string(dirhost):
    u = create(dirhost, zone(limit_priv=["default", "sys_time"]))
    assert get(dirhost, u)["limit_priv"] == "default,sys_time"


def test_default_limit_priv_warns_nothing(dirhost):
    r = dirhost.run("vmadm", "create", input=json.dumps(zone()))
    assert warnings_of(r) == [], r.err
    u = r.err.strip().splitlines()[-1].split()[-1]
    assert get(dirhost, u)["limit_priv"] == "default"


def test_unknown_privilege_is_refused(dirhost):
    r = dirhost.fails("vmadm", "create",
                      input=json.dumps(zone(limit_priv="default,sys_tyme")))
    assert r.err.strip() == \
        "Invalid value for limit_priv: unknown privilege sys_tyme", r.err
    assert dirhost.run("vmadm", "lookup").out.strip() == ""


def test_illumos_only_properties_warn_once_each(dirhost):
    p = zone(fs_allowed="ufs,pcfs,tmpfs", zfs_root_compression="lz4",
             zfs_data_compression="gzip-9")
    r = dirhost.run("vmadm", "create", input=json.dumps(p))
    assert warnings_of(r) == [
        "Warning: fs_allowed has no effect on Linux, ignored",
        "Warning: zfs_root_compression has no effect on Linux, ignored",
        "Warning: zfs_data_compression has no effect on Linux, ignored",
    ], r.err
    u = r.err.strip().splitlines()[-1].split()[-1]
    vm = get(dirhost, u)
    assert vm["fs_allowed"] == "ufs,pcfs,tmpfs"
    assert vm["zfs_root_compression"] == "lz4"
    # vmadm validate says the same
    r = dirhost.run("vmadm", "validate", "create", input=json.dumps(p))
    assert len(warnings_of(r)) == 3, r.err
    # and an update
    r = dirhost.run("vmadm", "update", u,
                    input=json.dumps({"zfs_root_compression": "off"}))
    assert warnings_of(r) == [
        "Warning: zfs_root_compression has no effect on Linux, ignored"], r.err
