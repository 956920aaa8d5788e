"""Agent registration, liveness and the admin operations on agents (SQLite)."""

import json

import pytest
from sqlalchemy import select
from support.core_world import World, dhcp_report

from neutrino.db.models import Agent, NetworkDhcpAgentBinding
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc


@pytest.fixture
def world(sqlite_database):
    return World(sqlite_database)


def test_first_report_registers_then_alive_then_revived(world):
    core = world.core
    assert core.agents.report_state(dhcp_report("hostA", start=True)) == const.AGENT_NEW
    world.clock.advance(9)
    assert core.agents.report_state(dhcp_report("hostA")) == const.AGENT_ALIVE
    world.clock.advance(10)
    assert core.agents.report_state(dhcp_report("hostA")) == const.AGENT_REVIVED
    assert core.agents.report_state(dhcp_report("hostA")) == const.AGENT_ALIVE
    assert len(core.agents.list(world.admin, {})) == 1


def test_report_wrapped_as_on_the_wire(world):
    status = world.core.agents.report_state({"agent_state": dhcp_report("hostA")},
                                     time="2020-01-01T00:00:00")
    assert status == const.AGENT_NEW


def test_agent_attributes(world):
    world.clock.advance(0.7)  # the fraction of a second is not kept
    agent = world.dhcp_agent("hostA", start=True, networks=3)
    assert agent["agent_type"] == "DHCP agent"
    assert agent["binary"] == const.BINARY_DHCP
    assert agent["topic"] == "dhcp_agent"
    assert agent["host"] == "hostA"
    assert agent["admin_state_up"] is True
    assert agent["alive"] is True
    assert agent["availability_zone"] == "nova"
    assert agent["description"] is None
    assert agent["configurations"]["networks"] == 3
    assert agent["configurations"]["dhcp_driver"] == "neutron.agent.linux.dhcp.Dnsmasq"
    stamp = "2026-11-25 22:00:00"
    assert agent["created_at"] == agent["started_at"] == agent["heartbeat_timestamp"] == stamp


def test_heartbeat_is_the_servers_clock_and_started_at_follows_start_flag(world):
    world.dhcp_agent("hostA", start=True)
    world.clock.advance(5)
    # The agent's own clock is years off: it does not count.
    world.core.agents.report_state(dhcp_report("hostA"), time="2001-01-01T00:00:00")
    agent = world.agent(const.AGENT_TYPE_DHCP, "hostA")
    assert agent["heartbeat_timestamp"] == "2026-11-25 22:00:05"
    assert agent["started_at"] == "2026-11-25 22:00:00"
    world.clock.advance(5)
    world.core.agents.report_state(dhcp_report("hostA", start=True))
    agent = world.agent(const.AGENT_TYPE_DHCP, "hostA")
    assert agent["started_at"] == "2026-11-25 22:00:10"
    assert agent["created_at"] == "2026-11-25 22:00:00"


def test_load_follows_dhcp_load_type(sqlite_database):
    world = World(sqlite_database, dhcp_load_type="ports")
    world.dhcp_agent("hostA", networks=2, ports=17)
    with sqlite_database.session() as s:
        assert s.scalar(select(Agent.load).where(Agent.host == "hostA")) == 17
    world.core.agents.report_state(dhcp_report("hostA", networks=2, ports=4))
    with sqlite_database.session() as s:
        assert s.scalar(select(Agent.load).where(Agent.host == "hostA")) == 4


def test_configurations_are_replaced_by_each_report(world):
    world.dhcp_agent("hostA", networks=1)
    world.core.agents.report_state(dhcp_report("hostA", networks=5))
    assert world.agent(const.AGENT_TYPE_DHCP, "hostA")["configurations"]["networks"] == 5
    with world.db.session() as s:
        raw = s.scalar(select(Agent.configurations))
    assert json.loads(raw)["networks"] == 5


def test_l2_agent_without_zone(world):
    agent = world.l2_agent("hostA")
    assert agent["availability_zone"] is None
    assert agent["topic"] == "N/A"
    assert agent["configurations"]["interface_mappings"] == {"physnet1": "eth0"}


def test_same_host_two_types_are_two_agents(world):
    world.dhcp_agent("hostA")
    world.l2_agent("hostA")
    assert len(world.core.agents.list(world.admin, {"host": ["hostA"]})) == 2


