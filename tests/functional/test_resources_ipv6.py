"""IPv6 subnets and ports through core, as Neutron: which ipv6_ra_mode/ipv6_address_mode
combinations are accepted, EUI-64 addresses on SLAAC and DHCPv6-stateless subnets, pool
addresses on stateful ones (also beyond what the offset index can hold), dual-stack
ports. On every selected database (NEUTRINO_TEST_DBS)."""

from __future__ import annotations

import pytest

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import Services, build_services
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

ALICE = Context(user_id="alice", project_id="pa", roles=("member",))
MAC = "fa:16:3e:12:34:56"
EUI64 = "2001:db8:1:0:f816:3eff:fe12:3456"  # of MAC in 2001:db8:1::/64


@pytest.fixture
def res(database: Database) -> Services:
    return build_services(database, CoreSettings(tenant_network_type="local"),
                          RecordingNotifier(), None)


@pytest.fixture
def net(res: Services) -> dict:
    return res.networks.create(ALICE, {"name": "n"})


def v6(net: dict, cidr: str = "2001:db8:1::/64", **extra: object) -> dict:
    return {"network_id": net["id"], "ip_version": 6, "cidr": cidr, **extra}


MODES = ["slaac", "dhcpv6-stateless", "dhcpv6-stateful"]


@pytest.mark.parametrize("body", [
    {}, *({"ipv6_ra_mode": m, "ipv6_address_mode": m} for m in MODES),
    *({"ipv6_address_mode": m} for m in MODES), *({"ipv6_ra_mode": m} for m in MODES),
    {"ipv6_address_mode": "dhcpv6-stateful", "cidr": "2001:db8:1::/80"},
])
def test_accepted_modes(res: Services, net: dict, body: dict) -> None:
    subnet = res.subnets.create(ALICE, v6(net) | body)
    assert subnet["ipv6_ra_mode"] == body.get("ipv6_ra_mode")
    assert subnet["ipv6_address_mode"] == body.get("ipv6_address_mode")


