"""Network ↔ DHCP agent bindings in the database: automatic and manual scheduling.

Placement itself is `neutrino.core.agents.scheduler`; this module feeds it from the database and
writes its answer. Races between server replicas are settled by the unique
(network_id, binding_index) key: automatic scheduling only uses indexes
1..dhcp_agents_per_network, so however many servers schedule one network at once, at most
that many agents get it. A transaction that loses the race (a duplicate key) runs again and
sees the winner's rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.agents import scheduler
from neutrino.core.agents.registry import alive_cutoff
from neutrino.core.agents.scheduler import AgentSlot
from neutrino.core.dbutil import execute, rowcount
from neutrino.core.savepoint import execute_or_skip
from neutrino.core.transaction import Transactions
from neutrino.db.engine import RetryRequest, integrity_kind
from neutrino.db.models import Agent, Network, NetworkDhcpAgentBinding, Port, Subnet
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib.naming import dhcp_device_id

Binding = NetworkDhcpAgentBinding


def parse_hints(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


# Built once: these run in every port create, where building a statement per call costs
# more Python than running it.
_HAS_DHCP_SUBNET = exists().where(Subnet.network_id == bindparam("network_id"),
                                  Subnet.enable_dhcp.is_(True))
_HAS_BINDING = exists().where(Binding.network_id == bindparam("network_id"))
_DHCP_STATE = select(_HAS_DHCP_SUBNET, _HAS_BINDING)


# The same, and the bound agents' hosts, in the one query a port create makes of them: a
# row per binding, or one row of NULLs for a network with none.
_DHCP_HOSTING = (select(_HAS_DHCP_SUBNET, Agent.host, Agent.admin_state_up)
                 .select_from(Network)
                 .outerjoin(Binding, Binding.network_id == Network.id)
                 .outerjoin(Agent, Agent.id == Binding.dhcp_agent_id)
                 .where(Network.id == bindparam("network_id"))
                 .order_by(Agent.host))


@dataclass(frozen=True, slots=True)
class DhcpHosting:
    needed: bool  # the network has a subnet with DHCP
    bound: bool  # a DHCP agent is bound to it
    hosts: list[str]  # the hosts of the bound agents that are administratively up

    @property
    def served(self) -> bool:
        """Whether a DHCP agent serves the network, so its ports wait for DHCP."""
        return self.needed and self.bound


def dhcp_hosting(session: Session, network_id: str) -> DhcpHosting:
    """dhcp_state, with the hosts notify.hosting_hosts gives, in one query."""
    rows = execute(session, _DHCP_HOSTING, {"network_id": network_id}).all()
    bound = [(host, up) for _, host, up in rows if host is not None]
    return DhcpHosting(bool(rows and rows[0][0]), bool(bound),
                       [host for host, up in bound if up])


def has_dhcp_subnet(session: Session, network_id: str) -> bool:
    return dhcp_state(session, network_id)[0]


def dhcp_state(session: Session, network_id: str) -> tuple[bool, bool]:
    """(whether the network has a subnet with DHCP, whether an agent is bound to it), in
    one query."""
    needed, bound = execute(session, _DHCP_STATE, {"network_id": network_id}).one()
    return bool(needed), bool(bound)


def reserve_dhcp_port(session: Session, network_id: str, host: str, now: datetime) -> int:
    """Keep `host`'s DHCP port (and its IPs) for the next agent of the network."""
    result = session.execute(
        update(Port).where(Port.network_id == network_id,
                           Port.device_id == dhcp_device_id(host, network_id),
                           Port.device_owner == const.DEVICE_OWNER_DHCP)
        .values(device_id=const.DEVICE_ID_RESERVED_DHCP_PORT,
                revision_number=Port.revision_number + 1, updated_at=now),
        execution_options={"synchronize_session": False})
    return rowcount(result) or 0


