"""What every Neutrino process needs to expose Prometheus metrics.

Process metrics (counters of what a process did) carry a `process` label, `<host>:<pid>` of
the server (its main process): series of several replicas stay apart, and
`sum without (process)` adds them up. Cluster-wide facts read from the database carry no
such label, so every replica serves the same series and values.

A server with API workers is one `process`: before forking, its main process calls
`share_between_processes`, and from then on the server's processes keep their counters,
histograms and gauges in files of one directory (prometheus_client's multiprocess mode).
Any worker's scrape reads them all and sums each series over the processes, so it shows
what the main process (RPC endpoints, HA monitor) and every worker did.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable
from http.server import ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST, MetricsHandler
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "MetricsServer", "exposition", "forget_process",
           "process_label", "share_between_processes"]

_HOST = socket.gethostname()


class _Sharing:
    directory: str | None = None  # where the server's processes keep their metrics
    owner: int | None = None  # the server's main process


_SHARING = _Sharing()


def process_label() -> str:
    """The `process` label: the server's main process, shared by its workers; otherwise this
    process (read at each use)."""
    owner = _SHARING.owner
    return f"{_HOST}:{owner if owner is not None else os.getpid()}"


def share_between_processes(directory: str) -> None:
    """Keep this process's metrics, and those of processes it forks from now on, in files in
    `directory` (empty, made by the caller) so that any of them can serve them all.

    Called before any metric value exists: prometheus_client picks its value class when
    imported, from PROMETHEUS_MULTIPROC_DIR, long before the server has read where its
    state lives; every metric child made after this call is file-backed, and the
    environment variable tells the library (and forked workers) where the files are."""
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]
    _SHARING.directory = directory
    _SHARING.owner = os.getpid()


def forget_process(pid: int) -> None:
    """A server process exited: its live gauges go; its counters stay in the sums, so they
    never go backwards."""
    if _SHARING.directory is not None:
        mark_process_dead(pid, _SHARING.directory)  # type: ignore[no-untyped-call]


def with_process_metrics(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """The process-wide registry (or, shared between processes, every process's files) plus
    `extra` collectors: scrape-time collectors that belong to one server or agent instance
    (a process may build several, as tests do), so they are not registered process-wide."""
    registry = CollectorRegistry(auto_describe=False)
    if _SHARING.directory is not None:
        # Not REGISTRY: this process's own values are in the files already, and its
        # process_* and python_* collectors would describe one process of several.
        MultiProcessCollector(registry, _SHARING.directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)  # a registry collects like a collector
    for collector in extra:
        registry.register(collector)
    return registry


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    return generate_latest(with_process_metrics(extra))


class MetricsServer:
    """`/metrics` on a port of its own (the agents'), served from a thread."""

    def __init__(self, host: str, port: int, extra: Iterable[Collector] = ()) -> None:
        handler = MetricsHandler.factory(with_process_metrics(extra))
        self._httpd = ThreadingHTTPServer((host, port), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)
