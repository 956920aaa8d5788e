"""standard-attr-tag: the tags of networks, subnets and ports, inside a caller's
transaction. Who may change them is the API's policy; here a resource the caller cannot
see is absent (TagResourceNotFound)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from neutrino.core.context import Context
from neutrino.core.dbutil import now
from neutrino.core.interfaces import Clock
from neutrino.core.resources import networks, ports, subnets
from neutrino.db import models
from neutrino.lib import exceptions as exc

Tagged = models.Network | models.Subnet | models.Port

_GETTERS: dict[str, Callable[[Session, Context, str, bool], Tagged]] = {
    "networks": lambda s, ctx, id_, lock: networks.get(s, ctx, id_, for_update=lock),
    "subnets": lambda s, ctx, id_, lock: subnets.get(s, ctx, id_, for_update=lock),
    "ports": lambda s, ctx, id_, lock: ports.get(s, ctx, id_, for_update=lock),
}
COLLECTIONS = tuple(_GETTERS)


def parent(session: Session, ctx: Context, collection: str, resource_id: str,
           for_update: bool = False) -> Tagged:
    """The tagged resource. `for_update` locks its row: every tag write of one resource
    takes that lock first, so concurrent writers take turns instead of colliding on the
    unique constraint, and the revision they bump counts each change once."""
    getter = _GETTERS.get(collection)
    if getter is None:
        raise exc.TagResourceNotFound(resource=collection, resource_id=resource_id)
    try:
        return getter(session, ctx, resource_id, for_update)
    except exc.NotFound:
        raise exc.TagResourceNotFound(resource=collection, resource_id=resource_id) from None


def names(row: Tagged) -> list[str]:
    return sorted(t.tag for t in row.tags)


def _changed(row: Tagged, clock: Clock) -> None:
    # As Neutron: a tag change is a change of its resource.
    row.revision_number += 1
    row.updated_at = now(clock)


def replace(session: Session, row: Tagged, wanted: list[str], clock: Clock) -> list[str]:
    """Exactly `wanted` (unique, validated tags); the resource's revision goes up once if
    anything changed."""
    current = {t.tag: t for t in row.tags}
    removed = [t for name, t in current.items() if name not in wanted]
    added = [name for name in wanted if name not in current]
    for t in removed:
        row.tags.remove(t)
    # The deletes first: a tag removed and added back in one call never exists twice.
    session.flush()
    for name in added:
        row.tags.append(models.Tag(tag=name))
    if removed or added:
        _changed(row, clock)
    session.flush()
    return names(row)


def add(session: Session, row: Tagged, new: list[str], clock: Clock) -> list[str]:
    """`new` added to the resource's tags (those it has already are left as they are)."""
    have = {t.tag for t in row.tags}
    return replace(session, row, [*sorted(have), *(n for n in new if n not in have)], clock)


def remove(session: Session, row: Tagged, tag: str, clock: Clock) -> None:
    if tag not in {t.tag for t in row.tags}:
        raise exc.TagNotFound(tag=tag)
    replace(session, row, [t.tag for t in row.tags if t.tag != tag], clock)
