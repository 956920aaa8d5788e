"""DHCP port set-up under concurrency (SQLite, MariaDB, PostgreSQL)."""

import threading

from support.core_world import World

from neutrino.lib.naming import dhcp_device_id


def run_all(calls):
    results, errors = [], []
    barrier = threading.Barrier(len(calls))

    def runner(call):
        try:
            barrier.wait()
            results.append(call())
        except Exception as e:  # noqa: BLE001 - the test reports every failure
            errors.append(repr(e))

    threads = [threading.Thread(target=runner, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return results, errors


def test_retried_requests_of_one_agent_make_one_port(database):
    world = World(database)
    world.dhcp_agent("hostA")
    net = world.network()
    replicas = [world, World(database)]
    results, errors = run_all([
        lambda w=replicas[i % 2]: w.core.dhcp_plugin.create_dhcp_port("hostA", {"port": {
            "network_id": net["id"]}}) for i in range(6)])
    assert errors == []
    assert len({p["id"] for p in results}) == 1
    ports = world.core.ports.list(world.admin, {"network_id": [net["id"]]})
    assert [p["device_id"] for p in ports] == [dhcp_device_id("hostA", net["id"])]


def test_two_agents_never_adopt_the_same_reserved_port(database):
    world = World(database, dhcp_agents_per_network=2)
    a = world.dhcp_agent("hostA")
    net = world.network()
    old = world.core.dhcp_plugin.create_dhcp_port("hostA", {"network_id": net["id"]})
    world.core.dhcp_scheduling.remove_network(world.admin, a["id"], net["id"])
    for host in ("hostB", "hostC"):
        agent = world.dhcp_agent(host)
        world.core.dhcp_scheduling.add_network(world.admin, agent["id"], net["id"])
    results, errors = run_all([
        lambda h=h: world.core.dhcp_plugin.create_dhcp_port(h, {"network_id": net["id"]})
        for h in ("hostB", "hostC")])
    assert errors == []
    assert len({p["id"] for p in results}) == 2
    assert old["id"] in {p["id"] for p in results}
    assert {p["device_id"] for p in results} == {dhcp_device_id(h, net["id"])
                                                 for h in ("hostB", "hostC")}
