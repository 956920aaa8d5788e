"""The DHCP agent with an in-memory plugin, on the real kernel, dnsmasq and udhcpc."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from support import netns as tn

from neutrino.agent.dhcp.agent import DhcpAgent
from neutrino.agent.dhcp.fakes import FakeDhcpPlugin
from neutrino.conf.settings import AgentSettings, DhcpAgentSettings
from neutrino.lib import naming
from neutrino.linux import dnsmasq
from neutrino.linux.host import HostNamespaces

pytestmark = pytest.mark.root


@dataclass
class World:
    res: tn.NetnsResources
    host: HostNamespaces
    confs_dir: str
    plugin: FakeDhcpPlugin

    def settings(self) -> DhcpAgentSettings:
        agent = AgentSettings(host="HostA", state_path=self.confs_dir, report_interval=1,
                              host_netns=self.host.netns, netns_dir=self.host.netns_dir)
        # No revision checks: these tests show what the casts alone do (a check would
        # also pick up a port the plugin has and no cast announced yet).
        return DhcpAgentSettings(agent=agent, resync_interval=1, num_sync_threads=2,
                                 confs_dir=self.confs_dir, lease_duration=120,
                                 revision_check_interval=0)

    def agent(self) -> DhcpAgent:
        agent = DhcpAgent(self.settings(), self.host, self.plugin, None)
        self.res.defer(agent.stop)
        return agent

    def pid_file(self, network_id: str) -> str:
        return os.path.join(self.confs_dir, network_id, "pid")

    def client(self, network_id: str, mac: str) -> str:
        """A 'VM': a namespace whose eth0 carries `mac`, cabled to the network's bridge."""
        ns = self.res.namespace("ntvm-")
        outside = tn.unique("ntv")
        self.res.veth(outside, "eth0", ns_a=self.host.netns, ns_b=ns, mac_b=mac)
        tn.ip("link", "set", outside, "master", naming.bridge_name(network_id),
              netns=self.host.netns)
        return ns


@pytest.fixture
def world() -> Iterator[World]:
    with tn.NetnsResources() as res:
        host_ns = res.namespace("nthost-")
        confs = res.directory("ntconf-")
        os.chmod(confs, 0o755)  # dnsmasq re-reads its files after dropping root
        w = World(res, HostNamespaces(host_ns, res.directory("ntns-")), confs,
                  FakeDhcpPlugin())
        # Whatever happens, no dnsmasq of ours outlives the test.
        res.defer(lambda: [tn.kill_pid_file(w.pid_file(n), "dnsmasq")
                           for n in w.plugin.networks])
        yield w


def dhcp_pid(world: World, network_id: str) -> int:
    found = dnsmasq.find(world.pid_file(network_id))
    assert found, "dnsmasq is not running"
    return found[0]


def lease_ip(ns: str) -> str | None:
    lease = tn.run_udhcpc(ns, "eth0", tries=3, timeout=1)
    return lease.ip if lease else None


def test_serves_reloads_adopts_and_cleans_up(world: World) -> None:
    plugin = world.plugin
    net = plugin.add_network(cidr="10.77.0.0/24", mtu=1400,
                             dns_nameservers=["10.77.0.53"])
    vm1 = plugin.add_port(net)
    agent = world.agent()
    agent.start()
    tn.wait_for(lambda: net in agent.served(), timeout=30)
    pid = dhcp_pid(world, net)

    ns_name = naming.dhcp_namespace(net)
    ns_path = world.host.namespace_path(ns_name)
    dhcp_port = next(p for p in plugin.ports.values() if p["device_owner"] == "network:dhcp")
    assert tn.links(ns_path) == ["lo", naming.ns_device_name(dhcp_port["id"])]
    assert tn.link_master(naming.tap_name(dhcp_port["id"]), world.host.netns) == \
        naming.bridge_name(net)
    assert tn.addresses(naming.ns_device_name(dhcp_port["id"]), ns_path) == [
        dhcp_port["fixed_ips"][0]["ip_address"] + "/24"]

    client1 = world.client(net, vm1["mac_address"])
    lease = tn.run_udhcpc(client1, "eth0", tries=3, timeout=1)
    assert lease is not None
    assert lease.ip == vm1["fixed_ips"][0]["ip_address"]
    assert lease.fields["router"] == "10.77.0.1"
    assert lease.fields["dns"] == "10.77.0.53"
    assert lease.fields["mtu"] == "1400"
    assert lease.fields["mask"] == "24"
    assert lease.fields["serverid"] == dhcp_port["fixed_ips"][0]["ip_address"]
    tn.wait_for(lambda: {vm1["id"], dhcp_port["id"]} <= set(plugin.ready))

    # A port added while served: answered by the same dnsmasq (SIGHUP, no restart).
    vm2 = plugin.add_port(net)
    client2 = world.client(net, vm2["mac_address"])
    assert lease_ip(client2) is None  # not in the hosts file yet: static mode ignores it
    agent.port_create_end({"port": vm2})
    tn.wait_for(lambda: vm2["id"] in agent.served()[net].ports)
    assert lease_ip(client2) == vm2["fixed_ips"][0]["ip_address"]
    assert dhcp_pid(world, net) == pid

    # A port removed while served: no answer any more, same dnsmasq.
    plugin.remove_port(vm1["id"])
    agent.port_delete_end({"port_id": vm1["id"], "network_id": net, "fixed_ips": []})
    tn.wait_for(lambda: vm1["id"] not in agent.served()[net].ports)
    assert lease_ip(client1) is None
    assert dhcp_pid(world, net) == pid

    # Stop leaves dnsmasq serving; a new agent adopts it.
    agent.stop()
    assert lease_ip(client2) == vm2["fixed_ips"][0]["ip_address"]
    again = world.agent()
    again.start()
    tn.wait_for(lambda: net in again.served() and again.idle(), timeout=30)
    assert again.served()[net].pid == pid
    assert dhcp_pid(world, net) == pid
    assert lease_ip(client2) == vm2["fixed_ips"][0]["ip_address"]

    # No longer hosted: dnsmasq, namespace, devices and files go; the port is released.
    plugin.hosted.discard(net)
    again.network_delete_end({"network_id": net})
    tn.wait_for(lambda: net not in again.served() and again.idle())
    assert not tn.pid_alive(pid)
    assert not os.path.exists(ns_path)
    assert naming.tap_name(dhcp_port["id"]) not in tn.links(world.host.netns)
    assert not os.path.exists(os.path.join(world.confs_dir, net))
    assert dhcp_port["id"] not in plugin.ports
    assert lease_ip(client2) is None


