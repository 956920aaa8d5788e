"""Time as the agents' loops see it.

The loops read the time and wait (for a period, or until an event cuts it short) only
through a `Clock`, so unit tests drive them with `FakeClock`: no sleeping, no races.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        """Block until `event` is set or `timeout` seconds passed; whether it is set."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(timeout)


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A clock for a loop run in the test's own thread: time passes only in `wait`.

    Each wait first calls `on_wait(timeout)` (the test's "meanwhile": change the world, set
    the stop event), then lasts its whole timeout unless the event is set by then.
    """

    def __init__(self, now: float = 0.0,
                 on_wait: Callable[[float | None], None] | None = None) -> None:
        self.now = now
        self.on_wait = on_wait
        self.waits: list[float | None] = []

    def monotonic(self) -> float:
        return self.now

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        self.waits.append(timeout)
        if self.on_wait is not None:
            self.on_wait(timeout)
        if event.is_set():
            return True
        if timeout is None:
            raise RuntimeError("waiting forever on an event nobody can set")
        self.now += timeout
        return False
