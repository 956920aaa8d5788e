"""`/healthcheck`: 200 when every dependency answers, 503 otherwise.

The probes (the database, the broker) are given by the server; each runs in a worker thread
bounded by `timeout`, so a hung database makes the answer a 503 after `timeout` rather than a
request that never ends. Anonymous callers get "OK" or "DOWN" (a load balancer needs no
more, and an attacker gets no more); an admin asking `?detail=1` gets each check as JSON.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

DEFAULT_TIMEOUT = 5.0


class Probe(Protocol):
    name: str

    def __call__(self) -> str:
        """What answered; raises when the dependency does not."""
        ...


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float


def status_code(results: Sequence[CheckResult]) -> int:
    """200 only when every check passed (and there were checks to pass)."""
    return 200 if results and all(r.ok for r in results) else 503


def summary(results: Sequence[CheckResult]) -> str:
    failed = [r.name for r in results if not r.ok]
    return "OK" if not failed else "DOWN: " + ", ".join(failed) + " unreachable"


def detailed(results: Sequence[CheckResult], started_at: float, now: float) -> dict[str, Any]:
    return {"status": "OK" if status_code(results) == 200 else "DOWN",
            "uptime_seconds": round(now - started_at, 3),
            "checks": {r.name: {"ok": r.ok, "detail": r.detail,
                                "seconds": round(r.seconds, 4)} for r in results}}


async def _run(probe: Probe, timeout: float,
               clock: Callable[[], float] = time.monotonic) -> CheckResult:
    began = clock()
    try:
        detail = await asyncio.wait_for(run_in_threadpool(probe), timeout)
        return CheckResult(probe.name, True, detail, clock() - began)
    except TimeoutError:
        return CheckResult(probe.name, False, f"no answer within {timeout:g}s", clock() - began)
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is a "down"
        return CheckResult(probe.name, False, f"{type(exc).__name__}: {exc}", clock() - began)


async def run_checks(probes: Sequence[Probe], timeout: float = DEFAULT_TIMEOUT
                     ) -> list[CheckResult]:
    return list(await asyncio.gather(*(_run(p, timeout) for p in probes)))
