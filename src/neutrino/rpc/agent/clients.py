"""Agent-side RPC: proxies for the server's APIs and the DHCP agent's cast listener.

Every proxy call is an oslo.messaging `call`; the server's errors arrive as
`oslo_messaging.RemoteError` (its `exc_type` is the Neutron error's name).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import oslo_messaging

from neutrino.lib import constants, payloads

LOG = logging.getLogger(__name__)



def admin_context() -> dict[str, Any]:
    """The context Neutron's agents send (neutron_lib's admin context without a session,
    serialised): admin, no project. A Neutron server scopes every query by this context, so
    an empty one would make it answer as a project that owns nothing. A fresh request id per
    call, as Neutron makes a new context per call, so the server can tell requests apart."""
    return {
        "user_id": None, "user": None, "user_name": None, "user_domain": None,
        "project_id": None, "tenant_id": None, "project": None, "tenant": None,
        "project_name": None, "tenant_name": None, "project_domain": None, "domain": None,
        "system_scope": None, "is_admin": True, "is_admin_project": True,
        "roles": ["admin", "member", "reader"], "read_only": False, "show_deleted": False,
        "auth_token": None, "request_id": f"req-{uuid.uuid4()}", "global_request_id": None,
        "resource_uuid": None, "user_identity": "- - - - -",
        "timestamp": str(datetime.now(UTC).replace(tzinfo=None)),
    }


class _Client:
    """An RPC client whose server-side errors are `RemoteError` on every transport."""

    def __init__(self, transport: oslo_messaging.Transport, topic: str,
                 timeout: float | None, retry: int | None = None,
                 namespace: str | None = None) -> None:
        self._client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=topic, namespace=namespace),
            timeout=timeout, retry=retry)

    def call(self, context: dict[str, Any], method: str, version: str | None = None,
             namespace: str | None = None, **kwargs: Any) -> Any:
        # `version`: the API version the method needs (as Neutron's agents pin it); a server
        # that does not speak it answers UnsupportedVersion instead of half working.
        prepared = {k: v for k, v in (("version", version), ("namespace", namespace)) if v}
        client = self._client.prepare(**prepared) if prepared else self._client
        try:
            return client.call(context, method, **kwargs)
        except oslo_messaging.MessagingException:
            raise
        except Exception as exc:
            # The in-process transport hands back the server's exception object itself;
            # agents must see what they would see over RabbitMQ.
            raise oslo_messaging.RemoteError(type(exc).__name__, str(exc)) from exc


def _client(transport: oslo_messaging.Transport, topic: str,
            timeout: float | None = None, retry: int | None = None,
            namespace: str | None = None) -> _Client:
    return _Client(transport, topic, timeout, retry, namespace)


# A heartbeat sent during a broker outage must fail, not wait for the broker: the failure is
# what tells the agent to resync once reports get through again (casts were lost meanwhile).
_REPORT_RETRIES = 1


class StateReportClient:
    """`report_state` to `q-reports-plugin`; answers "new", "alive" or "revived"."""

    def __init__(self, transport: oslo_messaging.Transport, host: str,
                 timeout: float | None = None) -> None:
        self.host = host
        # A report older than the next one is worthless: callers pass report_interval.
        self._client = _client(transport, constants.TOPIC_REPORTS, timeout, _REPORT_RETRIES)

    def report_state(self, agent_state: dict[str, Any], start_flag: bool) -> str:
        state = dict(agent_state, host=self.host)
        if start_flag:
            state["start_flag"] = True
        # Neutron's wire format; the agent's clock is informational only.
        now = datetime.now(UTC).replace(tzinfo=None).isoformat()
        answer: str = self._client.call(
            admin_context(), "report_state", agent_state={"agent_state": state}, time=now)
        return answer


class DhcpPluginClient:
    """The DHCP plugin API on `q-plugin`, on behalf of the agent on `host`."""

    def __init__(self, transport: oslo_messaging.Transport, host: str,
                 timeout: float | None = None) -> None:
        self.host = host
        self._client = _client(transport, constants.TOPIC_PLUGIN, timeout)

    def get_active_networks_info(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._client.call(
            admin_context(), "get_active_networks_info", version="1.1", host=self.host)
        return answer

    def get_network_info(self, network_id: str) -> dict[str, Any] | None:
        answer: dict[str, Any] | None = self._client.call(
            admin_context(), "get_network_info", network_id=network_id, host=self.host)
        return answer

    def create_dhcp_port(self, port: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.call(
            admin_context(), "create_dhcp_port", version="1.1", port=port, host=self.host)
        return answer

    def update_dhcp_port(self, port_id: str, port: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.call(
            admin_context(), "update_dhcp_port", version="1.1", port_id=port_id, port=port,
            host=self.host)
        return answer

    def release_dhcp_port(self, network_id: str, device_id: str) -> None:
        self._client.call(admin_context(), "release_dhcp_port", network_id=network_id,
                          device_id=device_id, host=self.host)

    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None:
        self._client.call(admin_context(), "dhcp_ready_on_ports", version="1.5",
                          port_ids=list(port_ids))

    def get_network_revisions(self) -> dict[str, int]:
        """Neutrino's own method (a Neutron server answers it with an error)."""
        answer: dict[str, int] = self._client.call(
            admin_context(), "get_network_revisions", version="1.0",
            namespace=constants.NAMESPACE_DHCP_REVISIONS, host=self.host)
        return answer


