"""Security groups on a Linux bridge host, decided: the ruleset the ports need, and the
difference from what is installed. Pure functions; `firewall.py` applies the difference.

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

Diffing: every managed iptables chain starts with a comment rule holding a digest of its
rules, so "is this chain right" is a comparison of digests and rule counts, whatever
spelling `iptables-save` prints rules in (ebtables has no comments: its chains are written
in the spelling `ebtables-save` prints, and their saved lines digested). Only chains whose
digest differs are rewritten, atomically, by iptables-restore --noflush; connections the
new rules still allow stay up, and those a removed rule had allowed are found
(`flows_to_forget`) for conntrack to forget.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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


def hooks(family: str) -> dict[str, str]:
    return EB_HOOKS if family == EB else HOOKS
MARKER = "neutrino:"

_PROTOCOL_NAMES = {"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "132": "sctp"}
_PORT_PROTOCOLS = {"tcp", "udp", "sctp"}
_ICMP6_NAMES = {"icmp", "icmpv6", "ipv6-icmp"}


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


@dataclass(frozen=True)
class InstalledChain:
    digest: str | None  # from the chain's marker rule; None: no marker
    rules: int  # rules after the marker


@dataclass(frozen=True)
class Installed:
    chains: Mapping[tuple[str, str], InstalledChain] = field(default_factory=dict)
    hooks: frozenset[tuple[str, str]] = frozenset()  # (family, builtin chain) jumping to us
    sets: Mapping[str, IpSet] = field(default_factory=dict)


@dataclass(frozen=True)
class Changes:
    """What to do, in this order: sets, chains and hooks (one restore per family), then
    chains and sets nothing refers to any more."""

    create_sets: tuple[tuple[str, str], ...] = ()  # (name, family)
    add_members: tuple[tuple[str, str], ...] = ()  # (set, member)
    remove_members: tuple[tuple[str, str], ...] = ()
    # family -> chain -> its full rules (marker first), rewritten whole
    write_chains: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)
    add_hooks: tuple[tuple[str, str], ...] = ()  # (family, builtin chain)
    delete_chains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    destroy_sets: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.create_sets or self.add_members or self.remove_members
                    or self.write_chains or self.add_hooks or self.delete_chains
                    or self.destroy_sets)


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


def digest(rules: Sequence[str]) -> str:
    return hashlib.sha256("\n".join(rules).encode()).hexdigest()[:20]


def marker_rule(rules: Sequence[str]) -> str:
    return f'-m comment --comment "{MARKER}{digest(rules)}"'


# -- addresses --------------------------------------------------------------------------

def _family_of(address: str) -> str | None:
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
    proto = _PROTOCOL_NAMES.get(proto, proto)
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
    if proto in _PORT_PROTOCOLS and (low is not None or high is not None):
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
        if _family_of(prefix) != family:
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
                           if _family_of(ip) == family})
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
    pairs = [(_cidr(ip), mac) for ip in port.get("fixed_ips") or () if _family_of(ip) == family]
    for pair in port.get("allowed_address_pairs") or ():
        address = pair.get("ip_address")
        if address and _family_of(address) == family:
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
    return str(port.get("device_owner") or "").startswith("network:")


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
                        canonical_member(m) for m in members if _family_of(m) == family))
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


# -- the difference ---------------------------------------------------------------------

def diff(desired: Ruleset, installed: Installed) -> Changes:
    create_sets: list[tuple[str, str]] = []
    add: list[tuple[str, str]] = []
    remove: list[tuple[str, str]] = []
    destroy: list[str] = []
    for name, want in sorted(desired.sets.items()):
        have = installed.sets.get(name)
        if have is not None and have.family != want.family:
            destroy.append(name)  # cannot be: a name says its family; be safe anyway
            have = None
        if have is None:
            create_sets.append((name, want.family))
            have = IpSet(want.family, frozenset())
        add += [(name, m) for m in sorted(want.members - have.members)]
        remove += [(name, m) for m in sorted(have.members - want.members)]
    destroy += sorted(n for n in installed.sets if n not in desired.sets)

    write: dict[str, dict[str, tuple[str, ...]]] = {}
    delete: dict[str, list[str]] = {}
    for (family, chain), rules in sorted(desired.chains.items()):
        have_chain = installed.chains.get((family, chain))
        if have_chain is None or have_chain.digest != digest(rules) or \
                have_chain.rules != len(rules):
            write.setdefault(family, {})[chain] = \
                tuple(rules) if family == EB else (marker_rule(rules), *rules)
    for family, chain in sorted(installed.chains):
        if (family, chain) not in desired.chains:
            delete.setdefault(family, []).append(chain)
    add_hooks = tuple((family, builtin) for family in TABLE_FAMILIES
                      for builtin, chain in sorted(hooks(family).items())
                      if (family, chain) in desired.chains
                      and (family, builtin) not in installed.hooks)
    return Changes(tuple(create_sets), tuple(add), tuple(remove),
                   {f: dict(c) for f, c in write.items()}, add_hooks,
                   {f: tuple(c) for f, c in delete.items()}, tuple(destroy))


def restore_text(changes: Changes, family: str) -> str:
    """The iptables-restore (ebtables-restore for EB) --noflush input for `family`: declaring
    a chain empties it, so each rewritten chain is replaced whole and atomically, and nothing
    else is touched."""
    writes = changes.write_chains.get(family, {})
    deletes = changes.delete_chains.get(family, ())
    builtins = [builtin for f, builtin in changes.add_hooks if f == family]
    if not (writes or deletes or builtins):
        return ""
    policy = "RETURN" if family == EB else "- [0:0]"
    lines = ["*filter"]
    lines += [f":{chain} {policy}" for chain in sorted({*writes, *deletes})]
    for chain, rules in writes.items():
        lines += [f"-A {chain} {rule}" for rule in rules]
    lines += [f"-I {builtin} 1 -j {hooks(family)[builtin]}" for builtin in builtins]
    # Emptied above, so nothing refers to them when they go.
    lines += [f"-X {chain}" for chain in deletes]
    lines.append("COMMIT")
    return "\n".join(lines) + "\n"


def ipset_text(changes: Changes) -> str:
    """`ipset restore` input for the set changes made before the chains."""
    lines = [f"create {name} hash:net family {'inet' if family == IPV4 else 'inet6'}"
             for name, family in changes.create_sets]
    lines += [f"add {name} {member}" for name, member in changes.add_members]
    lines += [f"del {name} {member}" for name, member in changes.remove_members]
    return "\n".join(lines) + "\n" if lines else ""


def parse_save(text: str, family: str) -> tuple[dict[tuple[str, str], InstalledChain],
                                                 set[tuple[str, str]]]:
    """Our chains and hooks in `iptables-save` (or `ebtables-save`) output, filter table."""
    chains: dict[str, list[str]] = {}
    jumps: set[tuple[str, str]] = set()
    table = None
    for line in text.splitlines():
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        if table != "filter":
            continue
        if line.startswith(":"):
            name = line[1:].split()[0]
            if is_managed_chain(name):
                chains.setdefault(name, [])
        elif line.startswith("-A "):
            parts = line.split(None, 2)
            name = parts[1]
            rest = parts[2] if len(parts) > 2 else ""
            if name in chains:
                chains[name].append(rest)
            elif name in hooks(family) and rest.split() == ["-j", hooks(family)[name]]:
                jumps.add((family, name))
    installed: dict[tuple[str, str], InstalledChain] = {}
    for name, rules in chains.items():
        found = None
        if family == EB:
            installed[(family, name)] = InstalledChain(digest(rules), len(rules))
            continue
        if rules and f'"{MARKER}' in rules[0]:
            found = rules[0].split(f'"{MARKER}', 1)[1].split('"', 1)[0]
        installed[(family, name)] = InstalledChain(found, len(rules) - (1 if found else 0))
    return installed, jumps


def parse_ipset_save(text: str) -> dict[str, IpSet]:
    families: dict[str, str] = {}
    members: dict[str, set[str]] = {}
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "create" and is_managed_set(words[1]):
            family = words[words.index("family") + 1] if "family" in words else "inet"
            families[words[1]] = IPV4 if family == "inet" else IPV6
            members[words[1]] = set()
        elif len(words) >= 3 and words[0] == "add" and words[1] in members:
            members[words[1]].add(canonical_member(words[2]))
    return {name: IpSet(families[name], frozenset(members[name])) for name in families}


def installed_from(saves: Mapping[str, str], ipsets: str) -> Installed:
    """`saves`: family -> iptables-save / ip6tables-save output."""
    chains: dict[tuple[str, str], InstalledChain] = {}
    hooks: set[tuple[str, str]] = set()
    for family, text in saves.items():
        found, jumps = parse_save(text, family)
        chains.update(found)
        hooks |= jumps
    return Installed(chains, frozenset(hooks), parse_ipset_save(ipsets))


def applied(installed: Installed, desired: Ruleset) -> Installed:
    """What is installed once the diff between them was applied (no need to read it back)."""
    chains = {key: InstalledChain(digest(rules), len(rules))
              for key, rules in desired.chains.items()}
    jumps = frozenset(installed.hooks | {(f, b) for f in TABLE_FAMILIES
                                         for b, chain in hooks(f).items()
                                         if (f, chain) in desired.chains})
    return Installed(chains, jumps, dict(desired.sets))


def referenced_groups(ports: Iterable[Mapping[str, Any]],
                      group_rules: Mapping[str, Sequence[Mapping[str, Any]]]) -> set[str]:
    """The remote groups the rules of `ports` refer to."""
    out: set[str] = set()
    for port in ports:
        for group in port.get("security_groups") or ():
            out |= {r["remote_group_id"] for r in group_rules.get(group, ())
                    if r.get("remote_group_id")}
    return out


# -- connections to forget --------------------------------------------------------------

@dataclass(frozen=True)
class Flow:
    """Tracked connections a removed rule allowed: `conntrack -D` filters. `port_ip` is the
    VM's address (the destination for ingress, the source for egress)."""

    family: str
    direction: str
    port_ip: str
    protocol: str | None = None
    dport: int | None = None
    remote_ip: str | None = None


