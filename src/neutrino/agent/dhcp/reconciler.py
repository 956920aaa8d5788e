"""One network at a time: make the host serve what the server wants, or nothing.

`reconcile` is the single code path for applying state, whatever triggered it (a cast, a
full sync, a retry): it is given the network's info (or None when this agent does not host
it) and converges the host to it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

from neutrino.agent.dhcp import plan as planning
from neutrino.agent.dhcp.executor import DhcpHost, DnsmasqAction
from neutrino.lib import naming

LOG = logging.getLogger(__name__)


class DhcpPlugin(Protocol):
    """The server's DHCP plugin API as the agent calls it (`neutrino.rpc.agent.clients`)."""

    def get_active_networks_info(self) -> list[dict[str, Any]]: ...
    def get_network_info(self, network_id: str) -> dict[str, Any] | None: ...
    def create_dhcp_port(self, port: dict[str, Any]) -> dict[str, Any]: ...
    def update_dhcp_port(self, port_id: str, port: dict[str, Any]) -> dict[str, Any]: ...
    def release_dhcp_port(self, network_id: str, device_id: str) -> None: ...
    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None: ...
    def get_network_revisions(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class Served:
    """What the host serves for a network after a reconcile."""

    pid: int
    dhcp_port_id: str
    subnets: int
    ports: dict[str, str] = field(default_factory=dict)  # port id -> fingerprint
    # the network_info served (own port included)
    info: dict[str, Any] = field(default_factory=dict)


class Reconciler:
    def __init__(self, plugin: DhcpPlugin, host: DhcpHost, params: planning.PlanParams
                 ) -> None:
        self._plugin = plugin
        self._host = host
        self._params = params

    def device_id(self, network_id: str) -> str:
        return naming.dhcp_device_id(self._params.host, network_id)

    def reconcile(self, network_id: str, info: dict[str, Any] | None,
                  was_served: bool) -> Served | None:
        """Converge one network; the resulting service, or None when it is not served."""
        if not planning.wants_dhcp(info):
            removed = self._host.teardown(network_id)
            if removed or was_served or (
                    info and planning.own_dhcp_port(info, self.device_id(network_id))):
                LOG.info("Network %s: no longer served here, DHCP port released", network_id)
                self._plugin.release_dhcp_port(network_id, self.device_id(network_id))
            return None
        assert info is not None
        port, info = self._ensure_port(info)
        network_plan = planning.build_plan(info, port, self._params)
        for reason in network_plan.rejected:
            LOG.warning("Network %s: %s", network_id, reason)
        applied = self._host.apply(network_plan)
        if applied.action is not DnsmasqAction.NONE:
            LOG.info("Network %s: dnsmasq %s (pid %s)", network_id, applied.action.value,
                     applied.pid)
        elif not was_served:
            LOG.info("Network %s: adopted running dnsmasq (pid %s)", network_id, applied.pid)
        return Served(applied.pid, network_plan.dhcp_port_id, network_plan.subnet_count,
                      dict(network_plan.served_ports), info)

    def _ensure_port(self, info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The agent's DHCP port (created, or given IPs on new subnets, through the server)
        and the info as it is with that port."""
        port = planning.own_dhcp_port(info, self.device_id(info["id"]))
        request = planning.port_request(info, self._params, port)
        if request is None:
            assert port is not None
            return port, info
        if request.port_id is None:
            port = self._plugin.create_dhcp_port({"port": request.body})
        else:
            port = self._plugin.update_dhcp_port(request.port_id, {"port": request.body})
        # The plan must see the port as the server now has it (hosts, DNS servers).
        others = [p for p in info.get("ports") or [] if p.get("id") != port["id"]]
        return port, dict(info, ports=others + [port])
