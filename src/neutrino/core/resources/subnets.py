"""Subnets, inside a caller's transaction: CIDR, gateway and pool checks as Neutron's."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context, resolve_project
from neutrino.core.dbutil import check_lengths, new_id, now
from neutrino.core.interfaces import Clock
from neutrino.core.resources import filters as flt
from neutrino.core.resources import ipam, networks, paging
from neutrino.core.savepoint import execute_or_skip
from neutrino.db import models
from neutrino.lib import attributes, constants
from neutrino.lib import exceptions as exc

MAX_DNS_NAMESERVERS = 5  # Neutron's max_dns_nameservers
MAX_HOST_ROUTES = 20  # Neutron's max_subnet_host_routes
UPDATABLE = attributes.SUBNET.updatable
LIMITS = attributes.SUBNET.limits
IPV6_MODES = ("dhcpv6-stateful", "dhcpv6-stateless", "slaac")


def get(session: Session, ctx: Context, subnet_id: str,
        for_update: bool = False) -> models.Subnet:
    stmt = select(models.Subnet).where(models.Subnet.id == subnet_id, flt.subnet_visible(ctx))
    if for_update:
        stmt = stmt.with_for_update()
    subnet = session.scalars(stmt).one_or_none()
    if subnet is None:
        raise exc.SubnetNotFound(subnet_id=subnet_id)
    return subnet


def query(session: Session, ctx: Context, filters: flt.Filters | None) -> list[models.Subnet]:
    stmt = select(models.Subnet).where(flt.subnet_visible(ctx),
                                       *flt.subnet_filters(filters or {}))
    return list(session.scalars(stmt.order_by(models.Subnet.id)))


def page(session: Session, ctx: Context, filters: flt.Filters | None,
         request: paging.PageRequest) -> paging.Page[models.Subnet]:
    where = [flt.subnet_visible(ctx), *flt.subnet_filters(filters or {})]
    return paging.read_page(session, models.Subnet, where, paging.SUBNET_SORTS, request,
                            attributes.SUBNET.not_found)


def _nameservers(values: Any, version: int) -> list[str]:
    if not isinstance(values, list):
        raise exc.InvalidInput(error_message=f"Invalid data format for nameserver: '{values}'")
    if len(values) > MAX_DNS_NAMESERVERS:
        raise exc.DNSNameServersExhausted(subnet_id=None, quota=MAX_DNS_NAMESERVERS)
    seen: list[str] = []
    for value in values:
        ipam.parse_ip(value, "dns_nameserver", version)
        if value in seen:
            raise exc.InvalidInput(error_message=f"Duplicate nameserver '{value}'")
        seen.append(value)
    return seen


def _routes(values: Any, version: int) -> list[tuple[str, str]]:
    if not isinstance(values, list):
        raise exc.InvalidInput(error_message=f"Invalid data format for hostroute: '{values}'")
    if len(values) > MAX_HOST_ROUTES:
        raise exc.HostRoutesExhausted(subnet_id=None, quota=MAX_HOST_ROUTES)
    routes: list[tuple[str, str]] = []
    for route in values:
        if not isinstance(route, dict) or set(route) != {"destination", "nexthop"}:
            raise exc.InvalidInput(error_message=f"Invalid data format for hostroute: '{route}'")
        try:
            destination = ipaddress.ip_network(route["destination"], strict=False)
        except (ValueError, TypeError):
            raise exc.InvalidInput(error_message=f"invalid route: {route}") from None
        if destination.version != version:
            raise exc.InvalidInput(error_message=(
                f"destination '{route['destination']}' does not match the ip_version "
                f"'{version}'"))
        ipam.parse_ip(route["nexthop"], "nexthop", version)
        pair = (str(destination), str(route["nexthop"]))
        if pair in routes:
            raise exc.InvalidInput(error_message=f"Duplicate hostroute '{route}'")
        routes.append(pair)
    return routes


def _ipv6_modes(body: dict[str, Any], network: ipam.IPNetwork) -> tuple[str | None, str | None]:
    ra, addr = body.get("ipv6_ra_mode"), body.get("ipv6_address_mode")
    if network.version == 4:
        if ra is not None:
            raise exc.InvalidInput(error_message="ipv6_ra_mode is not valid when ip_version is 4")
        if addr is not None:
            raise exc.InvalidInput(
                error_message="ipv6_address_mode is not valid when ip_version is 4")
        return None, None
    for value in (ra, addr):
        if value is not None and value not in IPV6_MODES:
            raise exc.InvalidInput(error_message=f"'{value}' is not in {list(IPV6_MODES)}")
    if ra and addr and ra != addr:
        raise exc.InvalidInput(error_message=(
            f"ipv6_ra_mode set to '{ra}' with ipv6_address_mode set to '{addr}' is not "
            "valid. If both attributes are set, they must be the same value"))
    if (ra in ("slaac", "dhcpv6-stateless") or addr in ("slaac", "dhcpv6-stateless")) and \
            network.prefixlen != 64:
        raise exc.InvalidInput(error_message=(
            f"Invalid CIDR {network} for IPv6 address mode. OpenStack uses the EUI-64 address "
            "format, which requires the prefix to be /64"))
    return ra, addr


# A row of the leases table used as a lock only (it never expires or changes hands): with
# overlapping IPs off, every subnet in the cloud is a candidate, so the network's own row
# lock is not enough and creates on different networks serialise here instead.
OVERLAP_LOCK = "subnet-overlap-check"
_LOCK_ROW_STAMP = datetime(1970, 1, 1)


def _lock_overlap_checks(session: Session) -> None:
    locked = (select(models.Lease.name).where(models.Lease.name == OVERLAP_LOCK)
              .with_for_update())
    if session.scalar(locked) is None:
        # The first create ever: make the row (a clash means another server just did).
        execute_or_skip(session, insert(models.Lease).values(
            name=OVERLAP_LOCK, holder="subnets", expires_at=_LOCK_ROW_STAMP))
        session.scalar(locked)


def _check_overlap(session: Session, settings: CoreSettings, network_id: str,
                   cidr: ipam.IPNetwork) -> None:
    stmt = select(models.Subnet.cidr).where(models.Subnet.ip_version == cidr.version)
    if settings.allow_overlapping_ips:
        stmt = stmt.where(models.Subnet.network_id == network_id)
    else:
        _lock_overlap_checks(session)
    for (other,) in session.execute(stmt):
        if ipam.overlaps(cidr, ipaddress.ip_network(other, strict=False)):
            raise exc.InvalidInput(error_message=(
                f"Requested subnet with cidr: {cidr} for network: {network_id} overlaps with "
                "another subnet"))


def _gateway(network: ipam.IPNetwork, body: dict[str, Any]) -> str | None:
    if "gateway_ip" not in body:
        return ipam.default_gateway(network)
    if body["gateway_ip"] is None:
        return None
    return str(ipam.check_gateway(network, body["gateway_ip"]))


def create(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           body: dict[str, Any]) -> models.Subnet:
    if not body.get("network_id"):
        raise exc.InvalidInput(error_message="network_id is required")
    check_lengths(body, LIMITS)
    # Locking the network serialises subnet changes on it (the overlap check stays true).
    net = networks.get(session, ctx, body["network_id"], for_update=True)
    if not flt.owns(ctx, net.project_id):
        raise exc.PolicyNotAuthorized(action="create_subnet")
    project = resolve_project(ctx, body, fallback=net.project_id)
    if body.get("cidr") is None:
        raise exc.BadRequest(resource="subnets",
                             msg="a subnetpool must be specified in the absence of a cidr")
    version = body.get("ip_version")
    if version not in (4, 6):
        raise exc.InvalidInput(error_message=f"ip_version '{version}' is not in [4, 6]")
    network = ipam.parse_cidr(body["cidr"], version)
    enable_dhcp = bool(body.get("enable_dhcp", True))
    if enable_dhcp:
        ipam.check_dhcp_cidr(network)
    ra_mode, addr_mode = _ipv6_modes(body, network)
    if (ra_mode or addr_mode) and not enable_dhcp:
        raise exc.InvalidInput(error_message=(
            "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to "
            "False"))
    gateway = _gateway(network, body)
    if body.get("allocation_pools") is not None:
        pools = ipam.validate_pools(network, body["allocation_pools"], gateway)
    else:
        pools = ipam.default_pools(network, gateway)
    nameservers = _nameservers(body.get("dns_nameservers") or [], version)
    routes = _routes(body.get("host_routes") or [], version)
    _check_overlap(session, settings, net.id, network)
    stamp = now(clock)
    subnet = models.Subnet(
        id=body.get("id") or new_id(), project_id=project, network_id=net.id,
        name=body.get("name") or "", ip_version=version, cidr=str(network),
        gateway_ip=gateway, enable_dhcp=enable_dhcp, ipv6_ra_mode=ra_mode,
        ipv6_address_mode=addr_mode, description=body.get("description") or "",
        created_at=stamp, updated_at=stamp, revision_number=1)
    if "id" in body and session.get(models.Subnet, subnet.id) is not None:
        raise exc.Conflict(f"Subnet {subnet.id} already exists.")
    session.add(subnet)
    session.flush()
    _write_pools(session, subnet, pools, version)
    _write_nameservers(session, subnet, nameservers)
    _write_routes(session, subnet, routes)
    session.flush()
    session.refresh(subnet)
    # The network row in this session still lists its old subnets.
    session.expire(net, ["subnets"])
    return subnet


def _write_pools(session: Session, subnet: models.Subnet, pools: list[ipam.Pool],
                 version: int) -> None:
    for pool in ipam.pool_dicts(pools, version):
        session.add(models.IPAllocationPool(id=new_id(), subnet_id=subnet.id,
                                            first_ip=pool["start"], last_ip=pool["end"]))


def _write_nameservers(session: Session, subnet: models.Subnet, servers: list[str]) -> None:
    for order, address in enumerate(servers):
        session.add(models.DNSNameServer(address=address, subnet_id=subnet.id, order=order))


def _write_routes(session: Session, subnet: models.Subnet,
                  routes: list[tuple[str, str]]) -> None:
    for destination, nexthop in routes:
        session.add(models.SubnetRoute(destination=destination, nexthop=nexthop,
                                       subnet_id=subnet.id))


def _remove_all(session: Session, rows: Iterable[models.Base]) -> None:
    """Delete rows through the session (flushed at once), so new rows with the same keys
    (a nameserver kept in the new list) do not clash with stale ones in the session."""
    for row in list(rows):
        session.delete(row)
    session.flush()


def pools_of(subnet: models.Subnet) -> list[ipam.Pool]:
    return [ipam.Pool(int(ipaddress.ip_address(p.first_ip)), int(ipaddress.ip_address(p.last_ip)))
            for p in subnet.allocation_pools]


def update(session: Session, ctx: Context, settings: CoreSettings, clock: Clock,
           subnet_id: str, body: dict[str, Any]) -> models.Subnet:
    subnet = get(session, ctx, subnet_id, for_update=True)
    if not flt.owns(ctx, subnet.project_id):
        raise exc.PolicyNotAuthorized(action="update_subnet")
    for key in body:
        if key not in UPDATABLE:
            raise exc.InvalidInput(error_message=f"Cannot update read-only attribute {key}")
    check_lengths(body, LIMITS)
    network = ipaddress.ip_network(subnet.cidr)
    version = subnet.ip_version
    gateway = subnet.gateway_ip
    if "gateway_ip" in body:
        gateway = None if body["gateway_ip"] is None else str(
            ipam.check_gateway(network, body["gateway_ip"]))
    if body.get("allocation_pools") is not None:
        pools = ipam.validate_pools(network, body["allocation_pools"], gateway)
        _remove_all(session, subnet.allocation_pools)
        _write_pools(session, subnet, pools, version)
    elif "gateway_ip" in body and gateway:
        gw = int(ipaddress.ip_address(gateway))
        for pool in pools_of(subnet):
            if gw in pool:
                raise exc.GatewayConflictWithAllocationPools(
                    ip_address=gateway, pool=ipam.range_text(pool, version))
    subnet.gateway_ip = gateway
    if "dns_nameservers" in body:
        servers = _nameservers(body["dns_nameservers"] or [], version)
        _remove_all(session, subnet.dns_nameservers)
        _write_nameservers(session, subnet, servers)
    if "host_routes" in body:
        routes = _routes(body["host_routes"] or [], version)
        _remove_all(session, subnet.host_routes)
        _write_routes(session, subnet, routes)
    if "enable_dhcp" in body:
        if not body["enable_dhcp"] and (subnet.ipv6_ra_mode or subnet.ipv6_address_mode):
            raise exc.InvalidInput(error_message=(
                "Cannot disable enable_dhcp with ipv6 attributes set"))
        if body["enable_dhcp"] and not subnet.enable_dhcp:
            ipam.check_dhcp_cidr(network)
        subnet.enable_dhcp = bool(body["enable_dhcp"])
    if "name" in body:
        subnet.name = body["name"] or ""
    if "description" in body:
        subnet.description = body["description"] or ""
    subnet.revision_number += 1
    subnet.updated_at = now(clock)
    session.flush()
    session.refresh(subnet)
    return subnet


def delete(session: Session, ctx: Context, clock: Clock, subnet_id: str) -> models.Subnet:
    """Delete a subnet; IPs of DHCP ports on it go too, other ports' IPs → 409."""
    # Locked first, so a port taking an IP from it concurrently either commits before
    # (and we see it) or fails on the foreign key after.
    subnet = get(session, ctx, subnet_id, for_update=True)
    if not flt.owns(ctx, subnet.project_id):
        net = session.get(models.Network, subnet.network_id)
        if net is None or not flt.owns(ctx, net.project_id):
            raise exc.PolicyNotAuthorized(action="delete_subnet")
    alloc, port = models.IPAllocation, models.Port
    in_use = session.execute(
        select(alloc.ip_address).join(port, port.id == alloc.port_id)
        .where(alloc.subnet_id == subnet.id,
               port.device_owner != constants.DEVICE_OWNER_DHCP).limit(1)).first()
    if in_use:
        raise exc.SubnetInUse(subnet_id=subnet.id)
    # The DHCP ports lose an address: their revision moves, as for any change to a port
    # (a view remembered under the old row must not be shown again).
    losing = select(alloc.port_id).where(alloc.subnet_id == subnet.id).distinct()
    session.execute(sql_update(port).where(port.id.in_(losing))
                    .values(revision_number=port.revision_number + 1, updated_at=now(clock)),
                    execution_options={"synchronize_session": False})
    session.query(models.IPAllocation).filter_by(subnet_id=subnet.id).delete(
        synchronize_session=False)
    network = session.get(models.Network, subnet.network_id)
    session.delete(subnet)
    session.flush()
    if network is not None:
        session.expire(network, ["subnets"])
    return subnet
