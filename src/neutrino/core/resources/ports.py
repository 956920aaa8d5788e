"""Ports, inside a caller's transaction: MACs, fixed IPs, bindings, extra DHCP options.

Duplicate MACs and IPs are settled by the database (the (network, mac) unique key and the
ipallocations primary key): an insert that loses a race is rolled back to its savepoint and
another candidate is tried, so concurrent creators never get a 500.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Integer,
    Row,
    Select,
    String,
    bindparam,
    func,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.session import make_transient_to_detached

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context, resolve_project
from neutrino.core.dbutil import (
    check_lengths,
    dumps,
    execute,
    insert_claimed_unless_duplicate,
    insert_row_unless_duplicate,
    kind_column,
    new_id,
    now,
    precise_now,
)
from neutrino.core.interfaces import Clock
from neutrino.core.resources import filters as flt
from neutrino.core.resources import (
    ipam,
    macs,
    networks,
    paging,
    portbinding,
    portsecurity,
    quotas,
    securitygroups,
    subnets,
    views,
)
from neutrino.core.resources.viewmemo import ViewMemo
from neutrino.db import models
from neutrino.db.engine import RetryRequest, integrity_kind
from neutrino.lib import attributes, constants
from neutrino.lib import exceptions as exc

UPDATABLE = attributes.PORT.updatable
LIMITS = attributes.PORT.limits
MAC_ATTEMPTS = 16
IP_ATTEMPTS = 64
_AUTO_V6_MODES = ("slaac", "dhcpv6-stateless")
ROUTER_OWNERS = constants.DEVICE_OWNERS_ROUTER_INTERFACE


def get(session: Session, ctx: Context, port_id: str, for_update: bool = False) -> models.Port:
    stmt = select(models.Port).where(models.Port.id == port_id, flt.port_visible(ctx))
    if for_update:
        stmt = stmt.with_for_update()
    port = session.scalars(stmt).one_or_none()
    if port is None:
        raise exc.PortNotFound(port_id=port_id)
    return port


def query(session: Session, ctx: Context, filters: flt.Filters | None) -> list[models.Port]:
    stmt = select(models.Port).where(flt.port_visible(ctx), *flt.port_filters(filters or {}))
    return list(session.scalars(stmt.order_by(models.Port.id)))


# --- reads as plain rows: what the API shows, without building ORM objects ----------------

# Aliased: a port filter's own subqueries on these tables (fixed_ips=, tags=) must not
# correlate to the queries reading them here.
_IPS = models.IPAllocation.__table__.alias("part_ips")
_OPTS = models.ExtraDhcpOpt.__table__.alias("part_opts")
_PAIRS = models.AllowedAddressPair.__table__.alias("part_pairs")
_TAGS = models.Tag.__table__.alias("part_tags")
_CHUNK = 1000  # bound parameters per IN: far below every backend's limit


def _part_queries(restricted: Callable[[Select[Any], Any], Select[Any]]
                  ) -> tuple[Select[Any], CompoundSelect[Any]]:
    """The addresses of some ports, and in a second query their options, pairs and tags
    (few ports have any: one round trip for the three); `restricted` narrows each select
    to the ports."""
    no_text, no_int = null().cast(String), null().cast(Integer)
    return restricted(select(_IPS.c.port_id, _IPS.c.subnet_id, _IPS.c.ip_address), _IPS), \
        union_all(
            restricted(select(_OPTS.c.port_id, kind_column("o"), _OPTS.c.opt_name,
                              _OPTS.c.opt_value, _OPTS.c.ip_version), _OPTS),
            restricted(select(_PAIRS.c.port_id, kind_column("p"), _PAIRS.c.ip_address,
                              _PAIRS.c.mac_address, no_int), _PAIRS),
            restricted(select(_TAGS.c.port_id, kind_column("t"), _TAGS.c.tag, no_text, no_int),
                       _TAGS))


# Built once, run with the ids as an expanding parameter: a statement built per request
# costs more Python than running it (building, then the cache key SQLAlchemy derives).
_PARTS_BY_ID = _part_queries(
    lambda selected, table: selected.where(table.c.port_id.in_(bindparam("port_ids",
                                                                          expanding=True))))
# One port's (a show, an update, a delete): `=` rather than an IN of one, whose expanding
# parameter SQLAlchemy renders on every run (70 us of the two statements' 170).
_PARTS_OF_ONE = _part_queries(
    lambda selected, table: selected.where(table.c.port_id == bindparam("port_id")))


def _parts_of(ids: list[str], where: Sequence[ColumnElement[bool]] | None
              ) -> Iterator[tuple[bool, Any, dict[str, Any]]]:
    """(whether the rows are addresses, the query, its parameters) for the ports `where`
    selects (joined: no ids to send), or those of `ids` (a page), in chunks."""
    if where is not None:
        addresses, others = _part_queries(
            lambda selected, table: selected.join(
                models.Port, models.Port.id == table.c.port_id).where(*where))
        yield True, addresses, {}
        yield False, others, {}
        return
    if len(ids) == 1:
        yield True, _PARTS_OF_ONE[0], {"port_id": ids[0]}
        yield False, _PARTS_OF_ONE[1], {"port_id": ids[0]}
        return
    for start in range(0, len(ids), _CHUNK):
        params = {"port_ids": ids[start:start + _CHUNK]}
        yield True, _PARTS_BY_ID[0], params
        yield False, _PARTS_BY_ID[1], params


def views_of(session: Session, rows: Sequence[Row[Any]], dns_domain: str,
             where: Sequence[ColumnElement[bool]] | None = None,
             memo: ViewMemo | None = None,
             settled: datetime | None = None) -> list[dict[str, Any]]:
    """The dicts of ports read as rows of the ports table; `where`: what selected them
    all (not a page of them). With `memo` (the rows then of PORT_KEYED_COLUMNS), a port
    seen before is not read further: its view is the one remembered (shared: not to be
    changed); with `settled` too, views of ports made before it are remembered
    (viewmemo.SETTLE says why not the newer ones)."""
    if memo is None:
        return _build_views(session, rows, dns_domain, where)
    found = memo.get_many(views.port_key(row) for row in rows)
    missing = [row for row, view in zip(rows, found, strict=True) if view is None]
    if not missing:
        return found  # type: ignore[return-value]
    made = _build_views(session, missing, dns_domain,
                        where if len(missing) == len(rows) else None)
    if settled is not None:
        for row, view in zip(missing, made, strict=True):
            remember(memo, row, view, settled)
    fresh = iter(made)
    return [view if view is not None else next(fresh) for view in found]


def remember(memo: ViewMemo, row: Sequence[Any], view: dict[str, Any], settled: datetime
             ) -> None:
    """Keep `view`, the dict of the port whose PORT_KEYED_COLUMNS are `row` as committed,
    if the port was made before `settled` (viewmemo.SETTLE says why not the newer ones)."""
    born = row[views.PORT_CREATED_AT]
    if born is not None and (born.microsecond or born.replace(tzinfo=None) < settled):
        memo.put(views.port_key(row), view)


def new_key(session: Session, port: models.Port) -> tuple[Any, ...] | None:
    """The key a port this session has just written will be read under once committed
    (PORT_KEY_COLUMNS as the driver gives them: SQLite's text is what the DateTime type
    writes), so that its view is remembered without reading it back; None for a stamp
    without a fraction of a second, which may not be the port's own (viewmemo.SETTLE)."""
    created = port.created_at
    if not created.microsecond:
        return None
    dialect = session.get_bind().dialect
    write = models.Port.__table__.c.created_at.type.dialect_impl(dialect).bind_processor(
        dialect)
    return port.id, port.revision_number, write(created) if write is not None else created


