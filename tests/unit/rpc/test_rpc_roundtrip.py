"""The RPC layer end to end on oslo.messaging's in-process transport.

Each test uses its own control exchange: the fake driver's exchanges are process-wide.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import oslo_messaging
import pytest
from support.rpc_fakes import RecordingAgent, RecordingCore, wait_until

from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import (
    DhcpPluginClient,
    L2PluginClient,
    StateReportClient,
    _Client,
    serve_dhcp_agent,
)
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.server.notifier import RpcDhcpNotifier
from neutrino.rpc.transport import get_transport


@pytest.fixture
def transport() -> Iterator[oslo_messaging.Transport]:
    settings = RpcSettings("fake://", control_exchange=f"nt-{secrets.token_hex(4)}",
                           response_timeout=10)
    transport = get_transport(settings)
    yield transport


@pytest.fixture
def core(transport: oslo_messaging.Transport) -> Iterator[RecordingCore]:
    core = RecordingCore()
    servers = start_rpc_servers(transport, core, host="server-1")
    yield core
    servers.stop()


def test_report_state_unwraps_the_state_and_answers(transport, core) -> None:
    client = StateReportClient(transport, "HostA", timeout=5)
    answer = client.report_state({"agent_type": constants.AGENT_TYPE_DHCP,
                                  "configurations": {"networks": 0}}, start_flag=True)
    assert answer == constants.AGENT_NEW
    name, (state, time) = core.calls[-1]
    assert name == "report_state"
    assert state == {"agent_type": constants.AGENT_TYPE_DHCP,
                     "configurations": {"networks": 0}, "host": "HostA",
                     "start_flag": True}
    assert time  # the agent's time, informational


def test_report_state_without_start_flag_omits_it(transport, core) -> None:
    StateReportClient(transport, "HostA").report_state({"agent_type": "x"}, start_flag=False)
    assert "start_flag" not in core.calls[-1][1][0]


def test_a_malformed_report_comes_back_as_invalid_input(transport, core) -> None:
    # A raw client: StateReportClient always sends a well-formed report.
    client = _Client(transport, constants.TOPIC_REPORTS, timeout=5)
    with pytest.raises(oslo_messaging.RemoteError) as caught:
        client.call({}, "report_state", agent_state={"host": "HostA"}, time=None)
    assert caught.value.exc_type == "InvalidInput"
    assert core.calls[-1] == ("report_state", ({"host": "HostA"}, None))


def test_dhcp_plugin_api_passes_the_agents_host(transport, core) -> None:
    client = DhcpPluginClient(transport, "HostB")
    assert client.get_active_networks_info() == [{"id": "n1", "subnets": [], "ports": []}]
    assert client.get_network_info("n2") == {"id": "n2"}
    assert client.get_network_info("missing") is None
    assert client.create_dhcp_port({"network_id": "n2"}) == {"network_id": "n2", "id": "p1"}
    assert client.update_dhcp_port("p9", {"fixed_ips": []}) == {"fixed_ips": [], "id": "p9"}
    assert client.release_dhcp_port("n2", "dev") is None
    assert client.dhcp_ready_on_ports(["p1", "p2"]) is None
    assert core.calls == [
        ("get_active_networks_info", ("HostB",)),
        ("get_network_info", ("n2", "HostB")),
        ("get_network_info", ("missing", "HostB")),
        ("create_dhcp_port", ("HostB", {"network_id": "n2"})),
        ("update_dhcp_port", ("HostB", "p9", {"fixed_ips": []})),
        ("release_dhcp_port", ("HostB", "n2", "dev")),
        ("dhcp_ready_on_ports", (["p1", "p2"],)),
    ]


def test_network_revisions_in_neutrinos_own_namespace(transport, core) -> None:
    assert DhcpPluginClient(transport, "HostB").get_network_revisions() == {"n1": 7}
    assert core.calls == [("get_network_revisions", ("HostB",))]
    # Not one of Neutron's DHCP plugin methods: outside the namespace it does not exist.
    with pytest.raises(oslo_messaging.MessagingException, match="get_network_revisions"):
        _Client(transport, constants.TOPIC_PLUGIN, timeout=5).call(
            {}, "get_network_revisions", host="HostB")


def test_l2_api_passes_the_agents_host(transport, core) -> None:
    client = L2PluginClient(transport, "HostA")
    assert client.get_device_details("tap1") == {"device": "tap1"}
    client.update_device_up("tap1")
    client.update_device_down("tap1")
    assert client.get_ports_on_host() == []
    assert core.calls == [
        ("get_device_details", ("HostA", "tap1")),
        ("update_device_up", ("HostA", "tap1")),
        ("update_device_down", ("HostA", "tap1")),
        ("get_ports_on_host", ("HostA",)),
    ]


def test_core_errors_come_back_as_remote_errors(transport, core) -> None:
    with pytest.raises(oslo_messaging.RemoteError) as caught:
        DhcpPluginClient(transport, "HostA").get_network_info("boom")
    assert caught.value.exc_type == "NetworkNotFound"
    assert "Network boom could not be found." in caught.value.value


def test_two_server_replicas_share_the_work(transport, core) -> None:
    second = RecordingCore()
    servers = start_rpc_servers(transport, second, host="server-2")
    try:
        client = StateReportClient(transport, "HostA")
        for _ in range(20):
            client.report_state({"agent_type": "x"}, start_flag=False)
    finally:
        servers.stop()
    assert len(core.calls) + len(second.calls) == 20


def test_every_cast_reaches_only_the_named_host(transport) -> None:
    agent_a, agent_b = RecordingAgent(), RecordingAgent()
    listener_a = serve_dhcp_agent(transport, "HostA", agent_a)
    listener_b = serve_dhcp_agent(transport, "HostB", agent_b)
    try:
        notifier = RpcDhcpNotifier(transport)
        for method in constants.DHCP_AGENT_CASTS:
            notifier.cast("HostA", method, {"network_id": "n1", "method": method})
        wait_until(lambda: len(agent_a.casts) == len(constants.DHCP_AGENT_CASTS))
        notifier.cast("HostB", constants.PORT_CREATE_END, {"port": {"id": "p"}})
        wait_until(lambda: agent_b.casts)
    finally:
        listener_a.stop()
        listener_b.stop()
    assert sorted(m for m, _ in agent_a.casts) == sorted(constants.DHCP_AGENT_CASTS)
    assert all(p == {"network_id": "n1", "method": m} for m, p in agent_a.casts)
    assert agent_b.casts == [(constants.PORT_CREATE_END, {"port": {"id": "p"}})]


def test_a_cast_to_an_unknown_method_does_not_reach_the_agent(transport) -> None:
    agent = RecordingAgent()
    listener = serve_dhcp_agent(transport, "HostA", agent)
    try:
        notifier = RpcDhcpNotifier(transport)
        notifier.cast("HostA", "_private", {})
        notifier.cast("HostA", "no_such_cast", {})
        notifier.cast("HostA", constants.AGENT_UPDATED, {"admin_state_up": False})
        wait_until(lambda: agent.casts)
    finally:
        listener.stop()
    assert agent.casts == [(constants.AGENT_UPDATED, {"admin_state_up": False})]


def test_an_endpoint_error_does_not_stop_the_listener(transport) -> None:
    class Flaky(RecordingAgent):
        def port_update_end(self, payload: dict) -> None:
            raise RuntimeError("broken")

    agent = Flaky()
    listener = serve_dhcp_agent(transport, "HostA", agent)
    try:
        notifier = RpcDhcpNotifier(transport)
        notifier.cast("HostA", constants.PORT_UPDATE_END, {"port": {}})
        notifier.cast("HostA", constants.PORT_DELETE_END, {"port_id": "p"})
        wait_until(lambda: agent.casts)
    finally:
        listener.stop()
    assert agent.casts == [(constants.PORT_DELETE_END, {"port_id": "p"})]


def test_a_call_nobody_answers_times_out(transport) -> None:
    client = DhcpPluginClient(transport, "HostA", timeout=0.3)
    with pytest.raises(oslo_messaging.MessagingTimeout):
        client.get_active_networks_info()
