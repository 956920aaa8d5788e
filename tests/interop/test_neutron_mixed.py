"""Issue 12: Neutrino and Neutron 29 (from PyPI) mixed, both ways, while operators migrate.

a. Neutron's `neutron-dhcp-agent` under `neutrino-server` (same RabbitMQ vhost): it is
   scheduled a Neutrino network, makes its DHCP port over RPC, starts dnsmasq, answers a VM,
   and its hosts file follows ports made and deleted through Neutrino's API.
b. `neutrino-dhcp-agent` under Neutron 29's server (ML2, its own MariaDB database and vhost):
   it hosts a Neutron network added to it (Neutron's API schedules networks only to hosts
   with its own L2 agents) and a VM (a namespace running udhcpc) gets its address.

Neutron 29's interface drivers are `openvswitch` and `null`; this machine has no Open vSwitch,
so Neutron's agent runs with `null` and the test plugs the DHCP port's device, as a host's
wiring would (see `support.neutron`). Needs `tools/interop/install-openstack.sh neutron`
(`tools/install.sh --test` runs it), MariaDB and RabbitMQ on 127.0.0.1, and root.
NEUTRINO_INTEROP=0 leaves it out of a quick run; a missing install fails it.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from support import netns as tn
from support.agents import start_dhcp_agent
from support.neutron import NEUTRON_VENV, Neutron, api_ok
from support.openstack import installed
from support.rabbit import RabbitVhost
from support.server import NeutrinoServer

from neutrino.lib import naming
from neutrino.linux import dnsmasq

pytestmark = [
    pytest.mark.interop, pytest.mark.root, pytest.mark.rabbit,
    pytest.mark.timeout(600),
    pytest.mark.skipif(os.environ.get("NEUTRINO_INTEROP") == "0",
                       reason="NEUTRINO_INTEROP=0 leaves the Neutron interop test out"),
]

PROJECT = "interop-project"


@pytest.fixture
def neutron(tmp_path):
    if not installed(NEUTRON_VENV):
        pytest.fail("Neutron 29 for the interop test is not installed: run "
                    "tools/interop/install-openstack.sh neutron (tools/install.sh --test does)")
    with Neutron(tmp_path / "neutron") as neutron:
        yield neutron


def logs(*paths: Path) -> str:
    """Each log's warnings and errors, then its tail: what a failure report needs."""
    out = []
    for path in paths:
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        alarms = [line[:400] for line in lines if " WARNING " in line or " ERROR " in line]
        out.append(f"--- {path.name}: warnings and errors ---\n" + "\n".join(alarms[-20:])
                   + f"\n--- {path.name}: tail ---\n" + "\n".join(
                       line[:400] for line in lines[-30:]))
    return "\n".join(out)


def lease(vm: str) -> tn.Lease | None:
    return tn.run_udhcpc(vm, "eth0", tries=3, timeout=1)


def plug_vm(res: tn.NetnsResources, host: str, bridge: str, mac: str) -> str:
    """A VM: a namespace whose eth0 (with the port's MAC) is cabled to `bridge` in `host`."""
    vm = res.namespace("ntvm-")
    tap = tn.unique("ntvm")
    res.veth(tap, "eth0", ns_a=host, ns_b=vm, mac_b=mac)
    tn.ip("link", "set", tap, "master", bridge, netns=host)
    return vm


