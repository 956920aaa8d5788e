"""Security groups and their rules, inside a caller's transaction, and each project's
`default` group (made on the project's first use, one per project whatever the number of
server replicas: the defaultsecuritygroups primary key decides)."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, bindparam, exists, or_, select, true
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from neutrino.core.context import Context, resolve_project
from neutrino.core.dbutil import check_lengths, execute, insert_row_unless_duplicate, new_id, now
from neutrino.core.interfaces import Clock
from neutrino.core.resources import filters as flt
from neutrino.core.resources.views import timestamp
from neutrino.db import models
from neutrino.db.engine import RetryRequest
from neutrino.lib import attributes, validators
from neutrino.lib import constants as c
from neutrino.lib import exceptions as exc

Body = dict[str, Any]
GROUP_LIMITS = attributes.SECURITY_GROUP.limits
RULE_LIMITS = attributes.SECURITY_GROUP_RULE.limits
SG, RULE = models.SecurityGroup, models.SecurityGroupRule


# --- views -------------------------------------------------------------------------------

def _standard(row: models.StandardAttrs) -> Body:
    return {"description": row.description or "", "created_at": timestamp(row.created_at),
            "updated_at": timestamp(row.updated_at), "revision_number": row.revision_number}


def rule_dict(rule: models.SecurityGroupRule) -> Body:
    return {"id": rule.id, "security_group_id": rule.security_group_id,
            "remote_group_id": rule.remote_group_id, "direction": rule.direction,
            "ethertype": rule.ethertype, "protocol": rule.protocol,
            "port_range_min": rule.port_range_min, "port_range_max": rule.port_range_max,
            "remote_ip_prefix": rule.remote_ip_prefix, "tenant_id": rule.project_id,
            "project_id": rule.project_id, **_standard(rule)}


def group_dict(group: models.SecurityGroup) -> Body:
    return {"id": group.id, "name": group.name, "tenant_id": group.project_id,
            "project_id": group.project_id, "stateful": group.stateful,
            "security_group_rules": [rule_dict(r) for r in group.rules], **_standard(group)}


# --- visibility and filters ----------------------------------------------------------------

def group_visible(ctx: Context) -> ColumnElement[bool]:
    return true() if ctx.is_admin else SG.project_id == ctx.project_id


def rule_visible(ctx: Context) -> ColumnElement[bool]:
    """A rule is seen by its project and by its group's."""
    if ctx.is_admin:
        return true()
    own_groups = select(SG.id).where(SG.project_id == ctx.project_id)
    return or_(RULE.project_id == ctx.project_id, RULE.security_group_id.in_(own_groups))


def _group_filters(filters: flt.Filters) -> list[ColumnElement[bool]]:
    columns = {"id": SG.id, "name": SG.name, "description": SG.description,
               "tenant_id": SG.project_id, "project_id": SG.project_id,
               "revision_number": SG.revision_number, "stateful": SG.stateful}
    return [flt.in_values(columns[k], v) for k, v in filters.items() if k in columns and v]


def _rule_filters(filters: flt.Filters) -> list[ColumnElement[bool]]:
    columns = {name: getattr(RULE, name) for name in (
        "id", "security_group_id", "remote_group_id", "direction", "ethertype", "protocol",
        "port_range_min", "port_range_max", "remote_ip_prefix", "description",
        "revision_number")}
    columns |= {"tenant_id": RULE.project_id, "project_id": RULE.project_id}
    return [flt.in_values(columns[k], v) for k, v in filters.items() if k in columns and v]


# --- the default group ----------------------------------------------------------------------

# Built once: every port create runs it.
_DEFAULT_GROUP = select(models.DefaultSecurityGroup.security_group_id).where(
    models.DefaultSecurityGroup.project_id == bindparam("project_id"))


# The same as a column of another statement that binds `project_id` (a port create reads
# it with its network).
DEFAULT_GROUP_OF_PROJECT = _DEFAULT_GROUP.scalar_subquery()


def default_group_id(session: Session, project_id: str) -> str | None:
    return execute(session, _DEFAULT_GROUP, {"project_id": project_id}).scalar()


def _new_group(session: Session, project_id: str, name: str, description: str,
               stateful: bool, clock: Clock, default: bool) -> models.SecurityGroup:
    """A group with Neutron's initial rules: egress to anywhere for IPv4 and IPv6, and for
    a default group ingress from its own members too."""
    stamp = now(clock)
    group = SG(id=new_id(), project_id=project_id, name=name, description=description,
               stateful=stateful, created_at=stamp, updated_at=stamp, revision_number=1)
    session.add(group)
    session.flush()
    rules = []
    for ethertype in (c.IPV4, c.IPV6):
        if default:
            rules.append(_rule_row(project_id, group.id, c.INGRESS, ethertype, stamp,
                                   remote_group_id=group.id))
        rules.append(_rule_row(project_id, group.id, c.EGRESS, ethertype, stamp))
    session.add_all(rules)
    session.flush()
    return group


