"""Core's metrics: what this process decided (counters), and the cluster's state read from
the database when Prometheus scrapes (gauges).

The counters are incremented after the transaction that made the decision committed, so a
retried transaction is counted once. The cluster gauges cost three aggregate queries per
scrape, whatever the number of networks, and nothing between scrapes: heartbeats and API
requests never touch them. Every replica computes them from the same rows, so they are the
same from every replica (they carry no `process` label; alert on `max` or any one of them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import case, event, exists, func, select
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.agents.registry import alive_cutoff
from neutrino.core.interfaces import Clock
from neutrino.db.engine import Database
from neutrino.db.models import Agent, Network, Subnet
from neutrino.db.models import NetworkDhcpAgentBinding as Binding
from neutrino.lib.metrics import process_label

LOG = logging.getLogger(__name__)

# What placed (or removed) a network on a DHCP agent.
TRIGGER_NETWORK = "network"  # its first DHCP-enabled subnet (or a port) needed one
TRIGGER_AGENT_START = "agent_start"  # an agent's sync picked up networks lacking agents
TRIGGER_FAILOVER = "failover"  # the HA monitor moved it off a dead agent
TRIGGER_MANUAL_ADD = "manual_add"
TRIGGER_MANUAL_REMOVE = "manual_remove"

SCHEDULING_DECISIONS = Counter(
    "neutrino_dhcp_scheduling_decisions",
    "Network-to-DHCP-agent bindings made or removed by this process, by what caused them.",
    ["process", "trigger"])
FAILOVER_NETWORKS_MOVED = Counter(
    "neutrino_dhcp_failover_networks_moved",
    "Networks this process's HA monitor moved off dead DHCP agents.", ["process"])


def count_scheduled(trigger: str, bindings: int) -> None:
    if bindings > 0:
        SCHEDULING_DECISIONS.labels(process_label(), trigger).inc(bindings)


def count_failover(moved: int) -> None:
    if moved > 0:
        FAILOVER_NETWORKS_MOVED.labels(process_label()).inc(moved)
        SCHEDULING_DECISIONS.labels(process_label(), TRIGGER_FAILOVER).inc(moved)


# -- cluster-wide, at scrape time -------------------------------------------------------------

def agent_rows(session: Session) -> list[tuple[str, str, bool, datetime]]:
    """(agent_type, host, admin_state_up, heartbeat) of every agent: one row per agent, the
    smallest table there is, needed per host for "which agent is dead"."""
    rows = session.execute(select(Agent.agent_type, Agent.host, Agent.admin_state_up,
                                  Agent.heartbeat_timestamp))
    return [(r[0], r[1], bool(r[2]), r[3]) for r in rows]


def networks_per_agent(session: Session) -> dict[str, int]:
    """DHCP agent host -> networks bound to it (one GROUP BY over the bindings)."""
    rows = session.execute(select(Agent.host, func.count(Binding.network_id))
                           .join(Binding, Binding.dhcp_agent_id == Agent.id)
                           .group_by(Agent.host))
    return {host: int(n) for host, n in rows}


def networks_by_live_agents(session: Session, cutoff: datetime) -> dict[int, int]:
    """Number of live admin-up DHCP agents -> networks needing DHCP with that many (one
    aggregate query; the per-network counts never leave the database)."""
    live = func.sum(case((Agent.heartbeat_timestamp > cutoff, 1), else_=0))
    per_network = (select(Binding.network_id.label("network_id"), live.label("live"))
                   .join(Agent, Agent.id == Binding.dhcp_agent_id)
                   .where(Agent.admin_state_up.is_(True))
                   .group_by(Binding.network_id).subquery())
    needs_dhcp = exists().where(Subnet.network_id == Network.id, Subnet.enable_dhcp.is_(True))
    n_live = func.coalesce(per_network.c.live, 0)
    rows = session.execute(select(n_live, func.count())
                           .select_from(Network)
                           .outerjoin(per_network, per_network.c.network_id == Network.id)
                           .where(needs_dhcp).group_by(n_live))
    return {int(live_count): int(n) for live_count, n in rows}


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class ClusterCollector(Collector):
    """The cluster's agents and DHCP coverage, read when scraped."""

    def __init__(self, db: Database, settings: CoreSettings, clock: Clock) -> None:
        self._db = db
        self._settings = settings
        self._clock = clock

    def _read(self, session: Session, now: datetime
              ) -> tuple[list[tuple[str, str, bool, datetime]], dict[str, int], dict[int, int]]:
        cutoff = alive_cutoff(now, self._settings.agent_down_time)
        return (agent_rows(session), networks_per_agent(session),
                networks_by_live_agents(session, cutoff))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._clock.now()  # as the API's `alive` is computed
        up = _gauge("neutrino_cluster_database_up",
                    "1 when this scrape could read the cluster's state from the database.")
        try:
            with self._db.session(readonly=True) as session:
                agents, per_agent, coverage = self._read(session, now)
        except Exception as exc:  # noqa: BLE001 - a scrape reports the failure, never a 500
            LOG.warning("metrics: cannot read the cluster's state: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from cluster_families(agents, per_agent, coverage, now,
                                    self._settings.agent_down_time,
                                    self._settings.dhcp_agents_per_network)


