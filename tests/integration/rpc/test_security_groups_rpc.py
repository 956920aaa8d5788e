"""Security groups between the server and the Linux bridge agents on the real RabbitMQ:
the fanout casts every agent hears after a change, and security_group_info_for_devices
(`q-plugin`, namespace `secgroup`, 1.2) answered by core on a real database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import oslo_messaging
import pytest
from support.core_world import ManualClock, settings
from support.rpc_fakes import wait_until

from neutrino.conf.settings import DatabaseSettings, RpcSettings
from neutrino.core.context import Context
from neutrino.core.services import Services, build_services
from neutrino.db.engine import Database
from neutrino.lib import constants as c
from neutrino.lib.naming import tap_name
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.server.notifier import RpcDhcpNotifier
from neutrino.rpc.transport import get_transport

pytestmark = pytest.mark.rabbit
ADMIN = Context.admin()


class AgentSide:
    """What a Linux bridge agent's cast endpoint hears (Neutron's method names)."""

    def __init__(self) -> None:
        self.heard: list[tuple[str, Any]] = []
        self._lock = threading.Lock()

    def _note(self, method: str, value: Any) -> None:
        with self._lock:
            self.heard.append((method, value))

    def security_groups_rule_updated(self, context: Any, security_groups: list[str]) -> None:
        self._note(c.SECURITY_GROUPS_RULE_UPDATED, security_groups)

    def security_groups_member_updated(self, context: Any, security_groups: list[str]
                                       ) -> None:
        self._note(c.SECURITY_GROUPS_MEMBER_UPDATED, security_groups)

    def port_update(self, context: Any, port: dict[str, Any], **_: Any) -> None:
        self._note(c.PORT_UPDATE, port["id"])


@pytest.fixture
def transport(rabbit) -> Iterator[oslo_messaging.Transport]:
    transport = get_transport(RpcSettings(rabbit.url, response_timeout=20))
    yield transport
    transport.cleanup()


@pytest.fixture
def core(transport, tmp_path: Path) -> Iterator[Services]:
    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'sg.sqlite'}"))
    try:
        db.upgrade()
        yield build_services(db, settings(), RpcDhcpNotifier(transport), ManualClock())
    finally:
        db.dispose()


def listen(transport: oslo_messaging.Transport, host: str, agent: AgentSide
           ) -> list[oslo_messaging.MessageHandlingServer]:
    servers = [oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=topic, server=host), [agent],
        access_policy=oslo_messaging.DefaultRPCAccessPolicy)
        for topic in (c.TOPIC_SECURITY_GROUP_UPDATE, c.TOPIC_PORT_UPDATE)]
    for server in servers:
        server.start()
    return servers


def test_every_agent_hears_the_changes_and_fetches_what_to_enforce(transport, core) -> None:
    hosts = {"HostA": AgentSide(), "HostB": AgentSide()}
    listeners = [s for host, agent in hosts.items() for s in listen(transport, host, agent)]
    rpc = start_rpc_servers(transport, core, host="server-1")
    try:
        net = core.networks.create(ADMIN, {"name": "n", "project_id": "proj"})
        core.subnets.create(ADMIN, {"network_id": net["id"], "ip_version": 4,
                                    "cidr": "10.5.0.0/24", "project_id": "proj"})
        group = core.security_groups.create(ADMIN, {"name": "web", "project_id": "proj"})
        port = core.ports.create(ADMIN, {"network_id": net["id"], "project_id": "proj",
                                         "security_groups": [group["id"]]})
        rule = core.security_group_rules.create(ADMIN, {
            "security_group_id": group["id"], "direction": "ingress", "protocol": "tcp",
            "port_range_min": 80, "port_range_max": 80, "ethertype": "IPv4",
            "remote_ip_prefix": "192.0.2.0/24", "project_id": "proj"})
        core.ports.update(ADMIN, port["id"], {"allowed_address_pairs": [
            {"ip_address": "10.5.0.200"}]})
        expected = [(c.SECURITY_GROUPS_MEMBER_UPDATED, [group["id"]]),
                    (c.SECURITY_GROUPS_RULE_UPDATED, [group["id"]]),
                    (c.SECURITY_GROUPS_MEMBER_UPDATED, [group["id"]]),
                    (c.PORT_UPDATE, port["id"])]
        # Fanout: each host hears every change (the two topics' order between each other
        # is the broker's).
        wait_until(lambda: all(len(a.heard) >= len(expected) for a in hosts.values()), 20)
        for agent in hosts.values():
            assert sorted(agent.heard, key=repr) == sorted(expected, key=repr)

        client = oslo_messaging.get_rpc_client(transport, oslo_messaging.Target(
            topic=c.TOPIC_PLUGIN, namespace=c.RPC_NAMESPACE_SECGROUP, version="1.2"))
        info = client.prepare(timeout=20).call(
            {}, "security_group_info_for_devices",
            devices=[tap_name(port["id"]), "tap00000000-00"])
        with pytest.raises(oslo_messaging.RemoteError) as too_new:
            client.prepare(version="1.3", timeout=20).call(
                {}, "security_group_info_for_devices", devices=[])
    finally:
        rpc.stop()
        for listener in listeners:
            listener.stop()
            listener.wait()
    assert list(info["devices"]) == [port["id"]]
    device = info["devices"][port["id"]]
    assert device["device"] == tap_name(port["id"])
    assert device["security_groups"] == [group["id"]]
    assert device["allowed_address_pairs"] == [{"ip_address": "10.5.0.200",
                                                "mac_address": port["mac_address"]}]
    rules = {r["id"]: r for r in info["security_groups"][group["id"]]}
    assert rules[rule["id"]]["protocol"] == "tcp"
    assert rules[rule["id"]]["remote_ip_prefix"] == "192.0.2.0/24"
    assert info["sg_stateful"] == {group["id"]: True}
    assert too_new.value.exc_type == "UnsupportedVersion"
