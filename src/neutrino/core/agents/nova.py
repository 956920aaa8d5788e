"""Events for Nova's os-server-external-events API: which port change means which event,
recording them in the change's own transaction, and the queue senders drain.

Neutron's rules: only ports of servers count (`device_owner` starting with `compute:` and
a UUID `device_id`, the server). A status going ACTIVE→DOWN is `network-vif-unplugged`;
DOWN/BUILD (or new) → ACTIVE/ERROR is `network-vif-plugged` ("completed", or "failed" for
ERROR); both only with `notify_nova_on_port_status_changes`. With
`notify_nova_on_port_data_changes` every API update of such a port is `network-changed`
(Nova re-reads the port) and its deletion `network-vif-deleted`.

The events are rows of `novaevents` written in the same transaction as the change (an
outbox): they commit with it or not at all, and no sender can see one before its change is
visible. Recording is switched on per `Transactions` through `session.info` (see
`recording_info`), so the hooks inside provisioning need no extra parameters; without a
configured Nova nothing is recorded.

A sender claims a batch by a conditional UPDATE that stamps a fresh token and a lease
(`claimed_until`); the SELECT before it skips rows other senders have locked where the
backend can (MariaDB, PostgreSQL), and the UPDATE's own condition settles any race (SQLite
has one writer). Delivered events are deleted by token; failed ones get a later
`next_attempt_at`, doubling per attempt.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from neutrino.conf.settings import NovaSettings
from neutrino.core.agents.registry import server_time
from neutrino.core.interfaces import Clock
from neutrino.core.transaction import Transactions
from neutrino.db.models import NovaEvent, Port
from neutrino.lib import constants as const

LOG = logging.getLogger(__name__)

PORT_STATUS_ERROR = "ERROR"  # Neutron's; no path of Neutrino sets it yet
VIF_PLUGGED = "network-vif-plugged"
VIF_UNPLUGGED = "network-vif-unplugged"
VIF_DELETED = "network-vif-deleted"
NETWORK_CHANGED = "network-changed"
_EVENT_STATUS = {const.PORT_STATUS_ACTIVE: "completed", const.PORT_STATUS_DOWN: "completed",
                 PORT_STATUS_ERROR: "failed"}
_BEFORE_PLUGGED = (None, const.PORT_STATUS_DOWN, const.PORT_STATUS_BUILD)
_PLUGGED = (const.PORT_STATUS_ACTIVE, PORT_STATUS_ERROR)

INFO_KEY = "neutrino.nova_events"


@dataclass(frozen=True)
class Event:
    name: str
    server_uuid: str
    tag: str  # the port's id
    status: str | None = None

    def body(self) -> dict[str, str]:
        """As Nova's API takes it."""
        body = {"name": self.name, "server_uuid": self.server_uuid, "tag": self.tag}
        if self.status is not None:
            body["status"] = self.status
        return body


@dataclass(frozen=True)
class EventPolicy:
    """Which kinds of events are recorded (no policy at all: none)."""

    port_status: bool
    port_data: bool


def recording_info(settings: NovaSettings | None) -> dict[str, EventPolicy]:
    """What `Transactions` puts into every session's `info`: empty unless Nova is
    configured and one of the notify options is on."""
    if settings is None or not settings.enabled:
        return {}
    if not (settings.notify_on_port_status or settings.notify_on_port_data):
        return {}
    return {INFO_KEY: EventPolicy(settings.notify_on_port_status,
                                  settings.notify_on_port_data)}


# -- decisions (pure) ------------------------------------------------------------------------

def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return False
    return True


def is_compute_port(device_owner: str | None, device_id: str | None) -> bool:
    return bool(device_owner and device_owner.startswith(const.DEVICE_OWNER_COMPUTE_PREFIX)
                and device_id and _is_uuid(device_id))


def status_event(port_id: str, device_owner: str, device_id: str, before: str | None,
                 after: str) -> Event | None:
    """The event for a status change of a port (`before` None: a new port)."""
    if not is_compute_port(device_owner, device_id):
        return None
    if before == const.PORT_STATUS_ACTIVE and after == const.PORT_STATUS_DOWN:
        name = VIF_UNPLUGGED
    elif before in _BEFORE_PLUGGED and after in _PLUGGED:
        name = VIF_PLUGGED
    else:
        return None
    return Event(name, device_id, port_id, _EVENT_STATUS[after])


def update_events(before: Mapping[str, Any], after: Mapping[str, Any],
                  policy: EventPolicy) -> list[Event]:
    """The events of an API update of a port, from its dicts before and after."""
    events: list[Event] = []
    owner, device = after.get("device_owner", ""), after.get("device_id", "")
    if policy.port_status and before.get("status") != after.get("status"):
        event = status_event(after["id"], owner, device, before.get("status"), after["status"])
        if event is not None:
            events.append(event)
    if policy.port_data and is_compute_port(owner, device):
        events.append(Event(NETWORK_CHANGED, device, after["id"]))
    return events


def delete_events(port: Mapping[str, Any], policy: EventPolicy) -> list[Event]:
    if policy.port_data and is_compute_port(port.get("device_owner"), port.get("device_id")):
        return [Event(VIF_DELETED, port["device_id"], port["id"])]
    return []


# -- recording, inside the change's transaction ----------------------------------------------

def _policy(session: Session) -> EventPolicy | None:
    policy = session.info.get(INFO_KEY)
    return policy if isinstance(policy, EventPolicy) else None