_PORTS_BY_ID = select(*views.PORT_KEYED_COLUMNS).where(
    models.Port.id.in_(bindparam("port_ids", expanding=True)))


def _views_by_key(session: Session, keys: Sequence[Row[Any]], dns_domain: str,
                  where: Sequence[ColumnElement[bool]] | None, memo: ViewMemo,
                  settled: datetime) -> list[dict[str, Any]]:
    """views_of the ports whose PORT_KEY_COLUMNS are `keys`, reading the rows of those
    not remembered only: most of a list seen before costs three columns a port."""
    found = memo.get_many(keys)
    missing = [key[0] for key, view in zip(keys, found, strict=True) if view is None]
    if not missing:
        return found  # type: ignore[return-value]
    conn = session.connection()
    rows = [row for start in range(0, len(missing), _CHUNK)
            for row in conn.execute(_PORTS_BY_ID,
                                    {"port_ids": missing[start:start + _CHUNK]})]
    made = {view["id"]: view for view in views_of(
        session, rows, dns_domain, where if len(missing) == len(keys) else None, memo,
        settled)}
    # A port deleted since its key was read (on PostgreSQL each statement sees the latest
    # commits) is left out, as a list read a moment later would.
    shown = (view if view is not None else made.get(key[0])
             for key, view in zip(keys, found, strict=True))
    return [view for view in shown if view is not None]


def _build_views(session: Session, rows: Sequence[Row[Any]], dns_domain: str,
                 where: Sequence[ColumnElement[bool]] | None) -> list[dict[str, Any]]:
    if not rows:
        return []
    ids = [row[views.PORT_ID] for row in rows]
    parts = _read_parts(session, ids, where)
    return [views.port_view(row, dns_domain, parts(port_id))
            for row, port_id in zip(rows, ids, strict=True)]


def _read_parts(session: Session, ids: list[str], where: Sequence[ColumnElement[bool]] | None
                ) -> Callable[[str], views.PortParts]:
    """The rows in other tables of the ports `ids`, as each port's PortParts."""
    ips: dict[str, list[tuple[str, str]]] = {}
    # The few ports with options, pairs or tags: (options, pairs, tags).
    extras: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}
    conn = session.connection()  # Core rows: no ORM loading machinery
    for addresses, stmt, params in _parts_of(ids, where):
        found = conn.execute(stmt, params).all()
        if addresses:
            for port_id, subnet_id, ip in found:
                ips.setdefault(port_id, []).append((subnet_id, ip))
            continue
        for port_id, what, a, b, version in found:
            opts, pairs, tags = extras.setdefault(port_id, ([], [], []))
            if what == "o":
                opts.append((a, b, version))
            elif what == "p":
                pairs.append((a, b))
            else:
                tags.append(a)
    return lambda port_id: views.PortParts(ips.get(port_id, ()), *extras.get(port_id, ()))


