"""Every configuration option Neutrino reads, in Neutron's sections and names.

Operators' `neutron.conf`, `linuxbridge_conf.ini` and `dhcp_agent.ini` load unchanged:
oslo.config ignores keys nobody registered, so options of other OpenStack services are harmless.
"""

import socket

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

# Neutron's exchange, so Neutron's agents and ours can share a broker.
CONTROL_EXCHANGE = "neutron"

common_opts: list[cfg.Opt] = [
    cfg.HostAddressOpt("host", default=socket.gethostname(),
                       sample_default="example.domain",
                       help="The name of this host, as agents report it and the scheduler "
                            "uses it."),
    cfg.StrOpt("state_path", default="/var/lib/neutrino",
               help="Where Neutrino keeps its state: the SQLite database, DHCP files."),
    cfg.BoolOpt("debug", default=False, help="Log at DEBUG level."),
    cfg.StrOpt("log_file", help="Log to this file instead of standard error."),
    # Read by the server (ports' dns_assignment) and the DHCP agent (dnsmasq's names): one
    # option, so a shared neutron.conf keeps the API and dnsmasq in agreement.
    cfg.StrOpt("dns_domain", default="openstacklocal", deprecated_name="dhcp_domain",
               help="Domain of the ports' DNS names (dns_assignment's fqdn, the names the "
                    "DHCP agent's dnsmasq answers and hands out)."),
]

rpc_opts: list[cfg.Opt] = [
    cfg.StrOpt("rabbit_host", default="localhost",
               help="RabbitMQ host, used when transport_url is not set."),
    cfg.PortOpt("rabbit_port", default=5672, help="RabbitMQ port."),
    cfg.StrOpt("rabbit_userid", default="guest", help="RabbitMQ user."),
    cfg.StrOpt("rabbit_password", default="guest", secret=True, help="RabbitMQ password."),
    cfg.StrOpt("rabbit_virtual_host", default="/", help="RabbitMQ virtual host."),
]

server_opts: list[cfg.Opt] = [
    cfg.StrOpt("core_plugin", default="ml2",
               help="Accepted for compatibility: 'ml2', 'linuxbridge' or their Neutron "
                    "class paths. Neutrino has one plugin."),
    cfg.BoolOpt("allow_overlapping_ips", default=False,
                help="Allow the same CIDR in different projects."),
    cfg.IntOpt("agent_down_time", default=75, min=1,
               help="Seconds since the last heartbeat after which an agent is dead."),
    cfg.HostAddressOpt("bind_host", default="0.0.0.0", help="Address the API listens on."),
    cfg.PortOpt("bind_port", default=9696, help="Port the API listens on."),
    cfg.StrOpt("auth_strategy", default="builtin",
               choices=["builtin", "keystone", "noauth"],
               help="builtin: the server's own identity API; keystone: validate tokens "
                    "with keystonemiddleware; noauth: trust X-Project-Id/X-Roles headers "
                    "(tests only)."),
    cfg.IntOpt("api_workers", min=1,
               help="API worker processes (default: one per CPU, as Neutron). With more "
                    "than one, the main process serves no API: it runs the RPC servers and "
                    "the HA monitor, off the workers' way. Needs a real broker."),
    cfg.IntOpt("wsgi_default_pool_size", min=1,
               help="Requests an API worker serves at once, each on a thread of its own "
                    "(default: 2 on SQLite, 40 on a database server). Few keep a worker's "
                    "requests from contending for its one interpreter; more overlap the "
                    "round trips to a database across a network."),
    cfg.StrOpt("network_scheduler_driver", default="weight",
               help="DHCP network scheduler: chance, weight or az (Neutron's class paths "
                    "ChanceScheduler, WeightScheduler, AZAwareWeightScheduler work too)."),
    cfg.IntOpt("dhcp_agents_per_network", default=1, min=1,
               help="How many DHCP agents host each network."),
    cfg.StrOpt("dhcp_load_type", default="networks",
               choices=["networks", "subnets", "ports"],
               help="What the weight scheduler counts as an agent's load."),
    cfg.BoolOpt("network_auto_schedule", default=True,
                help="Schedule networks to DHCP agents automatically."),
    cfg.BoolOpt("allow_automatic_dhcp_failover", default=True,
                help="Move networks off DHCP agents that are dead."),
    cfg.BoolOpt("enable_new_agents", default=True,
                help="Whether newly registered agents start admin-up."),
    cfg.ListOpt("default_availability_zones", default=[],
                help="Availability zones used when a network has no hints."),
    cfg.StrOpt("base_mac", default="fa:16:3e:00:00:00",
               help="MAC prefix for generated port addresses; zero octets are random."),
    cfg.IntOpt("global_physnet_mtu", default=1500, min=68, help="MTU of physical networks."),
    cfg.IntOpt("max_allowed_address_pair", default=10, min=0,
               help="Most allowed address pairs one port may have; more are refused "
                    "with AllowedAddressPairExhausted (400)."),
    cfg.IntOpt("pagination_max_limit", default=-1,
               help="Largest page a list returns; -1 is unlimited."),
    cfg.IntOpt("api_request_timeout", default=60, min=1,
               help="Seconds an API request may take: then it is answered 503 and its "
                    "change, if any, is never committed."),
    cfg.IntOpt("state_report_concurrency", default=2, min=1,
               help="Agents' state reports written to the database at once per server "
                    "process; more wait briefly then fail (the agent reports again), so "
                    "heartbeats never take the connections API requests need."),
    cfg.BoolOpt("metrics_require_admin", default=False,
                help="Serve /metrics (on the API port) only to admins' tokens; by default "
                     "it needs no authentication, like most Prometheus targets."),
]

