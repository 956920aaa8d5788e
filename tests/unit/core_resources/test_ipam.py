"""IPAM arithmetic: CIDRs, gateways, pools, picking addresses."""

from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from neutrino.core.resources import ipam
from neutrino.lib import exceptions as exc


def _ip(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


@pytest.mark.parametrize(("given_cidr", "expected"), [
    ("10.0.0.0/24", "10.0.0.0/24"),
    ("10.0.0.1/24", "10.0.0.0/24"),  # host bits cleared, as Neutron does
    ("2001:db8::5/64", "2001:db8::/64"),
    ("192.168.1.7/32", "192.168.1.7/32"),
])
def test_parse_cidr_normalises(given_cidr: str, expected: str) -> None:
    assert str(ipam.parse_cidr(given_cidr)) == expected


def test_parse_cidr_without_prefix_recommends_one() -> None:
    with pytest.raises(exc.InvalidInput) as err:
        ipam.parse_cidr("10.0.0.0")
    assert "'10.0.0.0/32' is recommended" in str(err.value)


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "banana/24", "", "10.0.0/24x"])
def test_parse_cidr_rejects(bad: str) -> None:
    with pytest.raises(exc.InvalidInput):
        ipam.parse_cidr(bad)


def test_parse_cidr_checks_version() -> None:
    with pytest.raises(exc.InvalidInput) as err:
        ipam.parse_cidr("10.0.0.0/24", 6)
    assert "does not match the ip_version '6'" in str(err.value)


def test_default_gateway_and_pools() -> None:
    net = ipam.parse_cidr("10.0.0.0/24")
    assert ipam.default_gateway(net) == "10.0.0.1"
    pools = ipam.default_pools(net, "10.0.0.1")
    assert ipam.pool_dicts(pools, 4) == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    # Gateway in the middle splits the range; no gateway leaves it whole.
    assert ipam.pool_dicts(ipam.default_pools(net, "10.0.0.100"), 4) == [
        {"start": "10.0.0.1", "end": "10.0.0.99"}, {"start": "10.0.0.101", "end": "10.0.0.254"}]
    assert ipam.pool_dicts(ipam.default_pools(net, None), 4) == [
        {"start": "10.0.0.1", "end": "10.0.0.254"}]


def test_default_pools_v6_include_the_last_address() -> None:
    net = ipam.parse_cidr("2001:db8::/120")
    assert ipam.pool_dicts(ipam.default_pools(net, "2001:db8::1"), 6) == [
        {"start": "2001:db8::2", "end": "2001:db8::ff"}]


def test_gateway_cannot_be_network_or_broadcast() -> None:
    net = ipam.parse_cidr("10.0.0.0/24")
    for bad in ("10.0.0.0", "10.0.0.255"):
        with pytest.raises(exc.InvalidInput, match="Gateway is not valid on subnet"):
            ipam.check_gateway(net, bad)
    # Outside the subnet is allowed (Neutron dropped force_gateway_on_subnet).
    assert str(ipam.check_gateway(net, "10.1.0.1")) == "10.1.0.1"


@pytest.mark.parametrize(("pools", "error"), [
    ([{"start": "10.0.0.20", "end": "10.0.0.10"}], exc.InvalidAllocationPool),
    ([{"start": "10.0.0.0", "end": "10.0.0.10"}], exc.OutOfBoundsAllocationPool),
    ([{"start": "10.0.0.2", "end": "10.0.0.255"}], exc.OutOfBoundsAllocationPool),
    ([{"start": "10.0.1.2", "end": "10.0.1.10"}], exc.OutOfBoundsAllocationPool),
    ([{"start": "10.0.0.2", "end": "10.0.0.10"}, {"start": "10.0.0.10", "end": "10.0.0.20"}],
     exc.OverlappingAllocationPools),
    ([{"start": "10.0.0.1", "end": "10.0.0.10"}], exc.GatewayConflictWithAllocationPools),
    ([{"start": "fe80::1", "end": "fe80::2"}], exc.InvalidAllocationPool),
    ([{"start": "nope", "end": "10.0.0.2"}], exc.InvalidAllocationPool),
])
def test_validate_pools_errors(pools: list, error: type) -> None:
    with pytest.raises(error):
        ipam.validate_pools(ipam.parse_cidr("10.0.0.0/24"), pools, "10.0.0.1")


def test_validate_pools_sorts() -> None:
    pools = ipam.validate_pools(ipam.parse_cidr("10.0.0.0/24"),
                                [{"start": "10.0.0.100", "end": "10.0.0.110"},
                                 {"start": "10.0.0.2", "end": "10.0.0.9"}], "10.0.0.1")
    assert ipam.pool_dicts(pools, 4) == [{"start": "10.0.0.2", "end": "10.0.0.9"},
                                         {"start": "10.0.0.100", "end": "10.0.0.110"}]


