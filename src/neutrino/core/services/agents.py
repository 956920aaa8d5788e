"""Agents as the admin sees them, their reports, and the DHCP agent scheduler's API."""

from __future__ import annotations

import builtins
import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.core import metrics
from neutrino.core.agents.bindings import DhcpBindings
from neutrino.core.agents.ha import Failover
from neutrino.core.agents.notify import Outbox
from neutrino.core.agents.registry import AgentRegistry, agent_dict
from neutrino.core.context import Context
from neutrino.core.services.base import Body, Env, Filters
from neutrino.core.services.networks import NetworkService
from neutrino.db.models import Agent, NetworkDhcpAgentBinding
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib import payloads

# Seconds a state report waits for a free slot (see AgentService.report_state).
REPORT_SLOT_WAIT = 5.0


class AgentService:
    def __init__(self, env: Env, registry: AgentRegistry) -> None:
        self.env = env
        self.registry = registry
        self._report_slots = threading.BoundedSemaphore(
            env.settings.state_report_concurrency)

    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]:
        return self.registry.list(filters or {}, self.env.clock.now())

    def get(self, ctx: Context, id: str) -> Body:
        return self.registry.get(id, self.env.clock.now())

    def update(self, ctx: Context, id: str, body: Body) -> Body:
        before, after = self.registry.update(id, body, self.env.clock.now())
        if (after["agent_type"] == const.AGENT_TYPE_DHCP and "admin_state_up" in body
                and before["admin_state_up"] != after["admin_state_up"]):
            outbox = Outbox()
            outbox.add(after["host"], const.AGENT_UPDATED,
                       payloads.agent_updated(after["admin_state_up"]))
            outbox.send(self.env.notifier)
        return after

    def delete(self, ctx: Context, id: str) -> None:
        self.registry.delete(id, self.env.clock.now())

    def report_state(self, agent_state: Body, time: str | None = None) -> str:
        """"new", "alive" or "revived". At most `state_report_concurrency` reports use the
        database at once: when it is slow, heartbeats queue here, not in the connection
        pool the API's requests need; one that waits too long fails and the agent simply
        reports again at its next interval."""
        if not self._report_slots.acquire(timeout=REPORT_SLOT_WAIT):
            raise exc.ServiceUnavailable("Too many agent state reports at once; report "
                                         "again later.")
        try:
            return self.registry.report_state(agent_state, self.env.clock.now(), time)
        finally:
            self._report_slots.release()

    def list_availability_zones(self, ctx: Context, filters: Filters
                                ) -> builtins.list[Body]:
        return self.registry.availability_zones(filters)


class DhcpSchedulingService:
    """`dhcp-agent-network-add/remove`, both listings, and the HA monitor's pass."""

    def __init__(self, env: Env, bindings: DhcpBindings, networks: NetworkService,
                 failover: Failover) -> None:
        self.env = env
        self.bindings = bindings
        self.networks = networks
        self.failover = failover

    def agents_hosting_network(self, ctx: Context, network_id: str) -> list[Body]:
        self.networks.get(ctx, network_id)  # 404 for unknown or invisible ones
        now = self.env.clock.now()
        down_time = self.env.settings.agent_down_time

        def read(session: Session) -> list[Body]:
            agents = session.scalars(
                select(Agent).join(NetworkDhcpAgentBinding,
                                   NetworkDhcpAgentBinding.dhcp_agent_id == Agent.id)
                .where(NetworkDhcpAgentBinding.network_id == network_id)
                .order_by(Agent.host))
            return [agent_dict(a, now, down_time) for a in agents]
        return self.env.tx.read(read)

    def networks_on_agent(self, ctx: Context, agent_id: str) -> list[Body]:
        def read(session: Session) -> list[str]:
            if session.get(Agent, agent_id) is None:
                raise exc.AgentNotFound(id=agent_id)
            return list(session.scalars(
                select(NetworkDhcpAgentBinding.network_id)
                .where(NetworkDhcpAgentBinding.dhcp_agent_id == agent_id)))
        ids = self.env.tx.read(read)
        return self.networks.list(ctx, {"id": sorted(ids)}) if ids else []

    def add_network(self, ctx: Context, agent_id: str, network_id: str) -> None:
        host = self.bindings.add(agent_id, network_id)
        metrics.count_scheduled(metrics.TRIGGER_MANUAL_ADD, 1)
        outbox = Outbox()
        outbox.add(host, const.NETWORK_CREATE_END, payloads.network_create(network_id))
        outbox.send(self.env.notifier)

    def remove_network(self, ctx: Context, agent_id: str, network_id: str) -> None:
        host = self.bindings.remove(agent_id, network_id, self.env.now())
        metrics.count_scheduled(metrics.TRIGGER_MANUAL_REMOVE, 1)
        outbox = Outbox()
        outbox.add(host, const.NETWORK_DELETE_END, payloads.network_delete(network_id))
        outbox.send(self.env.notifier)

    def reschedule_networks_from_down_agents(self) -> int:
        """The HA monitor's pass; safe with several server replicas."""
        outbox = Outbox()
        moved = self.failover.tick(outbox)
        metrics.count_failover(moved)
        outbox.send(self.env.notifier)
        return moved
