"""A running zone whose nic was given in SmartOS's older form (ip,
netmask, gateway; no ips) reads it back over metadata as SmartOS serves
it: sdc:nics holds ips and gateways beside the representative ip,
netmask and gateway (VM.js keeps both; nic.js upgradeNic), and the zone's
interface carries the address. The zone starts under the test's network
namespace, where its nic tag lives."""
import json

from conftest import prog
from test_zone_netns_exec import in_ns, nshost  # noqa: F401  (fixture)


def test_old_form_nic_reads_back_with_ips_and_gateways(nshost):
    h = nshost
    r = in_ns(h.net, h, "nictagadm", "add", "-l", "stub0")
    assert r.returncode == 0, r.stderr
    payload = {"brand": "lx", "kernel_version": "4.3.0",
               "image_uuid": h.image, "alias": "oldnic",
               "nics": [{"nic_tag": "stub0", "ip": "192.0.2.41",
                         "netmask": "255.255.255.0", "gateway": "192.0.2.1",
                         "primary": True}]}
    r = in_ns(h.net, h, f"{prog('vmadm')} create", input=json.dumps(payload),
              shell=True)
    assert r.returncode == 0, r.stderr
    u = r.stderr.split("Successfully created VM ")[1].split()[0]

    r = in_ns(h.net, h, "zlogin", u, "mdata-get", "sdc:nics")
    assert r.returncode == 0, r.stderr
    nics = json.loads(r.stdout)
    assert len(nics) == 1
    nic = nics[0]
    assert nic["ips"] == ["192.0.2.41/24"]
    assert nic["gateways"] == ["192.0.2.1"]
    assert (nic["ip"], nic["netmask"], nic["gateway"]) == \
        ("192.0.2.41", "255.255.255.0", "192.0.2.1")
    assert nic["interface"] == "eth0" and nic["primary"] is True
    # The zone's interface has the address metadata names.
    r = in_ns(h.net, h, "zlogin", u, "ip", "-4", "-o", "addr", "show", "eth0")
    assert "192.0.2.41/24" in r.stdout, (r.stdout, r.stderr)