@pytest.mark.parametrize(("body", "message"), [
    ({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"},
     "ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not "
     "valid. If both attributes are set, they must be the same value"),
    ({"ipv6_ra_mode": "dhcpv6-stateless", "ipv6_address_mode": "slaac"},
     "ipv6_ra_mode set to 'dhcpv6-stateless' with ipv6_address_mode set to 'slaac' is not "
     "valid. If both attributes are set, they must be the same value"),
    ({"ipv6_address_mode": "slaac", "cidr": "2001:db8:1::/80"},
     "Invalid CIDR 2001:db8:1::/80 for IPv6 address mode. OpenStack uses the EUI-64 "
     "address format, which requires the prefix to be /64"),
    ({"ipv6_ra_mode": "dhcpv6-stateless", "cidr": "2001:db8:1::/56"},
     "Invalid CIDR 2001:db8:1::/56 for IPv6 address mode. OpenStack uses the EUI-64 "
     "address format, which requires the prefix to be /64"),
    ({"ipv6_address_mode": "slaac", "enable_dhcp": False},
     "ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"),
    ({"ip_version": 4, "cidr": "10.0.0.0/24", "ipv6_address_mode": "slaac"},
     "ipv6_address_mode is not valid when ip_version is 4"),
])
def test_refused_modes(res: Services, net: dict, body: dict, message: str) -> None:
    with pytest.raises(exc.InvalidInput) as err:
        res.subnets.create(ALICE, v6(net) | body)
    assert err.value.kind == exc.BAD_REQUEST
    assert str(err.value) == f"Invalid input for operation: {message}."
    assert res.subnets.list(ALICE) == []


def test_dhcp_cannot_be_turned_off_under_ipv6_modes(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v6(net, ipv6_address_mode="dhcpv6-stateful"))
    with pytest.raises(exc.InvalidInput) as err:
        res.subnets.update(ALICE, subnet["id"], {"enable_dhcp": False, "name": "x"})
    assert "Cannot disable enable_dhcp with ipv6 attributes set" in str(err.value)
    after = res.subnets.get(ALICE, subnet["id"])
    assert after["enable_dhcp"] is True and after["name"] == ""
    plain = res.subnets.create(ALICE, v6(net, "2001:db8:2::/64"))
    assert res.subnets.update(ALICE, plain["id"], {"enable_dhcp": False})["enable_dhcp"] is False


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateless"])
def test_auto_address_subnets_give_eui64(res: Services, net: dict, mode: str) -> None:
    subnet = res.subnets.create(ALICE, v6(net, ipv6_ra_mode=mode, ipv6_address_mode=mode))
    port = res.ports.create(ALICE, {"network_id": net["id"], "mac_address": MAC})
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": EUI64}]
    asked = res.ports.create(ALICE, {"network_id": net["id"],
                                     "mac_address": "fa:16:3e:00:00:01",
                                     "fixed_ips": [{"subnet_id": subnet["id"]}]})
    assert asked["fixed_ips"][0]["ip_address"] == "2001:db8:1:0:f816:3eff:fe00:1"
    # A chosen address is refused (the MAC decides), and nothing is left of the attempt.
    with pytest.raises(exc.AllocationOnAutoAddressSubnet) as err:
        res.ports.create(ALICE, {"network_id": net["id"], "fixed_ips": [
            {"subnet_id": subnet["id"], "ip_address": "2001:db8:1::99"}]})
    assert err.value.kind == exc.BAD_REQUEST
    assert str(err.value) == (
        f"IPv6 address 2001:db8:1::99 cannot be directly assigned to a port on subnet "
        f"{subnet['id']} as the subnet is configured for automatic addresses")
    assert len(res.ports.list(ALICE)) == 2
    # A router's port may take the gateway.
    router = res.ports.create(ALICE, {"network_id": net["id"],
                                      "device_owner": "network:router_interface",
                                      "fixed_ips": [{"ip_address": "2001:db8:1::1"}]})
    assert router["fixed_ips"][0]["ip_address"] == "2001:db8:1::1"


def test_stateful_addresses_from_the_pools(res: Services, net: dict) -> None:
    subnet = res.subnets.create(ALICE, v6(net, ipv6_address_mode="dhcpv6-stateful",
                                          ipv6_ra_mode="dhcpv6-stateful",
                                          allocation_pools=[{"start": "2001:db8:1::10",
                                                             "end": "2001:db8:1::12"}]))
    ips = [res.ports.create(ALICE, {"network_id": net["id"]})["fixed_ips"][0]["ip_address"]
           for _ in range(3)]
    assert ips == ["2001:db8:1::10", "2001:db8:1::11", "2001:db8:1::12"]
    with pytest.raises(exc.IpAddressGenerationFailure):
        res.ports.create(ALICE, {"network_id": net["id"]})
    chosen = res.ports.create(ALICE, {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": "2001:db8:1::abcd"}]})
    assert chosen["fixed_ips"][0]["ip_address"] == "2001:db8:1::abcd"


def test_stateful_pool_beyond_the_offset_index(res: Services, net: dict) -> None:
    # Offsets past 2**63 do not fit the indexed column: allocation still works.
    res.subnets.create(ALICE, v6(net, allocation_pools=[
        {"start": "2001:db8:1:0:ffff:ffff:ffff:fff0",
         "end": "2001:db8:1:0:ffff:ffff:ffff:fff1"}]))
    ips = [res.ports.create(ALICE, {"network_id": net["id"]})["fixed_ips"][0]["ip_address"]
           for _ in range(2)]
    assert ips == ["2001:db8:1:0:ffff:ffff:ffff:fff0", "2001:db8:1:0:ffff:ffff:ffff:fff1"]


def test_dual_stack_port(res: Services, net: dict) -> None:
    v4 = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                    "cidr": "10.0.0.0/24"})
    stateful = res.subnets.create(ALICE, v6(net, "2001:db8:2::/64",
                                            ipv6_address_mode="dhcpv6-stateful"))
    slaac = res.subnets.create(ALICE, v6(net, ipv6_address_mode="slaac"))
    port = res.ports.create(ALICE, {"network_id": net["id"], "mac_address": MAC})
    assert {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]} == {
        v4["id"]: "10.0.0.2", stateful["id"]: "2001:db8:2::2", slaac["id"]: EUI64}
    # The API shows each address's name as dnsmasq serves it.
    names = {a["ip_address"]: a["hostname"] for a in port["dns_assignment"]}
    assert names[EUI64] == "host-2001-db8-1-0-f816-3eff-fe12-3456"


def test_a_new_mac_makes_new_slaac_addresses(res: Services, net: dict) -> None:
    v4 = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                    "cidr": "10.0.0.0/24"})
    slaac = res.subnets.create(ALICE, v6(net, ipv6_address_mode="slaac"))
    port = res.ports.create(ALICE, {"network_id": net["id"], "mac_address": MAC})
    updated = res.ports.update(ALICE, port["id"], {"mac_address": "fa:16:3e:00:00:01"})
    assert {f["subnet_id"]: f["ip_address"] for f in updated["fixed_ips"]} == {
        v4["id"]: "10.0.0.2", slaac["id"]: "2001:db8:1:0:f816:3eff:fe00:1"}
    assert res.ports.get(ALICE, port["id"])["fixed_ips"] == updated["fixed_ips"]
    # The old address is free: a port with the old MAC gets it.
    again = res.ports.create(ALICE, {"network_id": net["id"], "mac_address": MAC})
    assert EUI64 in {f["ip_address"] for f in again["fixed_ips"]}
