"""Automatic and manual DHCP scheduling through Core (SQLite)."""

import pytest
from sqlalchemy import select
from support.core_world import World

from neutrino.db.models import Port, ProvisioningBlock
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib.naming import dhcp_device_id


@pytest.fixture
def world(sqlite_database):
    return World(sqlite_database)


def test_network_create_does_not_schedule(world):
    world.dhcp_agent("hostA")
    net = world.network(dhcp=None)
    assert world.hosting(net["id"]) == []
    assert world.casts() == []


def test_first_dhcp_subnet_schedules_and_casts(world):
    world.dhcp_agent("hostA")
    net = world.network(dhcp=None)
    subnet = world.subnet(net["id"])
    assert world.hosting(net["id"]) == ["hostA"]
    assert world.casts() == [
        ("hostA", const.NETWORK_CREATE_END, {"network": {"id": net["id"]}}),
        ("hostA", const.SUBNET_CREATE_END, {"subnet": subnet}),
    ]
    assert world.core.networks.get(world.admin, net["id"])["availability_zones"] == ["nova"]


def test_subnet_without_dhcp_does_not_schedule_until_enabled(world):
    world.dhcp_agent("hostA")
    net = world.network(dhcp=False)
    assert world.hosting(net["id"]) == []
    subnet_id = net["subnets"][0]
    world.core.subnets.update(world.admin, subnet_id, {"enable_dhcp": True})
    assert world.hosting(net["id"]) == ["hostA"]
    assert world.cast_hosts(const.NETWORK_CREATE_END) == ["hostA"]
    assert world.cast_hosts(const.SUBNET_UPDATE_END) == ["hostA"]


def test_agents_per_network(sqlite_database):
    world = World(sqlite_database, dhcp_agents_per_network=2)
    for host in ("hostA", "hostB", "hostC"):
        world.dhcp_agent(host)
    net = world.network()
    assert len(world.hosting(net["id"])) == 2
    world.subnet(net["id"])  # a second DHCP subnet adds no agent
    assert len(world.hosting(net["id"])) == 2


def test_never_dead_or_admin_down_agents(world):
    world.dhcp_agent("dead")
    world.clock.advance(11)
    down = world.dhcp_agent("down")
    world.core.agents.update(world.admin, down["id"], {"admin_state_up": False})
    net = world.network()
    assert world.hosting(net["id"]) == []
    world.dhcp_agent("fine")
    net2 = world.network()
    assert world.hosting(net2["id"]) == ["fine"]


def test_weight_prefers_agent_with_fewest_networks(sqlite_database):
    world = World(sqlite_database, network_scheduler="weight")
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    hosts = [world.hosting(world.network()["id"])[0] for _ in range(6)]
    # Loads are counted fresh from the bindings, so the networks alternate.
    assert hosts.count("hostA") == 3 and hosts.count("hostB") == 3


def test_az_hints(sqlite_database):
    world = World(sqlite_database, network_scheduler="az", dhcp_agents_per_network=2)
    world.dhcp_agent("a1", zone="az1")
    world.dhcp_agent("a2", zone="az1")
    world.dhcp_agent("b1", zone="az2")
    net = world.network()
    assert sorted(a["availability_zone"] for a in world.core.dhcp_scheduling.agents_hosting_network(
        world.admin, net["id"])) == ["az1", "az2"]
    hinted = world.network(availability_zone_hints=["az2"])
    assert world.hosting(hinted["id"]) == ["b1"]
    assert world.core.networks.get(world.admin, hinted["id"])["availability_zones"] == ["az2"]


def test_default_availability_zones(sqlite_database):
    world = World(sqlite_database, default_availability_zones=("az2",))
    world.dhcp_agent("a1", zone="az1")
    world.dhcp_agent("b1", zone="az2")
    for _ in range(3):
        assert world.hosting(world.network()["id"]) == ["b1"]


def test_auto_schedule_off(sqlite_database):
    world = World(sqlite_database, network_auto_schedule=False)
    world.dhcp_agent("hostA")
    net = world.network()
    world.port(net["id"])
    assert world.core.dhcp_plugin.get_active_networks_info("hostA") == []
    assert world.hosting(net["id"]) == []


