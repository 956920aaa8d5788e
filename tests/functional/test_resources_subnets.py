"""Subnets through core: defaults, CIDR/gateway/pool checks, overlap, updates, deletion and
visibility (SQLite)."""

from __future__ import annotations

import pytest

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import Services, build_services
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

ADMIN = Context(user_id="admin", project_id="padmin", roles=("admin",), is_admin=True)
ALICE = Context(user_id="alice", project_id="pa", roles=("member",))
BOB = Context(user_id="bob", project_id="pb", roles=("member",))


@pytest.fixture
def res(sqlite_database: Database, clock) -> Services:  # noqa: ANN001
    return _services(sqlite_database, CoreSettings(tenant_network_type="local"), clock)


@pytest.fixture
def net(res: Services) -> dict:
    return res.networks.create(ALICE, {"name": "n"})


def v4(net: dict, cidr: str = "10.0.0.0/24", **extra) -> dict:  # noqa: ANN003
    return {"network_id": net["id"], "ip_version": 4, "cidr": cidr, **extra}


def test_defaults(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v4(net, "10.0.0.1/24", name="s"))
    assert subnet["cidr"] == "10.0.0.0/24"
    assert subnet["gateway_ip"] == "10.0.0.1"
    assert subnet["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert subnet["enable_dhcp"] is True
    assert subnet["dns_nameservers"] == [] and subnet["host_routes"] == []
    assert subnet["ipv6_ra_mode"] is None and subnet["ipv6_address_mode"] is None
    assert subnet["tenant_id"] == subnet["project_id"] == "pa"
    assert subnet["network_id"] == net["id"] and subnet["ip_version"] == 4
    assert subnet["created_at"] == "2026-11-25T22:31:53Z" and subnet["revision_number"] == 1
    assert subnet["subnetpool_id"] is None and subnet["name"] == "s"
    assert res.networks.get(ALICE, net["id"])["subnets"] == [subnet["id"]]
    assert res.subnets.get(ALICE, subnet["id"]) == subnet


def test_no_gateway(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v4(net, gateway_ip=None))
    assert subnet["gateway_ip"] is None
    assert subnet["allocation_pools"] == [{"start": "10.0.0.1", "end": "10.0.0.254"}]


def test_given_pools_dns_routes(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v4(
        net, allocation_pools=[{"start": "10.0.0.100", "end": "10.0.0.200"},
                               {"start": "10.0.0.10", "end": "10.0.0.20"}],
        dns_nameservers=["8.8.8.8", "1.1.1.1"],
        host_routes=[{"destination": "192.168.0.0/16", "nexthop": "10.0.0.254"}],
        enable_dhcp=False))
    assert subnet["allocation_pools"] == [{"start": "10.0.0.10", "end": "10.0.0.20"},
                                          {"start": "10.0.0.100", "end": "10.0.0.200"}]
    assert subnet["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]  # order kept
    assert subnet["host_routes"] == [{"destination": "192.168.0.0/16",
                                      "nexthop": "10.0.0.254"}]
    assert subnet["enable_dhcp"] is False


@pytest.mark.parametrize(("extra", "error", "kind"), [
    ({"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.9"}]},
     exc.GatewayConflictWithAllocationPools, exc.CONFLICT),
    ({"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.1.9"}]},
     exc.OutOfBoundsAllocationPool, exc.BAD_REQUEST),
    ({"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.9"},
                           {"start": "10.0.0.5", "end": "10.0.0.20"}]},
     exc.OverlappingAllocationPools, exc.CONFLICT),
    ({"allocation_pools": [{"start": "10.0.0.9", "end": "10.0.0.2"}]},
     exc.InvalidAllocationPool, exc.BAD_REQUEST),
    ({"dns_nameservers": ["8.8.8.8", "8.8.8.8"]}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"dns_nameservers": ["2001:db8::1"]}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"dns_nameservers": [f"10.1.1.{i}" for i in range(6)]}, exc.DNSNameServersExhausted,
     exc.BAD_REQUEST),
    ({"host_routes": [{"destination": "10.5.0.0/16", "nexthop": "10.0.0.9"}] * 2},
     exc.InvalidInput, exc.BAD_REQUEST),
    ({"gateway_ip": "10.0.0.255"}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"gateway_ip": "2001:db8::1"}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"ip_version": 6}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"ipv6_ra_mode": "slaac"}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"cidr": "10.0.0.0/31"}, exc.InvalidInput, exc.BAD_REQUEST),
    ({"cidr": "10.0.0.0"}, exc.InvalidInput, exc.BAD_REQUEST),
])
def test_errors(res: Services, net: dict, extra: dict, error: type, kind: str) -> None:
    with pytest.raises(error) as err:
        res.subnets.create(ALICE, v4(net) | extra)
    assert err.value.kind == kind
    assert res.subnets.list(ADMIN) == []


