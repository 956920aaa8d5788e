"""What to tell which DHCP agents, committed with the change and sent after it.

Operations collect casts in an `Outbox` while their transaction runs and `record` them in
it (one multi-row insert into `dhcpcasts`), so a cast commits with its change or not at
all; they `send` them once it has committed: an agent must never hear of a change it
cannot read back yet. What was sent goes into the process's `Delivered`, deleted in
batches by `CastQueue.forget` in that process; what was not (the replica died between
commit and send, the broker was away) `CastQueue.sweep`, run by one process of each
replica, sends once it is a grace old. Casts are idempotent for agents: one sent twice
costs a reconcile that changes nothing. A cast the broker took and then lost (its
connection died with the replica) is not sent again: the agents' revision checks
(`revisions`) catch that one.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from neutrino.core.agents.registry import server_time
from neutrino.core.dbutil import execute, rowcount
from neutrino.core.interfaces import Clock, DhcpAgentNotifier
from neutrino.core.transaction import Transactions
from neutrino.db.models import Agent, DhcpCast, NetworkDhcpAgentBinding
from neutrino.lib import constants as const
from neutrino.lib import payloads
from neutrino.lib.payloads import FanoutPayload, Payload

LOG = logging.getLogger(__name__)
_INSERT_CAST = insert(DhcpCast.__table__)

# A change of any of these alters what a DHCP agent serves (or where it serves it);
# device_id too: the metadata proxy tells which instance an address is by it.
DHCP_RELEVANT_PORT_FIELDS = ("fixed_ips", "mac_address", "extra_dhcp_opts", "dns_name",
                             "admin_state_up", "binding:host_id", "device_owner",
                             "device_id")

# The network attributes a DHCP agent's plan reads (or that may move where it serves);
# a rename or a new description is nothing to it.
DHCP_RELEVANT_NETWORK_FIELDS = frozenset({
    "admin_state_up", "mtu", "dns_domain", "segments", "provider:network_type",
    "provider:physical_network", "provider:segmentation_id"})


def network_update_for_dhcp(body: Mapping[str, Any]) -> bool:
    return not DHCP_RELEVANT_NETWORK_FIELDS.isdisjoint(body)


def _norm(field: str, value: Any) -> Any:
    if field == "fixed_ips":
        return sorted((ip["subnet_id"], ip["ip_address"]) for ip in value or [])
    if field == "extra_dhcp_opts":
        return sorted((o["opt_name"], str(o["opt_value"]), o.get("ip_version", 4))
                      for o in value or [])
    return value


def port_changed_for_dhcp(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return any(_norm(f, before.get(f)) != _norm(f, after.get(f))
               for f in DHCP_RELEVANT_PORT_FIELDS)


def hosting_hosts(session: Session, network_ids: Iterable[str],
                  admin_up_only: bool = True) -> dict[str, list[str]]:
    """network id -> hosts of the DHCP agents bound to it, in one query."""
    ids = sorted(set(network_ids))
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for network_id, host in execute(session, _HOSTING[admin_up_only], {"network_ids": ids}):
        out[network_id].append(host)
    return out


def _hosting(admin_up_only: bool) -> Any:
    binding = NetworkDhcpAgentBinding
    query = (select(binding.network_id, Agent.host)
             .join(Agent, Agent.id == binding.dhcp_agent_id)
             .where(binding.network_id.in_(bindparam("network_ids", expanding=True))))
    if admin_up_only:
        query = query.where(Agent.admin_state_up.is_(True))
    return query.order_by(Agent.host)


# Built once: every port change runs one (building it per call costs more than running it).
_HOSTING = {up_only: _hosting(up_only) for up_only in (True, False)}


class Delivered:
    """Ids of recorded casts this process has sent, waiting to be deleted in one batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: list[str] = []

    def add(self, ids: Iterable[str]) -> None:
        with self._lock:
            self._ids.extend(ids)

    def take(self) -> list[str]:
        with self._lock:
            ids, self._ids = self._ids, []
        return ids


# A change of any of these alters a port's filtering on its host (the firewall plan
# trusts network:* owners).
SECURITY_RELEVANT_PORT_FIELDS = ("security_groups", "port_security_enabled",
                                 "allowed_address_pairs", "fixed_ips", "mac_address",
                                 "device_owner")