def test_port_on_unserved_network_schedules_it(world):
    net = world.network()  # no agent yet
    assert world.hosting(net["id"]) == []
    world.dhcp_agent("hostA")
    world.forget_casts()
    port = world.port(net["id"])
    assert world.hosting(net["id"]) == ["hostA"]
    assert [(h, m) for h, m, _ in world.casts()] == [
        ("hostA", const.NETWORK_CREATE_END), ("hostA", const.PORT_CREATE_END)]
    assert world.casts(const.PORT_CREATE_END)[0][2] == {"port": port}


def test_agent_sync_auto_schedules_its_host(sqlite_database):
    world = World(sqlite_database, dhcp_agents_per_network=2)
    nets = [world.network() for _ in range(3)]
    no_dhcp = world.network(dhcp=False)
    world.dhcp_agent("hostA")
    infos = world.core.dhcp_plugin.get_active_networks_info("hostA")
    assert sorted(i["id"] for i in infos) == sorted(n["id"] for n in nets)
    world.dhcp_agent("hostB")
    world.dhcp_agent("hostC")
    world.core.dhcp_plugin.get_active_networks_info("hostB")
    world.core.dhcp_plugin.get_active_networks_info("hostC")  # every network already has two
    for net in nets:
        assert world.hosting(net["id"]) == ["hostA", "hostB"]
    assert world.hosting(no_dhcp["id"]) == []


def test_agent_sync_respects_hints(world):
    hinted = world.network(availability_zone_hints=["az9"])
    world.dhcp_agent("hostA")
    assert world.core.dhcp_plugin.get_active_networks_info("hostA") == []
    assert world.hosting(hinted["id"]) == []


# -- manual scheduling -----------------------------------------------------------------------

def test_manual_add_and_remove(world):
    a = world.dhcp_agent("hostA")
    b = world.dhcp_agent("hostB")
    net = world.network()
    first = world.hosting(net["id"])[0]
    other = b if first == "hostA" else a
    world.forget_casts()
    world.core.dhcp_scheduling.add_network(world.admin, other["id"], net["id"])
    # Manual add bypasses dhcp_agents_per_network (1) and shows at once.
    assert world.hosting(net["id"]) == ["hostA", "hostB"]
    assert [n["id"] for n in world.core.dhcp_scheduling.networks_on_agent(
        world.admin, other["id"])] == [net["id"]]
    assert world.casts() == [(other["host"], const.NETWORK_CREATE_END,
                              {"network": {"id": net["id"]}})]
    world.forget_casts()
    world.core.dhcp_scheduling.remove_network(world.admin, other["id"], net["id"])
    assert world.hosting(net["id"]) == [first]
    assert world.core.dhcp_scheduling.networks_on_agent(world.admin, other["id"]) == []
    assert world.casts() == [(other["host"], const.NETWORK_DELETE_END,
                              {"network_id": net["id"]})]


def test_manual_add_errors(world):
    a = world.dhcp_agent("hostA")
    l2 = world.l2_agent("hostA")
    net = world.network()
    with pytest.raises(exc.AgentNotFound):
        world.core.dhcp_scheduling.add_network(world.admin, "nope", net["id"])
    with pytest.raises(exc.NetworkNotFound):
        world.core.dhcp_scheduling.add_network(world.admin, a["id"], "nope")
    with pytest.raises(exc.InvalidDHCPAgent):
        world.core.dhcp_scheduling.add_network(world.admin, l2["id"], net["id"])
    with pytest.raises(exc.NetworkHostedByDHCPAgent):
        world.core.dhcp_scheduling.add_network(world.admin, a["id"], net["id"])
    b = world.dhcp_agent("hostB")
    world.core.agents.update(world.admin, b["id"], {"admin_state_up": False})
    with pytest.raises(exc.InvalidDHCPAgent) as caught:
        world.core.dhcp_scheduling.add_network(world.admin, b["id"], net["id"])
    assert caught.value.kind == "not_found"


