"""Networks, inside a caller's transaction (a Session)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from sqlalchemy import bindparam, select
from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session, lazyload, load_only, selectinload

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context, resolve_project
from neutrino.core.dbutil import check_lengths, new_id, now
from neutrino.core.interfaces import Clock
from neutrino.core.resources import filters as flt
from neutrino.core.resources import paging, segments, views
from neutrino.db import models
from neutrino.lib import attributes, constants
from neutrino.lib import exceptions as exc

LIMITS = attributes.NETWORK.limits
UPDATABLE = attributes.NETWORK.updatable
READ_ONLY = attributes.NETWORK.read_only


def get(session: Session, ctx: Context, network_id: str, for_update: bool = False
        ) -> models.Network:
    """A network the caller may see; NetworkNotFound otherwise."""
    stmt = select(models.Network).where(models.Network.id == network_id,
                                        flt.network_visible(ctx))
    if for_update:
        stmt = stmt.with_for_update()
    net = session.scalars(stmt).one_or_none()
    if net is None:
        raise exc.NetworkNotFound(net_id=network_id)
    return net


def get_owned(session: Session, ctx: Context, network_id: str, action: str,
              for_update: bool = False) -> models.Network:
    """A network the caller may change: invisible → 404, visible but not theirs → 403."""
    net = get(session, ctx, network_id, for_update=for_update)
    if not flt.owns(ctx, net.project_id):
        raise exc.PolicyNotAuthorized(action=action)
    return net


# What PortNetwork holds, in its order.
PORT_NETWORK_COLUMNS = (models.Network.id, models.Network.project_id, models.Network.shared,
                        models.Network.external, models.Network.port_security_enabled)
# Built once: every port create and change runs it.
_TARGETS = select(*PORT_NETWORK_COLUMNS).where(
    models.Network.id.in_(bindparam("ids", expanding=True)))


class PortNetwork(NamedTuple):
    """What a port's create and policy checks read of its network."""

    id: str
    project_id: str
    shared: bool
    external: bool
    port_security_enabled: bool

    def policy_target(self) -> dict[str, Any]:
        return {"id": self.id, "project_id": self.project_id, "tenant_id": self.project_id,
                "shared": self.shared, "router:external": self.external}


def port_networks(session: Session, ids: Collection[str]) -> dict[str, PortNetwork]:
    """The networks `ids` that exist, by id, read as rows whoever asks."""
    wanted = sorted(ids)
    session.flush()  # a network made in this transaction is found, as autoflush would
    conn = session.connection()  # plain rows: no ORM execution on the way
    found: dict[str, PortNetwork] = {}
    for start in range(0, len(wanted), 500):
        for row in conn.execute(_TARGETS, {"ids": wanted[start:start + 500]}):
            found[row[0]] = PortNetwork(*row)
    return found


def policy_targets(session: Session, ids: Collection[str]) -> dict[str, dict[str, Any]]:
    return {id_: net.policy_target() for id_, net in port_networks(session, ids).items()}


def for_port(session: Session, ctx: Context, network_id: str,
             read: Mapping[str, PortNetwork] | None = None) -> PortNetwork:
    """The network a port is made on (from `read` when it holds it), if the caller may see
    it, as `get` decides; NetworkNotFound otherwise."""
    net = (read or {}).get(network_id) or port_networks(session, [network_id]).get(network_id)
    if net is not None and (ctx.is_admin or net.shared or net.external
                            or flt.owns(ctx, net.project_id)):
        return net
    raise exc.NetworkNotFound(net_id=network_id)


# A network's dict needs its subnets' ids only: not their other columns, nor their pools,
# servers, routes and tags.
_SUBNET_IDS_ONLY = selectinload(models.Network.subnets).options(
    load_only(models.Subnet.id),
    *(lazyload(getattr(models.Subnet, name)) for name in (
        "allocation_pools", "dns_nameservers", "host_routes", "tags")))


def query(session: Session, ctx: Context, filters: flt.Filters | None) -> list[models.Network]:
    stmt = select(models.Network).where(flt.network_visible(ctx),
                                        *flt.network_filters(filters or {}))
    stmt = stmt.options(_SUBNET_IDS_ONLY)
    return list(session.scalars(stmt.order_by(models.Network.id)))


def page(session: Session, ctx: Context, filters: flt.Filters | None,
         request: paging.PageRequest) -> paging.Page[dict[str, Any]]:
    """A page of the networks' dicts, read as rows."""
    where = [flt.network_visible(ctx), *flt.network_filters(filters or {})]
    found = paging.read_page(session, models.Network, where, paging.NETWORK_SORTS, request,
                             attributes.NETWORK.not_found, as_rows=True)
    return paging.Page(views.network_row_dicts(session, found.items), found.has_before,
                       found.has_after)


def _single_segment(body: dict[str, Any]) -> dict[str, Any]:
    """multi-provider's `segments` as the provider:* attributes of the one segment a
    Neutrino network has; Neutron's errors for mixing both and for duplicates."""
    requested = body.get("segments")
    if not requested:
        return body
    if not isinstance(requested, list) or not all(isinstance(s, dict) for s in requested):
        raise exc.InvalidInput(error_message="segments must be a list of segments")
    if segments.has_provider_attributes(body):
        raise exc.SegmentsSetInConjunctionWithProviders()
    unique = {tuple(sorted(s.items())) for s in requested}
    if len(unique) != len(requested):
        raise exc.SegmentsContainDuplicateEntry()
    if len(requested) > 1:
        # Agents, bindings and DHCP here know one segment per network.
        raise exc.InvalidInput(error_message="Neutrino supports one segment per network")
    merged = {k: v for k, v in body.items() if k != "segments"}
    # All three keys, None where absent: a segment without a type is refused as such.
    merged.update({k: requested[0].get(k) for k in segments.PROVIDER_KEYS})
    return merged