class Outbox:
    """Casts gathered during an operation: `record` them in its transaction, `send` them
    in order after the commit."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, str, Payload]] = []
        self.ids: list[str | None] = []  # the recorded row of each cast, if any
        self.fanouts: list[tuple[str, str, FanoutPayload]] = []

    def rules_changed(self, group_ids: Iterable[str]) -> None:
        if group_ids := sorted(set(group_ids)):
            self.fanouts.append((const.TOPIC_SECURITY_GROUP_UPDATE,
                                 const.SECURITY_GROUPS_RULE_UPDATED,
                                 payloads.security_groups_changed(group_ids)))

    def members_changed(self, group_ids: Iterable[str]) -> None:
        if group_ids := sorted(set(group_ids)):
            self.fanouts.append((const.TOPIC_SECURITY_GROUP_UPDATE,
                                 const.SECURITY_GROUPS_MEMBER_UPDATED,
                                 payloads.security_groups_changed(group_ids)))

    def port_security(self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
                      ) -> None:
        """What the Linux bridge agents hear of a port created (before None), changed or
        deleted (after None): its groups' members changed when it joined, left, or its
        addresses did; the port itself changed when anything it is filtered by did."""
        old = set(before["security_groups"]) if before else set()
        new = set(after["security_groups"]) if after else set()
        changed = [f for f in SECURITY_RELEVANT_PORT_FIELDS
                   if before and after and _norm(f, before.get(f)) != _norm(f, after.get(f))]
        if before is None or after is None:
            self.members_changed(old | new)
        elif changed:
            addresses = {"fixed_ips", "mac_address", "allowed_address_pairs"} & set(changed)
            self.members_changed((old ^ new) | ((old | new) if addresses else set()))
            self.fanouts.append((const.TOPIC_PORT_UPDATE, const.PORT_UPDATE,
                                 payloads.port_event(dict(after))))

    def add(self, host: str, method: str, payload: Payload) -> None:
        self.casts.append((host, method, payload))
        self.ids.append(None)

    def to_hosts(self, hosts: Iterable[str], method: str, payload: Payload) -> None:
        for host in hosts:
            self.add(host, method, payload)

    def record(self, session: Session, now: datetime) -> Outbox:
        """Write the casts gathered so far into the transaction, in one statement."""
        pending = [i for i, row in enumerate(self.ids) if row is None]
        if not pending:
            return self
        stamp = server_time(now)
        # Ids sort in recording order (nanoseconds first), so a sweep sends casts in the
        # order they were made; the random rest keeps replicas' ids apart.
        base = time.time_ns()
        rows = []
        for n, i in enumerate(pending):
            host, method, payload = self.casts[i]
            row_id = f"{base + n:020d}{uuid.uuid4().hex[:16]}"
            self.ids[i] = row_id
            rows.append({"id": row_id, "host": host, "method": method,
                         "payload": json.dumps(payload, default=str), "created_at": stamp})
        # The table's insert, not the mapped class's: no ORM bulk machinery for plain rows.
        execute(session, _INSERT_CAST, rows)
        return self

    def send(self, notifier: DhcpAgentNotifier, delivered: Delivered | None = None) -> None:
        # Security group and port updates: best effort (not recorded); the Linux bridge
        # agents' periodic resyncs repair a lost one.
        fanouts, self.fanouts = self.fanouts, []
        for topic, method, fanout_payload in fanouts:
            try:
                notifier.fanout(topic, method, fanout_payload)
            except Exception:
                LOG.exception("fanout %s on %s failed", method, topic)
        casts, ids = self.casts, self.ids
        self.casts, self.ids = [], []
        sent = []
        for (host, method, payload), row in zip(casts, ids, strict=True):
            try:
                ok = notifier.cast(host, method, payload)
            except Exception:
                # The change is committed; the sweeper (for recorded casts) and the agents'
                # revision checks converge it. A failed cast must not turn a done
                # operation into an error.
                LOG.exception("cast %s to %s failed", method, host)
                continue
            if ok and row is not None:
                sent.append(row)
        if delivered is not None and sent:
            delivered.add(sent)


class SendingThread:
    """Outboxes sent after their commit by a thread of their own, in the order they are
    handed over, so that a request answers without waiting on the broker (each cast waits
    for RabbitMQ's confirm: a port create sends three). With `limit` outboxes waiting, the
    caller sends its own: the broker's pace, not memory, bounds the backlog. A cast still
    waiting when the process dies is recorded: the sweeper sends it."""

    def __init__(self, notifier: DhcpAgentNotifier, delivered: Delivered,
                 limit: int = 1000) -> None:
        self.notifier = notifier
        self.delivered = delivered
        self._waiting: queue.Queue[Outbox | None] = queue.Queue(limit)
        self._thread = threading.Thread(target=self._run, name="cast-sender", daemon=True)
        self._thread.start()

    def __call__(self, outbox: Outbox) -> None:
        try:
            self._waiting.put_nowait(outbox)
        except queue.Full:
            outbox.send(self.notifier, self.delivered)

    def _run(self) -> None:
        while (outbox := self._waiting.get()) is not None:
            try:
                outbox.send(self.notifier, self.delivered)
            except Exception:  # Outbox.send logs each cast's failure; this is a bug
                LOG.exception("sending an outbox failed")

    def close(self, timeout: float = 30.0) -> None:
        """Send what waits, then stop (callers hand over nothing more)."""
        if self._thread.is_alive():
            self._waiting.put(None, timeout=timeout)
            self._thread.join(timeout)


class CastQueue:
    """The recorded casts as every replica's sweeper sees them."""

    CHUNK = 500

    def __init__(self, tx: Transactions, clock: Clock) -> None:
        self.tx = tx
        self.clock = clock

    def forget(self, ids: list[str]) -> int:
        """Delete sent casts, in one transaction."""
        if not ids:
            return 0

        def work(session: Session) -> int:
            deleted = 0
            for start in range(0, len(ids), self.CHUNK):
                deleted += rowcount(session.execute(
                    delete(DhcpCast).where(DhcpCast.id.in_(ids[start:start + self.CHUNK])),
                    execution_options={"synchronize_session": False}))
            return deleted
        return self.tx.run(work)

    def sweep(self, notifier: DhcpAgentNotifier, grace: float, limit: int,
              max_age: float) -> int:
        """Send again the casts recorded at least `grace` seconds ago and not deleted yet
        (their sender died, or the broker lost them), oldest first, and delete those sent;
        casts older than `max_age` are dropped unsent (agents' revision checks caught up
        long ago). Returns how many were sent."""
        now = server_time(self.clock.now())
        cutoff = now - timedelta(seconds=grace)
        # The usual case, nothing due, costs one read of the created_at index: no write
        # transaction, no row locks.
        if self.tx.read(lambda session: session.execute(
                select(DhcpCast.id).where(DhcpCast.created_at <= cutoff).limit(1)
        ).first()) is None:
            return 0

        def work(session: Session) -> int:
            due = (select(DhcpCast).where(DhcpCast.created_at <= cutoff)
                   .order_by(DhcpCast.id).limit(limit))
            if session.get_bind().dialect.name in ("mysql", "mariadb", "postgresql"):
                # Replicas sweeping at once take different rows instead of waiting.
                due = due.with_for_update(skip_locked=True)
            rows = list(session.scalars(due))
            if not rows:
                return 0  # another replica took them
            too_old = now - timedelta(seconds=max_age)
            stale = [row.id for row in rows if row.created_at < too_old]
            sent = [row.id for row in rows if row.created_at >= too_old and notifier.cast(
                row.host, row.method, cast(Payload, json.loads(row.payload)))]
            session.execute(delete(DhcpCast).where(DhcpCast.id.in_(stale + sent)),
                            execution_options={"synchronize_session": False})
            if stale:
                LOG.warning("Dropped %d cast(s) to DHCP agents older than %ss", len(stale),
                            max_age)
            if sent:
                LOG.info("Sent %d cast(s) to DHCP agents that their replica had not",
                         len(sent))
            return len(sent)
        return self.tx.run(work)