def cluster_families(agents: list[tuple[str, str, bool, datetime]], per_agent: dict[str, int],
                     coverage: dict[int, int], now: datetime, agent_down_time: int,
                     per_network: int) -> Iterator[GaugeMetricFamily]:
    """The gauges from what the queries read: a pure function, so tests can check figures."""
    cutoff = alive_cutoff(now, agent_down_time)
    counts: dict[tuple[str, str, str], int] = {}
    alive = _gauge("neutrino_agent_alive",
                   "1 while the agent's last heartbeat is younger than agent_down_time.",
                   ["agent_type", "host"])
    age = _gauge("neutrino_agent_heartbeat_age_seconds",
                 "Seconds since the agent's last heartbeat (server clock).",
                 ["agent_type", "host"])
    for agent_type, host, admin_up, heartbeat in sorted(agents):
        is_alive = heartbeat > cutoff
        key = (agent_type, "true" if is_alive else "false", "true" if admin_up else "false")
        counts[key] = counts.get(key, 0) + 1
        alive.add_metric([agent_type, host], 1 if is_alive else 0)
        age.add_metric([agent_type, host], max((now - heartbeat).total_seconds(), 0.0))
    by_state = _gauge("neutrino_agents", "Agents by type, liveness and admin state.",
                      ["agent_type", "alive", "admin_state_up"])
    for (agent_type, is_alive_s, admin_s), n in sorted(counts.items()):
        by_state.add_metric([agent_type, is_alive_s, admin_s], n)
    yield by_state
    yield alive
    yield age
    hosted = _gauge("neutrino_dhcp_agent_networks", "Networks bound to each DHCP agent.",
                    ["host"])
    for host, n in sorted(per_agent.items()):
        hosted.add_metric([host], n)
    yield hosted
    wanted = _gauge("neutrino_dhcp_agents_per_network",
                    "The dhcp_agents_per_network setting of the replica scraped.")
    wanted.add_metric([], per_network)
    yield wanted
    total = _gauge("neutrino_dhcp_networks", "Networks with a DHCP-enabled subnet.")
    total.add_metric([], sum(coverage.values()))
    yield total
    below = _gauge("neutrino_dhcp_networks_below_wanted",
                   "Networks with a DHCP-enabled subnet served by fewer live admin-up DHCP "
                   "agents than dhcp_agents_per_network.")
    below.add_metric([], sum(n for live, n in coverage.items() if live < per_network))
    yield below
    none = _gauge("neutrino_dhcp_networks_without_live_agent",
                  "Networks with a DHCP-enabled subnet and no live admin-up DHCP agent.")
    none.add_metric([], coverage.get(0, 0))
    yield none


POOL_CONNECTIONS = Gauge(
    "neutrino_db_pool_connections",
    "Connections of the server's database pools by state (summed over its processes).",
    ["process", "state"], multiprocess_mode="livesum")
POOL_SIZE = Gauge("neutrino_db_pool_size",
                  "Configured size of the server's database pools (summed over its processes).",
                  ["process"], multiprocess_mode="livesum")


class PoolWatch:
    """Keeps the pool gauges as the pool's own events happen: a scrape served by any of the
    server's processes then shows every process's pool, which a scrape-time read of the
    answering process's pool could not. An event costs a few memory writes."""

    def __init__(self, db: Database) -> None:
        pool = db.engine.pool
        self._lock = threading.Lock()
        size = getattr(pool, "size", None)  # QueuePool has it; SQLite's in-memory pools not
        self._size: int | None = int(size()) if size is not None else None
        checked_out = getattr(pool, "checkedout", None)
        idle = getattr(pool, "checkedin", None)
        # Connections opened before the watch (the server's schema check) are counted now.
        self._out = int(checked_out()) if checked_out is not None else 0
        self._open = self._out + (int(idle()) if idle is not None else 0)
        self._publish(self._out, self._open - self._out, self._overflow(self._open))
        POOL_SIZE.labels(process_label()).inc(self._size or 0)
        self._engine = db.engine
        self._handlers = (("connect", self._connect), ("close", self._close),
                          ("detach", self._detach), ("checkout", self._checkout),
                          ("checkin", self._checkin))
        self._closed = False
        for name, handler in self._handlers:
            event.listen(self._engine, name, handler)

    def close(self) -> None:
        """Stop watching and take this pool out of the gauges (they are summed over the
        pools of the processes and databases, so a stopped one must not linger)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for name, handler in self._handlers:
                event.remove(self._engine, name, handler)
            self._publish(-self._out, -max(self._open - self._out, 0),
                          -self._overflow(self._open))
            POOL_SIZE.labels(process_label()).dec(self._size or 0)

    def _overflow(self, open_: int) -> int:
        return max(open_ - self._size, 0) if self._size is not None else 0

    def _change(self, opened: int, out: int) -> None:
        with self._lock:
            before = (self._open, self._out)
            self._open += opened
            self._out += out
            # idle is clamped: a connection invalidated while checked out is closed before
            # it is checked in.
            self._publish(self._out - before[1],
                          max(self._open - self._out, 0) - max(before[0] - before[1], 0),
                          self._overflow(self._open) - self._overflow(before[0]))

    @staticmethod
    def _publish(out: int, idle: int, overflow: int) -> None:
        process = process_label()
        for state, delta in (("checked_out", out), ("idle", idle), ("overflow", overflow)):
            POOL_CONNECTIONS.labels(process, state).inc(delta)  # inc(0) makes the series

    def _connect(self, *_: object) -> None:
        self._change(1, 0)

    def _close(self, *_: object) -> None:
        self._change(-1, 0)

    def _detach(self, *_: object) -> None:  # a checked-out connection leaves the pool
        self._change(-1, -1)

    def _checkout(self, *_: object) -> None:
        self._change(0, 1)

    def _checkin(self, *_: object) -> None:
        self._change(0, -1)
