"""Security group rules planned from the server's data, and the difference applied."""

from __future__ import annotations

from typing import Any

import pytest
from support.secgroups import sg_port, sg_rule

from neutrino.agent.linuxbridge.firewall_diff import (
    Installed,
    InstalledChain,
    applied,
    diff,
    installed_from,
    ipset_text,
    restore_text,
)
from neutrino.agent.linuxbridge.firewall_plan import (
    ARP_CHAIN,
    EB,
    IPV4,
    IPV6,
    SG_CHAIN,
    IpSet,
    Ruleset,
    plan_ruleset,
    port_chain,
    set_name,
)

TAP = "tapaaaaaaaa-bb"


def chain(ruleset: Any, kind: str, family: str = IPV4, tap: str = TAP) -> tuple[str, ...]:
    rules: tuple[str, ...] = ruleset.chains[(family, port_chain(kind, tap))]
    return rules


def plan(rules: list[dict[str, Any]], **port: Any) -> Any:
    entry = sg_port("aaaaaaaa-bbbb", port.pop("ips", ["10.0.0.5"]), ["sg1"], **port)
    return plan_ruleset({TAP: entry}, {"sg1": rules}, {"sg1": {"IPv4": ["10.0.0.5"]}})


def test_rules_become_iptables_matches_in_the_port_chains() -> None:
    ruleset = plan([
        sg_rule("sg1", protocol="tcp", low=22, high=22),
        sg_rule("sg1", protocol="udp", low=1000, high=2000, prefix="192.168.1.7"),
        sg_rule("sg1", protocol="icmp", low=8, high=0),
        sg_rule("sg1", protocol="icmp", low=3),
        sg_rule("sg1", protocol="132"),
        sg_rule("sg1", direction="egress"),
        sg_rule("sg1", protocol="tcp", low=80, high=80, ethertype=IPV6),
    ])
    ingress = chain(ruleset, "i")
    assert ingress[:2] == ("-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
                           "-m conntrack --ctstate INVALID -j DROP")
    assert ingress[-6:] == (
        "-p tcp -m tcp --dport 22 -j RETURN",
        "-s 192.168.1.7/32 -p udp -m udp --dport 1000:2000 -j RETURN",
        "-p icmp -m icmp --icmp-type 8/0 -j RETURN",
        "-p icmp -m icmp --icmp-type 3 -j RETURN",
        "-p sctp -j RETURN",
        "-j DROP")
    assert chain(ruleset, "o")[-2:] == ("-j RETURN", "-j DROP")
    assert "-p tcp -m tcp --dport 80 -j RETURN" in chain(ruleset, "i", IPV6)
    assert "-p tcp -m tcp --dport 80 -j RETURN" not in ingress


def test_a_remote_group_rule_matches_one_set_per_group_and_ethertype() -> None:
    ruleset = plan_ruleset(
        {TAP: sg_port("aaaaaaaa-bbbb", ["10.0.0.5"], ["sg1"])},
        {"sg1": [sg_rule("sg1", remote_group="sg2"),
                 sg_rule("sg1", remote_group="sg2", ethertype=IPV6)]},
        {"sg2": {"IPv4": ["10.0.0.7", "10.0.0.8", "10.0.9.0/24"], "IPv6": ["fd00::7"]}})
    name4, name6 = set_name("sg2", IPV4), set_name("sg2", IPV6)
    assert f"-m set --match-set {name4} src -j RETURN" in chain(ruleset, "i")
    assert f"-m set --match-set {name6} src -j RETURN" in chain(ruleset, "i", IPV6)
    assert ruleset.sets == {
        name4: IpSet(IPV4, frozenset({"10.0.0.7", "10.0.0.8", "10.0.9.0/24"})),
        name6: IpSet(IPV6, frozenset({"fd00::7"}))}
    assert len(name4) <= 31


def test_anti_spoofing_allows_the_fixed_ips_and_the_allowed_pairs_only() -> None:
    ruleset = plan([], ips=["10.0.0.5"], pairs=[
        {"ip_address": "10.0.0.99"},
        {"ip_address": "10.1.0.0/16", "mac_address": "fa:16:3e:00:00:99"}])
    assert chain(ruleset, "s") == (
        "-s 10.0.0.5/32 -m mac --mac-source FA:16:3E:00:00:01 -j RETURN",
        "-s 10.0.0.99/32 -m mac --mac-source FA:16:3E:00:00:01 -j RETURN",
        "-s 10.1.0.0/16 -m mac --mac-source FA:16:3E:00:00:99 -j RETURN",
        "-j DROP")
    # The EUI-64 link-local address of fa:16:3e:00:00:01
    assert chain(ruleset, "s", IPV6)[0] == \
        "-s fe80::f816:3eff:fe00:1/128 -m mac --mac-source FA:16:3E:00:00:01 -j RETURN"


