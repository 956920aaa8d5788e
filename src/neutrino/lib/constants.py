"""Names shared by the server, the agents and the clients.

These are Neutron's wire-level names (agent types, RPC topics and methods, device owners):
clients and operators' tooling match on them, so they must not drift.
"""

AGENT_TYPE_DHCP = "DHCP agent"
AGENT_TYPE_LINUXBRIDGE = "Linux bridge agent"

BINARY_DHCP = "neutrino-dhcp-agent"
BINARY_LINUXBRIDGE = "neutrino-linuxbridge-agent"

# RPC topics.
TOPIC_REPORTS = "q-reports-plugin"  # agents -> server: report_state
TOPIC_PLUGIN = "q-plugin"  # agents -> server: DHCP plugin API and device API
# Neutrino's own additions to the agents' API on q-plugin, apart from Neutron's methods.
NAMESPACE_DHCP_REVISIONS = "neutrino.dhcp"
TOPIC_DHCP_AGENT = "dhcp_agent"  # server -> DHCP agents, server=<host>
TOPIC_LINUXBRIDGE = "N/A"  # what a Linux bridge agent reports as its topic

# report_state answers.
AGENT_NEW = "new"
AGENT_ALIVE = "alive"
AGENT_REVIVED = "revived"

# Server -> DHCP agent casts; each takes one keyword argument, ``payload``.
NETWORK_CREATE_END = "network_create_end"
NETWORK_UPDATE_END = "network_update_end"
NETWORK_DELETE_END = "network_delete_end"
SUBNET_CREATE_END = "subnet_create_end"
SUBNET_UPDATE_END = "subnet_update_end"
SUBNET_DELETE_END = "subnet_delete_end"
PORT_CREATE_END = "port_create_end"
PORT_UPDATE_END = "port_update_end"
PORT_DELETE_END = "port_delete_end"
AGENT_UPDATED = "agent_updated"
DHCP_AGENT_CASTS = (
    NETWORK_CREATE_END, NETWORK_UPDATE_END, NETWORK_DELETE_END,
    SUBNET_CREATE_END, SUBNET_UPDATE_END, SUBNET_DELETE_END,
    PORT_CREATE_END, PORT_UPDATE_END, PORT_DELETE_END, AGENT_UPDATED,
)

# Owners of the cloud's own ports (DHCP, routers): no default security group, no filtering,
# no metadata instance.
DEVICE_OWNER_NETWORK_PREFIX = "network:"
DEVICE_OWNER_DHCP = "network:dhcp"
DEVICE_OWNER_COMPUTE_PREFIX = "compute:"
# Neutron's router interface owners (ROUTER_INTERFACE_OWNERS).
DEVICE_OWNERS_ROUTER_INTERFACE = ("network:router_interface",
                                  "network:router_interface_distributed",
                                  "network:ha_router_replicated_interface")
DEVICE_ID_RESERVED_DHCP_PORT = "reserved_dhcp_port"

PORT_STATUS_ACTIVE = "ACTIVE"
PORT_STATUS_DOWN = "DOWN"
PORT_STATUS_BUILD = "BUILD"
NET_STATUS_ACTIVE = "ACTIVE"

TYPE_VLAN = "vlan"
TYPE_FLAT = "flat"
TYPE_LOCAL = "local"

DEFAULT_AVAILABILITY_ZONE = "nova"

# Security groups: the agents' topics and casts (fanout), and the RPC namespace of
# security_group_info_for_devices on TOPIC_PLUGIN.
TOPIC_SECURITY_GROUP_UPDATE = "q-agent-notifier-security_group-update"
TOPIC_PORT_UPDATE = "q-agent-notifier-port-update"
SECURITY_GROUPS_RULE_UPDATED = "security_groups_rule_updated"
SECURITY_GROUPS_MEMBER_UPDATED = "security_groups_member_updated"
PORT_UPDATE = "port_update"
RPC_NAMESPACE_SECGROUP = "secgroup"

# Neutron's protocol names for security group rules (IP_PROTOCOL_MAP); "icmpv6" is the
# legacy name of ipv6-icmp that the API still takes.
IP_PROTOCOL_MAP = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1,
    "igmp": 2, "ip": 0, "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58,
    "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89,
    "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
# What a rule's protocol may be to mean "any".
SG_PROTO_ANY = ("", "any")
# The protocols whose rules take port ranges (Neutron's SG_PORT_PROTO_NAMES).
SG_PORT_PROTOCOLS = ("tcp", "udp", "dccp", "sctp", "udplite")
IPV6_ONLY_PROTOCOLS = ("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt",
                       "ipv6-opts", "ipv6-route")
IPV4, IPV6 = "IPv4", "IPv6"
INGRESS, EGRESS = "ingress", "egress"
DEFAULT_SG_NAME = "default"
DEFAULT_SG_DESCRIPTION = "Default security group"


def is_network_owned(device_owner: object) -> bool:
    """Whether a port with this `device_owner` is the network's own (`network:*`)."""
    return isinstance(device_owner, str) and device_owner.startswith(
        DEVICE_OWNER_NETWORK_PREFIX)
