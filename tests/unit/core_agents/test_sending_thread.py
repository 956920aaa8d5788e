"""Outboxes sent after the reply by a thread of their own (issue 17): in the order they
were handed over, recorded casts marked delivered, the caller sending its own when too
many wait, and what waits sent when the process stops."""

from __future__ import annotations

import threading
import time

from neutrino.core.agents.notify import Delivered, Outbox, SendingThread
from neutrino.core.interfaces import RecordingNotifier


class GatedNotifier(RecordingNotifier):
    """Holds every cast until `gate` opens, and says on which thread it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.threads: list[str] = []
        self.waiting: list[str] = []  # threads that reached the gate

    def cast(self, host: str, method: str, payload: dict) -> bool:
        self.waiting.append(threading.current_thread().name)
        self.gate.wait(10)
        self.threads.append(threading.current_thread().name)
        return super().cast(host, method, payload)


def outbox(n: int, recorded: bool = True) -> Outbox:
    box = Outbox()
    box.add(f"host{n}", "port_create_end", {"n": n})
    if recorded:
        box.ids[-1] = f"row{n}"
    return box


def test_outboxes_go_in_order_on_the_thread_and_are_marked_delivered():
    notifier = GatedNotifier()
    delivered = Delivered()
    sender = SendingThread(notifier, delivered)
    for n in range(20):
        sender(outbox(n, recorded=n % 2 == 0))
    assert notifier.casts == []  # nothing waited for: the gate is shut
    notifier.gate.set()
    sender.close()
    assert [payload["n"] for _, _, payload in notifier.casts] == list(range(20))
    assert set(notifier.threads) == {"cast-sender"}
    assert delivered.take() == [f"row{n}" for n in range(0, 20, 2)]


def test_with_the_queue_full_the_caller_sends_its_own():
    notifier = GatedNotifier()
    sender = SendingThread(notifier, Delivered(), limit=2)
    caller = threading.Thread(target=lambda: [sender(outbox(n)) for n in range(5)],
                              name="api-request")
    caller.start()
    # The gate is shut: at most one outbox is out of the queue (held by the thread), two
    # wait in it, so one of the five is the caller's to send, and it blocks at the gate.
    deadline = time.monotonic() + 10
    while "api-request" not in notifier.waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    assert notifier.waiting.count("api-request") == 1
    notifier.gate.set()
    caller.join(10)
    sender.close()
    assert sorted(payload["n"] for _, _, payload in notifier.casts) == list(range(5))
    assert "api-request" in notifier.threads


def test_a_failing_outbox_does_not_stop_the_thread():
    class Failing(RecordingNotifier):
        def fanout(self, topic, method, payload):  # noqa: ANN001
            raise RuntimeError("broker gone")

    notifier = Failing()
    sender = SendingThread(notifier, Delivered())
    broken = outbox(0)
    broken.members_changed(["sg"])
    sender(broken)
    sender(outbox(1))
    sender.close()
    assert [payload["n"] for _, _, payload in notifier.casts] == [0, 1]
