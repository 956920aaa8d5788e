"""Policy as admin vs member, agents and the DHCP agent scheduler through HTTP."""

from __future__ import annotations

from support.statements import recorded

from neutrino.lib import constants


def error(response):
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


def test_member_sees_own_and_shared_networks_only(api):
    own = api.create("network", "demo", name="mine")
    private = api.create("network", "admin", name="private")
    shared = api.create("network", "admin", name="shared", shared=True)
    names = {n["name"] for n in api.call("GET", "/v2.0/networks", "demo").json()["networks"]}
    assert names == {"mine", "shared"}
    assert api.call("GET", f"/v2.0/networks/{private['id']}", "demo").status_code == 404
    assert api.call("GET", f"/v2.0/networks/{shared['id']}", "demo").status_code == 200
    # Readable is not writable: the shared network belongs to admin.
    response = api.call("PUT", f"/v2.0/networks/{shared['id']}", "demo",
                        json={"network": {"name": "mine now"}})
    assert response.status_code == 403
    assert error(response)[1] == "PolicyNotAuthorized"
    assert api.call("DELETE", f"/v2.0/networks/{private['id']}", "demo").status_code == 404
    assert api.call("DELETE", f"/v2.0/networks/{own['id']}", "alt").status_code == 404
    assert api.call("DELETE", f"/v2.0/networks/{own['id']}", "demo").status_code == 204


def test_port_changes_are_decided_with_the_network_owner(api):
    """update_port is the port's owner's (or admin's); delete_port also the network
    owner's; a caller who cannot see the port gets 404, one who can but may not, 403."""
    net = api.create("network", "demo", name="n")
    api.create("subnet", "demo", network_id=net["id"], cidr="10.3.0.0/24", ip_version=4)
    admins = api.create("port", "admin", network_id=net["id"], name="admins")
    rename = {"port": {"name": "taken"}}
    response = api.call("PUT", f"/v2.0/ports/{admins['id']}", "demo", json=rename)
    assert error(response)[:2] == (403, "PolicyNotAuthorized")
    response = api.call("PUT", f"/v2.0/ports/{admins['id']}", "alt", json=rename)
    assert error(response)[:2] == (404, "PortNotFound")
    assert api.call("DELETE", f"/v2.0/ports/{admins['id']}", "alt").status_code == 404
    assert api.call("GET", f"/v2.0/ports/{admins['id']}").json()["port"]["name"] == "admins"
    assert api.call("DELETE", f"/v2.0/ports/{admins['id']}", "demo").status_code == 204
    assert api.call("GET", f"/v2.0/ports/{admins['id']}").status_code == 404
    demos = api.create("port", "demo", network_id=net["id"], name="demos")
    response = api.call("PUT", f"/v2.0/ports/{demos['id']}", "demo", json=rename)
    assert response.status_code == 200 and response.json()["port"]["name"] == "taken"
    # An attribute rule on the change: only admins bind ports to hosts.
    response = api.call("PUT", f"/v2.0/ports/{demos['id']}", "demo",
                        json={"port": {"binding:host_id": "hostA"}})
    assert error(response)[:2] == (403, "PolicyNotAuthorized")


def test_a_ports_network_is_read_for_a_change_only_when_a_rule_looks_at_it(api, core,
                                                                          sqlite_database):
    """update_port reads the port's owner only, and every default rule holds for an
    admin whatever the target: the network's row is read only for a member's delete
    (delete_port is also the network owner's)."""
    net = api.create("network", "demo", name="n")
    api.create("subnet", "demo", network_id=net["id"], cidr="10.4.0.0/24", ip_version=4)
    def network_reads(method, port, who, **kwargs):
        with recorded(sqlite_database.engine) as seen:
            response = api.call(method, f"/v2.0/ports/{port}", who, **kwargs)
        assert response.status_code < 300, response.text
        return [s for s in seen if s.startswith("SELECT networks.")]

    rename = {"json": {"port": {"name": "renamed"}}}
    for who in ("admin", "demo"):
        port = api.create("port", who, network_id=net["id"])
        assert network_reads("PUT", port["id"], who, **rename) == []
        reads = network_reads("DELETE", port["id"], who)
        assert (reads == []) if who == "admin" else (len(reads) == 1), reads
    # A rule that does look at the network on an update: it is read, for a member.
    port = api.create("port", "demo", network_id=net["id"])
    assert len(network_reads("PUT", port["id"], "demo",
                             json={"port": {"device_owner": "compute:nova"}})) == 1


def test_provider_attributes_admin_only(api):
    net = api.create("network", "demo", name="n")
    assert "provider:network_type" not in net and "provider:segmentation_id" not in net
    admin_view = api.call("GET", f"/v2.0/networks/{net['id']}").json()["network"]
    assert admin_view["provider:network_type"] == "vlan"
    response = api.call("POST", "/v2.0/networks", "demo", json={"network": {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 1005}})
    assert response.status_code == 403
    response = api.call("POST", "/v2.0/networks", "demo", json={"network": {"shared": True}})
    assert response.status_code == 403
    created = api.create("network", "admin", **{
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 1005})
    assert created["provider:segmentation_id"] == 1005
    listed = api.call("GET", "/v2.0/networks?provider:segmentation_id=1005").json()
    assert [n["id"] for n in listed["networks"]] == [created["id"]]


