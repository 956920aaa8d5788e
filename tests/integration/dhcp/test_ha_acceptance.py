"""The issue's acceptance: HA DHCP with the real server, RabbitMQ and two agent processes.

HostA and HostB are test network namespaces; each runs a real `neutrino-dhcp-agent` (in the
root namespace, so it reaches RabbitMQ on 127.0.0.1) acting in its host through `host_netns`
and `netns_dir`. The two hosts' `brq` bridges for the network are cabled together (what the
Linux bridge agents' physnet1 uplinks do in the lab), so both dnsmasq answer one L2 segment.
A "VM" namespace on HostA whose MAC is a port's runs udhcpc.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from support import netns as tn
from support.rabbit import RabbitVhost
from support.server import NeutrinoServer, executable, render_config

from neutrino.lib import naming
from neutrino.linux import dnsmasq

pytestmark = [pytest.mark.root, pytest.mark.rabbit]

WALKTHROUGH_DHCP_INI = Path(__file__).resolve().parents[3] / "etc" / "walkthrough" / \
    "dhcp_agent.ini"


@dataclass
class Host:
    name: str
    netns: str
    state: str
    log: str
    conf: str
    process: subprocess.Popen | None = None

    def pid_file(self, network_id: str) -> str:
        return os.path.join(self.state, "dhcp", network_id, "pid")

    def dnsmasq_pid(self, network_id: str) -> int | None:
        found = dnsmasq.find(self.pid_file(network_id))
        return found[0] if found else None


@dataclass
class Cluster:
    res: tn.NetnsResources
    api: httpx.Client
    hosts: dict[str, Host] = field(default_factory=dict)

    def start(self, host: Host) -> None:
        with open(host.log, "ab") as log:
            host.process = subprocess.Popen(
                [executable("neutrino-dhcp-agent"), "--config-file", host.conf,
                 "--config-file", str(WALKTHROUGH_DHCP_INI)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def kill(self, host: Host, network_id: str) -> None:
        """kill -9 the agent and its dnsmasq, as an operator pulling the plug."""
        if host.process is not None:
            host.process.kill()
            host.process.wait(30)
            host.process = None
        pid = host.dnsmasq_pid(network_id)
        if pid:
            os.kill(pid, signal.SIGKILL)
            tn.wait_for(lambda: not tn.pid_alive(pid))

    def post(self, path: str, body: dict) -> dict:
        r = self.api.post(path, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def get(self, path: str) -> dict:
        r = self.api.get(path)
        assert r.status_code == 200, r.text
        return r.json()

    def delete(self, path: str) -> None:
        r = self.api.delete(path)
        assert r.status_code == 204, r.text

    def logs(self) -> str:
        out = []
        for host in self.hosts.values():
            try:
                out.append(f"--- {host.name} ---\n" + Path(host.log).read_text()[-4000:])
            except OSError:
                pass
        return "\n".join(out)


def _stop_agent(host: Host) -> None:
    if host.process is not None and host.process.poll() is None:
        host.process.kill()
        host.process.wait(30)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with tn.NetnsResources() as res, RabbitVhost() as vhost, NeutrinoServer(
            tmp_path / "server", transport_url=vhost.url, auth_strategy="noauth",
            agent_down_time=10,
            options={"DEFAULT": {"dhcp_agents_per_network": 2}}) as server:
        api = httpx.Client(base_url=server.url + "/v2.0", timeout=30, headers={
            "X-Project-Id": "admin", "X-User-Id": "admin", "X-Roles": "admin"})
        res.defer(api.close)
        c = Cluster(res, api)
        for name in ("HostA", "HostB"):
            netns_path = res.namespace(f"nt{name[-1].lower()}-")
            state = res.directory(f"nt{name}-")
            os.chmod(state, 0o755)  # dnsmasq reads its files after dropping root
            conf = os.path.join(state, "neutron.conf")
            Path(conf).write_text(render_config({
                "DEFAULT": {"host": name, "transport_url": vhost.url, "state_path": state,
                            "host_netns": netns_path,
                            "netns_dir": os.path.join(state, "netns"),
                            "resync_interval": 1},
                "AGENT": {"report_interval": 1},
            }))
            host = Host(name, netns_path, state, os.path.join(state, "agent.log"), conf)
            c.hosts[name] = host
            res.defer(lambda h=host: _stop_agent(h))
        # Whatever happens, no dnsmasq of ours outlives the test (registered after the
        # agents' stop, so it runs before it... and again after: both are idempotent).
        res.defer(lambda: _kill_all_dnsmasq(c))
        try:
            yield c
        finally:
            for host in c.hosts.values():
                _stop_agent(host)
            _kill_all_dnsmasq(c)
            print(c.logs())  # pytest shows it only when the test failed
            print(server.log_tail())


def _kill_all_dnsmasq(c: Cluster) -> None:
    for host in c.hosts.values():
        dhcp_dir = os.path.join(host.state, "dhcp")
        for net in os.listdir(dhcp_dir) if os.path.isdir(dhcp_dir) else []:
            tn.kill_pid_file(host.pid_file(net), "dnsmasq")


def _lease(client_ns: str) -> tn.Lease | None:
    return tn.run_udhcpc(client_ns, "eth0", tries=3, timeout=1)


def test_two_agents_serve_one_network_and_survive_one_failure(cluster: Cluster) -> None:
    a, b = cluster.hosts["HostA"], cluster.hosts["HostB"]
    cluster.start(a)
    cluster.start(b)

    def alive_dhcp_agents() -> set[str]:
        agents = cluster.get("/agents?agent_type=DHCP+agent")["agents"]
        return {x["host"] for x in agents if x["alive"]}
    tn.wait_for(lambda: alive_dhcp_agents() == {"HostA", "HostB"}, timeout=60)

    net = cluster.post("/networks", {"network": {"name": "net1"}})["network"]["id"]
    # The hosts' bridges of this network, cabled together: one L2 segment.
    bridge = naming.bridge_name(net)
    for host in (a, b):
        cluster.res.bridge(bridge, netns=host.netns)
    trunk_a, trunk_b = tn.unique("ntta"), tn.unique("nttb")
    cluster.res.veth(trunk_a, trunk_b, ns_a=a.netns, ns_b=b.netns)
    tn.ip("link", "set", trunk_a, "master", bridge, netns=a.netns)
    tn.ip("link", "set", trunk_b, "master", bridge, netns=b.netns)

    subnet = cluster.post("/subnets", {"subnet": {
        "network_id": net, "cidr": "10.0.1.0/24", "ip_version": 4}})["subnet"]
    port = cluster.post("/ports", {"port": {"network_id": net}})["port"]
    ip = port["fixed_ips"][0]["ip_address"]

    hosting = cluster.get(f"/networks/{net}/dhcp-agents")["agents"]
    assert {x["host"] for x in hosting} == {"HostA", "HostB"}
    tn.wait_for(lambda: a.dnsmasq_pid(net) and b.dnsmasq_pid(net), timeout=60)
    dhcp_ports = cluster.get(f"/ports?network_id={net}&device_owner=network:dhcp")["ports"]
    assert len(dhcp_ports) == 2
    server_ip = {p["binding:host_id"]: p["fixed_ips"][0]["ip_address"] for p in dhcp_ports}

    vm = cluster.res.namespace("ntvm-")
    vm_tap = tn.unique("ntvm")
    cluster.res.veth(vm_tap, "eth0", ns_a=a.netns, ns_b=vm, mac_b=port["mac_address"])
    tn.ip("link", "set", vm_tap, "master", bridge, netns=a.netns)

    lease = tn.wait_for(lambda: _lease(vm), timeout=30)
    assert lease.ip == ip
    assert lease.fields["router"] == subnet["gateway_ip"]
    # DHCP ports on hosts without a Linux bridge agent go ACTIVE once their agent names
    # them in dhcp_ready_on_ports. (The VM port stays DOWN: it is bound to no host.)
    def statuses() -> dict[str, str]:
        return {f'{p["device_owner"]}@{p["binding:host_id"]}': p["status"]
                for p in cluster.get(f"/ports?network_id={net}")["ports"]}
    try:
        tn.wait_for(lambda: statuses() == {"network:dhcp@HostA": "ACTIVE",
                                           "network:dhcp@HostB": "ACTIVE", "@": "DOWN"},
                    timeout=30)
    except AssertionError:
        raise AssertionError(f"port statuses: {statuses()}") from None
    tn.wait_for(lambda: [x["configurations"]["ports"] for x in cluster.get(
        f"/networks/{net}/dhcp-agents")["agents"]] == [3, 3], timeout=30)
    agent_conf = cluster.get(f"/networks/{net}/dhcp-agents")["agents"][0]["configurations"]
    assert agent_conf == {"networks": 1, "subnets": 1, "ports": 3,
                          "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
                          "dhcp_lease_time": 86400, "dhcp_lease_duration": 86400,
                          "use_namespaces": True, "log_agent_heartbeats": False}

    # HostB's agent stops (SIGTERM): its dnsmasq keeps serving, and the restarted agent
    # adopts it instead of respawning it.
    b_pid = b.dnsmasq_pid(net)
    b.process.terminate()
    assert b.process.wait(30) == 0
    b.process = None
    assert b.dnsmasq_pid(net) == b_pid
    cluster.start(b)
    tn.wait_for(lambda: f"Network {net}: adopted running dnsmasq (pid {b_pid})"
                in Path(b.log).read_text(), timeout=60)
    assert b.dnsmasq_pid(net) == b_pid

    # HostA's agent and dnsmasq die: HostB still answers.
    cluster.kill(a, net)
    lease = _lease(vm)
    assert lease is not None and lease.ip == ip
    assert lease.fields["serverid"] == server_ip["HostB"]

    # Both die: nobody answers.
    cluster.kill(b, net)
    assert not tn.pid_alive(b_pid)
    assert _lease(vm) is None

    # HostA comes back: it answers again.
    cluster.start(a)
    tn.wait_for(lambda: a.dnsmasq_pid(net), timeout=60)
    lease = tn.wait_for(lambda: _lease(vm), timeout=30)
    assert lease.ip == ip
    a_pid = a.dnsmasq_pid(net)

    # Ports created and deleted while served show up in answers, same dnsmasq.
    port2 = cluster.post("/ports", {"port": {"network_id": net}})["port"]
    vm2 = cluster.res.namespace("ntvm-")
    vm2_tap = tn.unique("ntvm")
    cluster.res.veth(vm2_tap, "eth0", ns_a=a.netns, ns_b=vm2, mac_b=port2["mac_address"])
    tn.ip("link", "set", vm2_tap, "master", bridge, netns=a.netns)
    lease2 = tn.wait_for(lambda: _lease(vm2), timeout=30)
    assert lease2.ip == port2["fixed_ips"][0]["ip_address"]
    assert a.dnsmasq_pid(net) == a_pid
    cluster.delete(f"/ports/{port2['id']}")
    tn.wait_for(lambda: port2["mac_address"] not in Path(
        os.path.join(a.state, "dhcp", net, "host")).read_text(), timeout=30)
    assert _lease(vm2) is None
    assert a.dnsmasq_pid(net) == a_pid
    assert _lease(vm).ip == ip
