"""Core's interfaces to the outside, implemented by rpc/ (and by fakes in tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from neutrino.lib.payloads import Payload


class DhcpAgentNotifier(Protocol):
    """Tells one host's DHCP agent about a change. Called by core after the commit; True
    when the cast went out (the broker took it), False when it was dropped."""

    def cast(self, host: str, method: str, payload: Payload) -> bool: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """Naive UTC now, the server's clock (agents' clocks never count)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)


class NullNotifier:
    def cast(self, host: str, method: str, payload: Payload) -> bool:
        return True


class RecordingNotifier:
    """For tests: keeps every cast as (host, method, payload)."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, str, Payload]] = []

    def cast(self, host: str, method: str, payload: Payload) -> bool:
        self.casts.append((host, method, payload))
        return True