# Neutron's names and defaults: Nova hears of its servers' ports through these.
nova_notify_opts: list[cfg.Opt] = [
    cfg.BoolOpt("notify_nova_on_port_status_changes", default=True,
                help="Send Nova network-vif-plugged/unplugged when a compute port's status "
                     "changes (needs a [nova] section)."),
    cfg.BoolOpt("notify_nova_on_port_data_changes", default=True,
                help="Send Nova network-changed/network-vif-deleted when a compute port "
                     "changes or is deleted (needs a [nova] section)."),
    cfg.IntOpt("send_events_interval", default=2, min=1,
               help="Seconds between batches of events sent to Nova."),
]

# [nova]: besides these, keystoneauth's auth_type (and that plugin's options: auth_url,
# username, ...) and session options, registered by `register`.
nova_opts: list[cfg.Opt] = [
    cfg.StrOpt("region_name", help="Region of the Nova endpoint in the service catalog."),
    cfg.StrOpt("endpoint_type", default="public", choices=["public", "admin", "internal"],
               help="Which Nova endpoint of the catalog to use."),
]

# Several hosts on one machine (the lab, tests, the all-in-one mode): an agent can act in a
# network namespace other than its own and keep its named namespaces in another directory.
host_namespace_opts: list[cfg.Opt] = [
    cfg.StrOpt("host_netns",
               help="Path of the network namespace this agent's host devices live in "
                    "(default: the agent's own)."),
    cfg.StrOpt("netns_dir", default="/run/netns",
               help="Directory holding the agent's named namespaces (qdhcp-...)."),
]

agent_opts: list[cfg.Opt] = [
    cfg.FloatOpt("report_interval", default=30,
                 help="Seconds between an agent's state reports."),
    cfg.StrOpt("availability_zone", default="nova", help="The agent's availability zone."),
    cfg.BoolOpt("log_agent_heartbeats", default=False, help="Log every state report."),
    cfg.PortOpt("metrics_port",
                help="Serve the agent's Prometheus metrics on this port (/metrics, no "
                     "authentication). Unset: no metrics endpoint."),
    cfg.HostAddressOpt("metrics_bind_host", default="0.0.0.0",
                       help="Address the agent's metrics endpoint listens on."),
]