def _port_by_id(admin: bool) -> Select[Any]:
    stmt = select(*views.PORT_KEYED_COLUMNS).where(models.Port.id == bindparam("port_id"))
    return stmt if admin else stmt.where(flt.port_visible_to(bindparam("project_id")))


_PORT_BY_ID = {admin: _port_by_id(admin) for admin in (True, False)}
_PORT_FOR_UPDATE = {admin: stmt.with_for_update() for admin, stmt in _PORT_BY_ID.items()}
_DELETE = sql_delete(models.Port.__table__).where(
    models.Port.__table__.c.id == bindparam("port_id"))


def get_view(session: Session, ctx: Context, port_id: str, dns_domain: str,
             memo: ViewMemo | None = None, settled: datetime | None = None
             ) -> dict[str, Any]:
    row = session.connection().execute(
        _PORT_BY_ID[ctx.is_admin],
        {"port_id": port_id, "project_id": ctx.project_id}).one_or_none()
    if row is None:
        raise exc.PortNotFound(port_id=port_id)
    return views_of(session, [row], dns_domain, memo=memo, settled=settled)[0]


def page(session: Session, ctx: Context, filters: flt.Filters | None,
         request: paging.PageRequest, dns_domain: str, memo: ViewMemo | None = None,
         settled: datetime | None = None) -> paging.Page[dict[str, Any]]:
    where = [flt.port_visible(ctx), *flt.port_filters(filters or {})]
    whole = not request.limit
    if memo is None or settled is None:
        found = paging.read_page(session, models.Port, where, paging.PORT_SORTS, request,
                                 attributes.PORT.not_found, as_rows=True)
        return paging.Page(views_of(session, found.items, dns_domain,
                                    where if whole else None),
                           found.has_before, found.has_after)
    keys = paging.read_page(session, models.Port, where, paging.PORT_SORTS, request,
                            attributes.PORT.not_found, as_rows=True,
                            selected=views.PORT_KEY_COLUMNS)
    return paging.Page(_views_by_key(session, keys.items, dns_domain,
                                     where if whole else None, memo, settled),
                       keys.has_before, keys.has_after)


@dataclass(frozen=True, slots=True)
class AddressSpace:
    """What allocating an address on a subnet needs of it, read as plain rows."""

    id: str
    cidr: str
    ip_version: int
    ipv6_address_mode: str | None
    ipv6_ra_mode: str | None
    pools: tuple[ipam.Pool, ...]


def _space(subnet: models.Subnet) -> AddressSpace:
    return AddressSpace(subnet.id, subnet.cidr, subnet.ip_version, subnet.ipv6_address_mode,
                        subnet.ipv6_ra_mode, tuple(subnets.pools_of(subnet)))


# Built once, and read as rows: every port create runs it, and loading Subnet objects with
# their pools cost more than the rest of the allocation.
_SPACES = (select(models.Subnet.id, models.Subnet.cidr, models.Subnet.ip_version,
                  models.Subnet.ipv6_address_mode, models.Subnet.ipv6_ra_mode,
                  models.IPAllocationPool.first_ip, models.IPAllocationPool.last_ip)
           .outerjoin(models.IPAllocationPool,
                      models.IPAllocationPool.subnet_id == models.Subnet.id)
           .where(models.Subnet.network_id == bindparam("network_id"))
           .order_by(models.Subnet.created_at, models.Subnet.id,
                     models.IPAllocationPool.first_ip))


def network_subnets(session: Session, network_id: str) -> list[AddressSpace]:
    """The network's subnets in creation order, each with its pools."""
    heads: dict[str, tuple[str, int, str | None, str | None]] = {}
    pools: dict[str, list[ipam.Pool]] = {}
    for id_, cidr, version, address_mode, ra_mode, first, last in execute(
            session, _SPACES, {"network_id": network_id}):
        heads[id_] = (cidr, version, address_mode, ra_mode)
        found = pools.setdefault(id_, [])
        if first is not None:
            found.append(ipam.Pool(int(ipaddress.ip_address(first)),
                                   int(ipaddress.ip_address(last))))
    return [AddressSpace(id_, *head, pools=tuple(pools[id_])) for id_, head in heads.items()]


# --- IP allocation ----------------------------------------------------------------------

def _taken(session: Session, subnet_id: str) -> set[int]:
    """Every address taken on the subnet: only read after losing a race for an address."""
    rows = session.scalars(select(models.IPAllocation.ip_address)
                           .where(models.IPAllocation.subnet_id == subnet_id))
    return {ipam.ip_to_int(ip) for ip in rows}


