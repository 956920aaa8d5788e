"""neutrino-aio's pure parts: host arguments, per-host settings, the control protocol."""

from __future__ import annotations

import argparse
import json
import socket

import pytest

from neutrino.cmd.aio import (
    Agents,
    ControlSocket,
    HostSpec,
    handle_request,
    host_agent_settings,
    parse_host,
)
from neutrino.conf.settings import AgentSettings, DhcpAgentSettings, LinuxBridgeSettings


class FakeAgent:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name
        log.append(f"start {name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def make_agents(log: list[str]) -> Agents:
    return Agents({(h, a): (lambda h=h, a=a: FakeAgent(log, f"{h}/{a}"))
                   for h in ("HostA", "HostB") for a in ("dhcp", "linuxbridge")})


def test_parse_host() -> None:
    assert parse_host("HostA=/run/netns/a") == HostSpec("HostA", "/run/netns/a")
    for bad in ("HostA", "=/x", "HostA=", "a/b=/x", "..=/x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_host(bad)


def test_each_host_gets_its_name_namespace_and_state() -> None:
    agent = AgentSettings("controlnode", "/var/lib/n", report_interval=1)
    dhcp, lb = host_agent_settings(
        DhcpAgentSettings(agent, confs_dir="/var/lib/n/dhcp"),
        LinuxBridgeSettings(agent, {"physnet1": "eth0"}), HostSpec("HostA", "/run/netns/a"),
        "/var/lib/n")
    assert dhcp.agent == lb.agent
    assert (dhcp.agent.host, dhcp.agent.host_netns, dhcp.agent.netns_dir) == \
        ("HostA", "/run/netns/a", "/var/lib/n/HostA/netns")
    assert dhcp.confs_dir == "/var/lib/n/HostA/dhcp"
    assert dhcp.agent.report_interval == 1
    assert lb.interface_mappings == {"physnet1": "eth0"}


def test_requests_stop_and_start_one_agent() -> None:
    log: list[str] = []
    agents = make_agents(log)
    agents.start_all()
    log.clear()
    answer = handle_request(json.dumps({"op": "stop", "host": "HostA", "agent": "dhcp"}),
                            agents)
    assert answer["ok"] and answer["changed"]
    assert answer["hosts"]["HostA"] == {"dhcp": "stopped", "linuxbridge": "running"}
    assert answer["hosts"]["HostB"] == {"dhcp": "running", "linuxbridge": "running"}
    assert log == ["stop HostA/dhcp"]
    again = handle_request('{"op": "stop", "host": "HostA", "agent": "dhcp"}', agents)
    assert again["ok"] and not again["changed"]
    started = handle_request('{"op": "start", "host": "HostA", "agent": "dhcp"}', agents)
    assert started["changed"] and log == ["stop HostA/dhcp", "start HostA/dhcp"]
    agents.stop_all()
    assert handle_request('{"op": "status"}', agents)["hosts"]["HostB"]["linuxbridge"] == \
        "stopped"


@pytest.mark.parametrize("line", [
    "not json", "[]", '{"op": "reboot"}', '{"op": "stop", "host": "HostC", "agent": "dhcp"}',
    '{"op": "stop", "host": "HostA", "agent": "l3"}', '{"op": "start", "agent": "dhcp"}',
])
def test_bad_requests_get_an_error_answer(line: str) -> None:
    answer = handle_request(line, make_agents([]))
    assert answer["ok"] is False and answer["error"]


def test_an_agent_failing_to_start_is_an_error_answer() -> None:
    def broken() -> FakeAgent:
        raise RuntimeError("cannot start")

    answer = handle_request('{"op": "start", "host": "H", "agent": "dhcp"}',
                            Agents({("H", "dhcp"): broken}))
    assert answer == {"ok": False, "error": "RuntimeError: cannot start"}


def test_the_control_socket_answers_one_line_per_request(tmp_path) -> None:
    log: list[str] = []
    agents = make_agents(log)
    path = str(tmp_path / "aio.sock")
    control = ControlSocket(path, agents)
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(path)
            stream = sock.makefile("rw")
            stream.write('{"op": "start", "host": "HostB", "agent": "linuxbridge"}\n'
                         '{"op": "status"}\n')
            stream.flush()
            first, second = json.loads(stream.readline()), json.loads(stream.readline())
    finally:
        control.close()
    assert first["ok"] and first["changed"]
    assert second["hosts"]["HostB"]["linuxbridge"] == "running"
    assert log == ["start HostB/linuxbridge"]
    assert not (tmp_path / "aio.sock").exists()
