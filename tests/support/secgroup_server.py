"""A tiny stand-in for the server's side of the Linux bridge agent's RPC, until the real
security group API serves it: report_state, the device API and
`security_group_info_for_devices` (namespace `secgroup`, 1.2) answered from in-memory data,
and the fanout casts of the contract (/work/notes/SECGROUPS.md) sent on request.

    with FakeAgentServer(transport) as server:
        server.details[tap] = {...}; server.groups.ports[port_id] = sg_port(...)
        server.cast_rule_updated(["sg1"])
"""

from __future__ import annotations

import threading
from typing import Any

import oslo_messaging

from neutrino.lib import constants
from support.secgroups import FakeSecurityGroupPlugin


class _Reports:
    target = oslo_messaging.Target(version="1.2")

    def report_state(self, context: Any, agent_state: dict, time: str | None = None) -> str:
        return constants.AGENT_NEW


class _Devices:
    target = oslo_messaging.Target(version="1.9")

    def __init__(self, server: FakeAgentServer) -> None:
        self._server = server

    def get_device_details(self, context: Any, device: str, host: str, **_: Any) -> dict:
        with self._server.lock:
            return dict(self._server.details.get(device, {"device": device}))

    def update_device_up(self, context: Any, device: str, host: str, **_: Any) -> None:
        with self._server.lock:
            self._server.up.add(device)

    def update_device_down(self, context: Any, device: str, host: str, **_: Any) -> None:
        with self._server.lock:
            self._server.up.discard(device)

    def get_ports_on_host(self, context: Any, host: str, **_: Any) -> list[dict]:
        with self._server.lock:
            return [dict(d) for d in self._server.details.values()]


class _SecurityGroups:
    target = oslo_messaging.Target(namespace=constants.RPC_NAMESPACE_SECGROUP, version="1.2")

    def __init__(self, server: FakeAgentServer) -> None:
        self._server = server

    def security_group_info_for_devices(self, context: Any, devices: list[str]) -> dict:
        with self._server.lock:
            return self._server.groups.security_group_info_for_devices(devices)


class FakeAgentServer:
    def __init__(self, transport: oslo_messaging.Transport) -> None:
        self.lock = threading.Lock()
        self.details: dict[str, dict[str, Any]] = {}  # tap -> get_device_details answer
        self.up: set[str] = set()
        self.groups = FakeSecurityGroupPlugin()
        self._transport = transport
        self._servers = [
            oslo_messaging.get_rpc_server(
                transport, oslo_messaging.Target(topic=topic, server="fake-server"),
                endpoints, access_policy=oslo_messaging.DefaultRPCAccessPolicy)
            for topic, endpoints in (
                (constants.TOPIC_REPORTS, [_Reports()]),
                (constants.TOPIC_PLUGIN, [_Devices(self), _SecurityGroups(self)]))]

    def __enter__(self) -> FakeAgentServer:
        for server in self._servers:
            server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self._servers:
            server.stop()
            server.wait()

    def _cast(self, topic: str, method: str, **kwargs: Any) -> None:
        client = oslo_messaging.get_rpc_client(
            self._transport, oslo_messaging.Target(topic=topic, fanout=True))
        client.prepare(version="1.4").cast({}, method, **kwargs)

    def cast_rule_updated(self, groups: list[str]) -> None:
        self._cast(constants.TOPIC_SECURITY_GROUP_UPDATE, "security_groups_rule_updated",
                   security_groups=groups)

    def cast_member_updated(self, groups: list[str]) -> None:
        self._cast(constants.TOPIC_SECURITY_GROUP_UPDATE, "security_groups_member_updated",
                   security_groups=groups)

    def cast_port_update(self, port: dict[str, Any]) -> None:
        self._cast(constants.TOPIC_PORT_UPDATE, "port_update", port=port)
