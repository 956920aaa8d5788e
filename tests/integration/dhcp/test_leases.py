"""Leases survive dnsmasq and agent restarts: a running udhcpc's renewal right after either
is ACKed, not NAKed (real dnsmasq, udhcpc, namespaces)."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from support import netns as tn
from support.dhcp_lab import DhcpLab

from neutrino.linux import dnsmasq

pytestmark = pytest.mark.root

# Configures the address (a renewal is unicast from it) and logs each event.
_SCRIPT = """#!/bin/sh
case "$1" in
  bound) ip addr add "$ip/$mask" dev "$interface" ;;
esac
echo "$1 $ip" >> {log}
exit 0
"""


class Client:
    """udhcpc running in a VM namespace, as a VM's DHCP client does."""

    def __init__(self, res: tn.NetnsResources, ns: str) -> None:
        work = res.directory("ntudhcpc-")
        self.log = os.path.join(work, "events")
        script = os.path.join(work, "script")
        with open(script, "w") as f:
            f.write(_SCRIPT.format(log=self.log))
        os.chmod(script, 0o755)
        self.proc = subprocess.Popen(
            ["nsenter", f"--net={ns}", "udhcpc", "-f", "-i", "eth0", "-s", script,
             "-t", "5", "-T", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        res.defer(self.stop)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def events(self) -> list[str]:
        try:
            with open(self.log) as f:
                return [line.split()[0] for line in f]
        except FileNotFoundError:
            return []

    def renew(self) -> list[str]:
        """SIGUSR1 (renew now); the events that followed (a "renew" on an ACK)."""
        before = len(self.events())
        os.kill(self.proc.pid, signal.SIGUSR1)
        tn.wait_for(lambda: len(self.events()) > before)
        return self.events()[before:]


def test_renewals_after_dnsmasq_and_agent_restarts_are_acked() -> None:
    with tn.NetnsResources() as res:
        lab = DhcpLab(res)
        net = lab.plugin.add_network(cidr="10.95.0.0/24")
        vm = lab.plugin.add_port(net, ip="10.95.0.20")
        agent = lab.agent(lease_duration=600)
        agent.start()
        tn.wait_for(lambda: net in agent.served(), timeout=30)
        client = Client(res, lab.vm(net, vm["mac_address"]))
        tn.wait_for(lambda: "bound" in client.events(), timeout=30)
        assert client.renew() == ["renew"]

        # dnsmasq restarted (it died; the agent starts it again on the same lease file).
        pid = agent.served()[net].pid
        os.kill(pid, signal.SIGTERM)
        tn.wait_for(lambda: (dnsmasq.find(lab.pid_file(net)) or (pid,))[0] != pid,
                    timeout=30)
        with open(os.path.join(lab.confs_dir, net, "leases")) as f:
            assert vm["mac_address"] in f.read()
        assert client.renew() == ["renew"]

        # The agent restarted: it adopts the running dnsmasq; renewals still ACKed.
        agent.stop()
        again = lab.agent(lease_duration=600)
        again.start()
        tn.wait_for(lambda: net in again.served() and again.idle(), timeout=30)
        assert client.renew() == ["renew"]
        assert "nak" not in client.events() and "deconfig" not in client.events()[1:]

        # What a refused renewal looks like, so the ACKs above mean something: the port is
        # deleted, its lease released, and dnsmasq NAKs the next renewal.
        lab.plugin.remove_port(vm["id"])
        again.port_delete_end({"port_id": vm["id"], "network_id": net, "fixed_ips": []})
        tn.wait_for(lambda: vm["id"] not in again.served()[net].ports)
        assert client.renew()[0] == "nak"


def test_a_changed_lease_time_restarts_dnsmasq_and_keeps_the_lease() -> None:
    with tn.NetnsResources() as res:
        lab = DhcpLab(res)
        net = lab.plugin.add_network(cidr="10.96.0.0/24")
        vm = lab.plugin.add_port(net, ip="10.96.0.20")
        agent = lab.agent(lease_duration=600)
        agent.start()
        tn.wait_for(lambda: net in agent.served(), timeout=30)
        client = Client(res, lab.vm(net, vm["mac_address"]))
        tn.wait_for(lambda: "bound" in client.events(), timeout=30)
        pid = agent.served()[net].pid
        agent.stop()
        # New options on the command line: the new agent restarts dnsmasq.
        again = lab.agent(lease_duration=900, broadcast_reply=True, renewal_time=300)
        again.start()
        tn.wait_for(lambda: net in again.served() and again.served()[net].pid != pid,
                    timeout=30)
        assert not tn.pid_alive(pid)
        assert client.renew() == ["renew"]
