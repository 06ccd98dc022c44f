"""Placement as an operator and a user drive it on a converged host:
`hulladm placement` (the scorers' weights and overprovision ratios),
`hulladm reserve` (the datacenter-wide reserve that ordinary placement
never books into), and the real CLI's affinity rules (`triton instance
create -a RULE`). The scorers' signs and the filters are tested against
the store itself in tests/unit/test_placement.c."""
import json
import re

from test_head_agent import converged
from test_head_api import triton_bin  # noqa: F401  (fixture)


def test_placement_settings_reserve_and_affinity(workdir, triton_bin):  # noqa: F811
    with converged(workdir) as (dc, node):
        shown = json.loads(dc.adm("-j", "placement").stdout)
        assert shown["mode"] == "spread"
        assert shown["weights"] == {"ram": 2, "disk": 1, "owner": 0,
                                    "random": 0}
        assert shown["overprovision_ratios"] == {"cpu": 4, "ram": 1,
                                                 "disk": 1}
        assert shown["vm_limit"] == 224 and shown["reserve"] is None
        r = dc.adm("placement", "set", "--pack", "--weight-owner", "3",
                   "--cpu-ratio", "8")
        assert r.stdout == ("mode pack; weights ram -2 disk -1 owner 3 "
                            "random 0; overprovision cpu 8 ram 1 disk 1; "
                            "vm limit 224\n"), r.stdout
        # Bad settings: one line, exit 1 or 2, nothing changed.
        for args, msg in (
                (("--ram-ratio", "0.5"), "overprovision ratio ram must be"),
                (("--weight-ram", "lots"), "--weight-ram lots: not a number"),
                (("--vm-limit", "0"), "vm_limit must be a whole number"),
                (("--fill",), "unknown option")):
            r = dc.adm("placement", "set", *args, check=False)
            assert r.returncode in (1, 2), args
            assert r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr
        assert json.loads(dc.adm("-j", "placement").stdout)["mode"] == "pack"
        dc.adm("placement", "set", "--spread")

        # The reserve: 90% of the datacenter held back leaves no room for
        # a 4 GiB instance that fits otherwise.
        dc.adm("package", "add", "bb-4G", "--memory", "4096", "--disk",
               "1024", "--vcpus", "1")
        r = dc.adm("reserve", "set", "--share", "90")
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["RESOURCE", "TOTAL", "RESERVE", "USED",
                                    "FREE"]
        ram = json.loads(dc.adm("-j", "reserve").stdout)["ram"]
        assert ram["reserve"] == int(ram["total"] * 0.9)
        assert ram["free"] < 4096 < ram["total"] - ram["used"]
        r = dc.triton(triton_bin, "instance", "create", "-n", "big",
                      dc.image_name, "bb-4G", check=False)
        assert r.returncode != 0
        assert "no compute node has room for package bb-4G" in r.stderr
        assert dc.count("machines") == 0
        r = dc.adm("reserve", "set", "--share", "95", check=False)
        assert r.returncode == 1 and "reserve share must be" in r.stderr
        dc.adm("reserve", "set", "--none")
        assert json.loads(dc.adm("-j", "placement").stdout)["reserve"] \
            is None

        # Affinity through the real CLI (one server: a rule that needs
        # another one cannot be met).
        dc.triton(triton_bin, "instance", "create", "-w", "-n", "web0",
                  dc.image_name, "bb-128M")
        r = dc.triton(triton_bin, "instance", "create", "-w", "-n", "web1",
                      "-a", "instance==web0", dc.image_name, "bb-128M")
        assert "Created instance web1" in r.stdout
        r = dc.triton(triton_bin, "instance", "create", "-n", "web2",
                      "-a", "instance!=web*", dc.image_name, "bb-128M",
                      check=False)
        assert r.returncode != 0
        assert re.search(r"no compute node has room for package bb-128M "
                         r"\(.*\) that meets its affinity", r.stderr), \
            r.stderr
        r = dc.triton(triton_bin, "instance", "create", "-n", "web3",
                      "-a", "instance==nosuch", dc.image_name, "bb-128M",
                      check=False)
        assert r.returncode != 0
        assert "affinity rule instance==nosuch: no instance matches" in \
            r.stderr, r.stderr
        # A soft rule that cannot be met places anyway.
        r = dc.triton(triton_bin, "instance", "create", "-w", "-n", "web4",
                      "-a", "instance!=~web0", dc.image_name, "bb-128M")
        assert "Created instance web4" in r.stdout
        assert dc.count("machines") == 3