def test_dhcp_requests_go_out_and_replies_come_only_from_the_dhcp_ports() -> None:
    ruleset = plan([sg_rule("sg1", protocol="udp", low=68, high=68)],
                   dhcp=["10.0.0.2", "10.0.0.3"])
    egress, ingress = chain(ruleset, "o"), chain(ruleset, "i")
    assert egress[0].startswith("-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp")
    assert egress.index(f"-j {port_chain('s', TAP)}") == 1
    assert "-p udp -m udp --sport 67 --dport 68 -j DROP" in egress  # no DHCP server in VMs
    servers = [ingress.index(f"-s {ip}/32 -p udp -m udp --sport 67 --dport 68 -j RETURN")
               for ip in ("10.0.0.2", "10.0.0.3")]
    refuse = ingress.index("-p udp -m udp --sport 67 --dport 68 -j DROP")
    allow_68 = ingress.index("-p udp -m udp --dport 68 -j RETURN")
    assert max(servers) < refuse < allow_68  # a group rule cannot let a rogue server in


def test_a_port_without_port_security_gets_no_chains() -> None:
    ruleset = plan_ruleset({TAP: sg_port("aaaaaaaa-bbbb", ["10.0.0.5"], ["sg1"],
                                         port_security=False)}, {}, {})
    assert sorted(ruleset.chains) == sorted(
        [(f, c) for f in (IPV4, IPV6)
         for c in ("neutrino-sg-fwd", "neutrino-sg-chain", "neutrino-sg-in")]
        + [(EB, ARP_CHAIN)])
    assert ruleset.chains[(IPV4, SG_CHAIN)] == ("-j ACCEPT",)
    assert ruleset.chains[(EB, ARP_CHAIN)] == ()


def test_stateless_groups_get_no_connection_tracking_rules() -> None:
    entry = sg_port("aaaaaaaa-bbbb", ["10.0.0.5"], ["sg1"])
    ruleset = plan_ruleset({TAP: entry}, {"sg1": [sg_rule("sg1", protocol="tcp")]}, {},
                           stateful={"sg1": False})
    assert not any("conntrack" in rule for rule in chain(ruleset, "i") + chain(ruleset, "o"))


@pytest.mark.parametrize("protocol", ["tcp; rm -rf /", "-j ACCEPT", "a b"])
def test_strange_protocols_never_reach_iptables(protocol: str) -> None:
    ruleset = plan([sg_rule("sg1", protocol=protocol)])
    assert chain(ruleset, "i")[-1] == "-j DROP"
    assert not any(protocol in rule for rule in chain(ruleset, "i"))


def test_a_bad_mac_is_refused_rather_than_written() -> None:
    with pytest.raises(ValueError):
        plan([], mac="fa:16:3e:00:00:01 -j ACCEPT")


def test_the_diff_rewrites_only_the_chains_that_changed() -> None:
    before = plan([sg_rule("sg1", protocol="tcp", low=22, high=22)])
    installed = applied(Installed(), before)
    assert diff(before, installed).empty

    after = plan([sg_rule("sg1", protocol="tcp", low=22, high=22),
                  sg_rule("sg1", protocol="tcp", low=80, high=80)])
    changes = diff(after, installed)
    assert {c for f in changes.write_chains.values() for c in f} == {port_chain("i", TAP)}
    assert not changes.delete_chains and not changes.add_hooks
    text = restore_text(changes, IPV4)
    assert text.startswith(f"*filter\n:{port_chain('i', TAP)} - [0:0]\n")
    assert "-A nsg-i-aaaaaaaa-bb -p tcp -m tcp --dport 80 -j RETURN" in text
    assert "FORWARD" not in text