def test_subnet_change_restarts_and_killed_dnsmasq_comes_back(world: World) -> None:
    plugin = world.plugin
    net = plugin.add_network(cidr="10.78.0.0/24")
    vm = plugin.add_port(net)
    agent = world.agent()
    agent.start()
    tn.wait_for(lambda: net in agent.served(), timeout=30)
    pid = dhcp_pid(world, net)
    client = world.client(net, vm["mac_address"])

    sub = plugin.add_subnet(net, "10.79.0.0/24")
    agent.subnet_create_end({"subnet": plugin.subnets[sub]})
    tn.wait_for(lambda: agent.served()[net].subnets == 2)
    assert not tn.pid_alive(pid)
    pid2 = dhcp_pid(world, net)
    assert pid2 != pid
    dhcp_port = next(p for p in plugin.ports.values() if p["device_owner"] == "network:dhcp")
    assert len(dhcp_port["fixed_ips"]) == 2
    assert lease_ip(client) == vm["fixed_ips"][0]["ip_address"]

    os.kill(pid2, 9)
    tn.wait_for(lambda: (dnsmasq.find(world.pid_file(net)) or (pid2,))[0] != pid2,
                timeout=30)
    assert lease_ip(client) == vm["fixed_ips"][0]["ip_address"]


def test_hostile_names_do_not_stop_the_network(world: World) -> None:
    plugin = world.plugin
    net = plugin.add_network(cidr="10.80.0.0/24")
    evil = plugin.add_port(net, dns_name="x\ndhcp-range=10.80.0.0,10.80.0.250",
                           extra_dhcp_opts=[{"opt_name": "router", "opt_value":
                                             "10.80.0.1\ndhcp-option=3,6.6.6.6",
                                             "ip_version": 4}])
    agent = world.agent()
    agent.start()
    tn.wait_for(lambda: net in agent.served(), timeout=30)
    client = world.client(net, evil["mac_address"])
    lease = tn.run_udhcpc(client, "eth0", tries=3, timeout=1)
    assert lease is not None and lease.ip == evil["fixed_ips"][0]["ip_address"]
    assert lease.fields["router"] == "10.80.0.1"
    stranger = world.client(net, "fa:16:3e:99:99:99")
    assert lease_ip(stranger) is None  # no dynamic range was smuggled in


def test_ip_of_a_deleted_port_is_given_to_the_next_port(world: World) -> None:
    plugin = world.plugin
    net = plugin.add_network(cidr="10.81.0.0/24")
    old = plugin.add_port(net, ip="10.81.0.50")
    agent = world.agent()
    agent.start()
    tn.wait_for(lambda: net in agent.served(), timeout=30)
    pid = dhcp_pid(world, net)
    assert lease_ip(world.client(net, old["mac_address"])) == "10.81.0.50"
    plugin.remove_port(old["id"])
    agent.port_delete_end({"port_id": old["id"], "network_id": net, "fixed_ips": []})
    new = plugin.add_port(net, ip="10.81.0.50")
    agent.port_create_end({"port": new})
    tn.wait_for(lambda: new["id"] in agent.served()[net].ports
                and old["id"] not in agent.served()[net].ports)
    # The old lease was released (DHCPRELEASE), so dnsmasq hands the IP to the new MAC.
    assert lease_ip(world.client(net, new["mac_address"])) == "10.81.0.50"
    with open(os.path.join(world.confs_dir, net, "leases")) as f:
        leases = f.read()
    assert old["mac_address"] not in leases and new["mac_address"] in leases
    assert dhcp_pid(world, net) == pid
