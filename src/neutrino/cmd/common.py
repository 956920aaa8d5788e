"""What every Neutrino process does at its edge: logging from the config, waiting for a
signal to stop."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from oslo_config import cfg
from prometheus_client.registry import Collector

from neutrino.agent import health
from neutrino.conf.settings import AgentSettings
from neutrino.lib.metrics import MetricsServer

LOG = logging.getLogger(__name__)

# `neutrino-dhcp-agent --check`: for a supervisor or a container's health probe.
CHECK_OPT = cfg.BoolOpt("check", default=False,
                        help="Do not start: exit 0 if the agent running with this "
                             "configuration reports to the server, 1 if not.")

# Libraries whose routine chatter (connections, policy loads, access lines) drowns our own
# messages; DEBUG brings the ones in _CHATTY_UNLESS_DEBUG back.
_ALWAYS_QUIET = ("oslo.messaging", "oslo_messaging", "oslo_policy", "uvicorn.access")
_CHATTY_UNLESS_DEBUG = ("keystonemiddleware", "keystoneauth", "sqlalchemy", "alembic")


def setup_logging(conf: cfg.ConfigOpts) -> None:
    handler: logging.Handler = (logging.FileHandler(conf.log_file) if conf.log_file
                                else logging.StreamHandler())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if conf.debug else logging.INFO)
    quiet = list(_ALWAYS_QUIET)
    if not conf.debug:
        quiet += _CHATTY_UNLESS_DEBUG
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def catch_stop_signals() -> threading.Event:
    """From now on SIGTERM and SIGINT set the event returned instead of killing the
    process: a stop asked for while it still starts waits for the start, then stops
    cleanly. Asked a second time, the process stops at once, as without this."""
    stop = threading.Event()

    def asked(signum: int, frame: object) -> None:
        if stop.is_set():
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, asked)
    return stop


def wait_for_signal(every: Callable[[], None] | None = None, interval: float = 1.0,
                    stop: threading.Event | None = None) -> None:
    """Block until SIGTERM or SIGINT (or `stop`, from catch_stop_signals, is set already),
    calling `every` about every `interval` seconds."""
    if stop is None:
        stop = catch_stop_signals()
    while not stop.wait(interval if every is not None else 3600):
        if every is not None:
            every()


def with_health_file(settings: AgentSettings, binary: str) -> AgentSettings:
    return dataclasses.replace(settings, health_file=health.health_file(
        settings.state_path, binary, settings.host))


def check_agent(settings: AgentSettings, binary: str) -> int:
    """`--check`: 0 when the running agent is healthy, 1 otherwise; says why on stdout."""
    path = health.health_file(settings.state_path, binary, settings.host)
    healthy, why = health.decide(health.read(path), time.time())
    print(f"{binary} on {settings.host}: {'OK' if healthy else 'FAIL'}: {why}",
          file=sys.stdout)
    return 0 if healthy else 1


def start_metrics(settings: AgentSettings, collector: Collector) -> MetricsServer | None:
    """The agent's /metrics when `[AGENT] metrics_port` is set."""
    if settings.metrics_port is None:
        return None
    server = MetricsServer(settings.metrics_bind_host, settings.metrics_port, [collector])
    server.start()
    LOG.info("Metrics on http://%s:%d/metrics", settings.metrics_bind_host, server.port)
    return server
