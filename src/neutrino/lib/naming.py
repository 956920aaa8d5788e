"""How host objects are named from API ids, shared by the agents, the lab and the tests."""

import uuid

# Linux interface names are at most 15 characters.
_ID_CHARS = 11


def tap_name(port_id: str) -> str:
    """The host-side device of a port (`tap` + 11 characters of the port id)."""
    return "tap" + port_id[:_ID_CHARS]


def ns_device_name(port_id: str) -> str:
    """The namespace side of a DHCP port's veth pair."""
    return "ns-" + port_id[:_ID_CHARS]


def bridge_name(network_id: str) -> str:
    """The Linux bridge of a network (`brq` + 11 characters of the network id)."""
    return "brq" + network_id[:_ID_CHARS]


def dhcp_namespace(network_id: str) -> str:
    return "qdhcp-" + network_id


def vlan_device(interface: str, vlan: int) -> str:
    """`<iface>.<vlan>`, shortened so that it fits in 15 characters."""
    suffix = f".{vlan}"
    return interface[: 15 - len(suffix)] + suffix


def dhcp_device_id(host: str, network_id: str) -> str:
    """The device_id of the DHCP port that `host`'s DHCP agent owns on a network.

    Derived from the host name so that a restarted agent finds its own port again.
    """
    short_host = host.split(".")[0]
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, short_host)}-{network_id}"