def _rule_row(project_id: str, group_id: str, direction: str, ethertype: str, stamp: Any,
              **values: Any) -> models.SecurityGroupRule:
    return RULE(id=new_id(), project_id=project_id, security_group_id=group_id,
                direction=direction, ethertype=ethertype, created_at=stamp, updated_at=stamp,
                revision_number=1, description=values.pop("description", "") or "", **values)


def ensure_default(session: Session, project_id: str, clock: Clock,
                   known: str | None = None) -> str:
    """The project's default group, created if it has none yet (`known`: its id, read
    already in this transaction). Two replicas creating it at once: the loser's insert of
    the defaultsecuritygroups row finds the winner's (and waits for its commit), and its
    whole transaction runs again, finding it."""
    found = known if known is not None else default_group_id(session, project_id)
    if found is not None:
        return found
    group = _new_group(session, project_id, c.DEFAULT_SG_NAME, c.DEFAULT_SG_DESCRIPTION,
                       True, clock, default=True)
    if not insert_row_unless_duplicate(
            session, models.DefaultSecurityGroup.__table__,
            {"project_id": project_id, "security_group_id": group.id}, ("project_id",)):
        raise RetryRequest()
    return group.id


def ensure_default_for(session: Session, ctx: Context, filters: flt.Filters | None,
                       clock: Clock) -> None:
    """A listing by a project gives it its default group, as Neutron's; so does an
    admin's naming a project in a filter (a member's names only its own: no project
    makes groups for another), if it is a name a project could have."""
    wanted = (filters or {}).get("project_id") or (filters or {}).get("tenant_id")
    project = str(wanted[0]) if wanted and ctx.is_admin else ctx.project_id
    try:
        project = validators.safe_string(255)(project) if project else None
    except validators.Invalid:
        return
    if project:
        ensure_default(session, project, clock)


# --- groups ----------------------------------------------------------------------------------

def get_group(session: Session, ctx: Context, group_id: str,
              for_update: bool = False) -> models.SecurityGroup:
    stmt = select(SG).where(SG.id == group_id, group_visible(ctx))
    if for_update:
        stmt = stmt.with_for_update()
    group = session.scalars(stmt).one_or_none()
    if group is None:
        raise exc.SecurityGroupNotFound(id=group_id)
    return group


def query_groups(session: Session, ctx: Context,
                 filters: flt.Filters | None) -> list[models.SecurityGroup]:
    stmt = select(SG).where(group_visible(ctx), *_group_filters(filters or {}))
    return list(session.scalars(stmt.order_by(SG.id)))


def create_group(session: Session, ctx: Context, clock: Clock,
                 body: Mapping[str, Any]) -> models.SecurityGroup:
    check_lengths(dict(body), GROUP_LIMITS)
    project = resolve_project(ctx, body)
    ensure_default(session, project, clock)
    return _new_group(session, project, body.get("name") or "",
                      body.get("description") or "", bool(body.get("stateful", True)),
                      clock, default=False)


def update_group(session: Session, ctx: Context, clock: Clock, group_id: str,
                 body: Mapping[str, Any]) -> models.SecurityGroup:
    """The group. Its `stateful` changes only while no port uses it, as in Neutron, so
    an update never changes what any agent enforces."""
    check_lengths(dict(body), GROUP_LIMITS)
    for key in body:
        if key not in attributes.SECURITY_GROUP.updatable:
            raise exc.InvalidInput(error_message=f"Cannot update read-only attribute {key}")
    group = get_group(session, ctx, group_id, for_update=True)
    if "name" in body and default_group_id(session, group.project_id) == group.id:
        raise exc.SecurityGroupCannotUpdateDefault()
    if "stateful" in body and bool(body["stateful"]) != group.stateful:
        # The group's row is locked: a port joining meanwhile waits on its foreign key
        # (or was there first and is seen here).
        _refuse_if_in_use(session, group_id)
    for key in ("name", "description"):
        if key in body:
            setattr(group, key, body[key] or "")
    if "stateful" in body:
        group.stateful = bool(body["stateful"])
    group.revision_number += 1
    group.updated_at = now(clock)
    session.flush()
    return group


