"""Server replicas scheduling the same networks at once (SQLite, MariaDB, PostgreSQL).

The unique (network_id, binding_index) key must settle every race: never more than
dhcp_agents_per_network agents, never a database error to the caller.
"""

import threading

from sqlalchemy import select
from support.core_world import World, dhcp_report

from neutrino.db.models import NetworkDhcpAgentBinding

REPLICAS = 3
THREADS = 12
PER_NETWORK = 3


def run_all(calls):
    errors = []
    barrier = threading.Barrier(len(calls))

    def runner(call):
        try:
            barrier.wait()
            call()
        except Exception as e:  # noqa: BLE001 - the test reports every failure
            errors.append(repr(e))

    threads = [threading.Thread(target=runner, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return errors


def test_concurrent_scheduling_never_overbinds(database):
    worlds = [World(database, dhcp_agents_per_network=PER_NETWORK) for _ in range(REPLICAS)]
    first = worlds[0]
    hosts = [f"host{i}" for i in range(6)]
    # Networks that need DHCP, made while no agent exists: nobody hosts them yet.
    nets = [first.network()["id"] for _ in range(2)]
    for host in hosts:
        first.dhcp_agent(host)

    calls = []
    for i in range(THREADS):
        w = worlds[i % REPLICAS]
        net = nets[i % len(nets)]
        if i % 3 == 0:
            calls.append(lambda w=w, net=net: w.core.ports.create(
                w.admin, {"network_id": net, "project_id": "proj"}))
        elif i % 3 == 1:
            calls.append(lambda w=w, h=hosts[i % len(hosts)]:
                         w.core.dhcp_plugin.get_active_networks_info(h))
        else:
            calls.append(lambda w=w, net=net: w.core.dhcp_scheduling.bindings.schedule(
                net, w.clock.now()))
    errors = run_all(calls)
    assert errors == []

    with database.session() as s:
        rows = s.execute(select(NetworkDhcpAgentBinding.network_id,
                                NetworkDhcpAgentBinding.binding_index)).all()
    for net in nets:
        indexes = sorted(i for n, i in rows if n == net)
        assert indexes == [1, 2, 3], (net, indexes)


def test_concurrent_manual_adds_of_one_agent(database):
    world = World(database)
    agent = world.dhcp_agent("hostA")
    net = world.network(dhcp=None)["id"]
    outcomes = []

    def add():
        try:
            world.core.dhcp_scheduling.add_network(world.admin, agent["id"], net)
            outcomes.append("added")
        except Exception as e:  # noqa: BLE001
            outcomes.append(type(e).__name__)

    assert run_all([add] * 6) == []
    assert sorted(outcomes) == ["NetworkHostedByDHCPAgent"] * 5 + ["added"]
    assert world.hosting(net) == ["hostA"]


def test_concurrent_first_reports_make_one_agent(database):
    worlds = [World(database) for _ in range(REPLICAS)]
    answers = []


    def report(w):
        answers.append(w.core.agents.report_state(dhcp_report("racer", start=True)))

    errors = run_all([lambda w=worlds[i % REPLICAS]: report(w) for i in range(8)])
    assert errors == []
    assert len(worlds[0].core.agents.list(worlds[0].admin, {})) == 1
    assert answers.count("new") == 1
    assert answers.count("alive") == 7
