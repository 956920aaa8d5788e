"""Ports through core: MACs, fixed IPs, bindings, extra DHCP options, deletion,
visibility and filters (SQLite; constraint-backed conflicts also on MariaDB/PostgreSQL)."""

from __future__ import annotations

import pytest
from support.core_world import l2_report

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import Services, build_services
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

ADMIN = Context(user_id="admin", project_id="padmin", roles=("admin",), is_admin=True)
ALICE = Context(user_id="alice", project_id="pa", roles=("member",))
BOB = Context(user_id="bob", project_id="pb", roles=("member",))


def make(db: Database, clock=None) -> Services:  # noqa: ANN001
    return _services(db, CoreSettings(tenant_network_type="local"), clock)


@pytest.fixture
def res(sqlite_database: Database, clock) -> Services:  # noqa: ANN001
    return make(sqlite_database, clock)


@pytest.fixture
def net(res: Services) -> dict:
    return res.networks.create(ALICE, {"name": "n"})


@pytest.fixture
def subnet(res: Services, net: dict) -> dict:
    return res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                     "cidr": "10.0.0.0/24"})


def ips(port: dict) -> list[str]:
    return [ip["ip_address"] for ip in port["fixed_ips"]]


def test_walkthrough_addresses(res: Services, net: dict, subnet: dict) -> None:
    # As the RPC handlers create it: the server's own context, which has no project.
    dhcp = res.ports.create(Context.admin(), {"network_id": net["id"],
                                             "device_owner": "network:dhcp",
                                   "device_id": "dhcpxyz", "binding:host_id": "HostA"})
    vms = [res.ports.create(ALICE, {"network_id": net["id"], "device_owner": "compute:nova"})
           for _ in range(3)]
    assert ips(dhcp) == ["10.0.0.2"]
    assert [ips(vm) for vm in vms] == [["10.0.0.3"], ["10.0.0.4"], ["10.0.0.5"]]
    assert dhcp["fixed_ips"][0]["subnet_id"] == subnet["id"]
    assert dhcp["tenant_id"] == "pa"  # no project in the context: the network's


def test_dns_assignment_uses_the_server_s_dns_domain(sqlite_database: Database) -> None:
    res = _services(sqlite_database, CoreSettings(tenant_network_type="local",
                                                  dns_domain="cloud.example.org"), None)
    net = res.networks.create(ALICE, {"name": "n"})
    res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                               "cidr": "10.0.0.0/24"})
    port = res.ports.create(ALICE, {"network_id": net["id"], "dns_name": "vm1"})
    assert port["dns_assignment"] == [{"ip_address": "10.0.0.2", "hostname": "vm1",
                                       "fqdn": "vm1.cloud.example.org."}]
    updated = res.ports.update(ALICE, port["id"], {"dns_name": ""})
    assert updated["dns_assignment"][0]["fqdn"] == "host-10-0-0-2.cloud.example.org."


def test_create_shows_every_attribute(res: Services, net: dict, subnet: dict) -> None:
    res.agents.report_state(l2_report("HostA"))
    port = res.ports.create(ALICE, {"network_id": net["id"], "name": "p", "dns_name": "vm1",
                                   "binding:host_id": "HostA",
                                   "binding:profile": {"k": "v"}, "device_id": "d",
                                   "device_owner": "compute:nova"})
    assert port["status"] == "DOWN" and port["admin_state_up"] is True
    assert port["mac_address"].startswith("fa:16:3e:")
    assert port["binding:host_id"] == "HostA" and port["binding:vif_type"] == "tap"
    assert port["binding:vif_details"] == {"connectivity": "l2", "port_filter": False}
    assert port["binding:profile"] == {"k": "v"} and port["binding:vnic_type"] == "normal"
    assert port["dns_name"] == "vm1"
    assert port["dns_assignment"] == [{"ip_address": "10.0.0.2", "hostname": "vm1",
                                       "fqdn": "vm1.openstacklocal."}]
    assert port["extra_dhcp_opts"] == [] and port["revision_number"] == 1
    assert port["created_at"] == "2026-11-25T22:31:53Z"
    assert port["tenant_id"] == port["project_id"] == "pa"
    assert res.ports.get(ALICE, port["id"]) == port


def test_network_without_subnets(res: Services, net: dict) -> None:
    port = res.ports.create(ALICE, {"network_id": net["id"]})
    assert port["fixed_ips"] == [] and port["binding:vif_type"] == "unbound"


