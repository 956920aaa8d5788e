"""Dirty networks waiting for a reconcile.

A network is pending at most once: marking it again only replaces what the reconcile will
start from (fresh info, "fetch it", or "not hosted") so bursts of casts coalesce. A network
is handed to one worker at a time; a failing one waits out its backoff without holding up
the others.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class _Fetch:
    def __repr__(self) -> str:
        return "FETCH"


FETCH = _Fetch()  # the reconcile must ask the server for the network's info first


@dataclass
class _Pending:
    info: object  # FETCH, None (not hosted) or a network_info dict
    not_before: float
    seq: int = 0  # matches this network's live entry in the heap


@dataclass(frozen=True)
class Work:
    network_id: str
    info: object
    attempts: int  # failures in a row so far


class WorkQueue:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._cond = threading.Condition()
        self._pending: dict[str, _Pending] = {}
        # (not_before, seq, network): a full sync queues every network at once, so finding
        # the next due one must not scan them all. Entries whose seq is no longer the
        # pending one's are stale and skipped.
        self._heap: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self._busy: set[str] = set()
        self._attempts: dict[str, int] = {}
        # The event counter's value at each network's last event: a full sync remembers the
        # counter before its RPC and distrusts what it read for networks with later events.
        self._events = 0
        self._last_event: dict[str, int] = {}
        # The newest info known per network (pending, in a reconcile, or last applied);
        # FETCH while a reconcile is still asking the server.
        self._latest: dict[str, object] = {}
        self._closed = False

    def epoch(self) -> int:
        """The event counter now; hand it to `offer` with what is read after this."""
        with self._cond:
            return self._events

    def _event(self, network_id: str) -> None:
        self._events += 1
        self._last_event[network_id] = self._events

    def mark(self, network_id: str, info: object = FETCH) -> None:
        """An event: the network must be reconciled from `info` (default: fetch it)."""
        with self._cond:
            self._event(network_id)
            self._put(network_id, info, self._clock())

    def mark_with(self, network_id: str,
                  derive: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """An event that carries its own change (a port cast): the network's newest info
        with `derive` applied. Without a known info, or when `derive` gives None, the
        reconcile fetches instead."""
        with self._cond:
            current = self._pending.get(network_id)
            base = current.info if current is not None else self._latest.get(network_id)
            info = derive(base) if isinstance(base, dict) else None
            self._event(network_id)
            self._put(network_id, FETCH if info is None else info, self._clock())

    def known(self, network_id: str, info: object) -> None:
        """What a reconcile found and applied (None: the network is not hosted)."""
        with self._cond:
            if network_id in self._pending:
                return
            if info is None:
                # A network that is gone holds no info. Its last event stays: a full sync
                # that read the network before it went must still see the change.
                self._latest.pop(network_id, None)
            else:
                self._latest[network_id] = info

    def offer(self, network_id: str, info: object, epoch: int) -> None:
        """Info read by a full sync that started at `epoch`: if an event came since, the
        info may be older than the event, so the reconcile fetches instead."""
        with self._cond:
            if self._last_event.get(network_id, 0) > epoch:
                info = FETCH
            self._put(network_id, info, self._clock())

    def _put(self, network_id: str, info: object, not_before: float) -> None:
        current = self._pending.get(network_id)
        if current is not None:
            # Already queued: only what to start from changes. A failing network keeps its
            # backoff, so events do not turn it into a busy loop.
            current.info = info
            self._cond.notify_all()
            return
        self._schedule(network_id, _Pending(info, not_before))

    def _schedule(self, network_id: str, item: _Pending) -> None:
        item.seq = next(self._seq)
        self._pending[network_id] = item
        heapq.heappush(self._heap, (item.not_before, item.seq, network_id))
        self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Work | None:
        """The next network due and not being worked on; None on timeout or close."""
        deadline = None if timeout is None else self._clock() + timeout
        with self._cond:
            while not self._closed:
                now = self._clock()
                work, next_due = self._pop_due(now)
                if work is not None:
                    return work
                wait = (next_due if next_due is not None else now + 3600) - now
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wait = min(wait, deadline - now)
                self._cond.wait(max(wait, 0.001))
            return None

    def _pop_due(self, now: float) -> tuple[Work | None, float | None]:
        """The first due network not busy, else None and when the next one is due."""
        busy_entries = []
        found: Work | None = None
        next_due: float | None = None
        while self._heap:
            not_before, seq, network_id = self._heap[0]
            item = self._pending.get(network_id)
            if item is None or item.seq != seq:
                heapq.heappop(self._heap)  # stale
                continue
            if network_id in self._busy:
                # Waits until its reconcile finishes (done/failed wake the takers).
                busy_entries.append(heapq.heappop(self._heap))
                continue
            if not_before > now:
                next_due = not_before
                break
            heapq.heappop(self._heap)
            del self._pending[network_id]
            self._busy.add(network_id)
            self._latest[network_id] = item.info
            found = Work(network_id, item.info, self._attempts.get(network_id, 0))
            break
        for entry in busy_entries:
            heapq.heappush(self._heap, entry)
        return found, next_due

    def done(self, network_id: str) -> None:
        with self._cond:
            self._busy.discard(network_id)
            self._attempts.pop(network_id, None)
            self._cond.notify_all()

    def failed(self, network_id: str, info: object, delay: float) -> None:
        """Retry after `delay`, unless an event since asked for something newer."""
        with self._cond:
            self._busy.discard(network_id)
            self._latest[network_id] = FETCH
            self._attempts[network_id] = self._attempts.get(network_id, 0) + 1
            current = self._pending.get(network_id)
            self._schedule(network_id, _Pending(
                current.info if current is not None else info, self._clock() + delay))

    def pending(self) -> set[str]:
        with self._cond:
            return set(self._pending) | set(self._busy)

    def idle(self) -> bool:
        with self._cond:
            return not self._pending and not self._busy

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