database_opts: list[cfg.Opt] = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL; mysql:// URLs use PyMySQL. Default: SQLite in "
                    "state_path."),
    cfg.IntOpt("retry_interval", default=10, min=0,
               help="Seconds between attempts to reach the database."),
    cfg.IntOpt("max_retries", default=10, min=-1,
               help="Attempts to reach the database before giving up; -1 forever."),
    cfg.IntOpt("connection_recycle_time", default=3600,
               help="Seconds after which pooled connections are replaced."),
    # Bounded waits: a database that stops answering costs a request these seconds, then
    # a 503, never a hang (see the README, "What to expect when things fail").
    cfg.IntOpt("connect_timeout", default=10, min=1,
               help="Seconds to wait for a new database connection."),
    cfg.IntOpt("max_pool_size", default=10, min=1,
               help="Connections kept open per server process."),
    cfg.IntOpt("max_overflow", default=20, min=0,
               help="Connections opened beyond max_pool_size under load."),
    cfg.IntOpt("pool_timeout", default=10, min=1,
               help="Seconds a request waits for a free connection before a 503."),
    cfg.IntOpt("statement_timeout", default=30, min=1,
               help="Seconds one SQL statement may run (server side on PostgreSQL and "
                    "MariaDB, lock waits on SQLite; also the socket read timeout on "
                    "MariaDB/MySQL)."),
    # oslo.db's name, so Neutron's files keep their meaning; its False turns syncing off
    # (a power loss may corrupt the file), ours keeps the WAL consistent.
    cfg.BoolOpt("sqlite_synchronous", default=True,
                help="SQLite only: sync every commit to disk before answering (the "
                     "write-ahead log, right after COMMIT). False: the log is synced at "
                     "checkpoints only (synchronous=NORMAL): commits cost no fsync and a "
                     "crashed process loses nothing, but a power loss or OS crash may undo "
                     "the last commits (the database stays consistent)."),
]

vlans_opts: list[cfg.Opt] = [
    # local, as Neutron's Linux bridge plugin defaulted to: a configuration without VLAN
    # ranges can create networks. vlan needs network_vlan_ranges (checked at start).
    cfg.StrOpt("tenant_network_type", default="local",
               choices=["vlan", "flat", "local", "none"],
               help="Type of networks created by non-admins. vlan needs "
                    "network_vlan_ranges with at least one physnet:min:max range."),
    cfg.ListOpt("network_vlan_ranges", default=[],
                help="physnet:min:max VLAN ranges to allocate from (or a bare physnet, "
                     "usable for provider networks only)."),
]

ml2_opts: list[cfg.Opt] = [
    cfg.ListOpt("tenant_network_types", default=[], help="ML2 spelling of tenant_network_type."),
]
ml2_type_vlan_opts: list[cfg.Opt] = [
    cfg.ListOpt("network_vlan_ranges", default=[], help="ML2 spelling of [vlans] ranges."),
]

linux_bridge_opts: list[cfg.Opt] = [
    cfg.ListOpt("physical_interface_mappings", default=[],
                help="physnet:interface pairs for the Linux bridge agent."),
]

# Neutron's [SECURITYGROUP] section, read by the Linux bridge agent.
securitygroup_opts: list[cfg.Opt] = [
    cfg.StrOpt("firewall_driver", default="noop",
               help="How the Linux bridge agent enforces security groups on its host: "
                    "iptables (through br_netfilter; also iptables_hybrid or Neutron's "
                    "class path) or noop (no filtering: for operators who filter "
                    "elsewhere)."),
    cfg.BoolOpt("enable_security_group", default=True,
                help="False: no filtering whatever firewall_driver says (as noop)."),
]

