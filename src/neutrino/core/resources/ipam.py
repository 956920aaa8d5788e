"""IP address arithmetic for subnets: CIDRs, gateways, allocation pools and picking free
addresses. Pure functions; the database side lives in `ports.py`."""

from __future__ import annotations

import hashlib
import ipaddress
import random
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from neutrino.lib import exceptions as exc

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# How many of the lowest free addresses a creator picks from after losing a race: wide
# enough that concurrent creators spread out, narrow enough to keep addresses packed.
SPREAD_AFTER_COLLISION = 16


@dataclass(frozen=True)
class Pool:
    """An inclusive range of addresses, as integers."""

    first: int
    last: int

    def __contains__(self, value: int) -> bool:
        return self.first <= value <= self.last

    @property
    def size(self) -> int:
        return self.last - self.first + 1


def parse_cidr(cidr: str, ip_version: int | None = None) -> IPNetwork:
    """A subnet's CIDR, normalised: host bits are cleared as Neutron does ('10.0.0.1/24'
    becomes 10.0.0.0/24). A CIDR without a prefix length is refused with the one that
    would be accepted."""
    if not isinstance(cidr, str) or "/" not in cidr:
        try:
            recommended = ipaddress.ip_network(cidr, strict=False) if isinstance(cidr, str) \
                else None
        except ValueError:
            recommended = None
        if recommended is not None:
            raise exc.InvalidInput(error_message=(
                f"'{cidr}' isn't a recognized IP subnet cidr, '{recommended}' is recommended"))
        raise exc.InvalidInput(error_message=f"'{cidr}' is not a valid IP subnet")
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise exc.InvalidInput(error_message=f"'{cidr}' is not a valid IP subnet") from None
    if ip_version is not None and network.version != ip_version:
        raise exc.InvalidInput(error_message=(
            f"cidr '{cidr}' does not match the ip_version '{ip_version}'"))
    return network


def parse_ip(value: str, what: str, ip_version: int | None = None) -> IPAddress:
    try:
        address = ipaddress.ip_address(value)
    except (ValueError, TypeError):
        raise exc.InvalidInput(error_message=f"'{value}' is not a valid IP address") from None
    if ip_version is not None and address.version != ip_version:
        raise exc.InvalidInput(error_message=(
            f"{what} '{value}' does not match the ip_version '{ip_version}'"))
    return address


def check_dhcp_cidr(network: IPNetwork) -> None:
    """Neutron refuses DHCP on subnets that cannot hold a DHCP server and a client."""
    if (network.version == 4 and network.prefixlen > 30) or \
            (network.version == 6 and network.prefixlen > 126):
        raise exc.InvalidInput(error_message=(
            "Subnet has a prefix length that is incompatible with DHCP service enabled"))
    if network.is_multicast:
        raise exc.InvalidInput(error_message=(
            "Multicast IP subnet is not supported if enable_dhcp is True"))
    if network.is_loopback:
        raise exc.InvalidInput(error_message=(
            "Loopback IP subnet is not supported if enable_dhcp is True"))
    if network.version == 4 and int(network.network_address) == 0:
        raise exc.InvalidInput(error_message=(
            "First IP '0.0.0.0' of network is not supported if enable_dhcp is True"))


def usable_range(network: IPNetwork) -> Pool | None:
    """Addresses a pool may cover: all but the network address (and, for IPv4, the
    broadcast address); /31 and /32 (and IPv6 /127, /128) use every address."""
    first, last = int(network.network_address), int(network.broadcast_address)
    if network.version == 4:
        if network.prefixlen >= 31:
            return Pool(first, last)
        return Pool(first + 1, last - 1)
    if network.prefixlen >= 127:
        return Pool(first, last)
    return Pool(first + 1, last)


def default_gateway(network: IPNetwork) -> str | None:
    usable = usable_range(network)
    if usable is None or usable.size < 1:
        return None
    return str(ipaddress.ip_address(usable.first))


def check_gateway(network: IPNetwork, gateway: str) -> IPAddress:
    address = parse_ip(gateway, "gateway_ip", network.version)
    if network.version == 4 and network.prefixlen < 31 and \
            address in (network.network_address, network.broadcast_address):
        raise exc.InvalidInput(error_message="Gateway is not valid on subnet")
    return address


def default_pools(network: IPNetwork, gateway: str | None) -> list[Pool]:
    """The usable range, split around the gateway when it falls inside."""
    usable = usable_range(network)
    if usable is None:
        return []
    gw = int(ipaddress.ip_address(gateway)) if gateway else None
    if gw is None or gw not in usable:
        return [usable]
    pools = []
    if gw > usable.first:
        pools.append(Pool(usable.first, gw - 1))
    if gw < usable.last:
        pools.append(Pool(gw + 1, usable.last))
    return pools


def address_text(value: int, version: int) -> str:
    return str(ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value))


def pool_dicts(pools: Iterable[Pool], version: int) -> list[dict[str, str]]:
    return [{"start": address_text(p.first, version), "end": address_text(p.last, version)}
            for p in pools]


