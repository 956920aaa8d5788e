"""The agent's decisions against an in-memory plugin and host."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from neutrino.agent.dhcp.agent import DhcpAgent, backoff
from neutrino.agent.dhcp.executor import DnsmasqAction
from neutrino.agent.dhcp.fakes import FakeDhcpHost, FakeDhcpPlugin
from neutrino.conf.settings import AgentSettings, DhcpAgentSettings
from neutrino.lib import naming
from neutrino.linux.host import HostNamespaces


class FakeReports:
    def __init__(self) -> None:
        self.states: list[dict] = []
        self.answer = "alive"

    def report_state(self, agent_state: dict, start_flag: bool) -> str:
        self.states.append(dict(agent_state, start_flag=start_flag))
        return "new" if len(self.states) == 1 else self.answer


def settings(**kw: object) -> DhcpAgentSettings:
    agent = AgentSettings(host="HostA", state_path="/nonexistent", report_interval=0.2,
                          availability_zone="az1")
    return DhcpAgentSettings(agent=agent, resync_interval=1, num_sync_threads=2,
                             confs_dir="/nonexistent/dhcp", lease_duration=120, **kw)


def wait(pred, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def plugin() -> FakeDhcpPlugin:
    return FakeDhcpPlugin()


@pytest.fixture
def host() -> FakeDhcpHost:
    return FakeDhcpHost()


@pytest.fixture
def reports() -> FakeReports:
    return FakeReports()


@pytest.fixture
def agent(plugin: FakeDhcpPlugin, host: FakeDhcpHost, reports: FakeReports
          ) -> Iterator[DhcpAgent]:
    a = DhcpAgent(settings(), HostNamespaces(), plugin, reports, dhcp_host=host)
    yield a
    a.stop()


def settle(agent: DhcpAgent) -> None:
    wait(agent.idle)


def test_start_serves_hosted_networks_and_reports(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                                  host: FakeDhcpHost,
                                                  reports: FakeReports) -> None:
    net = plugin.add_network()
    vm = plugin.add_port(net)
    plugin.add_network(hosted=False)
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    plan = host.applied[net]
    dhcp = [p for p in plugin.ports.values() if p["device_owner"] == "network:dhcp"]
    assert len(dhcp) == 1 and dhcp[0]["device_id"] == naming.dhcp_device_id("HostA", net)
    assert plan.dhcp_port_id == dhcp[0]["id"]
    assert vm["mac_address"] in plan.hosts
    assert len(host.applied) == 1
    wait(lambda: set(plugin.ready) == {vm["id"], dhcp[0]["id"]})
    assert reports.states[0]["start_flag"] is True
    assert reports.states[0]["agent_type"] == "DHCP agent"
    assert reports.states[0]["binary"] == "neutrino-dhcp-agent"
    assert reports.states[0]["topic"] == "dhcp_agent"
    assert reports.states[0]["availability_zone"] == "az1"
    wait(lambda: reports.states[-1]["configurations"]["networks"] == 1)
    conf = reports.states[-1]["configurations"]
    assert conf == {"networks": 1, "subnets": 1, "ports": 2,
                    "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
                    "dhcp_lease_time": 120, "dhcp_lease_duration": 120,
                    "use_namespaces": True, "log_agent_heartbeats": False}


def test_port_cast_reloads_without_restart(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                           host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    pid = host.pids[net]
    vm = plugin.add_port(net)
    calls_before = len(plugin.calls)
    agent.port_create_end({"port": vm})
    wait(lambda: vm["mac_address"] in host.applied[net].hosts)
    settle(agent)
    assert host.pids[net] == pid
    assert host.actions[-1] == (net, DnsmasqAction.RELOAD)
    # The cast carried the port: no RPC at all (no fetch, no full sync, no port RPC).
    new = [c[0] for c in plugin.calls[calls_before:] if c[0] != "dhcp_ready_on_ports"]
    assert new == []
    wait(lambda: vm["id"] in plugin.ready)
    plugin.remove_port(vm["id"])
    agent.port_delete_end({"port_id": vm["id"], "network_id": net, "fixed_ips": []})
    wait(lambda: vm["mac_address"] not in host.applied[net].hosts)
    assert host.pids[net] == pid
    new = [c[0] for c in plugin.calls[calls_before:] if c[0] != "dhcp_ready_on_ports"]
    assert new == []


def test_port_cast_on_unknown_subnet_fetches(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                             host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    sub = plugin.add_subnet(net, "10.1.0.0/24")
    vm = plugin._new_port(net, [{"subnet_id": sub}])
    agent.port_create_end({"port": vm})
    wait(lambda: vm["mac_address"] in host.applied[net].hosts)
    assert ("get_network_info", (net,)) in plugin.calls
    assert host.applied[net].subnet_count == 2


def test_late_port_update_does_not_roll_back(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                             host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    vm = plugin.add_port(net)
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    newer = dict(vm, revision_number=5, fixed_ips=[
        dict(vm["fixed_ips"][0], ip_address="10.0.0.200")])
    older = dict(vm, revision_number=4, fixed_ips=[
        dict(vm["fixed_ips"][0], ip_address="10.0.0.100")])
    agent.port_update_end({"port": newer})
    agent.port_update_end({"port": older})
    wait(lambda: "10.0.0.200" in host.applied[net].hosts)
    settle(agent)
    assert "10.0.0.100" not in host.applied[net].hosts


def test_new_subnet_updates_port_and_restarts(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                              host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    pid = host.pids[net]
    sub = plugin.add_subnet(net, "10.1.0.0/24")
    agent.subnet_create_end({"subnet": plugin.subnets[sub]})
    wait(lambda: host.applied[net].subnet_count == 2)
    assert host.pids[net] != pid
    assert host.actions[-1] == (net, DnsmasqAction.RESTART)
    assert any(c[0] == "update_dhcp_port" for c in plugin.calls)
    assert len(host.applied[net].addresses) == 2


def test_network_removed_tears_down_and_releases(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                                 host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    plugin.hosted.discard(net)
    agent.network_delete_end({"network_id": net})
    wait(lambda: net not in host.applied)
    settle(agent)
    assert ("release_dhcp_port", (net, naming.dhcp_device_id("HostA", net))) in plugin.calls
    assert not [p for p in plugin.ports.values() if p["device_owner"] == "network:dhcp"]
    assert agent.served() == {}


def test_full_sync_removes_leftovers_and_keeps_running_dnsmasq(
        plugin: FakeDhcpPlugin, host: FakeDhcpHost, reports: FakeReports) -> None:
    net = plugin.add_network()
    first = DhcpAgent(settings(), HostNamespaces(), plugin, reports, dhcp_host=host)
    first.start()
    wait(lambda: net in host.applied)
    settle(first)
    first.stop()
    pid = host.pids[net]
    host.leftovers.add("0dd0dd00-0000-4000-8000-000000000000")
    second = DhcpAgent(settings(), HostNamespaces(), plugin, reports, dhcp_host=host)
    second.start()
    try:
        wait(lambda: second.full_syncs == 1 and second.idle() and net in second.served())
        assert host.pids[net] == pid  # adopted, not respawned
        assert host.actions[-1][1] in (DnsmasqAction.NONE,)
        assert host.existing_networks() == {net}
    finally:
        second.stop()


def test_broken_network_retried_without_blocking_others(
        agent: DhcpAgent, plugin: FakeDhcpPlugin, host: FakeDhcpHost) -> None:
    bad = plugin.add_network()
    good = plugin.add_network(cidr="10.5.0.0/24")
    host.broken.add(bad)
    agent.start()
    wait(lambda: good in host.applied)
    host.broken.discard(bad)
    wait(lambda: bad in host.applied)  # retried after resync_interval
    assert set(agent.served()) == {bad, good}


def test_rpc_failure_triggers_full_sync(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                        host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    syncs = agent.full_syncs
    plugin.failing.add("get_network_info")
    agent.network_update_end({"network": {"id": net}})
    wait(lambda: agent.full_syncs > syncs)
    plugin.failing.clear()


def test_revived_answer_triggers_full_sync(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                           reports: FakeReports) -> None:
    agent.start()
    wait(lambda: agent.full_syncs >= 1)
    syncs = agent.full_syncs
    reports.answer = "revived"
    wait(lambda: agent.full_syncs > syncs)


def test_admin_down_agent_gets_nothing_and_tears_down(
        agent: DhcpAgent, plugin: FakeDhcpPlugin, host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    plugin.hosted.clear()
    agent.agent_updated({"admin_state_up": False})
    wait(lambda: not host.applied)


def test_dead_dnsmasq_is_restarted(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                   host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    calls = len(plugin.calls)
    pid = host.pids.pop(net)  # "killed"
    wait(lambda: host.pids.get(net) not in (None, pid))
    assert host.actions[-1] == (net, DnsmasqAction.START)
    assert [c for c in plugin.calls[calls:] if c[0] != "dhcp_ready_on_ports"] == []


def test_backoff_grows_and_caps() -> None:
    assert [backoff(5, n) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 60]
    assert backoff(120, 3) == 120


def test_ready_ports_are_batched(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                 host: FakeDhcpHost) -> None:
    net = plugin.add_network(cidr="10.0.0.0/23")
    ports = {plugin.add_port(net)["id"] for _ in range(150)}
    agent.start()
    wait(lambda: ports <= set(plugin.ready))
    batches = [c[1][0] for c in plugin.calls if c[0] == "dhcp_ready_on_ports"]
    assert all(len(b) <= 64 for b in batches)
    assert len(batches) >= 3
    assert len(plugin.ready) == len(set(plugin.ready))  # each port named once


def test_ready_ports_survive_a_failed_call(agent: DhcpAgent, plugin: FakeDhcpPlugin,
                                           host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    vm = plugin.add_port(net)
    plugin.failing.add("dhcp_ready_on_ports")
    agent.start()
    wait(lambda: any(c[0] == "dhcp_ready_on_ports" for c in plugin.calls))
    assert plugin.ready == []
    plugin.failing.clear()
    wait(lambda: vm["id"] in plugin.ready)


class HostFailingOnce(FakeDhcpHost):
    """A host whose first look at its directories fails (e.g. EACCES on the netns dir)."""

    def __init__(self) -> None:
        super().__init__()
        self.listings = 0

    def existing_networks(self) -> set[str]:
        self.listings += 1
        if self.listings == 1:
            raise PermissionError(13, "Permission denied", "/run/netns")
        return super().existing_networks()


def test_full_sync_survives_a_host_listing_error(plugin: FakeDhcpPlugin,
                                                 reports: FakeReports) -> None:
    host = HostFailingOnce()
    net = plugin.add_network()
    agent = DhcpAgent(settings(), HostNamespaces(), plugin, reports, dhcp_host=host)
    agent.start()
    try:
        wait(lambda: net in host.applied and agent.full_syncs == 1)
        assert host.listings >= 2  # failed once, then retried
    finally:
        agent.stop()


class PluginMalformedOnce(FakeDhcpPlugin):
    """Answers the first full sync with an entry that has no id."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0

    def get_active_networks_info(self) -> list[dict]:
        self.answers += 1
        infos = super().get_active_networks_info()
        return [{"name": "no id"}] if self.answers == 1 else infos