def test_member_cannot_create_for_another_project(api):
    response = api.call("POST", "/v2.0/networks", "demo",
                        json={"network": {"tenant_id": "someone-else"}})
    assert error(response)[0] == 400
    assert "requires admin privileges" in error(response)[2]


def test_subnet_on_foreign_network(api):
    private = api.create("network", "admin")
    shared = api.create("network", "admin", shared=True)
    body = {"subnet": {"network_id": private["id"], "ip_version": 4, "cidr": "10.9.0.0/24"}}
    assert error(api.call("POST", "/v2.0/subnets", "demo", json=body))[:2] == (
        404, "NetworkNotFound")
    body["subnet"]["network_id"] = shared["id"]
    assert api.call("POST", "/v2.0/subnets", "demo", json=body).status_code == 403


def test_port_with_an_address_on_foreign_network(api):
    """create_port:fixed_ips:ip_address is the network owner's: refused on a network the
    caller sees (403), absent on one it does not (404)."""
    private = api.create("network", "admin")
    shared = api.create("network", "admin", shared=True)
    for net, cidr in ((private, "10.8.0.0/24"), (shared, "10.9.0.0/24")):
        api.create("subnet", "admin", network_id=net["id"], ip_version=4, cidr=cidr)
    body = {"port": {"network_id": private["id"], "fixed_ips": [{"ip_address": "10.8.0.9"}]}}
    assert error(api.call("POST", "/v2.0/ports", "demo", json=body))[:2] == (
        404, "NetworkNotFound")
    body = {"port": {"network_id": shared["id"], "fixed_ips": [{"ip_address": "10.9.0.9"}]}}
    assert error(api.call("POST", "/v2.0/ports", "demo", json=body))[:2] == (
        403, "PolicyNotAuthorized")
    del body["port"]["fixed_ips"]
    assert api.call("POST", "/v2.0/ports", "demo", json=body).status_code == 201


def test_port_binding_attributes_admin_only(api):
    net = api.create("network", "demo")
    api.create("subnet", "demo", network_id=net["id"], ip_version=4, cidr="10.3.0.0/24")
    port = api.create("port", "demo", network_id=net["id"])
    assert not any(k in port for k in ("binding:host_id", "binding:vif_type",
                                       "binding:profile", "binding:vif_details"))
    response = api.call("POST", "/v2.0/ports", "demo", json={"port": {
        "network_id": net["id"], "binding:host_id": "HostA"}})
    assert response.status_code == 403
    response = api.call("PUT", f"/v2.0/ports/{port['id']}", "demo",
                        json={"port": {"binding:host_id": "HostA"}})
    assert response.status_code == 403
    response = api.call("PUT", f"/v2.0/ports/{port['id']}", "admin",
                        json={"port": {"binding:host_id": "HostA"}})
    assert response.status_code == 200
    assert response.json()["port"]["binding:host_id"] == "HostA"
    assert api.call("GET", f"/v2.0/ports/{port['id']}", "alt").status_code == 404


def test_agents_admin_only(api, register_agent):
    agent = register_agent("HostA")
    listing = api.call("GET", "/v2.0/agents").json()["agents"]
    assert [a["id"] for a in listing] == [agent["id"]]
    shown = listing[0]
    assert shown["agent_type"] == constants.AGENT_TYPE_DHCP and shown["alive"] is True
    assert isinstance(shown["configurations"], dict)
    assert "T" not in shown["heartbeat_timestamp"]
    assert shown["availability_zone"] == "nova"
    assert api.call("GET", "/v2.0/agents?alive=True").json()["agents"][0]["id"] == agent["id"]
    assert api.call("GET", "/v2.0/agents?alive=false").json() == {"agents": []}
    assert api.call("GET", "/v2.0/agents?host=HostB").json() == {"agents": []}

    assert api.call("GET", "/v2.0/agents", "demo").json() == {"agents": []}
    for method in ("GET", "DELETE"):
        response = api.call(method, f"/v2.0/agents/{agent['id']}", "demo")
        assert response.status_code == 404
    response = api.call("PUT", f"/v2.0/agents/{agent['id']}", "demo",
                        json={"agent": {"admin_state_up": False}})
    assert response.status_code == 404

    response = api.call("PUT", f"/v2.0/agents/{agent['id']}",
                        json={"agent": {"admin_state_up": False, "description": "off"}})
    assert response.status_code == 200
    assert response.json()["agent"]["admin_state_up"] is False
    assert response.json()["agent"]["description"] == "off"
    response = api.call("PUT", f"/v2.0/agents/{agent['id']}", json={"agent": {"host": "x"}})
    assert error(response) == (400, "HTTPBadRequest", "Cannot update read-only attribute host")

    response = api.call("POST", "/v2.0/agents", json={"agent": {"host": "x"}})
    assert response.status_code == 400
    assert error(response)[2] == "Agent creation using API is not supported."

    assert api.call("DELETE", f"/v2.0/agents/{agent['id']}").status_code == 204
    response = api.call("GET", f"/v2.0/agents/{agent['id']}")
    assert error(response) == (404, "AgentNotFound", f"Agent {agent['id']} could not be found.")


