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
