"""When an agent counts as alive: judged by the server's clock alone, for the registry, the
scheduler and port binding alike."""

from __future__ import annotations

from datetime import datetime, timedelta


def is_alive(heartbeat: datetime, now: datetime, agent_down_time: int) -> bool:
    return now - heartbeat < timedelta(seconds=agent_down_time)
