"""Fakes for RPC tests: a core that records what it was asked, a DHCP agent that records casts."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from neutrino.lib import constants, exceptions


class RecordingCore:
    """Answers like core's agent, DHCP plugin, L2 plugin and security group RPC services
    (it stands in for all of them) and records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    @property
    def agents(self) -> RecordingCore:
        return self

    @property
    def dhcp_plugin(self) -> RecordingCore:
        return self

    @property
    def l2_plugin(self) -> RecordingCore:
        return self

    @property
    def security_group_rpc(self) -> RecordingCore:
        return self

    def info_for_devices(self, devices: list[str]) -> dict:
        self._record("info_for_devices", devices)
        return {"devices": {}, "security_groups": {}, "sg_member_ips": {}, "sg_stateful": {}}

    def _record(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def report_state(self, agent_state: dict, time: str | None = None) -> str:
        # As core does: both shapes accepted, a report without an agent_type is InvalidInput.
        inner = agent_state.get("agent_state")
        state = inner if isinstance(inner, dict) else agent_state
        self._record("report_state", state, time)
        if not state.get("agent_type"):
            raise exceptions.InvalidInput(error_message="agent state needs an agent_type")
        return constants.AGENT_NEW

    def get_active_networks_info(self, host: str) -> list[dict]:
        self._record("get_active_networks_info", host)
        return [{"id": "n1", "subnets": [], "ports": []}]

    def get_network_info(self, network_id: str, host: str) -> dict | None:
        self._record("get_network_info", network_id, host)
        if network_id == "missing":
            return None
        if network_id == "boom":
            raise exceptions.NetworkNotFound(net_id=network_id)
        return {"id": network_id}

    def create_dhcp_port(self, host: str, port: dict) -> dict:
        self._record("create_dhcp_port", host, port)
        return dict(port, id="p1")

    def update_dhcp_port(self, host: str, port_id: str, port: dict) -> dict:
        self._record("update_dhcp_port", host, port_id, port)
        return dict(port, id=port_id)

    def release_dhcp_port(self, host: str, network_id: str, device_id: str) -> None:
        self._record("release_dhcp_port", host, network_id, device_id)

    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None:
        self._record("dhcp_ready_on_ports", port_ids)

    def get_network_revisions(self, host: str) -> dict[str, int]:
        self._record("get_network_revisions", host)
        return {"n1": 7}

    def get_ports(self, filters: object) -> list[dict]:
        self._record("get_ports", filters)
        return [{"id": "p1"}]

    def get_networks(self, filters: object = None, fields: object = None) -> list[dict]:
        self._record("get_networks", filters, fields)
        return [{"id": "n1"}]

    def get_dhcp_port(self, port_id: str) -> dict:
        self._record("get_dhcp_port", port_id)
        if port_id == "gone":
            raise exceptions.PortNotFound(port_id=port_id)
        return {"id": port_id}

    def get_device_details(self, host: str, device: str) -> dict:
        self._record("get_device_details", host, device)
        return {"device": device}

    def update_device_up(self, host: str, device: str) -> None:
        self._record("update_device_up", host, device)

    def update_device_down(self, host: str, device: str) -> None:
        self._record("update_device_down", host, device)

    def get_ports_on_host(self, host: str) -> list[dict]:
        self._record("get_ports_on_host", host)
        return []


class RecordingAgent:
    def __init__(self) -> None:
        self.casts: list[tuple[str, dict]] = []
        self.received = threading.Event()

    def __getattr__(self, name: str) -> Any:
        if name not in constants.DHCP_AGENT_CASTS:
            raise AttributeError(name)

        def handle(payload: dict) -> None:
            self.casts.append((name, payload))
            self.received.set()
        return handle


def wait_until(predicate: Callable[[], object], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