def _insert_ip(session: Session, port: models.Port, subnet: AddressSpace, ip: str,
               claim: bool = False) -> bool:
    """Insert one address (the primary key settles races); on success the row joins the
    session and the port's loaded fixed_ips without being read back. `claim`: an address
    chosen here, not asked for, so one a concurrent creator is inserting is passed over
    at once (see insert_claimed_unless_duplicate) rather than waited for."""
    network = ipaddress.ip_network(subnet.cidr)
    value = ipam.ip_to_int(ip)
    row = models.IPAllocation(
        ip_address=ip, subnet_id=subnet.id, port_id=port.id, network_id=port.network_id,
        ip_offset=ipam.offset_of(value, network))
    values = {"ip_address": row.ip_address, "subnet_id": row.subnet_id,
              "port_id": row.port_id, "network_id": row.network_id,
              "ip_offset": row.ip_offset}
    table = models.IPAllocation.__table__
    inserted = insert_claimed_unless_duplicate(
        session, table, values, ipam.claim_key(subnet.id, value)) if claim \
        else insert_row_unless_duplicate(session, table, values)
    if not inserted:
        return False
    make_transient_to_detached(row)
    session.add(row)
    if "fixed_ips" in port.__dict__:
        set_committed_value(port, "fixed_ips", [*port.fixed_ips, row])
    return True


def _lowest_free_statement() -> Select[Any]:
    """The lowest taken offset of a span and the last offset of the run of taken ones that
    starts there, in one statement: both walk the (subnet_id, ip_offset) index in order and
    stop at what they look for (the first row; the first hole), so a pool packed up to a
    hole near its start costs a few index entries, and no planner's statistics are needed
    (min() and count() cost a walk of every taken address where a table was never
    analysed)."""
    table = models.IPAllocation.__table__
    in_span = (table.c.subnet_id == bindparam("subnet_id"),
               table.c.ip_offset >= bindparam("first"), table.c.ip_offset <= bindparam("last"))
    lowest = (select(table.c.ip_offset).where(*in_span).order_by(table.c.ip_offset).limit(1)
              .scalar_subquery())
    # Each taken offset beside the next, in index order (a window, not a self-join, so no
    # planner's guess can make it quadratic); the last one's next is NULL.
    span = (select(table.c.ip_offset,
                   func.lead(table.c.ip_offset).over(order_by=table.c.ip_offset).label("after"))
            .where(*in_span).subquery("span"))
    # No offset + 1 in SQL: the highest offset a column holds (2**63 - 1) would overflow.
    run_end = (select(span.c.ip_offset)
               .where(or_(span.c.after.is_(None), span.c.after - span.c.ip_offset > 1))
               .order_by(span.c.ip_offset).limit(1).scalar_subquery())
    return select(lowest, run_end)


_LOWEST_FREE = _lowest_free_statement()


def _lowest_free(session: Session, subnet: AddressSpace, above: int | None = None
                 ) -> tuple[bool, int | None]:
    """The lowest free address of the pools (above `above` if given), found by the
    database through the (subnet_id, ip_offset) index, one statement a pool: (True, value
    or None when all are taken), or (False, None) when a pool lies beyond what offsets can
    express."""
    network = ipaddress.ip_network(subnet.cidr)
    for pool in sorted(subnet.pools, key=lambda p: p.first):
        if above is not None:
            if pool.last <= above:
                continue
            pool = ipam.Pool(max(pool.first, above + 1), pool.last)
        span = ipam.offset_pool(pool, network)
        if span is None:
            return False, None
        lowest, run_end = execute(session, _LOWEST_FREE, {
            "subnet_id": subnet.id, "first": span.first, "last": span.last}).one()
        offset = ipam.lowest_free_offset(span, lowest, run_end)
        if offset is not None:
            return True, int(network.network_address) + offset
        if span.last - span.first != pool.last - pool.first:
            return False, None  # the rest of the pool is beyond the offsets
    return True, None


def _allocate_specific(session: Session, port: models.Port, subnet: AddressSpace,
                       ip: str) -> None:
    if not _insert_ip(session, port, subnet, ip):
        raise exc.IpAddressInUse(net_id=port.network_id, ip_address=ip)


def _is_auto_address(subnet: AddressSpace) -> bool:
    """IPv6 subnets whose hosts take SLAAC (EUI-64) addresses."""
    return subnet.ip_version == 6 and (subnet.ipv6_address_mode in _AUTO_V6_MODES
                                       or subnet.ipv6_ra_mode in _AUTO_V6_MODES)


def _allocate_any(session: Session, port: models.Port, subnet: AddressSpace) -> str | None:
    """A free address of the subnet's pools; None when there is none."""
    if _is_auto_address(subnet):
        ip = ipam.eui64(ipaddress.ip_network(subnet.cidr), port.mac_address)
        if not _insert_ip(session, port, subnet, ip):
            raise exc.IpAddressInUse(net_id=port.network_id, ip_address=ip)
        return ip
    known, value = _lowest_free(session, subnet)
    # Every address taken, read only when the database cannot say which is lowest free.
    taken = None if known else _taken(session, subnet.id)
    lost: set[int] = set()
    for _ in range(IP_ATTEMPTS):
        if taken is not None:
            value = ipam.pick_address(subnet.pools, taken | lost, bool(lost))
        if value is None:
            # Only addresses lost to other creators may be left. Wait on their keys, as an
            # unclaimed insert does: one whose creator was still inserting it when it was
            # passed over is free again if that creator rolls back.
            for left in sorted(lost):
                ip = ipam.address_text(left, subnet.ip_version)
                if _insert_ip(session, port, subnet, ip):
                    return ip
            return None
        ip = ipam.address_text(value, subnet.ip_version)
        if _insert_ip(session, port, subnet, ip, claim=True):
            return ip
        lost.add(value)
        if len(lost) == 1 and taken is None:
            # A concurrent creator took it or is taking it (its row is not visible until
            # it commits): the next free address above is again one query away.
            known, value = _lowest_free(session, subnet, above=value)
            if known and value is not None:
                continue
        # Several creators race for the same addresses: read them all and spread out.
        taken = _taken(session, subnet.id)
    raise RetryRequest()


