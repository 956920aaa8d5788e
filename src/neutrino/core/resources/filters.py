"""Who sees what, and list filters turned into SQL (OR within one attribute, AND across)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute

from neutrino.core.context import Context
from neutrino.db import models
from neutrino.lib import constants

Filters = Mapping[str, Sequence[Any]]


# --- visibility -------------------------------------------------------------------------

def network_visible(ctx: Context) -> ColumnElement[bool]:
    if ctx.is_admin:
        return true()
    net = models.Network
    return or_(net.project_id == ctx.project_id, net.shared.is_(True),
               net.external.is_(True))


def subnet_visible(ctx: Context) -> ColumnElement[bool]:
    if ctx.is_admin:
        return true()
    net = models.Network
    # Subnets of shared and external networks, and of the caller's own networks.
    open_networks = select(net.id).where(or_(
        net.shared.is_(True), net.external.is_(True), net.project_id == ctx.project_id))
    return or_(models.Subnet.project_id == ctx.project_id,
               models.Subnet.network_id.in_(open_networks))


def port_visible(ctx: Context) -> ColumnElement[bool]:
    return true() if ctx.is_admin else port_visible_to(ctx.project_id)


def port_visible_to(project: Any) -> ColumnElement[bool]:
    """The ports a project sees: its own and those on its networks. `project` may be a
    bindparam, for a statement built once."""
    own_networks = select(models.Network.id).where(models.Network.project_id == project)
    return or_(models.Port.project_id == project, models.Port.network_id.in_(own_networks))


def owns(ctx: Context, project_id: str) -> bool:
    return ctx.is_admin or (ctx.project_id is not None and ctx.project_id == project_id)


# --- filters ----------------------------------------------------------------------------

def in_values(column: InstrumentedAttribute[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    values = list(values)
    clauses = []
    concrete = [v for v in values if v is not None]
    if concrete:
        clauses.append(column.in_(concrete))
    if len(concrete) != len(values):
        clauses.append(column.is_(None))
    return or_(*clauses) if clauses else false()


def _columns(columns: Mapping[str, InstrumentedAttribute[Any]],
             filters: Filters) -> list[ColumnElement[bool]]:
    clauses = []
    for key, values in filters.items():
        column = columns.get(key)
        if column is None or not values:
            continue
        clauses.append(in_values(column, values))
    return clauses


def _standard(model: Any) -> dict[str, InstrumentedAttribute[Any]]:
    return {"id": model.id, "name": model.name, "description": model.description,
            "tenant_id": model.project_id, "project_id": model.project_id,
            "revision_number": model.revision_number}


def _split_tags(values: Iterable[Any]) -> list[str]:
    """Tag filter values are comma-separated; several occurrences of a key add up."""
    return [t for value in values for t in str(value).split(",")]


def tag_filters(owner: InstrumentedAttribute[Any], tag_owner: InstrumentedAttribute[Any],
                filters: Filters) -> list[ColumnElement[bool]]:
    """standard-attr-tag's filters as EXISTS subqueries on the tags table: `tags` (every
    tag given), `tags-any` (one of them), `not-tags` (not every one), `not-tags-any`
    (none). `owner` is the resource's id column, `tag_owner` the tags' column naming it."""
    tag = models.Tag

    def has(names: list[str]) -> ColumnElement[bool]:
        return exists().where(tag_owner == owner, tag.tag.in_(names))

    def has_all(names: list[str]) -> ColumnElement[bool]:
        return and_(*(has([name]) for name in sorted(set(names))))

    clauses = []
    for key, combine in (("tags", has_all), ("tags-any", has),
                         ("not-tags", lambda n: not_(has_all(n))),
                         ("not-tags-any", lambda n: not_(has(n)))):
        if filters.get(key):
            clauses.append(combine(_split_tags(filters[key])))
    return clauses


def network_filters(filters: Filters) -> list[ColumnElement[bool]]:
    net, seg = models.Network, models.NetworkSegment
    columns = _standard(net) | {
        "admin_state_up": net.admin_state_up, "status": net.status, "shared": net.shared,
        "router:external": net.external, "mtu": net.mtu, "dns_domain": net.dns_domain,
        "port_security_enabled": net.port_security_enabled,
    }
    clauses = _columns(columns, filters)
    clauses += tag_filters(net.id, models.Tag.network_id, filters)
    provider = {"provider:network_type": seg.network_type,
                "provider:physical_network": seg.physical_network}
    for key, column in provider.items():
        if filters.get(key):
            clauses.append(exists().where(seg.network_id == net.id,
                                          in_values(column, filters[key])))
    seg_ids = filters.get("provider:segmentation_id")
    if seg_ids:
        # Only VLAN segments show their id; the others show None.
        ids = [v for v in seg_ids if v is not None]
        options = []
        if ids:
            options.append(and_(seg.network_type == constants.TYPE_VLAN,
                                seg.segmentation_id.in_(ids)))
        if len(ids) != len(seg_ids):
            options.append(seg.network_type != constants.TYPE_VLAN)
        clauses.append(exists().where(seg.network_id == net.id, or_(*options)))
    return clauses


def subnet_filters(filters: Filters) -> list[ColumnElement[bool]]:
    sub = models.Subnet
    columns = _standard(sub) | {
        "network_id": sub.network_id, "ip_version": sub.ip_version, "cidr": sub.cidr,
        "gateway_ip": sub.gateway_ip, "enable_dhcp": sub.enable_dhcp,
        "ipv6_ra_mode": sub.ipv6_ra_mode, "ipv6_address_mode": sub.ipv6_address_mode,
    }
    clauses = _columns(columns, filters)
    clauses += tag_filters(sub.id, models.Tag.subnet_id, filters)
    if filters.get("shared"):
        shared = select(models.Network.id).where(
            in_values(models.Network.shared, filters["shared"]))
        clauses.append(sub.network_id.in_(shared))
    pools = filters.get("subnetpool_id")
    if pools and None not in pools:
        clauses.append(false())  # no subnet comes from a subnet pool
    return clauses


def parse_fixed_ip_filters(values: Iterable[Any]) -> dict[str, list[str]]:
    """`fixed_ips` filter values: "ip_address=10.0.0.5", "subnet_id=<id>" or dicts."""
    parsed: dict[str, list[str]] = {}
    for value in values:
        items: Iterable[tuple[str, Any]]
        if isinstance(value, dict):
            items = value.items()
        else:
            key, sep, val = str(value).partition("=")
            items = [(key.strip(), val.strip())] if sep else [("ip_address", key.strip())]
        for key, val in items:
            if key == "ip_address":
                val = _canonical_ip(val)
            parsed.setdefault(key, []).append(val)
    return parsed


def _canonical_ip(value: Any) -> Any:
    """Addresses are stored in their canonical text (IPv6 compressed, lower case)."""
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return value


def port_filters(filters: Filters) -> list[ColumnElement[bool]]:
    port, alloc = models.Port, models.IPAllocation
    columns = _standard(port) | {
        "network_id": port.network_id, "admin_state_up": port.admin_state_up,
        "status": port.status, "device_id": port.device_id,
        "device_owner": port.device_owner, "binding:host_id": port.host_id,
        "binding:vnic_type": port.vnic_type, "binding:vif_type": port.vif_type,
        "dns_name": port.dns_name, "port_security_enabled": port.port_security_enabled,
    }
    clauses = _columns(columns, filters)
    clauses += tag_filters(port.id, models.Tag.port_id, filters)
    if filters.get("security_groups"):
        binding = models.SecurityGroupPortBinding
        clauses.append(exists().where(binding.port_id == port.id, binding.security_group_id
                                      .in_([str(g) for g in filters["security_groups"]])))
    if filters.get("mac_address"):
        clauses.append(in_values(port.mac_address,
                           [m.lower() if isinstance(m, str) else m
                            for m in filters["mac_address"]]))
    if filters.get("fixed_ips"):
        wanted = parse_fixed_ip_filters(filters["fixed_ips"])
        conditions = [alloc.port_id == port.id]
        if "ip_address" in wanted:
            conditions.append(alloc.ip_address.in_(wanted["ip_address"]))
        if "subnet_id" in wanted:
            conditions.append(alloc.subnet_id.in_(wanted["subnet_id"]))
        if "ip_address_substr" in wanted:
            conditions.append(or_(*(alloc.ip_address.contains(v, autoescape=True)
                                    for v in wanted["ip_address_substr"])))
        unknown = set(wanted) - {"ip_address", "subnet_id", "ip_address_substr"}
        if unknown:
            conditions.append(false())
        clauses.append(exists().where(*conditions))
    return clauses