def validate_pools(network: IPNetwork, given: Sequence[dict[str, Any]], gateway: str | None
                   ) -> list[Pool]:
    """Check pools given by a user as Neutron does; returns them sorted."""
    version = network.version
    usable = usable_range(network)
    pools: list[Pool] = []
    for item in given:
        try:
            start = ipaddress.ip_address(item["start"])
            end = ipaddress.ip_address(item["end"])
        except (ValueError, KeyError, TypeError):
            raise exc.InvalidAllocationPool(pool=item) from None
        text = f"{item['start']}-{item['end']}"
        if start.version != version or end.version != version or int(end) < int(start):
            raise exc.InvalidAllocationPool(pool=text)
        pool = Pool(int(start), int(end))
        if usable is None or pool.first < usable.first or pool.last > usable.last:
            raise exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=str(network))
        pools.append(pool)
    pools.sort(key=lambda p: p.first)
    for left, right in zip(pools, pools[1:], strict=False):
        if right.first <= left.last:
            raise exc.OverlappingAllocationPools(
                pool_1=range_text(left, version), pool_2=range_text(right, version),
                subnet_cidr=str(network))
    if gateway:
        gw = int(ipaddress.ip_address(gateway))
        for pool in pools:
            if gw in pool:
                raise exc.GatewayConflictWithAllocationPools(
                    ip_address=gateway, pool=range_text(pool, version))
    return pools


def range_text(pool: Pool, version: int) -> str:
    return f"{address_text(pool.first, version)}-{address_text(pool.last, version)}"


def free_addresses(pools: Iterable[Pool], taken: set[int]) -> Iterator[int]:
    """Free addresses of the pools, lowest first."""
    for pool in sorted(pools, key=lambda p: p.first):
        value = pool.first
        while value <= pool.last:
            if value not in taken:
                yield value
            value += 1


def pick_address(pools: Sequence[Pool], taken: set[int], collided: bool,
                 rng: random.Random | None = None) -> int | None:
    """The lowest free address; after a collision with a concurrent creator, a random one
    of the lowest few free ones so racing creators stop picking the same address."""
    if not collided:
        return next(free_addresses(pools, taken), None)
    candidates = []
    for value in free_addresses(pools, taken):
        candidates.append(value)
        if len(candidates) >= SPREAD_AFTER_COLLISION:
            break
    if not candidates:
        return None
    return (rng or random).choice(candidates)


def overlaps(a: IPNetwork, b: IPNetwork) -> bool:
    return a.version == b.version and a.overlaps(b)


def eui64(network: IPNetwork, mac: str) -> str:
    """The SLAAC address of `mac` in a /64."""
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = octets[:3] + [0xFF, 0xFE] + octets[3:]
    value = int(network.network_address) | int.from_bytes(bytes(interface), "big")
    return str(ipaddress.IPv6Address(value))


def check_subnet_ip(network: IPNetwork, address: IPAddress) -> bool:
    """Whether a port may hold `address` on the subnet: inside it, and for IPv4 neither
    the network nor the broadcast address (Neutron's rule)."""
    if address.version != network.version or address not in network:
        return False
    if network.version == 4 and network.prefixlen < 31:
        return address not in (network.network_address, network.broadcast_address)
    return True


def ip_to_int(text: str) -> int:
    """An address in canonical text to its integer, fast (sets of thousands are read per
    allocation)."""
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    return int.from_bytes(socket.inet_pton(family, text), "big")


# --- finding the lowest free address in the database ---------------------------------------

# Offsets (address minus the subnet's network address) are stored as signed 64-bit integers.
MAX_OFFSET = 2 ** 63 - 1


def offset_of(value: int, network: IPNetwork) -> int | None:
    """`value`'s offset into `network`; None when it does not fit the stored column."""
    offset = value - int(network.network_address)
    return offset if 0 <= offset <= MAX_OFFSET else None


def offset_pool(pool: Pool, network: IPNetwork) -> Pool | None:
    """A pool in offsets, cut at MAX_OFFSET; None when none of it fits."""
    base = int(network.network_address)
    first, last = pool.first - base, min(pool.last - base, MAX_OFFSET)
    if first < 0 or first > last:
        return None
    return Pool(first, last)


def claim_key(subnet_id: str, value: int) -> int:
    """The advisory lock key a creator claims an address of a subnet under: 64 bits, signed
    (PostgreSQL's bigint). Two addresses sharing a key only make one creator pass over a
    free address."""
    digest = hashlib.blake2b(f"ip/{subnet_id}/{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def lowest_free_offset(pool: Pool, lowest: int | None, run_end: int | None) -> int | None:
    """The lowest free offset of `pool`, from its lowest taken offset and the last offset
    of the run of taken ones that starts there (the first hole is the next one): None when
    the pool is full."""
    if lowest is None or lowest > pool.first:
        return pool.first
    return run_end + 1 if run_end is not None and run_end < pool.last else None
