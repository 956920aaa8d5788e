"""What a Linux bridge agent filters its ports by: security_group_info_for_devices.

One read for a whole batch of devices: the ports (by id or tap name), the rules of their
groups, the addresses of the groups those rules name as remote, and the networks' DHCP
server addresses (IPv6 link-local ones included); a fixed number of queries whatever the
number of devices.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from neutrino.core.agents.l2 import TAP_PREFIX, port_id_prefix, prefix_upper_bound
from neutrino.core.resources import ipam
from neutrino.db import models
from neutrino.lib import constants as c
from neutrino.lib.payloads import DeviceSecurity, RuleInfo, SecurityGroupInfo

_CHUNK = 200  # ids or prefixes per query
LINK_LOCAL = ipaddress.IPv6Network("fe80::/64")


def wire_protocol(protocol: str | None) -> str | None:
    """The agents' spelling: names for tcp, udp, icmp and icmpv6, numbers for the rest."""
    if protocol is None:
        return None
    number = c.IP_PROTOCOL_MAP[protocol] if protocol in c.IP_PROTOCOL_MAP else int(protocol)
    return {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(number, str(number))


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _ports(session: Session, devices: list[str]) -> dict[str, tuple[str, models.Port]]:
    """port id -> (the device as asked, the port)."""
    found: dict[str, tuple[str, models.Port]] = {}
    ids = [d for d in devices if not d.startswith(TAP_PREFIX)]
    prefixes = {port_id_prefix(d): d for d in devices if port_id_prefix(d)}
    for chunk in _chunks(ids):
        for port in session.scalars(select(models.Port).where(models.Port.id.in_(chunk))):
            found[port.id] = (port.id, port)
    for chunk in _chunks(sorted(prefixes)):
        ranges = []
        for prefix in chunk:
            upper = prefix_upper_bound(prefix)
            ranges.append(and_(models.Port.id >= prefix, models.Port.id < upper)
                          if upper is not None else models.Port.id >= prefix)
        for port in session.scalars(select(models.Port).where(or_(*ranges))):
            for prefix in chunk:
                if port.id.startswith(prefix) and port.id not in found:
                    found[port.id] = (prefixes[prefix], port)
    return found


def _dhcp_server_ips(session: Session, network_ids: list[str]) -> dict[str, list[str]]:
    """Each network's DHCP ports' fixed IPs and, on a network with an IPv6 subnet, their
    link-local addresses: dnsmasq answers DHCPv6 clients from its interface's link-local
    address (EUI-64 of the DHCP port's MAC, which its interface in the namespace wears)."""
    found: dict[str, set[str]] = {n: set() for n in network_ids}
    alloc, port, subnet = models.IPAllocation, models.Port, models.Subnet
    for chunk in _chunks(network_ids):
        rows = session.execute(
            select(alloc.network_id, alloc.ip_address).join(port, port.id == alloc.port_id)
            .where(alloc.network_id.in_(chunk), port.device_owner == c.DEVICE_OWNER_DHCP))
        for network_id, ip in rows:
            found[network_id].add(ip)
        with_v6 = select(subnet.network_id).where(subnet.network_id == port.network_id,
                                                  subnet.ip_version == 6).exists()
        for network_id, mac in session.execute(
                select(port.network_id, port.mac_address)
                .where(port.network_id.in_(chunk), port.device_owner == c.DEVICE_OWNER_DHCP,
                       with_v6)):
            found[network_id].add(ipam.eui64(LINK_LOCAL, mac))
    return {n: sorted(ips) for n, ips in found.items()}


def _member_ips(session: Session, group_ids: list[str]) -> dict[str, dict[str, list[str]]]:
    """Each group's members' fixed IPs and allowed pairs' addresses, by IP version."""
    out: dict[str, dict[str, set[str]]] = {g: {c.IPV4: set(), c.IPV6: set()}
                                           for g in group_ids}
    binding = models.SecurityGroupPortBinding
    for chunk in _chunks(group_ids):
        for source in (models.IPAllocation, models.AllowedAddressPair):
            rows = session.execute(
                select(binding.security_group_id, source.ip_address)
                .join(source, source.port_id == binding.port_id)
                .where(binding.security_group_id.in_(chunk)))
            for group_id, ip in rows:
                version = ipaddress.ip_network(ip, strict=False).version
                out[group_id][f"IPv{version}"].add(ip)
    return {g: {v: sorted(ips) for v, ips in by_version.items()}
            for g, by_version in out.items()}


def dhcp_servers_changed(session: Session, before: Mapping[str, Any] | None,
                         after: Mapping[str, Any] | None) -> list[str]:
    """When a DHCP port came, went or changed its addresses or MAC, the only sources of DHCP
    replies the network's ports accept changed: the groups of those ports, whose members
    the agents then fetch again (as for a membership change)."""
    was = before is not None and before.get("device_owner") == c.DEVICE_OWNER_DHCP
    is_ = after is not None and after.get("device_owner") == c.DEVICE_OWNER_DHCP
    port = after or before
    if port is None or not (was or is_):
        return []
    if before is not None and after is not None and was and is_ and all(
            before.get(f) == after.get(f) for f in ("fixed_ips", "mac_address")):
        return []  # the same addresses, link-local (from the MAC) included
    binding = models.SecurityGroupPortBinding
    return sorted(set(session.scalars(
        select(binding.security_group_id).join(models.Port,
                                               models.Port.id == binding.port_id)
        .where(models.Port.network_id == port["network_id"]))))


def _rule_info(rule: models.SecurityGroupRule) -> RuleInfo:
    return {"id": rule.id, "security_group_id": rule.security_group_id,
            "direction": rule.direction, "ethertype": rule.ethertype,
            "protocol": wire_protocol(rule.protocol), "port_range_min": rule.port_range_min,
            "port_range_max": rule.port_range_max, "remote_ip_prefix": rule.remote_ip_prefix,
            "remote_group_id": rule.remote_group_id}


def info_for_devices(session: Session, devices: Iterable[str]) -> SecurityGroupInfo:
    ports = _ports(session, [d for d in dict.fromkeys(devices) if d])
    dhcp = _dhcp_server_ips(session, sorted({p.network_id for _, p in ports.values()}))
    described: dict[str, DeviceSecurity] = {}
    groups: set[str] = set()
    for port_id, (device, port) in sorted(ports.items()):
        enabled = port.port_security_enabled
        port_groups = port.security_group_ids.split(",") \
            if enabled and port.security_group_ids else []
        groups.update(port_groups)
        described[port_id] = {
            "id": port.id, "device": device, "network_id": port.network_id,
            "mac_address": port.mac_address,
            "fixed_ips": sorted(a.ip_address for a in port.fixed_ips),
            "device_owner": port.device_owner, "port_security_enabled": enabled,
            "security_groups": port_groups,
            "allowed_address_pairs": [
                {"ip_address": p.ip_address, "mac_address": p.mac_address}
                for p in sorted(port.allowed_address_pairs,
                                key=lambda p: (p.ip_address, p.mac_address))]
            if enabled else [],
            "dhcp_server_ips": dhcp.get(port.network_id, [])}
    rules: dict[str, list[RuleInfo]] = {g: [] for g in sorted(groups)}
    stateful: dict[str, bool] = {}
    ordered = sorted(groups)
    for chunk in _chunks(ordered):
        for rule in session.scalars(select(models.SecurityGroupRule)
                                    .where(models.SecurityGroupRule.security_group_id
                                           .in_(chunk))
                                    .order_by(models.SecurityGroupRule.id)):
            rules[rule.security_group_id].append(_rule_info(rule))
        for group_id, is_stateful in session.execute(
                select(models.SecurityGroup.id, models.SecurityGroup.stateful)
                .where(models.SecurityGroup.id.in_(chunk))):
            stateful[group_id] = is_stateful
    remotes = sorted({r["remote_group_id"] for rs in rules.values() for r in rs
                      if r["remote_group_id"]})
    return {"devices": described, "security_groups": rules,
            "sg_member_ips": _member_ips(session, remotes), "sg_stateful": stateful}