def conntrack_filter(flow: Flow) -> list[str]:
    """`conntrack -D` arguments for `flow`: a connection's original direction starts at the
    remote end for ingress, at the VM for egress."""
    family = ["-f", "ipv4" if flow.family == IPV4 else "ipv6"]
    local, remote = ("-d", "-s") if flow.direction == "ingress" else ("-s", "-d")
    args = family + [local, flow.port_ip]
    if flow.remote_ip:
        args += [remote, flow.remote_ip]
    if flow.protocol:
        args += ["-p", flow.protocol]
        if flow.dport is not None:
            args += ["--dport", str(flow.dport)]
    return args


def _rule_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    proto = rule.get("protocol")
    proto = None if proto in (None, "", "any") else str(proto).lower()
    return (rule.get("direction"), rule.get("ethertype", IPV4),
            _PROTOCOL_NAMES.get(proto, proto) if proto else None,
            rule.get("port_range_min"), rule.get("port_range_max"),
            rule.get("remote_ip_prefix"), rule.get("remote_group_id"))


def _port_rule_keys(port: Mapping[str, Any],
                    group_rules: Mapping[str, Sequence[Mapping[str, Any]]]
                    ) -> set[tuple[Any, ...]]:
    return {_rule_key(r) for g in port.get("security_groups") or ()
            for r in group_rules.get(g, ())}


