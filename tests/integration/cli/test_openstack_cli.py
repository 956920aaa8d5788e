"""Issue 2's `openstack` commands, through the real python-openstackclient, on v3 auth.

The client discovers the identity version, reads the catalog and the network endpoint's
version document, then drives the agent and DHCP scheduler APIs: what keystoneauth,
openstacksdk and OSC expect of the server is checked here end to end. Each command runs
once (the client is slow to start); what it did is checked with direct API reads.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.rabbit


def as_json(openstack, *args: str):
    return json.loads(openstack(*args, "-f", "json").out)


def test_issue_2_openstack_commands(openstack, api, fleet, until):
    aliases = {e["Alias"]: e["Name"]
               for e in as_json(openstack, "extension", "list", "--network")}
    assert aliases["agent"] == "agent"
    assert aliases["dhcp_agent_scheduler"] == "DHCP Agent Scheduler"

    net = as_json(openstack, "network", "create", "net2")
    assert net["name"] == "net2"
    listed = {n["Name"]: n for n in as_json(openstack, "network", "list")}
    assert listed["net2"]["ID"] == net["id"]
    assert as_json(openstack, "network", "show", "net2")["id"] == net["id"]

    subnet = as_json(openstack, "subnet", "create", "--network", "net2",
                     "--subnet-range", "9.0.1.0/24", "subnet2")
    assert (subnet["cidr"], subnet["name"], subnet["network_id"]) == (
        "9.0.1.0/24", "subnet2", net["id"])
    port = as_json(openstack, "port", "create", "--network", "net2", "p1")
    assert port["name"] == "p1" and port["network_id"] == net["id"]
    assert port["fixed_ips"][0]["ip_address"].startswith("9.0.1.")

    agents = as_json(openstack, "network", "agent", "list")
    by = {(a["Agent Type"], a["Host"]): a for a in agents}
    assert set(by) == {("DHCP agent", "HostA"), ("DHCP agent", "HostB"),
                       ("Linux bridge agent", "HostA"), ("Linux bridge agent", "HostB")}
    assert all(a["Alive"] is True and a["State"] is True for a in agents)
    assert by[("DHCP agent", "HostA")]["Binary"] == "neutrino-dhcp-agent"
    assert by[("DHCP agent", "HostA")]["Availability Zone"] == "nova"
    dhcp = {host: by[("DHCP agent", host)]["ID"] for host in ("HostA", "HostB")}

    def hosting_ids() -> list[str]:
        return [a["id"] for a in api.get(f"/networks/{net['id']}/dhcp-agents")["agents"]]

    until(hosting_ids, what="net2 to be scheduled")
    first = as_json(openstack, "network", "agent", "list", "--network", "net2")
    assert len(first) == 1
    first_id, first_host = first[0]["ID"], first[0]["Host"]
    assert first_id == dhcp[first_host]
    assert first[0]["Agent Type"] == "DHCP agent"
    other_host = "HostB" if first_host == "HostA" else "HostA"
    other_id = dhcp[other_host]

    on_first = as_json(openstack, "network", "list", "--agent", first_id)
    assert [n["ID"] for n in on_first] == [net["id"]]

    # OSC reports nothing when these fail, so the API is the proof.
    openstack("network", "agent", "add", "network", "--dhcp", other_id, "net2")
    assert sorted(hosting_ids()) == sorted([first_id, other_id])
    openstack("network", "agent", "remove", "network", "--dhcp", first_id, "net2")
    assert hosting_ids() == [other_id]
    assert api.get(f"/agents/{first_id}/dhcp-networks")["networks"] == []

    shown = as_json(openstack, "network", "agent", "show", other_id)
    assert (shown["id"], shown["host"], shown["agent_type"]) == (
        other_id, other_host, "DHCP agent")
    assert shown["alive"] is True
    assert shown["configuration"]["dhcp_driver"] == "neutron.agent.linux.dhcp.Dnsmasq"

    openstack("network", "agent", "set", "--disable", first_id)
    assert api.get(f"/agents/{first_id}")["agent"]["admin_state_up"] is False

    fleet.pause("dhcp", first_host)
    try:
        openstack("network", "agent", "delete", first_id)
        remaining = [a["id"] for a in api.get("/agents")["agents"]]
        assert first_id not in remaining and len(remaining) == 3
        assert api.call("GET", f"/agents/{first_id}")[0] == 404
    finally:
        fleet.resume("dhcp", first_host)

    assert api.call("DELETE", f"/ports/{port['id']}")[0] == 204
    openstack("network", "delete", "net2")
    assert api.get("/networks?name=net2")["networks"] == []
    assert api.call("GET", f"/subnets/{subnet['id']}")[0] == 404
    assert not fleet.errors
