"""Typed settings, built once from oslo.config at a program's edge and handed down.

Nothing below `cmd/` reads a ConfigOpts: the layers take these plain values instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from oslo_config import cfg

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
    control_exchange: str = "neutron"
    response_timeout: int = 60


@dataclass(frozen=True)
class DatabaseSettings:
    url: str
    retry_interval: int = 10
    max_retries: int = 10
    recycle_time: int = 3600


@dataclass(frozen=True)
class QuotaSettings:
    """[quotas]: the limits a project has until an admin sets its own; -1 is unlimited."""

    network: int = 100
    subnet: int = 100
    port: int = 500
    # Neutron's fallback for resources without a quota_<resource> option (none here yet).
    default_quota: int = -1

    def defaults(self) -> dict[str, int]:
        return {"network": self.network, "subnet": self.subnet, "port": self.port}


@dataclass(frozen=True)
class CoreSettings:
    host: str = "localhost"
    allow_overlapping_ips: bool = False
    agent_down_time: int = 75
    network_scheduler: str = "weight"  # chance | weight | az
    dhcp_agents_per_network: int = 1
    dhcp_load_type: str = "networks"
    network_auto_schedule: bool = True
    allow_automatic_dhcp_failover: bool = True
    enable_new_agents: bool = True
    default_availability_zones: tuple[str, ...] = ()
    tenant_network_type: str = "vlan"
    vlan_ranges: tuple[VlanRange, ...] = ()
    base_mac: str = "fa:16:3e:00:00:00"
    global_physnet_mtu: int = 1500
    quotas: QuotaSettings = field(default_factory=QuotaSettings)


@dataclass(frozen=True)
class IdentityUser:
    name: str
    password: str
    project: str
    role: str


@dataclass(frozen=True)
class ApiSettings:
    bind_host: str = "0.0.0.0"
    bind_port: int = 9696
    auth_strategy: str = "builtin"
    api_workers: int = 1
    pagination_max_limit: int = -1
    users: tuple[IdentityUser, ...] = ()
    token_secret: str | None = None
    token_expiration: int = 3600
    public_endpoint: str | None = None
    region: str = "RegionOne"
    state_path: str = "/var/lib/neutrino"


@dataclass(frozen=True)
class AgentSettings:
    host: str
    state_path: str
    report_interval: float = 30
    availability_zone: str = "nova"
    log_agent_heartbeats: bool = False
    host_netns: str | None = None  # None: the agent's own network namespace
    netns_dir: str = "/run/netns"


@dataclass(frozen=True)
class DhcpAgentSettings:
    agent: AgentSettings
    interface_driver: str = "linuxbridge"
    dhcp_driver: str = "neutron.agent.linux.dhcp.Dnsmasq"
    lease_duration: int = 86400
    resync_interval: int = 5
    num_sync_threads: int = 4
    confs_dir: str = "/var/lib/neutrino/dhcp"
    domain: str = "openstacklocal"
    dns_servers: tuple[str, ...] = ()
    lease_max: int = 2 ** 24


@dataclass(frozen=True)
class LinuxBridgeSettings:
    agent: AgentSettings
    interface_mappings: dict[str, str] = field(default_factory=dict)
    polling_interval: float = 1.0


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
    return RpcSettings(url, conf.control_exchange, conf.rpc_response_timeout)


def database_settings(conf: cfg.ConfigOpts) -> DatabaseSettings:
    url = conf.database.connection or "sqlite:///" + os.path.join(
        conf.state_path, "neutrino.sqlite")
    return DatabaseSettings(url, conf.database.retry_interval, conf.database.max_retries,
                            conf.database.connection_recycle_time)


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
        vlan_ranges=tuple(parse_vlan_ranges(ranges)),
        base_mac=conf.base_mac,
        global_physnet_mtu=conf.global_physnet_mtu,
        quotas=QuotaSettings(conf.quotas.quota_network, conf.quotas.quota_subnet,
                             conf.quotas.quota_port, conf.quotas.default_quota),
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
        pagination_max_limit=conf.pagination_max_limit, users=tuple(users),
        token_secret=conf.identity.token_secret,
        token_expiration=conf.identity.token_expiration,
        public_endpoint=conf.identity.public_endpoint, region=conf.identity.region,
        state_path=conf.state_path,
    )


def agent_settings(conf: cfg.ConfigOpts) -> AgentSettings:
    return AgentSettings(conf.host, conf.state_path, conf.AGENT.report_interval,
                         conf.AGENT.availability_zone, conf.AGENT.log_agent_heartbeats,
                         conf.host_netns, conf.netns_dir)


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
        num_sync_threads=conf.num_sync_threads, confs_dir=conf.dhcp_confs,
        domain=conf.dhcp_domain, dns_servers=tuple(conf.dnsmasq_dns_servers),
        lease_max=conf.dnsmasq_lease_max,
    )


def linuxbridge_settings(conf: cfg.ConfigOpts) -> LinuxBridgeSettings:
    return LinuxBridgeSettings(
        agent=agent_settings(conf),
        interface_mappings=parse_mappings(conf.linux_bridge.physical_interface_mappings),
    )
