"""Typed settings, built once from oslo.config at a program's edge and handed down.

Nothing below `cmd/` reads a ConfigOpts: the layers take these plain values instead.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace

from oslo_config import cfg

from neutrino.conf import opts
from neutrino.lib import validators

_SCHEDULERS = {
    "chance": "chance",
    "weight": "weight",
    "az": "az",
    "neutron.scheduler.dhcp_agent_scheduler.ChanceScheduler": "chance",
    "neutron.scheduler.dhcp_agent_scheduler.WeightScheduler": "weight",
    "neutron.scheduler.dhcp_agent_scheduler.AZAwareWeightScheduler": "az",
}
_PLUGINS = {"ml2", "linuxbridge", "neutron.plugins.ml2.plugin.Ml2Plugin",
            "neutron.plugins.linuxbridge.lb_neutron_plugin.LinuxBridgePluginV2"}
_INTERFACE_DRIVERS = {"linuxbridge": "linuxbridge", "bridge": "linuxbridge",
                      "neutron.agent.linux.interface.BridgeInterfaceDriver": "linuxbridge"}
_DHCP_DRIVERS = {"dnsmasq", "neutron.agent.linux.dhcp.Dnsmasq"}


class ConfigError(ValueError):
    """A configuration value that cannot work; the service refuses to start."""


@dataclass(frozen=True)
class VlanRange:
    physical_network: str
    minimum: int | None = None  # None: the physnet allows provider networks only
    maximum: int | None = None


def parse_vlan_ranges(entries: list[str]) -> list[VlanRange]:
    ranges = []
    for entry in entries:
        parts = entry.strip().split(":")
        try:
            if len(parts) == 1 and parts[0]:
                ranges.append(VlanRange(parts[0]))
                continue
            physnet, low, high = parts
            low_i, high_i = int(low), int(high)
        except ValueError:
            raise ConfigError(
                f"network_vlan_ranges entry {entry!r} is not physnet[:min:max]") from None
        if not physnet or not (1 <= low_i <= high_i <= 4094):
            raise ConfigError(f"network_vlan_ranges entry {entry!r} is out of 1..4094")
        ranges.append(VlanRange(physnet, low_i, high_i))
    return ranges


# Field defaults below are read from the options, so each is written once: where the sample
# config documents it. Settings built by hand (tests, the all-in-one mode) get the same values
# an empty config file gives.
_default = opts.defaults()


def parse_mappings(entries: list[str]) -> dict[str, str]:
    mappings: dict[str, str] = {}
    for entry in entries:
        key, sep, value = entry.strip().partition(":")
        if not sep or not key or not value:
            raise ConfigError(f"mapping {entry!r} is not physnet:interface")
        if key in mappings:
            raise ConfigError(f"physical network {key!r} is mapped twice")
        mappings[key] = value
    return mappings


@dataclass(frozen=True)
class RpcSettings:
    transport_url: str
    control_exchange: str = opts.CONTROL_EXCHANGE
    # oslo.messaging's rpc_response_timeout default; reading it from there would import
    # oslo.messaging (and eventlet) into every process that merely builds settings.
    response_timeout: int = 60
    # [oslo_messaging_rabbit] as the config files set it (heartbeats, SSL, HA queues, ...):
    # option name -> value, handed to the transport's own ConfigOpts.
    rabbit: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    retry_interval: int = _default.database.retry_interval
    max_retries: int = _default.database.max_retries
    recycle_time: int = _default.database.connection_recycle_time
    connect_timeout: int = _default.database.connect_timeout
    pool_size: int = _default.database.max_pool_size
    max_overflow: int = _default.database.max_overflow
    pool_timeout: int = _default.database.pool_timeout
    statement_timeout: int = _default.database.statement_timeout
    sqlite_synchronous: bool = _default.database.sqlite_synchronous


@dataclass(frozen=True)
class QuotaSettings:
    """[quotas]: the limits a project has until an admin sets its own; -1 is unlimited."""

    network: int = _default.quotas.quota_network
    subnet: int = _default.quotas.quota_subnet
    port: int = _default.quotas.quota_port
    # Neutron's fallback for resources without a quota_<resource> option (none here yet).
    default_quota: int = _default.quotas.default_quota
    security_group: int = _default.quotas.quota_security_group
    security_group_rule: int = _default.quotas.quota_security_group_rule

    def defaults(self) -> dict[str, int]:
        return {"network": self.network, "subnet": self.subnet, "port": self.port,
                "security_group": self.security_group,
                "security_group_rule": self.security_group_rule}


@dataclass(frozen=True)
class CoreSettings:
    # Not the option's default (this machine's name): settings built by hand must not differ
    # from one machine to the next.
    host: str = "localhost"
    allow_overlapping_ips: bool = _default.allow_overlapping_ips
    agent_down_time: int = _default.agent_down_time
    network_scheduler: str = _SCHEDULERS[_default.network_scheduler_driver]  # chance|weight|az
    dhcp_agents_per_network: int = _default.dhcp_agents_per_network
    dhcp_load_type: str = _default.dhcp_load_type
    network_auto_schedule: bool = _default.network_auto_schedule
    allow_automatic_dhcp_failover: bool = _default.allow_automatic_dhcp_failover
    enable_new_agents: bool = _default.enable_new_agents
    default_availability_zones: tuple[str, ...] = tuple(_default.default_availability_zones)
    tenant_network_type: str = _default.vlans.tenant_network_type
    vlan_ranges: tuple[VlanRange, ...] = tuple(
        parse_vlan_ranges(_default.vlans.network_vlan_ranges))
    base_mac: str = _default.base_mac
    global_physnet_mtu: int = _default.global_physnet_mtu
    quotas: QuotaSettings = field(default_factory=QuotaSettings)
    state_report_concurrency: int = _default.state_report_concurrency
    dns_domain: str = _default.dns_domain
    max_allowed_address_pair: int = _default.max_allowed_address_pair


@dataclass(frozen=True)
class NovaSettings:
    """[nova] and the notify_nova_* options. `auth_options` are the keystoneauth plugin's
    options by name (auth_url, username, ...); no auth_type means no Nova."""

    auth_type: str | None = None
    auth_options: tuple[tuple[str, object], ...] = field(default=(), repr=False)  # secrets
    region_name: str | None = None
    endpoint_type: str = "public"
    verify: bool | str = True  # False (insecure), True, or a CA bundle path
    cert: tuple[str, str] | str | None = None
    timeout: float | None = None
    notify_on_port_status: bool = True
    notify_on_port_data: bool = True
    send_events_interval: float = 2

    @property
    def enabled(self) -> bool:
        return self.auth_type is not None


@dataclass(frozen=True)
class IdentityUser:
    name: str
    password: str
    project: str
    role: str


@dataclass(frozen=True)
class ApiSettings:
    bind_host: str = _default.bind_host
    bind_port: int = _default.bind_port
    auth_strategy: str = _default.auth_strategy
    # None: one per CPU (decided where the server starts, on the machine it runs on).
    api_workers: int | None = _default.api_workers
    # None: by the database (decided where the server starts; see api.app.request_threads).
    request_threads: int | None = _default.wsgi_default_pool_size
    pagination_max_limit: int = _default.pagination_max_limit
    request_timeout: int = _default.api_request_timeout
    # Not the option's default (the sample's admin and demo with well-known passwords): settings
    # built by hand name their users.
    users: tuple[IdentityUser, ...] = ()
    token_secret: str | None = None
    token_expiration: int = _default.identity.token_expiration
    token_revocation_refresh: float = _default.identity.token_revocation_refresh
    public_endpoint: str | None = None
    region: str = _default.identity.region
    state_path: str = _default.state_path
    metrics_require_admin: bool = _default.metrics_require_admin


@dataclass(frozen=True)
class AgentSettings:
    host: str
    state_path: str
    report_interval: float = _default.AGENT.report_interval
    availability_zone: str = _default.AGENT.availability_zone
    log_agent_heartbeats: bool = _default.AGENT.log_agent_heartbeats
    host_netns: str | None = None  # None: the agent's own network namespace
    netns_dir: str = _default.netns_dir
    metrics_port: int | None = _default.AGENT.metrics_port  # None: no metrics endpoint
    metrics_bind_host: str = _default.AGENT.metrics_bind_host
    health_file: str | None = None  # where state reports' outcomes go (cmd/ decides)


@dataclass(frozen=True)
class MetadataSettings:
    """The metadata proxy the DHCP agent runs in its namespaces."""

    enable_isolated_metadata: bool = _default.enable_isolated_metadata
    force_metadata: bool = _default.force_metadata
    enable_metadata_network: bool = _default.enable_metadata_network
    nova_host: str = _default.nova_metadata_host
    nova_port: int = _default.nova_metadata_port
    nova_protocol: str = _default.nova_metadata_protocol
    shared_secret: str = field(default=_default.metadata_proxy_shared_secret, repr=False)

    @property
    def enabled(self) -> bool:
        return self.enable_isolated_metadata or self.force_metadata


@dataclass(frozen=True)
class DhcpAgentSettings:
    agent: AgentSettings
    interface_driver: str = _INTERFACE_DRIVERS[_default.interface_driver]
    dhcp_driver: str = _default.dhcp_driver
    lease_duration: int = _default.dhcp_lease_duration
    resync_interval: int = _default.resync_interval
    num_sync_threads: int = _default.num_sync_threads
    revision_check_interval: float = _default.revision_check_interval
    confs_dir: str = _default.dhcp_confs
    domain: str = _default.dns_domain
    dns_servers: tuple[str, ...] = tuple(_default.dnsmasq_dns_servers)
    local_resolv: bool = _default.dnsmasq_local_resolv
    renewal_time: int = _default.dhcp_renewal_time  # 0: not sent
    rebinding_time: int = _default.dhcp_rebinding_time  # 0: not sent
    broadcast_reply: bool = _default.dhcp_broadcast_reply
    dnsmasq_config_file: str = _default.dnsmasq_config_file  # "": none
    lease_max: int = _default.dnsmasq_lease_max
    enable_ra: bool = _default.dnsmasq_enable_ra
    metadata: MetadataSettings = field(default_factory=MetadataSettings)


_FIREWALL_DRIVERS = {
    "iptables": "iptables", "iptables_hybrid": "iptables",
    "neutron.agent.linux.iptables_firewall.IptablesFirewallDriver": "iptables",
    "noop": "noop", "neutron.agent.firewall.NoopFirewallDriver": "noop",
}


@dataclass(frozen=True)
class LinuxBridgeSettings:
    agent: AgentSettings
    interface_mappings: dict[str, str] = field(default_factory=dict)
    polling_interval: float = 1.0
    # "iptables" or "noop" (enable_security_group = False makes it noop)
    firewall_driver: str = _FIREWALL_DRIVERS[_default.SECURITYGROUP.firewall_driver]


def dns_domain(conf: cfg.ConfigOpts) -> str:
    """[DEFAULT] dns_domain, checked: it goes into dnsmasq's command line and every port."""
    try:
        return str(validators.dns_domain_name()(conf.dns_domain or ""))
    except validators.Invalid as e:
        raise ConfigError(f"dns_domain: {e}") from None


