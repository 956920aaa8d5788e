"""Security groups enforced on a real host: a test namespace with a real bridge and veth
"VMs" in namespaces of their own, rules installed by the agent's sync (plan, diff,
iptables/ipset executor) from an in-memory server, and real traffic (ping, a TCP listener,
dnsmasq and udhcpc) showing what passes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support import netns as tn
from support.secgroups import FakeSecurityGroupPlugin, sg_port, sg_rule
from support.traffic import (
    Vm,
    connects,
    listen,
    neighbour_mac,
    pings,
    run_in,
    send_arp_reply,
    stop,
)

from neutrino.agent.linuxbridge.firewall import IptablesFirewall
from neutrino.agent.linuxbridge.firewall_plan import IPV4, port_chain, set_name
from neutrino.agent.linuxbridge.security_groups import SecurityGroupSync
from neutrino.core.agents.securitygroups import LINK_LOCAL
from neutrino.core.resources import ipam
from neutrino.linux.host import HostNamespaces

pytestmark = pytest.mark.root

DHCP_IP = "10.77.0.2"


@dataclass
class Host:
    res: tn.NetnsResources
    netns: str
    bridge: str
    server: FakeSecurityGroupPlugin = field(default_factory=FakeSecurityGroupPlugin)
    vms: dict[str, Vm] = field(default_factory=dict)
    sync: SecurityGroupSync | None = None

    def vm(self, name: str, index: int, groups: list[str], port_security: bool = True,
           filtered: bool = True) -> Vm:
        suffix = tn.unique("")
        port_id = f"{suffix}{index:02d}aa-0000-0000-0000-000000000000"
        tap = "tap" + port_id[:11]
        mac = f"fa:16:3e:00:01:{index:02x}"
        netns = self.res.namespace("ntvm-")
        self.res.veth(tap, "eth0", ns_a=self.netns, ns_b=netns, mac_b=mac)
        tn.ip("link", "set", tap, "master", self.bridge, netns=self.netns)
        ip = f"10.77.0.{10 + index}"
        tn.ip("addr", "add", f"{ip}/24", "dev", "eth0", netns=netns)
        vm = Vm(name, netns, tap, port_id, mac, ip)
        self.vms[name] = vm
        if filtered:
            self.server.ports[port_id] = sg_port(port_id, [ip], groups, mac=mac,
                                                 port_security=port_security,
                                                 dhcp=[DHCP_IP])
        return vm

    def enforce(self) -> None:
        assert self.sync is not None
        self.sync.sync({vm.tap: vm.port_id for vm in self.vms.values()
                        if vm.port_id in self.server.ports})

    def iptables_save(self) -> str:
        return subprocess.run(["nsenter", f"--net={self.netns}", "iptables-save"],
                              capture_output=True, text=True, check=True).stdout


@pytest.fixture
def host() -> Iterator[Host]:
    with tn.NetnsResources() as res:
        netns = res.namespace("nthost-")
        bridge = res.bridge(netns=netns)
        h = Host(res, netns, bridge)
        h.sync = SecurityGroupSync(IptablesFirewall(HostNamespaces(netns)), h.server)
        yield h


def test_ping_and_tcp_are_blocked_allowed_by_a_rule_and_blocked_again(host: Host) -> None:
    a = host.vm("a", 1, ["sg-a"])
    b = host.vm("b", 2, ["sg-b"])
    host.server.rules = {"sg-a": [sg_rule("sg-a", "egress")],
                         "sg-b": [sg_rule("sg-b", "egress")]}
    listen(host.res, b, 8022)
    host.enforce()
    assert not pings(a, b) and not connects(a, b, 8022)
    assert pings(b, a) is False  # a's ingress is closed too

    host.server.rules["sg-b"] += [sg_rule("sg-b", protocol="icmp"),
                                  sg_rule("sg-b", protocol="tcp", low=8022, high=8022)]
    host.sync.rule_updated(["sg-b"])  # type: ignore[union-attr]
    host.enforce()
    assert pings(a, b) and connects(a, b, 8022)
    assert not pings(b, a)  # only b's ingress opened; replies to b's pings never started

    host.server.rules["sg-b"] = [sg_rule("sg-b", "egress")]
    host.sync.rule_updated(["sg-b"])  # type: ignore[union-attr]
    host.enforce()
    assert not pings(a, b) and not connects(a, b, 8022)


def test_an_established_connection_survives_a_change_that_still_allows_it_only(
        host: Host) -> None:
    a = host.vm("a", 1, ["sg-a"])
    b = host.vm("b", 2, ["sg-b"])
    host.server.rules = {"sg-a": [sg_rule("sg-a", "egress")],
                         "sg-b": [sg_rule("sg-b", protocol="tcp", low=8022, high=8022)]}
    listen(host.res, b, 8022)
    host.enforce()
    client = subprocess.Popen(
        ["nsenter", f"--net={a.netns}", sys.executable, "-c", textwrap.dedent("""
            import socket, sys
            c = socket.create_connection((sys.argv[1], 8022), timeout=5)
            for line in sys.stdin:
                c.sendall(line.strip().encode())
                print(c.recv(100).decode(), flush=True)
        """), b.ip], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True)
    host.res.defer(lambda: stop(client))
    assert client.stdin is not None and client.stdout is not None

    def exchange(word: str) -> str:
        assert client.stdin is not None and client.stdout is not None
        client.stdin.write(word + "\n")
        client.stdin.flush()
        return client.stdout.readline().strip()

    assert exchange("one") == "echo:one"
    save_before = host.iptables_save()
    host.server.rules["sg-b"].append(sg_rule("sg-b", protocol="udp", low=53, high=53))
    host.sync.rule_updated(["sg-b"])  # type: ignore[union-attr]
    host.enforce()
    assert "--dport 53" in host.iptables_save() and host.iptables_save() != save_before
    assert exchange("two") == "echo:two"

    # Removing the rule that allowed it ends it: conntrack forgets the connection.
    host.server.rules["sg-b"] = [sg_rule("sg-b", protocol="udp", low=53, high=53)]
    host.sync.rule_updated(["sg-b"])  # type: ignore[union-attr]
    host.enforce()
    assert exchange("three") == ""  # the client timed out and exited


def test_spoofed_ip_and_mac_are_dropped_unless_an_allowed_pair_permits_them(
        host: Host) -> None:
    a = host.vm("a", 1, ["sg"])
    b = host.vm("b", 2, ["sg"])
    host.server.rules = {"sg": [sg_rule("sg", "egress"), sg_rule("sg", protocol="icmp")]}
    host.enforce()
    assert pings(a, b)

    tn.ip("addr", "add", "10.77.0.99/24", "dev", "eth0", netns=a.netns)
    assert not pings(a, b, source_ip="10.77.0.99")
    host.server.ports[a.port_id]["allowed_address_pairs"] = [{"ip_address": "10.77.0.99"}]
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    assert pings(a, b, source_ip="10.77.0.99")

    tn.ip("link", "set", "eth0", "address", "fa:16:3e:00:09:99", netns=a.netns)

    def forget_neighbours() -> None:  # so that a's ARP, with its new MAC, must go through
        for vm in (a, b):
            tn.ip("neigh", "flush", "all", netns=vm.netns)
    forget_neighbours()
    assert not pings(a, b)
    host.server.ports[a.port_id]["allowed_address_pairs"] = [
        {"ip_address": a.ip, "mac_address": "fa:16:3e:00:09:99"}]
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    forget_neighbours()
    assert pings(a, b)
    assert not pings(a, b, source_ip="10.77.0.99")  # that pair is gone


def test_arp_claiming_another_vms_address_is_dropped(host: Host) -> None:
    a = host.vm("a", 1, ["sg"])
    b = host.vm("b", 2, ["sg"])
    c = host.vm("c", 3, ["sg"])
    host.server.rules = {"sg": [sg_rule("sg", "egress"), sg_rule("sg", protocol="icmp")]}
    host.enforce()
    assert pings(c, b) and neighbour_mac(c, b.ip) == b.mac
    time.sleep(1.2)  # past the neighbour entry's locktime: a reply may now replace it
    send_arp_reply(a, b.ip, c)
    assert neighbour_mac(c, b.ip) == b.mac

    # Unfiltered, the same reply poisons c's cache: the filter is what stopped it.
    host.server.ports[a.port_id].update(port_security_enabled=False, security_groups=[])
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    send_arp_reply(a, b.ip, c)
    assert neighbour_mac(c, b.ip) == a.mac


def test_port_security_off_lets_everything_through(host: Host) -> None:
    a = host.vm("a", 1, ["sg"])
    b = host.vm("b", 2, [], port_security=False)
    host.server.rules = {"sg": [sg_rule("sg", "egress")]}
    listen(host.res, b, 8022)
    host.enforce()
    assert pings(a, b) and connects(a, b, 8022)
    # b sends from any address it likes: nothing checks its sources.
    host.server.rules["sg"].append(sg_rule("sg", protocol="icmp"))
    host.sync.rule_updated(["sg"])  # type: ignore[union-attr]
    host.enforce()
    tn.ip("addr", "add", "10.77.0.98/24", "dev", "eth0", netns=b.netns)
    assert pings(b, a, source_ip="10.77.0.98")
    assert port_chain("i", b.tap) not in host.iptables_save()
    assert port_chain("i", a.tap) in host.iptables_save()


def test_a_remote_group_rule_follows_a_member_joining(host: Host) -> None:
    a = host.vm("a", 1, ["sg-a"])
    b = host.vm("b", 2, ["sg-b"])
    host.server.rules = {
        "sg-a": [sg_rule("sg-a", "egress")],
        "sg-b": [sg_rule("sg-b", "egress"), sg_rule("sg-b", remote_group="sg-b")]}
    host.enforce()
    assert not pings(a, b)

    host.server.ports[a.port_id]["security_groups"] = ["sg-a", "sg-b"]
    host.sync.member_updated(["sg-b"])  # type: ignore[union-attr]
    save_before = host.iptables_save()
    host.enforce()
    assert pings(a, b)
    # b's chains did not change: the set did.
    chain_b = port_chain("i", b.tap)
    assert [r for r in save_before.splitlines() if chain_b in r] == \
        [r for r in host.iptables_save().splitlines() if chain_b in r]
    members = subprocess.run(["nsenter", f"--net={host.netns}", "ipset", "list",
                              set_name("sg-b", IPV4)], capture_output=True, text=True,
                             check=True).stdout
    assert a.ip in members and b.ip in members


def test_dhcp_works_with_no_rules_and_only_from_the_dhcp_port(host: Host) -> None:
    a = host.vm("a", 1, ["sg-closed"])
    host.server.rules = {"sg-closed": []}
    tn.ip("addr", "flush", "dev", "eth0", netns=a.netns)
    dhcp = host.vm("dhcp", 0, [], filtered=False)  # the network's DHCP port: not filtered
    rogue = host.vm("rogue", 3, [], port_security=False)
    tn.ip("addr", "flush", "dev", "eth0", netns=dhcp.netns)
    tn.ip("addr", "add", f"{DHCP_IP}/24", "dev", "eth0", netns=dhcp.netns)
    host.enforce()

    def dnsmasq(vm: Vm, first: str) -> None:
        conf = host.res.directory()
        pid = f"{conf}/pid"
        host.res.track_pid_file(pid, "dnsmasq")
        done = run_in(vm, "dnsmasq", "--conf-file=", "--no-hosts", "--no-resolv", "--port=0",
                      f"--pid-file={pid}", f"--dhcp-leasefile={conf}/leases",
                      "--interface=eth0", "--bind-interfaces",
                      f"--dhcp-range={first},{first},255.255.255.0,120s")
        assert done.returncode == 0, done.stderr

    dnsmasq(rogue, "10.77.0.200")
    # Unfiltered, a takes the rogue's offer ...
    host.server.ports[a.port_id].update(port_security_enabled=False, security_groups=[])
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    rogue_lease = tn.run_udhcpc(a.netns, "eth0", tries=5, timeout=1)
    assert rogue_lease is not None and rogue_lease.ip == "10.77.0.200"
    # ... filtered, the rogue's replies are dropped.
    host.server.ports[a.port_id].update(port_security_enabled=True,
                                        security_groups=["sg-closed"])
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    assert tn.run_udhcpc(a.netns, "eth0", tries=2, timeout=1) is None
    dnsmasq(dhcp, "10.77.0.150")
    lease = tn.run_udhcpc(a.netns, "eth0", tries=4, timeout=2)
    assert lease is not None and lease.ip == "10.77.0.150"
    assert lease.fields["serverid"] == DHCP_IP


def test_dhcpv6_passes_from_the_dhcp_ports_link_local_address(host: Host) -> None:
    # dnsmasq answers DHCPv6 from its interface's link-local address: the server's
    # dhcp_server_ips must name it, or a filtered VM never hears a reply.
    a = host.vm("a", 1, ["sg-closed"])
    host.server.rules = {"sg-closed": []}
    host.server.ports[a.port_id]["fixed_ips"].append("fd00:77::150")
    dhcp = host.vm("dhcp", 0, [], filtered=False)  # the network's DHCP port
    tn.ip("-6", "addr", "add", "fd00:77::2/64", "dev", "eth0", "nodad", netns=dhcp.netns)
    link_local = ipam.eui64(LINK_LOCAL, dhcp.mac)  # what the server computes
    # dnsmasq answers from that address only once duplicate address detection is done
    # with it (slow on a loaded machine).
    tn.wait_for(lambda: f"{link_local}/64" in (text := tn.ip("-6", "addr", "show", "dev",
                                                              "eth0", netns=dhcp.netns))
                and "tentative" not in text, timeout=10)
    host.enforce()
    conf = host.res.directory()
    pid = f"{conf}/pid"
    host.res.track_pid_file(pid, "dnsmasq")
    done = run_in(dhcp, "dnsmasq", "--conf-file=", "--no-hosts", "--no-resolv", "--port=0",
                  f"--pid-file={pid}", f"--dhcp-leasefile={conf}/leases",
                  "--interface=eth0", "--bind-interfaces", "--log-dhcp",
                  f"--log-facility={conf}/log",
                  "--dhcp-range=fd00:77::150,fd00:77::150,64,120s")
    assert done.returncode == 0, done.stderr
    # Only the DHCP port's fixed IPs as servers (the old server's list): replies dropped.
    host.server.ports[a.port_id]["dhcp_server_ips"] = [DHCP_IP, "fd00:77::2"]
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    assert tn.run_dhclient6(host.res, a.netns, "eth0", timeout=8) is None
    host.server.ports[a.port_id]["dhcp_server_ips"] = [DHCP_IP, "fd00:77::2", link_local]
    host.sync.port_updated(a.port_id)  # type: ignore[union-attr]
    host.enforce()
    lease = tn.run_dhclient6(host.res, a.netns, "eth0")
    if lease is None:
        print(Path(conf, "log").read_text())  # what dnsmasq heard and said, on failure
    assert lease is not None and lease.ip == "fd00:77::150"


def test_a_restart_that_finds_the_right_rules_changes_nothing(host: Host) -> None:
    host.vm("a", 1, ["sg-a"])
    host.vm("b", 2, ["sg-b"])
    host.server.rules = {"sg-a": [sg_rule("sg-a", remote_group="sg-b")],
                         "sg-b": [sg_rule("sg-b", protocol="tcp", low=22, high=22)]}
    host.enforce()
    before = host.iptables_save()
    assert host.sync is not None and host.sync.applied_changes == 1

    host.sync = SecurityGroupSync(IptablesFirewall(HostNamespaces(host.netns)), host.server)
    host.sync.sync({vm.tap: vm.port_id for vm in host.vms.values()}, full=True)
    assert host.sync.applied_changes == 0

    # A hand-made change to one chain is repaired by the next full sync, alone.
    subprocess.run(["nsenter", f"--net={host.netns}", "iptables", "-I",
                    port_chain("i", host.vms["b"].tap), "1", "-j", "ACCEPT"], check=True)
    host.sync.sync({vm.tap: vm.port_id for vm in host.vms.values()}, full=True)
    assert host.sync.applied_changes == 1
    strip = [line for line in before.splitlines() if not line.startswith("#")]
    assert [line for line in host.iptables_save().splitlines()
            if not line.startswith("#")] == strip
