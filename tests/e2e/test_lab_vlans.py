"""Every network's VLAN reaches the lab's hosts, whoever created the network: one made
through the API (not by `lab vm boot`) gets its DHCP port ACTIVE, and a VM on it an
address. On kernels without 802.1Q that is the VLAN follower's work (lab/vlans.py)."""

from __future__ import annotations

import pytest

from neutrino.lab import fabric
from neutrino.lab.api import Credentials, NetworkApi
from neutrino.lab.system import wait_for
from neutrino.lab.vm import Vms

pytestmark = [pytest.mark.root, pytest.mark.rabbit]


def test_a_network_created_through_the_api_gets_its_vlan_uplink(lab_factory):
    lab = lab_factory()
    st = lab.up("rabbit", hosts=("HostA", "HostB"))
    api = NetworkApi(Credentials(f"http://127.0.0.1:{st.api_port}/v2.0/", "admin",
                                 "adminpassword", "admin"))
    wait_for(lambda: len([a for a in api.list_agents() if a["alive"]]) == 4, 60, 0.5,
             "the four agents")

    net = api.call("POST", "networks", {"network": {"name": "apinet"}})["network"]
    api.call("POST", "subnets", {"subnet": {"network_id": net["id"], "cidr": "10.6.0.0/24",
                                            "ip_version": 4}})
    vlan = api.get_network(net["id"])["provider:segmentation_id"]
    assert vlan is not None

    def dhcp_ports() -> list[dict]:
        found = api.call("GET", "ports", query={"network_id": net["id"],
                                                "device_owner": "network:dhcp"})
        assert found is not None
        return found["ports"]

    # Before any `vm boot` (which prepares the VLANs it needs itself).
    try:
        wait_for(lambda: dhcp_ports() and all(p["status"] == "ACTIVE" for p in dhcp_ports()),
                 90, 0.5, "the DHCP port to be ACTIVE")
    except TimeoutError:
        pytest.fail(f"DHCP port {dhcp_ports()} not ACTIVE\n{lab.diagnostics()}")
    if lab.load().emulated_vlans:
        assert vlan in fabric.switch_vlans(lab.names)
        assert lab.load().vlans == []  # the follower made it, not `vm boot`

    vms = Vms(lab, api)
    rec = vms.boot("vmv", net["id"], "HostB")
    want = api.get_port(rec.port_id)["fixed_ips"][0]["ip_address"]
    try:
        wait_for(lambda: vms.dhcp("vmv") == want, 60, 0, f"vmv to lease {want}")
    except TimeoutError:
        pytest.fail(f"vmv did not lease {want}\n{lab.diagnostics()}")
    vms.delete("vmv")
