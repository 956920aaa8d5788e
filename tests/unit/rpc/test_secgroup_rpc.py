"""The Linux bridge agent's side of the security group contract on the in-process
transport: the `secgroup` call and the fanout casts, against the stand-in server."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import oslo_messaging
import pytest
from support.rpc_fakes import wait_until
from support.secgroup_server import FakeAgentServer
from support.secgroups import sg_port, sg_rule

from neutrino.conf.settings import RpcSettings
from neutrino.rpc.agent.clients import SecurityGroupPluginClient, serve_linuxbridge_agent
from neutrino.rpc.transport import get_transport


@pytest.fixture
def transport() -> Iterator[oslo_messaging.Transport]:
    settings = RpcSettings("fake://", control_exchange=f"nt-{secrets.token_hex(4)}",
                           response_timeout=10)
    yield get_transport(settings)


class Recorder:
    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []

    def security_groups_rule_updated(self, security_groups: list[str]) -> None:
        self.heard.append(("rules", security_groups))

    def security_groups_member_updated(self, security_groups: list[str]) -> None:
        self.heard.append(("members", security_groups))

    def port_update(self, port: dict[str, Any]) -> None:
        self.heard.append(("port", port["id"]))


def test_the_info_call_and_the_casts(transport: oslo_messaging.Transport) -> None:
    with FakeAgentServer(transport) as server:
        server.groups.ports["p1"] = sg_port("p1", ["10.0.0.5"], ["sg1"])
        server.groups.rules["sg1"] = [sg_rule("sg1", protocol="tcp", low=22, high=22)]
        client = SecurityGroupPluginClient(transport, "HostA")
        info = client.security_group_info_for_devices(["p1", "unknown"])
        assert list(info["devices"]) == ["p1"]
        assert info["security_groups"]["sg1"][0]["port_range_min"] == 22

        agents = [Recorder(), Recorder()]
        listeners = [serve_linuxbridge_agent(transport, host, agent)
                     for host, agent in zip(("HostA", "HostB"), agents, strict=True)]
        try:
            server.cast_rule_updated(["sg1"])
            server.cast_member_updated(["sg2"])
            server.cast_port_update({"id": "p1", "mac_address": "fa:16:3e:00:00:01"})
            for agent in agents:  # fanout: every agent hears every cast
                wait_until(lambda a=agent: len(a.heard) == 3)  # type: ignore[misc]
                assert sorted(agent.heard) == [("members", ["sg2"]), ("port", "p1"),
                                               ("rules", ["sg1"])]
        finally:
            for listener in listeners:
                listener.stop()
