"""Security groups on a Linux bridge host, decided: the ruleset the ports need. Pure
functions.

Why iptables through br_netfilter and not nftables' bridge family: filtering "as the rules
say" must be stateful (replies to allowed traffic pass, nothing else), and conntrack in the
bridge family needs `nf_conntrack_bridge`, which kernels may lack (this project's CI kernel
has it off) while br_netfilter's iptables path tracks connections on any kernel with
iptables. Neutron enforced groups the same way with Linux bridge, so operators know what
they see in `iptables-save`.

The ruleset, per address family (iptables and ip6tables, filter table):

    FORWARD -> neutrino-sg-fwd: every bridged frame from or to a filtered tap
                 -> neutrino-sg-chain: the tap's ingress chain (frames to it) and
                    egress chain (frames from it), each returning when allowed; ACCEPT
    INPUT   -> neutrino-sg-in: frames from a filtered tap to the host itself -> its egress
               chain
    nsg-i-<tap>: established/related back, DHCP replies only from the network's DHCP
                 ports, the groups' ingress rules, else DROP
    nsg-o-<tap>: DHCP requests out, then anti-spoofing (nsg-s-<tap>: source MAC + fixed IPs
                 + allowed address pairs), no DHCP server or router advertisements from the
                 VM, established/related back, the groups' egress rules, else DROP

A frame between two filtered taps passes the sender's egress and the receiver's ingress
chain. `remote_group_id` rules match an ipset per (group, ethertype) whose members follow
the group; one rule per rule, never one per member. ARP and every other non-IP frame are
checked at layer 2 by ebtables (stateless, no conntrack needed): `FORWARD`/`INPUT` ->
neutrino-arp -> nsg-a-<tap>: ARP only with the port's (or an allowed pair's) IP and MAC,
other frames only from its MACs.

What is installed and the difference from this plan: `firewall_diff`; the connections
removed rules had allowed: `firewall_flows`; applying both: `firewall.IptablesFirewall`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neutrino.lib import constants

IPV4, IPV6 = "IPv4", "IPv6"
FAMILIES = (IPV4, IPV6)
EB = "ebtables"  # the layer 2 table, a "family" of its own in the ruleset
TABLE_FAMILIES = (IPV4, IPV6, EB)

FWD_CHAIN = "neutrino-sg-fwd"
SG_CHAIN = "neutrino-sg-chain"
INPUT_CHAIN = "neutrino-sg-in"
ARP_CHAIN = "neutrino-arp"
TOP_CHAINS = (FWD_CHAIN, SG_CHAIN, INPUT_CHAIN, ARP_CHAIN)
PORT_CHAIN_PREFIX = "nsg-"
SET_PREFIX = "nsg"
# builtin chain -> our chain it jumps to first
HOOKS = {"FORWARD": FWD_CHAIN, "INPUT": INPUT_CHAIN}
EB_HOOKS = {"FORWARD": ARP_CHAIN, "INPUT": ARP_CHAIN}
PROTOCOL_NAMES = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "132": "sctp"}
PORT_PROTOCOLS = {"tcp", "udp", "sctp"}
_ICMP6_NAMES = {"icmp", "icmpv6", "ipv6-icmp"}


def hooks(family: str) -> dict[str, str]:
    return EB_HOOKS if family == EB else HOOKS


@dataclass(frozen=True)
class IpSet:
    family: str  # IPV4 / IPV6
    members: frozenset[str]


@dataclass(frozen=True)
class Ruleset:
    """What a host's firewall should hold (desired) or holds (installed)."""

    # (family, chain) -> rules, each the arguments after "-A <chain>"
    chains: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    sets: Mapping[str, IpSet] = field(default_factory=dict)


# -- names ----------------------------------------------------------------------------

def port_chain(kind: str, tap: str) -> str:
    """`kind`: i (ingress, to the VM), o (egress, from it), s (its allowed sources),
    a (its layer 2: ARP and other frames)."""
    return f"{PORT_CHAIN_PREFIX}{kind}-{tap.removeprefix('tap')}"