def _config_file(path: str) -> str:
    # It becomes one argument of dnsmasq's command line (no shell): a plain absolute path.
    if path and (not os.path.isabs(path) or any(c in path for c in "\n\r\0")):
        raise ConfigError(f"dnsmasq_config_file {path!r} is not an absolute path")
    return path


def _dns_servers(conf: cfg.ConfigOpts) -> tuple[str, ...]:
    servers = []
    for entry in conf.dnsmasq_dns_servers:
        try:
            servers.append(str(ipaddress.ip_address(entry.strip())))
        except ValueError:
            raise ConfigError(f"dnsmasq_dns_servers: {entry!r} is not an IP address") from None
    return tuple(servers)


def rpc_settings(conf: cfg.ConfigOpts) -> RpcSettings:
    url = conf.transport_url
    # "rabbit://" is oslo.messaging's default: the operator set nothing, so the walk-through's
    # rabbit_host/rabbit_password/... keys decide.
    if not url or url == "rabbit://":
        from urllib.parse import quote
        vhost = conf.rabbit_virtual_host.lstrip("/")
        url = (f"rabbit://{quote(conf.rabbit_userid, safe='')}:"
               f"{quote(conf.rabbit_password, safe='')}@{conf.rabbit_host}:"
               f"{conf.rabbit_port}/{quote(vhost, safe='')}")
    rabbit: tuple[tuple[str, object], ...] = ()
    if "oslo_messaging_rabbit" in conf:
        # Only what the operator set: defaults are the transport's own already.
        group = conf.oslo_messaging_rabbit

        def set_here(name: str) -> bool:
            where = conf.get_location(name, "oslo_messaging_rabbit")  # None: default None
            return where is not None and where.location is not cfg.Locations.opt_default
        rabbit = tuple(sorted((name, group[name]) for name in group if set_here(name)))
    return RpcSettings(url, conf.control_exchange, conf.rpc_response_timeout, rabbit)