def _refuse_if_in_use(session: Session, group_id: str) -> None:
    if session.scalar(select(exists().where(
            models.SecurityGroupPortBinding.security_group_id == group_id))):
        raise exc.SecurityGroupInUse(id=group_id)


def delete_group(session: Session, ctx: Context, group_id: str) -> list[str]:
    """Delete an unused group (its rules go with it, and the rules of other groups naming
    it as their remote group); returns those other groups, whose rules changed."""
    group = get_group(session, ctx, group_id, for_update=True)
    _refuse_if_in_use(session, group_id)
    if not ctx.is_admin and default_group_id(session, group.project_id) == group_id:
        raise exc.SecurityGroupCannotRemoveDefault()
    referring = sorted(set(session.scalars(
        select(RULE.security_group_id).where(RULE.remote_group_id == group_id,
                                             RULE.security_group_id != group_id))))
    # The database's ON DELETE CASCADE takes the rules and the default marker; a port
    # joining meanwhile fails on the binding's foreign key (and the caller retries).
    session.execute(sql_delete(SG).where(SG.id == group_id),
                    execution_options={"synchronize_session": False})
    session.expunge(group)
    return referring


# --- rules -----------------------------------------------------------------------------------

def _protocol_number(protocol: str | None) -> int | None:
    if protocol is None:
        return None
    return c.IP_PROTOCOL_MAP[protocol] if protocol in c.IP_PROTOCOL_MAP else int(protocol)


def check_rule(rule: Body) -> Body:
    """Neutron's checks of one rule after its attributes' own, in its order; returns the
    rule as stored (IPv6 ICMP under its canonical name, the prefix's network form)."""
    rule = dict(rule)
    protocol = rule.get("protocol")
    if rule.get("ethertype") == c.IPV6:
        if protocol in ("icmp", "icmpv6"):
            rule["protocol"] = protocol = "ipv6-icmp"
        elif protocol == "1":
            rule["protocol"] = protocol = "58"
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if low is not None or high is not None:
        if not protocol:
            raise exc.SecurityGroupProtocolRequiredWithPorts()
        number = _protocol_number(protocol)
        if number in {c.IP_PROTOCOL_MAP[p] for p in c.SG_PORT_PROTOCOLS}:
            if low == 0 or high == 0:
                raise exc.SecurityGroupInvalidPortValue(port=0)
            if low is None or high is None or low > high:
                raise exc.SecurityGroupInvalidPortRange()
        elif number in (1, 58):
            for attr, field, value in (("port_range_min", "type", low),
                                       ("port_range_max", "code", high)):
                if value is not None and not 0 <= value <= 255:
                    raise exc.SecurityGroupInvalidIcmpValue(field=field, attr=attr,
                                                            value=value)
            if low is None and high is not None:
                raise exc.SecurityGroupMissingIcmpType(value=high)
        else:
            raise exc.SecurityGroupInvalidProtocolForPort(
                protocol=number, valid_port_protocols=", ".join(
                    p.upper() for p in c.SG_PORT_PROTOCOLS))
    prefix = rule.get("remote_ip_prefix")
    if prefix:
        network = ipaddress.ip_network(prefix, strict=False)
        if rule.get("ethertype") != f"IPv{network.version}":
            raise exc.SecurityGroupRuleParameterConflict(ethertype=rule.get("ethertype"),
                                                         cidr=prefix)
    if rule.get("ethertype") == c.IPV4 and protocol is not None and (
            protocol in c.IPV6_ONLY_PROTOCOLS
            or protocol in {str(c.IP_PROTOCOL_MAP[p]) for p in c.IPV6_ONLY_PROTOCOLS}):
        raise exc.SecurityGroupEthertypeConflictWithProtocol(ethertype=c.IPV4,
                                                             protocol=protocol)
    if prefix and rule.get("remote_group_id"):
        raise exc.SecurityGroupMultipleRemoteEntites()
    return rule


