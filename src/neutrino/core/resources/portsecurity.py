"""A port's security: its groups, `port_security_enabled` and allowed address pairs, set
inside the port's create or update transaction with Neutron's rules and errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from neutrino.core.context import Context
from neutrino.core.dbutil import now
from neutrino.core.interfaces import Clock
from neutrino.core.resources import securitygroups
from neutrino.db import models
from neutrino.lib import constants
from neutrino.lib import exceptions as exc


def check_pair_count(body: Mapping[str, Any], limit: int) -> None:
    """Before anything is written: the operator's max_allowed_address_pair."""
    if len(body.get("allowed_address_pairs") or ()) > limit:
        raise exc.AllowedAddressPairExhausted(quota=limit)


def _pairs(port: models.Port, requested: Any) -> list[tuple[str, str]]:
    """(mac, ip) of each pair; a pair without a MAC takes the port's."""
    found: list[tuple[str, str]] = []
    for pair in requested or []:
        key = (pair.get("mac_address") or port.mac_address, pair["ip_address"])
        if key not in found:
            found.append(key)
    return found


def _check(enabled: bool, groups: list[str], pairs: list[tuple[str, str]]) -> None:
    if not enabled and groups:
        raise exc.PortSecurityAndIPRequiredForSecurityGroups()
    if not enabled and pairs:
        raise exc.AddressPairAndPortSecurityRequired()


def _groups(port: models.Port) -> list[str]:
    return port.security_group_ids.split(",") if port.security_group_ids else []


def _write(session: Session, port: models.Port, groups: list[str] | None,
           pairs: list[tuple[str, str]] | None, current: list[str] | None = None,
           had_pairs: bool = True) -> None:
    """Replace the port's groups (from `current`, default the row's) and/or pairs (None:
    leave them; `had_pairs=False`: a new port, none to delete) and show them on the row
    without reading them back."""
    if groups is not None:
        binding = models.SecurityGroupPortBinding
        current = _groups(port) if current is None else current
        gone = [g for g in current if g not in groups]
        if gone:
            session.execute(sql_delete(binding).where(binding.port_id == port.id,
                                                      binding.security_group_id.in_(gone)))
        new = [g for g in groups if g not in current]
        if new:
            # The tables' inserts, not the mapped classes': no ORM bulk machinery for rows.
            session.execute(insert(binding.__table__),
                            [{"port_id": port.id, "security_group_id": g} for g in new])
        shown = ",".join(sorted(groups))
        # The same value set again would still make the row dirty, and flushing a Port
        # walks all its relationships (most of a port create's flush time).
        if shown != port.security_group_ids:
            port.security_group_ids = shown
    if pairs is not None:
        pair = models.AllowedAddressPair
        if had_pairs:
            session.execute(sql_delete(pair).where(pair.port_id == port.id))
        if pairs:
            session.execute(insert(pair.__table__), [{"port_id": port.id, "mac_address": mac,
                                                      "ip_address": ip} for mac, ip in pairs])
        set_committed_value(port, "allowed_address_pairs", [
            models.AllowedAddressPair(port_id=port.id, mac_address=mac, ip_address=ip)
            for mac, ip in pairs])


def choose_groups(session: Session, ctx: Context, clock: Clock, port: models.Port,
                  body: Mapping[str, Any], default_group: str | None = None) -> None:
    """Before the port's insert: its groups (the project's default when none are given:
    `default_group` when read already), on the row it inserts.
    `port.port_security_enabled` is already decided."""
    requested = body.get("security_groups")
    _check(port.port_security_enabled, list(requested or []),
           list(body.get("allowed_address_pairs") or []))
    if requested is not None:
        groups = securitygroups.usable_groups(session, ctx, port.project_id, requested)
    elif port.port_security_enabled and not constants.is_network_owned(port.device_owner):
        groups = [securitygroups.ensure_default(session, port.project_id, clock,
                                                default_group)]
    else:
        groups = []
    port.security_group_ids = ",".join(sorted(groups))


def on_create(session: Session, port: models.Port, body: Mapping[str, Any]) -> None:
    """After the port's insert (its MAC known): its memberships and pairs."""
    set_committed_value(port, "allowed_address_pairs", [])
    _write(session, port, _groups(port),
           _pairs(port, body.get("allowed_address_pairs")), current=[], had_pairs=False)


def on_update(session: Session, ctx: Context, port: models.Port,
              body: Mapping[str, Any]) -> None:
    """The port's row is locked and any new MAC set: pairs without one take it."""
    if not ({"security_groups", "port_security_enabled", "allowed_address_pairs"} & set(body)):
        return
    enabled = port.port_security_enabled if body.get("port_security_enabled") is None \
        else bool(body["port_security_enabled"])
    current = _groups(port)
    groups = None
    if "security_groups" in body:
        groups = securitygroups.usable_groups(session, ctx, port.project_id,
                                              body["security_groups"] or [])
    elif not enabled and current:
        raise exc.PortSecurityPortHasSecurityGroup()
    pairs = _pairs(port, body["allowed_address_pairs"]) \
        if "allowed_address_pairs" in body else None
    _check(enabled, current if groups is None else groups,
           [(p.mac_address, p.ip_address) for p in port.allowed_address_pairs]
           if pairs is None else pairs)
    port.port_security_enabled = enabled
    _write(session, port, groups, pairs)


def adopt_ungrouped_ports(session: Session, clock: Clock) -> int:
    """Put every port with port security but no group (what the security groups migration
    left the ports made before it) into its project's default group, made with Neutron's
    rules if missing; the cloud's own ports (network:*) stay without, as on create.
    Otherwise turning the firewall on would drop all traffic of those ports. Returns
    how many ports changed."""
    port = models.Port
    rows = session.scalars(
        select(port).where(port.port_security_enabled.is_(True), port.security_group_ids == "",
                           port.project_id != "", ~port.device_owner.startswith(
                               constants.DEVICE_OWNER_NETWORK_PREFIX))
        .order_by(port.id).with_for_update())
    count = 0
    for row in rows:
        group = securitygroups.ensure_default(session, row.project_id, clock)
        _write(session, row, [group], None, current=[])
        row.revision_number += 1
        row.updated_at = now(clock)
        count += 1
    session.flush()
    return count
