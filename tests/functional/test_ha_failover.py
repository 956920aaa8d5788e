"""The HA monitor moving networks off dead DHCP agents, and its stampede guard (SQLite)."""

from datetime import datetime

import pytest
from sqlalchemy import select
from support.core_world import World

from neutrino.core.agents.ha import HOLDOFF, MASS_DEATH_PATIENCE, MONITOR_LEASE
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db.models import Lease
from neutrino.lib import constants as const
from neutrino.lib.naming import dhcp_device_id

DOWN = 10


@pytest.fixture
def world(sqlite_database):
    return World(sqlite_database, agent_down_time=DOWN)


def elapse(world, seconds, *alive):
    """Let time pass while the `alive` hosts keep reporting every DOWN/2 seconds."""
    step = DOWN / 2
    while seconds > 0:
        world.clock.advance(min(step, seconds))
        seconds -= step
        world.heartbeat(*alive)


def host_networks(world, host, count):
    """`count` networks hosted by `host` alone, each with its DHCP port."""
    agent = world.agent(const.AGENT_TYPE_DHCP, host)
    nets = []
    for _ in range(count):
        net = world.network(dhcp=None)
        world.core.dhcp_scheduling.add_network(world.admin, agent["id"], net["id"])
        world.subnet(net["id"])
        world.core.dhcp_plugin.create_dhcp_port(host, {"network_id": net["id"]})
        nets.append(world.core.networks.get(world.admin, net["id"]))
    return nets


def test_networks_move_off_a_dead_agent(world):
    for host in ("hostA", "hostB", "hostC"):
        world.dhcp_agent(host)
    nets = host_networks(world, "hostA", 4)
    ports = {n["id"]: world.core.ports.list(world.admin, {"network_id": [n["id"]]})[0]
             for n in nets}
    world.clock.advance(DOWN - 1)
    world.heartbeat("hostB", "hostC")
    # hostA is not dead yet
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    world.clock.advance(1)
    world.heartbeat("hostB", "hostC")
    world.forget_casts()
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 4
    for net in nets:
        hosts = world.hosting(net["id"])
        assert len(hosts) == 1 and hosts[0] in ("hostB", "hostC")
        port = world.core.ports.get(world.admin, ports[net["id"]]["id"])
        assert port["device_id"] == const.DEVICE_ID_RESERVED_DHCP_PORT
        # The replacement adopts the port and keeps its IP.
        adopted = world.core.dhcp_plugin.create_dhcp_port(hosts[0], {"network_id": net["id"]})
        assert adopted["id"] == port["id"]
        assert adopted["fixed_ips"] == ports[net["id"]]["fixed_ips"]
        assert adopted["device_id"] == dhcp_device_id(hosts[0], net["id"])
    creates = world.casts(const.NETWORK_CREATE_END)
    assert sorted(p["network"]["id"] for _, _, p in creates) == sorted(n["id"] for n in nets)
    assert {h for h, _, _ in creates} == {"hostB", "hostC"}  # spread by weight
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0


def test_failover_disabled(sqlite_database):
    world = World(sqlite_database, agent_down_time=DOWN, allow_automatic_dhcp_failover=False)
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    net = host_networks(world, "hostA", 1)[0]
    elapse(world, DOWN + 1, "hostB")
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert world.hosting(net["id"]) == ["hostA"]


def test_nothing_dead_touches_nothing(world):
    world.dhcp_agent("hostA")
    host_networks(world, "hostA", 1)
    elapse(world, DOWN + 5, "hostA")
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    with world.db.session() as s:
        assert s.scalar(select(Lease).where(Lease.name == MONITOR_LEASE)) is None


def test_dead_agent_hosting_nothing_is_not_work(world):
    world.dhcp_agent("idle")
    world.dhcp_agent("hostB")
    elapse(world, DOWN + 1, "hostB")
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    with world.db.session() as s:
        assert s.scalar(select(Lease).where(Lease.name == MONITOR_LEASE)) is None


def test_no_live_candidate_keeps_the_binding(world, caplog):
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    world.core.agents.update(world.admin, world.agent(const.AGENT_TYPE_DHCP, "hostB")["id"],
                            {"admin_state_up": False})
    net = host_networks(world, "hostA", 1)[0]
    elapse(world, DOWN + 1, "hostB")  # alive but admin-down: no candidate
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert "not moving" not in caplog.text  # not held back: there was nowhere to go
    assert world.hosting(net["id"]) == ["hostA"]


def test_no_live_dhcp_agent_holds(world, caplog):
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    net = host_networks(world, "hostA", 1)[0]
    world.clock.advance(DOWN * 10)
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert "no DHCP agent is alive" in caplog.text
    assert world.hosting(net["id"]) == ["hostA"]


def test_young_server_holds(world, caplog):
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    net = host_networks(world, "hostA", 1)[0]
    elapse(world, DOWN + 1, "hostB")
    # A replica that has just started cannot yet tell dead agents from silent ones.
    replica = build_services(world.db, world.settings, RecordingNotifier(), world.clock)
    assert replica.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert "up for less than agent_down_time" in caplog.text
    assert world.hosting(net["id"]) == ["hostA"]
    elapse(world, DOWN, "hostB")
    assert replica.dhcp_scheduling.reschedule_networks_from_down_agents() == 1
    assert world.hosting(net["id"]) == ["hostB"]


