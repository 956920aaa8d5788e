"""Bulk creates through Core: scheduling, blocks and casts for every item (SQLite)."""

import pytest
from support.core_world import World

from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib.naming import tap_name


@pytest.fixture
def world(sqlite_database):
    return World(sqlite_database)


def test_bulk_subnets_schedule_each_network(world):
    world.dhcp_agent("hostA")
    n1 = world.network(dhcp=None)
    n2 = world.network(dhcp=None)
    subnets = world.core.subnets.create_bulk(world.admin, [
        {"network_id": n1["id"], "ip_version": 4, "cidr": "10.9.1.0/24", "project_id": "proj"},
        {"network_id": n2["id"], "ip_version": 4, "cidr": "10.9.2.0/24", "project_id": "proj",
         "enable_dhcp": False},
    ])
    assert world.hosting(n1["id"]) == ["hostA"]
    assert world.hosting(n2["id"]) == []
    assert world.casts() == [
        ("hostA", const.NETWORK_CREATE_END, {"network": {"id": n1["id"]}}),
        ("hostA", const.SUBNET_CREATE_END, {"subnet": subnets[0]}),
    ]


def test_bulk_ports_get_blocks_and_casts(world):
    world.dhcp_agent("hostA")
    net = world.network()
    world.forget_casts()
    ports = world.core.ports.create_bulk(world.admin, [
        {"network_id": net["id"], "project_id": "proj", "binding:host_id": "hostA"},
        {"network_id": net["id"], "project_id": "proj"},
    ])
    assert [p["status"] for p in ports] == ["DOWN", "DOWN"]
    assert world.casts() == [("hostA", const.PORT_CREATE_END, {"port": p}) for p in ports]
    world.core.l2_plugin.update_device_up("hostA", tap_name(ports[0]["id"]))
    world.core.dhcp_plugin.dhcp_ready_on_ports([p["id"] for p in ports])
    statuses = [world.core.ports.get(world.admin, p["id"])["status"] for p in ports]
    assert statuses == ["ACTIVE", "DOWN"]


def test_bulk_is_all_or_nothing(world):
    world.dhcp_agent("hostA")
    net = world.network()
    world.forget_casts()
    with pytest.raises(exc.NetworkNotFound):
        world.core.ports.create_bulk(world.admin, [
            {"network_id": net["id"], "project_id": "proj"},
            {"network_id": "nope", "project_id": "proj"},
        ])
    assert world.core.ports.list(world.admin, {"network_id": [net["id"]]}) == []
    assert world.casts() == []


def test_dhcp_port_request_without_network(world):
    with pytest.raises(exc.InvalidInput):
        world.core.dhcp_plugin.create_dhcp_port("hostA", {"port": {"fixed_ips": []}})
