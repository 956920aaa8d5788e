"""Security group sync in the agent's loop: casts mark work, only the affected devices are
asked for, only the difference is applied; with fakes at the RPC and iptables boundaries."""

from __future__ import annotations

from support.secgroups import FakeSecurityGroupPlugin, sg_port, sg_rule

from neutrino.agent.linuxbridge.agent import LinuxBridgeAgent
from neutrino.agent.linuxbridge.firewall_diff import Installed
from neutrino.agent.linuxbridge.firewall_flows import Flow, conntrack_filter
from neutrino.agent.linuxbridge.firewall_plan import IPV4, port_chain, set_name
from neutrino.agent.linuxbridge.security_groups import SecurityGroupSync
from neutrino.conf.settings import AgentSettings, LinuxBridgeSettings

from .fakes import FakeFirewall, FakeHostLinks, FakeL2Plugin, port
from .test_agent import NET1, NoReports, eth0

TAP_A, TAP_B = "tapaaaaaaaa-aa", "tapbbbbbbbb-bb"
PORT_A, PORT_B = "aaaaaaaa-aa-rest", "bbbbbbbb-bb-rest"


def world() -> tuple[SecurityGroupSync, FakeFirewall, FakeSecurityGroupPlugin]:
    plugin = FakeSecurityGroupPlugin()
    plugin.ports[PORT_A] = sg_port(PORT_A, ["10.0.0.5"], ["sg1"])
    plugin.ports[PORT_B] = sg_port(PORT_B, ["10.0.0.6"], ["sg2"], mac="fa:16:3e:00:00:02")
    plugin.rules = {"sg1": [sg_rule("sg1", remote_group="sg1")],
                    "sg2": [sg_rule("sg2", protocol="tcp", low=22, high=22)]}
    firewall = FakeFirewall()
    return SecurityGroupSync(firewall, plugin), firewall, plugin


DEVICES = {TAP_A: PORT_A, TAP_B: PORT_B}


def test_a_pass_with_nothing_dirty_asks_nothing_and_changes_nothing() -> None:
    sync, firewall, plugin = world()
    assert sync.sync(DEVICES, full=True) == {TAP_A, TAP_B}
    assert plugin.calls == [[PORT_A, PORT_B]] and len(firewall.applied) == 1
    sync.sync(DEVICES)
    assert plugin.calls == [[PORT_A, PORT_B]] and len(firewall.applied) == 1
    assert firewall.reads == 1  # what is installed is known after applying


def test_a_rule_update_refetches_only_the_devices_in_that_group() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    plugin.rules["sg2"].append(sg_rule("sg2", protocol="tcp", low=80, high=80))
    sync.rule_updated(["sg2"])
    sync.sync(DEVICES)
    assert plugin.calls[-1] == [PORT_B]
    changes = firewall.applied[-1]
    assert {c for f in changes.write_chains.values() for c in f} == {port_chain("i", TAP_B)}


def test_a_member_update_changes_only_the_set() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    # A port on another host joins sg1, which A's rule names as remote.
    plugin.ports["cccc-elsewhere"] = sg_port("cccc-elsewhere", ["10.0.0.7"], ["sg1"])
    sync.member_updated(["sg1"])
    sync.sync(DEVICES)
    assert plugin.calls[-1] == [PORT_A]  # B neither is in sg1 nor refers to it
    assert firewall.state.sets[set_name("sg1", IPV4)].members == {"10.0.0.5", "10.0.0.7"}
    changes = firewall.applied[-1]
    assert changes.add_members == ((set_name("sg1", IPV4), "10.0.0.7"),)
    assert not changes.write_chains and not changes.remove_members


def test_a_port_joining_a_group_is_refetched_on_its_port_update() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    plugin.ports[PORT_B]["security_groups"] = ["sg2", "sg1"]
    sync.member_updated(["sg1"])
    sync.port_updated(PORT_B)  # the server casts both
    sync.sync(DEVICES)
    assert plugin.calls[-1] == [PORT_A, PORT_B]
    assert firewall.state.sets[set_name("sg1", IPV4)].members == {"10.0.0.5", "10.0.0.6"}


def test_a_port_update_refetches_that_port() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    plugin.ports[PORT_A]["allowed_address_pairs"] = [{"ip_address": "10.0.0.50"}]
    sync.port_updated(PORT_A)
    sync.sync(DEVICES)
    assert plugin.calls[-1] == [PORT_A]
    changes = firewall.applied[-1]
    assert changes.write_chains[IPV4].keys() == {port_chain("s", TAP_A)}


def test_a_restart_that_finds_the_right_rules_changes_nothing() -> None:
    sync, firewall, _ = world()
    sync.sync(DEVICES, full=True)
    again = SecurityGroupSync(firewall, world()[2])
    again.sync(DEVICES, full=True)
    assert len(firewall.applied) == 1


def test_a_failed_fetch_keeps_the_work_for_the_next_pass() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    plugin.rules["sg2"] = []
    sync.rule_updated(["sg2"])
    plugin.broken = True
    try:
        sync.sync(DEVICES)
    except ConnectionError:
        pass
    plugin.broken = False
    sync.sync(DEVICES)
    assert "-p tcp -m tcp --dport 22 -j RETURN" not in "".join(
        str(c) for c in firewall.applied[-1].write_chains[IPV4].values())
    assert plugin.calls[-1] == [PORT_B]