def test_small_subnet_without_dhcp(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v4(net, "10.0.0.0/31", enable_dhcp=False,
                                         gateway_ip=None))
    assert subnet["cidr"] == "10.0.0.0/31"


def test_overlap_within_a_network_always_refused(sqlite_database: Database) -> None:
    res = _services(sqlite_database, CoreSettings(tenant_network_type="local",
                                                  allow_overlapping_ips=True))
    net = res.networks.create(ALICE, {})
    res.subnets.create(ALICE, v4(net))
    with pytest.raises(exc.InvalidInput) as err:
        res.subnets.create(ALICE, v4(net, "10.0.0.128/25"))
    assert str(err.value) == (f"Invalid input for operation: Requested subnet with cidr: "
                              f"10.0.0.128/25 for network: {net['id']} overlaps with another "
                              "subnet.")
    other = res.networks.create(ALICE, {})
    assert res.subnets.create(ALICE, v4(other))["cidr"] == "10.0.0.0/24"


def test_overlap_across_networks_without_overlapping_ips(res: Services, net: dict) -> None:
    res.subnets.create(ALICE, v4(net))
    other = res.networks.create(BOB, {})
    with pytest.raises(exc.InvalidInput):
        res.subnets.create(BOB, v4(other, "10.0.0.0/16"))
    assert res.subnets.create(BOB, v4(other, "10.1.0.0/16"))["cidr"] == "10.1.0.0/16"


def test_ipv6(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 6,
                                       "cidr": "2001:db8::/64", "ipv6_ra_mode": "slaac",
                                       "ipv6_address_mode": "slaac"})
    assert subnet["gateway_ip"] == "2001:db8::1"
    assert subnet["ipv6_ra_mode"] == subnet["ipv6_address_mode"] == "slaac"
    assert subnet["allocation_pools"] == [
        {"start": "2001:db8::2", "end": "2001:db8::ffff:ffff:ffff:ffff"}]
    with pytest.raises(exc.InvalidInput):
        res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 6,
                                  "cidr": "2001:db9::/64", "ipv6_ra_mode": "slaac",
                                  "ipv6_address_mode": "dhcpv6-stateful"})
    with pytest.raises(exc.InvalidInput):
        res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 6,
                                  "cidr": "2001:db9::/80", "ipv6_address_mode": "slaac"})


