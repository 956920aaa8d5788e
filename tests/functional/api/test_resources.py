"""Networks, subnets and ports through HTTP with the real Core on SQLite."""

from __future__ import annotations

NET_KEYS = {"id", "name", "subnets", "admin_state_up", "status", "tenant_id", "project_id",
            "shared", "mtu", "provider:network_type", "provider:physical_network",
            "provider:segmentation_id", "router:external", "availability_zone_hints",
            "availability_zones", "dns_domain", "description", "created_at", "updated_at",
            "revision_number", "tags", "port_security_enabled"}


def error(response):
    body = response.json()["NeutronError"]
    assert body["detail"] == ""
    return response.status_code, body["type"], body["message"]


def test_network_crud(api):
    net = api.create("network", name="net1")
    assert set(net) == NET_KEYS
    assert net["tenant_id"] == net["project_id"]
    assert net["provider:network_type"] == "vlan" and net["status"] == "ACTIVE"

    shown = api.call("GET", f"/v2.0/networks/{net['id']}").json()["network"]
    assert shown == net

    response = api.call("PUT", f"/v2.0/networks/{net['id']}",
                        json={"network": {"name": "renamed", "admin_state_up": "false"}})
    assert response.status_code == 200
    updated = response.json()["network"]
    assert updated["name"] == "renamed" and updated["admin_state_up"] is False
    assert updated["revision_number"] > net["revision_number"]

    response = api.call("DELETE", f"/v2.0/networks/{net['id']}")
    assert response.status_code == 204 and response.content == b""
    response = api.call("GET", f"/v2.0/networks/{net['id']}")
    assert error(response) == (404, "NetworkNotFound",
                               f"Network {net['id']} could not be found.")


def test_json_suffix_and_request_id(api):
    net = api.create("network", name="n")
    response = api.call("GET", f"/v2.0/networks/{net['id']}.json")
    assert response.status_code == 200 and response.json()["network"]["id"] == net["id"]
    assert response.headers["X-Openstack-Request-Id"].startswith("req-")
    assert api.call("GET", "/v2.0/networks.json").status_code == 200


def test_bulk_create_all_or_nothing(api):
    response = api.call("POST", "/v2.0/networks", json={"networks": [
        {"name": "a"}, {"name": "b"}]})
    assert response.status_code == 201
    assert [n["name"] for n in response.json()["networks"]] == ["a", "b"]
    response = api.call("POST", "/v2.0/networks", json={"networks": [
        {"name": "c"}, {"name": "d", "bogus": 1}]})
    assert response.status_code == 400
    names = {n["name"] for n in api.call("GET", "/v2.0/networks").json()["networks"]}
    assert names == {"a", "b"}


def test_subnet_and_port(api):
    net = api.create("network", name="net1")
    subnet = api.create("subnet", network_id=net["id"], ip_version=4, cidr="10.0.0.0/24",
                        allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}],
                        dns_nameservers=["8.8.8.8"],
                        host_routes=[{"destination": "10.1.0.0/16", "nexthop": "10.0.0.1"}])
    assert subnet["gateway_ip"] == "10.0.0.1" and subnet["enable_dhcp"] is True
    assert "shared" not in subnet  # not visible, only a filter
    port = api.create("port", network_id=net["id"], name="p1",
                      fixed_ips=[{"subnet_id": subnet["id"], "ip_address": "10.0.0.15"}],
                      extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxe.0"}])
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.0.0.15"}]
    assert port["mac_address"].startswith("fa:16:3e")
    assert port["status"] == "DOWN"
    assert port["extra_dhcp_opts"][0]["opt_name"] == "bootfile-name"

    by_ip = api.call("GET", "/v2.0/ports?fixed_ips=ip_address%3D10.0.0.15").json()["ports"]
    assert [p["id"] for p in by_ip] == [port["id"]]
    substr = api.call("GET", "/v2.0/ports?fixed_ips=ip_address_substr%3D0.0.1").json()
    assert [p["id"] for p in substr["ports"]] == [port["id"]]
    assert api.call("GET", "/v2.0/ports?fixed_ips=ip_address%3D10.0.0.99").json() == {
        "ports": []}

    response = api.call("DELETE", f"/v2.0/networks/{net['id']}")
    assert error(response)[:2] == (409, "NetworkInUse")
    assert api.call("DELETE", f"/v2.0/ports/{port['id']}").status_code == 204
    assert api.call("DELETE", f"/v2.0/subnets/{subnet['id']}").status_code == 204
    assert api.call("DELETE", f"/v2.0/networks/{net['id']}").status_code == 204


def test_ip_in_use_is_conflict(api):
    net = api.create("network")
    subnet = api.create("subnet", network_id=net["id"], ip_version=4, cidr="10.2.0.0/24")
    api.create("port", network_id=net["id"], fixed_ips=[{"ip_address": "10.2.0.7"}])
    response = api.call("POST", "/v2.0/ports", json={"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": subnet["id"],
                                                "ip_address": "10.2.0.7"}]}})
    assert error(response)[:2] == (409, "IpAddressInUse")


