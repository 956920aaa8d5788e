"""The DHCP HA monitor: move networks off dead DHCP agents.

The server calls `Failover.tick()` about every second. With nothing dead that is a single
indexed query (agents whose heartbeat is older than `agent_down_time`, by the heartbeat
index). Networks move as soon as their agent is dead — `agent_down_time` after its last
report, not Neutron's 2× — so failover completes within agent_down_time plus a tick.

One actor at a time: the monitor that finds work takes the `dhcp-ha-monitor` lease (a row
of `leases`, taken by a conditional UPDATE or a first INSERT, renewed per batch, released
when done). Even without it the (network_id, binding_index) key and the conditional delete
of the dead binding keep two movers from double-binding a network.

Moving a network: delete the dead agent's binding, mark its DHCP port `reserved_dhcp_port`
(the replacement adopts it and keeps the IP), bind a live agent in the freed slot, and cast
`network_create_end` to it. A network with no live candidate keeps its dead binding: taking
it away would give nothing and would make the dead agent's return a full teardown.

Stampede guard — after a control-plane outage (server, database or RabbitMQ down) every
agent looks dead at once, and moving everything would be a storm for nothing. The monitor
holds off when any of these is true:

1. no DHCP agent is alive (nowhere to move to, and the signature of an outage);
2. this server has been up for less than `agent_down_time` (agents have not had a chance to
   report to it yet);
3. a hold-off recorded in the database has not expired: whenever a DHCP agent revives while
   fewer than half of the DHCP agents were alive, `report_state` records "hold off until
   agent_down_time from now" (row `dhcp-ha-holdoff` of `leases`, shared by all replicas).
   That is the control plane coming back: the other agents will report within a
   report_interval, so nothing moves until the revivals are over;
4. more than one hosting agent is dead, fewer than half of the hosting agents are alive,
   and the newest dead heartbeat is less than `MASS_DEATH_PATIENCE` × agent_down_time old
   (a mass death with no revival yet, e.g. RabbitMQ still down for most agents). Past that
   it is believed: a rack that lost power must fail over too, only later.

A single dead agent among live ones is never held back by rules 3-4, so the ordinary
failover is not slowed down.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, delete, exists, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.agents import scheduler
from neutrino.core.agents.bindings import DhcpBindings, parse_hints, reserve_dhcp_port
from neutrino.core.agents.notify import Outbox
from neutrino.core.agents.registry import alive_cutoff
from neutrino.core.dbutil import rowcount
from neutrino.core.interfaces import Clock
from neutrino.core.savepoint import execute_or_skip
from neutrino.core.transaction import Transactions
from neutrino.db.engine import RetryRequest
from neutrino.db.models import Agent, Lease, Network, NetworkDhcpAgentBinding
from neutrino.lib import constants as const
from neutrino.lib import payloads

LOG = logging.getLogger(__name__)

MONITOR_LEASE = "dhcp-ha-monitor"
HOLDOFF = "dhcp-ha-holdoff"
LEASE_SECONDS = 10
MASS_DEATH_PATIENCE = 3
BATCH = 50

Binding = NetworkDhcpAgentBinding


@dataclass(frozen=True)
class FailoverView:
    """What the stampede guard looks at, read from the database in one go."""

    now: datetime
    server_started_at: datetime
    agent_down_time: int
    any_dhcp_agent_alive: bool
    hosting_alive: int
    dead_heartbeats: tuple[datetime, ...]  # of dead DHCP agents that host networks
    holdoff_until: datetime | None = None


def hold_reason(view: FailoverView) -> str | None:
    """Why the monitor must not move anything now, or None to go ahead."""
    down = timedelta(seconds=view.agent_down_time)
    if not view.dead_heartbeats:
        return "no dead DHCP agent hosts a network"
    if not view.any_dhcp_agent_alive:
        return "no DHCP agent is alive"
    if view.now - view.server_started_at < down:
        return "this server has been up for less than agent_down_time"
    if view.holdoff_until is not None and view.now < view.holdoff_until:
        return "DHCP agents are coming back after an outage"
    dead = len(view.dead_heartbeats)
    if (dead > 1 and view.hosting_alive < dead
            and view.now - max(view.dead_heartbeats) < MASS_DEATH_PATIENCE * down):
        return f"{dead} of {dead + view.hosting_alive} hosting DHCP agents look dead"
    return None


def revival_means_outage(alive_before: int, total: int) -> bool:
    """An agent coming back while fewer than half were alive: the control plane is."""
    return 2 * alive_before < total


# -- leases -----------------------------------------------------------------------------------

def try_acquire(session: Session, name: str, holder: str, now: datetime,
                seconds: float) -> bool:
    """Take or renew the lease `name` for `holder` unless someone else holds it."""
    until = now + timedelta(seconds=seconds)
    result = session.execute(
        update(Lease).where(Lease.name == name,
                            (Lease.holder == holder) | (Lease.expires_at < now))
        .values(holder=holder, expires_at=until),
        execution_options={"synchronize_session": False})
    if rowcount(result):
        return True
    if session.scalar(select(exists().where(Lease.name == name))):
        return False
    # False on a clash: another server created it first.
    return execute_or_skip(session, insert(Lease).values(name=name, holder=holder,
                                                         expires_at=until))


def release(session: Session, name: str, holder: str, now: datetime) -> None:
    session.execute(
        update(Lease).where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now - timedelta(seconds=1)),
        execution_options={"synchronize_session": False})


def extend_holdoff(session: Session, until: datetime) -> None:
    result = session.execute(
        update(Lease).where(Lease.name == HOLDOFF, Lease.expires_at < until)
        .values(holder="report_state", expires_at=until),
        execution_options={"synchronize_session": False})
    if rowcount(result) or session.scalar(select(exists().where(Lease.name == HOLDOFF))):
        return
    # A clash: recorded by another server at the same moment.
    execute_or_skip(session, insert(Lease).values(name=HOLDOFF, holder="report_state",
                                                  expires_at=until))


def note_revival(session: Session, agent_down_time: int, now: datetime) -> None:
    """Called by report_state, in its transaction, when a DHCP agent revives."""
    cutoff = alive_cutoff(now, agent_down_time)
    total, alive = session.execute(
        select(func.count(), func.coalesce(func.sum(
            case((Agent.heartbeat_timestamp > cutoff, 1), else_=0)), 0))
        .where(Agent.agent_type == const.AGENT_TYPE_DHCP)).one()
    # The reviving agent's row is already refreshed in this transaction.
    if revival_means_outage(int(alive) - 1, int(total)):
        extend_holdoff(session, now + timedelta(seconds=agent_down_time))


# -- the monitor ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeadAgent:
    id: str
    host: str
    heartbeat: datetime


class Failover:
    """One pass of the HA monitor: moves networks off dead DHCP agents, one server replica
    at a time (a lease row), holding back after a control-plane outage."""

    def __init__(self, tx: Transactions, settings: CoreSettings, bindings: DhcpBindings,
                 clock: Clock, started_at: datetime, holder: str | None = None) -> None:
        self.tx = tx
        self.settings = settings
        self.bindings = bindings
        self.clock = clock
        self.started_at = started_at
        self.holder = holder or f"{settings.host}:{uuid.uuid4().hex[:12]}"
        self._last_reason: str | None = None  # only to log a hold once, not every tick

    def tick(self, outbox: Outbox) -> int:
        if not (self.settings.allow_automatic_dhcp_failover
                and self.settings.network_auto_schedule):
            return 0
        now = self.clock.now()
        dead = self.tx.run(lambda s: self._dead_hosting_agents(s, now), readonly=True)
        if not dead:
            return 0
        view = self.tx.run(lambda s: self._view(s, now, dead), readonly=True)
        reason = hold_reason(view)
        if reason is not None:
            level = logging.WARNING if reason != self._last_reason else logging.DEBUG
            LOG.log(level, "not moving networks off %d dead DHCP agent(s): %s", len(dead),
                    reason)
            self._last_reason = reason
            return 0
        self._last_reason = None
        if not self.tx.run(lambda s: try_acquire(s, MONITOR_LEASE, self.holder, now,
                                                 LEASE_SECONDS)):
            return 0
        moved = 0
        try:
            for agent in dead:
                moved += self._move_off(agent, outbox)
        finally:
            self.tx.run(lambda s: release(s, MONITOR_LEASE, self.holder, self.clock.now()))
        return moved

    def _dead_hosting_agents(self, session: Session, now: datetime) -> list[DeadAgent]:
        cutoff = alive_cutoff(now, self.settings.agent_down_time)
        rows = session.execute(
            select(Agent.id, Agent.host, Agent.heartbeat_timestamp).where(
                Agent.heartbeat_timestamp <= cutoff,
                Agent.agent_type == const.AGENT_TYPE_DHCP,
                exists().where(Binding.dhcp_agent_id == Agent.id))
            .order_by(Agent.heartbeat_timestamp))
        return [DeadAgent(r.id, r.host, r.heartbeat_timestamp) for r in rows]

    def _view(self, session: Session, now: datetime,
              dead: Sequence[DeadAgent]) -> FailoverView:
        cutoff = alive_cutoff(now, self.settings.agent_down_time)
        dhcp_alive = (Agent.agent_type == const.AGENT_TYPE_DHCP) & (
            Agent.heartbeat_timestamp > cutoff)
        any_alive = bool(session.scalar(select(exists().where(dhcp_alive))))
        hosting_alive = session.scalar(select(func.count()).select_from(Agent).where(
            dhcp_alive, exists().where(Binding.dhcp_agent_id == Agent.id))) or 0
        holdoff = session.scalar(select(Lease.expires_at).where(Lease.name == HOLDOFF))
        return FailoverView(now, self.started_at, self.settings.agent_down_time, any_alive,
                            int(hosting_alive), tuple(a.heartbeat for a in dead), holdoff)

    def _move_off(self, agent: DeadAgent, outbox: Outbox) -> int:
        network_ids = self.tx.run(lambda s: list(s.scalars(
            select(Binding.network_id).where(Binding.dhcp_agent_id == agent.id)
            .order_by(Binding.network_id))), readonly=True)
        moved = 0
        for start in range(0, len(network_ids), BATCH):
            batch = network_ids[start:start + BATCH]
            casts: list[tuple[str, str]] = []

            def move(s: Session, b: list[str] = batch,
                     c: list[tuple[str, str]] = casts) -> int | None:
                return self._move_batch_leased(s, agent, b, c)
            count = self.tx.run(move)
            if count is None:
                break  # our lease ran out and someone else took over
            moved += count
            for host, network_id in casts:
                outbox.add(host, const.NETWORK_CREATE_END, payloads.network_create(network_id))
        if moved:
            LOG.warning("moved %d network(s) off dead DHCP agent %s on %s", moved, agent.id,
                        agent.host)
        return moved

    def _move_batch_leased(self, session: Session, agent: DeadAgent,
                           network_ids: Sequence[str], casts: list[tuple[str, str]]
                           ) -> int | None:
        """The batch, in the same transaction as the renewal of our lease (every batch,
        the first of each agent too): None, and nothing moved, once another holds it."""
        if not try_acquire(session, MONITOR_LEASE, self.holder, self.clock.now(),
                           LEASE_SECONDS):
            casts.clear()
            return None
        return self._move_batch(session, agent, network_ids, casts)

    def _move_batch(self, session: Session, agent: DeadAgent, network_ids: Sequence[str],
                    casts: list[tuple[str, str]]) -> int:
        casts.clear()  # a retried transaction starts over
        now = self.clock.now()
        heartbeat = session.scalar(select(Agent.heartbeat_timestamp).where(
            Agent.id == agent.id))
        if heartbeat is None or heartbeat > alive_cutoff(now, self.settings.agent_down_time):
            return 0  # it came back (or was deleted) since the tick looked
        candidates = self.bindings.candidates(session, now)
        per_network = self.settings.dhcp_agents_per_network
        moved = 0
        for network_id in network_ids:
            hosting = self.bindings.hosting(session, network_id)
            if not any(a.id == agent.id for a, _ in hosting):
                continue  # moved by someone else meanwhile
            others = [a for a, _ in hosting if a.id != agent.id]
            hints = parse_hints(session.scalar(select(Network.availability_zone_hints)
                                               .where(Network.id == network_id)))
            if (scheduler.wanted(per_network, len(others)) > 0 and not scheduler.eligible(
                    candidates, others, self.bindings.zones_for(hints))):
                continue  # nowhere to move it
            gone = session.execute(delete(Binding).where(
                Binding.network_id == network_id, Binding.dhcp_agent_id == agent.id),
                execution_options={"synchronize_session": False})
            if not rowcount(gone):
                continue
            reserve_dhcp_port(session, network_id, agent.host, now)
            try:
                placed = self.bindings.schedule_in(session, network_id, now,
                                                   candidates=candidates)
            except IntegrityError as e:
                raise RetryRequest() from e
            candidates = scheduler.with_added_load(candidates, placed)
            casts.extend((a.host, network_id) for a in placed)
            moved += 1
        return moved