def rule_key(rule: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes two rules the same rule: protocols by number, "any address" as none."""
    prefix = rule.get("remote_ip_prefix")
    return (rule.get("security_group_id"), rule.get("direction"), rule.get("ethertype"),
            _protocol_number(rule.get("protocol")), rule.get("port_range_min"),
            rule.get("port_range_max"), rule.get("remote_group_id"),
            None if prefix in ("0.0.0.0/0", "::/0") else prefix)


def create_rules(session: Session, ctx: Context, clock: Clock, bodies: list[Body],
                 enforce_quota: Callable[[str, int], None]) -> list[models.SecurityGroupRule]:
    """Rules of one group and one project (Neutron's bulk rule), all or none. The group's
    row lock orders concurrent creators, so the duplicate check cannot be raced.
    `enforce_quota(project, count)` runs once the rules' project is known.

    A rule belongs to its caller's project, but an admin's (who names no other project)
    to its group's: Neutron gives it the admin's, which hides it from the group's project
    under the default policy."""
    rules = [check_rule(b) for b in bodies]
    for body in bodies:
        check_lengths(body, RULE_LIMITS)
    if len({r["security_group_id"] for r in rules}) > 1:
        raise exc.SecurityGroupNotSingleGroupRules()
    group = get_group(session, ctx, rules[0]["security_group_id"], for_update=True)
    projects = {_rule_project(ctx, r, group) for r in rules}
    if len(projects) > 1:
        raise exc.SecurityGroupRulesNotSingleProject()
    project = projects.pop()
    enforce_quota(project, len(rules))
    remote_ctx = ctx if ctx.is_admin else Context(project_id=project)
    for remote in sorted({r["remote_group_id"] for r in rules if r.get("remote_group_id")}):
        get_group(session, remote_ctx, remote)
    keys: set[tuple[Any, ...]] = set()
    for rule in rules:
        key = rule_key(rule)
        if key in keys:
            raise exc.DuplicateSecurityGroupRuleInPost()
        keys.add(key)
    for existing in group.rules:
        if rule_key(rule_dict(existing)) in keys:
            raise exc.SecurityGroupRuleExists(rule_id=existing.id)
    stamp = now(clock)
    rows = [_rule_row(project, group.id, r["direction"], r["ethertype"], stamp,
                      protocol=r.get("protocol"), port_range_min=r.get("port_range_min"),
                      port_range_max=r.get("port_range_max"),
                      remote_ip_prefix=r.get("remote_ip_prefix"),
                      remote_group_id=r.get("remote_group_id"),
                      description=r.get("description"))
            for r in rules]
    session.add_all(rows)
    session.flush()
    return rows


def _rule_project(ctx: Context, rule: Body, group: models.SecurityGroup) -> str:
    project = resolve_project(ctx, rule, fallback=group.project_id)
    if ctx.is_admin and project == ctx.project_id:
        return group.project_id
    return project


def get_rule(session: Session, ctx: Context, rule_id: str) -> models.SecurityGroupRule:
    rule = session.scalars(select(RULE).where(RULE.id == rule_id, rule_visible(ctx))
                           ).one_or_none()
    if rule is None:
        raise exc.SecurityGroupRuleNotFound(id=rule_id)
    return rule


def query_rules(session: Session, ctx: Context,
                filters: flt.Filters | None) -> list[models.SecurityGroupRule]:
    stmt = select(RULE).where(rule_visible(ctx), *_rule_filters(filters or {}))
    return list(session.scalars(stmt.order_by(RULE.id)))


def update_rule(session: Session, ctx: Context, clock: Clock, rule_id: str,
                body: Mapping[str, Any]) -> models.SecurityGroupRule:
    for key in body:
        if key not in attributes.SECURITY_GROUP_RULE.updatable:
            raise exc.InvalidInput(error_message=f"Cannot update read-only attribute {key}")
    check_lengths(dict(body), RULE_LIMITS)
    rule = get_rule(session, ctx, rule_id)
    if "description" in body:
        rule.description = body["description"] or ""
    rule.revision_number += 1
    rule.updated_at = now(clock)
    session.flush()
    return rule


def delete_rule(session: Session, ctx: Context, rule_id: str) -> str:
    """Delete a rule; returns its group's id."""
    rule = get_rule(session, ctx, rule_id)
    # Under the group's lock, as creates: a rule and its duplicate check stay ordered.
    get_group(session, Context.admin(), rule.security_group_id, for_update=True)
    group_id = rule.security_group_id
    session.delete(rule)
    session.flush()
    return group_id


def usable_groups(session: Session, ctx: Context, project_id: str,
                  group_ids: Iterable[str]) -> list[str]:
    """The groups a port of `project_id` may join (its project's; any for an admin);
    SecurityGroupNotFound names the others."""
    wanted = list(dict.fromkeys(group_ids))
    if not wanted:
        return []
    stmt = select(SG.id).where(SG.id.in_(wanted))
    if not ctx.is_admin:
        stmt = stmt.where(SG.project_id == project_id)
    found = set(session.scalars(stmt))
    missing = [g for g in wanted if g not in found]
    if missing:
        raise exc.SecurityGroupNotFound(id=", ".join(missing))
    return wanted
