"""The real `neutrino-linuxbridge-agent` (firewall_driver = iptables) over RabbitMQ, with a
stand-in server speaking the security group RPC contract: a rule change cast to the agent
reaches the host's iptables, ping and TCP follow, and a restarted agent changes nothing."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import netns as tn
from support.agents import start_linuxbridge_agent
from support.rabbit import RabbitVhost
from support.secgroup_server import FakeAgentServer
from support.secgroups import sg_port, sg_rule
from support.traffic import Vm, connects, listen, pings

from neutrino.conf.settings import RpcSettings
from neutrino.lib import naming
from neutrino.rpc.transport import get_transport

pytestmark = [pytest.mark.rabbit, pytest.mark.root]

NET = "5ec09a0b-0000-4000-8000-000000000001"
APPLIED = "Security group rules applied"


@pytest.fixture
def rabbit() -> Iterator[RabbitVhost]:
    with RabbitVhost() as vhost:
        yield vhost


@pytest.fixture
def server(rabbit: RabbitVhost) -> Iterator[FakeAgentServer]:
    transport = get_transport(RpcSettings(rabbit.url))
    try:
        with FakeAgentServer(transport) as fake:
            yield fake
    finally:
        transport.cleanup()


def make_vm(res: tn.NetnsResources, host_ns: str, server: FakeAgentServer, index: int,
            groups: list[str]) -> Vm:
    port_id = f"{tn.unique('')}{index:02d}aa-0000-4000-8000-000000000000"
    tap = "tap" + port_id[:11]
    mac = f"fa:16:3e:00:02:{index:02x}"
    ip = f"10.78.0.{10 + index}"
    netns = res.namespace("ntvm-")
    res.veth(tap, "eth0", ns_a=host_ns, ns_b=netns, mac_b=mac)
    tn.ip("addr", "add", f"{ip}/24", "dev", "eth0", netns=netns)
    with server.lock:
        server.details[tap] = {"device": tap, "port_id": port_id, "network_id": NET,
                               "network_type": "local", "admin_state_up": True,
                               "mac_address": mac, "fixed_ips": [{"ip_address": ip}],
                               "device_owner": "compute:nova"}
        server.groups.ports[port_id] = sg_port(port_id, [ip], groups, mac=mac)
    return Vm(f"vm{index}", netns, tap, port_id, mac, ip)


def save(netns: str) -> list[str]:
    out = subprocess.run(["nsenter", f"--net={netns}", "iptables-save"], capture_output=True,
                         text=True, check=True).stdout
    return [line for line in out.splitlines() if not line.startswith("#")]


def test_a_rule_cast_reaches_the_host_and_a_restart_changes_nothing(
        tmp_path: Path, rabbit: RabbitVhost, server: FakeAgentServer) -> None:
    with tn.NetnsResources() as res:
        host_ns = res.namespace("nthost-")
        a = make_vm(res, host_ns, server, 1, ["sg-a"])
        b = make_vm(res, host_ns, server, 2, ["sg-b"])
        with server.lock:
            server.groups.rules = {"sg-a": [sg_rule("sg-a", "egress")],
                                   "sg-b": [sg_rule("sg-b", "egress")]}
        listen(res, b, 8022)
        options = {"SECURITYGROUP": {"firewall_driver": "iptables"}}
        agent = start_linuxbridge_agent(tmp_path / "agent1", "HostA", host_ns, rabbit.url,
                                        res, options)
        tn.wait_for(lambda: server.up >= {a.tap, b.tap}, timeout=60)
        bridge = naming.bridge_name(NET)
        assert tn.link_master(a.tap, host_ns) == bridge
        assert not pings(a, b) and not connects(a, b, 8022)

        with server.lock:
            server.groups.rules["sg-b"] = [sg_rule("sg-b", "egress"),
                                           sg_rule("sg-b", protocol="icmp"),
                                           sg_rule("sg-b", protocol="tcp", low=8022,
                                                   high=8022)]
        server.cast_rule_updated(["sg-b"])
        tn.wait_for(lambda: pings(a, b), timeout=30)
        assert connects(a, b, 8022)

        with server.lock:
            server.groups.rules["sg-b"] = [sg_rule("sg-b", "egress")]
        server.cast_rule_updated(["sg-b"])
        tn.wait_for(lambda: not pings(a, b), timeout=30)
        assert not connects(a, b, 8022)

        # A VM joining a remote group: b lets its own group in, a joins it.
        with server.lock:
            server.groups.rules["sg-b"].append(sg_rule("sg-b", remote_group="sg-b"))
            server.groups.ports[a.port_id]["security_groups"] = ["sg-a", "sg-b"]
        server.cast_rule_updated(["sg-b"])
        server.cast_member_updated(["sg-b"])
        server.cast_port_update({"id": a.port_id})
        tn.wait_for(lambda: pings(a, b), timeout=30)

        agent.terminate()
        agent.wait(30)
        before = save(host_ns)  # what the first agent left, whatever its last pass did
        log2 = tmp_path / "agent2" / "agent.log"
        with server.lock:
            server.up.clear()
        start_linuxbridge_agent(tmp_path / "agent2", "HostA", host_ns, rabbit.url, res,
                                options)
        # The new agent's full sync reports the taps up again.
        tn.wait_for(lambda: server.up >= {a.tap, b.tap}, timeout=60)
        assert save(host_ns) == before
        assert APPLIED not in log2.read_text()
        assert APPLIED in (tmp_path / "agent1" / "agent.log").read_text()
        assert pings(a, b)
