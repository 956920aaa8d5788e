"""Agents and the real `neutrino-server` over RabbitMQ: registration, liveness, deletion and
re-registration, and casts that reach only the agents hosting a network."""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import netns as tn
from support.rabbit import RabbitVhost
from support.rpc_fakes import RecordingAgent
from support.server import NeutrinoServer, executable, render_config

from neutrino.agent.report import StateReporter
from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import StateReportClient, serve_dhcp_agent
from neutrino.rpc.transport import get_transport

pytestmark = [pytest.mark.rabbit, pytest.mark.root]

REPORT_INTERVAL = 1
AGENT_DOWN_TIME = 3


@pytest.fixture
def rabbit() -> Iterator[RabbitVhost]:
    with RabbitVhost() as vhost:
        yield vhost


@pytest.fixture
def server(tmp_path: Path, rabbit: RabbitVhost) -> Iterator[NeutrinoServer]:
    with NeutrinoServer(tmp_path / "server", transport_url=rabbit.url,
                        auth_strategy="noauth", agent_down_time=AGENT_DOWN_TIME) as server:
        yield server


@pytest.fixture
def api(server: NeutrinoServer) -> Iterator[httpx.Client]:
    headers = {"X-Project-Id": "a" * 32, "X-Roles": "admin"}
    with httpx.Client(base_url=server.url + "/v2.0", headers=headers, timeout=30) as client:
        yield client


