"""security-group, port-security and allowed-address-pairs through the HTTP API, on the real
services (SQLite): Neutron's defaults, errors and status codes, and the agents' casts."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.lib import constants as c

SG_URL, RULE_URL = "/v2.0/security-groups", "/v2.0/security-group-rules"


def error(response: Any, status: int, type_: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()["NeutronError"]
    assert body["type"] == type_, body
    return str(body["message"])


def groups(api: Any, who: str, **params: Any) -> list[dict[str, Any]]:
    response = api.call("GET", SG_URL, who, params=params)
    assert response.status_code == 200, response.text
    return list(response.json()["security_groups"])


def create_group(api: Any, who: str = "demo", **attrs: Any) -> dict[str, Any]:
    response = api.call("POST", SG_URL, who, json={"security_group": {"name": "web", **attrs}})
    assert response.status_code == 201, response.text
    return dict(response.json()["security_group"])


def create_rule(api: Any, who: str = "demo", **attrs: Any) -> Any:
    return api.call("POST", RULE_URL, who, json={"security_group_rule": attrs})


def network_with_subnet(api: Any, who: str = "demo", **net: Any) -> dict[str, Any]:
    network = api.create("network", who, name="n", **net)
    api.create("subnet", who, network_id=network["id"], cidr="10.0.0.0/24", ip_version=4)
    return network


def test_first_list_creates_the_projects_default_group_with_neutrons_rules(api: Any) -> None:
    found = groups(api, "demo")
    assert [g["name"] for g in found] == ["default"]
    default = found[0]
    assert default["stateful"] is True
    assert default["project_id"] == api.create("network", "demo")["project_id"]
    rules = {(r["direction"], r["ethertype"], r["remote_group_id"], r["protocol"],
              r["remote_ip_prefix"]) for r in default["security_group_rules"]}
    assert rules == {("egress", "IPv4", None, None, None), ("egress", "IPv6", None, None, None),
                     ("ingress", "IPv4", default["id"], None, None),
                     ("ingress", "IPv6", default["id"], None, None)}
    # Once per project: listed again, by another project, the same one.
    assert [g["id"] for g in groups(api, "demo")] == [default["id"]]
    assert [g["name"] for g in groups(api, "alt")] == ["default"]
    assert groups(api, "alt")[0]["id"] != default["id"]


def test_new_group_has_egress_rules_and_shows_every_attribute(api: Any) -> None:
    group = create_group(api, description="web servers", stateful=False)
    assert group["name"] == "web" and group["description"] == "web servers"
    assert group["stateful"] is False and group["tenant_id"] == group["project_id"]
    assert group["revision_number"] == 1 and group["created_at"].endswith("Z")
    assert sorted((r["direction"], r["ethertype"]) for r in group["security_group_rules"]) \
        == [("egress", "IPv4"), ("egress", "IPv6")]
    # The project's default was made on the way.
    assert sorted(g["name"] for g in groups(api, "demo")) == ["default", "web"]


def test_group_named_default_is_refused(api: Any) -> None:
    response = api.call("POST", SG_URL, "demo", json={"security_group": {"name": "Default"}})
    error(response, 409, "SecurityGroupDefaultAlreadyExists")


def test_default_group_cannot_be_renamed_nor_deleted_by_its_project(api: Any) -> None:
    default = groups(api, "demo")[0]
    response = api.call("PUT", f"{SG_URL}/{default['id']}", "demo",
                        json={"security_group": {"name": "x"}})
    error(response, 409, "SecurityGroupCannotUpdateDefault")
    response = api.call("DELETE", f"{SG_URL}/{default['id']}", "demo")
    error(response, 409, "SecurityGroupCannotRemoveDefault")
    # An admin may.
    assert api.call("DELETE", f"{SG_URL}/{default['id']}", "admin").status_code == 204


def test_other_projects_groups_are_not_found(api: Any) -> None:
    group = create_group(api)
    error(api.call("GET", f"{SG_URL}/{group['id']}", "alt"), 404, "SecurityGroupNotFound")
    error(api.call("DELETE", f"{SG_URL}/{group['id']}", "alt"), 404, "SecurityGroupNotFound")
    error(create_rule(api, "alt", security_group_id=group["id"], direction="ingress"), 404,
          "SecurityGroupNotFound")
    assert api.call("GET", f"{SG_URL}/{group['id']}", "admin").status_code == 200


def test_rule_create_shows_and_normalises(api: Any, notifier: RecordingNotifier) -> None:
    group = create_group(api)
    response = create_rule(api, security_group_id=group["id"], direction="ingress",
                           protocol="TCP", port_range_min=22, port_range_max=22,
                           ethertype="ipv4", remote_ip_prefix="10.1.2.3/16")
    assert response.status_code == 201, response.text
    rule = response.json()["security_group_rule"]
    assert rule["protocol"] == "tcp" and rule["ethertype"] == "IPv4"
    assert rule["remote_ip_prefix"] == "10.1.0.0/16" and rule["remote_group_id"] is None
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    assert rule["project_id"] == group["project_id"]
    assert rule["security_group_id"] == group["id"]
    assert notifier.fanouts[-1] == (c.TOPIC_SECURITY_GROUP_UPDATE,
                                    c.SECURITY_GROUPS_RULE_UPDATED,
                                    {"security_groups": [group["id"]]})
    shown = api.call("GET", f"{SG_URL}/{group['id']}", "demo").json()["security_group"]
    assert rule["id"] in {r["id"] for r in shown["security_group_rules"]}
    listed = api.call("GET", RULE_URL, "demo", params={"security_group_id": group["id"],
                                                        "protocol": "tcp"}).json()
    assert [r["id"] for r in listed["security_group_rules"]] == [rule["id"]]
    assert api.call("DELETE", f"{RULE_URL}/{rule['id']}", "demo").status_code == 204
    assert notifier.fanouts[-1][1] == c.SECURITY_GROUPS_RULE_UPDATED
    error(api.call("GET", f"{RULE_URL}/{rule['id']}", "demo"), 404,
          "SecurityGroupRuleNotFound")


@pytest.mark.parametrize(("attrs", "status", "type_"), [
    ({"protocol": "tcp", "port_range_min": 90, "port_range_max": 80}, 400,
     "SecurityGroupInvalidPortRange"),
    ({"protocol": "tcp", "port_range_min": 80}, 400, "SecurityGroupInvalidPortRange"),
    ({"protocol": "udp", "port_range_min": 0, "port_range_max": 10}, 400,
     "SecurityGroupInvalidPortValue"),
    ({"protocol": "tcp", "port_range_min": 70000, "port_range_max": 70000}, 400,
     "SecurityGroupInvalidPortValue"),
    ({"port_range_min": 80, "port_range_max": 80}, 400,
     "SecurityGroupProtocolRequiredWithPorts"),
    ({"protocol": "gre", "port_range_min": 80, "port_range_max": 80}, 400,
     "SecurityGroupInvalidProtocolForPort"),
    ({"protocol": "icmp", "port_range_min": 300}, 400, "SecurityGroupInvalidIcmpValue"),
    ({"protocol": "icmp", "port_range_max": 0}, 400, "SecurityGroupMissingIcmpType"),
    ({"protocol": "bogus"}, 400, "SecurityGroupRuleInvalidProtocol"),
    ({"protocol": 256}, 400, "SecurityGroupRuleInvalidProtocol"),
    ({"ethertype": "IPv5"}, 400, "SecurityGroupRuleInvalidEtherType"),
    ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}, 400,
     "SecurityGroupRuleParameterConflict"),
    ({"remote_ip_prefix": "not-a-cidr"}, 400, "InvalidCIDR"),
    ({"protocol": "ipv6-icmp", "ethertype": "IPv4"}, 400,
     "SecurityGroupEthertypeConflictWithProtocol"),
    ({"direction": "sideways"}, 400, "HTTPBadRequest"),
])
def test_bad_rules_get_neutrons_errors(api: Any, attrs: dict[str, Any], status: int,
                                       type_: str) -> None:
    group = create_group(api)
    body = {"security_group_id": group["id"], "direction": "ingress", **attrs}
    error(create_rule(api, **body), status, type_)
    shown = api.call("GET", f"{SG_URL}/{group['id']}", "demo").json()["security_group"]
    assert len(shown["security_group_rules"]) == 2  # nothing half-written


def test_remote_group_and_prefix_are_exclusive_and_remote_must_exist(api: Any) -> None:
    group = create_group(api)
    error(create_rule(api, security_group_id=group["id"], direction="ingress",
                      remote_group_id=group["id"], remote_ip_prefix="10.0.0.0/8"),
          400, "SecurityGroupMultipleRemoteEntites")
    other = create_group(api, "alt")
    error(create_rule(api, security_group_id=group["id"], direction="ingress",
                      remote_group_id=other["id"]), 404, "SecurityGroupNotFound")


def test_protocols_by_number_and_neutrons_names(api: Any) -> None:
    group = create_group(api)
    for protocol, shown in (("6", "6"), (17, "17"), ("icmp", "icmp"), ("any", None),
                            ("sctp", "sctp"), ("112", "112")):
        response = create_rule(api, security_group_id=group["id"], direction="ingress",
                               protocol=protocol, remote_ip_prefix="192.168.0.0/24")
        assert response.status_code == 201, (protocol, response.text)
        assert response.json()["security_group_rule"]["protocol"] == shown
    # IPv6 ICMP under any of its names is stored as Neutron's canonical ipv6-icmp.
    response = create_rule(api, security_group_id=group["id"], direction="ingress",
                           protocol="icmpv6", ethertype="IPv6")
    assert response.json()["security_group_rule"]["protocol"] == "ipv6-icmp"


def test_duplicate_rules_conflict(api: Any) -> None:
    group = create_group(api)
    body = {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": 80, "port_range_max": 80}
    first = create_rule(api, **body).json()["security_group_rule"]
    # "6" is tcp, and 0.0.0.0/0 is any address: still the same rule.
    message = error(create_rule(api, **{**body, "protocol": "6",
                                        "remote_ip_prefix": "0.0.0.0/0"}),
                    409, "SecurityGroupRuleExists")
    assert first["id"] in message
    # The egress rules every group starts with count too.
    error(create_rule(api, security_group_id=group["id"], direction="egress"), 409,
          "SecurityGroupRuleExists")
    response = api.call("POST", RULE_URL, "demo", json={"security_group_rules": [
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "udp"},
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "17"}]})
    error(response, 409, "DuplicateSecurityGroupRuleInPost")


def test_bulk_rules_of_one_group(api: Any) -> None:
    group, other = create_group(api), create_group(api, name="db")
    response = api.call("POST", RULE_URL, "demo", json={"security_group_rules": [
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "udp"},
        {"security_group_id": other["id"], "direction": "ingress", "protocol": "udp"}]})
    error(response, 400, "SecurityGroupNotSingleGroupRules")
    response = api.call("POST", RULE_URL, "demo", json={"security_group_rules": [
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "udp"},
        {"security_group_id": group["id"], "direction": "ingress", "protocol": "tcp"}]})
    assert response.status_code == 201, response.text
    assert len(response.json()["security_group_rules"]) == 2


def test_ports_get_the_default_group_or_the_groups_asked_for(api: Any,
                                                             notifier: RecordingNotifier
                                                             ) -> None:
    network = network_with_subnet(api)
    port = api.create("port", "demo", network_id=network["id"])
    default = [g for g in groups(api, "demo") if g["name"] == "default"][0]
    assert port["security_groups"] == [default["id"]]
    assert port["port_security_enabled"] is True and port["allowed_address_pairs"] == []
    assert (c.TOPIC_SECURITY_GROUP_UPDATE, c.SECURITY_GROUPS_MEMBER_UPDATED,
            {"security_groups": [default["id"]]}) in notifier.fanouts
    web = create_group(api)
    bare = api.create("port", "demo", network_id=network["id"], security_groups=[])
    assert bare["security_groups"] == []
    both = api.create("port", "demo", network_id=network["id"],
                      security_groups=[web["id"], default["id"]])
    assert both["security_groups"] == sorted([web["id"], default["id"]])
    # Filter ports by group.
    listed = api.call("GET", "/v2.0/ports", "demo",
                      params={"security_groups": web["id"]}).json()["ports"]
    assert [p["id"] for p in listed] == [both["id"]]
    # A group in use cannot go.
    error(api.call("DELETE", f"{SG_URL}/{web['id']}", "demo"), 409, "SecurityGroupInUse")
    notifier.fanouts.clear()
    response = api.call("PUT", f"/v2.0/ports/{both['id']}", "demo",
                        json={"port": {"security_groups": [default["id"]]}})
    assert response.json()["port"]["security_groups"] == [default["id"]]
    assert (c.TOPIC_SECURITY_GROUP_UPDATE, c.SECURITY_GROUPS_MEMBER_UPDATED,
            {"security_groups": [web["id"]]}) in notifier.fanouts
    assert notifier.fanouts[-1][:2] == (c.TOPIC_PORT_UPDATE, c.PORT_UPDATE)
    assert notifier.fanouts[-1][2]["port"]["id"] == both["id"]
    assert api.call("DELETE", f"{SG_URL}/{web['id']}", "demo").status_code == 204


def test_stateful_changes_only_while_no_port_uses_the_group(
        api: Any, notifier: RecordingNotifier) -> None:
    network = network_with_subnet(api)
    web = create_group(api)
    url = f"{SG_URL}/{web['id']}"
    port = api.create("port", "demo", network_id=network["id"], security_groups=[web["id"]])
    notifier.fanouts.clear()
    message = error(api.call("PUT", url, "demo", json={"security_group": {
        "stateful": False, "description": "half"}}), 409, "SecurityGroupInUse")
    assert message == f"Security Group {web['id']} in use."
    shown = api.call("GET", url, "demo").json()["security_group"]
    assert (shown["stateful"], shown["description"], shown["revision_number"]) == (
        True, "", web["revision_number"])
    assert notifier.fanouts == []
    # Saying what it already is, or changing anything else, is fine while in use.
    response = api.call("PUT", url, "demo", json={"security_group": {
        "stateful": True, "description": "web servers"}})
    assert response.status_code == 200, response.text
    api.call("PUT", f"/v2.0/ports/{port['id']}", "demo",
             json={"port": {"security_groups": []}})
    response = api.call("PUT", url, "demo", json={"security_group": {"stateful": False}})
    assert response.status_code == 200, response.text
    assert response.json()["security_group"]["stateful"] is False


def test_a_port_may_only_use_its_projects_groups(api: Any) -> None:
    network = network_with_subnet(api, shared=True, who="admin")
    alien = create_group(api, "alt")
    response = api.call("POST", "/v2.0/ports", "demo", json={"port": {
        "network_id": network["id"], "security_groups": [alien["id"]]}})
    assert alien["id"] in error(response, 404, "SecurityGroupNotFound")
    error(api.call("POST", "/v2.0/ports", "demo", json={"port": {
        "network_id": network["id"], "security_groups": ["not-a-uuid"]}}), 400,
        "HTTPBadRequest")


def test_dhcp_ports_get_no_default_group(api: Any) -> None:
    network = network_with_subnet(api, who="admin")
    port = api.create("port", "admin", network_id=network["id"],
                      device_owner=c.DEVICE_OWNER_DHCP)
    assert port["security_groups"] == []


def test_port_security_defaults_from_the_network_and_excludes_groups(api: Any) -> None:
    network = network_with_subnet(api, port_security_enabled=False)
    assert network["port_security_enabled"] is False
    port = api.create("port", "demo", network_id=network["id"])
    assert port["port_security_enabled"] is False and port["security_groups"] == []
    web = create_group(api)
    response = api.call("POST", "/v2.0/ports", "demo", json={"port": {
        "network_id": network["id"], "security_groups": [web["id"]]}})
    error(response, 400, "PortSecurityAndIPRequiredForSecurityGroups")
    response = api.call("POST", "/v2.0/ports", "demo", json={"port": {
        "network_id": network["id"], "allowed_address_pairs": [{"ip_address": "10.0.0.9"}]}})
    error(response, 409, "AddressPairAndPortSecurityRequired")
    # Enabled on the port, it gets its project's default group.
    secured = api.create("port", "demo", network_id=network["id"],
                         port_security_enabled=True)
    assert len(secured["security_groups"]) == 1


def test_disabling_port_security_needs_the_groups_removed(api: Any,
                                                          notifier: RecordingNotifier) -> None:
    network = network_with_subnet(api)
    port = api.create("port", "demo", network_id=network["id"])
    url = f"/v2.0/ports/{port['id']}"
    response = api.call("PUT", url, "demo", json={"port": {"port_security_enabled": False}})
    error(response, 409, "PortSecurityPortHasSecurityGroup")
    notifier.fanouts.clear()
    response = api.call("PUT", url, "demo", json={"port": {"port_security_enabled": False,
                                                           "security_groups": []}})
    assert response.status_code == 200, response.text
    shown = response.json()["port"]
    assert shown["port_security_enabled"] is False and shown["security_groups"] == []
    assert (c.TOPIC_PORT_UPDATE, c.PORT_UPDATE) in [f[:2] for f in notifier.fanouts]
    response = api.call("PUT", url, "demo", json={"port": {
        "allowed_address_pairs": [{"ip_address": "10.0.0.50"}]}})
    error(response, 409, "AddressPairAndPortSecurityRequired")


def test_allowed_address_pairs(api: Any, notifier: RecordingNotifier) -> None:
    network = network_with_subnet(api)
    port = api.create("port", "demo", network_id=network["id"], allowed_address_pairs=[
        {"ip_address": "10.0.0.0/28"},
        {"ip_address": "10.0.0.99", "mac_address": "FA:16:3E:00:00:01"}])
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.0/28", "mac_address": port["mac_address"]},
        {"ip_address": "10.0.0.99", "mac_address": "fa:16:3e:00:00:01"}]
    url = f"/v2.0/ports/{port['id']}"
    notifier.fanouts.clear()
    response = api.call("PUT", url, "demo", json={"port": {"allowed_address_pairs": []}})
    assert response.json()["port"]["allowed_address_pairs"] == []
    assert [f[1] for f in notifier.fanouts] == [c.SECURITY_GROUPS_MEMBER_UPDATED,
                                                c.PORT_UPDATE]


@pytest.mark.parametrize(("pairs", "status", "type_"), [
    ([{"mac_address": "fa:16:3e:00:00:01"}], 400, "AllowedAddressPairsMissingIP"),
    ([{"ip_address": "10.0.0.9"}, {"ip_address": "10.0.0.9"}], 400,
     "DuplicateAddressPairInRequest"),
    ([{"ip_address": "10.0.0.9", "color": "red"}], 400, "HTTPBadRequest"),
    ([{"ip_address": "10.0.0.5/24"}], 400, "HTTPBadRequest"),
    ([{"ip_address": "nope"}], 400, "HTTPBadRequest"),
    ([{"ip_address": "10.0.0.9", "mac_address": "zz"}], 400, "HTTPBadRequest"),
    ([{"ip_address": f"10.0.1.{i}"} for i in range(11)], 400, "AllowedAddressPairExhausted"),
    ("10.0.0.9", 400, "HTTPBadRequest"),
])
def test_bad_address_pairs(api: Any, pairs: Any, status: int, type_: str) -> None:
    network = network_with_subnet(api)
    response = api.call("POST", "/v2.0/ports", "demo", json={"port": {
        "network_id": network["id"], "allowed_address_pairs": pairs}})
    error(response, status, type_)
    assert api.call("GET", "/v2.0/ports", "demo").json()["ports"] == []


def test_the_pair_limit_is_the_operators_max_allowed_address_pair(
        sqlite_database: Any, notifier: RecordingNotifier, api_settings: ApiSettings,
        make_api: Any) -> None:
    core = build_services(sqlite_database, CoreSettings(max_allowed_address_pair=2), notifier)
    with TestClient(create_app(core, api_settings)) as client:
        api = make_api(client)
        network = network_with_subnet(api)
        pairs = [{"ip_address": f"10.0.1.{i}"} for i in range(3)]
        message = error(api.call("POST", "/v2.0/ports", "demo", json={"port": {
            "network_id": network["id"], "allowed_address_pairs": pairs}}), 400,
            "AllowedAddressPairExhausted")
        assert message == "The number of allowed address pair exceeds the maximum 2."
        assert api.call("GET", "/v2.0/ports", "demo").json()["ports"] == []
        port = api.create("port", "demo", network_id=network["id"],
                          allowed_address_pairs=pairs[:2])
        url = f"/v2.0/ports/{port['id']}"
        error(api.call("PUT", url, "demo", json={"port": {
            "allowed_address_pairs": pairs, "name": "renamed"}}), 400,
            "AllowedAddressPairExhausted")
        shown = api.call("GET", url, "demo").json()["port"]
        assert (shown["name"], len(shown["allowed_address_pairs"])) == ("", 2)


def test_quotas_count_groups_and_rules(api: Any) -> None:
    project = groups(api, "demo")[0]["project_id"]
    details = api.call("GET", f"/v2.0/quotas/{project}/details", "admin").json()["quota"]
    assert details["security_group"] == {"limit": 10, "used": 1, "reserved": 0}
    assert details["security_group_rule"] == {"limit": 100, "used": 4, "reserved": 0}
    response = api.call("PUT", f"/v2.0/quotas/{project}", "admin",
                        json={"quota": {"security_group": 2, "security_group_rule": 7}})
    assert response.status_code == 200, response.text
    create_group(api)  # with the default: 2 groups, 6 rules
    error(api.call("POST", SG_URL, "demo", json={"security_group": {"name": "x"}}), 409,
          "OverQuota")
    group = groups(api, "demo", name="web")[0]
    assert create_rule(api, security_group_id=group["id"], direction="ingress",
                       protocol="tcp").status_code == 201
    error(create_rule(api, security_group_id=group["id"], direction="ingress",
                      protocol="udp"), 409, "OverQuota")


def test_extensions_are_listed(api: Any) -> None:
    aliases = {e["alias"] for e in api.call("GET", "/v2.0/extensions").json()["extensions"]}
    assert {"security-group", "port-security", "allowed-address-pairs"} <= aliases


def test_listing_makes_default_groups_only_for_real_projects_the_caller_may_name(api: Any
                                                                                ) -> None:
    # An admin naming a project gives it its default group (as Neutron); a member naming
    # another project does not, and no filter value becomes a project that cannot exist.
    assert [g["name"] for g in groups(api, "admin", project_id="p-new")] == ["default"]
    assert groups(api, "demo", project_id="p-other") == []
    assert groups(api, "admin", project_id="bad\x1eproject") == []
    projects = {g["project_id"] for g in groups(api, "admin")}
    assert "p-new" in projects and "p-other" not in projects
    assert not any("\x1e" in p for p in projects)
