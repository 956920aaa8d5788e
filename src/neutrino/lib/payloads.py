"""What travels between the server and the DHCP agents: the casts' payloads and the network
info the agents fetch. Shapes as Neutron's, defined once for both sides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

# A network, subnet or port as the API shows it (every attribute; "binding:host_id" and
# friends are not identifiers, so these stay plain dicts).
Resource = dict[str, Any]

# A network the agent serves: the network's attributes plus "subnets" (subnet dicts, sorted
# by id) and "ports" (every port of the network, DHCP ports included).
NetworkInfo = dict[str, Any]


class FixedIp(TypedDict):
    subnet_id: str
    ip_address: str


class NetworkRef(TypedDict):
    id: str


class NetworkCreateEnd(TypedDict):
    network: NetworkRef


class NetworkUpdateEnd(TypedDict):
    network: Resource


class NetworkDeleteEnd(TypedDict):
    network_id: str


class SubnetEnd(TypedDict):
    """subnet_create_end and subnet_update_end."""
    subnet: Resource


class SubnetDeleteEnd(TypedDict):
    subnet_id: str
    network_id: str


class PortEnd(TypedDict):
    """port_create_end and port_update_end: the whole port, so the agent needs no call."""
    port: Resource


class PortDeleteEnd(TypedDict):
    port_id: str
    network_id: str
    fixed_ips: list[FixedIp]


class AgentUpdated(TypedDict):
    admin_state_up: bool


Payload = (NetworkCreateEnd | NetworkUpdateEnd | NetworkDeleteEnd | SubnetEnd
           | SubnetDeleteEnd | PortEnd | PortDeleteEnd | AgentUpdated)


def network_create(network_id: str) -> NetworkCreateEnd:
    return {"network": {"id": network_id}}


def network_update(network: Resource) -> NetworkUpdateEnd:
    return {"network": network}


def network_delete(network_id: str) -> NetworkDeleteEnd:
    return {"network_id": network_id}


def subnet_event(subnet: Resource) -> SubnetEnd:
    return {"subnet": subnet}


def subnet_delete(subnet: Mapping[str, Any]) -> SubnetDeleteEnd:
    return {"subnet_id": subnet["id"], "network_id": subnet["network_id"]}


def port_event(port: Resource) -> PortEnd:
    return {"port": port}


def port_delete(port: Mapping[str, Any]) -> PortDeleteEnd:
    ips: Sequence[FixedIp] = port.get("fixed_ips") or []
    return {"port_id": port["id"], "network_id": port["network_id"], "fixed_ips": list(ips)}


def agent_updated(admin_state_up: bool) -> AgentUpdated:
    return {"admin_state_up": admin_state_up}