def database_settings(conf: cfg.ConfigOpts) -> DatabaseSettings:
    url = conf.database.connection or "sqlite:///" + os.path.join(
        conf.state_path, "neutrino.sqlite")
    return DatabaseSettings(url, conf.database.retry_interval, conf.database.max_retries,
                            conf.database.connection_recycle_time,
                            connect_timeout=conf.database.connect_timeout,
                            pool_size=conf.database.max_pool_size,
                            max_overflow=conf.database.max_overflow,
                            pool_timeout=conf.database.pool_timeout,
                            statement_timeout=conf.database.statement_timeout,
                            sqlite_synchronous=conf.database.sqlite_synchronous)


def core_settings(conf: cfg.ConfigOpts) -> CoreSettings:
    if conf.core_plugin not in _PLUGINS:
        raise ConfigError(f"core_plugin {conf.core_plugin!r} is not one of {sorted(_PLUGINS)}")
    scheduler = _SCHEDULERS.get(conf.network_scheduler_driver)
    if scheduler is None:
        raise ConfigError(f"network_scheduler_driver {conf.network_scheduler_driver!r} is "
                          f"not one of {sorted(_SCHEDULERS)}")
    ranges = conf.vlans.network_vlan_ranges or conf.ml2_type_vlan.network_vlan_ranges
    tenant_type = conf.vlans.tenant_network_type
    if conf.ml2.tenant_network_types:
        tenant_type = conf.ml2.tenant_network_types[0]
    vlan_ranges = parse_vlan_ranges(ranges)
    if tenant_type == "vlan" and not any(r.minimum is not None for r in vlan_ranges):
        # Else every non-admin network create fails with 503 "No tenant network is
        # available" long after start: say so now.
        raise ConfigError("tenant_network_type = vlan needs network_vlan_ranges with at "
                          "least one physnet:min:max range ([vlans] or [ml2_type_vlan]); "
                          "set tenant_network_type = local for networks without VLANs")
    return CoreSettings(
        host=conf.host,
        allow_overlapping_ips=conf.allow_overlapping_ips,
        agent_down_time=conf.agent_down_time,
        network_scheduler=scheduler,
        dhcp_agents_per_network=conf.dhcp_agents_per_network,
        dhcp_load_type=conf.dhcp_load_type,
        network_auto_schedule=conf.network_auto_schedule,
        allow_automatic_dhcp_failover=conf.allow_automatic_dhcp_failover,
        enable_new_agents=conf.enable_new_agents,
        default_availability_zones=tuple(conf.default_availability_zones),
        tenant_network_type=tenant_type,
        vlan_ranges=tuple(vlan_ranges),
        base_mac=conf.base_mac,
        global_physnet_mtu=conf.global_physnet_mtu,
        quotas=QuotaSettings(conf.quotas.quota_network, conf.quotas.quota_subnet,
                             conf.quotas.quota_port, conf.quotas.default_quota,
                             conf.quotas.quota_security_group,
                             conf.quotas.quota_security_group_rule),
        state_report_concurrency=conf.state_report_concurrency,
        dns_domain=dns_domain(conf),
        max_allowed_address_pair=conf.max_allowed_address_pair,
    )