class AgentProcess:
    """A real `neutrino-dhcp-agent` for `host`, acting in a test namespace."""

    def __init__(self, workdir: Path, host: str, netns: str, transport_url: str) -> None:
        self.host = host
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf = workdir / "agent.conf"
        self.log = workdir / "agent.log"
        self.conf.write_text(render_config({
            "DEFAULT": {"host": host, "state_path": str(workdir / "state"),
                        "transport_url": transport_url, "host_netns": netns,
                        "netns_dir": str(workdir / "netns"), "debug": "true"},
            "AGENT": {"report_interval": REPORT_INTERVAL},
        }))
        (workdir / "netns").mkdir(exist_ok=True)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [executable("neutrino-dhcp-agent"), "--config-file", str(self.conf)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def stop(self) -> None:
        if self.process is None:
            return
        proc, self.process = self.process, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def resources() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as res:
        yield res


def agents_by_host(api: httpx.Client, agent_type: str) -> dict[str, dict[str, Any]]:
    response = api.get("/agents", params={"agent_type": agent_type})
    response.raise_for_status()
    return {a["host"]: a for a in response.json()["agents"]}


def test_dhcp_agents_register_die_and_come_back_as_new(tmp_path, rabbit, server, api,
                                                       resources) -> None:
    suffix = tn.unique("")
    hosts = [f"HostA-{suffix}", f"HostB-{suffix}"]
    agents = [AgentProcess(tmp_path / h, h, resources.namespace(), rabbit.url)
              for h in hosts]
    for agent in agents:
        resources.defer(agent.stop)
        agent.start()

    both = tn.wait_for(lambda: (lambda found: found if len(found) == 2 and all(
        a["alive"] for a in found.values()) else None)(
            agents_by_host(api, constants.AGENT_TYPE_DHCP)), timeout=60)
    assert set(both) == set(hosts)
    for agent in both.values():
        assert agent["binary"] == constants.BINARY_DHCP
        assert agent["topic"] == constants.TOPIC_DHCP_AGENT
        assert agent["admin_state_up"] is True
        assert "networks" in agent["configurations"]
    first_id = both[hosts[0]]["id"]

    agents[0].stop()
    tn.wait_for(lambda: not agents_by_host(api, constants.AGENT_TYPE_DHCP)[hosts[0]]["alive"],
                timeout=AGENT_DOWN_TIME * 10)
    assert agents_by_host(api, constants.AGENT_TYPE_DHCP)[hosts[1]]["alive"]

    assert api.delete(f"/agents/{first_id}").status_code == 204
    assert hosts[0] not in agents_by_host(api, constants.AGENT_TYPE_DHCP)

    agents[0].start()
    again = tn.wait_for(lambda: agents_by_host(api, constants.AGENT_TYPE_DHCP).get(hosts[0]),
                        timeout=60)
    assert again["id"] != first_id  # registered as a new agent
    tn.wait_for(lambda: agents_by_host(api, constants.AGENT_TYPE_DHCP)[hosts[0]]["alive"],
                timeout=30)


class InProcessDhcpAgent:
    """Registers as a DHCP agent and records the casts it receives."""

    def __init__(self, transport: Any, host: str) -> None:
        self.casts = RecordingAgent()
        self.listener = serve_dhcp_agent(transport, host, self.casts)
        self.reporter = StateReporter(
            StateReportClient(transport, host, timeout=REPORT_INTERVAL * 5),
            {"binary": constants.BINARY_DHCP, "topic": constants.TOPIC_DHCP_AGENT,
             "agent_type": constants.AGENT_TYPE_DHCP, "availability_zone": "nova"},
            lambda: {"networks": 0, "subnets": 0, "ports": 0}, REPORT_INTERVAL)
        self.reporter.start()

    def network_casts(self, network_id: str) -> list[str]:
        return [m for m, p in list(self.casts.casts)
                if network_id in (p.get("network_id"), p.get("network", {}).get("id"),
                                  p.get("subnet", {}).get("network_id"),
                                  p.get("port", {}).get("network_id"))]

    def stop(self) -> None:
        self.reporter.stop()
        self.listener.stop()


def test_casts_reach_only_the_agents_hosting_the_network(rabbit, server, api) -> None:
    transport = get_transport(RpcSettings(rabbit.url, response_timeout=30))
    suffix = tn.unique("")
    hosts = [f"HostA-{suffix}", f"HostB-{suffix}"]
    agents = {h: InProcessDhcpAgent(transport, h) for h in hosts}
    try:
        found = tn.wait_for(lambda: (lambda a: a if len(a) == 2 and all(
            x["alive"] for x in a.values()) else None)(
                agents_by_host(api, constants.AGENT_TYPE_DHCP)), timeout=30)
        network = api.post("/networks", json={"network": {"name": "n"}})
        assert network.status_code == 201, network.text
        net_id = network.json()["network"]["id"]
        subnet = api.post("/subnets", json={"subnet": {
            "network_id": net_id, "cidr": "10.9.0.0/24", "ip_version": 4}})
        assert subnet.status_code == 201, subnet.text
        hosting = tn.wait_for(lambda: api.get(f"/networks/{net_id}/dhcp-agents")
                              .json()["agents"], timeout=30)
        assert len(hosting) == 1  # dhcp_agents_per_network = 1
        chosen = hosting[0]["host"]
        other = next(h for h in hosts if h != chosen)
        tn.wait_for(lambda: constants.SUBNET_CREATE_END in
                    agents[chosen].network_casts(net_id), timeout=30)
        assert agents[other].network_casts(net_id) == []

        added = api.post(f"/agents/{found[other]['id']}/dhcp-networks",
                         json={"network_id": net_id})
        assert added.status_code == 201, added.text
        tn.wait_for(lambda: constants.NETWORK_CREATE_END in
                    agents[other].network_casts(net_id), timeout=30)

        port = api.post("/ports", json={"port": {"network_id": net_id}})
        assert port.status_code == 201, port.text
        for host in hosts:
            tn.wait_for(lambda h=host: constants.PORT_CREATE_END in
                        agents[h].network_casts(net_id), timeout=30)

        removed = api.delete(f"/agents/{found[chosen]['id']}/dhcp-networks/{net_id}")
        assert removed.status_code == 204
        tn.wait_for(lambda: constants.NETWORK_DELETE_END in
                    agents[chosen].network_casts(net_id), timeout=30)
        before = list(agents[chosen].network_casts(net_id))
        api.put(f"/ports/{port.json()['port']['id']}",
                json={"port": {"name": "renamed", "extra_dhcp_opts": [
                    {"opt_name": "mtu", "opt_value": "1400"}]}})
        tn.wait_for(lambda: constants.PORT_UPDATE_END in
                    agents[other].network_casts(net_id), timeout=30)
        assert agents[chosen].network_casts(net_id) == before  # no longer hosting
    finally:
        stoppers = [threading.Thread(target=a.stop) for a in agents.values()]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join()
        transport.cleanup()