def test_revivals_after_an_outage_hold_off_failover(world, caplog):
    hosts = ("hostA", "hostB", "hostC", "hostD")
    for host in hosts:
        world.dhcp_agent(host)
    nets = {h: host_networks(world, h, 1)[0] for h in hosts}
    world.clock.advance(DOWN * 3)  # the control plane was away: everyone looks dead
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    world.heartbeat("hostB", "hostC")  # it is back; B and C report first
    with world.db.session() as s:
        assert s.scalar(select(Lease.expires_at).where(Lease.name == HOLDOFF)) is not None
    caplog.clear()
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert "coming back after an outage" in caplog.text
    world.clock.advance(DOWN / 2)
    world.heartbeat("hostB", "hostC", "hostD")  # D made it in time
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    world.clock.advance(DOWN / 2 + 1)
    world.heartbeat("hostB", "hostC", "hostD")
    # The hold-off is over and A never came back: A's network moves, nothing else.
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 1
    assert world.hosting(nets["hostA"]["id"]) != ["hostA"]
    for host in ("hostB", "hostC", "hostD"):
        assert world.hosting(nets[host]["id"]) == [host]


def test_one_agent_flapping_in_a_healthy_cluster_sets_no_holdoff(world):
    for host in ("hostA", "hostB", "hostC"):
        world.dhcp_agent(host)
    host_networks(world, "hostB", 1)
    elapse(world, DOWN + 1, "hostB", "hostC")
    world.heartbeat("hostA")  # revives while most agents are alive
    with world.db.session() as s:
        assert s.scalar(select(Lease.expires_at).where(Lease.name == HOLDOFF)) is None


def test_mass_death_holds_then_is_believed(world, caplog):
    hosts = ("hostA", "hostB", "hostC", "hostD")
    for host in hosts:
        world.dhcp_agent(host)
    for host in hosts:
        host_networks(world, host, 1)
    elapse(world, DOWN + 1, "hostD")  # only D still reports
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert "3 of 4 hosting DHCP agents look dead" in caplog.text
    while True:
        world.clock.advance(DOWN / 2)
        world.heartbeat("hostD")
        moved = world.core.dhcp_scheduling.reschedule_networks_from_down_agents()
        if moved:
            break
    assert moved == 3
    last_seen = world.agent(const.AGENT_TYPE_DHCP, "hostA")["heartbeat_timestamp"]
    dead_for = (world.clock.now() - datetime.fromisoformat(last_seen)).total_seconds()
    assert MASS_DEATH_PATIENCE * DOWN <= dead_for < MASS_DEATH_PATIENCE * DOWN + DOWN


def test_agents_per_network_over_provisioned_network_just_drops_the_dead(world):
    world.dhcp_agent("hostA")
    b = world.dhcp_agent("hostB")
    world.dhcp_agent("hostC")
    net = host_networks(world, "hostA", 1)[0]
    world.core.dhcp_scheduling.add_network(world.admin, b["id"], net["id"])
    elapse(world, DOWN + 1, "hostB", "hostC")
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 1
    assert world.hosting(net["id"]) == ["hostB"]  # per-network is 1: B alone is enough


def test_an_agent_back_before_its_batch_keeps_its_networks(world):
    from neutrino.core.agents.ha import DeadAgent
    from neutrino.core.agents.notify import Outbox

    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    net = host_networks(world, "hostA", 1)[0]
    elapse(world, DOWN + 1, "hostB")
    monitor = world.core.dhcp_scheduling.failover
    now = world.clock.now()
    dead = world.db.transaction(lambda s: monitor._dead_hosting_agents(s, now))  # a tick saw
    assert [d.host for d in dead] == ["hostA"]
    world.heartbeat("hostA")  # ...and then A reported
    assert monitor._move_off(DeadAgent(dead[0].id, "hostA", dead[0].heartbeat), Outbox()) == 0
    assert world.hosting(net["id"]) == ["hostA"]



def test_the_lease_is_checked_before_each_dead_agents_first_batch(world):
    """With several dead agents, a monitor whose lease another replica took while it
    worked on one agent moves nothing off the next."""
    from sqlalchemy import update

    for host in ("hostA", "hostB", "hostC", "hostD"):
        world.dhcp_agent(host)
    nets = {"hostA": host_networks(world, "hostA", 1)[0],
            "hostB": host_networks(world, "hostB", 1)[0]}
    host_networks(world, "hostC", 1)  # as many live hosting agents: no mass death
    host_networks(world, "hostD", 1)
    elapse(world, DOWN + 1, "hostC", "hostD")
    monitor = world.core.dhcp_scheduling.failover
    move_off = monitor._move_off
    seen = []

    def lease_taken_after_the_first(agent, outbox):
        seen.append(agent.host)
        moved = move_off(agent, outbox)
        world.db.transaction(lambda s: s.execute(
            update(Lease).where(Lease.name == MONITOR_LEASE)
            .values(holder="another-replica",
                    expires_at=world.clock.now().replace(year=2100))))
        return moved
    monitor._move_off = lease_taken_after_the_first
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 1
    assert sorted(seen) == ["hostA", "hostB"]
    assert world.hosting(nets[seen[0]]["id"]) != [seen[0]]
    assert world.hosting(nets[seen[1]]["id"]) == [seen[1]]  # left to the lease's holder


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
