"""The API's request metrics: counted at the edge, per route template (not per URL, so a
network id never becomes a label value), in memory only."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

from neutrino.lib.metrics import process_label

UNMATCHED = "unmatched"  # 404s and 405s the router answered itself

REQUESTS = Counter("neutrino_api_requests",
                   "API requests this process answered, by route template and status.",
                   ["process", "method", "route", "status"])
LATENCY = Histogram("neutrino_api_request_duration_seconds",
                    "Time from a request's arrival to its response's start, by route.",
                    ["process", "method", "route"])


# Each set of labels' counter and histogram, looked up once: `labels()` checks and locks
# on every call. Bounded: route templates, methods httptools accepts, status codes.
_CHILDREN: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    key = (process_label(), method, route, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = _CHILDREN.setdefault(key, (
            REQUESTS.labels(key[0], method, route, str(status)),
            LATENCY.labels(key[0], method, route)))
    children[0].inc()
    children[1].observe(seconds)
