"""The DHCP agent's view of the server: network_info, and the rules for its DHCP ports.

`network_infos` builds everything an agent serves in a fixed number of queries however
many networks it hosts (networks, their segments and subnets, their ports, their zones),
chunked to keep IN lists short.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from neutrino.core.dbutil import rowcount
from neutrino.core.resources import views
from neutrino.db.models import Agent, Network, NetworkDhcpAgentBinding, Port
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib.naming import dhcp_device_id

Binding = NetworkDhcpAgentBinding
_CHUNK = 500


class DhcpPortInUse(exc.InUse):
    message = "Port %(port_id)s is already acquired by another DHCP agent"


def unwrap_port(port: Mapping[str, Any]) -> dict[str, Any]:
    """Neutron's agents send {"port": {...}}; accept the bare body too."""
    inner = port.get("port")
    return dict(inner) if isinstance(inner, Mapping) else dict(port)


def dhcp_agent(session: Session, host: str) -> Agent | None:
    return session.scalars(select(Agent).where(
        Agent.agent_type == const.AGENT_TYPE_DHCP, Agent.host == host)).first()


def hosts_network(session: Session, host: str, network_id: str) -> bool:
    return bool(session.scalar(select(exists().where(
        Binding.network_id == network_id, Binding.dhcp_agent_id == Agent.id,
        Agent.agent_type == const.AGENT_TYPE_DHCP, Agent.host == host))))


def hosted_network_ids(session: Session, agent_id: str) -> list[str]:
    """Admin-up networks bound to the agent."""
    return list(session.scalars(
        select(Binding.network_id).join(Network, Network.id == Binding.network_id)
        .where(Binding.dhcp_agent_id == agent_id, Network.admin_state_up.is_(True))
        .order_by(Binding.network_id)))


def network_infos(session: Session, network_ids: Iterable[str], dns_domain: str
                  ) -> list[dict[str, Any]]:
    ids = sorted(set(network_ids))
    networks: list[Network] = []
    ports: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        networks.extend(session.scalars(select(Network).where(Network.id.in_(chunk))))
        for port in session.scalars(select(Port).where(Port.network_id.in_(chunk))
                                    .order_by(Port.network_id, Port.id)):
            ports[port.network_id].append(views.port_dict(port, dns_domain))
    networks.sort(key=lambda n: n.id)
    infos = []
    for net, net_dict in zip(networks, views.network_dicts(session, networks), strict=True):
        info = dict(net_dict)
        # Read with the network, before its ports: an agent holding this info has every
        # change up to this revision (and maybe later ones, which only cost a fetch).
        info["dhcp_revision"] = net.dhcp_revision
        info["subnets"] = [views.subnet_dict(s) for s in sorted(net.subnets,
                                                                key=lambda s: s.id)]
        info["non_local_subnets"] = []
        info["ports"] = ports[net.id]
        infos.append(info)
    return infos


def own_or_reserved_port(session: Session, host: str, network_id: str) -> tuple[str, bool] | None:
    """The port `host`'s agent should use on the network: its own (True) or a reserved one
    it has just taken over (False). None when it has to create one."""
    mine = dhcp_device_id(host, network_id)
    own = session.scalar(select(Port.id).where(
        Port.network_id == network_id, Port.device_id == mine).order_by(Port.id).limit(1))
    if own is not None:
        return own, True
    reserved = list(session.scalars(select(Port.id).where(
        Port.network_id == network_id, Port.device_owner == const.DEVICE_OWNER_DHCP,
        Port.device_id == const.DEVICE_ID_RESERVED_DHCP_PORT).order_by(Port.id)))
    for port_id in reserved:
        # Conditional: two agents adopting at once cannot both get the same port.
        taken = session.execute(
            update(Port).where(Port.id == port_id,
                               Port.device_id == const.DEVICE_ID_RESERVED_DHCP_PORT)
            .values(device_id=mine), execution_options={"synchronize_session": False})
        if rowcount(taken):
            return port_id, False
    return None


def check_port_owner(port: Port, host: str) -> None:
    """An agent may only change its own DHCP port or a reserved one."""
    if port.device_id not in (dhcp_device_id(host, port.network_id),
                              const.DEVICE_ID_RESERVED_DHCP_PORT):
        raise DhcpPortInUse(port_id=port.id)


def dhcp_port_body(host: str, network: Network, requested: Mapping[str, Any]
                   ) -> dict[str, Any]:
    """The body for a new DHCP port: what the agent asked for, with the server's say on
    who owns it and where it is bound."""
    body = {k: v for k, v in requested.items()
            if k in ("name", "fixed_ips", "mac_address", "description", "dns_name",
                     "extra_dhcp_opts", "admin_state_up")}
    body.update({
        "network_id": network.id,
        "tenant_id": network.project_id,
        "project_id": network.project_id,
        "device_id": dhcp_device_id(host, network.id),
        "device_owner": const.DEVICE_OWNER_DHCP,
        "binding:host_id": host,
    })
    return body
