"""A host for the DHCP agent on the real kernel: its namespaces, confs directory and the
in-memory plugin, with "VMs" (namespaces cabled to a network's bridge). Removed on close."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from neutrino.agent.dhcp.agent import DhcpAgent
from neutrino.agent.dhcp.fakes import FakeDhcpPlugin
from neutrino.conf.settings import AgentSettings, DhcpAgentSettings
from neutrino.lib import constants, naming
from neutrino.linux.host import HostNamespaces
from support import netns as tn


class DhcpLab:
    def __init__(self, res: tn.NetnsResources) -> None:
        self.res = res
        self.host = HostNamespaces(res.namespace("nthost-"), res.directory("ntns-"))
        res.defer(self.host.close)  # its kept netlink client; after the agent has stopped
        self.confs_dir = res.directory("ntconf-")
        os.chmod(self.confs_dir, 0o755)  # dnsmasq re-reads its files after dropping root
        self.plugin = FakeDhcpPlugin()
        # Whatever happens, no dnsmasq of ours outlives the test.
        res.defer(lambda: [tn.kill_pid_file(self.pid_file(n), "dnsmasq")
                           for n in self.plugin.networks])

    def pid_file(self, network_id: str) -> str:
        return os.path.join(self.confs_dir, network_id, "pid")

    def settings(self, **changes: Any) -> DhcpAgentSettings:
        agent = AgentSettings(host="HostA", state_path=self.confs_dir, report_interval=1,
                              host_netns=self.host.netns, netns_dir=self.host.netns_dir)
        return dataclasses.replace(
            DhcpAgentSettings(agent=agent, resync_interval=1, num_sync_threads=2,
                              confs_dir=self.confs_dir, lease_duration=120), **changes)

    def agent(self, **changes: Any) -> DhcpAgent:
        agent = DhcpAgent(self.settings(**changes), self.host, self.plugin, None)
        self.res.defer(agent.stop)
        return agent

    def dhcp_port(self, network_id: str) -> dict[str, Any]:
        return next(p for p in self.plugin.ports.values()
                    if p["network_id"] == network_id
                    and p["device_owner"] == constants.DEVICE_OWNER_DHCP)

    def vm(self, network_id: str, mac: str) -> str:
        """A namespace whose eth0 carries `mac`, cabled to the network's bridge."""
        ns = self.res.namespace("ntvm-")
        outside = tn.unique("ntv")
        self.res.veth(outside, "eth0", ns_a=self.host.netns, ns_b=ns, mac_b=mac)
        tn.ip("link", "set", outside, "master", naming.bridge_name(network_id),
              netns=self.host.netns)
        return ns