def set_name(group_id: str, ethertype: str) -> str:
    # ipset names are at most 31 characters; 26 of a UUID do not collide in practice.
    return f"{SET_PREFIX}{4 if ethertype == IPV4 else 6}-{group_id[:26]}"


def is_managed_chain(name: str) -> bool:
    return name in TOP_CHAINS or name.startswith(PORT_CHAIN_PREFIX)


def is_managed_set(name: str) -> bool:
    return name.startswith((f"{SET_PREFIX}4-", f"{SET_PREFIX}6-"))


# -- addresses --------------------------------------------------------------------------

def family_of(address: str) -> str | None:
    try:
        net = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return None
    return IPV4 if net.version == 4 else IPV6


def canonical_member(address: str) -> str:
    """How ipset prints a hash:net member: a host without its prefix length."""
    net = ipaddress.ip_network(address, strict=False)
    if net.prefixlen == net.max_prefixlen:
        return str(net.network_address)
    return str(net)


def _cidr(address: str) -> str:
    net = ipaddress.ip_network(address, strict=False)
    return str(net)


def _link_local(mac: str) -> str:
    """The EUI-64 link-local address a VM derives from its MAC."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


def _mac(mac: str) -> str:
    value = mac.strip().lower()
    parts = value.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and int(p, 16) >= 0 for p in parts):
        raise ValueError(f"bad MAC address {mac!r}")
    return value


# -- rules --------------------------------------------------------------------------------

def _protocol_args(rule: Mapping[str, Any], family: str) -> list[str] | None:
    """The match for a rule's protocol and ports; None: the rule cannot apply to `family`."""
    proto = rule.get("protocol")
    if proto is None or proto == "" or proto == "any":
        return []
    proto = str(proto).lower()
    proto = PROTOCOL_NAMES.get(proto, proto)
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if proto in _ICMP6_NAMES and family == IPV6:
        args = ["-p", "ipv6-icmp"]
        if low is not None:
            kind = f"{int(low)}/{int(high)}" if high is not None else str(int(low))
            args += ["-m", "icmp6", "--icmpv6-type", kind]
        return args
    if proto in ("icmpv6", "ipv6-icmp") and family == IPV4:
        return None
    if proto == "icmp":
        args = ["-p", "icmp"]
        if low is not None:
            kind = f"{int(low)}/{int(high)}" if high is not None else str(int(low))
            args += ["-m", "icmp", "--icmp-type", kind]
        return args
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", proto):
        return None  # never let a strange name reach iptables
    args = ["-p", proto]
    if proto in PORT_PROTOCOLS and (low is not None or high is not None):
        first = int(low if low is not None else 1)
        last = int(high if high is not None else 65535)
        span = str(first) if first == last else f"{first}:{last}"
        args += ["-m", proto, "--dport", span]
    return args


def _rule_args(rule: Mapping[str, Any], family: str, chain_direction: str) -> str | None:
    """One group rule in a port's chain, or None when it does not apply there."""
    if rule.get("direction") != chain_direction or rule.get("ethertype", IPV4) != family:
        return None
    proto = _protocol_args(rule, family)
    if proto is None:
        return None
    # Ingress rules name where traffic comes from, egress rules where it goes.
    side = "-s" if chain_direction == "ingress" else "-d"
    set_side = "src" if chain_direction == "ingress" else "dst"
    remote: list[str] = []
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        if family_of(prefix) != family:
            return None
        remote = [side, _cidr(prefix)]
    elif rule.get("remote_group_id"):
        remote = ["-m", "set", "--match-set", set_name(rule["remote_group_id"], family),
                  set_side]
    return " ".join([*remote, *proto, "-j", "RETURN"])


def _established(stateful: bool) -> list[str]:
    if not stateful:
        return []
    return ["-m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
            "-m conntrack --ctstate INVALID -j DROP"]