def _default_ips(session: Session, port: models.Port, all_subnets: list[AddressSpace]) -> None:
    """No fixed_ips asked for: one IPv4 address from the first IPv4 subnet with a free one,
    likewise one stateful IPv6 address, and the SLAAC address on every SLAAC subnet."""
    v4 = [s for s in all_subnets if s.ip_version == 4]
    v6_stateful = [s for s in all_subnets if s.ip_version == 6 and not _is_auto_address(s)]
    v6_auto = [s for s in all_subnets if _is_auto_address(s)]
    for group in (v4, v6_stateful):
        if group and not any(_allocate_any(session, port, s) for s in group):
            raise exc.IpAddressGenerationFailure(net_id=port.network_id)
    for subnet in v6_auto:
        _allocate_any(session, port, subnet)


def _subnet_for(request: dict[str, Any], by_id: dict[str, AddressSpace],
                network_id: str, session: Session) -> AddressSpace:
    subnet_id = request.get("subnet_id")
    ip = request.get("ip_address")
    if subnet_id is not None:
        subnet = by_id.get(subnet_id)
        if subnet is None:
            if session.get(models.Subnet, subnet_id) is None:
                raise exc.SubnetNotFound(subnet_id=subnet_id)
            raise exc.InvalidInput(error_message=(
                f"Failed to create port on network {network_id}, because fixed_ips included "
                f"invalid subnet {subnet_id}"))
        if ip is not None and not ipam.check_subnet_ip(
                ipaddress.ip_network(subnet.cidr), ipam.parse_ip(ip, "ip_address")):
            raise exc.InvalidIpForSubnet(ip_address=ip)
        return subnet
    if ip is None:
        raise exc.InvalidInput(error_message="IP allocation requires subnet_id or ip_address")
    address = ipam.parse_ip(ip, "ip_address")
    for subnet in by_id.values():
        if ipam.check_subnet_ip(ipaddress.ip_network(subnet.cidr), address):
            return subnet
    raise exc.InvalidIpForNetwork(ip_address=ip)


def _requested_ips(requests: Any) -> list[dict[str, Any]]:
    if not isinstance(requests, list) or not all(isinstance(r, dict) for r in requests):
        raise exc.InvalidInput(error_message=f"Invalid data format for fixed IP: '{requests}'")
    cleaned = []
    for request in requests:
        item = {k: request[k] for k in ("subnet_id", "ip_address") if request.get(k) is not None}
        if "ip_address" in item:
            item["ip_address"] = str(ipam.parse_ip(item["ip_address"], "ip_address"))
        cleaned.append(item)
    return cleaned


def _allocate_requested(session: Session, port: models.Port,
                        requests: list[dict[str, Any]], all_subnets: list[AddressSpace]) -> None:
    by_id = {s.id: s for s in all_subnets}
    resolved = [(_subnet_for(r, by_id, port.network_id, session), r.get("ip_address"))
                for r in requests]
    for subnet, ip in resolved:
        if ip is not None:
            # A SLAAC address is the MAC's; only a router's port may hold another one.
            if _is_auto_address(subnet) and port.device_owner not in ROUTER_OWNERS:
                raise exc.AllocationOnAutoAddressSubnet(ip=ip, subnet_id=subnet.id)
            _allocate_specific(session, port, subnet, ip)
        elif _allocate_any(session, port, subnet) is None:
            raise exc.IpAddressGenerationFailure(net_id=port.network_id)


def _reallocate(session: Session, port: models.Port, requests: list[dict[str, Any]]) -> None:
    """New fixed_ips for a port: keep what is asked for again, release the rest, allocate
    what is new (as Neutron matches old and new: by address, then by subnet)."""
    current = list(port.fixed_ips)
    by_ip = {a.ip_address: a for a in current}
    keep: set[tuple[str, str]] = set()
    to_add: list[dict[str, Any]] = []
    for request in requests:
        ip = request.get("ip_address")
        if ip is None:
            continue
        held = by_ip.pop(ip, None)
        if held is not None and request.get("subnet_id") in (None, held.subnet_id):
            keep.add((held.ip_address, held.subnet_id))
        else:
            to_add.append(request)
    leftovers: dict[str | None, list[models.IPAllocation]] = {}
    for allocation in by_ip.values():
        leftovers.setdefault(allocation.subnet_id, []).append(allocation)
    for request in requests:
        if request.get("ip_address") is not None:
            continue
        candidates = leftovers.get(request.get("subnet_id"), [])
        if candidates:
            held = candidates.pop()
            keep.add((held.ip_address, held.subnet_id))
        else:
            to_add.append(request)
    for allocation in current:
        if (allocation.ip_address, allocation.subnet_id) not in keep:
            session.delete(allocation)
    session.flush()
    _allocate_requested(session, port, to_add, network_subnets(session, port.network_id))