def test_a_vanished_port_loses_its_chains_and_unused_sets_go() -> None:
    with_port = plan_ruleset(
        {TAP: sg_port("aaaaaaaa-bbbb", ["10.0.0.5"], ["sg1"])},
        {"sg1": [sg_rule("sg1", remote_group="sg1")]}, {"sg1": {"IPv4": ["10.0.0.5"]}})
    changes = diff(plan_ruleset({}, {}, {}), applied(Installed(), with_port))
    assert set(changes.delete_chains[IPV4]) == {port_chain(k, TAP) for k in "ios"}
    assert changes.destroy_sets == (set_name("sg1", IPV4),)
    text = restore_text(changes, IPV4)
    # Emptied (by the declaration) before deleted, and the top chains rewritten first.
    assert text.index(":nsg-i-aaaaaaaa-bb - [0:0]") < text.index("-X nsg-i-aaaaaaaa-bb")


def test_set_members_are_added_and_removed_one_by_one() -> None:
    name = set_name("sg2", IPV4)
    installed = Installed(sets={name: IpSet(IPV4, frozenset({"10.0.0.7", "10.0.0.8"}))})
    desired_sets = {name: IpSet(IPV4, frozenset({"10.0.0.8", "10.0.0.9"}))}
    changes = diff(Ruleset({}, desired_sets), installed)
    assert changes.add_members == ((name, "10.0.0.9"),)
    assert changes.remove_members == ((name, "10.0.0.7"),)
    assert ipset_text(changes) == f"add {name} 10.0.0.9\ndel {name} 10.0.0.7\n"


def test_installed_state_is_read_back_from_the_tools_output() -> None:
    ruleset = plan([sg_rule("sg1", protocol="tcp", low=22, high=22)])
    desired_chain = ruleset.chains[(IPV4, port_chain("i", TAP))]
    changes = diff(ruleset, Installed())
    save = restore_text(changes, IPV4).replace("-I FORWARD 1 ", "-A FORWARD ").replace(
        "-I INPUT 1 ", "-A INPUT ")
    save = save.replace("*filter\n", "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
                        ":OTHER - [0:0]\n-A OTHER -j ACCEPT\n")
    installed = installed_from({IPV4: save, IPV6: ""},
                               "create nsg4-x hash:net family inet hashsize 1024\n"
                               "add nsg4-x 10.0.0.5\ncreate other hash:ip\n")
    assert installed.chains[(IPV4, port_chain("i", TAP))] == InstalledChain(
        diff(ruleset, Installed()).write_chains[IPV4][port_chain("i", TAP)][0]
        .split("neutrino:")[1].rstrip('"'), len(desired_chain))
    assert (IPV4, "OTHER") not in installed.chains
    assert installed.hooks == {(IPV4, "FORWARD"), (IPV4, "INPUT")}
    assert installed.sets == {"nsg4-x": IpSet(IPV4, frozenset({"10.0.0.5"}))}
    assert diff(ruleset, installed).write_chains.keys() == {IPV6, EB}


def test_the_networks_own_ports_are_trusted() -> None:
    dhcp = dict(sg_port("dddddddd-0000", ["10.0.0.2"], []), device_owner="network:dhcp")
    ruleset = plan_ruleset({"tapdddddddd-00": dhcp}, {}, {})
    assert ruleset.chains[(IPV4, SG_CHAIN)] == ("-j ACCEPT",)


def test_layer2_allows_arp_and_frames_only_from_the_ports_addresses() -> None:
    ruleset = plan([], ips=["10.0.0.5"], pairs=[
        {"ip_address": "10.1.0.0/16", "mac_address": "fa:16:3e:00:00:99"}])
    assert ruleset.chains[(EB, ARP_CHAIN)] == (f"-i {TAP} -j {port_chain('a', TAP)}",)
    assert ruleset.chains[(EB, port_chain("a", TAP))] == (
        "-p ARP -s fa:16:3e:00:00:01 --arp-ip-src 0.0.0.0 --arp-mac-src fa:16:3e:00:00:01 "
        "-j RETURN",
        "-p ARP -s fa:16:3e:00:00:01 --arp-ip-src 10.0.0.5 --arp-mac-src fa:16:3e:00:00:01 "
        "-j RETURN",
        "-p ARP -s fa:16:3e:00:00:99 --arp-ip-src 10.1.0.0/16 --arp-mac-src "
        "fa:16:3e:00:00:99 -j RETURN",
        "-p ARP -j DROP",
        "-s fa:16:3e:00:00:01 -j RETURN",
        "-s fa:16:3e:00:00:99 -j RETURN",
        "-j DROP")
    changes = diff(ruleset, Installed())
    text = restore_text(changes, EB)
    assert f":{port_chain('a', TAP)} RETURN" in text
    assert "-I FORWARD 1 -j neutrino-arp" in text and "comment" not in text
