"""Running one operation from many threads at once, to let the database settle races."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


def race(n: int, fn: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """fn(0) .. fn(n-1), each in its own thread, released together; (results, errors)."""
    barrier = threading.Barrier(n, timeout=30)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            value = fn(i)
        except BaseException as err:  # noqa: BLE001 - every kind must be seen
            with lock:
                errors.append(err)
        else:
            with lock:
                results.append(value)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return results, errors