def test_given_mac(database: Database) -> None:
    res = make(database)
    net = res.networks.create(ALICE, {})
    port = res.ports.create(ALICE, {"network_id": net["id"], "mac_address": "FA:16:3E:AA:BB:CC"})
    assert port["mac_address"] == "fa:16:3e:aa:bb:cc"
    with pytest.raises(exc.MacAddressInUse) as err:
        res.ports.create(ALICE, {"network_id": net["id"], "mac_address": "fa:16:3e:aa:bb:cc"})
    assert err.value.kind == exc.CONFLICT
    # The same MAC on another network is fine.
    other = res.networks.create(ALICE, {})
    res.ports.create(ALICE, {"network_id": other["id"], "mac_address": "fa:16:3e:aa:bb:cc"})
    second = res.ports.create(ALICE, {"network_id": net["id"]})
    with pytest.raises(exc.MacAddressInUse):
        res.ports.update(ALICE, second["id"], {"mac_address": "fa:16:3e:aa:bb:cc"})
    with pytest.raises(exc.InvalidInput):
        res.ports.create(ALICE, {"network_id": net["id"], "mac_address": "01:00:5e:00:00:01"})


def test_taken_ip(database: Database) -> None:
    res = make(database)
    net = res.networks.create(ALICE, {})
    res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24"})
    res.ports.create(ALICE, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.9"}]})
    with pytest.raises(exc.IpAddressInUse) as err:
        res.ports.create(ALICE, {"network_id": net["id"],
                                "fixed_ips": [{"ip_address": "10.0.0.9"}]})
    assert err.value.kind == exc.CONFLICT
    assert "The IP address 10.0.0.9 is in use" in str(err.value)
    assert len(res.ports.list(ADMIN)) == 1


def test_fixed_ip_requests(res: Services, net: dict, subnet: dict) -> None:
    other_subnet = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                             "cidr": "10.1.0.0/24"})
    port = res.ports.create(ALICE, {"network_id": net["id"],
                                   "fixed_ips": [{"subnet_id": other_subnet["id"]}]})
    assert ips(port) == ["10.1.0.2"]
    # Inside the subnet but outside its pools is allowed, as in Neutron.
    port = res.ports.create(ALICE, {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": "10.0.0.1"}, {"ip_address": "10.1.0.77"}]})
    assert sorted(ips(port)) == ["10.0.0.1", "10.1.0.77"]
    cases = [
        ([{"subnet_id": subnet["id"], "ip_address": "10.1.0.5"}], exc.InvalidIpForSubnet),
        ([{"subnet_id": subnet["id"], "ip_address": "10.0.0.255"}], exc.InvalidIpForSubnet),
        ([{"ip_address": "192.168.0.5"}], exc.InvalidIpForNetwork),
        ([{"subnet_id": "00000000-0000-0000-0000-000000000000"}], exc.SubnetNotFound),
    ]
    for fixed_ips, error in cases:
        with pytest.raises(error):
            res.ports.create(ALICE, {"network_id": net["id"], "fixed_ips": fixed_ips})
    elsewhere = res.networks.create(ALICE, {})
    with pytest.raises(exc.InvalidInput) as err:
        res.ports.create(ALICE, {"network_id": elsewhere["id"],
                                "fixed_ips": [{"subnet_id": subnet["id"]}]})
    assert "invalid subnet" in str(err.value)


def test_exhaustion(res: Services, net: dict) -> None:
    small = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                      "cidr": "10.0.0.0/29"})
    taken = [ips(res.ports.create(ALICE, {"network_id": net["id"]}))[0] for _ in range(5)]
    assert taken == [f"10.0.0.{i}" for i in range(2, 7)]
    with pytest.raises(exc.IpAddressGenerationFailure) as err:
        res.ports.create(ALICE, {"network_id": net["id"]})
    assert err.value.kind == exc.CONFLICT
    with pytest.raises(exc.IpAddressGenerationFailure):
        res.ports.create(ALICE, {"network_id": net["id"],
                                 "fixed_ips": [{"subnet_id": small["id"]}]})
    # A second subnet with room takes over.
    res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.1.0/29"})
    assert ips(res.ports.create(ALICE, {"network_id": net["id"]})) == ["10.0.1.2"]


def test_delete_releases_ips(res: Services, net: dict, subnet: dict) -> None:
    first = res.ports.create(ALICE, {"network_id": net["id"]})
    res.ports.create(ALICE, {"network_id": net["id"]})
    assert ips(first) == ["10.0.0.2"]
    res.ports.delete(ALICE, first["id"])
    assert ips(res.ports.create(ALICE, {"network_id": net["id"]})) == ["10.0.0.2"]
    with pytest.raises(exc.PortNotFound):
        res.ports.delete(ALICE, first["id"])


