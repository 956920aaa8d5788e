"""What every Neutrino process needs to expose Prometheus metrics.

Process metrics (counters of what this process did) carry a `process` label, `<host>:<pid>`:
with several server replicas or API workers each process's series stay apart, and
`sum without (process)` adds them up. Cluster-wide facts read from the database carry no
such label, so every replica serves the same series and values.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable
from http.server import ThreadingHTTPServer

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST, MetricsHandler
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE_LATEST", "MetricsServer", "exposition", "process_label"]

_HOST = socket.gethostname()


def process_label() -> str:
    """This process's `process` label; read at each use, so a forked worker gets its own."""
    return f"{_HOST}:{os.getpid()}"


def with_process_metrics(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """The process-wide registry plus `extra` collectors: scrape-time collectors that belong
    to one server or agent instance (a process may build several, as tests do), so they are
    not registered process-wide."""
    registry = CollectorRegistry(auto_describe=False)
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