def record(session: Session, events: Sequence[Event], now: datetime) -> None:
    if not events:
        return
    stamp = server_time(now)
    session.execute(insert(NovaEvent), [
        {"name": e.name, "server_uuid": e.server_uuid, "tag": e.tag, "status": e.status,
         "created_at": stamp, "attempts": 0, "next_attempt_at": stamp} for e in events])
    LOG.debug("Recorded for Nova: %s", [e.body() for e in events])


def record_status_change(session: Session, port_ids: Sequence[str], status: str,
                         now: datetime) -> None:
    """Called before the ports' status is set to `status` (only compute ports are read)."""
    policy = _policy(session)
    if policy is None or not policy.port_status or not port_ids:
        return
    rows = session.execute(select(Port.id, Port.device_owner, Port.device_id, Port.status)
                           .where(Port.id.in_(port_ids), Port.status != status,
                                  Port.device_owner.startswith(
                                      const.DEVICE_OWNER_COMPUTE_PREFIX),
                                  Port.device_id != "")
                           .order_by(Port.id))
    events = [e for e in (status_event(r.id, r.device_owner, r.device_id, r.status, status)
                          for r in rows) if e is not None]
    record(session, events, now)


def record_update(session: Session, before: Mapping[str, Any], after: Mapping[str, Any],
                  now: datetime) -> None:
    policy = _policy(session)
    if policy is not None:
        record(session, update_events(before, after, policy), now)


def record_delete(session: Session, port: Mapping[str, Any], now: datetime) -> None:
    policy = _policy(session)
    if policy is not None:
        record(session, delete_events(port, policy), now)


# -- the queue senders drain -----------------------------------------------------------------

@dataclass(frozen=True)
class Claimed:
    id: int
    event: Event
    attempts: int


@dataclass(frozen=True)
class Claim:
    token: str
    items: tuple[Claimed, ...]

    def bodies(self) -> list[dict[str, str]]:
        return [item.event.body() for item in self.items]


def backoff(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt `attempts + 1`, after `attempts` failed ones."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


class NovaEventQueue:
    """The outbox as senders see it. Time is the server's clock, like agents' liveness."""

    def __init__(self, tx: Transactions, clock: Clock) -> None:
        self.tx = tx
        self.clock = clock

    def claim(self, limit: int, lease_seconds: float) -> Claim | None:
        """Up to `limit` due events, oldest first, claimed for `lease_seconds`; None when
        there are none. A claimed event is no one else's until its lease runs out."""
        token = str(uuid.uuid4())

        def work(session: Session) -> Claim | None:
            now = server_time(self.clock.now())
            free = or_(NovaEvent.claimed_until.is_(None), NovaEvent.claimed_until <= now)
            due = (select(NovaEvent.id).where(NovaEvent.next_attempt_at <= now, free)
                   .order_by(NovaEvent.id).limit(limit))
            if session.get_bind().dialect.name in ("mysql", "mariadb", "postgresql"):
                # Concurrent senders take different rows instead of waiting on each other.
                due = due.with_for_update(skip_locked=True)
            ids = list(session.scalars(due))
            if not ids:
                return None
            # The condition again: of two senders that read the same free rows (SQLite, or
            # a lease that ran out meanwhile), only one changes each.
            session.execute(update(NovaEvent).where(NovaEvent.id.in_(ids), free).values(
                claim_token=token, claimed_until=now + timedelta(seconds=lease_seconds)),
                execution_options={"synchronize_session": False})
            rows = session.execute(select(NovaEvent).where(NovaEvent.claim_token == token)
                                   .order_by(NovaEvent.id)).scalars()
            items = tuple(Claimed(r.id, Event(r.name, r.server_uuid, r.tag, r.status),
                                  r.attempts) for r in rows)
            return Claim(token, items) if items else None

        return self.tx.run(work)

    def done(self, claim: Claim) -> int:
        """Nova has them (or refused them for good): they go. Only rows still under this
        claim: a claim whose lease ran out belongs to its new sender."""
        ids = [item.id for item in claim.items]

        def work(session: Session) -> int:
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                delete(NovaEvent).where(NovaEvent.id.in_(ids),
                                        NovaEvent.claim_token == claim.token),
                execution_options={"synchronize_session": False})
            return result.rowcount or 0
        return self.tx.run(work)

    def retry(self, claim: Claim, base: float, cap: float, max_attempts: int) -> list[Claimed]:
        """Release the claim and try again later, doubling the wait per attempt; events
        that have failed `max_attempts` times are dropped (returned)."""
        def work(session: Session) -> list[Claimed]:
            now = server_time(self.clock.now())
            dropped: list[Claimed] = []
            for item in claim.items:
                attempts = item.attempts + 1
                mine = (NovaEvent.id == item.id, NovaEvent.claim_token == claim.token)
                if attempts >= max_attempts:
                    session.execute(delete(NovaEvent).where(*mine),
                                    execution_options={"synchronize_session": False})
                    dropped.append(item)
                    continue
                later = now + timedelta(seconds=backoff(attempts, base, cap))
                session.execute(update(NovaEvent).where(*mine).values(
                    attempts=attempts, next_attempt_at=later, claim_token=None,
                    claimed_until=None), execution_options={"synchronize_session": False})
            return dropped
        return self.tx.run(work)

    def pending(self) -> int:
        """How many events wait (claimed or not)."""
        return self.tx.read(
            lambda s: s.scalar(select(func.count()).select_from(NovaEvent)) or 0)