def test_update(res: Services, net: dict, clock) -> None:  # noqa: ANN001
    subnet = res.subnets.create(ALICE, v4(net, dns_nameservers=["8.8.8.8"]))
    clock.advance(5)
    updated = res.subnets.update(ALICE, subnet["id"], {
        "name": "renamed", "gateway_ip": "10.0.0.254",
        "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.100"}],
        "dns_nameservers": ["1.1.1.1", "9.9.9.9"],
        "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.254"}],
        "enable_dhcp": False, "description": "d"})
    assert updated["gateway_ip"] == "10.0.0.254"
    assert updated["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.100"}]
    assert updated["dns_nameservers"] == ["1.1.1.1", "9.9.9.9"]
    assert updated["host_routes"] == [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.254"}]
    assert (updated["enable_dhcp"], updated["name"], updated["description"]) == \
        (False, "renamed", "d")
    assert updated["revision_number"] == 2 and updated["updated_at"] == "2026-11-25T22:31:58Z"
    assert res.subnets.update(ALICE, subnet["id"], {"gateway_ip": None})["gateway_ip"] is None
    with pytest.raises(exc.GatewayConflictWithAllocationPools):
        res.subnets.update(ALICE, subnet["id"], {"gateway_ip": "10.0.0.50"})
    with pytest.raises(exc.InvalidInput):
        res.subnets.update(ALICE, subnet["id"], {"cidr": "10.9.0.0/24"})
    with pytest.raises(exc.InvalidInput):
        res.subnets.update(ALICE, subnet["id"], {"dns_nameservers": ["1.1.1.1", "1.1.1.1"]})
    assert res.subnets.get(ALICE, subnet["id"])["dns_nameservers"] == ["1.1.1.1", "9.9.9.9"]
    # Keeping some entries while changing others (same keys written again).
    again = res.subnets.update(ALICE, subnet["id"], {
        "dns_nameservers": ["9.9.9.9", "1.1.1.1", "8.8.4.4"],
        "host_routes": [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.254"},
                        {"destination": "10.9.0.0/16", "nexthop": "10.0.0.3"}],
        "allocation_pools": [{"start": "10.0.0.2", "end": "10.0.0.100"},
                             {"start": "10.0.0.150", "end": "10.0.0.160"}]})
    assert again["dns_nameservers"] == ["9.9.9.9", "1.1.1.1", "8.8.4.4"]
    assert len(again["host_routes"]) == 2 and len(again["allocation_pools"]) == 2


def test_delete(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v4(net))
    dhcp = res.ports.create(ADMIN, {"network_id": net["id"], "device_owner": "network:dhcp"})
    vm = res.ports.create(ALICE, {"network_id": net["id"]})
    with pytest.raises(exc.SubnetInUse) as err:
        res.subnets.delete(ALICE, subnet["id"])
    assert err.value.kind == exc.CONFLICT
    res.ports.delete(ALICE, vm["id"])
    res.subnets.delete(ALICE, subnet["id"])
    assert res.ports.get(ADMIN, dhcp["id"])["fixed_ips"] == []
    assert res.networks.get(ALICE, net["id"])["subnets"] == []
    with pytest.raises(exc.SubnetNotFound):
        res.subnets.get(ALICE, subnet["id"])


def test_visibility(res: Services, net: dict) -> None:
    private = res.subnets.create(ALICE, v4(net))
    shared_net = res.networks.create(ADMIN, {"shared": True, "tenant_id": "pa"})
    shared = res.subnets.create(ADMIN, v4(shared_net, "10.1.0.0/24"))
    assert [s["id"] for s in res.subnets.list(BOB)] == [shared["id"]]
    assert {s["id"] for s in res.subnets.list(ALICE)} == {private["id"], shared["id"]}
    with pytest.raises(exc.SubnetNotFound):
        res.subnets.get(BOB, private["id"])
    with pytest.raises(exc.SubnetNotFound):
        res.subnets.delete(BOB, private["id"])
    with pytest.raises(exc.PolicyNotAuthorized):
        res.subnets.update(BOB, shared["id"], {"name": "x"})
    with pytest.raises(exc.NetworkNotFound):
        res.subnets.create(BOB, v4(net, "10.2.0.0/24"))
    with pytest.raises(exc.PolicyNotAuthorized):
        res.subnets.create(BOB, v4(shared_net, "10.2.0.0/24"))
    with pytest.raises(exc.NetworkNotFound):
        res.subnets.create(ALICE, v4({"id": "00000000-0000-0000-0000-000000000000"}))


def test_filters(res: Services, net: dict) -> None:
    a = res.subnets.create(ALICE, v4(net, name="a"))
    b = res.subnets.create(ALICE, v4(net, "10.1.0.0/24", name="b", enable_dhcp=False))
    shared_net = res.networks.create(ADMIN, {"shared": True})
    c = res.subnets.create(ADMIN, v4(shared_net, "10.2.0.0/24", name="c"))

    def ids(filters: dict, ctx: Context = ADMIN) -> set[str]:
        return {s["id"] for s in res.subnets.list(ctx, filters)}

    assert ids({"enable_dhcp": [False]}) == {b["id"]}
    assert ids({"cidr": ["10.0.0.0/24", "10.2.0.0/24"]}) == {a["id"], c["id"]}
    assert ids({"network_id": [net["id"]], "name": ["b", "c"]}) == {b["id"]}
    assert ids({"shared": [True]}) == {c["id"]}
    assert ids({"ip_version": [6]}) == set()
    assert ids({"gateway_ip": ["10.1.0.1"]}) == {b["id"]}
    assert ids({"subnetpool_id": [None]}) == {a["id"], b["id"], c["id"]}


def test_bulk_create_is_all_or_nothing(res: Services, net: dict) -> None:
    with pytest.raises(exc.InvalidInput):
        res.subnets.create_bulk(ALICE, [v4(net), v4(net, "10.0.0.0/25")])
    assert res.subnets.list(ADMIN) == []
    assert len(res.subnets.create_bulk(ALICE, [v4(net), v4(net, "10.1.0.0/24")])) == 2


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