# --- MACs, bindings, options ------------------------------------------------------------

def _insert_port(session: Session, port: models.Port, given_mac: str | None,
                 settings: CoreSettings) -> None:
    """Insert the port; the (network, MAC) unique key settles MAC races: a given MAC that
    is taken is refused, a generated one is drawn again."""
    draws = 1 if given_mac is not None else MAC_ATTEMPTS
    for _ in range(draws):
        port.mac_address = macs.normalize(given_mac) if given_mac is not None \
            else macs.generate(settings.base_mac)
        values = {column.key: getattr(port, column.key)
                  for column in models.Port.__table__.columns}
        if insert_row_unless_duplicate(session, models.Port.__table__, values,
                                       conflict_on=("network_id", "mac_address")):
            # Written in one statement, not read back: the row joins the session as is.
            make_transient_to_detached(port)
            session.add(port)
            return
    if given_mac is not None:
        raise exc.MacAddressInUse(net_id=port.network_id, mac=port.mac_address)
    raise exc.MacAddressGenerationFailure(net_id=port.network_id)


def _readdress_auto(session: Session, port: models.Port) -> bool:
    """A new MAC makes new SLAAC addresses: each EUI-64 address is replaced by the new
    MAC's, as Neutron does (router ports keep theirs: they chose them). True when any was."""
    if port.device_owner in ROUTER_OWNERS:
        return False
    auto = []
    for allocation in list(port.fixed_ips):
        subnet = session.get(models.Subnet, allocation.subnet_id)
        space = None if subnet is None else _space(subnet)
        if space is not None and _is_auto_address(space):
            auto.append(space)
            session.delete(allocation)
    session.flush()
    for space in auto:
        _allocate_any(session, port, space)
    return bool(auto)


def _change_mac(session: Session, port: models.Port, mac: str) -> None:
    # The unique key decides, also against a concurrent update taking the same MAC.
    savepoint = session.begin_nested()
    try:
        port.mac_address = mac
        session.flush()
    except IntegrityError as err:
        savepoint.rollback()
        if integrity_kind(err) == "duplicate":
            raise exc.MacAddressInUse(net_id=port.network_id, mac=mac) from None
        raise
    savepoint.commit()


def bind(session: Session, port: models.Port, host: str | None, settings: CoreSettings,
         clock: Clock) -> None:
    """Bind the port to `host` (None or "": unbind) with what the host's agents can do."""
    port.host_id = host or ""
    binding = portbinding.bind_for_host(session, port.network_id, port.host_id,
                                        port.vnic_type, now(clock), settings.agent_down_time)
    port.vif_type = binding.vif_type
    port.vif_details = dumps(binding.vif_details)


def _profile(value: Any) -> str:
    if value is None:
        return dumps({})
    if not isinstance(value, dict):
        raise exc.InvalidInput(error_message=f"'{value}' is not a dictionary")
    return dumps(value)


def _dhcp_opts(values: Any) -> list[tuple[str, int, str | None]]:
    if values is None:
        return []
    if not isinstance(values, list):
        raise exc.InvalidInput(error_message=f"Invalid data format for extra_dhcp_opts: "
                                             f"'{values}'")
    options: list[tuple[str, int, str | None]] = []
    seen: set[tuple[str, int]] = set()
    for option in values:
        if not isinstance(option, dict) or not option.get("opt_name"):
            raise exc.InvalidInput(error_message=f"Invalid extra DHCP option: '{option}'")
        version = option.get("ip_version", 4)
        if version is None:
            version = 4
        try:
            version = int(version)
        except (TypeError, ValueError):
            version = 0
        if version not in (4, 6):
            raise exc.InvalidInput(error_message=f"'{option.get('ip_version')}' is not in "
                                                 "[4, 6]")
        check_lengths(option, {"opt_name": 64, "opt_value": 255})
        key = (str(option["opt_name"]), version)
        if key in seen:
            raise exc.InvalidInput(error_message=f"Duplicate extra DHCP option '{key[0]}'")
        seen.add(key)
        value = option.get("opt_value")
        options.append((key[0], version, None if value is None else str(value)))
    return options


def _merge_dhcp_opts(session: Session, port: models.Port,
                     options: list[tuple[str, int, str | None]]) -> None:
    """Neutron's update semantics: named options are set, `opt_value: None` removes one,
    the others stay."""
    existing = {(o.opt_name, o.ip_version): o for o in port.extra_dhcp_opts}
    for name, version, value in options:
        row = existing.get((name, version))
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is not None:
            row.opt_value = value
        else:
            session.add(models.ExtraDhcpOpt(id=new_id(), port_id=port.id, opt_name=name,
                                            opt_value=value, ip_version=version))


# --- operations -------------------------------------------------------------------------