def test_manual_add_to_dead_agent_is_allowed(world):
    a = world.dhcp_agent("hostA")
    world.clock.advance(60)
    net = world.network()
    assert world.hosting(net["id"]) == []
    world.core.dhcp_scheduling.add_network(world.admin, a["id"], net["id"])
    assert world.hosting(net["id"]) == ["hostA"]


def test_manual_remove_errors(world):
    a = world.dhcp_agent("hostA")
    net = world.network(dhcp=None)
    with pytest.raises(exc.NetworkNotHostedByDhcpAgent):
        world.core.dhcp_scheduling.remove_network(world.admin, a["id"], net["id"])
    with pytest.raises(exc.AgentNotFound):
        world.core.dhcp_scheduling.remove_network(world.admin, "nope", net["id"])


def test_listing_errors(world):
    with pytest.raises(exc.AgentNotFound):
        world.core.dhcp_scheduling.networks_on_agent(world.admin, "nope")
    with pytest.raises(exc.NetworkNotFound):
        world.core.dhcp_scheduling.agents_hosting_network(world.admin, "nope")


def test_remove_reserves_the_dhcp_port_for_the_next_agent(world):
    a = world.dhcp_agent("hostA")
    net = world.network()
    port = world.core.dhcp_plugin.create_dhcp_port("hostA", {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": net["subnets"][0]}]}})
    world.core.dhcp_scheduling.remove_network(world.admin, a["id"], net["id"])
    kept = world.core.ports.get(world.admin, port["id"])
    assert kept["device_id"] == const.DEVICE_ID_RESERVED_DHCP_PORT
    assert kept["fixed_ips"] == port["fixed_ips"]
    b = world.dhcp_agent("hostB")
    world.core.dhcp_scheduling.add_network(world.admin, b["id"], net["id"])
    adopted = world.core.dhcp_plugin.create_dhcp_port("hostB", {"port": {"network_id": net["id"]}})
    assert adopted["id"] == port["id"]
    assert adopted["fixed_ips"] == port["fixed_ips"]
    assert adopted["device_id"] == dhcp_device_id("hostB", net["id"])
    assert adopted["binding:host_id"] == "hostB"
    with world.db.session() as s:
        assert len(s.scalars(select(Port).where(Port.network_id == net["id"])).all()) == 1


@pytest.mark.parametrize("down", [(), ("hostB",), ("hostA", "hostB")])
def test_a_new_port_is_told_to_its_networks_agents_that_are_up(database, down):
    # One query gives the port create the network's DHCP state and the hosts to tell: an
    # agent set administratively down still serves the network (the port waits for DHCP)
    # but hears nothing.
    world = World(database, dhcp_agents_per_network=2)
    agents = {host: world.dhcp_agent(host) for host in ("hostA", "hostB")}
    net = world.network()
    assert world.hosting(net["id"]) == ["hostA", "hostB"]
    for host in down:
        world.core.agents.update(world.admin, agents[host]["id"], {"admin_state_up": False})
    world.forget_casts()
    port = world.port(net["id"])
    assert world.cast_hosts(const.PORT_CREATE_END) == sorted({"hostA", "hostB"} - set(down))
    with world.db.session() as s:
        blocks = s.scalars(select(ProvisioningBlock.entity)
                           .where(ProvisioningBlock.port_id == port["id"])).all()
    assert "DHCP" in blocks


@pytest.mark.parametrize("dhcp, agent", [(False, True), (True, False)])
def test_a_port_no_agent_serves_waits_for_no_agent(database, dhcp, agent):
    # A network without DHCP, or with DHCP and no agent to place it on.
    world = World(database)
    if agent:
        world.dhcp_agent("hostA")
    net = world.network(dhcp=dhcp)
    world.forget_casts()
    port = world.port(net["id"])
    assert world.hosting(net["id"]) == [] and world.casts() == []
    with world.db.session() as s:
        assert "DHCP" not in s.scalars(select(ProvisioningBlock.entity).where(
            ProvisioningBlock.port_id == port["id"])).all()
