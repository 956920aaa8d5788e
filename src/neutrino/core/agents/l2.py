"""The Linux bridge agent's view of the server: ports by tap name, device up/down.

A tap is `tap` + the first 11 characters of the port id, so the port is found with a range
on the primary key ([prefix, prefix+1)), which every backend answers from the index (a
LIKE would need a pattern-ops index on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.core.resources import views
from neutrino.core.resources.portbinding import VIF_TYPE_BINDING_FAILED
from neutrino.db.models import Network, Port
from neutrino.lib.naming import tap_name

TAP_PREFIX = "tap"


def port_id_prefix(device: str) -> str:
    return device[len(TAP_PREFIX):] if device.startswith(TAP_PREFIX) else ""


_HEX = "0123456789abcdef"


def prefix_upper_bound(prefix: str) -> str | None:
    """A string above every id starting with `prefix` and below the next ids.

    For UUID-shaped prefixes the next hex value (hyphens kept in place): it stays correct
    under collations that ignore punctuation (a '9' + 1 = ':' would not). None: no bound.
    """
    if all(c in _HEX or c == "-" for c in prefix):
        chars = list(prefix)
        for i in range(len(chars) - 1, -1, -1):
            if chars[i] == "-":
                continue
            if chars[i] != "f":
                chars[i] = _HEX[_HEX.index(chars[i]) + 1]
                return "".join(chars)
            chars[i] = "0"
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def find_port(session: Session, host: str, device: str) -> Port | None:
    """The port behind `device` bound to `host`, if any."""
    prefix = port_id_prefix(device)
    if not prefix:
        return None
    query = select(Port).where(Port.id >= prefix)
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        query = query.where(Port.id < upper)
    ports = session.scalars(query.order_by(Port.id).limit(8)).all()
    matches = [p for p in ports if p.id.startswith(prefix) and p.host_id == host]
    return matches[0] if matches else None


def device_details(device: str, port: Port, network: Network) -> dict[str, Any]:
    provider = views.provider_attributes(network.segments)
    return {
        "device": device,
        "port_id": port.id,
        "network_id": port.network_id,
        "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up,
        "network_type": provider["provider:network_type"],
        "physical_network": provider["provider:physical_network"],
        "segmentation_id": provider["provider:segmentation_id"],
        "fixed_ips": [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                      for a in port.fixed_ips],
        "device_owner": port.device_owner,
    }


def details_for(session: Session, host: str, device: str) -> dict[str, Any]:
    """A port whose binding failed is not the agent's to plug: the tap stays unknown."""
    port = find_port(session, host, device)
    if port is None or port.vif_type == VIF_TYPE_BINDING_FAILED:
        return {"device": device}
    network = session.get(Network, port.network_id)
    if network is None:
        return {"device": device}
    return device_details(device, port, network)


def ports_on_host(session: Session, host: str) -> list[dict[str, Any]]:
    ports = session.scalars(select(Port).where(
        Port.host_id == host, Port.vif_type != VIF_TYPE_BINDING_FAILED).order_by(Port.id)).all()
    network_ids = sorted({p.network_id for p in ports})
    networks = {n.id: n for n in session.scalars(
        select(Network).where(Network.id.in_(network_ids)))} if network_ids else {}
    return [device_details(tap_name(p.id), p, networks[p.network_id])
            for p in ports if p.network_id in networks]


def failed_on_host(session: Session, host: str, device: str | None = None) -> list[Port]:
    """The ports bound to `host` whose binding failed (only `device`'s, when given): the
    agent asking for them is the moment to try again."""
    if device is not None:
        port = find_port(session, host, device)
        ports = [port] if port is not None else []
    else:
        ports = list(session.scalars(select(Port).where(
            Port.host_id == host, Port.vif_type == VIF_TYPE_BINDING_FAILED)))
    return [p for p in ports if p.vif_type == VIF_TYPE_BINDING_FAILED]
