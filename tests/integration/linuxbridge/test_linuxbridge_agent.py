"""The real `neutrino-linuxbridge-agent` with the real server over RabbitMQ, acting in a test
namespace with real bridges and VLAN devices: a tap appears, it is plugged and its port goes
ACTIVE; the tap goes, the port goes DOWN and the bridge and VLAN device are removed. The tap
may be the host end of a veth (the lab's VMs) or a tuntap device (what libvirt makes for
Nova's `vif_type: tap`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import netns as tn
from support.agents import start_linuxbridge_agent
from support.rabbit import RabbitVhost
from support.server import NeutrinoServer

from neutrino.lib import constants, naming

pytestmark = [pytest.mark.rabbit, pytest.mark.root]



@pytest.fixture
def rabbit() -> Iterator[RabbitVhost]:
    with RabbitVhost() as vhost:
        yield vhost


@pytest.fixture
def server(tmp_path: Path, rabbit: RabbitVhost) -> Iterator[NeutrinoServer]:
    with NeutrinoServer(tmp_path / "server", transport_url=rabbit.url,
                        auth_strategy="noauth", agent_down_time=3) as server:
        yield server


@pytest.fixture
def api(server: NeutrinoServer) -> Iterator[httpx.Client]:
    headers = {"X-Project-Id": "b" * 32, "X-Roles": "admin"}
    with httpx.Client(base_url=server.url + "/v2.0", headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
def resources() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as res:
        yield res


def test_a_tap_is_plugged_into_its_vlan_bridge_and_the_port_goes_active(
        tmp_path, rabbit, server, api, resources) -> None:
    host_name = tn.unique("HostA-")
    host = resources.namespace()
    # The host's eth0, cabled to a "physnet" namespace (this kernel may lack dummy links).
    resources.veth("eth0", tn.unique("phy"), ns_a=host, ns_b=resources.namespace())
    agent = start_linuxbridge_agent(tmp_path / "agent", host_name, host, rabbit.url, resources)

    def lb_agent() -> dict | None:
        found = api.get("/agents", params={"host": host_name}).json()["agents"]
        return found[0] if found and found[0]["alive"] else None

    registered = tn.wait_for(lb_agent, timeout=60)
    assert registered["agent_type"] == constants.AGENT_TYPE_LINUXBRIDGE
    assert registered["binary"] == constants.BINARY_LINUXBRIDGE
    assert registered["topic"] == constants.TOPIC_LINUXBRIDGE
    assert registered["configurations"]["interface_mappings"] == {"physnet1": "eth0"}
    assert registered["configurations"]["firewall_driver"] == "noop"

    net = api.post("/networks", json={"network": {"name": "lb"}})
    assert net.status_code == 201, net.text
    network = net.json()["network"]
    assert network["provider:network_type"] == "vlan"
    vlan = network["provider:segmentation_id"]
    vlan_dev = naming.vlan_device("eth0", vlan)
    real_vlans = tn.kernel_supports("vlan")
    if not real_vlans:
        # This kernel cannot make VLAN devices: as the lab does, give the host a link that
        # already has the uplink's name; the agent must find and enslave it.
        resources.veth(vlan_dev, tn.unique("phv"), ns_a=host, ns_b=resources.namespace())
    sub = api.post("/subnets", json={"subnet": {"network_id": network["id"],
                                                "cidr": "10.7.0.0/24", "ip_version": 4}})
    assert sub.status_code == 201, sub.text
    created = api.post("/ports", json={"port": {"network_id": network["id"],
                                                "binding:host_id": host_name,
                                                "device_owner": "compute:nova"}})
    assert created.status_code == 201, created.text
    port = created.json()["port"]
    assert port["status"] == constants.PORT_STATUS_DOWN
    assert port["binding:vif_details"] == {"connectivity": "l2", "port_filter": False}

    # The "VM": a veth whose host end is the port's tap and whose other end is in a VM
    # namespace with the port's MAC.
    vm = resources.namespace()
    tap = naming.tap_name(port["id"])
    tn.ip("link", "add", tap, "type", "veth", "peer", "name", "eth0", "address",
          port["mac_address"], "netns", vm, netns=host)

    def port_status() -> str:
        return api.get(f"/ports/{port['id']}").json()["port"]["status"]

    tn.wait_for(lambda: port_status() == constants.PORT_STATUS_ACTIVE, timeout=30)
    bridge = naming.bridge_name(network["id"])
    assert tn.link_master(tap, netns=host) == bridge
    assert tn.link_master(vlan_dev, netns=host) == bridge
    if real_vlans:
        assert f"vlan protocol 802.1Q id {vlan}" in tn.ip("-d", "link", "show", vlan_dev,
                                                           netns=host)
    tn.wait_for(lambda: (lb_agent() or {}).get("configurations", {}).get("devices") == 1,
                timeout=30)
    assert agent.poll() is None

    # The VM goes away: its tap with it.
    tn.ip("link", "del", tap, netns=host)
    tn.wait_for(lambda: port_status() == constants.PORT_STATUS_DOWN, timeout=30)
    tn.wait_for(lambda: bridge not in tn.links(host), timeout=30)
    if real_vlans:  # the agent's own VLAN device goes with the bridge
        tn.wait_for(lambda: vlan_dev not in tn.links(host), timeout=30)
    else:  # a link the agent did not make is only released
        assert tn.link_master(vlan_dev, netns=host) is None
    assert "eth0" in tn.links(host)  # the physical interface stays


def test_ports_on_a_filtering_agents_host_get_port_filter(tmp_path, rabbit, server, api,
                                                           resources) -> None:
    host_name = tn.unique("HostF-")
    start_linuxbridge_agent(tmp_path / "agent", host_name, resources.namespace(), rabbit.url,
                            resources, {"SECURITYGROUP": {"firewall_driver": "iptables"}})

    def reported() -> dict | None:
        found = api.get("/agents", params={"host": host_name}).json()["agents"]
        return found[0]["configurations"] if found and found[0]["alive"] else None

    assert tn.wait_for(reported, timeout=60)["firewall_driver"] == "iptables"
    network = api.post("/networks", json={"network": {"name": "f"}}).json()["network"]
    created = api.post("/ports", json={"port": {"network_id": network["id"],
                                                "binding:host_id": host_name}})
    assert created.status_code == 201, created.text
    assert created.json()["port"]["binding:vif_details"] == {"connectivity": "l2",
                                                             "port_filter": True}


def test_a_flat_network_enslaves_the_mapped_interface_itself(tmp_path, rabbit, server, api,
                                                              resources) -> None:
    host_name = tn.unique("HostB-")
    host = resources.namespace()
    resources.veth("eth0", tn.unique("phy"), ns_a=host, ns_b=resources.namespace())
    start_linuxbridge_agent(tmp_path / "agent", host_name, host, rabbit.url, resources)
    tn.wait_for(lambda: api.get("/agents", params={"host": host_name}).json()["agents"],
                timeout=60)

    net = api.post("/networks", json={"network": {
        "name": "flat", "provider:network_type": "flat",
        "provider:physical_network": "physnet1"}})
    assert net.status_code == 201, net.text
    network = net.json()["network"]
    created = api.post("/ports", json={"port": {"network_id": network["id"],
                                                "binding:host_id": host_name}})
    assert created.status_code == 201, created.text
    port = created.json()["port"]
    tap = naming.tap_name(port["id"])
    tn.ip("link", "add", tap, "type", "veth", "peer", "name", "eth0", "address",
          port["mac_address"], "netns", resources.namespace(), netns=host)

    def port_status() -> str:
        return api.get(f"/ports/{port['id']}").json()["port"]["status"]

    tn.wait_for(lambda: port_status() == constants.PORT_STATUS_ACTIVE, timeout=30)
    bridge = naming.bridge_name(network["id"])
    assert tn.link_master(tap, netns=host) == bridge
    assert tn.link_master("eth0", netns=host) == bridge

    tn.ip("link", "del", tap, netns=host)
    tn.wait_for(lambda: port_status() == constants.PORT_STATUS_DOWN, timeout=30)
    tn.wait_for(lambda: bridge not in tn.links(host), timeout=30)
    assert tn.link_master("eth0", netns=host) is None  # released, not deleted


def test_a_tuntap_device_as_libvirt_makes_it_is_plugged_and_reported_up(
        tmp_path, rabbit, server, api, resources) -> None:
    host_name = tn.unique("HostC-")
    host = resources.namespace()
    resources.veth("eth0", tn.unique("phy"), ns_a=host, ns_b=resources.namespace())
    start_linuxbridge_agent(tmp_path / "agent", host_name, host, rabbit.url, resources)
    tn.wait_for(lambda: [a for a in api.get("/agents", params={"host": host_name}).json()[
        "agents"] if a["alive"]], timeout=60)

    net = api.post("/networks", json={"network": {
        "name": "flat", "provider:network_type": "flat",
        "provider:physical_network": "physnet1"}})
    assert net.status_code == 201, net.text
    network = net.json()["network"]
    created = api.post("/ports", json={"port": {"network_id": network["id"],
                                                "binding:host_id": host_name,
                                                "device_owner": "compute:nova"}})
    assert created.status_code == 201, created.text
    port = created.json()["port"]
    # What Nova's libvirt driver is told: create a tap, the networking service plugs it.
    assert port["binding:vif_type"] == "tap"

    # As libvirt's plug_tap: a tap (tuntap) device with the port's MAC, and no reader yet.
    tap = naming.tap_name(port["id"])
    tn.ip("tuntap", "add", "dev", tap, "mode", "tap", netns=host)
    resources.defer(lambda: tn.ip("link", "del", tap, netns=host, check=False))
    tn.ip("link", "set", tap, "address", port["mac_address"], netns=host)
    assert "tun" in tn.ip("-d", "link", "show", tap, netns=host)

    def port_status() -> str:
        return api.get(f"/ports/{port['id']}").json()["port"]["status"]

    tn.wait_for(lambda: port_status() == constants.PORT_STATUS_ACTIVE, timeout=30)
    bridge = naming.bridge_name(network["id"])
    assert tn.link_master(tap, netns=host) == bridge
    assert tn.link_master("eth0", netns=host) == bridge
    assert "UP" in tn.ip("-o", "link", "show", tap, netns=host).split(">")[0]

    tn.ip("link", "del", tap, netns=host)  # the guest is gone
    tn.wait_for(lambda: port_status() == constants.PORT_STATUS_DOWN, timeout=30)
    tn.wait_for(lambda: bridge not in tn.links(host), timeout=30)
