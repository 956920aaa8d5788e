"""Port views remembered under the port's id, revision_number and created_at.

A port's view is a function of its row and of its rows in other tables (addresses, DHCP
options, address pairs, tags), and every change to any of those also moves the port's
revision_number (every writer of them bumps it, as Neutron's revisions do). So a view
remembered under the same key is the view the database would give now: nothing to
invalidate, nothing two servers could disagree on, and a list of ports read before costs
three columns a port, without the rest of their rows, their rows elsewhere or building
their views again."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import timedelta
from itertools import islice
from typing import Any

# About 3.5 kB a view: ~55 MB per API worker when full.
DEFAULT_SIZE = 16384
# A port deleted and made again with the same id (given by an admin) starts again at
# revision 1, so the key tells its two lives apart by created_at alone. Ports are stamped
# to the microsecond, and where the database keeps that (SQLite, PostgreSQL) two lives
# never share a stamp: their views are remembered at once. Where it keeps whole seconds
# (MariaDB/MySQL's DATETIME, and ports made before microseconds were stamped), a stamp
# that reads back with no fraction of a second, two such lives can share their
# created_at, so only views of ports made longer ago than this are remembered: once that
# second is this far behind, only the later life can still be read. A port changed since
# keeps its created_at: changes move revision_number instead, so a port that was just
# updated is remembered at once. The margin covers server clocks up to 4 s apart (NTP
# keeps them within milliseconds).
SETTLE = timedelta(seconds=5)


class ViewMemo:
    """Views by key, the oldest forgotten first. The views are shared between requests:
    callers must not change them."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._views: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        try:
            return self._views.get(key)
        except TypeError:  # a value that cannot be hashed: never remembered
            return None

    def get_many(self, keys: Iterable[Sequence[Any]]) -> list[dict[str, Any] | None]:
        """`get` of each key (given as any sequence of its values), in one pass: a list
        of a thousand ports looks up a thousand keys."""
        views = self._views
        try:
            return [views.get(tuple(key)) for key in keys]
        except TypeError:  # a value that cannot be hashed somewhere: one at a time
            return [self.get(tuple(key)) for key in keys]

    def put(self, key: tuple[Any, ...], view: dict[str, Any]) -> None:
        try:
            hash(key)
        except TypeError:
            return
        with self._lock:
            if len(self._views) >= self.size:
                # An eighth at once: one pass over the oldest rather than one per insert.
                for old in list(islice(self._views, max(1, self.size // 8))):
                    del self._views[old]
            self._views[key] = view

    def __len__(self) -> int:
        return len(self._views)
