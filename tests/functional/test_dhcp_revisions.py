"""Per-network DHCP revisions: bumped with every change a DHCP agent serves, in the change's
transaction, and read by an agent for its own networks (issue 13: a change whose cast was
lost reached an agent only at its periodic full sync)."""

import pytest
from support.core_world import World


@pytest.fixture
def world(database):
    return World(database)


def revisions(world, host="hostA"):
    return world.core.dhcp_plugin.get_network_revisions(host)


def test_every_dhcp_change_moves_the_revision_and_others_do_not(world):
    world.dhcp_agent("hostA")
    net = world.network()
    nid = net["id"]
    seen = [revisions(world)[nid]]

    def moved() -> bool:
        seen.append(revisions(world)[nid])
        return seen[-1] != seen[-2]

    port = world.port(nid)
    assert moved()
    world.core.ports.update(world.admin, port["id"], {"name": "not for dhcp"})
    assert not moved()
    world.core.ports.update(world.admin, port["id"], {"dns_name": "vm1"})
    assert moved()
    # The metadata proxy tells the instance behind an address by its port's device_id.
    world.core.ports.update(world.admin, port["id"], {"device_id": "another-instance"})
    assert moved()
    world.core.ports.update(world.admin, port["id"], {"binding:host_id": "hostB"})
    assert moved()
    subnet = world.subnet(nid, cidr="10.9.0.0/24")
    assert moved()
    world.core.subnets.update(world.admin, subnet["id"], {"dns_nameservers": ["10.0.0.53"]})
    assert moved()
    world.core.ports.delete(world.admin, port["id"])
    assert moved()
    world.core.subnets.delete(world.admin, subnet["id"])
    assert moved()
    world.core.networks.update(world.admin, nid, {"name": "renamed", "description": "d"})
    assert not moved()
    world.core.networks.update(world.admin, nid, {"dns_domain": "example."})
    assert moved()


def test_the_agents_own_dhcp_port_moves_it_and_info_carries_it(world):
    world.dhcp_agent("hostA")
    net = world.network()
    before = revisions(world)[net["id"]]
    world.core.dhcp_plugin.create_dhcp_port("hostA", {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": net["subnets"][0]}]}})
    after = revisions(world)[net["id"]]
    assert after > before
    info = world.core.dhcp_plugin.get_network_info(net["id"], "hostA")
    assert info["dhcp_revision"] == after
    [active] = world.core.dhcp_plugin.get_active_networks_info("hostA")
    assert active["dhcp_revision"] == after


def test_only_the_admin_up_networks_of_the_agent_are_listed(world):
    agent = world.dhcp_agent("hostA")
    mine = world.network()
    down = world.network()
    world.core.networks.update(world.admin, down["id"], {"admin_state_up": False})
    assert world.hosting(down["id"]) == ["hostA"]
    assert set(revisions(world)) == {mine["id"]}
    assert revisions(world, "nobody") == {}
    world.core.agents.update(world.admin, agent["id"], {"admin_state_up": False})
    assert revisions(world) == {}