class DhcpBindings:
    def __init__(self, tx: Transactions, settings: CoreSettings,
                 rng: random.Random | None = None) -> None:
        self.tx = tx
        self.settings = settings
        self.rng = rng or random.Random()

    # -- reading what placement needs --------------------------------------------------

    def candidates(self, session: Session, now: datetime,
                   exclude_ids: Sequence[str] = ()) -> list[AgentSlot]:
        """Alive, admin-up DHCP agents with their load."""
        query = select(Agent.id, Agent.host, Agent.load, Agent.availability_zone).where(
            Agent.agent_type == const.AGENT_TYPE_DHCP, Agent.admin_state_up.is_(True),
            Agent.heartbeat_timestamp > alive_cutoff(now, self.settings.agent_down_time))
        rows = [r for r in session.execute(query) if r.id not in set(exclude_ids)]
        if self.settings.dhcp_load_type == "networks" and rows:
            # Reported loads are up to report_interval old; a count of bindings is exact
            # and sees what this very scheduling pass has just added.
            counts = dict(session.execute(
                select(Binding.dhcp_agent_id, func.count()).where(
                    Binding.dhcp_agent_id.in_([r.id for r in rows]))
                .group_by(Binding.dhcp_agent_id)).all())
            return [AgentSlot(r.id, r.host, counts.get(r.id, 0), r.availability_zone)
                    for r in rows]
        return [AgentSlot(r.id, r.host, r.load, r.availability_zone) for r in rows]

    def hosting(self, session: Session, network_id: str) -> list[tuple[AgentSlot, int]]:
        rows = session.execute(
            select(Agent.id, Agent.host, Agent.load, Agent.availability_zone,
                   Binding.binding_index)
            .join(Binding, Binding.dhcp_agent_id == Agent.id)
            .where(Binding.network_id == network_id))
        return [(AgentSlot(r.id, r.host, r.load, r.availability_zone), r.binding_index)
                for r in rows]

    def zones_for(self, hints: list[str]) -> list[str]:
        return hints or list(self.settings.default_availability_zones)

    # -- automatic scheduling ------------------------------------------------------------

    def schedule(self, network_id: str, now: datetime) -> list[str]:
        """Bind the network to as many agents as it lacks; returns the new agents' hosts.

        A no-op for networks without a DHCP-enabled subnet, when they have enough agents,
        and when `network_auto_schedule` is off.
        """
        if not self.settings.network_auto_schedule:
            return []
        return self.tx.run(lambda s: self._schedule_retrying(s, network_id, now))

    def _schedule_retrying(self, session: Session, network_id: str,
                           now: datetime) -> list[str]:
        try:
            return [a.host for a in self.schedule_in(session, network_id, now)]
        except IntegrityError as e:
            if integrity_kind(e) == "foreign_key":
                return []  # the network (or a chosen agent) went away meanwhile
            raise RetryRequest() from e

    def schedule_in(self, session: Session, network_id: str, now: datetime,
                    candidates: Sequence[AgentSlot] | None = None,
                    exclude_ids: Sequence[str] = ()) -> list[AgentSlot]:
        """Inside the caller's transaction; a lost race raises IntegrityError."""
        hints = session.scalar(select(Network.availability_zone_hints).where(
            Network.id == network_id))
        if hints is None or not has_dhcp_subnet(session, network_id):
            return []
        hosting = self.hosting(session, network_id)
        count = scheduler.wanted(self.settings.dhcp_agents_per_network, len(hosting))
        if count == 0:
            return []
        if candidates is None:
            candidates = self.candidates(session, now, exclude_ids)
        chosen = scheduler.choose_agents(
            self.settings.network_scheduler, candidates, [a for a, _ in hosting], count,
            self.zones_for(parse_hints(hints)), self.rng)
        indexes = scheduler.free_indexes([i for _, i in hosting], len(chosen),
                                         self.settings.dhcp_agents_per_network)
        placed = list(zip(chosen, indexes, strict=False))
        for agent, index in placed:
            session.execute(insert(Binding).values(
                network_id=network_id, dhcp_agent_id=agent.id, binding_index=index))
        session.flush()
        return [agent for agent, _ in placed]

    def auto_schedule_host(self, session: Session, agent: Agent, now: datetime) -> int:
        """Give a (live, admin-up) agent every network that needs DHCP and lacks agents.

        One aggregate query finds them all; each binding is inserted in a savepoint so that a
        network another server filled meanwhile is simply skipped.
        """
        if not self.settings.network_auto_schedule or not agent.admin_state_up:
            return 0
        per_network = self.settings.dhcp_agents_per_network
        needs_dhcp = exists().where(Subnet.network_id == Network.id,
                                    Subnet.enable_dhcp.is_(True))
        mine = exists().where(Binding.network_id == Network.id,
                              Binding.dhcp_agent_id == agent.id)
        bound = (select(Binding.network_id, func.count().label("n"))
                 .group_by(Binding.network_id).subquery())
        rows = session.execute(
            select(Network.id, Network.availability_zone_hints)
            .outerjoin(bound, bound.c.network_id == Network.id)
            .where(needs_dhcp, ~mine, func.coalesce(bound.c.n, 0) < per_network)).all()
        wanted = [r.id for r in rows
                  if not self.zones_for(parse_hints(r.availability_zone_hints))
                  or agent.availability_zone in self.zones_for(
                      parse_hints(r.availability_zone_hints))]
        if not wanted:
            return 0
        used: dict[str, list[int]] = {n: [] for n in wanted}
        for chunk in _chunks(wanted, 500):
            for network_id, index in session.execute(
                    select(Binding.network_id, Binding.binding_index)
                    .where(Binding.network_id.in_(chunk))):
                used[network_id].append(index)
        added = 0
        for network_id in wanted:
            free = scheduler.free_indexes(used[network_id], 1, per_network)
            if not free:
                continue
            # A clash: another server took the slot, or the network went away.
            if execute_or_skip(session, insert(Binding).values(
                    network_id=network_id, dhcp_agent_id=agent.id, binding_index=free[0])):
                added += 1
        return added

    # -- manual scheduling -----------------------------------------------------------------

    def add(self, agent_id: str, network_id: str) -> str:
        """Bind regardless of dhcp_agents_per_network and liveness; returns the host."""
        def apply(session: Session) -> str:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise exc.AgentNotFound(id=agent_id)
            if agent.agent_type != const.AGENT_TYPE_DHCP or not agent.admin_state_up:
                raise exc.InvalidDHCPAgent(id=agent_id)
            if session.get(Network, network_id) is None:
                raise exc.NetworkNotFound(net_id=network_id)
            hosting = self.hosting(session, network_id)
            if any(a.id == agent_id for a, _ in hosting):
                raise exc.NetworkHostedByDHCPAgent(network_id=network_id, agent_id=agent_id)
            index = scheduler.free_indexes([i for _, i in hosting], 1, None)[0]
            try:
                session.execute(insert(Binding).values(
                    network_id=network_id, dhcp_agent_id=agent_id, binding_index=index))
                session.flush()
            except IntegrityError as e:
                if integrity_kind(e) == "foreign_key":
                    raise exc.NetworkNotFound(net_id=network_id) from e
                raise RetryRequest() from e
            return agent.host
        return self.tx.run(apply)

    def remove(self, agent_id: str, network_id: str, now: datetime) -> str:
        """Unbind and reserve the agent's DHCP port; returns the agent's host."""
        def apply(session: Session) -> str:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise exc.AgentNotFound(id=agent_id)
            result = session.execute(delete(Binding).where(
                Binding.network_id == network_id, Binding.dhcp_agent_id == agent_id),
                execution_options={"synchronize_session": False})
            if not rowcount(result):
                raise exc.NetworkNotHostedByDhcpAgent(network_id=network_id,
                                                      agent_id=agent_id)
            reserve_dhcp_port(session, network_id, agent.host, now)
            return agent.host
        return self.tx.run(apply)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]