def _ingress_chain(port: Mapping[str, Any], rules: Sequence[Mapping[str, Any]], family: str,
                   stateful: bool) -> list[str]:
    out = _established(stateful)
    dhcp_servers = sorted({_cidr(ip) for ip in port.get("dhcp_server_ips") or ()
                           if family_of(ip) == family})
    if family == IPV4:
        out += [f"-s {ip} -p udp -m udp --sport 67 --dport 68 -j RETURN" for ip in dhcp_servers]
        out.append("-p udp -m udp --sport 67 --dport 68 -j DROP")
    else:
        out += [f"-s {ip} -p udp -m udp --sport 547 --dport 546 -j RETURN"
                for ip in dhcp_servers]
        out.append("-p udp -m udp --sport 547 --dport 546 -j DROP")
        # Neighbour discovery, MLD and router advertisements: IPv6 does not work without.
        out += [f"-p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN"
                for t in (130, 131, 132, 134, 135, 136, 143)]
    out += _group_rules(rules, family, "ingress")
    out.append("-j DROP")
    return out


def _group_rules(rules: Sequence[Mapping[str, Any]], family: str, direction: str) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for rule in rules:
        args = _rule_args(rule, family, direction)
        if args is not None and args not in seen:
            seen.add(args)
            out.append(args)
    return out


def _sources(port: Mapping[str, Any], family: str) -> list[tuple[str, str]]:
    """(source prefix, MAC) pairs the VM may send from."""
    mac = _mac(port["mac_address"])
    pairs = [(_cidr(ip), mac) for ip in port.get("fixed_ips") or () if family_of(ip) == family]
    for pair in port.get("allowed_address_pairs") or ():
        address = pair.get("ip_address")
        if address and family_of(address) == family:
            pairs.append((_cidr(address), _mac(pair.get("mac_address") or mac)))
    if family == IPV6:
        pairs.append((_link_local(mac) + "/128", mac))
    return sorted(set(pairs))


def _spoof_chain(port: Mapping[str, Any], family: str) -> list[str]:
    rules = [f"-s {prefix} -m mac --mac-source {mac.upper()} -j RETURN"
             for prefix, mac in _sources(port, family)]
    rules.append("-j DROP")
    return rules


def _egress_chain(port: Mapping[str, Any], tap: str, rules: Sequence[Mapping[str, Any]],
                  family: str, stateful: bool) -> list[str]:
    mac = _mac(port["mac_address"]).upper()
    if family == IPV4:
        # A DHCP client has no address yet; its requests always go out.
        out = [f"-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m mac --mac-source {mac} "
               "-m udp --sport 68 --dport 67 -j RETURN"]
    else:
        # Before it has an address: router solicitations, neighbour solicitations for
        # duplicate address detection, MLD reports.
        out = [f"-s ::/128 -p ipv6-icmp -m mac --mac-source {mac} -m icmp6 --icmpv6-type "
               f"{t} -j RETURN" for t in (133, 135, 143)]
    out.append(f"-j {port_chain('s', tap)}")
    if family == IPV4:
        out.append("-p udp -m udp --sport 68 --dport 67 -j RETURN")
        out.append("-p udp -m udp --sport 67 --dport 68 -j DROP")
    else:
        out.append("-p udp -m udp --sport 546 --dport 547 -j RETURN")
        out.append("-p udp -m udp --sport 547 --dport 546 -j DROP")
        out.append("-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP")  # a rogue router
        out += [f"-p ipv6-icmp -m icmp6 --icmpv6-type {t} -j RETURN"
                for t in (130, 131, 132, 133, 135, 136, 143)]
    out += _established(stateful)
    out += _group_rules(rules, family, "egress")
    out.append("-j DROP")
    return out


def trusted(port: Mapping[str, Any]) -> bool:
    """The network's own ports (DHCP, router: `network:*` owners), which Neutron trusts:
    they answer every VM."""
    return constants.is_network_owned(port.get("device_owner"))


def filtered(port: Mapping[str, Any]) -> bool:
    """Ports without port security get no chains at all (the contract sends them without
    groups), nor do trusted ones."""
    if trusted(port):
        return False
    return bool(port.get("port_security_enabled", True)) and bool(port.get("mac_address"))


