"""Agent registration and liveness.

An agent is the row keyed by (agent_type, host). A report of a known agent costs one
indexed UPDATE (two when it comes back from the dead); a new agent is one INSERT, and when
two first reports race the unique key lets one win and the other becomes an update.
`alive` is never stored: it is computed at read time from the server-side heartbeat.
"""

from __future__ import annotations

import builtins
import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.dbutil import insert_row_unless_duplicate, rowcount
from neutrino.core.liveness import is_alive
from neutrino.core.transaction import Transactions
from neutrino.db.models import Agent, NetworkDhcpAgentBinding
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc

LOG = logging.getLogger(__name__)

AGENT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
_COLUMN_FILTERS = ("id", "agent_type", "binary", "topic", "host", "admin_state_up",
                   "description", "availability_zone", "resources_synced")
# Compared case-insensitively on every database: Neutron's usual MySQL collation does so,
# and clients (test suites among them) ask for `agent_type=DHCP Agent` where the stored type
# is "DHCP agent". lower() on both sides, since SQLite and PostgreSQL compare exactly.
_CASELESS_FILTERS = frozenset({"agent_type", "binary", "topic", "host"})


def server_time(now: datetime) -> datetime:
    """Heartbeats are kept to the second: MySQL's DATETIME would round the fraction (into
    the future, half the time), so every backend stores the same truncated value."""
    return now.replace(microsecond=0)


def alive_cutoff(now: datetime, agent_down_time: int) -> datetime:
    """Agents with a heartbeat strictly after this are alive."""
    return now - timedelta(seconds=agent_down_time)


def format_agent_time(value: datetime | None) -> str | None:
    return value.strftime(AGENT_TIME_FORMAT) if value is not None else None


def agent_load(agent_type: str, configurations: Mapping[str, Any], load_type: str) -> int:
    """What the weight scheduler reads for an agent that counts `load_type` itself."""
    if agent_type != const.AGENT_TYPE_DHCP:
        return 0
    try:
        return max(int(configurations.get(load_type, 0)), 0)
    except (TypeError, ValueError):
        return 0


def agent_dict(agent: Agent, now: datetime, agent_down_time: int) -> dict[str, Any]:
    try:
        configurations = json.loads(agent.configurations or "{}")
    except ValueError:
        configurations = {}
    return {
        "id": agent.id,
        "agent_type": agent.agent_type,
        "binary": agent.binary,
        "topic": agent.topic,
        "host": agent.host,
        "admin_state_up": agent.admin_state_up,
        "alive": is_alive(agent.heartbeat_timestamp, now, agent_down_time),
        "created_at": format_agent_time(agent.created_at),
        "started_at": format_agent_time(agent.started_at),
        "heartbeat_timestamp": format_agent_time(agent.heartbeat_timestamp),
        "configurations": configurations,
        "description": agent.description,
        "availability_zone": agent.availability_zone,
        "resources_synced": agent.resources_synced,
    }


def unwrap_report(agent_state: Mapping[str, Any]) -> dict[str, Any]:
    """The RPC argument is {"agent_state": {...}}; accept the inner dict as well."""
    inner = agent_state.get("agent_state")
    state = dict(inner) if isinstance(inner, Mapping) else dict(agent_state)
    for key in ("agent_type", "host", "binary", "topic"):
        if not isinstance(state.get(key), str) or not state[key]:
            raise exc.InvalidInput(error_message=f"agent state needs a non-empty {key}")
    return state


RevivalHook = Callable[[Session, datetime], None]


