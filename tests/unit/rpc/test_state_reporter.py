"""StateReporter: the start flag, when it asks for a resync, and that it never dies."""

from __future__ import annotations

import pytest

from neutrino.agent.clock import FakeClock
from neutrino.agent.report import StateReporter, needs_resync
from neutrino.lib.constants import AGENT_ALIVE, AGENT_NEW, AGENT_REVIVED


class ScriptedClient:
    """Answers from a script: a str is an answer, an exception is raised."""

    def __init__(self, *script: object) -> None:
        self.script = list(script)
        self.reports: list[tuple[dict, bool]] = []

    def report_state(self, agent_state: dict, start_flag: bool) -> str:
        self.reports.append((agent_state, start_flag))
        step = self.script.pop(0) if self.script else AGENT_ALIVE
        if isinstance(step, BaseException):
            raise step
        return str(step)


def make(client: ScriptedClient, resyncs: list[int], interval: float = 30) -> StateReporter:
    return StateReporter(client, {"agent_type": "DHCP agent", "binary": "b"},
                         lambda: {"networks": 2}, interval,
                         on_resync=lambda: resyncs.append(1))


@pytest.mark.parametrize("answer,first,failed,expected", [
    (AGENT_NEW, True, False, False),
    (AGENT_NEW, False, False, True),  # the row was deleted behind our back
    (AGENT_ALIVE, False, False, False),
    (AGENT_REVIVED, False, False, True),
    (AGENT_REVIVED, True, False, True),
    (AGENT_ALIVE, False, True, True),  # back after failures: the server may have moved on
    (AGENT_NEW, True, True, True),
])
def test_needs_resync(answer: str, first: bool, failed: bool, expected: bool) -> None:
    assert needs_resync(answer, first, failed) is expected


def test_first_report_carries_the_start_flag_and_configurations() -> None:
    client, resyncs = ScriptedClient(AGENT_NEW, AGENT_ALIVE), []
    reporter = make(client, resyncs)
    assert reporter.report_once() == AGENT_NEW
    assert reporter.report_once() == AGENT_ALIVE
    assert client.reports == [
        ({"agent_type": "DHCP agent", "binary": "b", "configurations": {"networks": 2}}, True),
        ({"agent_type": "DHCP agent", "binary": "b", "configurations": {"networks": 2}}, False),
    ]
    assert resyncs == []


def test_start_flag_stays_until_a_report_gets_through() -> None:
    client, resyncs = ScriptedClient(TimeoutError("no server"), AGENT_NEW, AGENT_ALIVE), []
    reporter = make(client, resyncs)
    assert reporter.report_once() is None
    assert reporter.report_once() == AGENT_NEW
    reporter.report_once()
    assert [flag for _, flag in client.reports] == [True, True, False]


def test_revived_and_new_after_start_and_reconnect_ask_for_resync() -> None:
    client = ScriptedClient(AGENT_NEW, AGENT_ALIVE, AGENT_REVIVED, AGENT_ALIVE, AGENT_NEW,
                            ConnectionError("broker down"), ConnectionError("still"),
                            AGENT_ALIVE, AGENT_ALIVE)
    resyncs: list[int] = []
    reporter = make(client, resyncs)
    counts = []
    for _ in range(9):
        reporter.report_once()
        counts.append(len(resyncs))
    assert counts == [0, 0, 1, 1, 2, 2, 2, 3, 3]


def test_a_failing_resync_callback_does_not_stop_reporting() -> None:
    client = ScriptedClient(AGENT_NEW, AGENT_REVIVED, AGENT_ALIVE)

    def broken() -> None:
        raise RuntimeError("boom")

    reporter = StateReporter(client, {}, dict, 30, on_resync=broken)
    assert [reporter.report_once() for _ in range(3)] == [AGENT_NEW, AGENT_REVIVED,
                                                          AGENT_ALIVE]


def test_a_failing_configurations_callback_is_a_failed_report() -> None:
    client = ScriptedClient()
    calls = iter([RuntimeError("x"), {"ok": 1}])

    def configurations() -> dict:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    reporter = StateReporter(client, {}, configurations, 30)
    assert reporter.report_once() is None
    assert reporter.report_once() == AGENT_ALIVE
    assert client.reports == [({"configurations": {"ok": 1}}, True)]


def test_the_loop_keeps_reporting_through_errors_until_stopped() -> None:
    client = ScriptedClient(AGENT_NEW, RuntimeError("x"), RuntimeError("y"))
    resyncs: list[int] = []
    reporter: StateReporter

    def meanwhile(timeout: float | None) -> None:
        if resyncs:
            reporter.stop()

    clock = FakeClock(on_wait=meanwhile)
    reporter = StateReporter(client, {}, dict, 30, on_resync=lambda: resyncs.append(1),
                             clock=clock)
    reporter.run()
    # new, two failures, then the success after them asks for a resync; no report after stop.
    assert len(client.reports) == 4 and resyncs == [1]
    assert clock.waits == [30, 30, 30, 30]


def test_the_cadence_stays_steady_whatever_a_report_takes() -> None:
    clock = FakeClock()
    durations = iter([3.0, 45.0, 0.0])

    class SlowClient:
        def report_state(self, agent_state: dict, start_flag: bool) -> str:
            clock.now += next(durations)
            return AGENT_ALIVE

    reporter = StateReporter(SlowClient(), {}, dict, 10, clock=clock)
    clock.on_wait = lambda timeout: reporter.stop() if len(clock.waits) == 3 else None
    reporter.run()
    # 3 s of a 10 s period spent reporting; a 45 s report overran: the next one at once.
    assert clock.waits == [7.0, 0.0, 10.0]
