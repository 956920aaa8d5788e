"""The API's request metrics: counted at the edge, per route template (not per URL, so a
network id never becomes a label value), in memory only."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from neutrino.lib.metrics import process_label

UNMATCHED = "unmatched"  # 404s and 405s the router answered itself

REQUESTS = Counter("neutrino_api_requests",
                   "API requests this process answered, by route template and status.",
                   ["process", "method", "route", "status"])
LATENCY = Histogram("neutrino_api_request_duration_seconds",
                    "Time from a request's arrival to its response's start, by route.",
                    ["process", "method", "route"])


def observe(method: str, route: str, status: int, seconds: float) -> None:
    process = process_label()
    REQUESTS.labels(process, method, route, str(status)).inc()
    LATENCY.labels(process, method, route).observe(seconds)