def test_pick_lowest_then_spread() -> None:
    pools = [ipam.Pool(10, 40)]
    assert ipam.pick_address(pools, {10, 11, 13}, collided=False) == 12
    rng = random.Random(1)
    picks = {ipam.pick_address(pools, {10}, collided=True, rng=rng) for _ in range(200)}
    assert picks <= set(range(11, 11 + ipam.SPREAD_AFTER_COLLISION))
    assert len(picks) > 4
    assert ipam.pick_address(pools, set(range(10, 41)), collided=True) is None
    assert ipam.pick_address(pools, set(range(10, 41)), collided=False) is None


@given(prefix=st.integers(min_value=8, max_value=30), base=st.integers(0, 2**32 - 1),
       gw_offset=st.integers(0, 2**24))
def test_default_pools_never_hold_gateway_network_or_broadcast(prefix: int, base: int,
                                                                gw_offset: int) -> None:
    net = ipaddress.ip_network(f"{_ip(base)}/{prefix}", strict=False)
    gateway = _ip(int(net.network_address) + gw_offset % net.num_addresses)
    pools = ipam.default_pools(net, gateway)
    covered = sum(p.size for p in pools)
    gw_inside = int(net.network_address) < int(ipaddress.ip_address(gateway)) < \
        int(net.broadcast_address)
    assert covered == net.num_addresses - 2 - (1 if gw_inside else 0)
    forbidden = {int(net.network_address), int(net.broadcast_address),
                 int(ipaddress.ip_address(gateway))}
    for pool in pools:
        assert not any(f in pool for f in forbidden)
        assert int(net.network_address) < pool.first <= pool.last < int(net.broadcast_address)
    # Pools produced by default pass the user-facing validation.
    ipam.validate_pools(net, ipam.pool_dicts(pools, 4), gateway)


@given(taken=st.sets(st.integers(100, 130)), collided=st.booleans())
def test_pick_returns_a_free_pool_address(taken: set[int], collided: bool) -> None:
    pools = [ipam.Pool(100, 110), ipam.Pool(120, 125)]
    pick = ipam.pick_address(pools, taken, collided)
    free = [v for v in list(range(100, 111)) + list(range(120, 126)) if v not in taken]
    if not free:
        assert pick is None
    else:
        assert pick in free
        if not collided:
            assert pick == free[0]


def test_check_subnet_ip() -> None:
    net = ipam.parse_cidr("10.0.0.0/24")
    assert ipam.check_subnet_ip(net, ipaddress.ip_address("10.0.0.1"))
    assert not ipam.check_subnet_ip(net, ipaddress.ip_address("10.0.0.0"))
    assert not ipam.check_subnet_ip(net, ipaddress.ip_address("10.0.0.255"))
    assert not ipam.check_subnet_ip(net, ipaddress.ip_address("10.0.1.1"))
    assert not ipam.check_subnet_ip(net, ipaddress.ip_address("::1"))


def test_eui64() -> None:
    net = ipam.parse_cidr("2001:db8::/64")
    assert ipam.eui64(net, "fa:16:3e:12:34:56") == "2001:db8::f816:3eff:fe12:3456"


def test_dhcp_needs_room() -> None:
    with pytest.raises(exc.InvalidInput):
        ipam.check_dhcp_cidr(ipam.parse_cidr("10.0.0.0/31"))
    with pytest.raises(exc.InvalidInput):
        ipam.check_dhcp_cidr(ipam.parse_cidr("224.0.0.0/24"))
    ipam.check_dhcp_cidr(ipam.parse_cidr("10.0.0.0/30"))


@given(value=st.integers(0, 2**32 - 1))
def test_ip_to_int_v4(value: int) -> None:
    assert ipam.ip_to_int(str(ipaddress.IPv4Address(value))) == value


@given(value=st.integers(0, 2**128 - 1))
def test_ip_to_int_v6(value: int) -> None:
    assert ipam.ip_to_int(str(ipaddress.IPv6Address(value))) == value


def test_lowest_free_offset() -> None:
    pool = ipam.Pool(2, 10)
    assert ipam.lowest_free_offset(pool, None, None) == 2  # nothing taken
    assert ipam.lowest_free_offset(pool, 4, 6) == 2  # the first is free
    assert ipam.lowest_free_offset(pool, 2, 4) == 5  # a hole, or one past the highest
    assert ipam.lowest_free_offset(pool, 2, 9) == 10
    assert ipam.lowest_free_offset(pool, 2, 10) is None  # full


def test_offsets() -> None:
    import ipaddress
    net4 = ipaddress.ip_network("10.0.0.0/24")
    assert ipam.offset_of(int(ipaddress.ip_address("10.0.0.7")), net4) == 7
    assert ipam.offset_pool(ipam.Pool(int(net4.network_address) + 2,
                                      int(net4.network_address) + 254), net4) == \
        ipam.Pool(2, 254)
    net6 = ipaddress.ip_network("fd00::/64")
    base = int(net6.network_address)
    assert ipam.offset_of(base + 2 ** 63, net6) is None
    assert ipam.offset_pool(ipam.Pool(base + 1, base + 2 ** 64 - 1), net6) == \
        ipam.Pool(1, ipam.MAX_OFFSET)
    assert ipam.offset_pool(ipam.Pool(base + 2 ** 63, base + 2 ** 64 - 1), net6) is None
