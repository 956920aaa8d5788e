"""Rows → the plain dicts every core method returns, with all of a resource's attributes
as Neutron shows them (the API strips by visibility and `fields=`)."""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import Integer, String, bindparam, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from neutrino.core.dbutil import execute, kind_column
from neutrino.db import models
from neutrino.lib import constants


def timestamp(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return _timestamp_text(value)


@functools.lru_cache(maxsize=32768)
def _timestamp_text(value: datetime) -> str:
    # A list shows thousands, the same ones list after list: each is formatted once
    # (isoformat is several times cheaper than strftime, a hit a fifth of isoformat).
    return value.isoformat(timespec="seconds") + "Z"


def _json(text: str | None, default: Any) -> Any:
    # Most ports hold "{}": no parse for those.
    return default if not text or text == "{}" else json.loads(text)


def _standard(row: models.StandardAttrs) -> dict[str, Any]:
    return {
        "description": row.description or "",
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "revision_number": row.revision_number,
    }


def tags(row: models.Network | models.Subnet | models.Port) -> list[str]:
    return sorted(t.tag for t in row.tags)


def provider_attributes(segments: Sequence[Any]) -> dict[str, Any]:
    segment = segments[0] if segments else None
    if segment is None:
        return {"provider:network_type": None, "provider:physical_network": None,
                "provider:segmentation_id": None}
    seg_id = segment.segmentation_id
    if segment.network_type != constants.TYPE_VLAN:
        seg_id = None  # flat networks store 0 only to make the unique constraint bite
    return {"provider:network_type": segment.network_type,
            "provider:physical_network": segment.physical_network,
            "provider:segmentation_id": seg_id}


def segment_list(segments: Sequence[Any]) -> list[dict[str, Any]]:
    """multi-provider's `segments`: every segment with its provider attributes."""
    return [provider_attributes([s]) for s in segments]


def network_availability_zones(session: Session,
                               network_ids: Iterable[str]) -> dict[str, list[str]]:
    """The zones of the DHCP agents hosting each network, in one query for all of them."""
    ids = list(set(network_ids))
    zones: dict[str, set[str]] = {i: set() for i in ids}
    if not ids:
        return {}
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        for net_id, zone in execute(session, _ZONES, {"ids": chunk}):
            if zone:
                zones[net_id].add(zone)
    return {i: sorted(z) for i, z in zones.items()}


def network_dict(net: models.Network, availability_zones: Sequence[str] = ()) -> dict[str, Any]:
    return network_view(net, net.segments, [s.id for s in net.subnets],
                        [t.tag for t in net.tags], availability_zones)


def network_view(net: Any, segments: Sequence[Any], subnet_ids: Iterable[str],
                 tag_names: Iterable[str], availability_zones: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """A network's dict from its columns (a Network, or a row of its table), its segments
    (with network_type, physical_network and segmentation_id), subnets and tags."""
    result = {
        "id": net.id,
        "name": net.name,
        "tenant_id": net.project_id,
        "project_id": net.project_id,
        "admin_state_up": net.admin_state_up,
        "status": net.status,
        "shared": net.shared,
        "router:external": net.external,
        "subnets": sorted(subnet_ids),
        "mtu": net.mtu,
        "dns_domain": net.dns_domain or "",
        "availability_zone_hints": json.loads(net.availability_zone_hints or "[]"),
        "availability_zones": list(availability_zones),
        "port_security_enabled": net.port_security_enabled,
    }
    result.update(provider_attributes(segments))
    # As Neutron: `segments` only for a network of several segments; one segment is shown
    # as provider:* alone (Nova refuses a `segments` list none of whose entries has a
    # physical network, which a local network's would be).
    if len(segments) > 1:
        result["segments"] = segment_list(segments)
    result.update(_standard(net))
    result["tags"] = sorted(tag_names)
    return result


def network_dicts(session: Session, nets: Sequence[models.Network]) -> list[dict[str, Any]]:
    zones = network_availability_zones(session, (n.id for n in nets))
    return [network_dict(n, zones.get(n.id, [])) for n in nets]


class _Segment(NamedTuple):
    network_type: str
    physical_network: str | None
    segmentation_id: int | None


def _of_networks(column: Any, kind: str, text: Any, more_text: Any = None,
                 number: Any = None) -> Any:
    return select(column, kind_column(kind), text,
                  null().cast(String) if more_text is None else more_text,
                  null().cast(Integer) if number is None else number
                  ).where(column.in_(bindparam("ids", expanding=True)))


# What a page of networks shows of other tables, in one statement built once: segments,
# subnet ids, tags and the zones of the DHCP agents hosting them, a row each, told apart by
# the second column (a list of networks is 2 statements, not 5).
_BINDING = models.NetworkDhcpAgentBinding
_NETWORK_PARTS = union_all(
    _of_networks(models.NetworkSegment.network_id, "s", models.NetworkSegment.network_type,
                 models.NetworkSegment.physical_network,
                 models.NetworkSegment.segmentation_id),
    _of_networks(models.Subnet.network_id, "n", models.Subnet.id),
    _of_networks(models.Tag.network_id, "t", models.Tag.tag),
    _of_networks(_BINDING.network_id, "z", models.Agent.availability_zone).join(
        models.Agent, models.Agent.id == _BINDING.dhcp_agent_id))
_CHUNK = 500
_ZONES = (select(_BINDING.network_id, models.Agent.availability_zone)
          .join(models.Agent, models.Agent.id == _BINDING.dhcp_agent_id)
          .where(_BINDING.network_id.in_(bindparam("ids", expanding=True))))


def network_row_dicts(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """The dicts of networks read as rows of their table."""
    ids = [row.id for row in rows]
    segments: dict[str, list[_Segment]] = {}
    subnets: dict[str, list[str]] = {}
    tag_names: dict[str, list[str]] = {}
    zones: dict[str, set[str]] = {}
    conn = session.connection()
    for start in range(0, len(ids), _CHUNK):
        for network_id, kind, text, more, number in conn.execute(
                _NETWORK_PARTS, {"ids": ids[start:start + _CHUNK]}):
            if kind == "s":
                segments.setdefault(network_id, []).append(_Segment(text, more, number))
            elif kind == "n":
                subnets.setdefault(network_id, []).append(text)
            elif kind == "t":
                tag_names.setdefault(network_id, []).append(text)
            elif text:  # an agent without a zone adds none
                zones.setdefault(network_id, set()).add(text)
    return [network_view(row, segments.get(row.id, []), subnets.get(row.id, ()),
                         tag_names.get(row.id, ()), sorted(zones.get(row.id, ())))
            for row in rows]


def subnet_dict(subnet: models.Subnet) -> dict[str, Any]:
    result = {
        "id": subnet.id,
        "name": subnet.name,
        "tenant_id": subnet.project_id,
        "project_id": subnet.project_id,
        "network_id": subnet.network_id,
        "ip_version": subnet.ip_version,
        "cidr": subnet.cidr,
        "gateway_ip": subnet.gateway_ip,
        "allocation_pools": [{"start": p.first_ip, "end": p.last_ip}
                             for p in subnet.allocation_pools],
        "dns_nameservers": [d.address for d in sorted(subnet.dns_nameservers,
                                                      key=lambda d: d.order)],
        "host_routes": [{"destination": r.destination, "nexthop": r.nexthop}
                        for r in sorted(subnet.host_routes,
                                        key=lambda r: (r.destination, r.nexthop))],
        "enable_dhcp": subnet.enable_dhcp,
        "ipv6_ra_mode": subnet.ipv6_ra_mode,
        "ipv6_address_mode": subnet.ipv6_address_mode,
        "subnetpool_id": None,
    }
    result.update(_standard(subnet))
    result["tags"] = tags(subnet)
    return result


def dns_assignment(dns_name: str, ips: Iterable[str], dns_domain: str
                   ) -> list[dict[str, str]]:
    """The names a port's addresses have, as the DHCP agent's dnsmasq serves them: its
    dns_name, else host-<address>, in `dns_domain` (the [DEFAULT] option; a dns_name ending
    in a dot is already fully qualified)."""
    domain = dns_domain.rstrip(".")
    assignment = []
    for ip in ips:
        if dns_name:
            hostname = dns_name
            fqdn = dns_name if dns_name.endswith(".") or not domain else \
                f"{dns_name}.{domain}."
        else:
            hostname = "host-" + ip.replace(".", "-").replace(":", "-")
            fqdn = f"{hostname}.{domain}." if domain else hostname
        assignment.append({"ip_address": ip, "hostname": hostname, "fqdn": fqdn})
    return assignment


@functools.lru_cache(maxsize=65536)
def _ip_order(ip: str) -> tuple[int, int]:
    # Parsing an address costs more than the rest of a port's view: addresses repeat
    # from one read of a port to the next, so each is parsed once.
    address = ipaddress.ip_address(ip)
    return address.version, int(address)


def _ip_sort_key(ip: tuple[str, str]) -> tuple[str, int, int]:
    return (ip[0], *_ip_order(ip[1]))


class PortParts:
    """A port's rows in other tables, as plain values: read with the ORM relationships
    (`orm_parts`) or, for many ports at once, by a few queries (resources/ports.py). Most
    ports have addresses and nothing else: the others default to one shared empty tuple."""

    __slots__ = ("fixed_ips", "extra_dhcp_opts", "allowed_address_pairs", "tags")

    def __init__(self, fixed_ips: Sequence[tuple[str, str]] = (),  # (subnet_id, ip)
                 extra_dhcp_opts: Sequence[tuple[str, str, int]] = (),
                 allowed_address_pairs: Sequence[tuple[str, str]] = (),  # (ip, mac)
                 tags: Sequence[str] = ()) -> None:
        self.fixed_ips = fixed_ips
        self.extra_dhcp_opts = extra_dhcp_opts
        self.allowed_address_pairs = allowed_address_pairs
        self.tags = tags


def orm_parts(port: models.Port) -> PortParts:
    return PortParts(
        [(a.subnet_id, a.ip_address) for a in port.fixed_ips],
        [(o.opt_name, o.opt_value, o.ip_version) for o in port.extra_dhcp_opts],
        [(p.ip_address, p.mac_address) for p in port.allowed_address_pairs],
        [t.tag for t in port.tags])


def _opt_order(opt: tuple[str, str, int]) -> tuple[int, str]:
    return opt[2], opt[0]


PORT_COLUMNS = tuple(models.Port.__table__.columns)
# Each column's position in a row of PORT_COLUMNS: a list reads thousands of rows, and
# indexing a row costs a tenth of reading its attribute by name.
_P = SimpleNamespace(**{column.key: i for i, column in enumerate(PORT_COLUMNS)})
PORT_ID = _P.id
PORT_CREATED_AT = _P.created_at
# What a port's view is remembered under (viewmemo says why these three are enough).
# created_at as the driver gives it: making SQLite's text a datetime costs more than
# reading the three columns.
_KEY_CREATED_AT = type_coerce(models.Port.created_at, String).label("key_created_at")
PORT_KEY_COLUMNS = (models.Port.id, models.Port.revision_number, _KEY_CREATED_AT)
# PORT_COLUMNS and, last, the key's created_at: the rows a view is remembered from.
PORT_KEYED_COLUMNS = (*PORT_COLUMNS, _KEY_CREATED_AT)


def port_key(port: Sequence[Any]) -> tuple[Any, ...]:
    """The PORT_KEY_COLUMNS of a row of PORT_KEYED_COLUMNS."""
    return port[_P.id], port[_P.revision_number], port[len(PORT_COLUMNS)]


def port_dict(port: models.Port, dns_domain: str) -> dict[str, Any]:
    return port_view([getattr(port, column.key) for column in PORT_COLUMNS], dns_domain,
                     orm_parts(port))


def port_view(port: Sequence[Any], dns_domain: str, parts: PortParts) -> dict[str, Any]:
    """A port's dict from the values of its PORT_COLUMNS, in that order."""
    ips = parts.fixed_ips
    if len(ips) > 1:
        ips = sorted(ips, key=_ip_sort_key)
    fixed_ips = [{"subnet_id": subnet, "ip_address": ip} for subnet, ip in ips]
    dns_name = port[_P.dns_name] or ""
    return {
        "id": port[_P.id],
        "name": port[_P.name],
        "tenant_id": port[_P.project_id],
        "project_id": port[_P.project_id],
        "network_id": port[_P.network_id],
        "mac_address": port[_P.mac_address],
        "admin_state_up": port[_P.admin_state_up],
        "status": port[_P.status],
        "device_id": port[_P.device_id],
        "device_owner": port[_P.device_owner],
        "fixed_ips": fixed_ips,
        "binding:host_id": port[_P.host_id] or "",
        "binding:vnic_type": port[_P.vnic_type],
        "binding:profile": _json(port[_P.profile], {}),
        "binding:vif_type": port[_P.vif_type],
        "binding:vif_details": _json(port[_P.vif_details], {}),
        "dns_name": dns_name,
        "dns_assignment": dns_assignment(dns_name, [ip for _, ip in ips], dns_domain)
        if ips else [],
        "extra_dhcp_opts": [{"opt_name": name, "opt_value": value, "ip_version": version}
                            for name, value, version in sorted(
                                parts.extra_dhcp_opts, key=_opt_order)]
        if parts.extra_dhcp_opts else [],
        "port_security_enabled": port[_P.port_security_enabled],
        "security_groups": port[_P.security_group_ids].split(",") if port[_P.security_group_ids]
        else [],
        "allowed_address_pairs": [{"ip_address": ip, "mac_address": mac}
                                  for ip, mac in sorted(parts.allowed_address_pairs)]
        if parts.allowed_address_pairs else [],
        "description": port[_P.description] or "",
        "created_at": timestamp(port[_P.created_at]),
        "updated_at": timestamp(port[_P.updated_at]),
        "revision_number": port[_P.revision_number],
        "tags": sorted(parts.tags) if parts.tags else [],
    }


def view_parts(view: Mapping[str, Any]) -> PortParts:
    """The PortParts a port's dict was made from (port_view's inverse for them): a port
    whose dict is remembered is changed without reading its rows in other tables again."""
    return PortParts(
        [(ip["subnet_id"], ip["ip_address"]) for ip in view["fixed_ips"]],
        [(opt["opt_name"], opt["opt_value"], opt["ip_version"])
         for opt in view["extra_dhcp_opts"]],
        [(pair["ip_address"], pair["mac_address"]) for pair in view["allowed_address_pairs"]],
        view["tags"])