dhcp_agent_opts: list[cfg.Opt] = [
    cfg.StrOpt("interface_driver", default="linuxbridge",
               help="linuxbridge (neutron.agent.linux.interface.BridgeInterfaceDriver)."),
    cfg.StrOpt("dhcp_driver", default="neutron.agent.linux.dhcp.Dnsmasq",
               help="dnsmasq (neutron.agent.linux.dhcp.Dnsmasq)."),
    cfg.IntOpt("dhcp_lease_duration", default=86400,
               deprecated_name="dhcp_lease_time",
               help="DHCP lease time in seconds; -1 is infinite."),
    cfg.IntOpt("resync_interval", default=5, min=1,
               help="Seconds between retries of networks whose reconcile failed; a full "
                    "sync also runs every resync_interval * 60."),
    cfg.IntOpt("num_sync_threads", default=4, min=1,
               help="Networks reconciled in parallel."),
    cfg.FloatOpt("revision_check_interval", default=2.0, min=0,
                 help="Seconds between asking the server for the DHCP revisions of the "
                      "networks this agent serves; networks whose revision moved without a "
                      "cast reaching the agent are fetched again. 0 turns it off (a "
                      "Neutron server does not answer it)."),
    cfg.StrOpt("dhcp_confs", default="$state_path/dhcp",
               help="Directory of the per-network dnsmasq files."),
    cfg.ListOpt("dnsmasq_dns_servers", default=[],
                help="DNS servers dnsmasq forwards the queries it cannot answer to (the "
                     "VMs' own names it answers itself)."),
    cfg.BoolOpt("dnsmasq_local_resolv", default=False,
                help="Let dnsmasq forward to the resolvers of the agent's host "
                     "(/etc/resolv.conf) when dnsmasq_dns_servers is empty."),
    cfg.IntOpt("dnsmasq_lease_max", default=2 ** 24, help="Most leases per dnsmasq."),
    cfg.IntOpt("dhcp_renewal_time", default=0, min=0,
               help="DHCP renewal time T1 (option 58), seconds; 0: the client's default "
                    "(half the lease)."),
    cfg.IntOpt("dhcp_rebinding_time", default=0, min=0,
               help="DHCP rebinding time T2 (option 59), seconds; 0: the client's default "
                    "(7/8 of the lease)."),
    cfg.BoolOpt("dhcp_broadcast_reply", default=False,
                help="Broadcast DHCP replies, for clients that cannot receive unicast "
                     "before they have an address."),
    cfg.StrOpt("dnsmasq_config_file", default="",
               help="A dnsmasq configuration file every dnsmasq of the agent reads (by "
                    "default none, not even /etc/dnsmasq.conf). Absolute path."),
    cfg.BoolOpt("dnsmasq_enable_ra", default=False,
                help="Send IPv6 router advertisements from the DHCP namespace of networks "
                     "with no router (none of their IPv6 subnets' gateways on a router "
                     "port), so SLAAC and DHCPv6 clients configure themselves without "
                     "one. Router lifetime 0: the namespace is not advertised as a router."),
]

# Neutron's names: the first three from dhcp_agent.ini, the nova_* and the secret from
# metadata_agent.ini; all in [DEFAULT], so either file can be passed to the DHCP agent.
metadata_opts: list[cfg.Opt] = [
    cfg.BoolOpt("enable_isolated_metadata", default=False,
                help="Serve the metadata service (169.254.169.254:80) from the DHCP "
                     "namespace of networks without a router, with a DHCP route to it."),
    cfg.BoolOpt("force_metadata", default=False,
                help="Serve the metadata service from every DHCP namespace, router or not."),
    cfg.BoolOpt("enable_metadata_network", default=False,
                help="Networks with a subnet in 169.254.0.0/16 are metadata access "
                     "networks: the proxy serves them, and DHCP adds no route to it there."),
    cfg.HostAddressOpt("nova_metadata_host", default="127.0.0.1",
                       help="Host of Nova's metadata API."),
    cfg.PortOpt("nova_metadata_port", default=8775, help="Port of Nova's metadata API."),
    cfg.StrOpt("nova_metadata_protocol", default="http", choices=["http", "https"],
               help="Protocol of Nova's metadata API."),
    cfg.StrOpt("metadata_proxy_shared_secret", default="", secret=True,
               help="Signs the instance id sent to Nova (X-Instance-ID-Signature); Nova's "
                    "[neutron] metadata_proxy_shared_secret must be the same."),
]

identity_opts: list[cfg.Opt] = [
    cfg.MultiStrOpt("user",
                    default=["admin:adminpassword:admin:admin",
                             "demo:demopassword:demo:member"],
                    help="name:password:project:role of a builtin identity user. Repeat for "
                         "more users. CHANGE THE DEFAULT PASSWORDS."),
    cfg.StrOpt("token_secret", secret=True,
               help="Key that signs tokens; every server replica needs the same. Default: "
                    "a random key kept in state_path/identity.key."),
    cfg.IntOpt("token_expiration", default=3600, min=60, help="Token lifetime in seconds."),
    cfg.FloatOpt("token_revocation_refresh", default=2, min=0,
                 help="Seconds a server keeps its copy of the revoked tokens before reading "
                      "it again: a token revoked through another replica is refused here "
                      "within this time (at once on the replica that revoked it)."),
    cfg.StrOpt("public_endpoint",
               help="URL the catalog gives for the network endpoint; default: the URL the "
                    "client used."),
    cfg.StrOpt("region", default="RegionOne", help="Region in the service catalog."),
]