def _network_for_port(session: Session, ctx: Context, network_id: str | None, action: str,
                      read: Mapping[str, networks.PortNetwork] | None
                      ) -> networks.PortNetwork:
    if not network_id:
        raise exc.InvalidInput(error_message="network_id is required")
    if not isinstance(network_id, str):
        raise exc.NetworkNotFound(net_id=network_id)
    net = networks.for_port(session, ctx, network_id, read)
    if not (ctx.is_admin or net.shared or flt.owns(ctx, net.project_id)):
        raise exc.PolicyNotAuthorized(action=action)
    return net


class ProjectReads(NamedTuple):
    """What a create of one project's ports reads of the project with their networks."""

    project_id: str
    own_limit: int | None  # its own port quota (None: the default applies)
    default_group: str | None  # its default security group (None: none yet)


# The ports' networks, and the project's port quota and default group, in one statement
# (three statements, three round trips, before).
_NETWORKS_AND_PROJECT = select(
    *networks.PORT_NETWORK_COLUMNS, quotas.own_limit(quotas.PORT),
    securitygroups.DEFAULT_GROUP_OF_PROJECT,
).where(models.Network.id.in_(bindparam("ids", expanding=True)))


def creating_project(ctx: Context, bodies: Sequence[Mapping[str, Any]]) -> str | None:
    """The one project every body makes a port for, when that does not depend on the
    port's network; None otherwise (or when a body is refused: its create says why)."""
    found = set()
    for body in bodies:
        try:
            found.add(resolve_project(ctx, body))
        except exc.NeutronException:
            return None
    project = found.pop() if len(found) == 1 else None
    return project if isinstance(project, str) else None


def networks_for_create(session: Session, ids: Collection[str], project: str | None
                        ) -> tuple[dict[str, networks.PortNetwork], ProjectReads | None]:
    """networks.port_networks, and with `project` what ProjectReads holds of it (None when
    no network was found)."""
    if project is None or not ids or len(ids) > 500:
        return networks.port_networks(session, ids), None
    session.flush()  # as port_networks: what this transaction wrote is found
    rows = session.connection().execute(
        _NETWORKS_AND_PROJECT, {"ids": sorted(ids), "project_id": project}).all()
    found = {row[0]: networks.PortNetwork(*row[:5]) for row in rows}
    return found, ProjectReads(project, rows[0][5], rows[0][6]) if rows else None


def create(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           body: dict[str, Any],
           read: Mapping[str, networks.PortNetwork] | None = None,
           project_reads: ProjectReads | None = None) -> models.Port:
    """`read`: networks the caller has read already (networks.port_networks or
    networks_for_create, which gives `project_reads`)."""
    check_lengths(body, LIMITS)
    portsecurity.check_pair_count(body, settings.max_allowed_address_pair)
    net = _network_for_port(session, ctx, body.get("network_id"), "create_port", read)
    project = resolve_project(ctx, body, fallback=net.project_id)
    options = _dhcp_opts(body.get("extra_dhcp_opts"))
    requests = None if body.get("fixed_ips") is None else _requested_ips(body["fixed_ips"])
    # viewmemo.SETTLE says what a stamp to the microsecond buys.
    stamp = precise_now(session, clock)
    port = models.Port(
        id=body.get("id") or new_id(), project_id=project, network_id=net.id,
        name=body.get("name") or "", admin_state_up=bool(body.get("admin_state_up", True)),
        status=constants.PORT_STATUS_DOWN, device_id=body.get("device_id") or "",
        device_owner=body.get("device_owner") or "", dns_name=body.get("dns_name") or "",
        vnic_type=body.get("binding:vnic_type") or "normal",
        profile=_profile(body.get("binding:profile")), description=body.get("description") or "",
        port_security_enabled=net.port_security_enabled
        if body.get("port_security_enabled") is None else bool(body["port_security_enabled"]),
        created_at=stamp, updated_at=stamp, revision_number=1)
    bind(session, port, body.get("binding:host_id"), settings, clock)
    if "id" in body and session.get(models.Port, port.id) is not None:
        raise exc.Conflict(f"Port {port.id} already exists.")
    known_default = project_reads.default_group \
        if project_reads is not None and project_reads.project_id == project else None
    portsecurity.choose_groups(session, ctx, clock, port, body, known_default)
    _insert_port(session, port, body.get("mac_address"), settings)
    set_committed_value(port, "fixed_ips", [])
    portsecurity.on_create(session, port, body)
    all_subnets = network_subnets(session, net.id)
    if requests is None:
        _default_ips(session, port, all_subnets)
    else:
        _allocate_requested(session, port, requests, all_subnets)
    extra = [models.ExtraDhcpOpt(id=new_id(), port_id=port.id, opt_name=name, opt_value=value,
                                 ip_version=version)
             for name, version, value in options if value is not None]
    session.add_all(extra)
    session.flush()
    # Everything the port's dict shows is in memory: no reading back what was just written
    # (tags come later, through the tags API).
    set_committed_value(port, "extra_dhcp_opts", extra)
    set_committed_value(port, "tags", [])
    return port