def test_a_failed_apply_reads_the_host_again() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    firewall.broken = True
    plugin.rules["sg2"] = []
    sync.rule_updated(["sg2"])
    try:
        sync.sync(DEVICES)
    except OSError:
        pass
    firewall.broken = False
    reads = firewall.reads
    sync.sync(DEVICES)
    assert firewall.reads == reads + 1 and firewall.applied


def test_a_device_unknown_to_the_server_is_not_filtered_and_asked_again() -> None:
    sync, firewall, plugin = world()
    del plugin.ports[PORT_B]
    assert sync.sync(DEVICES, full=True) == {TAP_A}
    plugin.ports[PORT_B] = sg_port(PORT_B, ["10.0.0.6"], ["sg2"])
    assert sync.sync(DEVICES) == {TAP_A, TAP_B}
    assert plugin.calls[-1] == [PORT_B]


def make_agent(host: FakeHostLinks, l2: FakeL2Plugin,
               sync: SecurityGroupSync) -> LinuxBridgeAgent:
    settings = LinuxBridgeSettings(AgentSettings("HostA", "/tmp/unused"),
                                   interface_mappings={"physnet1": "eth0"},
                                   firewall_driver="iptables")
    return LinuxBridgeAgent(settings, host, l2, NoReports(), security_groups=sync)


def test_a_tap_is_plugged_and_reported_up_only_once_its_filter_is_in_place() -> None:
    sync, firewall, plugin = world()
    host = FakeHostLinks(eth0())
    host.add_tap(TAP_A)
    l2 = FakeL2Plugin({TAP_A: dict(port(TAP_A, NET1), port_id=PORT_A)})
    agent = make_agent(host, l2, sync)
    plugin.broken = True
    agent.reconcile_once(full=True, resync=True)
    assert host.state[TAP_A].master is None and ("up", TAP_A) not in l2.calls

    plugin.broken = False
    agent.reconcile_once()
    assert host.state[TAP_A].master is not None and ("up", TAP_A) in l2.calls
    assert (IPV4, port_chain("i", TAP_A)) in firewall.state.chains


def test_casts_reach_the_sync_through_the_agent() -> None:
    sync, firewall, plugin = world()
    host = FakeHostLinks(eth0())
    host.add_tap(TAP_A)
    l2 = FakeL2Plugin({TAP_A: dict(port(TAP_A, NET1), port_id=PORT_A)})
    agent = make_agent(host, l2, sync)
    agent.reconcile_once(full=True, resync=True)
    calls = len(plugin.calls)
    agent.security_groups_rule_updated(["sg-other"])
    agent.reconcile_once()
    assert len(plugin.calls) == calls  # not a group of this host's ports
    agent.port_update({"id": PORT_A})
    agent.reconcile_once()
    assert plugin.calls[-1] == [PORT_A]
    assert firewall.state != Installed()


def test_the_networks_own_taps_are_plugged_without_asking_for_groups() -> None:
    sync, _, plugin = world()
    host = FakeHostLinks(eth0())
    host.add_tap("tapdddddddd-dd")
    l2 = FakeL2Plugin({"tapdddddddd-dd": dict(port("tapdddddddd-dd", NET1),
                                              device_owner="network:dhcp")})
    agent = make_agent(host, l2, sync)
    plugin.broken = True  # not even asked
    agent.reconcile_once(full=True, resync=True)
    assert host.state["tapdddddddd-dd"].master is not None
    assert plugin.calls == []


def test_connections_a_removed_rule_allowed_are_forgotten_after_the_new_rules() -> None:
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    assert firewall.forgotten == []
    plugin.rules["sg2"] = []  # the tcp/22 rule goes
    sync.rule_updated(["sg2"])
    sync.sync(DEVICES)
    assert firewall.forgotten == [Flow(IPV4, "ingress", "10.0.0.6", "tcp", 22)]
    assert conntrack_filter(firewall.forgotten[0]) == [
        "-f", "ipv4", "-d", "10.0.0.6", "-p", "tcp", "--dport", "22"]


def test_connections_from_a_member_that_left_the_remote_group_are_forgotten() -> None:
    sync, firewall, plugin = world()
    plugin.ports[PORT_B]["security_groups"] = ["sg2", "sg1"]
    sync.sync(DEVICES, full=True)
    plugin.ports[PORT_B]["security_groups"] = ["sg2"]  # B leaves sg1
    sync.member_updated(["sg1"])
    sync.port_updated(PORT_B)
    sync.sync(DEVICES)
    # A's rule lets sg1 in: B's address no longer; B lost sg1's own rule.
    assert Flow(IPV4, "ingress", "10.0.0.5", None, None, "10.0.0.6") in firewall.forgotten
    assert Flow(IPV4, "ingress", "10.0.0.6", None, None, None) in firewall.forgotten
    assert conntrack_filter(Flow(IPV4, "egress", "10.0.0.5", "icmp", None, "10.0.0.9")) == [
        "-f", "ipv4", "-s", "10.0.0.5", "-d", "10.0.0.9", "-p", "icmp"]


def test_a_member_update_refetches_the_ports_in_the_group_for_their_dhcp_servers() -> None:
    # The server casts member_updated for a network's groups when its DHCP ports change.
    sync, firewall, plugin = world()
    sync.sync(DEVICES, full=True)
    plugin.ports[PORT_B]["dhcp_server_ips"] = ["10.0.0.3"]
    sync.member_updated(["sg2"])
    sync.sync(DEVICES)
    assert plugin.calls[-1] == [PORT_B]
    ingress = firewall.applied[-1].write_chains[IPV4][port_chain("i", TAP_B)]
    assert "-s 10.0.0.3/32 -p udp -m udp --sport 67 --dport 68 -j RETURN" in ingress
