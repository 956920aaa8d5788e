"""`neutrino-dhcp-agent --check`: the decision from the health file's record."""

from __future__ import annotations

from neutrino.agent import health

ALIVE = {4242}


def running(pid: int) -> bool:
    return pid in ALIVE


def record(**fields):
    return {"pid": 4242, "ok": True, "error": None, "written_at": 1000.0, "last_ok": 1000.0,
            "report_interval": 30, **fields}


def test_recent_report_is_healthy():
    assert health.decide(record(), now=1050.0, running=running)[0] is True


def test_no_file_is_unhealthy():
    healthy, why = health.decide(None, now=1000.0, running=running)
    assert not healthy and "no health file" in why


def test_dead_writer_is_unhealthy_even_with_a_fresh_report():
    healthy, why = health.decide(record(pid=7), now=1001.0, running=running)
    assert not healthy and "not running" in why


def test_never_reached_the_server_is_unhealthy():
    healthy, why = health.decide(record(last_ok=None, ok=False, error="timed out"),
                                 now=1001.0, running=running)
    assert not healthy and "timed out" in why


def test_reports_unanswered_for_three_intervals_is_unhealthy():
    assert health.decide(record(), now=1000.0 + 90, running=running)[0] is True
    healthy, why = health.decide(record(ok=False, error="broker down"), now=1000.0 + 91,
                                 running=running)
    assert not healthy and "broker down" in why


def test_the_running_agent_writes_what_check_reads(tmp_path):
    from neutrino.agent.report import StateReporter

    class Client:
        answer: str | Exception = "alive"

        def report_state(self, agent_state, start_flag):
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

    path = health.health_file(str(tmp_path / "state"), "neutrino-dhcp-agent", "HostA")
    client = Client()
    reporter = StateReporter(client, {"agent_type": "DHCP agent"}, dict, 30,
                             health_file=path)
    reporter.report_once()
    assert health.decide(health.read(path), now=health.read(path)["written_at"])[0] is True
    client.answer = RuntimeError("broker down")
    reporter.report_once()
    stored = health.read(path)
    assert stored["ok"] is False and stored["last_ok"] is not None
    assert health.decide(stored, now=stored["last_ok"] + 91)[0] is False
