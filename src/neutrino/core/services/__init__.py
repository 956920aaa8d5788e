"""Core's services: what `api/` and `rpc/` call, typed, one path per operation.

`build_services` wires them once; `Services` names them by area: the resources the API
serves, agents and the DHCP agent scheduler, and the plugin APIs the agents call over RPC.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from neutrino.conf.settings import ConfigError, CoreSettings, NovaSettings
from neutrino.core.agents import ha, nova
from neutrino.core.agents.bindings import DhcpBindings
from neutrino.core.agents.notify import Delivered, SendingThread
from neutrino.core.agents.registry import AgentRegistry
from neutrino.core.interfaces import Clock, DhcpAgentNotifier, SystemClock
from neutrino.core.resources import macs
from neutrino.core.services.agents import AgentService, DhcpSchedulingService
from neutrino.core.services.base import (
    Body,
    Collection,
    Creatable,
    Env,
    Filters,
    Page,
    PageRequest,
    ResourceService,
)
from neutrino.core.services.casts import CastService
from neutrino.core.services.dhcp_plugin import DhcpPluginService
from neutrino.core.services.l2_plugin import L2PluginService
from neutrino.core.services.networks import NetworkService
from neutrino.core.services.ports import PortService
from neutrino.core.services.quotas import QuotaService
from neutrino.core.services.securitygroups import (
    SecurityGroupRpcService,
    SecurityGroupRuleService,
    SecurityGroupService,
)
from neutrino.core.services.subnets import SubnetService
from neutrino.core.services.tags import TagService
from neutrino.core.services.tokens import TokenRevocationService
from neutrino.core.transaction import Transactions
from neutrino.db.engine import Database

__all__ = ["Body", "Collection", "Creatable", "Filters", "Page", "PageRequest",
           "ResourceService", "Services", "build_services"]


@dataclass(frozen=True)
class Services:
    networks: NetworkService
    subnets: SubnetService
    ports: PortService
    agents: AgentService
    dhcp_scheduling: DhcpSchedulingService
    dhcp_plugin: DhcpPluginService
    l2_plugin: L2PluginService
    quotas: QuotaService
    token_revocations: TokenRevocationService
    tags: TagService
    dhcp_casts: CastService
    security_groups: SecurityGroupService
    security_group_rules: SecurityGroupRuleService
    security_group_rpc: SecurityGroupRpcService


def build_services(db: Database, settings: CoreSettings, notifier: DhcpAgentNotifier,
                   clock: Clock | None = None, rng: random.Random | None = None,
                   nova_settings: NovaSettings | None = None,
                   send_in_background: bool = False) -> Services:
    """`nova_settings`: with a configured Nova, port changes record events for it.
    `send_in_background`: casts go out on a thread of their own after the commit
    (`dhcp_casts.flush()` sends what waits at shutdown), not on the caller's."""
    try:
        macs.parse_base_mac(settings.base_mac)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    clock = clock or SystemClock()
    delivered = Delivered()
    sender = SendingThread(notifier, delivered) if send_in_background else None
    env = Env(Transactions(db, nova.recording_info(nova_settings)), settings, notifier, clock,
              delivered, sender)
    registry = AgentRegistry(env.tx, settings, on_revival=lambda session, now: (
        ha.note_revival(session, settings.agent_down_time, now)))
    bindings = DhcpBindings(env.tx, settings, rng)
    failover = ha.Failover(env.tx, settings, bindings, clock, clock.now())
    networks = NetworkService(env)
    ports = PortService(env, bindings)
    return Services(
        networks=networks,
        subnets=SubnetService(env, bindings),
        ports=ports,
        agents=AgentService(env, registry),
        dhcp_scheduling=DhcpSchedulingService(env, bindings, networks, failover),
        dhcp_plugin=DhcpPluginService(env, bindings, ports, networks),
        l2_plugin=L2PluginService(env),
        quotas=QuotaService(env),
        token_revocations=TokenRevocationService(env),
        tags=TagService(env),
        dhcp_casts=CastService(env),
        security_groups=SecurityGroupService(env),
        security_group_rules=SecurityGroupRuleService(env),
        security_group_rpc=SecurityGroupRpcService(env),
    )
