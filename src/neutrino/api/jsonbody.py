"""Response bodies as JSON, and list items whose JSON is written once and copied after.

Bodies are written by orjson and must say what json.dumps says (the reference: Neutron's
JSON). A list of 1,000 ports is about 0.9 MB of it; walking its thousand dicts to write it
took orjson 0.66 ms a list in the quiet and more under load (8.8 % of both cores in
bench_api_load on PostgreSQL). Core hands out the same dict for a port for as long as its
revision stands (core.resources.viewmemo), so the JSON of that dict, as one caller's list
shows it, is the same bytes from one request to the next: remembered, it is copied into
the body (0.06 ms for the 1,000).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from itertools import islice
from typing import Any

import orjson

# Dataclasses, datetimes and subclasses of str, int, dict and list go to json.dumps: it
# refuses the first two and writes the others its own way. (orjson would also write UUIDs
# and enums, which json.dumps refuses; no body of ours holds one.)
_ORJSON_OPTIONS = (orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
                   | orjson.OPT_PASSTHROUGH_SUBCLASS)

Item = dict[str, Any]


class Encoded:
    """An item's JSON, written already, standing for the item in a body."""

    __slots__ = ("fragment", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.fragment = orjson.Fragment(raw)


class EncodedList(list[Encoded]):
    """A body's list whose items are all `Encoded`: written as their JSON, which is not
    looked through again for a null (each item's was when it was written)."""

    __slots__ = ()


def _fragment(value: object) -> orjson.Fragment:
    if type(value) is Encoded:
        return value.fragment
    raise TypeError


def _decoded(value: object) -> Any:
    if type(value) is Encoded:
        return orjson.loads(value.raw)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _left_out(value: object) -> Any:
    """The body as _orjson_only checks it: kept lists empty, kept items as written."""
    if type(value) is EncodedList:
        return ()
    return _fragment(value)


def _orjson_only(body: Any) -> bytes | None:
    """orjson's JSON of `body` where it is what json.dumps would say, else None."""
    kept = False

    def written(value: object) -> Any:
        nonlocal kept
        if type(value) is EncodedList:
            kept = True
            # The items' fragments, which orjson writes natively: no call per item.
            return [item.fragment for item in value]
        return _fragment(value)

    try:
        out = orjson.dumps(body, default=written, option=_ORJSON_OPTIONS)
        # orjson writes NaN and +-Infinity as null where json.dumps writes NaN and
        # Infinity (a binding:profile given 1e400 is echoed so). A 1,000-port list is 1 MB
        # to look through: only what is not kept JSON is.
        checked = orjson.dumps(body, default=_left_out, option=_ORJSON_OPTIONS) \
            if kept else out
    except TypeError:  # orjson.JSONEncodeError included
        return None
    return None if b"null" in checked else out


def encode_json(body: Any) -> bytes:
    """`body` as JSON equal to `json.dumps(body)`'s, written by orjson (a list of a few
    hundred ports in a tenth of json.dumps's time): compact, UTF-8 rather than ASCII escapes.

    json.dumps, the reference, writes what orjson would write otherwise: integers beyond 64
    bits, lone surrogates and non-string keys (orjson refuses them), and any body in which
    orjson wrote a null. `Encoded` items are written as they were encoded."""
    out = _orjson_only(body)
    if out is None:
        return json.dumps(body, default=_decoded).encode()
    return out


class EncodedItems:
    """List items' JSON by the item's identity and the shape a list shows it in (the
    attributes shown, those hidden from the caller). An entry holds its item, so no other
    object can take that identity while it is remembered; the oldest are forgotten first.
    Only for items that stay the same while they are handed out again: core's port views.
    """

    # Distinct shapes remembered: a list's `fields` make new ones, so there is a bound.
    MAX_SHAPES = 256

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: dict[tuple[int, object], tuple[Item, Encoded]] = {}
        self._shapes: dict[tuple[tuple[str, ...], frozenset[str]], object] = {}
        self._lock = threading.Lock()

    def shape(self, names: tuple[str, ...], hidden: frozenset[str]) -> object:
        """The token of a shape: compared by identity, so a lookup hashes no names."""
        key = (names, hidden)
        token = self._shapes.get(key)
        if token is None:
            with self._lock:
                if len(self._shapes) >= self.MAX_SHAPES:
                    # Entries under the old tokens are found no more and age out.
                    self._shapes.clear()
                token = self._shapes.setdefault(key, object())
        return token

    def get(self, item: Item, hidden: frozenset[str], shape: object,
            show: Callable[[Item, frozenset[str]], Item]) -> Item | Encoded:
        """`item` as `show(item, hidden)` shows it, `shape` being the token of the names
        shown and `hidden`: its JSON when remembered or when orjson writes it as
        json.dumps would, else what `show` returns."""
        key = (id(item), shape)
        entry = self._entries.get(key)
        if entry is not None:  # it holds its item: the id is that item's
            return entry[1]
        shown = show(item, hidden)
        raw = _orjson_only(shown)
        if raw is None:
            return shown
        encoded = Encoded(raw)
        with self._lock:
            if len(self._entries) >= self.size:
                # An eighth at once: one pass over the oldest rather than one per insert.
                for old in list(islice(self._entries, max(1, self.size // 8))):
                    del self._entries[old]
            self._entries[key] = (item, encoded)
        return encoded

    def __len__(self) -> int:
        return len(self._entries)
