"""What travels between the server and the agents: the casts' payloads, the network info
the DHCP agents fetch and the security group info the Linux bridge agents fetch. Shapes as
Neutron's (the security group ones: README, "Security groups"), defined once for both
sides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


# --- security groups (fanout casts to the Linux bridge agents, and their one call) -------

class SecurityGroupsChanged(TypedDict):
    """security_groups_rule_updated and security_groups_member_updated."""
    security_groups: list[str]


# port_update(port=<port dict>) carries what PortEnd does.
FanoutPayload = SecurityGroupsChanged | PortEnd


def security_groups_changed(group_ids: Iterable[str]) -> SecurityGroupsChanged:
    return {"security_groups": sorted(set(group_ids))}


class AddressPair(TypedDict):
    ip_address: str
    mac_address: str


class DeviceSecurity(TypedDict):
    """One port as security_group_info_for_devices describes it."""
    id: str
    device: str
    network_id: str
    mac_address: str
    fixed_ips: list[str]
    device_owner: str
    port_security_enabled: bool
    security_groups: list[str]
    allowed_address_pairs: list[AddressPair]
    dhcp_server_ips: list[str]


class RuleInfo(TypedDict):
    id: str
    security_group_id: str
    direction: str
    ethertype: str
    protocol: str | None
    port_range_min: int | None
    port_range_max: int | None
    remote_ip_prefix: str | None
    remote_group_id: str | None


class SecurityGroupInfo(TypedDict):
    devices: dict[str, DeviceSecurity]
    security_groups: dict[str, list[RuleInfo]]
    sg_member_ips: dict[str, dict[str, list[str]]]
    sg_stateful: dict[str, bool]