def test_new_agents_disabled_by_option(sqlite_database):
    world = World(sqlite_database, enable_new_agents=False)
    assert world.dhcp_agent("hostA")["admin_state_up"] is False
    world.core.agents.report_state(dhcp_report("hostA"))
    assert world.agent(const.AGENT_TYPE_DHCP, "hostA")["admin_state_up"] is False


def test_alive_is_computed_at_read_time_and_filterable(world):
    world.dhcp_agent("hostA")
    world.clock.advance(6)
    world.dhcp_agent("hostB")
    world.clock.advance(5)  # hostA's heartbeat is 11 s old, hostB's 5 s
    by_host = {a["host"]: a["alive"] for a in world.core.agents.list(world.admin, {})}
    assert by_host == {"hostA": False, "hostB": True}
    alive = world.core.agents.list(world.admin, {"alive": [True]})
    dead = world.core.agents.list(world.admin, {"alive": [False]})
    assert [a["host"] for a in alive] == ["hostB"]
    assert [a["host"] for a in dead] == ["hostA"]
    assert len(world.core.agents.list(world.admin, {"alive": [True, False]})) == 2


def test_filters(world):
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB", zone="az2")
    world.l2_agent("hostA")
    core, admin = world.core, world.admin
    assert len(core.agents.list(admin, {"agent_type": ["DHCP agent"]})) == 2
    assert [a["host"] for a in core.agents.list(admin, {"availability_zone": ["az2"]})] == [
        "hostB"]
    assert len(core.agents.list(admin, {"host": ["hostA", "hostB"],
                                        "binary": [const.BINARY_DHCP]})) == 2
    assert core.agents.list(admin, {"admin_state_up": [False]}) == []


def test_get_agent_and_not_found(world):
    agent = world.dhcp_agent("hostA")
    assert world.core.agents.get(world.admin, agent["id"]) == agent
    with pytest.raises(exc.AgentNotFound):
        world.core.agents.get(world.admin, "nope")


def test_update_agent_casts_agent_updated_to_dhcp_host(world):
    agent = world.dhcp_agent("hostA")
    out = world.core.agents.update(world.admin, agent["id"], {"admin_state_up": False})
    assert out["admin_state_up"] is False
    assert world.casts() == [("hostA", const.AGENT_UPDATED, {"admin_state_up": False})]
    world.forget_casts()
    world.core.agents.update(world.admin, agent["id"], {"description": "spare"})
    assert world.core.agents.get(world.admin, agent["id"])["description"] == "spare"
    assert world.casts() == []
    world.core.agents.update(world.admin, agent["id"], {"admin_state_up": True})
    assert world.casts() == [("hostA", const.AGENT_UPDATED, {"admin_state_up": True})]


def test_update_l2_agent_casts_nothing(world):
    agent = world.l2_agent("hostA")
    world.core.agents.update(world.admin, agent["id"], {"admin_state_up": False})
    assert world.casts() == []


def test_update_unknown_agent(world):
    with pytest.raises(exc.AgentNotFound):
        world.core.agents.update(world.admin, "nope", {"admin_state_up": False})


def test_delete_agent_takes_bindings_and_next_report_is_new(world):
    agent = world.dhcp_agent("hostA")
    net = world.network()
    assert world.hosting(net["id"]) == ["hostA"]
    world.core.agents.delete(world.admin, agent["id"])
    assert world.core.agents.list(world.admin, {}) == []
    with world.db.session() as s:
        assert s.scalars(select(NetworkDhcpAgentBinding)).all() == []
    with pytest.raises(exc.AgentNotFound):
        world.core.agents.delete(world.admin, agent["id"])
    assert world.core.agents.report_state(dhcp_report("hostA")) == const.AGENT_NEW
    assert world.agent(const.AGENT_TYPE_DHCP, "hostA")["id"] != agent["id"]


def test_availability_zones(world):
    world.dhcp_agent("hostA", zone="az1")
    b = world.dhcp_agent("hostB", zone="az2")
    world.l2_agent("hostC")
    world.core.agents.update(world.admin, b["id"], {"admin_state_up": False})
    zones = world.core.agents.list_availability_zones(world.admin, {})
    assert zones == [{"name": "az1", "resource": "network", "state": "available"},
                     {"name": "az2", "resource": "network", "state": "unavailable"}]
    assert world.core.agents.list_availability_zones(world.admin, {"state": ["available"]}) == [
        zones[0]]


def test_bad_report_is_invalid_input(world):
    with pytest.raises(exc.InvalidInput):
        world.core.agents.report_state({"agent_type": "DHCP agent", "binary": "b", "topic": "t"})