def test_dhcp_agent_scheduler(api, register_agent, notifier):
    agent_a = register_agent("HostA")
    agent_b = register_agent("HostB")
    net = api.create("network", name="net2")
    api.create("subnet", network_id=net["id"], ip_version=4, cidr="9.0.1.0/24")
    hosting = api.call("GET", f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
    assert len(hosting) == 1  # scheduled on the subnet
    first = hosting[0]["id"]
    other = agent_b["id"] if first == agent_a["id"] else agent_a["id"]

    response = api.call("POST", f"/v2.0/agents/{other}/dhcp-networks",
                        json={"network_id": net["id"]})
    assert response.status_code == 201 and response.content == b"null"
    hosting = api.call("GET", f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
    assert {a["id"] for a in hosting} == {agent_a["id"], agent_b["id"]}
    networks = api.call("GET", f"/v2.0/agents/{other}/dhcp-networks").json()["networks"]
    assert [n["id"] for n in networks] == [net["id"]]
    assert any(c[0] in ("HostA", "HostB") and c[1] == "network_create_end"
               for c in notifier.casts)

    response = api.call("POST", f"/v2.0/agents/{other}/dhcp-networks",
                        json={"network_id": net["id"]})
    assert error(response) == (409, "NetworkHostedByDHCPAgent",
                               f"The network {net['id']} has been already hosted by the "
                               f"DHCP Agent {other}.")
    response = api.call("POST", f"/v2.0/agents/{other}/dhcp-networks",
                        json={"network_id": "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e"})
    assert error(response)[:2] == (404, "NetworkNotFound")
    response = api.call("POST", f"/v2.0/agents/{other}/dhcp-networks", json={"net": 1})
    assert error(response)[0] == 400

    response = api.call("DELETE", f"/v2.0/agents/{first}/dhcp-networks/{net['id']}")
    assert response.status_code == 204
    response = api.call("DELETE", f"/v2.0/agents/{first}/dhcp-networks/{net['id']}")
    assert error(response) == (409, "NetworkNotHostedByDhcpAgent",
                               f"The network {net['id']} is not hosted by the DHCP Agent "
                               f"{first}.")
    hosting = api.call("GET", f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
    assert [a["id"] for a in hosting] == [other]

    for method, url, body in [
            ("GET", f"/v2.0/agents/{other}/dhcp-networks", None),
            ("POST", f"/v2.0/agents/{first}/dhcp-networks", {"network_id": net["id"]}),
            ("DELETE", f"/v2.0/agents/{other}/dhcp-networks/{net['id']}", None),
            ("GET", f"/v2.0/networks/{net['id']}/dhcp-agents", None)]:
        response = api.call(method, url, "demo", json=body)
        assert error(response)[:2] == (403, "PolicyNotAuthorized"), url

    zones = api.call("GET", "/v2.0/availability_zones", "demo").json()["availability_zones"]
    assert {"name": "nova", "resource": "network", "state": "available"} in zones
    only = api.call("GET", "/v2.0/availability_zones?state=unavailable").json()
    assert only == {"availability_zones": []}
    net_view = api.call("GET", f"/v2.0/networks/{net['id']}").json()["network"]
    assert net_view["availability_zones"] == ["nova"]


def test_policy_file_override(core, api_settings, tmp_path, register_agent, make_api):
    from starlette.testclient import TestClient

    from neutrino.api.app import create_app
    path = tmp_path / "policy.yaml"
    path.write_text('"get_agent": "rule:admin_or_owner or role:member"\n')
    register_agent("HostA")
    with TestClient(create_app(core, api_settings, policy_file=str(path))) as client:
        api = make_api(client)
        assert len(api.call("GET", "/v2.0/agents", "demo").json()["agents"]) == 1


def test_agent_type_filter_ignores_case(api, register_agent):
    agent = register_agent("HostA")
    for query in ("agent_type=DHCP%20Agent", "agent_type=dhcp%20agent&host=hosta",
                  "binary=NEUTRINO-DHCP-AGENT"):
        found = api.call("GET", f"/v2.0/agents?{query}").json()["agents"]
        assert [a["id"] for a in found] == [agent["id"]], query
    assert api.call("GET", "/v2.0/agents?agent_type=L3%20agent").json() == {"agents": []}


def test_service_providers_is_an_empty_list(api):
    for who in ("admin", "demo"):
        response = api.call("GET", "/v2.0/service-providers", who)
        assert response.status_code == 200
        assert response.json() == {"service_providers": []}
    assert api.client.get("/v2.0/service-providers").status_code == 401
    aliases = {e["alias"] for e in api.call("GET", "/v2.0/extensions").json()["extensions"]}
    assert "service-type" in aliases
