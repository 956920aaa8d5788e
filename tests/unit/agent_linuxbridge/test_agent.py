"""The Linux bridge agent's reconcile pass and its executor, on an in-memory host."""

from __future__ import annotations

from neutrino.agent.clock import FakeClock
from neutrino.agent.linuxbridge.agent import LinuxBridgeAgent
from neutrino.agent.linuxbridge.executor import apply_plan
from neutrino.agent.linuxbridge.plan import Link, plan_links
from neutrino.conf.settings import AgentSettings, LinuxBridgeSettings
from neutrino.lib.constants import AGENT_NEW

from .fakes import FakeHostLinks, FakeL2Plugin, port

NET1 = "11111111-aaaa-bbbb-cccc-000000000001"
NET2 = "22222222-aaaa-bbbb-cccc-000000000002"
BR1 = "brq11111111-aa"
BR2 = "brq22222222-aa"


class NoReports:
    def report_state(self, agent_state: dict, start_flag: bool) -> str:
        return AGENT_NEW


def make_agent(host: FakeHostLinks, plugin: FakeL2Plugin) -> LinuxBridgeAgent:
    settings = LinuxBridgeSettings(AgentSettings("HostA", "/tmp/unused"),
                                   interface_mappings={"physnet1": "eth0"})
    return LinuxBridgeAgent(settings, host, plugin, NoReports())


def eth0() -> Link:
    return Link("eth0", None, None, True)


def test_executor_skips_taps_whose_uplink_failed() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"), Link("tapbbb", "tun"))
    host.fail.add("eth0.1000")
    devices = {"tapaaa": port("tapaaa", NET1),
               "tapbbb": port("tapbbb", NET2, segmentation_id=1001)}
    plugged = apply_plan(plan_links(devices, {"physnet1": "eth0"}, host.links()), host)
    assert plugged == {"tapbbb": BR2}
    assert host.state["tapbbb"].master == BR2


def test_a_new_tap_is_plugged_and_reported_up_once() -> None:
    host = FakeHostLinks(eth0())
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    agent.reconcile_once(full=True, resync=True)
    assert plugin.calls == [("ports_on_host",), ("down", "tapaaa")]  # bound, no tap yet
    plugin.calls.clear()

    host.add_tap("tapaaa")
    agent.reconcile_once()
    assert plugin.calls == [("details", "tapaaa"), ("up", "tapaaa")]
    assert host.state["tapaaa"].master == BR1 and host.state["tapaaa"].up
    assert host.state["eth0.1000"].master == BR1
    assert agent.configurations() == {"interface_mappings": {"physnet1": "eth0"},
                                      "bridge_mappings": {}, "devices": 1,
                                      "firewall_driver": "noop"}
    plugin.calls.clear()
    host.ops.clear()
    agent.reconcile_once()
    assert plugin.calls == [] and host.ops == []  # idempotent: nothing to do


def test_a_vanished_tap_is_reported_down_and_its_bridge_removed() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    agent.reconcile_once()
    host.state.pop("tapaaa")
    plugin.calls.clear()
    agent.reconcile_once()
    assert plugin.calls == [("down", "tapaaa")]
    assert BR1 not in host.state and "eth0.1000" not in host.state
    assert "eth0" in host.state
    assert agent.configurations()["devices"] == 0


def test_server_errors_are_retried_on_the_next_pass() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    plugin.broken = True
    agent.reconcile_once()
    assert "tapaaa" not in {op[1] for op in host.ops}
    plugin.broken = False
    agent.reconcile_once()
    assert plugin.calls == [("details", "tapaaa"), ("up", "tapaaa")]


def test_a_failed_down_report_is_retried() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    agent.reconcile_once()
    host.state.pop("tapaaa")
    plugin.broken = True
    agent.reconcile_once()
    plugin.broken = False
    plugin.calls.clear()
    agent.reconcile_once()
    assert plugin.calls == [("down", "tapaaa")]


def test_a_tap_without_port_is_asked_again_later_not_every_pass() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin()
    agent = make_agent(host, plugin)
    agent.reconcile_once()
    agent.reconcile_once()
    assert plugin.calls == [("details", "tapaaa")]
    assert host.state["tapaaa"].master is None


def test_resync_reports_every_plugged_tap_again() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    agent.reconcile_once()
    plugin.calls.clear()
    agent.reconcile_once(full=True)  # periodic: details unchanged, nothing to report
    assert plugin.calls == [("ports_on_host",)]
    plugin.calls.clear()
    agent.reconcile_once(full=True, resync=True)  # after a reconnect
    assert plugin.calls == [("ports_on_host",), ("up", "tapaaa")]


def test_a_port_set_admin_down_is_reported_down() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    agent.reconcile_once()
    plugin.ports["tapaaa"] = port("tapaaa", NET1, admin_state_up=False)
    plugin.calls.clear()
    agent.reconcile_once(full=True)
    assert plugin.calls == [("ports_on_host",), ("down", "tapaaa")]
    assert agent.configurations()["devices"] == 0


def test_a_lasting_problem_is_warned_about_once(caplog) -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    host.fail.add("eth0.1000")
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    agent = make_agent(host, plugin)
    with caplog.at_level("INFO", logger="neutrino.agent.linuxbridge"):
        for _ in range(3):
            agent.reconcile_once()
        host.fail.clear()
        agent.reconcile_once()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "eth0.1000" in warnings[0].getMessage()
    assert ("up", "tapaaa") in plugin.calls  # plugged once the problem went away
    assert any("fixed" in r.getMessage() for r in caplog.records)


def test_the_loop_survives_failures_and_stops() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin({"tapaaa": port("tapaaa", NET1)})
    plugin.broken = True  # the server is not there yet
    agent: LinuxBridgeAgent

    def meanwhile(timeout: float | None) -> None:
        if len(clock.waits) == 3:
            plugin.broken = False  # the server is back after two failed passes
        if ("up", "tapaaa") in plugin.calls:
            agent.stop()

    clock = FakeClock(on_wait=meanwhile)
    settings = LinuxBridgeSettings(AgentSettings("HostA", "/tmp/unused"),
                                   interface_mappings={"physnet1": "eth0"},
                                   polling_interval=2)
    agent = LinuxBridgeAgent(settings, host, plugin, NoReports(), clock=clock)
    agent.request_resync()
    agent.run()
    # Three passes failed (unrecorded); the fourth is still the start's full sync, retried.
    assert plugin.calls == [("ports_on_host",), ("up", "tapaaa")]
    assert clock.waits == [2, 2, 2, 2]


def test_a_tap_without_port_is_asked_again_after_a_while() -> None:
    host = FakeHostLinks(eth0(), Link("tapaaa", "tun"))
    plugin = FakeL2Plugin()
    clock = FakeClock()
    settings = LinuxBridgeSettings(AgentSettings("HostA", "/tmp/unused"),
                                   interface_mappings={"physnet1": "eth0"})
    agent = LinuxBridgeAgent(settings, host, plugin, NoReports(), clock=clock)
    agent.reconcile_once()
    clock.now += 4.9
    agent.reconcile_once()
    assert plugin.calls == [("details", "tapaaa")]
    clock.now += 0.1
    agent.reconcile_once()
    assert plugin.calls == [("details", "tapaaa")] * 2