def test_sync_loop_survives_an_unexpected_error(host: FakeDhcpHost,
                                                reports: FakeReports) -> None:
    plugin = PluginMalformedOnce()
    net = plugin.add_network()
    agent = DhcpAgent(settings(), HostNamespaces(), plugin, reports, dhcp_host=host)
    agent.start()
    try:
        wait(lambda: net in host.applied and agent.full_syncs == 1)
        assert plugin.answers >= 2
    finally:
        agent.stop()


def test_a_network_the_server_does_not_return_is_logged(agent: DhcpAgent,
                                                        plugin: FakeDhcpPlugin,
                                                        host: FakeDhcpHost,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    # A Neutron server answering an unscoped context returns None for every network: the
    # operator must see why nothing is served.
    agent.start()
    settle(agent)
    net = plugin.add_network(hosted=False)
    with caplog.at_level("WARNING", logger="neutrino.agent.dhcp.agent"):
        agent.network_create_end({"network": {"id": net}})
        wait(lambda: ("get_network_info", (net,)) in plugin.calls)
        settle(agent)
    assert net not in host.applied
    assert any(net in r.getMessage() and "returned no network" in r.getMessage()
               for r in caplog.records if r.levelname == "WARNING")


def test_a_change_whose_cast_was_lost_is_served_after_a_revision_check(
        plugin: FakeDhcpPlugin, host: FakeDhcpHost, reports: FakeReports) -> None:
    """Issue 13: a port committed while its cast was lost (server replica killed, broker
    connection dropped) reached the agent only at the periodic full sync, minutes later."""
    agent = DhcpAgent(settings(revision_check_interval=0.05), HostNamespaces(), plugin,
                      reports, dhcp_host=host)
    net = plugin.add_network()
    agent.start()
    try:
        wait(lambda: net in host.applied)
        settle(agent)
        syncs = agent.full_syncs
        vm = plugin.add_port(net)  # no cast
        wait(lambda: vm["mac_address"] in host.applied[net].hosts)
        assert agent.full_syncs == syncs  # not a full sync: only the network that moved
    finally:
        agent.stop()


def test_revision_check_fetches_only_networks_that_moved(
        agent: DhcpAgent, plugin: FakeDhcpPlugin, host: FakeDhcpHost) -> None:
    quiet, busy = plugin.add_network(), plugin.add_network(cidr="10.0.1.0/24")
    agent.start()
    wait(lambda: {quiet, busy} <= set(host.applied))
    settle(agent)
    # The agent's own DHCP ports, made after it read the networks, moved both once.
    assert agent.check_revisions() == sorted([quiet, busy])
    settle(agent)
    assert agent.check_revisions() == []
    plugin.add_port(busy)
    assert agent.check_revisions() == [busy]
    settle(agent)
    assert agent.check_revisions() == []


def test_revision_check_drops_a_network_the_server_no_longer_gives(
        agent: DhcpAgent, plugin: FakeDhcpPlugin, host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    plugin.hosted.discard(net)  # unscheduled; the network_delete_end cast was lost
    assert agent.check_revisions() == [net]
    wait(lambda: net not in host.applied)


def test_a_failing_revision_check_queues_nothing(
        agent: DhcpAgent, plugin: FakeDhcpPlugin, host: FakeDhcpHost) -> None:
    net = plugin.add_network()
    agent.start()
    wait(lambda: net in host.applied)
    settle(agent)
    plugin.failing.add("get_network_revisions")
    plugin.add_port(net)
    assert agent.check_revisions() == []
    plugin.failing.clear()
    assert agent.check_revisions() == [net]
