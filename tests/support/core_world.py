"""Core's services on a test database: a clock the test moves, agent reports, and a
`World` that builds what the agent-side tests need."""

from __future__ import annotations

import random
import secrets
import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from neutrino.conf.settings import CoreSettings, VlanRange
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.lib import constants as const

START = datetime(2026, 11, 25, 22, 0, 0)


class ManualClock:
    """Naive UTC time that only moves when the test says so (shareable across threads)."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


def settings(**overrides: Any) -> CoreSettings:
    base = CoreSettings(host="server-" + secrets.token_hex(3), agent_down_time=10,
                        allow_overlapping_ips=True, tenant_network_type="vlan",
                        vlan_ranges=(VlanRange("physnet1", 1000, 2999),))
    return replace(base, **overrides)


def dhcp_report(host: str, zone: str | None = "nova", start: bool = False,
                **configurations: Any) -> dict[str, Any]:
    conf = {"networks": 0, "subnets": 0, "ports": 0,
            "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq", "dhcp_lease_duration": 86400,
            "log_agent_heartbeats": False}
    conf.update(configurations)
    state = {"agent_type": const.AGENT_TYPE_DHCP, "binary": const.BINARY_DHCP,
             "topic": const.TOPIC_DHCP_AGENT, "host": host, "configurations": conf,
             "start_flag": start}
    if zone is not None:
        state["availability_zone"] = zone
    return state


def l2_report(host: str, start: bool = False) -> dict[str, Any]:
    return {"agent_type": const.AGENT_TYPE_LINUXBRIDGE, "binary": const.BINARY_LINUXBRIDGE,
            "topic": const.TOPIC_LINUXBRIDGE, "host": host, "start_flag": start,
            "configurations": {"interface_mappings": {"physnet1": "eth0"}, "devices": 0}}


class World:
    """Core's services on a test database, with a manual clock and a recording notifier."""

    def __init__(self, db: Any, **overrides: Any) -> None:
        self.db = db
        self.clock = ManualClock()
        self.notifier = RecordingNotifier()
        self.settings = settings(**overrides)
        self.core = build_services(db, self.settings, self.notifier, self.clock,
                                   rng=random.Random(0))
        self.admin = Context.admin()
        self._cidr = 0

    def dhcp_agent(self, host: str, **kw: Any) -> dict[str, Any]:
        self.core.agents.report_state(dhcp_report(host, **kw))
        return self.agent(const.AGENT_TYPE_DHCP, host)

    def l2_agent(self, host: str) -> dict[str, Any]:
        self.core.agents.report_state(l2_report(host))
        return self.agent(const.AGENT_TYPE_LINUXBRIDGE, host)

    def agent(self, agent_type: str, host: str) -> dict[str, Any]:
        found = self.core.agents.list(self.admin, {"agent_type": [agent_type], "host": [host]})
        assert len(found) == 1, found
        return found[0]

    def heartbeat(self, *hosts: str) -> None:
        for host in hosts:
            self.core.agents.report_state(dhcp_report(host))

    def network(self, dhcp: bool | None = True, **body: Any) -> dict[str, Any]:
        """A network, with one IPv4 subnet unless `dhcp` is None."""
        net = self.core.networks.create(self.admin, {"name": "net", "project_id": "proj",
                                                    **body})
        if dhcp is not None:
            self.subnet(net["id"], enable_dhcp=dhcp)
        return self.core.networks.get(self.admin, net["id"])

    def subnet(self, network_id: str, **body: Any) -> dict[str, Any]:
        self._cidr += 1
        return self.core.subnets.create(self.admin, {
            "network_id": network_id, "ip_version": 4, "project_id": "proj",
            "cidr": f"10.{self._cidr // 250}.{self._cidr % 250}.0/24", **body})

    def port(self, network_id: str, **body: Any) -> dict[str, Any]:
        return self.core.ports.create(self.admin, {"network_id": network_id,
                                                  "project_id": "proj", **body})

    def hosting(self, network_id: str) -> list[str]:
        return sorted(a["host"] for a in
                      self.core.dhcp_scheduling.agents_hosting_network(self.admin, network_id))

    def casts(self, method: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        return [c for c in self.notifier.casts if method is None or c[1] == method]

    def cast_hosts(self, method: str) -> list[str]:
        return sorted(h for h, _, _ in self.casts(method))

    def forget_casts(self) -> None:
        self.notifier.casts.clear()
