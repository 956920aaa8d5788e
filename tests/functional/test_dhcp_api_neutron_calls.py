"""The reads Neutron's own DHCP agent makes besides Neutrino's: get_ports (metadata callback
1.0), get_networks (1.7), get_dhcp_port (1.8), on every database."""

import pytest
from support.core_world import World

from neutrino.lib import exceptions as exc


@pytest.fixture
def world(database):
    return World(database)


def test_get_ports_filters_as_neutrons_dhcp_agent_asks(world):
    net = world.network()
    other = world.network()
    meta = world.port(net["id"], device_owner="network:distributed",
                      device_id=f"ovnmeta-{net['id']}")
    world.port(net["id"], device_owner="network:distributed", device_id="ovnmeta-x")
    world.port(other["id"], device_owner="network:distributed",
               device_id=f"ovnmeta-{net['id']}")
    plugin = world.core.dhcp_plugin
    found = plugin.get_ports({"device_owner": ["network:distributed"],
                              "device_id": [f"ovnmeta-{net['id']}"],
                              "network_id": [net["id"]]})
    assert [p["id"] for p in found] == [meta["id"]]
    assert found[0]["fixed_ips"] == meta["fixed_ips"]
    # No metadata port (Neutrino has none): an empty list, which the agent expects.
    assert plugin.get_ports({"device_owner": ["network:distributed"],
                             "device_id": ["ovnmeta-none"]}) == []


def test_get_ports_sees_every_project(world):
    net = world.network()
    port = world.port(net["id"], project_id="someone-else")
    assert [p["id"] for p in world.core.dhcp_plugin.get_ports({"network_id": [net["id"]]})
            ] == [port["id"]]


@pytest.mark.parametrize("filters", ["network_id", ["network_id"], {"network_id": "n1"},
                                     {1: ["x"]}])
def test_malformed_filters_are_invalid_input(world, filters):
    with pytest.raises(exc.InvalidInput):
        world.core.dhcp_plugin.get_ports(filters)


def test_get_networks_with_filters_and_fields(world):
    first = world.network(name="a")
    world.network(name="b")
    plugin = world.core.dhcp_plugin
    assert [n["id"] for n in plugin.get_networks({"id": [first["id"]]})] == [first["id"]]
    full = plugin.get_networks({"id": [first["id"]]})[0]
    assert full == world.core.networks.get(world.admin, first["id"])
    assert plugin.get_networks({"name": ["a"]}, ["id", "subnets"]) == [
        {"id": first["id"], "subnets": first["subnets"]}]
    assert len(plugin.get_networks()) == 2
    with pytest.raises(exc.InvalidInput):
        plugin.get_networks(None, "id")


def test_get_dhcp_port(world):
    net = world.network()
    port = world.port(net["id"], device_owner="network:dhcp")
    plugin = world.core.dhcp_plugin
    assert plugin.get_dhcp_port(port["id"]) == world.core.ports.get(world.admin, port["id"])
    with pytest.raises(exc.PortNotFound):
        plugin.get_dhcp_port("00000000-0000-0000-0000-000000000000")
