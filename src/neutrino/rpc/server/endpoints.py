"""Server-side RPC endpoints: wire adapters from Neutron's RPC methods to core.

No behaviour lives here. Core's errors are Neutron error types that callers expect (a port
that vanished, a network no longer hosted); they go back to the caller as remote errors
without a traceback in the server log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import oslo_messaging

from neutrino.core.services.agents import AgentService
from neutrino.core.services.dhcp_plugin import DhcpPluginService
from neutrino.core.services.l2_plugin import L2PluginService
from neutrino.core.services.securitygroups import SecurityGroupRpcService
from neutrino.lib import constants
from neutrino.lib.exceptions import NeutronException

_F = TypeVar("_F", bound=Callable[..., Any])


def _expected(method: _F) -> _F:
    """oslo.messaging's expected_exceptions for Neutron's errors. oslo.messaging is
    untyped; its wrapper keeps the method's signature."""
    wrapped: _F = oslo_messaging.expected_exceptions(NeutronException)(method)
    return wrapped


class ReportStateEndpoint:
    """Topic `q-reports-plugin` (Neutron's AgentExtRpcCallback)."""

    target = oslo_messaging.Target(version="1.4")

    def __init__(self, agents: AgentService) -> None:
        self._agents = agents

    @_expected
    def report_state(self, context: Any, agent_state: dict[str, Any],
                     time: str | None = None) -> str:
        # Neutron wraps the state once more on the wire ({"agent_state": {...}}); core
        # unwraps it and answers a malformed report with InvalidInput.
        return self._agents.report_state(agent_state, time=time)


class DhcpPluginEndpoint:
    """Topic `q-plugin`: the DHCP agent's calls (Neutron's DhcpRpcCallback, 1.10: 1.7 added
    get_networks, 1.8 get_dhcp_port). A caller asking for a later minor version gets
    oslo.messaging's UnsupportedVersion from the dispatcher, logged on both sides, instead of
    a method that half works."""

    target = oslo_messaging.Target(version="1.10")

    def __init__(self, plugin: DhcpPluginService) -> None:
        self._plugin = plugin

    @_expected
    def get_active_networks_info(self, context: Any, host: str, **_: Any) -> list[dict[str, Any]]:
        # enable_dhcp_filter (Neutron 1.9) changes nothing: only DHCP-enabled subnets are
        # returned either way.
        return self._plugin.get_active_networks_info(host)

    @_expected
    def get_network_info(self, context: Any, network_id: str, host: str) -> dict[str, Any] | None:
        return self._plugin.get_network_info(network_id, host)

    @_expected
    def create_dhcp_port(self, context: Any, port: dict[str, Any], host: str) -> dict[str, Any]:
        return self._plugin.create_dhcp_port(host, port)

    @_expected
    def update_dhcp_port(self, context: Any, port_id: str, port: dict[str, Any],
                         host: str) -> dict[str, Any]:
        return self._plugin.update_dhcp_port(host, port_id, port)

    @_expected
    def release_dhcp_port(self, context: Any, network_id: str, device_id: str,
                          host: str) -> None:
        self._plugin.release_dhcp_port(host, network_id, device_id)

    @_expected
    def dhcp_ready_on_ports(self, context: Any, port_ids: list[str]) -> None:
        self._plugin.dhcp_ready_on_ports(port_ids)

    @_expected
    def get_networks(self, context: Any, filters: Any = None,
                     fields: Any = None) -> list[dict[str, Any]]:
        return self._plugin.get_networks(filters, fields)

    @_expected
    def get_dhcp_port(self, context: Any, port_id: str) -> dict[str, Any]:
        return self._plugin.get_dhcp_port(port_id)


class DhcpRevisionsEndpoint:
    """Topic `q-plugin`, namespace `neutrino.dhcp`: Neutrino's addition to the DHCP plugin
    API, in a namespace of its own so Neutron's methods and versions stay as they are."""

    target = oslo_messaging.Target(namespace=constants.NAMESPACE_DHCP_REVISIONS,
                                   version="1.0")

    def __init__(self, plugin: DhcpPluginService) -> None:
        self._plugin = plugin

    @_expected
    def get_network_revisions(self, context: Any, host: str) -> dict[str, int]:
        return self._plugin.get_network_revisions(host)


class MetadataEndpoint:
    """Topic `q-plugin`: Neutron's MetadataRpcCallback (1.0). Neutron's DHCP agent calls its
    `get_ports` at version 1.0 while writing a network's options file."""

    target = oslo_messaging.Target(version="1.0")

    def __init__(self, plugin: DhcpPluginService) -> None:
        self._plugin = plugin

    @_expected
    def get_ports(self, context: Any, filters: Any) -> list[dict[str, Any]]:
        return self._plugin.get_ports(filters)


class L2PluginEndpoint:
    """Topic `q-plugin`: the Linux bridge agent's device calls."""

    target = oslo_messaging.Target(version="1.5")

    def __init__(self, plugin: L2PluginService) -> None:
        self._plugin = plugin

    @_expected
    def get_device_details(self, context: Any, device: str, host: str, **_: Any) -> dict[str, Any]:
        return self._plugin.get_device_details(host, device)

    @_expected
    def update_device_up(self, context: Any, device: str, host: str, **_: Any) -> None:
        self._plugin.update_device_up(host, device)

    @_expected
    def update_device_down(self, context: Any, device: str, host: str, **_: Any) -> None:
        self._plugin.update_device_down(host, device)

    @_expected
    def get_ports_on_host(self, context: Any, host: str) -> list[dict[str, Any]]:
        return self._plugin.get_ports_on_host(host)


class SecurityGroupEndpoint:
    """Topic `q-plugin`, namespace `secgroup`: what the Linux bridge agents filter their
    ports by (Neutron's SecurityGroupServerRpcCallback, 1.2)."""

    target = oslo_messaging.Target(version="1.2", namespace=constants.RPC_NAMESPACE_SECGROUP)

    def __init__(self, service: SecurityGroupRpcService) -> None:
        self._service = service

    @_expected
    def security_group_info_for_devices(self, context: Any, devices: Any = None,
                                        **_: Any) -> dict[str, Any]:
        found = self._service.info_for_devices(devices if isinstance(devices, list) else [])
        return dict(found)
