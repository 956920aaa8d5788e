"""The agents' metrics, served on `[AGENT] metrics_port` when set.

Counters and histograms are process-wide (one agent per process in production); the
gauges of an agent's current state (dnsmasq processes, queue depth) are read from the agent
when scraped, so keeping them costs nothing between scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

DHCP = "dhcp"
LINUXBRIDGE = "linuxbridge"

RECONCILE_PASSES = Counter(
    "neutrino_agent_reconcile_passes",
    "Reconcile passes (DHCP: one network; Linux bridge: every tap of the host), by result.",
    ["agent", "result"])
RECONCILE_DURATION = Histogram(
    "neutrino_agent_reconcile_duration_seconds", "Duration of one reconcile pass.", ["agent"])
FULL_SYNCS = Counter("neutrino_agent_full_syncs", "Completed full syncs with the server.",
                     ["agent"])
# An agent is one process; were its metrics ever shared between processes, the latest
# sync of any is the one that counts.
LAST_FULL_SYNC = Gauge("neutrino_agent_last_full_sync_timestamp_seconds",
                       "Unix time of the last completed full sync.", ["agent"],
                       multiprocess_mode="max")
FAILURES = Counter("neutrino_agent_failures", "Failures, by what failed.", ["agent", "kind"])
STATE_REPORTS = Counter("neutrino_agent_state_reports",
                        "State reports (heartbeats) to the server, by result.",
                        ["agent_type", "result"])


class Pass:
    """Times one reconcile pass: `with Pass(DHCP) as p: ...; p.ok()`; unmarked is failed."""

    def __init__(self, agent: str, clock: Callable[[], float] = time.perf_counter) -> None:
        self._agent = agent
        self._clock = clock
        self._ok = False
        self._began = 0.0

    def __enter__(self) -> Pass:
        self._began = self._clock()
        return self

    def ok(self) -> None:
        self._ok = True

    def __exit__(self, *exc: object) -> None:
        RECONCILE_DURATION.labels(self._agent).observe(self._clock() - self._began)
        RECONCILE_PASSES.labels(self._agent, "ok" if self._ok else "failed").inc()


def full_sync_done(agent: str) -> None:
    FULL_SYNCS.labels(agent).inc()
    LAST_FULL_SYNC.labels(agent).set(time.time())


def failed(agent: str, kind: str) -> None:
    FAILURES.labels(agent, kind).inc()


class StateCollector(Collector):
    """Gauges read from a running agent at scrape time: name -> (help, read)."""

    def __init__(self, gauges: dict[str, tuple[str, Callable[[], float]]]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, (doc, read) in self._gauges.items():
            family = GaugeMetricFamily(name, doc)
            family.add_metric([], read())
            yield family