def test_validation_errors(api):
    net = api.create("network")
    cases = [
        ("POST", "/v2.0/networks", {"network": {"bogus": 1}},
         (400, "HTTPBadRequest", "Unrecognized attribute(s) 'bogus'")),
        ("POST", "/v2.0/networks", {"network": {"status": "DOWN"}},
         (400, "HTTPBadRequest", "Attribute 'status' not allowed in POST")),
        ("PUT", f"/v2.0/networks/{net['id']}", {"network": {"tenant_id": "x"}},
         (400, "HTTPBadRequest", "Cannot update read-only attribute tenant_id")),
        ("POST", "/v2.0/networks", {"net": {}},
         (400, "HTTPBadRequest", "Unable to find 'network' in request body")),
        ("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4,
                                              "cidr": "10.0.0.300/24"}},
         (400, "HTTPBadRequest",
          "Invalid input for cidr. Reason: '10.0.0.300/24' is not a valid IP subnet.")),
        ("POST", "/v2.0/ports", {"port": {"network_id": "nope"}},
         (400, "HTTPBadRequest",
          "Invalid input for network_id. Reason: 'nope' is not a valid UUID.")),
        ("POST", "/v2.0/ports", {"port": {"network_id": net["id"], "mac_address": "xx"}},
         (400, "HTTPBadRequest",
          "Invalid input for mac_address. Reason: 'xx' is not a valid MAC address.")),
        ("POST", "/v2.0/networks", {"network": {"admin_state_up": "maybe"}},
         (400, "InvalidInput",
          "Invalid input for operation: 'maybe' cannot be converted to boolean.")),
        ("POST", "/v2.0/subnets", {"subnet": {"network_id": net["id"], "ip_version": 4}},
         (400, "BadRequest", "Bad subnets request: a subnetpool must be specified in the "
                             "absence of a cidr.")),
    ]
    for method, url, body, expected in cases:
        assert error(api.call(method, url, json=body)) == expected, (url, body)
    for body in ({"port": {"network_id": net["id"], "extra_dhcp_opts": [
            {"opt_name": "tftp-server", "opt_value": "1.2.3.4\ndhcp-range=x"}]}},
            {"port": {"network_id": net["id"], "extra_dhcp_opts": [
                {"opt_name": "bad\nname", "opt_value": "x"}]}}):
        status, type_, message = error(api.call("POST", "/v2.0/ports", json=body))
        assert (status, type_) == (400, "HTTPBadRequest")
        assert message.startswith("Invalid input for extra_dhcp_opts.")