def test_neutron_dhcp_agent_serves_a_neutrino_network(tmp_path, neutron):
    host_name = "neutronhost"
    with tn.NetnsResources() as res, RabbitVhost() as vhost, NeutrinoServer(
            tmp_path / "neutrino", transport_url=vhost.url, auth_strategy="noauth",
            # generous: a loaded machine must not make an agent look dead while scheduling
            agent_down_time=30,
            # no 802.1Q on this kernel, and no Linux bridge agent here: local networks
            options={"vlans": {"tenant_network_type": "local"}}) as server:
        api = httpx.Client(base_url=server.url + "/v2.0", timeout=30, headers={
            "X-Project-Id": PROJECT, "X-User-Id": "admin", "X-Roles": "admin"})
        res.defer(api.close)
        state = neutron.start_dhcp_agent(host_name, vhost.url)
        agent_log = neutron.log_path(f"neutron-dhcp-agent-{host_name}")

        def get(path: str) -> dict:
            r = api.get(path)
            assert r.status_code == 200, r.text
            return r.json()

        def post(path: str, body: dict) -> dict:
            r = api.post(path, json=body)
            assert r.status_code == 201, r.text
            return r.json()

        def explain() -> str:
            return logs(agent_log, server.log_path)

        tn.wait_for(lambda: [a for a in get(f"/agents?host={host_name}")["agents"]
                             if a["alive"] and a["binary"] == "neutron-dhcp-agent"
                             and a["agent_type"] == "DHCP agent"], timeout=90)
        # Its first report answered, the agent runs its start-up sync. A network scheduled
        # meanwhile is configured by that sync and again by the scheduling notification, and
        # Neutron's agent restarts dnsmasq the second time (so it does under Neutron's server):
        # the network waits for the sync, so the dnsmasq below is the one that stays.
        tn.wait_for(lambda: "Synchronizing state complete" in agent_log.read_text(errors="replace"),
                    timeout=60)

        net = post("/networks", {"network": {"name": "mixed-a"}})["network"]["id"]
        subnet = post("/subnets", {"subnet": {"network_id": net, "cidr": "10.0.7.0/24",
                                              "ip_version": 4}})["subnet"]
        port = post("/ports", {"port": {"network_id": net}})["port"]
        hosting = get(f"/networks/{net}/dhcp-agents")["agents"]
        assert [a["host"] for a in hosting] == [host_name]

        # Neutron's agent makes its DHCP port over RPC (create_dhcp_port) ...
        def dhcp_port() -> dict | None:
            found = get(f"/ports?network_id={net}&device_owner=network:dhcp")["ports"]
            return found[0] if found and found[0]["fixed_ips"] else None
        try:
            dport = tn.wait_for(dhcp_port, timeout=60)
        except AssertionError:
            raise AssertionError("no DHCP port:\n" + explain()) from None
        assert dport["binding:host_id"] == host_name
        assert dport["device_id"].startswith("dhcp") and dport["device_id"].endswith(net)
        dhcp_ip = dport["fixed_ips"][0]["ip_address"]

        # ... and the `null` driver leaves the device to the host: into the agent's
        # namespace, cabled to the segment's bridge in a host namespace.
        qdhcp = f"/run/netns/qdhcp-{net}"
        tn.wait_for(lambda: os.path.exists(qdhcp), timeout=30)
        host = res.namespace("ntnh-")
        bridge = res.bridge(netns=host)
        tap, peer = naming.tap_name(dport["id"]), tn.unique("ntq")
        res.veth(tap, peer, ns_a=qdhcp, ns_b=host, mac_a=dport["mac_address"])
        tn.ip("link", "set", peer, "master", bridge, netns=host)

        conf_dir = state / "dhcp" / net

        def running_dnsmasq() -> int | None:
            found = dnsmasq.find(str(conf_dir / "pid"))
            return found[0] if found else None
        try:
            pid = tn.wait_for(running_dnsmasq, timeout=60)
        except AssertionError:
            raise AssertionError("Neutron's agent started no dnsmasq:\n" + explain()) from None
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert f"--dhcp-range=set:subnet-{subnet['id']},10.0.7.0,static,".encode() in b" ".join(
            cmdline)
        assert f"{dhcp_ip}/24" in tn.addresses(tap, qdhcp)

        hosts_file = conf_dir / "host"
        # (the agent applies the port's create event once dnsmasq is up: events queue per
        # network behind the enable)
        tn.wait_for(lambda: port["mac_address"] in hosts_file.read_text(), timeout=30)
        # dhcp_ready_on_ports: the DHCP port goes ACTIVE (no L2 agent on this host).
        tn.wait_for(lambda: get(f"/ports/{dport['id']}")["port"]["status"] == "ACTIVE",
                    timeout=30)

        # A real DHCP exchange with Neutron's dnsmasq.
        vm = plug_vm(res, host, bridge, port["mac_address"])
        got = tn.wait_for(lambda: lease(vm), timeout=30)
        assert got.ip == port["fixed_ips"][0]["ip_address"]
        assert got.fields["serverid"] == dhcp_ip
        assert got.fields["router"] == subnet["gateway_ip"]

        # The hosts file follows ports made and deleted through Neutrino's API; same dnsmasq.
        port2 = post("/ports", {"port": {"network_id": net}})["port"]
        tn.wait_for(lambda: port2["mac_address"] in hosts_file.read_text(), timeout=30)
        assert api.delete(f"/ports/{port2['id']}").status_code == 204
        tn.wait_for(lambda: port2["mac_address"] not in hosts_file.read_text(), timeout=30)
        assert running_dnsmasq() == pid, "Neutron's agent restarted dnsmasq:\n" + explain()

        # Every call the agent made was understood: no retry storms, no unknown methods.
        agent_text = agent_log.read_text(errors="replace")
        server_text = server.log_path.read_text(errors="replace")
        for text in (agent_text, server_text):
            assert "NoSuchMethod" not in text and "UnsupportedVersion" not in text

        # The network goes: the agent stops its dnsmasq and removes its namespace.
        assert api.delete(f"/ports/{port['id']}").status_code == 204
        assert api.delete(f"/networks/{net}").status_code == 204
        tn.wait_for(lambda: not tn.pid_alive(pid) and not os.path.exists(qdhcp), timeout=60)


