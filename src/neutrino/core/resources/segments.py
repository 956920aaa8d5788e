"""Network segments: provider attributes checked as ML2's type drivers do, and tenant
VLANs allocated from `network_vlan_ranges`. The unique (type, physnet, segmentation id)
constraint settles races between server replicas."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.dbutil import insert_unless_duplicate, new_id
from neutrino.db import models
from neutrino.db.engine import RetryRequest
from neutrino.lib import constants
from neutrino.lib import exceptions as exc

PROVIDER_KEYS = ("provider:network_type", "provider:physical_network",
                 "provider:segmentation_id")
MIN_VLAN, MAX_VLAN = 1, 4094
FLAT_SEGMENTATION_ID = 0  # stored for flat networks so the unique constraint holds one
SUPPORTED_TYPES = (constants.TYPE_VLAN, constants.TYPE_FLAT, constants.TYPE_LOCAL)


@dataclass(frozen=True)
class SegmentRequest:
    network_type: str
    physical_network: str | None = None
    segmentation_id: int | None = None  # None for a VLAN: allocate one


def has_provider_attributes(body: dict[str, Any]) -> bool:
    return any(k in body for k in PROVIDER_KEYS)


def _invalid(message: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=message)


def provider_request(body: dict[str, Any], settings: CoreSettings) -> SegmentRequest:
    """A segment an admin asked for with provider:* attributes, checked."""
    network_type = body.get("provider:network_type")
    physnet = body.get("provider:physical_network") or None
    seg_id = body.get("provider:segmentation_id")
    if not network_type:
        raise _invalid("network_type required")
    if network_type not in SUPPORTED_TYPES:
        raise _invalid(f"network_type value '{network_type}' not supported")
    if seg_id is not None and (isinstance(seg_id, bool) or not isinstance(seg_id, int)):
        try:
            seg_id = int(seg_id)
        except (TypeError, ValueError):
            raise _invalid(f"segmentation_id '{seg_id}' is not an integer") from None
    if network_type == constants.TYPE_LOCAL:
        for key, value in (("physical_network", physnet), ("segmentation_id", seg_id)):
            if value is not None:
                raise _invalid(f"{key} prohibited for local provider network")
        return SegmentRequest(constants.TYPE_LOCAL)
    if network_type == constants.TYPE_FLAT:
        if seg_id is not None:
            raise _invalid("segmentation_id prohibited for flat provider network")
        if not physnet:
            raise _invalid("physical_network required for flat provider network")
        return SegmentRequest(constants.TYPE_FLAT, physnet, FLAT_SEGMENTATION_ID)
    known = {r.physical_network for r in settings.vlan_ranges}
    if physnet:
        if physnet not in known:
            raise _invalid(f"physical_network '{physnet}' unknown for VLAN provider network")
        if seg_id is not None and not MIN_VLAN <= seg_id <= MAX_VLAN:
            raise _invalid(f"segmentation_id out of range ({MIN_VLAN} through {MAX_VLAN})")
    elif seg_id is not None:
        raise _invalid("segmentation_id requires physical_network for VLAN provider network")
    return SegmentRequest(constants.TYPE_VLAN, physnet, seg_id)


def tenant_request(settings: CoreSettings) -> SegmentRequest:
    """The segment of a network created without provider attributes."""
    kind = (settings.tenant_network_type or "").lower()
    if kind in ("local", "none", ""):
        return SegmentRequest(constants.TYPE_LOCAL)
    if kind == constants.TYPE_VLAN:
        return SegmentRequest(constants.TYPE_VLAN)
    # No allocator for other types (flat has nothing to allocate; tunnels are not built).
    raise exc.NoNetworkAvailable()


def _vlan_candidates(settings: CoreSettings, physnet: str | None) -> Iterator[tuple[str, int]]:
    for vlan_range in settings.vlan_ranges:
        if physnet is not None and vlan_range.physical_network != physnet:
            continue
        if vlan_range.minimum is None or vlan_range.maximum is None:
            continue
        for vlan in range(vlan_range.minimum, vlan_range.maximum + 1):
            yield vlan_range.physical_network, vlan


def _used_vlans(session: Session, physnets: set[str]
                ) -> set[tuple[str | None, int | None]]:
    seg = models.NetworkSegment
    rows = session.execute(
        select(seg.physical_network, seg.segmentation_id)
        .where(seg.network_type == constants.TYPE_VLAN, seg.physical_network.in_(physnets)))
    return {(p, s) for p, s in rows}


def allocate(session: Session, network_id: str, request: SegmentRequest,
             settings: CoreSettings) -> models.NetworkSegment:
    """Insert the network's segment, allocating a VLAN when none was named."""
    def row(physnet: str | None, seg_id: int | None) -> models.NetworkSegment:
        return models.NetworkSegment(id=new_id(), network_id=network_id,
                                     network_type=request.network_type,
                                     physical_network=physnet, segmentation_id=seg_id)

    if request.network_type == constants.TYPE_LOCAL:
        segment = row(None, None)
        session.add(segment)
        return segment
    if request.network_type == constants.TYPE_FLAT:
        segment = row(request.physical_network, FLAT_SEGMENTATION_ID)
        if not insert_unless_duplicate(session, segment):
            raise exc.FlatNetworkInUse(physical_network=request.physical_network)
        return segment
    if request.segmentation_id is not None:
        segment = row(request.physical_network, request.segmentation_id)
        if not insert_unless_duplicate(session, segment):
            raise exc.VlanIdInUse(vlan_id=request.segmentation_id,
                                  physical_network=request.physical_network)
        return segment
    physnets = {r.physical_network for r in settings.vlan_ranges
                if request.physical_network in (None, r.physical_network)}
    used = _used_vlans(session, physnets)
    for _ in range(32):
        choice = next((c for c in _vlan_candidates(settings, request.physical_network)
                       if c not in used), None)
        if choice is None:
            raise exc.NoNetworkAvailable()
        segment = row(*choice)
        if insert_unless_duplicate(session, segment):
            return segment
        # Another replica took it between our read and our insert: try the next one.
        used.add(choice)
    raise RetryRequest()