def api_settings(conf: cfg.ConfigOpts) -> ApiSettings:
    users = []
    for entry in conf.identity.user:
        parts = entry.split(":")
        if len(parts) != 4 or not all(parts):
            raise ConfigError(f"[identity] user {entry!r} is not name:password:project:role")
        users.append(IdentityUser(*parts))
    return ApiSettings(
        bind_host=conf.bind_host, bind_port=conf.bind_port,
        auth_strategy=conf.auth_strategy, api_workers=conf.api_workers,
        request_threads=conf.wsgi_default_pool_size,
        pagination_max_limit=conf.pagination_max_limit,
        request_timeout=conf.api_request_timeout, users=tuple(users),
        token_secret=conf.identity.token_secret,
        token_expiration=conf.identity.token_expiration,
        token_revocation_refresh=conf.identity.token_revocation_refresh,
        public_endpoint=conf.identity.public_endpoint, region=conf.identity.region,
        state_path=conf.state_path, metrics_require_admin=conf.metrics_require_admin,
    )


def agent_settings(conf: cfg.ConfigOpts) -> AgentSettings:
    return AgentSettings(conf.host, conf.state_path, conf.AGENT.report_interval,
                         conf.AGENT.availability_zone, conf.AGENT.log_agent_heartbeats,
                         conf.host_netns, conf.netns_dir, conf.AGENT.metrics_port,
                         conf.AGENT.metrics_bind_host)