def create(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           body: dict[str, Any]) -> models.Network:
    check_lengths(body, LIMITS)
    project = resolve_project(ctx, body)
    body = _single_segment(body)
    if segments.has_provider_attributes(body):
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="create_network:provider:network_type")
        request = segments.provider_request(body, settings)
    else:
        request = segments.tenant_request(settings)
    for key, action in (("shared", "create_network:shared"),
                        ("router:external", "create_network:router:external")):
        if body.get(key) and not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action=action)
    hints = body.get("availability_zone_hints") or []
    if not isinstance(hints, list) or not all(isinstance(h, str) for h in hints):
        raise exc.InvalidInput(error_message="availability_zone_hints must be a list of names")
    hints_json = json.dumps(sorted(set(hints)))
    if len(hints_json) > 255:
        raise exc.InvalidInput(error_message=(
            "Too many availability_zone_hints specified"))
    stamp = now(clock)
    net = models.Network(
        id=body.get("id") or new_id(), project_id=project, name=body.get("name") or "",
        admin_state_up=body.get("admin_state_up", True), status=constants.NET_STATUS_ACTIVE,
        shared=bool(body.get("shared", False)), external=bool(body.get("router:external", False)),
        mtu=settings.global_physnet_mtu, dns_domain=body.get("dns_domain") or "",
        availability_zone_hints=hints_json,
        port_security_enabled=bool(body.get("port_security_enabled", True)),
        description=body.get("description") or "", created_at=stamp, updated_at=stamp,
        revision_number=1)
    if "id" in body and session.get(models.Network, net.id) is not None:
        raise exc.Conflict(f"Network {net.id} already exists.")
    session.add(net)
    session.flush()
    segments.allocate(session, net.id, request, settings)
    session.flush()
    session.refresh(net)
    return net


def _check_unshare(session: Session, net: models.Network) -> None:
    """Neutron refuses to unshare a network other projects already use."""
    others = [
        select(models.Port.id).where(models.Port.network_id == net.id,
                                     models.Port.project_id != net.project_id).limit(1),
        select(models.Subnet.id).where(models.Subnet.network_id == net.id,
                                       models.Subnet.project_id != net.project_id).limit(1),
    ]
    if any(session.execute(stmt).first() for stmt in others):
        raise exc.InvalidSharedSetting(network=net.name or net.id)


def update(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           network_id: str, body: dict[str, Any]) -> models.Network:
    net = get_owned(session, ctx, network_id, "update_network", for_update=True)
    check_lengths(body, LIMITS)
    for key in body:
        if key in READ_ONLY and key not in UPDATABLE:
            raise exc.InvalidInput(error_message=f"Cannot update read-only attribute {key}")
    if body.get("segments") is not None:
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="update_network:segments")
        if segments.has_provider_attributes(body):
            raise exc.SegmentsSetInConjunctionWithProviders()
        if body["segments"] != views.segment_list(net.segments):
            raise exc.InvalidInput(
                error_message="Plugin does not support updating provider attributes")
    if segments.has_provider_attributes(body):
        if not ctx.is_admin:
            raise exc.PolicyNotAuthorized(action="update_network:provider:network_type")
        current = views.provider_attributes(net.segments)
        merged = dict(current)
        merged.update({k: body[k] for k in segments.PROVIDER_KEYS if k in body})
        if current != merged:
            raise exc.InvalidInput(
                error_message="Plugin does not support updating provider attributes")
    for key, action in (("shared", "update_network:shared"),
                        ("router:external", "update_network:router:external")):
        if key in body and not ctx.is_admin and bool(body[key]) != \
                (net.shared if key == "shared" else net.external):
            raise exc.PolicyNotAuthorized(action=action)
    if "name" in body:
        net.name = body["name"] or ""
    if "description" in body:
        net.description = body["description"] or ""
    if "admin_state_up" in body:
        net.admin_state_up = bool(body["admin_state_up"])
    if "dns_domain" in body:
        net.dns_domain = body["dns_domain"] or ""
    if body.get("port_security_enabled") is not None:
        net.port_security_enabled = bool(body["port_security_enabled"])
    if "router:external" in body:
        net.external = bool(body["router:external"])
    if "shared" in body:
        if net.shared and not body["shared"]:
            _check_unshare(session, net)
        net.shared = bool(body["shared"])
    net.revision_number += 1
    net.updated_at = now(clock)
    session.flush()
    return net


def delete(session: Session, ctx: Context, network_id: str) -> dict[str, Any]:
    """Delete a network with its subnets, segments and DHCP ports; other ports → 409.
    Returns the network's dict as it was."""
    net = get_owned(session, ctx, network_id, "delete_network", for_update=True)
    port = models.Port
    in_use = session.execute(
        select(port.id).where(port.network_id == net.id,
                              port.device_owner != constants.DEVICE_OWNER_DHCP).limit(1)
    ).first()
    if in_use:
        raise exc.NetworkInUse(net_id=net.id)
    shown = views.network_dicts(session, [net])[0]
    session.execute(sql_delete(models.Port).where(models.Port.network_id == net.id)
                    .execution_options(synchronize_session=False))
    session.delete(net)
    session.flush()
    return shown