def _check_update(ctx: Context, settings: CoreSettings, body: dict[str, Any]) -> None:
    for key in body:
        if key not in UPDATABLE and not (key == "status" and ctx.is_admin):
            raise exc.InvalidInput(error_message=f"Cannot update read-only attribute {key}")
    check_lengths(body, LIMITS)
    portsecurity.check_pair_count(body, settings.max_allowed_address_pair)


# What an update changes by setting columns of the port's own row and nothing else (no
# address, option, group or binding follows from them): such an update needs no Port
# object, see `update_columns`.
COLUMN_ONLY = frozenset({"name", "description", "device_id", "device_owner", "dns_name",
                         "admin_state_up", "status"})


def _column_values(body: dict[str, Any]) -> dict[str, Any]:
    texts = ("name", "description", "device_id", "device_owner", "dns_name")
    values: dict[str, Any] = {key: body[key] or "" for key in texts if key in body}
    if "admin_state_up" in body:
        values["admin_state_up"] = bool(body["admin_state_up"])
    if "status" in body:
        values["status"] = body["status"]
    return values


_COLUMN_AT = {column.key: i for i, column in enumerate(views.PORT_COLUMNS)}
# SET takes the columns the parameters name.
_UPDATE_COLUMNS = sql_update(models.Port.__table__).where(
    models.Port.__table__.c.id == bindparam("b_port_id"))


def update_columns(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
                   row: Sequence[Any], body: dict[str, Any]) -> list[Any] | None:
    """`update` of a port read with `locked_view`, for a body of COLUMN_ONLY attributes:
    one UPDATE statement; the new row's values (PORT_KEYED_COLUMNS) for its view. None
    (nothing written) when the port's binding failed: any update binds it again, which
    `update` does."""
    if row[_COLUMN_AT["vif_type"]] == portbinding.VIF_TYPE_BINDING_FAILED:
        return None
    _check_update(ctx, settings, body)
    values = _column_values(body)
    values["revision_number"] = row[_COLUMN_AT["revision_number"]] + 1
    values["updated_at"] = now(clock)
    execute(session, _UPDATE_COLUMNS, {**values, "b_port_id": row[views.PORT_ID]})
    changed = list(row)
    for key, value in values.items():
        changed[_COLUMN_AT[key]] = value
    return changed


def update(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           port_id: str, body: dict[str, Any], port: models.Port | None = None) -> models.Port:
    """`port`: the row, when the caller has read it already (locked, with get(...,
    for_update=True))."""
    # Visible means admin, the port's project or its network's: all may change it.
    if port is None:
        port = get(session, ctx, port_id, for_update=True)
    _check_update(ctx, settings, body)
    changed = []
    if "mac_address" in body and body["mac_address"] is not None:
        mac = macs.normalize(body["mac_address"])
        if mac != port.mac_address:
            _change_mac(session, port, mac)
            if body.get("fixed_ips") is None and _readdress_auto(session, port):
                changed.append("fixed_ips")
    portsecurity.on_update(session, ctx, port, body)
    if body.get("fixed_ips") is not None:
        _reallocate(session, port, _requested_ips(body["fixed_ips"]))
        changed.append("fixed_ips")
    if "extra_dhcp_opts" in body:
        _merge_dhcp_opts(session, port, _dhcp_opts(body["extra_dhcp_opts"]))
        changed.append("extra_dhcp_opts")
    if "binding:profile" in body:
        port.profile = _profile(body["binding:profile"])
    vnic_changed = bool(body.get("binding:vnic_type")) and \
        body["binding:vnic_type"] != port.vnic_type
    if vnic_changed:
        port.vnic_type = body["binding:vnic_type"]
    # As ML2: a new host or vnic type binds again, and so does any update of a port whose
    # binding failed (its host may have an agent by now).
    if "binding:host_id" in body or vnic_changed or \
            port.vif_type == portbinding.VIF_TYPE_BINDING_FAILED:
        bind(session, port, body.get("binding:host_id", port.host_id), settings, clock)
    for key, value in _column_values(body).items():
        setattr(port, key, value)
    port.revision_number += 1
    port.updated_at = now(clock)
    session.flush()
    if changed:
        session.expire(port, changed)  # only the collections rows were added to or removed from
    return port


def locked_view(session: Session, ctx: Context, port_id: str, dns_domain: str,
                memo: ViewMemo | None = None) -> tuple[Row[Any], dict[str, Any]]:
    """The row (PORT_KEYED_COLUMNS) and dict of a port the caller may see, its row locked
    until the transaction ends; read as rows, no Port object. A port `memo` remembers
    under the locked row's key costs that one statement: no other writer can move its
    revision until the commit. (Nothing is remembered from here: the port is about to
    change.) The dict may be the memo's: not to be changed."""
    row = session.connection().execute(
        _PORT_FOR_UPDATE[ctx.is_admin],
        {"port_id": port_id, "project_id": ctx.project_id}).one_or_none()
    if row is None:
        raise exc.PortNotFound(port_id=port_id)
    return row, views_of(session, [row], dns_domain, memo=memo)[0]


def delete(session: Session, port_id: str) -> None:
    """Delete a port read with locked_view: its IPs, options and provisioning blocks go
    with it."""
    # One statement: the database's ON DELETE CASCADE takes the rest.
    execute(session, _DELETE, {"port_id": port_id})
