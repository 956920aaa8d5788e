"""Core's interfaces to the outside, implemented by rpc/ (and by fakes in tests)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from neutrino.lib.payloads import FanoutPayload, Payload


class DhcpAgentNotifier(Protocol):
    """Tells agents about a change, called by core after the commit: `cast` one host's
    DHCP agent (True when the broker took the cast, False when it was dropped), `fanout`
    every agent listening on `topic` (the Linux bridge agents' security group and port
    updates, best effort; the payload's keys are the method's arguments)."""

    def cast(self, host: str, method: str, payload: Payload) -> bool: ...

    def fanout(self, topic: str, method: str, payload: FanoutPayload) -> None: ...


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

    def fanout(self, topic: str, method: str, payload: FanoutPayload) -> None:
        return None


class RecordingNotifier:
    """For tests: keeps every cast as (host, method, payload), every fanout as (topic,
    method, payload)."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, str, Payload]] = []
        self.fanouts: list[tuple[str, str, FanoutPayload]] = []

    def cast(self, host: str, method: str, payload: Payload) -> bool:
        self.casts.append((host, method, payload))
        return True

    def fanout(self, topic: str, method: str, payload: FanoutPayload) -> None:
        self.fanouts.append((topic, method, payload))
