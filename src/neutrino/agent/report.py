"""The heartbeat every agent sends: `report_state` every `report_interval`.

The server's answer tells the agent when its view may be stale: "revived" (the server had
counted it dead), "new" after the first report (its row was deleted), or a success after
failures (the server or the broker was unreachable). Then `on_resync` runs, so the agent
does a full sync. Reporting never stops on errors; only `stop()` ends it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from neutrino.agent import metrics
from neutrino.agent.clock import SYSTEM_CLOCK, Clock
from neutrino.lib import constants

LOG = logging.getLogger(__name__)


class ReportClient(Protocol):
    def report_state(self, agent_state: dict[str, Any], start_flag: bool) -> str: ...


def needs_resync(answer: str, first_success: bool, failed_before: bool) -> bool:
    """Whether an answer to a report means the agent must do a full sync."""
    if failed_before or answer == constants.AGENT_REVIVED:
        return True
    return answer == constants.AGENT_NEW and not first_success


class StateReporter:
    def __init__(self, client: ReportClient, agent_state: dict[str, Any],
                 configurations: Callable[[], dict[str, Any]], interval: float,
                 on_resync: Callable[[], None] | None = None,
                 log_heartbeats: bool = False, clock: Clock = SYSTEM_CLOCK,
                 health_file: str | None = None) -> None:
        """`agent_state` holds the fixed fields (binary, topic, agent_type, ...).
        `health_file`: where each report's outcome is written for `--check`."""
        self._health_file = health_file
        self._last_ok: float | None = None  # wall time of the last report that succeeded
        self._client = client
        self._clock = clock
        self._agent_state = dict(agent_state)
        self._configurations = configurations
        self._interval = interval
        self._on_resync = on_resync
        self._log_heartbeats = log_heartbeats
        self._started = False  # a report succeeded since start: the start flag was seen
        self._failing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_answer: str | None = None

    def report_once(self) -> str | None:
        """Send one report; the answer, or None when it failed (already logged)."""
        try:
            state = dict(self._agent_state, configurations=self._configurations())
            answer = self._client.report_state(state, start_flag=not self._started)
        except Exception as exc:  # noqa: BLE001 - a heartbeat must outlive any failure
            if not self._failing:
                LOG.warning("Failed reporting state: %s", exc)
            else:
                LOG.debug("Still failing to report state: %s", exc)
            self._failing = True
            metrics.STATE_REPORTS.labels(self._agent_state.get("agent_type", ""), "failed").inc()
            self._write_health(ok=False, error=str(exc))
            return None
        resync = needs_resync(answer, not self._started, self._failing)
        if self._failing:
            LOG.info("Reporting state again (answer %r)", answer)
        elif self._log_heartbeats:
            LOG.info("Reported state: %s", answer)
        self._started = True
        self._failing = False
        self.last_answer = answer
        metrics.STATE_REPORTS.labels(self._agent_state.get("agent_type", ""), "ok").inc()
        self._last_ok = time.time()
        self._write_health(ok=True)
        if resync and self._on_resync is not None:
            try:
                self._on_resync()
            except Exception:  # noqa: BLE001
                LOG.exception("Resync request failed")
        return answer

    def _write_health(self, ok: bool, error: str | None = None) -> None:
        if self._health_file is None:
            return
        record = {"pid": os.getpid(), "ok": ok, "error": error, "written_at": time.time(),
                  "last_ok": self._last_ok, "report_interval": self._interval}
        try:
            # Written aside and renamed: a checker never reads half a file.
            os.makedirs(os.path.dirname(self._health_file) or ".", exist_ok=True)
            tmp = f"{self._health_file}.tmp"
            with open(tmp, "w") as out:
                json.dump(record, out)
            os.replace(tmp, self._health_file)
        except OSError as exc:
            LOG.debug("Cannot write the health file %s: %s", self._health_file, exc)

    def run(self) -> None:
        """Report every `interval` until `stop()`, in this thread (`start` runs it in one)."""
        clock = self._clock
        next_at = clock.monotonic()
        while not self._stop.is_set():
            self.report_once()
            # Keep a steady cadence however long a report took; never busy-loop.
            next_at = max(next_at + self._interval, clock.monotonic())
            clock.wait(self._stop, next_at - clock.monotonic())

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="state-reporter", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop reporting; waits for a report in flight (bounded by the call's timeout)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