def _single_ip(prefix: str | None) -> str | None:
    if not prefix:
        return None
    net = ipaddress.ip_network(prefix, strict=False)
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else None


def _flows(port: Mapping[str, Any], key: tuple[Any, ...], remote: str | None) -> list[Flow]:
    direction, family, proto, low, high, _prefix, _group = key
    if proto in ("icmp", "icmpv6", "ipv6-icmp"):
        proto = "icmp" if family == IPV4 else "icmpv6"
    elif proto is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]*", proto):
        return []
    dport = int(low) if proto in _PORT_PROTOCOLS and low is not None and low == high \
        else None
    return [Flow(family, direction, canonical_member(ip), proto, dport, remote)
            for ip in port.get("fixed_ips") or () if _family_of(ip) == family]


def flows_to_forget(before: tuple[Mapping[str, Mapping[str, Any]],
                                  Mapping[str, Sequence[Mapping[str, Any]]],
                                  Mapping[str, Mapping[str, Sequence[str]]]],
                    after: tuple[Mapping[str, Mapping[str, Any]],
                                 Mapping[str, Sequence[Mapping[str, Any]]],
                                 Mapping[str, Mapping[str, Sequence[str]]]]) -> list[Flow]:
    """The connections that rules removed (or remote group members gone) had allowed, for
    ports filtered before and after: (ports, group rules, member IPs) each time. Filters
    are as narrow as conntrack can say; a connection still allowed that one of them also
    matches comes back at its next packet (conntrack picks up TCP mid-stream) and passes
    the rules again."""
    old_ports, old_rules, old_members = before
    new_ports, new_rules, new_members = after
    out: list[Flow] = []
    for tap in sorted(set(old_ports) & set(new_ports)):
        old, new = old_ports[tap], new_ports[tap]
        if not (filtered(old) and filtered(new)):
            continue
        old_keys = _port_rule_keys(old, old_rules)
        new_keys = _port_rule_keys(new, new_rules)
        for key in sorted(old_keys - new_keys, key=repr):
            out += _flows(new, key, _single_ip(key[5]))
        for key in sorted(old_keys & new_keys, key=repr):
            group, family = key[6], key[1]
            if not group or key[5]:
                continue
            gone = set((old_members.get(group) or {}).get(family) or ()) - \
                set((new_members.get(group) or {}).get(family) or ())
            for member in sorted(gone):
                single = _single_ip(member)
                if single is not None:
                    out += _flows(new, key, single)
    return sorted(set(out), key=repr)