def test_malformed_json(api):
    response = api.call("POST", "/v2.0/networks", content=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert error(response) == (400, "HTTPBadRequest", "Body contains invalid data")


def test_unknown_url_and_method(api):
    assert error(api.call("GET", "/v2.0/routers"))[:2] == (404, "HTTPNotFound")
    assert error(api.call("GET", "/nothing/here"))[:2] == (404, "HTTPNotFound")
    response = api.call("PATCH", "/v2.0/networks")
    assert response.status_code == 405


def test_list_filters_fields_sorting_paging(api):
    ids = {}
    for name in ("c", "a", "b", "e", "d"):
        ids[name] = api.create("network", name=name, admin_state_up=name != "e")["id"]
    listing = api.call("GET", "/v2.0/networks?name=a&name=b").json()["networks"]
    assert sorted(n["name"] for n in listing) == ["a", "b"]
    down = api.call("GET", "/v2.0/networks?admin_state_up=False").json()["networks"]
    assert [n["name"] for n in down] == ["e"]
    assert api.call("GET", "/v2.0/networks?name=a&admin_state_up=false").json() == {
        "networks": []}
    assert api.call("GET", "/v2.0/networks?description=").status_code == 200

    fields = api.call("GET", "/v2.0/networks?fields=id&fields=name").json()["networks"]
    assert all(set(n) == {"id", "name"} for n in fields)
    one = api.call("GET", f"/v2.0/networks/{ids['a']}?fields=name").json()["network"]
    assert one == {"name": "a"}

    desc = api.call("GET", "/v2.0/networks?sort_key=name&sort_dir=desc").json()["networks"]
    assert [n["name"] for n in desc] == ["e", "d", "c", "b", "a"]

    seen, url = [], "/v2.0/networks?limit=2&sort_key=name&sort_dir=asc"
    while url:
        body = api.call("GET", url).json()
        seen += [n["name"] for n in body["networks"]]
        nxt = [link["href"] for link in body.get("networks_links", []) if link["rel"] == "next"]
        url = nxt[0].replace("http://testserver", "") if nxt else None
    assert seen == ["a", "b", "c", "d", "e"]

    back = api.call("GET", f"/v2.0/networks?limit=2&sort_key=name&sort_dir=asc"
                           f"&marker={ids['e']}&page_reverse=True").json()
    assert [n["name"] for n in back["networks"]] == ["c", "d"]
    assert {link["rel"] for link in back["networks_links"]} == {"next", "previous"}


def test_list_errors(api):
    assert error(api.call("GET", "/v2.0/networks?bogus=1")) == (
        400, "HTTPBadRequest", "['bogus'] is invalid attribute for filtering")
    assert error(api.call("GET", "/v2.0/networks?limit=-1")) == (
        400, "BadRequest",
        "Bad limit request: Limit must be an integer 0 or greater and not '-1'.")
    assert error(api.call("GET", "/v2.0/networks?limit=x"))[0] == 400
    assert error(api.call("GET", "/v2.0/networks?sort_key=name"))[0] == 400
    assert error(api.call("GET", "/v2.0/networks?sort_key=bogus&sort_dir=asc"))[0] == 400
    assert error(api.call("GET", "/v2.0/networks?shared=perhaps"))[:2] == (
        400, "InvalidInput")
    marker = "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e"
    assert error(api.call("GET", f"/v2.0/networks?limit=1&marker={marker}"))[:2] == (
        404, "NetworkNotFound")


def test_versions_and_extensions(api, client):
    versions = client.get("/").json()
    assert versions["versions"][0]["id"] == "v2.0"
    assert versions["versions"][0]["status"] == "CURRENT"
    root = client.get("/v2.0").json()
    assert {r["collection"] for r in root["resources"]} >= {"networks", "subnets", "ports",
                                                           "agents"}
    extensions = api.call("GET", "/v2.0/extensions").json()["extensions"]
    aliases = {e["alias"] for e in extensions}
    assert {"agent", "dhcp_agent_scheduler", "availability_zone", "provider", "binding",
            "external-net", "net-mtu", "extra_dhcp_opt", "pagination", "sorting",
            "filter-validation", "project-id", "security-group", "port-security",
            "allowed-address-pairs"} <= aliases
    assert "router" not in aliases
    assert all(set(e) == {"name", "alias", "description", "updated", "links"}
               for e in extensions)
    agent = api.call("GET", "/v2.0/extensions/agent").json()["extension"]
    assert agent["updated"] == "2013-02-03T10:00:00-00:00"
    response = api.call("GET", "/v2.0/extensions/router")
    assert error(response) == (404, "HTTPNotFound",
                               "Extension with alias router does not exist")


def test_openapi_document_derives_from_tables(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert "/v2.0/networks/{id}" in doc["paths"]
    post = doc["paths"]["/v2.0/ports"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]["oneOf"][0]["properties"]["port"]
    assert post["required"] == ["network_id"]
    assert "status" not in post["properties"] and "fixed_ips" in post["properties"]
    assert doc["components"]["schemas"]["network"]["properties"]["mtu"]["readOnly"]


def test_subnet_and_port_updates_and_bulk(api):
    net = api.create("network")
    subnet = api.create("subnet", network_id=net["id"], ip_version=4, cidr="10.4.0.0/24")
    response = api.call("PUT", f"/v2.0/subnets/{subnet['id']}", json={"subnet": {
        "name": "s", "enable_dhcp": False, "dns_nameservers": ["1.1.1.1"]}})
    assert response.status_code == 200
    updated = response.json()["subnet"]
    assert (updated["name"], updated["enable_dhcp"], updated["dns_nameservers"]) == (
        "s", False, ["1.1.1.1"])
    response = api.call("PUT", f"/v2.0/subnets/{subnet['id']}",
                        json={"subnet": {"cidr": "10.5.0.0/24"}})
    assert response.status_code == 400
    response = api.call("POST", "/v2.0/ports", json={"ports": [
        {"network_id": net["id"], "name": "p1"}, {"network_id": net["id"], "name": "p2"}]})
    assert response.status_code == 201
    ports = response.json()["ports"]
    assert [p["name"] for p in ports] == ["p1", "p2"]
    response = api.call("PUT", f"/v2.0/ports/{ports[0]['id']}", json={"port": {
        "name": "renamed", "device_id": "vm-1", "device_owner": "compute:nova",
        "extra_dhcp_opts": [{"opt_name": "tftp-server", "opt_value": "10.4.0.9"}]}})
    assert response.status_code == 200
    port = response.json()["port"]
    assert (port["name"], port["device_id"]) == ("renamed", "vm-1")
    assert port["extra_dhcp_opts"][0]["opt_value"] == "10.4.0.9"
    by_device = api.call("GET", "/v2.0/ports?device_id=vm-1&fields=id").json()["ports"]
    assert by_device == [{"id": ports[0]["id"]}]
    empty_device = api.call("GET", "/v2.0/ports?device_id=").json()["ports"]
    assert [p["id"] for p in empty_device] == [ports[1]["id"]]


def test_a_member_creates_a_network_with_a_minimal_config(sqlite_database, api_settings):
    # Issue 13, item 7: the settings an empty config file gives, no VLAN ranges.
    from starlette.testclient import TestClient

    from neutrino.api.app import create_app
    from neutrino.conf import opts, settings
    from neutrino.core.interfaces import RecordingNotifier
    from neutrino.core.services import build_services

    from .conftest import Api

    core = settings.core_settings(opts.load([], "test"))
    services = build_services(sqlite_database, core, RecordingNotifier())
    with TestClient(create_app(services, api_settings)) as client:
        api = Api(client)
        net = api.create("network", "demo", name="mine")
        shown = api.call("GET", f"/v2.0/networks/{net['id']}").json()["network"]
        assert shown["provider:network_type"] == "local"
        api.create("subnet", "demo", network_id=net["id"], ip_version=4, cidr="10.0.0.0/24")