# Neutron's [quotas] section and defaults; -1 is unlimited.
quota_opts: list[cfg.Opt] = [
    cfg.IntOpt("default_quota", default=-1,
               help="Default limit per project for resources without a quota_<resource> "
                    "option; -1 is unlimited."),
    cfg.IntOpt("quota_network", default=100, help="Networks per project; -1 is unlimited."),
    cfg.IntOpt("quota_subnet", default=100, help="Subnets per project; -1 is unlimited."),
    cfg.IntOpt("quota_port", default=500, help="Ports per project; -1 is unlimited."),
    cfg.IntOpt("quota_security_group", default=10,
               help="Security groups per project; -1 is unlimited."),
    cfg.IntOpt("quota_security_group_rule", default=100,
               help="Security group rules per project; -1 is unlimited."),
]

GROUPS: dict[str, list[cfg.Opt]] = {
    "DEFAULT": common_opts + rpc_opts + server_opts + dhcp_agent_opts + metadata_opts
    + host_namespace_opts + nova_notify_opts,
    "AGENT": agent_opts,
    "database": database_opts,
    "vlans": vlans_opts,
    "ml2": ml2_opts,
    "ml2_type_vlan": ml2_type_vlan_opts,
    "linux_bridge": linux_bridge_opts,
    "SECURITYGROUP": securitygroup_opts,
    "identity": identity_opts,
    "nova": nova_opts,
    "quotas": quota_opts,
}
NOVA = "nova"


# oslo.messaging's own options (transport_url, control_exchange, rpc_response_timeout and the
# [oslo_messaging_rabbit] tuning) are registered as its objects so that the transport and our
# settings read the same values.
_MESSAGING_GROUPS = (None, "oslo_messaging_rabbit")


def _messaging_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    # Imported here, not at the top: settings.py imports this module for its defaults, and
    # oslo.messaging (with eventlet) is a third of a second no layer below cmd/ should pay.
    # It ships no type information; unused-ignore keeps this quiet once pyproject says so.
    import oslo_messaging  # type: ignore[import-untyped, unused-ignore]
    from oslo_messaging import opts as messaging_opts

    oslo_messaging.set_transport_defaults(control_exchange=CONTROL_EXCHANGE)
    return [(g, list(o)) for g, o in messaging_opts.list_opts() if g in _MESSAGING_GROUPS]


def _register_own(conf: cfg.ConfigOpts) -> None:
    for group, opts in GROUPS.items():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)


def register(conf: cfg.ConfigOpts) -> None:
    _register_own(conf)
    for group, opts in _messaging_opts():
        conf.register_opts(opts, group=group)
    # The auth plugin's own options are registered once auth_type is known (settings).
    ks_loading.register_auth_conf_options(conf, NOVA)
    ks_loading.register_session_conf_options(conf, NOVA)


def _nova_keystoneauth_opts() -> list[cfg.Opt]:
    """As Neutron documents [nova]: the common, session and `password` plugin options."""
    return (ks_loading.get_auth_common_conf_options() + ks_loading.get_session_conf_options()
            + ks_loading.get_auth_plugin_conf_options("password"))


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """For oslo-config-generator."""
    extra = {(g or "DEFAULT"): o for g, o in _messaging_opts()}
    extra[NOVA] = _nova_keystoneauth_opts()
    return [(group, list(opts) + extra.pop(group, [])) for group, opts in GROUPS.items()] + \
        list(extra.items())


def defaults() -> cfg.ConfigOpts:
    """Neutrino's own options at their defaults, converted and $-substituted as a file's are.

    The settings dataclasses take their field defaults from here, so each default is written
    once, in the option the sample config documents. No file, argument or environment variable
    is read: a default must not depend on the machine that imports this.
    """
    conf = cfg.ConfigOpts()
    _register_own(conf)
    conf([], default_config_files=[], default_config_dirs=[], use_env=False,
         validate_default_values=True)
    return conf


def load(argv: list[str], prog: str, cli_opts: list[cfg.Opt] | None = None
         ) -> cfg.ConfigOpts:
    """Parse `--config-file`/`--config-dir` arguments (and the program's own `cli_opts`,
    such as `--check`) into a fresh ConfigOpts."""
    conf = cfg.ConfigOpts()
    register(conf)
    conf.register_cli_opts(cli_opts or [])
    conf(argv, project="neutron", prog=prog, default_config_files=[],
         default_config_dirs=[])
    return conf
