"""Security groups on a Linux bridge host: the tracked connections that removed rules (or
departed remote group members) had allowed, for conntrack to forget. Pure functions."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from neutrino.agent.linuxbridge.firewall_plan import (
    IPV4,
    PORT_PROTOCOLS,
    PROTOCOL_NAMES,
    canonical_member,
    family_of,
    filtered,
)


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
            PROTOCOL_NAMES.get(proto, proto) if proto else None,
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
    dport = int(low) if proto in PORT_PROTOCOLS and low is not None and low == high \
        else None
    return [Flow(family, direction, canonical_member(ip), proto, dport, remote)
            for ip in port.get("fixed_ips") or () if family_of(ip) == family]


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
