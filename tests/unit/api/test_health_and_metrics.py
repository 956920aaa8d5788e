"""The health decisions, and the API's request metrics (route templates, not URLs)."""

from __future__ import annotations

import asyncio

from prometheus_client import REGISTRY

from neutrino.api import health
from neutrino.api import metrics as api_metrics
from neutrino.lib.metrics import exposition, process_label


class Probe:
    def __init__(self, name: str, answer: str | Exception) -> None:
        self.name = name
        self.answer = answer

    def __call__(self) -> str:
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def results(*probes: Probe) -> list[health.CheckResult]:
    return asyncio.run(health.run_checks(probes, timeout=5))


def test_every_dependency_answering_is_200():
    checked = results(Probe("database", "sqlite"), Probe("rabbitmq", "127.0.0.1:5672"))
    assert health.status_code(checked) == 200
    assert health.summary(checked) == "OK"


def test_one_dependency_down_is_503_and_named():
    checked = results(Probe("database", OSError("connection refused")),
                      Probe("rabbitmq", "127.0.0.1:5672"))
    assert health.status_code(checked) == 503
    assert health.summary(checked) == "DOWN: database unreachable"
    detail = health.detailed(checked, started_at=10.0, now=12.5)
    assert detail["status"] == "DOWN"
    assert detail["uptime_seconds"] == 2.5
    assert detail["checks"]["database"]["ok"] is False
    assert "connection refused" in detail["checks"]["database"]["detail"]
    assert detail["checks"]["rabbitmq"] == {"ok": True, "detail": "127.0.0.1:5672",
                                            "seconds": detail["checks"]["rabbitmq"]["seconds"]}


def test_nothing_checked_is_not_healthy():
    assert health.status_code([]) == 503


def test_requests_are_counted_by_route_template_and_status():
    labels = {"process": process_label(), "method": "GET",
              "route": "/v2.0/networks/{id}", "status": "404"}
    before = REGISTRY.get_sample_value("neutrino_api_requests_total", labels) or 0.0
    api_metrics.observe("GET", "/v2.0/networks/{id}", 404, 0.003)
    api_metrics.observe("GET", "/v2.0/networks/{id}", 404, 0.004)
    assert REGISTRY.get_sample_value("neutrino_api_requests_total", labels) == before + 2
    count = REGISTRY.get_sample_value("neutrino_api_request_duration_seconds_count", {
        "process": process_label(), "method": "GET", "route": "/v2.0/networks/{id}"})
    assert count is not None and count >= 2
    assert b'route="/v2.0/networks/{id}"' in exposition()