def test_neutrino_dhcp_agent_serves_a_neutron_network(tmp_path, neutron):
    host_name = "neutrinohost"
    neutron.start_server()
    print(f"neutron-server start-up: {neutron.timings}")
    with tn.NetnsResources() as res:
        host = res.namespace("ntnb-")
        base = Path(res.directory("ntnb-"))
        os.chmod(base, 0o755)
        state = base / "agent"
        start_dhcp_agent(state, host_name, host, neutron.rabbit.url, res)

        def explain() -> str:
            return logs(state / "agent.log", neutron.log_path("neutron-rpc-server"),
                        neutron.log_path("neutron-api"))

        def get(path: str) -> dict:
            return api_ok(neutron.api("GET", path))

        def post(path: str, body: dict) -> dict:
            return api_ok(neutron.api("POST", path, body), 201)

        try:
            agent = tn.wait_for(lambda: [a for a in get(f"/agents?host={host_name}")["agents"]
                                         if a["alive"]], timeout=60)[0]
        except AssertionError:
            raise AssertionError("Neutrino's agent not alive in Neutron:\n"
                                 + explain()) from None
        assert (agent["agent_type"], agent["binary"], agent["topic"]) == (
            "DHCP agent", "neutrino-dhcp-agent", "dhcp_agent")

        net = post("/networks", {"network": {"name": "mixed-b", "project_id": PROJECT}})
        net_id = net["network"]["id"]
        assert net["network"]["provider:network_type"] == "vlan"
        bridge = res.bridge(naming.bridge_name(net_id), netns=host)
        post("/subnets", {"subnet": {"network_id": net_id, "cidr": "10.0.8.0/24",
                                     "ip_version": 4, "project_id": PROJECT}})
        port = post("/ports", {"port": {"network_id": net_id, "project_id": PROJECT}})["port"]
        # Neutron's API schedules networks only to hosts with one of its own L2 agents (see
        # support.neutron): the operator adds the network to Neutrino's agent, as
        # `openstack network agent add network --dhcp` does. 409: the agent's own resync
        # got it auto-scheduled first.
        status, body = neutron.api("POST", f"/agents/{agent['id']}/dhcp-networks",
                                   {"network_id": net_id})
        assert status in (201, 409), body

        def running_dnsmasq() -> int | None:
            found = dnsmasq.find(str(state / "dhcp" / net_id / "pid"))
            return found[0] if found else None
        try:
            pid = tn.wait_for(running_dnsmasq, timeout=60)
        except AssertionError:
            raise AssertionError("Neutrino's agent started no dnsmasq:\n" + explain()) from None
        hosting = get(f"/networks/{net_id}/dhcp-agents")["agents"]
        assert [a["host"] for a in hosting] == [host_name]

        vm = plug_vm(res, host, bridge, port["mac_address"])
        got = tn.wait_for(lambda: lease(vm), timeout=30)
        assert got.ip == port["fixed_ips"][0]["ip_address"]
        dports = get(f"/ports?network_id={net_id}&device_owner=network:dhcp")["ports"]
        assert [p["binding:host_id"] for p in dports] == [host_name]
        assert got.fields["serverid"] == dports[0]["fixed_ips"][0]["ip_address"]

        # A port made later is served too (Neutron's port_create_end to the agent).
        port2 = post("/ports", {"port": {"network_id": net_id, "project_id": PROJECT}})["port"]
        vm2 = plug_vm(res, host, bridge, port2["mac_address"])
        got2 = tn.wait_for(lambda: lease(vm2), timeout=30)
        assert got2.ip == port2["fixed_ips"][0]["ip_address"]
        assert running_dnsmasq() == pid

        # The network goes: the agent stops its dnsmasq.
        for p in (port, port2):
            api_ok(neutron.api("DELETE", f"/ports/{p['id']}"), 204)
        api_ok(neutron.api("DELETE", f"/networks/{net_id}"), 204)
        tn.wait_for(lambda: not tn.pid_alive(pid), timeout=60)
