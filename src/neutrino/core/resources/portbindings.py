"""Port bindings (binding-extended), inside a caller's transaction.

A port has at most one active binding — its own `binding:*` columns, which everything else
reads — and any number of inactive ones in `port_bindings`, one per host: during a live
migration Nova creates one on the destination, activates it (the port's host moves there
and the source's binding becomes inactive), then deletes the source's.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context
from neutrino.core.dbutil import dumps, insert_unless_duplicate, now
from neutrino.core.interfaces import Clock
from neutrino.core.resources import portbinding, ports
from neutrino.db import models
from neutrino.lib import constants
from neutrino.lib import exceptions as exc

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"


def _view(host: str, vnic_type: str, vif_type: str, vif_details: str, profile: str,
          status: str) -> dict[str, Any]:
    return {"host": host, "vnic_type": vnic_type, "vif_type": vif_type,
            "vif_details": json.loads(vif_details or "{}"),
            "profile": json.loads(profile or "{}"), "status": status}


def active_view(port: models.Port) -> dict[str, Any]:
    return _view(port.host_id, port.vnic_type, port.vif_type, port.vif_details, port.profile,
                 ACTIVE)


def inactive_view(row: models.PortBinding) -> dict[str, Any]:
    return _view(row.host, row.vnic_type, row.vif_type, row.vif_details, row.profile,
                 INACTIVE)


def _inactive(session: Session, port_id: str) -> list[models.PortBinding]:
    return list(session.scalars(select(models.PortBinding).where(
        models.PortBinding.port_id == port_id).order_by(models.PortBinding.host)))


def listing(session: Session, port: models.Port) -> list[dict[str, Any]]:
    found = [active_view(port)] if port.host_id else []
    return found + [inactive_view(r) for r in _inactive(session, port.id)]


def show(session: Session, port: models.Port, host: str) -> dict[str, Any]:
    if port.host_id and port.host_id == host:
        return active_view(port)
    row = session.get(models.PortBinding, (port.id, host))
    if row is None:
        raise exc.PortBindingNotFound(port_id=port.id, host=host)
    return inactive_view(row)


def _check_compute_port(port: models.Port) -> None:
    # Neutron allows bindings only on compute ports: they are Nova's, for migrations.
    if not port.device_owner.startswith(constants.DEVICE_OWNER_COMPUTE_PREFIX):
        raise exc.BadRequest(resource="port", msg=f"Invalid port {port.id}. Operation only "
                                                  "valid on compute ports")


def create(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           port: models.Port, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """A new binding of `port` on body["host"]: inactive, or the active one when the port
    is unbound (as Neutron). Returns (its view, whether the port itself was bound)."""
    host = body["host"]
    _check_compute_port(port)
    if port.host_id == host or session.get(models.PortBinding, (port.id, host)) is not None:
        raise exc.PortBindingAlreadyExists(port_id=port.id, host=host)
    vnic_type = body.get("vnic_type") or port.vnic_type
    profile = dumps(body.get("profile") or {})
    binding = portbinding.bind_for_host(session, port.network_id, host, vnic_type,
                                        now(clock), settings.agent_down_time)
    if not binding.bound:
        raise exc.PortBindingError(port_id=port.id, host=host)
    if not port.host_id:
        port.vnic_type = vnic_type
        port.profile = profile
        ports.bind(session, port, host, settings, clock)
        port.revision_number += 1
        port.updated_at = now(clock)
        session.flush()
        return active_view(port), True
    row = models.PortBinding(port_id=port.id, host=host, vnic_type=vnic_type,
                             vif_type=binding.vif_type, vif_details=dumps(binding.vif_details),
                             profile=profile)
    # The primary key settles two creators racing for the same host.
    if not insert_unless_duplicate(session, row):
        raise exc.PortBindingAlreadyExists(port_id=port.id, host=host)
    return inactive_view(row), False


def delete(session: Session, port: models.Port, host: str) -> None:
    """Only an inactive binding goes; the active one is the port's (unbind the port)."""
    row = session.get(models.PortBinding, (port.id, host))
    if row is None:
        raise exc.PortBindingNotFound(port_id=port.id, host=host)
    session.delete(row)
    session.flush()


def activate(session: Session, settings: CoreSettings, clock: Clock, port: models.Port,
             host: str) -> dict[str, Any]:
    """The inactive binding on `host` becomes the port's; the one it replaces, inactive."""
    if port.host_id and port.host_id == host:
        raise exc.PortBindingAlreadyActive(port_id=port.id, host=host)
    row = session.get(models.PortBinding, (port.id, host))
    if row is None:
        raise exc.PortBindingNotFound(port_id=port.id, host=host)
    # Bound again now: the destination's agent must be able to plug it at this moment.
    binding = portbinding.bind_for_host(session, port.network_id, host, row.vnic_type,
                                        now(clock), settings.agent_down_time)
    if not binding.bound:
        raise exc.PortBindingError(port_id=port.id, host=host)
    if port.host_id:
        session.add(models.PortBinding(
            port_id=port.id, host=port.host_id, vnic_type=port.vnic_type,
            vif_type=port.vif_type, vif_details=port.vif_details, profile=port.profile))
    session.delete(row)
    port.host_id = host
    port.vnic_type = row.vnic_type
    port.profile = row.profile
    port.vif_type = binding.vif_type
    port.vif_details = dumps(binding.vif_details)
    port.revision_number += 1
    port.updated_at = now(clock)
    session.flush()
    return active_view(port)