class L2PluginClient:
    """The Linux bridge agent's device API on `q-plugin`."""

    def __init__(self, transport: oslo_messaging.Transport, host: str,
                 timeout: float | None = None) -> None:
        self.host = host
        self._client = _client(transport, constants.TOPIC_PLUGIN, timeout)

    def get_device_details(self, device: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.call(
            admin_context(), "get_device_details", device=device, host=self.host)
        return answer

    def update_device_up(self, device: str) -> None:
        self._client.call(admin_context(), "update_device_up", device=device, host=self.host)

    def update_device_down(self, device: str) -> None:
        self._client.call(admin_context(), "update_device_down", device=device, host=self.host)

    def get_ports_on_host(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = self._client.call(
            admin_context(), "get_ports_on_host", host=self.host)
        return answer


class SecurityGroupPluginClient:
    """The security group API (`secgroup` namespace on `q-plugin`, Neutron's
    SecurityGroupServerRpcApi 1.2) the L2 agent reads its ports' filters from."""

    def __init__(self, transport: oslo_messaging.Transport, host: str,
                 timeout: float | None = None) -> None:
        self.host = host
        self._client = _client(transport, constants.TOPIC_PLUGIN, timeout,
                               namespace=constants.RPC_NAMESPACE_SECGROUP)

    def security_group_info_for_devices(self, devices: list[str]) -> dict[str, Any]:
        answer: dict[str, Any] = self._client.call(
            admin_context(), "security_group_info_for_devices", version="1.2",
            devices=list(devices))
        return answer


class LinuxBridgeAgentCasts(Protocol):
    """What a Linux bridge agent hears; each only marks work for its loop."""

    def security_groups_rule_updated(self, security_groups: list[str]) -> None: ...
    def security_groups_member_updated(self, security_groups: list[str]) -> None: ...
    def port_update(self, port: dict[str, Any]) -> None: ...


class LinuxBridgeAgentEndpoint:
    """The wire side of `LinuxBridgeAgentCasts`: strips the RPC context (and the extra
    arguments Neutron servers send with `port_update`)."""

    # The highest minor version Neutron's servers cast these with.
    target = oslo_messaging.Target(version="1.4")

    def __init__(self, agent: LinuxBridgeAgentCasts) -> None:
        self._agent = agent

    def security_groups_rule_updated(self, context: Any, security_groups: list[str]) -> None:
        self._agent.security_groups_rule_updated(list(security_groups))

    def security_groups_member_updated(self, context: Any,
                                       security_groups: list[str]) -> None:
        self._agent.security_groups_member_updated(list(security_groups))

    def port_update(self, context: Any, port: dict[str, Any], **_: Any) -> None:
        self._agent.port_update(port)


class Listeners:
    """Running cast listeners; `stop()` waits for the casts in flight."""

    def __init__(self) -> None:
        self._servers: list[oslo_messaging.MessageHandlingServer] = []

    def add(self, server: oslo_messaging.MessageHandlingServer) -> None:
        self._servers.append(server)

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        self._servers = []


def serve_linuxbridge_agent(transport: oslo_messaging.Transport, host: str,
                            endpoint: LinuxBridgeAgentCasts) -> Listeners:
    """Receive the security group and port update casts (fanout to every agent)."""
    listeners = Listeners()
    try:
        for topic in (constants.TOPIC_SECURITY_GROUP_UPDATE, constants.TOPIC_PORT_UPDATE):
            server = oslo_messaging.get_rpc_server(
                transport, oslo_messaging.Target(topic=topic, server=host),
                [LinuxBridgeAgentEndpoint(endpoint)],
                access_policy=oslo_messaging.DefaultRPCAccessPolicy)
            server.start()
            listeners.add(server)
    except BaseException:
        listeners.stop()
        raise
    return listeners


class DhcpAgentCasts(Protocol):
    """What a DHCP agent handles; each takes the cast's payload."""

    def network_create_end(self, payload: payloads.NetworkCreateEnd) -> None: ...
    def network_update_end(self, payload: payloads.NetworkUpdateEnd) -> None: ...
    def network_delete_end(self, payload: payloads.NetworkDeleteEnd) -> None: ...
    def subnet_create_end(self, payload: payloads.SubnetEnd) -> None: ...
    def subnet_update_end(self, payload: payloads.SubnetEnd) -> None: ...
    def subnet_delete_end(self, payload: payloads.SubnetDeleteEnd) -> None: ...
    def port_create_end(self, payload: payloads.PortEnd) -> None: ...
    def port_update_end(self, payload: payloads.PortEnd) -> None: ...
    def port_delete_end(self, payload: payloads.PortDeleteEnd) -> None: ...
    def agent_updated(self, payload: payloads.AgentUpdated) -> None: ...


class DhcpAgentEndpoint:
    """The wire side of `DhcpAgentCasts`: strips the RPC context, nothing else."""

    target = oslo_messaging.Target(version="1.0")

    def __init__(self, agent: DhcpAgentCasts) -> None:
        self._agent = agent

    def network_create_end(self, context: Any, payload: payloads.NetworkCreateEnd) -> None:
        self._agent.network_create_end(payload)

    def network_update_end(self, context: Any, payload: payloads.NetworkUpdateEnd) -> None:
        self._agent.network_update_end(payload)

    def network_delete_end(self, context: Any, payload: payloads.NetworkDeleteEnd) -> None:
        self._agent.network_delete_end(payload)

    def subnet_create_end(self, context: Any, payload: payloads.SubnetEnd) -> None:
        self._agent.subnet_create_end(payload)

    def subnet_update_end(self, context: Any, payload: payloads.SubnetEnd) -> None:
        self._agent.subnet_update_end(payload)

    def subnet_delete_end(self, context: Any, payload: payloads.SubnetDeleteEnd) -> None:
        self._agent.subnet_delete_end(payload)

    def port_create_end(self, context: Any, payload: payloads.PortEnd) -> None:
        self._agent.port_create_end(payload)

    def port_update_end(self, context: Any, payload: payloads.PortEnd) -> None:
        self._agent.port_update_end(payload)

    def port_delete_end(self, context: Any, payload: payloads.PortDeleteEnd) -> None:
        self._agent.port_delete_end(payload)

    def agent_updated(self, context: Any, payload: payloads.AgentUpdated) -> None:
        self._agent.agent_updated(payload)


class DhcpAgentListener:
    """A running cast listener; `stop()` waits for the casts in flight."""

    def __init__(self, server: oslo_messaging.MessageHandlingServer) -> None:
        self._server: oslo_messaging.MessageHandlingServer | None = server

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server.wait()
            self._server = None


def serve_dhcp_agent(transport: oslo_messaging.Transport, host: str,
                     endpoint: DhcpAgentCasts) -> DhcpAgentListener:
    """Receive the casts for `host`'s DHCP agent (`dhcp_agent.<host>` and the fanout)."""
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=constants.TOPIC_DHCP_AGENT, server=host),
        [DhcpAgentEndpoint(endpoint)], access_policy=oslo_messaging.DefaultRPCAccessPolicy)
    server.start()
    return DhcpAgentListener(server)
