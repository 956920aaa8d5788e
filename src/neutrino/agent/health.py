"""An agent's health for a supervisor: `neutrino-dhcp-agent --check` exits 0 or 1.

The running agent writes the outcome of each state report to a health file; `--check` (a
separate process, same config files) reads it. Healthy means: the agent that wrote it still
runs, and the server answered one of its reports within the last `STALE_REPORTS` intervals
— the same heartbeat the server judges liveness by, so the check and `agent-list` agree
within a report or two.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

STALE_REPORTS = 3  # tolerates two lost heartbeats, as agent_down_time (75 s = 2.5 x 30) does


def health_file(state_path: str, binary: str, host: str) -> str:
    """Per binary and host: the lab and the all-in-one mode run several agents per machine."""
    return os.path.join(state_path, f"{binary}.{host}.health")


def read(path: str) -> dict[str, Any] | None:
    try:
        with open(path) as source:
            record = json.load(source)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def decide(record: dict[str, Any] | None, now: float,
           running: Callable[[int], bool] = pid_running) -> tuple[bool, str]:
    """(healthy, why) from a health file's record (None: none could be read)."""
    if record is None:
        return False, "no health file: the agent is not running or has not reported yet"
    pid = int(record.get("pid") or 0)
    if pid <= 0 or not running(pid):
        return False, f"the agent (pid {pid}) is not running"
    last_ok = record.get("last_ok")
    interval = float(record.get("report_interval") or 30)
    if last_ok is None:
        return False, f"the agent (pid {pid}) has not reached the server yet: " \
                      f"{record.get('error') or 'no report answered'}"
    age = now - float(last_ok)
    if age > STALE_REPORTS * interval:
        return False, (f"the agent's last report the server answered was {age:.0f}s ago "
                       f"(more than {STALE_REPORTS} x report_interval {interval:g}s): "
                       f"{record.get('error') or 'no answer since'}")
    return True, f"reported {max(age, 0):.0f}s ago (pid {pid})"
