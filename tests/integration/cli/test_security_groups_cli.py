"""Security groups through the real `openstack` client (python-openstackclient,
openstacksdk) and the `neutrino` CLI against a real server process: groups, rules, a
port's groups and allowed address pairs. What each command did is checked by reading the
API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import NeutrinoServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeutrinoServer]:
    # No agents needed here: the in-memory transport keeps this off RabbitMQ.
    workdir: Path = tmp_path_factory.mktemp("sg_server")
    with NeutrinoServer(workdir, transport_url="fake://") as srv:
        yield srv


def as_json(run, *args: str):
    return json.loads(run(*args, "-f", "json").out)


def test_openstack_security_group_commands(openstack, api):
    group = as_json(openstack, "security", "group", "create", "--description", "web tier",
                    "web")
    assert group["name"] == "web" and group["description"] == "web tier"
    listed = {g["Name"]: g for g in as_json(openstack, "security", "group", "list")}
    # The project's default group came with its first use.
    assert set(listed) == {"default", "web"}
    shown = as_json(openstack, "security", "group", "show", "web")
    assert shown["id"] == group["id"]

    rule = as_json(openstack, "security", "group", "rule", "create", "--protocol", "tcp",
                   "--dst-port", "22:23", "--remote-ip", "10.0.0.0/8", "web")
    stored = api.get(f"/security-group-rules/{rule['id']}")["security_group_rule"]
    assert (stored["direction"], stored["ethertype"], stored["protocol"]) == (
        "ingress", "IPv4", "tcp")
    assert (stored["port_range_min"], stored["port_range_max"]) == (22, 23)
    assert stored["remote_ip_prefix"] == "10.0.0.0/8"
    icmp = as_json(openstack, "security", "group", "rule", "create", "--protocol", "icmp",
                   "--icmp-type", "8", "--remote-group", "default", "web")
    stored = api.get(f"/security-group-rules/{icmp['id']}")["security_group_rule"]
    assert stored["remote_group_id"] == listed["default"]["ID"]
    assert stored["port_range_min"] == 8
    rules = as_json(openstack, "security", "group", "rule", "list", "web")
    assert {rule["id"], icmp["id"]} <= {r["ID"] for r in rules}

    # Neutron's errors come through the client: a duplicate rule is refused.
    again = openstack("security", "group", "rule", "create", "--protocol", "tcp",
                      "--dst-port", "22:23", "--remote-ip", "10.0.0.0/8", "web", ok=False)
    assert again.code != 0 and "already exists" in again.err

    openstack("security", "group", "rule", "delete", rule["id"])
    status, _ = api.call("GET", f"/security-group-rules/{rule['id']}")
    assert status == 404

    openstack("network", "create", "sgnet")
    openstack("subnet", "create", "--network", "sgnet", "--subnet-range", "10.66.0.0/24",
              "sgsub")
    port = as_json(openstack, "port", "create", "--network", "sgnet", "--security-group",
                   "web", "sgport")
    assert api.get(f"/ports/{port['id']}")["port"]["security_groups"] == [group["id"]]
    openstack("port", "set", "--allowed-address", "ip-address=10.66.0.200", "sgport")
    openstack("port", "set", "--allowed-address",
              "ip-address=10.67.0.0/24,mac-address=fa:16:3e:00:00:09", "sgport")
    shown_port = api.get(f"/ports/{port['id']}")["port"]
    assert shown_port["allowed_address_pairs"] == [
        {"ip_address": "10.66.0.200", "mac_address": shown_port["mac_address"]},
        {"ip_address": "10.67.0.0/24", "mac_address": "fa:16:3e:00:00:09"}]

    in_use = openstack("security", "group", "delete", "web", ok=False)
    assert in_use.code != 0 and "in use" in in_use.err
    # OSC removes a pair only when both its fields match (as with Neutron's pairs).
    openstack("port", "unset", "--allowed-address",
              f"ip-address=10.66.0.200,mac-address={shown_port['mac_address']}", "sgport")
    assert len(api.get(f"/ports/{port['id']}")["port"]["allowed_address_pairs"]) == 1
    refused = openstack("port", "set", "--disable-port-security", "sgport", ok=False)
    assert refused.code != 0 and "Port has security group associated" in refused.err
    openstack("port", "set", "--no-allowed-address", "sgport")
    openstack("port", "set", "--no-security-group", "--disable-port-security", "sgport")
    shown_port = api.get(f"/ports/{port['id']}")["port"]
    assert shown_port["port_security_enabled"] is False
    assert shown_port["security_groups"] == [] and shown_port["allowed_address_pairs"] == []
    openstack("port", "delete", "sgport")
    openstack("security", "group", "delete", "web")
    status, _ = api.call("GET", f"/security-groups/{group['id']}")
    assert status == 404


def test_neutrino_security_group_commands(neutrino, api):
    group = as_json(neutrino, "security-group-create", "--description", "db tier", "db")
    assert group["name"] == "db"
    assert "db" in neutrino("security-group-list").out
    assert as_json(neutrino, "security-group-show", "db")["id"] == group["id"]
    rule = as_json(neutrino, "security-group-rule-create", "--protocol", "tcp",
                   "--port-range-min", "5432", "--port-range-max", "5432",
                   "--remote-group-id", "db", "db")
    stored = api.get(f"/security-group-rules/{rule['id']}")["security_group_rule"]
    assert (stored["protocol"], stored["port_range_min"], stored["remote_group_id"]) == (
        "tcp", 5432, group["id"])
    listed = as_json(neutrino, "security-group-rule-list", "--security-group", "db")
    assert rule["id"] in {r["id"] for r in listed}
    bad = neutrino("security-group-rule-create", "--protocol", "tcp", "--port-range-min",
                   "90", "--port-range-max", "80", "db", ok=False)
    assert bad.code != 0 and "port_range_min must be <= port_range_max" in bad.err
    neutrino("security-group-rule-delete", rule["id"])
    neutrino("net-create", "dbnet")
    neutrino("subnet-create", "dbnet", "10.68.0.0/24")
    port = as_json(neutrino, "port-create", "--security-group", "db",
                   "--allowed-address-pair", "ip_address=10.68.0.99", "dbnet")
    created = api.get(f"/ports/{port['id']}")["port"]
    assert created["security_groups"] == [group["id"]]
    assert [p["ip_address"] for p in created["allowed_address_pairs"]] == ["10.68.0.99"]
    neutrino("port-update", "--no-security-groups", "--no-allowed-address-pairs",
             port["id"])
    shown = api.get(f"/ports/{port['id']}")["port"]
    assert shown["security_groups"] == [] and shown["allowed_address_pairs"] == []
    neutrino("security-group-delete", "db")
    status, _ = api.call("GET", f"/security-groups/{group['id']}")
    assert status == 404
