"""`/metrics` and `/healthcheck` of a real neutrino-server: the figures move as agents report
and die and networks are scheduled; the health check turns 503 when the database goes."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable

import pytest
import requests
from sqlalchemy import create_engine, text
from support.prometheus import Samples, parse, total, value
from support.rabbit import RabbitVhost
from support.server import NeutrinoServer

from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import DhcpPluginClient, StateReportClient
from neutrino.rpc.transport import get_transport

DHCP = constants.AGENT_TYPE_DHCP


def scrape(url: str, headers: dict[str, str] | None = None) -> Samples:
    response = requests.get(f"{url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return parse(response.text)


def wait_for(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def admin_headers(url: str) -> dict[str, str]:
    response = requests.post(f"{url}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "adminpassword"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}, timeout=10)
    assert response.status_code == 201
    return {"X-Auth-Token": response.headers["X-Subject-Token"]}


class Heartbeat:
    """A DHCP agent's state reports over RabbitMQ, every second until `stop()`."""

    def __init__(self, transport, host: str) -> None:
        self.client = StateReportClient(transport, host, timeout=30)
        self.host = host
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.report()

    def report(self) -> str:
        return self.client.report_state({
            "binary": constants.BINARY_DHCP, "topic": constants.TOPIC_DHCP_AGENT,
            "agent_type": DHCP, "availability_zone": "nova",
            "configurations": {"networks": 0}}, start_flag=True)

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.report()
            except Exception:  # noqa: BLE001 - the test sees a dead agent instead
                pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=60)


@pytest.mark.rabbit
def test_metrics_follow_agents_and_scheduling(tmp_path):
    # Two API workers: whichever answers a scrape, the counters are the whole server's.
    options = {"DEFAULT": {"dhcp_agents_per_network": 2, "api_workers": 2}}
    with RabbitVhost() as vhost, NeutrinoServer(tmp_path, transport_url=vhost.url,
                                                agent_down_time=3, options=options) as server:
        transport = get_transport(RpcSettings(vhost.url))
        beats: list[Heartbeat] = []
        try:
            before = scrape(server.url)
            assert value(before, "neutrino_cluster_database_up") == 1
            assert total(before, "neutrino_agents") == 0

            beats = [Heartbeat(transport, "HostA").start(), Heartbeat(transport, "HostB")]
            beats[1].start()
            seen = scrape(server.url)
            assert value(seen, "neutrino_agents", agent_type=DHCP, alive="true",
                         admin_state_up="true") == 2
            assert value(seen, "neutrino_agent_alive", agent_type=DHCP, host="HostB") == 1

            headers = admin_headers(server.url)
            net = requests.post(f"{server.url}/v2.0/networks", headers=headers,
                                json={"network": {"name": "net1"}}, timeout=30)
            assert net.status_code == 201
            subnet = requests.post(f"{server.url}/v2.0/subnets", headers=headers, json={
                "subnet": {"network_id": net.json()["network"]["id"], "ip_version": 4,
                           "cidr": "10.9.0.0/24"}}, timeout=30)
            assert subnet.status_code == 201
            scheduled = scrape(server.url)
            assert value(scheduled, "neutrino_dhcp_agent_networks", host="HostA") == 1
            assert value(scheduled, "neutrino_dhcp_agent_networks", host="HostB") == 1
            assert value(scheduled, "neutrino_dhcp_networks") == 1
            assert value(scheduled, "neutrino_dhcp_networks_below_wanted") == 0
            assert total(scheduled, "neutrino_dhcp_scheduling_decisions_total",
                         trigger="network") - total(
                before, "neutrino_dhcp_scheduling_decisions_total", trigger="network") == 2
            # network_create_end to both agents' hosts, after the commit (and the reply:
            # the API's casts go out on a thread of their own).
            wait_for(lambda: total(scrape(server.url), "neutrino_rpc_casts_total",
                                   method="network_create_end", result="sent") >= 2,
                     "network_create_end to both agents")
            assert total(scheduled, "neutrino_api_requests_total", method="POST",
                         route="/v2.0/subnets", status="201") == 1
            assert total(scheduled, "neutrino_api_request_duration_seconds_count",
                         method="POST", route="/v2.0/networks") == 1

            beats[1].stop()  # HostB dies; HostA keeps reporting
            wait_for(lambda: value(scrape(server.url), "neutrino_agent_alive",
                                   agent_type=DHCP, host="HostB") == 0, "HostB to be dead")
            dead = scrape(server.url)
            assert value(dead, "neutrino_agent_alive", agent_type=DHCP, host="HostA") == 1
            assert value(dead, "neutrino_agents", agent_type=DHCP, alive="false",
                         admin_state_up="true") == 1
            # Nowhere to move it (HostA has it already): one live agent of the two wanted.
            assert value(dead, "neutrino_dhcp_networks_below_wanted") == 1
            assert value(dead, "neutrino_dhcp_networks_without_live_agent") == 0
            age = value(dead, "neutrino_agent_heartbeat_age_seconds", agent_type=DHCP,
                        host="HostB")
            assert age is not None and age >= 3
        finally:
            for beat in beats:
                beat.stop()
            transport.cleanup()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