def dhcp_agent_settings(conf: cfg.ConfigOpts) -> DhcpAgentSettings:
    driver = _INTERFACE_DRIVERS.get(conf.interface_driver)
    if driver is None:
        raise ConfigError(f"interface_driver {conf.interface_driver!r} is not one of "
                          f"{sorted(_INTERFACE_DRIVERS)}")
    if conf.dhcp_driver not in _DHCP_DRIVERS:
        raise ConfigError(f"dhcp_driver {conf.dhcp_driver!r} is not one of "
                          f"{sorted(_DHCP_DRIVERS)}")
    return DhcpAgentSettings(
        agent=agent_settings(conf), interface_driver=driver, dhcp_driver=conf.dhcp_driver,
        lease_duration=conf.dhcp_lease_duration, resync_interval=conf.resync_interval,
        num_sync_threads=conf.num_sync_threads,
        revision_check_interval=conf.revision_check_interval, confs_dir=conf.dhcp_confs,
        domain=dns_domain(conf), dns_servers=_dns_servers(conf),
        local_resolv=conf.dnsmasq_local_resolv,
        renewal_time=conf.dhcp_renewal_time, rebinding_time=conf.dhcp_rebinding_time,
        broadcast_reply=conf.dhcp_broadcast_reply,
        dnsmasq_config_file=_config_file(conf.dnsmasq_config_file),
        lease_max=conf.dnsmasq_lease_max, enable_ra=conf.dnsmasq_enable_ra,
        metadata=MetadataSettings(
            enable_isolated_metadata=conf.enable_isolated_metadata,
            force_metadata=conf.force_metadata,
            enable_metadata_network=conf.enable_metadata_network,
            nova_host=conf.nova_metadata_host, nova_port=conf.nova_metadata_port,
            nova_protocol=conf.nova_metadata_protocol,
            shared_secret=conf.metadata_proxy_shared_secret),
    )


def linuxbridge_settings(conf: cfg.ConfigOpts) -> LinuxBridgeSettings:
    driver = _FIREWALL_DRIVERS.get(conf.SECURITYGROUP.firewall_driver or "noop")
    if driver is None:
        raise ConfigError(f"[SECURITYGROUP] firewall_driver "
                          f"{conf.SECURITYGROUP.firewall_driver!r} is not one of "
                          f"{sorted(_FIREWALL_DRIVERS)}")
    return LinuxBridgeSettings(
        agent=agent_settings(conf),
        interface_mappings=parse_mappings(conf.linux_bridge.physical_interface_mappings),
        firewall_driver=driver if conf.SECURITYGROUP.enable_security_group else "noop",
    )


def nova_settings(conf: cfg.ConfigOpts) -> NovaSettings:
    """The [nova] section; registers the options of the auth plugin it names (as
    keystoneauth's own conf loading does). Nova counts as configured when auth_type is set
    and, for plugins that take one, auth_url is too."""
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import loading as ks_loading

    group = conf.nova
    base = NovaSettings(
        region_name=group.region_name, endpoint_type=group.endpoint_type,
        notify_on_port_status=conf.notify_nova_on_port_status_changes,
        notify_on_port_data=conf.notify_nova_on_port_data_changes,
        send_events_interval=conf.send_events_interval)
    if not group.auth_type:
        return base
    try:
        plugin_opts = ks_loading.get_auth_plugin_conf_options(group.auth_type)
    except ks_exc.NoMatchingPlugin:
        raise ConfigError(f"[nova] auth_type {group.auth_type!r} is not a keystoneauth "
                          "plugin") from None
    conf.register_opts(plugin_opts, group="nova")
    options = tuple((o.dest, group[o.dest]) for o in plugin_opts)
    if any(name == "auth_url" and not value for name, value in options):
        return base
    verify: bool | str = group.cafile or not group.insecure
    cert: tuple[str, str] | str | None = None
    if group.certfile:
        cert = (group.certfile, group.keyfile) if group.keyfile else group.certfile
    return replace(base, auth_type=group.auth_type, auth_options=options, verify=verify,
                   cert=cert, timeout=group.timeout)