def plan_ruleset(ports: Mapping[str, Mapping[str, Any]],
                 group_rules: Mapping[str, Sequence[Mapping[str, Any]]],
                 member_ips: Mapping[str, Mapping[str, Sequence[str]]],
                 stateful: Mapping[str, bool] | None = None) -> Ruleset:
    """The ruleset for `ports` (tap -> the port's entry of `security_group_info_for_devices`),
    with the groups' rules, the remote groups' members and which groups are stateful
    (default: all). A port is stateful when any of its groups is."""
    stateful = stateful or {}
    chains: dict[tuple[str, str], tuple[str, ...]] = {}
    sets: dict[str, IpSet] = {}
    for family in FAMILIES:
        fwd: list[str] = []
        sg: list[str] = []
        inp: list[str] = []
        for tap in sorted(ports):
            port = ports[tap]
            if not filtered(port):
                continue
            groups = list(port.get("security_groups") or ())
            rules = [r for g in groups for r in group_rules.get(g, ())]
            is_stateful = not groups or any(stateful.get(g, True) for g in groups)
            ingress, egress = port_chain("i", tap), port_chain("o", tap)
            fwd.append(f"-m physdev --physdev-out {tap} --physdev-is-bridged -j {SG_CHAIN}")
            fwd.append(f"-m physdev --physdev-in {tap} --physdev-is-bridged -j {SG_CHAIN}")
            sg.append(f"-m physdev --physdev-out {tap} --physdev-is-bridged -j {ingress}")
            sg.append(f"-m physdev --physdev-in {tap} --physdev-is-bridged -j {egress}")
            inp.append(f"-m physdev --physdev-in {tap} -j {egress}")
            chains[(family, ingress)] = tuple(_ingress_chain(port, rules, family, is_stateful))
            chains[(family, egress)] = tuple(_egress_chain(port, tap, rules, family,
                                                           is_stateful))
            chains[(family, port_chain("s", tap))] = tuple(_spoof_chain(port, family))
            for rule in rules:
                remote = rule.get("remote_group_id")
                if remote and not rule.get("remote_ip_prefix") and \
                        rule.get("ethertype", IPV4) == family:
                    members = (member_ips.get(remote) or {}).get(family) or ()
                    sets[set_name(remote, family)] = IpSet(family, frozenset(
                        canonical_member(m) for m in members if family_of(m) == family))
        sg.append("-j ACCEPT")
        chains[(family, FWD_CHAIN)] = tuple(fwd)
        chains[(family, SG_CHAIN)] = tuple(sg)
        chains[(family, INPUT_CHAIN)] = tuple(inp)
    arp: list[str] = []
    for tap in sorted(ports):
        if filtered(ports[tap]):
            arp.append(f"-i {tap} -j {port_chain('a', tap)}")
            chains[(EB, port_chain("a", tap))] = tuple(_layer2_chain(ports[tap]))
    chains[(EB, ARP_CHAIN)] = tuple(arp)
    return Ruleset(chains, sets)


def _arp_source(prefix: str) -> str:
    # As ebtables-save prints it: a host without its /32.
    return prefix.removesuffix("/32")


def _layer2_chain(port: Mapping[str, Any]) -> list[str]:
    """ARP only with the VM's IPv4 sources and their MACs (and 0.0.0.0 for its address
    probes); any other frame only from the VM's MACs (IP frames are checked again,
    with their addresses, by iptables)."""
    mac = _mac(port["mac_address"])
    pairs = _sources(port, IPV4) + [("0.0.0.0/32", mac)]
    rules = [f"-p ARP -s {m} --arp-ip-src {_arp_source(prefix)} --arp-mac-src {m} -j RETURN"
             for prefix, m in sorted(set(pairs))]
    rules.append("-p ARP -j DROP")
    rules += [f"-s {m} -j RETURN" for m in sorted({m for _, m in pairs})]
    rules.append("-j DROP")
    return rules


def referenced_groups(ports: Iterable[Mapping[str, Any]],
                      group_rules: Mapping[str, Sequence[Mapping[str, Any]]]) -> set[str]:
    """The remote groups the rules of `ports` refer to."""
    out: set[str] = set()
    for port in ports:
        for group in port.get("security_groups") or ():
            out |= {r["remote_group_id"] for r in group_rules.get(group, ())
                    if r.get("remote_group_id")}
    return out