@pytest.mark.rabbit
def test_every_scrape_of_a_server_with_workers_shows_its_main_process_counters(tmp_path):
    """The main process (RPC endpoints, HA monitor) serves no API: what it decides reaches
    the scrapes through the files the server's processes share."""
    with RabbitVhost() as vhost, NeutrinoServer(
            tmp_path, transport_url=vhost.url,
            options={"DEFAULT": {"api_workers": 2}}) as server:
        wait_for(lambda: len(_children(server.process.pid)) == 2, "two API workers")
        shared = server.state_path / "metrics" / f"{socket.gethostname()}-{server.process.pid}"
        assert shared.is_dir()
        transport = get_transport(RpcSettings(vhost.url))
        try:
            headers = admin_headers(server.url)
            net = requests.post(f"{server.url}/v2.0/networks", headers=headers,
                                json={"network": {"name": "net1"}}, timeout=30)
            assert net.status_code == 201
            net_id = net.json()["network"]["id"]
            subnet = requests.post(f"{server.url}/v2.0/subnets", headers=headers, json={
                "subnet": {"network_id": net_id, "ip_version": 4, "cidr": "10.9.0.0/24"}},
                timeout=30)
            assert subnet.status_code == 201
            # No agent yet: nothing scheduled by the API's worker.
            assert total(scrape(server.url), "neutrino_dhcp_scheduling_decisions_total") == 0

            # An agent starts: its first sync, answered by the main process, schedules it.
            Heartbeat(transport, "HostA")
            infos = DhcpPluginClient(transport, "HostA", timeout=30).get_active_networks_info()
            assert [n["id"] for n in infos] == [net_id]
            label = f"{socket.gethostname()}:{server.process.pid}"
            for i in range(8):  # each on a new connection, so the workers take turns
                seen = scrape(server.url)
                assert value(seen, "neutrino_dhcp_scheduling_decisions_total",
                             process=label, trigger="agent_start") == 1
                assert total(seen, "neutrino_dhcp_scheduling_decisions_total",
                             trigger="network") == 0
                # The API's counters too are summed over the workers: every scrape before
                # this one is counted, whichever worker answered it.
                assert value(seen, "neutrino_api_requests_total", process=label,
                             method="GET", route="/metrics", status="200") == i + 1
                assert value(seen, "neutrino_api_requests_total", process=label,
                             method="POST", route="/v2.0/subnets", status="201") == 1
            # Three processes' pools (SQLAlchemy's default size 5 for SQLite files).
            assert value(seen, "neutrino_db_pool_size", process=label) == 15
            # A worker dies: its pool leaves the gauges; what it counted stays in the sums,
            # which never go backwards.
            killed = _children(server.process.pid)[0]
            os.kill(killed, signal.SIGKILL)
            wait_for(lambda: value(scrape(server.url), "neutrino_db_pool_size",
                                   process=label) == 10, "the dead worker's pool to go")
            assert f"API worker {killed} exited (code -9" in server.log_path.read_text()
            after = scrape(server.url)
            assert value(after, "neutrino_api_requests_total", process=label,
                         method="GET", route="/metrics", status="200") >= 10
            assert value(after, "neutrino_dhcp_scheduling_decisions_total",
                         process=label, trigger="agent_start") == 1
        finally:
            transport.cleanup()
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        assert not shared.exists()


def test_metrics_can_require_an_admin(tmp_path):
    with NeutrinoServer(tmp_path, options={"DEFAULT": {"metrics_require_admin": True}}
                        ) as server:
        assert requests.get(f"{server.url}/metrics", timeout=30).status_code == 401
        assert value(scrape(server.url, admin_headers(server.url)),
                     "neutrino_cluster_database_up") == 1
        assert requests.get(f"{server.url}/healthcheck", timeout=30).status_code == 200


POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def test_healthcheck_is_503_once_the_database_is_gone(tmp_path):
    name = f"nt_health_{int(time.time() * 1000) % 10**9}"
    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        with NeutrinoServer(tmp_path, database_url=f"{POSTGRES}/{name}") as server:
            healthy = requests.get(f"{server.url}/healthcheck", timeout=30)
            assert (healthy.status_code, healthy.text) == (200, "OK")
            detail = requests.get(f"{server.url}/healthcheck?detail=1", timeout=30)
            assert detail.status_code == 401  # the detailed view is for admins
            headers = admin_headers(server.url)

            with admin.connect() as conn:  # FORCE: the server's connections go too
                conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))

            down = requests.get(f"{server.url}/healthcheck", timeout=30)
            assert down.status_code == 503
            assert down.text == "DOWN: database unreachable"
            detail = requests.get(f"{server.url}/healthcheck?detail=1", headers=headers,
                                  timeout=30)
            assert detail.status_code == 503
            checks = detail.json()["checks"]
            assert checks["database"]["ok"] is False
            assert checks["rabbitmq"]["ok"] is True  # the in-process transport
            # The scrape still answers, and says the cluster could not be read.
            assert value(scrape(server.url), "neutrino_cluster_database_up") == 0
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()
