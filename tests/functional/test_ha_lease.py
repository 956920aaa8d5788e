"""One HA actor at a time across server replicas (SQLite, MariaDB, PostgreSQL)."""

import threading

from sqlalchemy import func, select
from support.core_world import World

from neutrino.core.agents import ha
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db.models import NetworkDhcpAgentBinding
from neutrino.lib import constants as const

DOWN = 10


def setup_dead_agent(database, networks):
    world = World(database, agent_down_time=DOWN)
    replica = build_services(database, world.settings, RecordingNotifier(), world.clock)
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    world.dhcp_agent("hostC")
    a = world.agent(const.AGENT_TYPE_DHCP, "hostA")
    nets = []
    for _ in range(networks):
        net = world.network(dhcp=None)
        world.core.dhcp_scheduling.add_network(world.admin, a["id"], net["id"])
        world.subnet(net["id"])
        nets.append(net["id"])
    for _ in range(3):  # hostA goes silent; the others keep reporting
        world.clock.advance(DOWN / 2)
        world.heartbeat("hostB", "hostC")
    return world, replica, nets


def bindings_per_network(database):
    with database.session() as s:
        return dict(s.execute(select(NetworkDhcpAgentBinding.network_id, func.count())
                              .group_by(NetworkDhcpAgentBinding.network_id)).all())


def test_a_held_lease_keeps_other_replicas_out(database):
    world, replica, nets = setup_dead_agent(database, 2)
    now = world.clock.now()
    assert database.transaction(lambda s: ha.try_acquire(
        s, ha.MONITOR_LEASE, world.core.dhcp_scheduling.failover.holder, now, ha.LEASE_SECONDS))
    assert replica.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert all(world.hosting(n) == ["hostA"] for n in nets)
    # The holder may renew its own lease; the other may not take it.
    assert database.transaction(lambda s: ha.try_acquire(
        s, ha.MONITOR_LEASE, world.core.dhcp_scheduling.failover.holder, now, ha.LEASE_SECONDS))
    assert not database.transaction(lambda s: ha.try_acquire(
        s, ha.MONITOR_LEASE, replica.dhcp_scheduling.failover.holder, now, ha.LEASE_SECONDS))
    # A holder that died lets the lease run out; then another replica acts.
    for _ in range(3):
        world.clock.advance((ha.LEASE_SECONDS + 1) / 3)
        world.heartbeat("hostB", "hostC")
    assert replica.dhcp_scheduling.reschedule_networks_from_down_agents() == 2
    assert all(world.hosting(n) != ["hostA"] for n in nets)


def test_the_lease_is_released_after_a_tick(database):
    world, replica, nets = setup_dead_agent(database, 1)
    assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 1
    now = world.clock.now()
    assert database.transaction(lambda s: ha.try_acquire(
        s, ha.MONITOR_LEASE, replica.dhcp_scheduling.failover.holder, now, ha.LEASE_SECONDS))


def test_replicas_ticking_at_once_move_each_network_once(database):
    world, replica, nets = setup_dead_agent(database, 8)
    cores = [world.core, replica,
             build_services(database, world.settings, world.notifier, world.clock)]
    # up as long as the others
    cores[2].dhcp_scheduling.failover.started_at = world.core.dhcp_scheduling.failover.started_at
    world.forget_casts()
    moved, errors = [], []
    barrier = threading.Barrier(6)

    def tick(core):
        try:
            barrier.wait()
            moved.append(core.dhcp_scheduling.reschedule_networks_from_down_agents())
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=tick, args=(cores[i % 3],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    # Some ticks may find the lease taken and do nothing; whatever ran, nothing moved twice.
    for core in cores:
        core.dhcp_scheduling.reschedule_networks_from_down_agents()
    assert bindings_per_network(database) == {n: 1 for n in nets}
    for net in nets:
        assert world.hosting(net) in (["hostB"], ["hostC"])
    creates = [c for c in world.notifier.casts if c[1] == const.NETWORK_CREATE_END]
    creates += [c for c in replica.dhcp_scheduling.env.notifier.casts
                if c[1] == const.NETWORK_CREATE_END]
    told = sorted(p["network"]["id"] for _, _, p in creates)
    assert told == sorted(nets)  # each new agent told once
    assert sum(moved) == len(nets)


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
