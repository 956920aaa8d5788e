"""neutrino-server on real RabbitMQ: an agent's RPC report shows in the API, and an API
action reaches the agent as a cast — the server's RPC servers and notifier are wired."""

from __future__ import annotations

import os
import queue
import signal
import time
from pathlib import Path

import pytest
import requests
from support.rabbit import RabbitVhost
from support.server import NeutrinoServer

from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import StateReportClient, serve_dhcp_agent
from neutrino.rpc.transport import get_transport

pytestmark = pytest.mark.rabbit


class Casts:
    def __init__(self) -> None:
        self.received: queue.Queue = queue.Queue()

    def __getattr__(self, method: str):
        if method not in constants.DHCP_AGENT_CASTS:
            raise AttributeError(method)
        return lambda payload: self.received.put((method, payload))


def admin_token(url: str) -> str:
    response = requests.post(f"{url}/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": "adminpassword"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}, timeout=10)
    assert response.status_code == 201
    return response.headers["X-Subject-Token"]


def test_rpc_report_and_cast_through_the_server(tmp_path):
    with RabbitVhost() as vhost, NeutrinoServer(tmp_path, transport_url=vhost.url) as server:
        transport = get_transport(RpcSettings(vhost.url))
        listener = None
        try:
            casts = Casts()
            listener = serve_dhcp_agent(transport, "HostA", casts)
            reporter = StateReportClient(transport, "HostA", timeout=30)
            status = reporter.report_state({
                "binary": constants.BINARY_DHCP, "topic": constants.TOPIC_DHCP_AGENT,
                "agent_type": constants.AGENT_TYPE_DHCP, "availability_zone": "nova",
                "configurations": {"networks": 0}}, start_flag=True)
            assert status == constants.AGENT_NEW

            headers = {"X-Auth-Token": admin_token(server.url)}
            agents = requests.get(f"{server.url}/v2.0/agents", headers=headers,
                                  timeout=10).json()["agents"]
            assert [(a["host"], a["alive"]) for a in agents] == [("HostA", True)]

            net = requests.post(f"{server.url}/v2.0/networks", headers=headers,
                                json={"network": {"name": "net2"}}, timeout=10).json()
            net_id = net["network"]["id"]
            response = requests.post(
                f"{server.url}/v2.0/agents/{agents[0]['id']}/dhcp-networks",
                headers=headers, json={"network_id": net_id}, timeout=10)
            assert response.status_code == 201
            deadline = time.monotonic() + 30
            seen = []
            while time.monotonic() < deadline:
                try:
                    seen.append(casts.received.get(timeout=1))
                except queue.Empty:
                    continue
                if ("network_create_end", {"network": {"id": net_id}}) in seen:
                    break
            assert ("network_create_end", {"network": {"id": net_id}}) in seen, seen
        finally:
            if listener is not None:
                listener.stop()
            transport.cleanup()


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as handle:
        return [int(p) for p in handle.read().split()]


def _compiled_http(pid: int) -> set[str]:
    """Which of uvloop and httptools' compiled parser process `pid` has loaded."""
    maps = Path(f"/proc/{pid}/maps").read_text()
    return {name for name, library in (("uvloop", "/uvloop/loop."),
                                       ("httptools", "/httptools/parser/parser."))
            if library in maps}


def test_api_workers_share_the_port(tmp_path):
    with RabbitVhost() as vhost, NeutrinoServer(
            tmp_path, transport_url=vhost.url,
            options={"DEFAULT": {"api_workers": 3}}) as server:
        parent = server.process.pid
        deadline = time.monotonic() + 30
        while len(_children(parent)) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(parent)
        assert len(workers) == 3  # the parent serves RPC, not the API
        # Tokens from any process validate in every other; writes are seen by all.
        for i in range(12):
            headers = {"X-Auth-Token": admin_token(server.url)}
            response = requests.post(f"{server.url}/v2.0/networks", headers=headers,
                                     json={"network": {"name": f"n{i}"}}, timeout=10)
            assert response.status_code == 201, response.text
        names = {n["name"] for n in requests.get(
            f"{server.url}/v2.0/networks", headers=headers, timeout=10).json()["networks"]}
        assert names == {f"n{i}" for i in range(12)}
        # Each worker serves on uvloop with httptools (loaded by the worker: the parent,
        # which forked them and serves no API, has neither).
        assert not _compiled_http(parent)
        assert all(_compiled_http(pid) == {"uvloop", "httptools"} for pid in workers)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        for pid in workers:
            assert not os.path.exists(f"/proc/{pid}") or \
                Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def test_api_workers_die_with_a_killed_server(tmp_path):
    """kill -9 of the server (a supervisor's, an operator's, the lab's): its API workers
    must not live on as orphans holding the port."""
    with RabbitVhost() as vhost, NeutrinoServer(
            tmp_path, transport_url=vhost.url,
            options={"DEFAULT": {"api_workers": 2}}) as server:
        parent = server.process.pid
        deadline = time.monotonic() + 30
        while len(_children(parent)) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        workers = _children(parent)
        assert len(workers) == 2
        server.process.kill()
        server.process.wait(timeout=30)

        def gone(pid: int) -> bool:
            try:
                return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
            except OSError:
                return True
        deadline = time.monotonic() + 30
        while not all(gone(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        orphans = [pid for pid in workers if not gone(pid)]
        for pid in orphans:  # nothing left behind, pass or fail
            os.kill(pid, signal.SIGKILL)
        assert orphans == []


def test_api_workers_ignored_on_the_in_process_transport(tmp_path):
    with NeutrinoServer(tmp_path, options={"DEFAULT": {"api_workers": 2}}) as server:
        assert _children(server.process.pid) == []
        assert requests.get(f"{server.url}/", timeout=10).status_code == 200
        assert "api_workers = 2 ignored" in server.log_path.read_text()
