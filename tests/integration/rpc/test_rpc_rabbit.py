"""The RPC layer on the real RabbitMQ: calls, remote errors, replicas, casts per host."""

from __future__ import annotations

import time
from collections.abc import Iterator

import oslo_messaging
import pytest
from support.rpc_fakes import RecordingAgent, RecordingCore, wait_until

from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import DhcpPluginClient, StateReportClient, serve_dhcp_agent
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.server.notifier import RpcDhcpNotifier
from neutrino.rpc.transport import get_transport

pytestmark = pytest.mark.rabbit


@pytest.fixture
def transport(rabbit) -> Iterator[oslo_messaging.Transport]:
    transport = get_transport(RpcSettings(rabbit.url, response_timeout=20))
    yield transport
    transport.cleanup()


def test_calls_and_remote_errors_over_rabbitmq(transport) -> None:
    core = RecordingCore()
    servers = start_rpc_servers(transport, core, host="server-1")
    try:
        answer = StateReportClient(transport, "HostA", timeout=10).report_state(
            {"agent_type": constants.AGENT_TYPE_DHCP}, start_flag=True)
        client = DhcpPluginClient(transport, "HostA")
        info = client.get_active_networks_info()
        with pytest.raises(oslo_messaging.RemoteError) as caught:
            client.get_network_info("boom")
    finally:
        servers.stop()
    assert answer == constants.AGENT_NEW
    assert info == [{"id": "n1", "subnets": [], "ports": []}]
    assert caught.value.exc_type == "NetworkNotFound"
    assert core.calls[0][1][0]["host"] == "HostA"


def test_replicas_consume_the_same_topics(rabbit) -> None:
    # Each replica is its own process in production: here its own transport (connection).
    transports = [get_transport(RpcSettings(rabbit.url, response_timeout=20))
                  for _ in range(3)]
    cores = [RecordingCore(), RecordingCore()]
    servers = [start_rpc_servers(t, c, host=f"server-{i}")
               for i, (t, c) in enumerate(zip(transports, cores, strict=False))]
    try:
        client = StateReportClient(transports[2], "HostA", timeout=10)
        answers = [client.report_state({"agent_type": "x"}, start_flag=False)
                   for _ in range(20)]
    finally:
        for server in servers:
            server.stop()
        for t in transports:
            t.cleanup()
    assert answers == [constants.AGENT_NEW] * 20
    assert len(cores[0].calls) + len(cores[1].calls) == 20
    assert cores[0].calls and cores[1].calls  # both replicas took a share


def test_casts_reach_only_the_named_hosts_agent(transport) -> None:
    agent_a, agent_b = RecordingAgent(), RecordingAgent()
    listeners = [serve_dhcp_agent(transport, "HostA", agent_a),
                 serve_dhcp_agent(transport, "HostB", agent_b)]
    try:
        notifier = RpcDhcpNotifier(transport)
        notifier.cast("HostA", constants.NETWORK_CREATE_END, {"network": {"id": "n1"}})
        notifier.cast("HostB", constants.PORT_DELETE_END,
                      {"port_id": "p", "network_id": "n2", "fixed_ips": []})
        notifier.cast("HostC", constants.NETWORK_CREATE_END, {"network": {"id": "n3"}})
        wait_until(lambda: agent_a.casts and agent_b.casts)
        time.sleep(0.5)  # anything misrouted would have arrived by now
    finally:
        for listener in listeners:
            listener.stop()
    assert agent_a.casts == [(constants.NETWORK_CREATE_END, {"network": {"id": "n1"}})]
    assert agent_b.casts == [(constants.PORT_DELETE_END,
                              {"port_id": "p", "network_id": "n2", "fixed_ips": []})]


def test_a_cast_with_the_broker_unreachable_is_dropped_not_raised(caplog) -> None:
    # Port 9 (discard) on loopback: nothing listens; the connection is refused at once.
    transport = get_transport(RpcSettings("rabbit://guest:guest@127.0.0.1:9/"))
    try:
        notifier = RpcDhcpNotifier(transport)
        notifier.cast("HostA", constants.NETWORK_CREATE_END, {"network": {"id": "n1"}})
    finally:
        transport.cleanup()
    assert "Dropped network_create_end cast to the DHCP agent on HostA" in caplog.text
