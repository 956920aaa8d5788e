"""Quotas, inside a caller's transaction: per-project limits and their enforcement.

A create takes, before its inserts, a row lock on (project, resource) in `quotausages`
(inserted on first use by an upsert, so two creators never race to insert it), then counts
the project's rows in SQL. Creators of one project's ports therefore count and insert one
at a time, on every server replica, and no project ends above its limit. An unlimited
resource (-1) takes no lock (a limit set on it while a create runs applies from the
next create on). `PUT ... check_limit` counts under the same lock, so no create
slips in between its count and the new limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, bindparam, delete, func, select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from neutrino.conf.settings import QuotaSettings
from neutrino.core.context import Context, resolve_project
from neutrino.core.dbutil import execute, insert_row_unless_duplicate, new_id
from neutrino.db import models
from neutrino.lib import exceptions as exc

NETWORK, SUBNET, PORT = "network", "subnet", "port"
SECURITY_GROUP, SECURITY_GROUP_RULE = "security_group", "security_group_rule"
# What each quota counts: the rows of these tables with the project's id.
COUNTED: dict[str, Any] = {NETWORK: models.Network, SUBNET: models.Subnet, PORT: models.Port,
                           SECURITY_GROUP: models.SecurityGroup,
                           SECURITY_GROUP_RULE: models.SecurityGroupRule}
RESOURCES = tuple(COUNTED)
UNLIMITED = -1


# --- the decision ---------------------------------------------------------------------

def over_limit(limits: Mapping[str, int], used: Mapping[str, int],
               deltas: Mapping[str, int]) -> list[str]:
    """The resources that `deltas` more items would put over their limit, sorted (as
    Neutron lists them); a negative limit is unlimited, 0 allows none."""
    return sorted(name for name, delta in deltas.items()
                  if delta > 0 and limits[name] >= 0 and used[name] + delta > limits[name])


def check_limit_allows(limit: int, used: int) -> bool:
    """PUT with check_limit: a limit below what is already used is refused (an unlimited
    one never is)."""
    return limit < 0 or limit >= used


# --- reads ----------------------------------------------------------------------------

def overrides(session: Session, project_id: str | None = None) -> dict[str, dict[str, int]]:
    """{project: {resource: limit}} for the limits admins set (one project, or all)."""
    stmt = select(models.Quota.project_id, models.Quota.resource, models.Quota.limit)
    if project_id is not None:
        stmt = stmt.where(models.Quota.project_id == project_id)
    found: dict[str, dict[str, int]] = {}
    for project, resource, limit in session.execute(stmt):
        if resource in COUNTED:  # a resource this server no longer has is not shown
            found.setdefault(project, {})[resource] = limit
    return found


def limits(session: Session, settings: QuotaSettings, project_id: str) -> dict[str, int]:
    return {**settings.defaults(), **overrides(session, project_id).get(project_id, {})}


def used(session: Session, project_id: str, resource: str) -> int:
    model = COUNTED[resource]
    return int(session.scalar(select(func.count()).select_from(model)
                              .where(model.project_id == project_id)) or 0)


def _limit_and_used_statement(resource: str) -> Select[Any]:
    model = COUNTED[resource]
    own = (select(models.Quota.limit)
           .where(models.Quota.project_id == bindparam("project_id"),
                  models.Quota.resource == resource)
           .scalar_subquery())
    count = (select(func.count()).select_from(model)
             .where(model.project_id == bindparam("project_id")).scalar_subquery())
    return select(own, count)


# Built once: a create runs them every time (building them per call cost more than running).
_OWN_LIMIT = select(models.Quota.limit).where(models.Quota.project_id == bindparam("project_id"),
                                              models.Quota.resource == bindparam("resource"))
_LIMIT_AND_USED = {resource: _limit_and_used_statement(resource) for resource in COUNTED}


def own_limit(resource: str) -> Any:
    """The project's own limit of `resource` (NULL: the default applies), as a column of
    another statement that binds `project_id`: a port create reads it with its network."""
    return (select(models.Quota.limit)
            .where(models.Quota.project_id == bindparam("project_id"),
                   models.Quota.resource == resource)
            .scalar_subquery())


def _or_default(settings: QuotaSettings, resource: str, own: int | None) -> int:
    return settings.defaults()[resource] if own is None else int(own)


def _limit(session: Session, settings: QuotaSettings, project_id: str, resource: str) -> int:
    return _or_default(settings, resource, execute(
        session, _OWN_LIMIT, {"project_id": project_id, "resource": resource}).scalar())


def _limit_and_used(session: Session, settings: QuotaSettings, project_id: str,
                    resource: str) -> tuple[int, int]:
    limit, in_use = execute(session, _LIMIT_AND_USED[resource], {"project_id": project_id}).one()
    return _or_default(settings, resource, limit), int(in_use)


# --- changes --------------------------------------------------------------------------

def set_limit(session: Session, project_id: str, resource: str, limit: int) -> None:
    table = models.Quota.__table__
    row = {"id": new_id(), "project_id": project_id, "resource": resource, "limit": limit}
    # Two admins setting the first limit at once: the loser updates the winner's row.
    if not insert_row_unless_duplicate(session, table, row, ("project_id", "resource")):
        session.execute(table.update()
                        .where(table.c.project_id == project_id, table.c.resource == resource)
                        .values(limit=limit))


def delete_limits(session: Session, project_id: str) -> int:
    result = session.execute(delete(models.Quota).where(models.Quota.project_id == project_id))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def lock(session: Session, project_id: str, resource: str) -> None:
    """Hold (project, resource)'s row lock until the transaction ends; create the row if
    it is missing. One upsert that always takes the row's write lock: a plain insert that
    hits a duplicate would take a shared lock first, and two such waiters then deadlock
    upgrading it (MariaDB)."""
    dialect = session.get_bind().dialect.name
    statement = _LOCKS.get(dialect)
    if statement is None:
        statement = _LOCKS[dialect] = _lock_statement(dialect)
    execute(session, statement, {"project_id": project_id, "resource": resource})


def _lock_statement(dialect: str) -> Any:
    table = models.QuotaUsage.__table__
    values: dict[str, Any] = {"project_id": bindparam("project_id"),
                              "resource": bindparam("resource")}
    if dialect in ("mysql", "mariadb"):
        my = mysql_insert(table).values(values)
        return my.on_duplicate_key_update(resource=my.inserted.resource)
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = make(table).values(values)
    return stmt.on_conflict_do_update(index_elements=["project_id", "resource"],
                                      set_={"resource": stmt.excluded.resource})


# lock()'s upsert by dialect, built on first use.
_LOCKS: dict[str, Any] = {}


def enforce(session: Session, settings: QuotaSettings, resource: str,
            projects: Iterable[str], known: Mapping[str, int | None] | None = None) -> None:
    """Before inserting one `resource` per entry of `projects` (a bulk create may name
    several projects, or one many times): lock, count, and refuse with OverQuota what
    would go over a limit. Locks are taken in a fixed order so two bulk creates cannot
    deadlock on each other's projects. `known`: projects' own limits (None: none) read
    already in this transaction."""
    deltas: dict[str, int] = {}
    for project in projects:
        deltas[project] = deltas.get(project, 0) + 1
    for project in sorted(deltas):
        limit = _or_default(settings, resource, known[project]) \
            if known is not None and project in known \
            else _limit(session, settings, project, resource)
        if limit < 0:
            # Unlimited: no lock, no count (one cheap read per create). A limit set while
            # this create runs applies from the next one.
            continue
        lock(session, project, resource)
        # The limit again, under the lock: an admin's PUT with check_limit may have lowered
        # it since the read above. One statement with the count.
        limit, count = _limit_and_used(session, settings, project, resource)
        if over_limit({resource: limit}, {resource: count}, {resource: deltas[project]}):
            raise exc.OverQuota(overs=[resource])


def project_of(session: Session, ctx: Context, body: Mapping[str, Any]) -> str | None:
    """The project a new resource will belong to, as its create decides it (a subnet's or
    port's falls back to its network's); None when the create itself will refuse the body,
    which then reports its own error."""
    fallback = None
    network_id = body.get("network_id")
    if ctx.project_id is None and body.get("project_id") is None \
            and body.get("tenant_id") is None and isinstance(network_id, str):
        fallback = session.scalar(select(models.Network.project_id)
                                  .where(models.Network.id == network_id))
    try:
        return resolve_project(ctx, body, fallback=fallback)
    except exc.NeutronException:
        return None


def enforce_create(session: Session, ctx: Context, settings: QuotaSettings, resource: str,
                   bodies: Iterable[Mapping[str, Any]],
                   known: Mapping[str, int | None] | None = None) -> None:
    projects = [p for p in (project_of(session, ctx, b) for b in bodies) if p is not None]
    enforce(session, settings, resource, projects, known)
