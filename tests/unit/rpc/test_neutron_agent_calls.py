"""The calls Neutron's own `neutron-dhcp-agent` makes on `q-plugin`, made as it makes them
(a plain oslo.messaging client, no namespace, each method at the version Neutron's
DhcpPluginApi pins, an admin context) through the real RPC layer."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import oslo_messaging
import pytest
from support.rpc_fakes import RecordingCore

from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import admin_context
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.transport import get_transport


@pytest.fixture
def transport() -> Iterator[oslo_messaging.Transport]:
    settings = RpcSettings("fake://", control_exchange=f"nt-{secrets.token_hex(4)}",
                           response_timeout=10)
    yield get_transport(settings)


@pytest.fixture
def core(transport: oslo_messaging.Transport) -> Iterator[RecordingCore]:
    core = RecordingCore()
    servers = start_rpc_servers(transport, core, host="server-1")
    yield core
    servers.stop()


def neutron_call(transport: oslo_messaging.Transport, version: str, method: str,
                 **kwargs: Any) -> Any:
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=constants.TOPIC_PLUGIN, version="1.0"),
        timeout=5)
    return client.prepare(version=version).call(admin_context(), method, **kwargs)


def error_name(error: BaseException) -> str:
    # Over RabbitMQ the server's error is a RemoteError naming it; the in-process transport
    # hands back the exception itself.
    if isinstance(error, oslo_messaging.RemoteError):
        return str(error.exc_type)
    return type(error).__name__


def test_get_ports_at_1_0_with_the_agents_filters(transport, core) -> None:
    filters = {"device_owner": ["network:distributed"], "device_id": ["ovnmeta-n1"]}
    assert neutron_call(transport, "1.0", "get_ports", filters=filters) == [{"id": "p1"}]
    assert core.calls == [("get_ports", (filters,))]


def test_get_networks_at_1_7(transport, core) -> None:
    answer = neutron_call(transport, "1.7", "get_networks", filters={"id": ["n1"]},
                          fields=["id"])
    assert answer == [{"id": "n1"}]
    assert core.calls == [("get_networks", ({"id": ["n1"]}, ["id"]))]


def test_get_dhcp_port_at_1_8(transport, core) -> None:
    assert neutron_call(transport, "1.8", "get_dhcp_port", port_id="p7") == {"id": "p7"}
    with pytest.raises(Exception) as caught:
        neutron_call(transport, "1.8", "get_dhcp_port", port_id="gone")
    assert error_name(caught.value) == "PortNotFound"


@pytest.mark.parametrize(("version", "method", "kwargs"), [
    ("1.1", "get_active_networks_info", {"host": "HostA", "enable_dhcp_filter": True}),
    ("1.0", "get_network_info", {"network_id": "n2", "host": "HostA"}),
    ("1.1", "create_dhcp_port", {"port": {"port": {"network_id": "n2"}}, "host": "HostA"}),
    ("1.1", "update_dhcp_port", {"port_id": "p9", "port": {"port": {}}, "host": "HostA"}),
    ("1.0", "release_dhcp_port", {"network_id": "n2", "device_id": "d", "host": "HostA"}),
    ("1.5", "dhcp_ready_on_ports", {"port_ids": ["p1"]}),
    ("1.10", "get_network_info", {"network_id": "n2", "host": "HostA"}),
])
def test_every_call_of_neutrons_dhcp_agent_is_answered(transport, core, version, method,
                                                       kwargs) -> None:
    neutron_call(transport, version, method, **kwargs)
    assert core.calls[-1][0] == method


@pytest.mark.parametrize("version", ["1.11", "2.0"])
def test_a_version_this_server_does_not_speak_fails_loudly(transport, core, version) -> None:
    with pytest.raises(Exception) as caught:
        neutron_call(transport, version, "get_network_info", network_id="n2", host="HostA")
    assert error_name(caught.value) == "UnsupportedVersion"
    assert core.calls == []


def test_get_ports_above_1_0_is_not_the_metadata_callback(transport, core) -> None:
    # Neutron's metadata callback is 1.0 only; the DHCP callback (1.10) has no get_ports.
    with pytest.raises(Exception) as caught:
        neutron_call(transport, "1.1", "get_ports", filters={})
    assert error_name(caught.value) == "NoSuchMethod"


def test_neutrinos_agents_send_neutrons_admin_context(transport) -> None:
    from neutrino.rpc.agent.clients import DhcpPluginClient

    seen: list[dict[str, Any]] = []

    class Endpoint:
        target = oslo_messaging.Target(version="1.10")

        def get_network_info(self, context: dict[str, Any], network_id: str,
                             host: str) -> None:
            seen.append(context)

    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=constants.TOPIC_PLUGIN, server="neutron"),
        [Endpoint()], access_policy=oslo_messaging.DefaultRPCAccessPolicy)
    server.start()
    try:
        assert DhcpPluginClient(transport, "HostA").get_network_info("n1") is None
        DhcpPluginClient(transport, "HostA").get_network_info("n1")
    finally:
        server.stop()
        server.wait()
    first, second = seen
    assert first["is_admin"] is True
    assert set(first["roles"]) == {"admin", "member", "reader"}
    assert first["project_id"] is None and first["tenant_id"] is None
    assert first["user_id"] is None
    assert first["request_id"].startswith("req-")
    assert first["request_id"] != second["request_id"]
