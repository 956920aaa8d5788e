"""neutrino-aio: the server and two hosts' agents in one process with no broker; the control
socket stops and starts one host's agent; a stopped DHCP agent's dnsmasq keeps serving."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import netns as tn
from support.server import executable, free_port, render_config

from neutrino.lib import constants
from neutrino.linux import dnsmasq

pytestmark = [pytest.mark.root]

AGENT_DOWN_TIME = 3


class Aio:
    def __init__(self, state: str, port: int, hosts: dict[str, str]) -> None:
        self.state = state
        self.hosts = hosts
        self.url = f"http://127.0.0.1:{port}/v2.0"
        self.conf = os.path.join(state, "aio.conf")
        self.log = os.path.join(state, "aio.log")
        Path(self.conf).write_text(render_config({
            "DEFAULT": {"state_path": state, "bind_host": "127.0.0.1", "bind_port": port,
                        "auth_strategy": "noauth", "agent_down_time": AGENT_DOWN_TIME,
                        "host": "controlnode", "debug": "true",
                        # Nothing listens there: the all-in-one mode must not need a broker.
                        "transport_url": "rabbit://guest:guest@127.0.0.1:9/"},
            "AGENT": {"report_interval": 1},
            "database": {"connection": f"sqlite:///{state}/neutrino.sqlite"},
            "vlans": {"tenant_network_type": "vlan",
                      "network_vlan_ranges": "physnet1:1000:2999"},
            "linux_bridge": {"physical_interface_mappings": "physnet1:eth0"},
        }))
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        argv = [executable("neutrino-aio"), "--config-file", self.conf]
        for name, path in self.hosts.items():
            argv += ["--host", f"{name}={path}"]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(60)
            sock.connect(os.path.join(self.state, "aio.sock"))
            sock.sendall((json.dumps(request) + "\n").encode())
            return json.loads(sock.makefile().readline())

    def pid_file(self, host: str, network_id: str) -> str:
        return os.path.join(self.state, host, "dhcp", network_id, "pid")

    def kill_dnsmasqs(self) -> None:
        for host in self.hosts:
            dhcp_dir = os.path.join(self.state, host, "dhcp")
            for net in os.listdir(dhcp_dir) if os.path.isdir(dhcp_dir) else []:
                tn.kill_pid_file(self.pid_file(host, net), "dnsmasq")


@pytest.fixture
def aio() -> Iterator[Aio]:
    with tn.NetnsResources() as res:
        state = res.directory("nt-aio-")
        hosts = {}
        for name in ("HostA", "HostB"):
            netns = res.namespace()
            res.veth("eth0", tn.unique("phy"), ns_a=netns, ns_b=res.namespace())
            hosts[name] = netns
        aio = Aio(state, free_port(), hosts)
        res.defer(aio.kill_dnsmasqs)
        res.defer(aio.stop)
        aio.start()
        try:
            yield aio
        finally:
            aio.stop()
            print(Path(aio.log).read_text(errors="replace")[-5000:])


def test_all_in_one_runs_the_agents_and_obeys_the_control_socket(aio: Aio) -> None:
    api = httpx.Client(base_url=aio.url, headers={"X-Project-Id": "c" * 32,
                                                  "X-Roles": "admin"}, timeout=30)

    def agents() -> dict[tuple[str, str], dict]:
        try:
            found = api.get("/agents").json()["agents"]
        except httpx.TransportError:
            return {}
        return {(a["host"], a["agent_type"]): a for a in found}

    expected = {(h, t) for h in aio.hosts
                for t in (constants.AGENT_TYPE_DHCP, constants.AGENT_TYPE_LINUXBRIDGE)}
    tn.wait_for(lambda: set(agents()) == expected and all(
        a["alive"] for a in agents().values()), timeout=90)
    assert aio.process is not None and aio.process.poll() is None

    status = aio.control({"op": "status"})
    assert status["ok"]
    assert status["hosts"] == {h: {"dhcp": "running", "linuxbridge": "running"}
                               for h in aio.hosts}

    # A network with DHCP: one host's agent serves it with dnsmasq.
    net = api.post("/networks", json={"network": {"name": "aio"}}).json()["network"]
    sub = api.post("/subnets", json={"subnet": {"network_id": net["id"],
                                                "cidr": "10.8.0.0/24", "ip_version": 4}})
    assert sub.status_code == 201, sub.text
    hosting = tn.wait_for(lambda: api.get(f"/networks/{net['id']}/dhcp-agents")
                          .json()["agents"], timeout=30)
    serving = hosting[0]["host"]
    pid = tn.wait_for(lambda: (dnsmasq.find(aio.pid_file(serving, net["id"])) or [None])[0],
                      timeout=60)

    stopped = aio.control({"op": "stop", "host": serving, "agent": "dhcp"})
    assert stopped["ok"] and stopped["changed"]
    assert stopped["hosts"][serving] == {"dhcp": "stopped", "linuxbridge": "running"}
    tn.wait_for(lambda: not agents()[(serving, constants.AGENT_TYPE_DHCP)]["alive"],
                timeout=AGENT_DOWN_TIME * 10)
    assert tn.pid_alive(pid)  # the stopped agent's dnsmasq keeps serving
    assert agents()[(serving, constants.AGENT_TYPE_LINUXBRIDGE)]["alive"]

    started = aio.control({"op": "start", "host": serving, "agent": "dhcp"})
    assert started["ok"] and started["changed"]
    tn.wait_for(lambda: agents()[(serving, constants.AGENT_TYPE_DHCP)]["alive"], timeout=30)
    # The restarted agent adopts its dnsmasq rather than starting another.
    assert (dnsmasq.find(aio.pid_file(serving, net["id"])) or [None])[0] == pid

    bad = aio.control({"op": "stop", "host": "HostZ", "agent": "dhcp"})
    assert bad["ok"] is False and "HostZ" in bad["error"]
    api.close()