def test_update_fixed_ips(res: Services, net: dict, subnet: dict, clock) -> None:  # noqa: ANN001
    port = res.ports.create(ALICE, {"network_id": net["id"]})
    clock.advance(1)
    moved = res.ports.update(ALICE, port["id"], {"fixed_ips": [{"ip_address": "10.0.0.50"}]})
    assert ips(moved) == ["10.0.0.50"] and moved["revision_number"] == 2
    assert moved["mac_address"] == port["mac_address"]
    assert ips(res.ports.create(ALICE, {"network_id": net["id"]})) == ["10.0.0.2"]
    both = res.ports.update(ALICE, port["id"], {"fixed_ips": [
        {"ip_address": "10.0.0.50"}, {"subnet_id": subnet["id"]}]})
    assert ips(both) == ["10.0.0.3", "10.0.0.50"]
    # A subnet-only entry keeps the address the port already has there.
    kept = res.ports.update(ALICE, port["id"], {"fixed_ips": [{"subnet_id": subnet["id"]}]})
    assert len(ips(kept)) == 1 and ips(kept)[0] in ("10.0.0.3", "10.0.0.50")
    other = res.ports.create(ALICE, {"network_id": net["id"]})
    with pytest.raises(exc.IpAddressInUse):
        res.ports.update(ALICE, other["id"], {"fixed_ips": [{"ip_address": ips(kept)[0]}]})
    assert ips(res.ports.get(ALICE, other["id"])) == ips(other)
    assert res.ports.update(ALICE, port["id"], {"fixed_ips": []})["fixed_ips"] == []


def test_binding_and_options(res: Services, net: dict, subnet: dict) -> None:
    port = res.ports.create(ALICE, {"network_id": net["id"], "extra_dhcp_opts": [
        {"opt_name": "tftp-server", "opt_value": "10.0.0.9"},
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4}]})
    assert port["extra_dhcp_opts"] == [
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4},
        {"opt_name": "tftp-server", "opt_value": "10.0.0.9", "ip_version": 4}]
    port = res.ports.update(ALICE, port["id"], {"extra_dhcp_opts": [
        {"opt_name": "tftp-server", "opt_value": None},
        {"opt_name": "bootfile-name", "opt_value": "grub.efi"},
        {"opt_name": "mtu", "opt_value": "1400", "ip_version": 6}]})
    assert port["extra_dhcp_opts"] == [
        {"opt_name": "bootfile-name", "opt_value": "grub.efi", "ip_version": 4},
        {"opt_name": "mtu", "opt_value": "1400", "ip_version": 6}]
    res.agents.report_state(l2_report("HostB"))
    bound = res.ports.update(ADMIN, port["id"], {"binding:host_id": "HostB",
                                                "binding:profile": {"a": 1}})
    assert (bound["binding:host_id"], bound["binding:vif_type"]) == ("HostB", "tap")
    assert bound["binding:profile"] == {"a": 1}
    unbound = res.ports.update(ADMIN, port["id"], {"binding:host_id": ""})
    assert (unbound["binding:host_id"], unbound["binding:vif_type"]) == ("", "unbound")
    assert unbound["binding:vif_details"] == {}
    with pytest.raises(exc.InvalidInput):
        res.ports.update(ALICE, port["id"], {"network_id": net["id"]})
    with pytest.raises(exc.InvalidInput):
        res.ports.update(ALICE, port["id"], {"status": "ACTIVE"})
    assert res.ports.update(ADMIN, port["id"], {"status": "ACTIVE"})["status"] == "ACTIVE"


def test_visibility(res: Services, net: dict, subnet: dict) -> None:
    mine = res.ports.create(ALICE, {"network_id": net["id"]})
    with pytest.raises(exc.PortNotFound):
        res.ports.get(BOB, mine["id"])
    with pytest.raises(exc.PortNotFound):
        res.ports.update(BOB, mine["id"], {"name": "x"})
    with pytest.raises(exc.NetworkNotFound):
        res.ports.create(BOB, {"network_id": net["id"]})
    res.networks.update(ADMIN, net["id"], {"shared": True})
    bobs = res.ports.create(BOB, {"network_id": net["id"]})
    assert bobs["tenant_id"] == "pb"
    assert [p["id"] for p in res.ports.list(BOB)] == [bobs["id"]]
    # The network's owner sees (and may manage) ports on it.
    assert {p["id"] for p in res.ports.list(ALICE)} == {mine["id"], bobs["id"]}
    assert res.ports.update(ALICE, bobs["id"], {"name": "seen"})["name"] == "seen"
    with pytest.raises(exc.HTTPBadRequest):
        res.ports.create(BOB, {"network_id": net["id"], "tenant_id": "pa"})