class AgentRegistry:
    """Registration, liveness and the admin operations on agents."""

    def __init__(self, tx: Transactions, settings: CoreSettings,
                 on_revival: RevivalHook | None = None) -> None:
        self.tx = tx
        self.settings = settings
        self.on_revival = on_revival

    # -- reports ------------------------------------------------------------------------

    def report_state(self, agent_state: Mapping[str, Any], now: datetime,
                     agent_time: str | None = None) -> str:
        state = unwrap_report(agent_state)
        now = server_time(now)
        configurations = state.get("configurations") or {}
        if not isinstance(configurations, Mapping):
            raise exc.InvalidInput(error_message="configurations must be a dict")
        agent_type, host = state["agent_type"], state["host"]
        zone = state.get("availability_zone")
        values: dict[str, Any] = {
            "binary": state["binary"],
            "topic": state["topic"],
            "configurations": json.dumps(configurations, sort_keys=True),
            "availability_zone": zone if isinstance(zone, str) and zone else None,
            "load": agent_load(agent_type, configurations, self.settings.dhcp_load_type),
            "heartbeat_timestamp": now,
        }
        if state.get("start_flag"):
            values["started_at"] = now
            self._log_skew(host, agent_time, now)
        if "resources_synced" in state:
            values["resources_synced"] = state["resources_synced"]

        status = self.tx.run(lambda s: self._refresh(s, agent_type, host, values, now))
        if status is not None:
            return status
        if self.tx.run(lambda s: self._insert(s, agent_type, host, values, now)):
            return const.AGENT_NEW
        # Another server registered the same agent a moment ago: this report refreshes it.
        status = self.tx.run(lambda s: self._refresh(s, agent_type, host, values, now))
        return status or const.AGENT_ALIVE

    def _refresh(self, session: Session, agent_type: str, host: str,
                 values: dict[str, Any], now: datetime) -> str | None:
        key = and_(Agent.agent_type == agent_type, Agent.host == host)
        opts = {"synchronize_session": False}
        cutoff = alive_cutoff(now, self.settings.agent_down_time)
        if session.get_bind().dialect.name == "postgresql":
            # A heartbeat lost in a server crash is re-sent within report_interval: it need
            # not wait for the WAL flush, which otherwise caps heartbeats at the disk's fsync
            # rate (a few hundred a second) well below 1,000 agents per server.
            session.execute(text("SET LOCAL synchronous_commit = off"))
        # Each UPDATE says what the row was; under READ COMMITTED a row another server
        # inserts between the two statements is seen by the second pass.
        for _ in range(2):
            result = session.execute(
                update(Agent).where(key, Agent.heartbeat_timestamp > cutoff).values(**values),
                execution_options=opts)
            if rowcount(result):
                return const.AGENT_ALIVE
            result = session.execute(
                update(Agent).where(key, Agent.heartbeat_timestamp <= cutoff).values(**values),
                execution_options=opts)
            if rowcount(result):
                if self.on_revival is not None and agent_type == const.AGENT_TYPE_DHCP:
                    self.on_revival(session, now)
                return const.AGENT_REVIVED
        return None

    def _insert(self, session: Session, agent_type: str, host: str,
                values: dict[str, Any], now: datetime) -> bool:
        """False when another server inserted the same agent first."""
        row = {"started_at": now, **values, "id": str(uuid.uuid4()),
               "agent_type": agent_type, "host": host, "created_at": now,
               "admin_state_up": self.settings.enable_new_agents, "description": None}
        return insert_row_unless_duplicate(session, Agent.__table__, row,
                                           conflict_on=("agent_type", "host"))

    def _log_skew(self, host: str, agent_time: str | None, now: datetime) -> None:
        if not agent_time:
            return
        try:
            theirs = datetime.fromisoformat(agent_time.replace("Z", "+00:00"))
        except ValueError:
            return
        if theirs.tzinfo is not None:
            theirs = theirs.replace(tzinfo=None) - (theirs.utcoffset() or timedelta())
        skew = abs((theirs - now).total_seconds())
        if skew > self.settings.agent_down_time:
            LOG.error("agent on %s has a clock %.0f s away from the server's: its "
                      "liveness is judged by the server's clock only", host, skew)

    # -- reads --------------------------------------------------------------------------

    def list(self, filters: Mapping[str, Sequence[Any]], now: datetime
             ) -> list[dict[str, Any]]:
        query = select(Agent)
        for key, values in filters.items():
            values = list(values)
            if key == "alive":
                wanted = {bool(v) for v in values}
                cutoff = alive_cutoff(now, self.settings.agent_down_time)
                if wanted == {True}:
                    query = query.where(Agent.heartbeat_timestamp > cutoff)
                elif wanted == {False}:
                    query = query.where(Agent.heartbeat_timestamp <= cutoff)
            elif key in _CASELESS_FILTERS:
                column = getattr(Agent, key)
                texts = [str(v).lower() for v in values if v is not None]
                query = query.where(func.lower(column).in_(texts))
            elif key in _COLUMN_FILTERS:
                column = getattr(Agent, key)
                if None in values:
                    query = query.where(or_(column.in_([v for v in values if v is not None]),
                                            column.is_(None)))
                else:
                    query = query.where(column.in_(values))
        query = query.order_by(Agent.agent_type, Agent.host)
        rows = self.tx.read(lambda s: s.scalars(query).all())
        return [agent_dict(a, now, self.settings.agent_down_time) for a in rows]

    def get(self, agent_id: str, now: datetime) -> dict[str, Any]:
        def read(session: Session) -> dict[str, Any]:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise exc.AgentNotFound(id=agent_id)
            return agent_dict(agent, now, self.settings.agent_down_time)
        return self.tx.read(read)

    # -- admin operations -----------------------------------------------------------------

    def update(self, agent_id: str, body: Mapping[str, Any], now: datetime
               ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Returns (before, after)."""
        def apply(session: Session) -> tuple[dict[str, Any], dict[str, Any]]:
            agent = session.get(Agent, agent_id, with_for_update=True)
            if agent is None:
                raise exc.AgentNotFound(id=agent_id)
            before = agent_dict(agent, now, self.settings.agent_down_time)
            if "admin_state_up" in body:
                agent.admin_state_up = bool(body["admin_state_up"])
            if "description" in body:
                agent.description = body["description"]
            session.flush()
            return before, agent_dict(agent, now, self.settings.agent_down_time)
        return self.tx.run(apply)

    def delete(self, agent_id: str, now: datetime) -> dict[str, Any]:
        def apply(session: Session) -> dict[str, Any]:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise exc.AgentNotFound(id=agent_id)
            gone = agent_dict(agent, now, self.settings.agent_down_time)
            # The foreign key cascades too; deleting explicitly keeps SQLite files that
            # were created without foreign keys honest.
            session.execute(delete(NetworkDhcpAgentBinding).where(
                NetworkDhcpAgentBinding.dhcp_agent_id == agent_id),
                execution_options={"synchronize_session": False})
            session.execute(delete(Agent).where(Agent.id == agent_id),
                            execution_options={"synchronize_session": False})
            return gone
        return self.tx.run(apply)

    def availability_zones(self, filters: Mapping[str, Sequence[Any]]
                           ) -> builtins.list[dict[str, Any]]:
        rows = self.tx.read(lambda s: s.execute(
            select(Agent.availability_zone, Agent.admin_state_up).where(
                Agent.agent_type == const.AGENT_TYPE_DHCP,
                Agent.availability_zone.is_not(None))).all())
        zones = zone_states(rows)
        out = [{"name": name, "resource": "network",
                "state": "available" if up else "unavailable"}
               for name, up in sorted(zones.items())]
        for key, values in filters.items():
            if key in ("name", "resource", "state"):
                allowed = set(values)
                out = [z for z in out if z[key] in allowed]
        return out


def zone_states(rows: Sequence[tuple[str | None, bool]]) -> dict[str, bool]:
    """A zone is available when any of its DHCP agents is admin-up (as Neutron)."""
    zones: dict[str, bool] = {}
    for name, up in rows:
        if name:
            zones[name] = zones.get(name, False) or bool(up)
    return zones
