"""Sorting and `limit`/`marker` paging in SQL: one page read, whatever the collection's size.

Keyset paging: the marker row's sort values bound the next page (`WHERE (k1, k2, id) > (...)`
spelled as ORs, which every backend indexes), the primary key breaks ties, and one row past
the limit says whether there is more. Only columns that are never NULL and whose order is
the shown value's order are sortable here; the API sorts the others (computed attributes)
itself, after reading every row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, false, literal, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql.base import ExecutableOption

from neutrino.db import models

Row = TypeVar("Row")
Columns = Mapping[str, InstrumentedAttribute[Any]]


@dataclass(frozen=True)
class PageRequest:
    """`sorts` as (attribute, ascending); without `limit` every row comes, in order, and
    `marker`/`page_reverse` mean nothing (as in the API's own paging)."""

    sorts: Sequence[tuple[str, bool]] = ()
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False


@dataclass
class Page(Generic[Row]):
    """One page in the requested order; whether rows exist before it and after it."""

    items: list[Row]
    has_before: bool
    has_after: bool


def _standard(model: Any) -> dict[str, InstrumentedAttribute[Any]]:
    return {"id": model.id, "name": model.name, "description": model.description,
            "tenant_id": model.project_id, "project_id": model.project_id,
            "created_at": model.created_at, "updated_at": model.updated_at,
            "revision_number": model.revision_number}


# NOT NULL columns shown as stored (timestamps order as their text does).
NETWORK_SORTS: Columns = _standard(models.Network) | {
    "admin_state_up": models.Network.admin_state_up, "status": models.Network.status,
    "shared": models.Network.shared, "router:external": models.Network.external,
    "mtu": models.Network.mtu, "dns_domain": models.Network.dns_domain}
SUBNET_SORTS: Columns = _standard(models.Subnet) | {
    "network_id": models.Subnet.network_id, "ip_version": models.Subnet.ip_version,
    "cidr": models.Subnet.cidr, "enable_dhcp": models.Subnet.enable_dhcp}
PORT_SORTS: Columns = _standard(models.Port) | {
    "network_id": models.Port.network_id, "mac_address": models.Port.mac_address,
    "admin_state_up": models.Port.admin_state_up, "status": models.Port.status,
    "device_id": models.Port.device_id, "device_owner": models.Port.device_owner,
    "binding:host_id": models.Port.host_id, "binding:vnic_type": models.Port.vnic_type,
    "binding:vif_type": models.Port.vif_type, "dns_name": models.Port.dns_name}


def _after(order: list[tuple[InstrumentedAttribute[Any], bool]],
           values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in `order`: (k1 > v1) or (k1 = v1 and k2 > v2) or ..."""
    options = []
    # Bound as parameters of the column's type: SQLAlchemy refuses `<` with a bare bool.
    bound = [literal(v, c.type) for (c, _), v in zip(order, values, strict=True)]
    for i, (column, ascending) in enumerate(order):
        equal = [c == v for (c, _), v in zip(order[:i], bound[:i], strict=True)]
        beyond = column > bound[i] if ascending else column < bound[i]
        options.append(and_(*equal, beyond))
    return or_(*options) if options else false()


def read_page(session: Session, model: Any, where: Sequence[ColumnElement[bool]],
              columns: Columns, request: PageRequest, not_found: Callable[[str], Exception],
              options: Sequence[ExecutableOption] = (), as_rows: bool = False,
              selected: Sequence[Any] = ()) -> Page[Any]:
    """The page of `model` objects matching `where` (`as_rows`: rows of its table, no ORM
    objects, or of the `selected` columns); `not_found(marker)` is raised when the marker is
    not among them (the caller may not see it, or the filters exclude it)."""
    order: list[tuple[InstrumentedAttribute[Any], bool]] = []
    for key, ascending in request.sorts:
        column = columns[key]
        if all(column is not c for c, _ in order):
            order.append((column, ascending))
    if all(model.id is not c for c, _ in order):
        order.append((model.id, True))
    limit = request.limit or None
    marker = request.marker if limit else None
    reverse = bool(request.page_reverse and limit)
    # Reading backwards from the marker: every direction flips, and the page is turned
    # round afterwards.
    walk = [(column, ascending != reverse) for column, ascending in order]
    stmt = select(*(selected or model.__table__.columns)) if as_rows else select(model)
    stmt = stmt.where(*where)
    if marker is not None:
        found = session.execute(select(*(c for c, _ in order))
                                .where(*where, model.id == marker)).first()
        if found is None:
            raise not_found(marker)
        stmt = stmt.where(_after(walk, tuple(found)))
    stmt = stmt.order_by(*(c.asc() if up else c.desc() for c, up in walk))
    if limit:
        stmt = stmt.limit(limit + 1)
    rows: list[Any]
    if as_rows:
        rows = list(session.connection().execute(stmt).all())  # Core rows: no ORM loading
    else:
        rows = list(session.scalars(stmt.options(*options)))
    more = limit is not None and len(rows) > limit
    if limit is not None:
        rows = rows[:limit]
    if reverse:
        rows.reverse()
        return Page(rows, has_before=more, has_after=marker is not None)
    return Page(rows, has_before=marker is not None, has_after=more)