def test_filters(res: Services, net: dict, subnet: dict) -> None:
    a = res.ports.create(ALICE, {"network_id": net["id"], "device_owner": "network:dhcp",
                                "binding:host_id": "HostA"})
    b = res.ports.create(ALICE, {"network_id": net["id"], "device_owner": "compute:nova",
                                "binding:host_id": "HostB", "device_id": "vm-b"})
    c = res.ports.create(ALICE, {"network_id": net["id"], "device_owner": "compute:nova"})

    def ids(filters: dict) -> set[str]:
        return {p["id"] for p in res.ports.list(ADMIN, filters)}

    assert ids({"fixed_ips": ["ip_address=10.0.0.3"]}) == {b["id"]}
    assert ids({"fixed_ips": ["ip_address=10.0.0.3", "ip_address=10.0.0.4"]}) == \
        {b["id"], c["id"]}
    assert ids({"fixed_ips": [f"subnet_id={subnet['id']}"]}) == {a["id"], b["id"], c["id"]}
    assert ids({"fixed_ips": [{"ip_address": "10.0.0.2", "subnet_id": subnet["id"]}]}) == \
        {a["id"]}
    assert ids({"fixed_ips": ["ip_address_substr=0.0.4"]}) == {c["id"]}
    assert ids({"fixed_ips": ["bogus=1"]}) == set()
    assert ids({"binding:host_id": ["HostA", "HostB"]}) == {a["id"], b["id"]}
    assert ids({"device_owner": ["compute:nova"], "binding:host_id": ["HostB"]}) == {b["id"]}
    assert ids({"device_id": ["vm-b"]}) == {b["id"]}
    assert ids({"mac_address": [c["mac_address"].upper()]}) == {c["id"]}
    assert ids({"network_id": [net["id"]], "status": ["DOWN"]}) == {a["id"], b["id"], c["id"]}
    assert ids({"admin_state_up": [False]}) == set()


def test_bulk_create_is_all_or_nothing(res: Services, net: dict, subnet: dict) -> None:
    with pytest.raises(exc.IpAddressInUse):
        res.ports.create_bulk(ALICE, [
            {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.20"}]},
            {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.20"}]}])
    assert res.ports.list(ADMIN) == []
    created = res.ports.create_bulk(ALICE, [{"network_id": net["id"]}, {"network_id": net["id"]}])
    assert [ips(p) for p in created] == [["10.0.0.2"], ["10.0.0.3"]]


def test_generated_mac_collisions(res: Services, net: dict, monkeypatch) -> None:  # noqa: ANN001
    first = res.ports.create(ALICE, {"network_id": net["id"]})
    draws = iter([first["mac_address"], first["mac_address"], "fa:16:3e:00:00:99"])
    monkeypatch.setattr("neutrino.core.resources.ports.macs.generate", lambda base: next(draws))
    # Two draws hit the taken MAC; the unique key refuses them and a third is tried.
    assert res.ports.create(ALICE, {"network_id": net["id"]})["mac_address"] == \
        "fa:16:3e:00:00:99"
    monkeypatch.setattr("neutrino.core.resources.ports.macs.generate",
                        lambda base: first["mac_address"])
    with pytest.raises(exc.MacAddressGenerationFailure) as err:
        res.ports.create(ALICE, {"network_id": net["id"]})
    assert err.value.kind == exc.SERVICE_UNAVAILABLE
    assert len(res.ports.list(ALICE)) == 2


def test_ipv6_addresses(res: Services, net: dict, subnet: dict) -> None:
    slaac = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 6,
                                      "cidr": "2001:db8:1::/64", "ipv6_ra_mode": "slaac",
                                      "ipv6_address_mode": "slaac"})
    stateful = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 6,
                                         "cidr": "2001:db8:2::/64"})
    port = res.ports.create(ALICE, {"network_id": net["id"], "mac_address": "fa:16:3e:12:34:56"})
    by_subnet = {ip["subnet_id"]: ip["ip_address"] for ip in port["fixed_ips"]}
    # RFC 5952 text: a single zero group is not shortened to "::".
    assert by_subnet == {subnet["id"]: "10.0.0.2",
                         slaac["id"]: "2001:db8:1:0:f816:3eff:fe12:3456",
                         stateful["id"]: "2001:db8:2::2"}
    found = res.ports.list(ALICE, {"fixed_ips": ["ip_address=2001:DB8:1:0:F816:3EFF:FE12:3456"]})
    assert [p["id"] for p in found] == [port["id"]]


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
