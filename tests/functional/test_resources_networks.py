"""Networks through core: attributes, provider segments, VLAN allocation, visibility,
filters, deletion (SQLite; the constraint-backed conflicts also on MariaDB/PostgreSQL)."""

from __future__ import annotations

import pytest
from support.statements import of_verbs, recorded

from neutrino.conf.settings import CoreSettings, VlanRange
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.resources.paging import PageRequest
from neutrino.core.services import Services, build_services
from neutrino.db import models
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

ADMIN = Context(user_id="admin", project_id="padmin", roles=("admin",), is_admin=True)
ALICE = Context(user_id="alice", project_id="pa", roles=("member",))
BOB = Context(user_id="bob", project_id="pb", roles=("member",))
RANGES = (VlanRange("physnet1", 1000, 1002), VlanRange("physnet2", 20, 21),
          VlanRange("physnet3"))


def make(db: Database, clock=None, **overrides) -> Services:  # noqa: ANN001
    settings = CoreSettings(**({"vlan_ranges": RANGES, "tenant_network_type": "vlan"}
                               | overrides))
    return _services(db, settings, clock)


@pytest.fixture
def res(sqlite_database: Database, clock) -> Services:  # noqa: ANN001
    return make(sqlite_database, clock)


def test_create_shows_every_attribute(res: Services) -> None:
    net = res.networks.create(ALICE, {"name": "net1", "admin_state_up": True, "shared": False,
                                     "availability_zone_hints": ["az1"], "description": "d"})
    assert net["name"] == "net1" and net["description"] == "d"
    assert net["tenant_id"] == net["project_id"] == "pa"
    assert net["status"] == "ACTIVE" and net["admin_state_up"] is True
    assert net["mtu"] == 1500 and net["subnets"] == []
    assert net["router:external"] is False and net["shared"] is False
    assert net["provider:network_type"] == "vlan"
    assert net["provider:physical_network"] == "physnet1"
    assert net["provider:segmentation_id"] == 1000
    assert net["availability_zone_hints"] == ["az1"] and net["availability_zones"] == []
    assert net["created_at"] == net["updated_at"] == "2026-11-25T22:31:53Z"
    assert net["revision_number"] == 1 and net["dns_domain"] == ""
    assert res.networks.get(ALICE, net["id"]) == net


def test_tenant_vlans_lowest_free_and_reused(res: Services) -> None:
    first = res.networks.create(ALICE, {"name": "a"})
    second = res.networks.create(ALICE, {"name": "b"})
    assert [first["provider:segmentation_id"], second["provider:segmentation_id"]] == \
        [1000, 1001]
    res.networks.delete(ALICE, first["id"])
    assert res.networks.create(ALICE, {})["provider:segmentation_id"] == 1000


def test_tenant_vlans_run_out(res: Services) -> None:
    vlans = [res.networks.create(ALICE, {})["provider:segmentation_id"] for _ in range(5)]
    assert vlans == [1000, 1001, 1002, 20, 21]
    with pytest.raises(exc.NoNetworkAvailable) as err:
        res.networks.create(ALICE, {})
    assert err.value.kind == exc.SERVICE_UNAVAILABLE


def test_no_ranges_means_no_tenant_vlan(sqlite_database: Database) -> None:
    res = make(sqlite_database, vlan_ranges=(VlanRange("physnet1"),))
    with pytest.raises(exc.NoNetworkAvailable):
        res.networks.create(ALICE, {})


@pytest.mark.parametrize("kind", ["local", "none"])
def test_local_tenant_networks(sqlite_database: Database, kind: str) -> None:
    net = make(sqlite_database, tenant_network_type=kind).networks.create(ALICE, {})
    assert net["provider:network_type"] == "local"
    assert net["provider:physical_network"] is None
    assert net["provider:segmentation_id"] is None


def test_non_admin_cannot_set_provider(res: Services) -> None:
    with pytest.raises(exc.PolicyNotAuthorized) as err:
        res.networks.create(ALICE, {"provider:network_type": "vlan"})
    assert err.value.kind == exc.FORBIDDEN
    assert res.networks.list(ADMIN) == []


def test_provider_vlan(res: Services) -> None:
    net = res.networks.create(ADMIN, {"provider:network_type": "vlan",
                                     "provider:physical_network": "physnet3",
                                     "provider:segmentation_id": 4094})
    assert (net["provider:physical_network"], net["provider:segmentation_id"]) == \
        ("physnet3", 4094)
    # A physnet alone: a VLAN from that physnet's range.
    net = res.networks.create(ADMIN, {"provider:network_type": "vlan",
                                     "provider:physical_network": "physnet2"})
    assert (net["provider:physical_network"], net["provider:segmentation_id"]) == \
        ("physnet2", 20)
    # Outside the tenant ranges is fine for an admin; the allocator then skips it.
    net = res.networks.create(ADMIN, {"provider:network_type": "vlan",
                                     "provider:physical_network": "physnet1",
                                     "provider:segmentation_id": 1001})
    assert res.networks.create(ALICE, {})["provider:segmentation_id"] == 1000
    assert res.networks.create(ALICE, {})["provider:segmentation_id"] == 1002


@pytest.mark.parametrize(("body", "message"), [
    ({"provider:network_type": "vlan", "provider:physical_network": "nope",
      "provider:segmentation_id": 5}, "physical_network 'nope' unknown"),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 0}, "segmentation_id out of range"),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 4095}, "segmentation_id out of range"),
    ({"provider:network_type": "vlan", "provider:segmentation_id": 5},
     "segmentation_id requires physical_network"),
    ({"provider:network_type": "flat"}, "physical_network required"),
    ({"provider:network_type": "flat", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 3}, "segmentation_id prohibited"),
    ({"provider:network_type": "local", "provider:physical_network": "physnet1"},
     "physical_network prohibited"),
    ({"provider:network_type": "vxlan"}, "network_type value 'vxlan' not supported"),
    ({"provider:physical_network": "physnet1"}, "network_type required"),
])
def test_provider_errors(res: Services, body: dict, message: str) -> None:
    with pytest.raises(exc.InvalidInput) as err:
        res.networks.create(ADMIN, body)
    assert message in str(err.value)
    assert err.value.kind == exc.BAD_REQUEST


def test_taken_vlan_and_flat(database: Database) -> None:
    res = make(database)
    vlan = {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 1500}
    res.networks.create(ADMIN, vlan)
    with pytest.raises(exc.VlanIdInUse) as err:
        res.networks.create(ADMIN, vlan)
    assert err.value.kind == exc.CONFLICT
    assert "VLAN 1500 on physical network physnet1 is in use" in str(err.value)
    flat = {"provider:network_type": "flat", "provider:physical_network": "physnet1"}
    net = res.networks.create(ADMIN, flat)
    assert net["provider:network_type"] == "flat"
    assert net["provider:segmentation_id"] is None
    with pytest.raises(exc.FlatNetworkInUse):
        res.networks.create(ADMIN, flat)
    # The failed creations left nothing behind.
    assert len(res.networks.list(ADMIN)) == 2


def test_update(res: Services, clock) -> None:  # noqa: ANN001
    net = res.networks.create(ALICE, {"name": "a"})
    clock.advance(60)
    updated = res.networks.update(ALICE, net["id"], {"name": "b", "admin_state_up": False,
                                                    "description": "x", "dns_domain": "e.org."})
    assert (updated["name"], updated["admin_state_up"], updated["description"]) == \
        ("b", False, "x")
    assert updated["dns_domain"] == "e.org."
    assert updated["revision_number"] == 2
    assert updated["updated_at"] == "2026-11-25T22:32:53Z"
    assert updated["created_at"] == net["created_at"]
    assert res.networks.update(ALICE, net["id"], {})["revision_number"] == 3
    # Provider attributes: the same values are accepted, changes are not.
    same = {"provider:network_type": "vlan", "provider:segmentation_id": 1000}
    assert res.networks.update(ADMIN, net["id"], same)["provider:segmentation_id"] == 1000
    with pytest.raises(exc.InvalidInput):
        res.networks.update(ADMIN, net["id"], {"provider:segmentation_id": 1001})
    with pytest.raises(exc.PolicyNotAuthorized):
        res.networks.update(ALICE, net["id"], {"provider:segmentation_id": 1000})
    with pytest.raises(exc.InvalidInput):
        res.networks.update(ALICE, net["id"], {"mtu": 9000})


def test_visibility(res: Services) -> None:
    private = res.networks.create(ALICE, {"name": "private"})
    shared = res.networks.create(ADMIN, {"name": "shared", "shared": True, "tenant_id": "pa"})
    external = res.networks.create(ADMIN, {"name": "ext", "router:external": True,
                                          "tenant_id": "pa"})
    assert {n["name"] for n in res.networks.list(BOB)} == {"shared", "ext"}
    assert {n["name"] for n in res.networks.list(ALICE)} == {"private", "shared", "ext"}
    with pytest.raises(exc.NetworkNotFound) as err:
        res.networks.get(BOB, private["id"])
    assert err.value.kind == exc.NOT_FOUND
    assert res.networks.get(BOB, shared["id"])["id"] == shared["id"]
    for call in (lambda: res.networks.update(BOB, private["id"], {"name": "x"}),
                 lambda: res.networks.delete(BOB, private["id"])):
        with pytest.raises(exc.NetworkNotFound):
            call()
    for call in (lambda: res.networks.update(BOB, shared["id"], {"name": "x"}),
                 lambda: res.networks.delete(BOB, external["id"])):
        with pytest.raises(exc.PolicyNotAuthorized):
            call()


def test_projects(res: Services) -> None:
    with pytest.raises(exc.HTTPBadRequest) as err:
        res.networks.create(ALICE, {"tenant_id": "pb"})
    assert "requires admin privileges" in str(err.value)
    with pytest.raises(exc.HTTPBadRequest):
        res.networks.create(ADMIN, {"tenant_id": "pa", "project_id": "pb"})
    assert res.networks.create(ALICE, {"project_id": "pa"})["tenant_id"] == "pa"
    assert res.networks.create(ADMIN, {"tenant_id": "pb"})["project_id"] == "pb"
    with pytest.raises(exc.PolicyNotAuthorized):
        res.networks.create(ALICE, {"shared": True})


def test_unshare_refused_while_others_use_it(res: Services) -> None:
    net = res.networks.create(ALICE, {})
    res.networks.update(ADMIN, net["id"], {"shared": True})
    port = res.ports.create(BOB, {"network_id": net["id"]})
    with pytest.raises(exc.InvalidSharedSetting) as err:
        res.networks.update(ADMIN, net["id"], {"shared": False})
    assert err.value.kind == exc.CONFLICT
    res.ports.delete(BOB, port["id"])
    assert res.networks.update(ADMIN, net["id"], {"shared": False})["shared"] is False


def test_delete(res: Services) -> None:
    net = res.networks.create(ALICE, {"name": "n"})
    subnet = res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                       "cidr": "10.0.0.0/24"})
    dhcp = res.ports.create(ADMIN, {"network_id": net["id"], "device_owner": "network:dhcp"})
    vm = res.ports.create(ALICE, {"network_id": net["id"], "device_owner": "compute:nova"})
    with pytest.raises(exc.NetworkInUse) as err:
        res.networks.delete(ALICE, net["id"])
    assert err.value.kind == exc.CONFLICT
    res.ports.delete(ALICE, vm["id"])
    res.networks.delete(ALICE, net["id"])
    for call, error in ((lambda: res.networks.get(ADMIN, net["id"]), exc.NetworkNotFound),
                        (lambda: res.subnets.get(ADMIN, subnet["id"]), exc.SubnetNotFound),
                        (lambda: res.ports.get(ADMIN, dhcp["id"]), exc.PortNotFound)):
        with pytest.raises(error):
            call()
    with pytest.raises(exc.NetworkNotFound):
        res.networks.delete(ALICE, net["id"])


def test_bulk_create_is_all_or_nothing(res: Services) -> None:
    with pytest.raises(exc.PolicyNotAuthorized):
        res.networks.create_bulk(ALICE, [{"name": "ok"}, {"name": "bad", "shared": True}])
    assert res.networks.list(ADMIN) == []
    created = res.networks.create_bulk(ALICE, [{"name": "a"}, {"name": "b"}])
    assert [n["name"] for n in created] == ["a", "b"]
    assert len({n["provider:segmentation_id"] for n in created}) == 2


def test_filters(res: Services) -> None:
    a = res.networks.create(ALICE, {"name": "a"})
    b = res.networks.create(ALICE, {"name": "b"})
    c = res.networks.create(ADMIN, {"name": "c", "shared": True, "router:external": True,
                                   "provider:network_type": "flat",
                                   "provider:physical_network": "physnet1"})

    def names(ctx: Context, filters: dict) -> set[str]:
        return {n["name"] for n in res.networks.list(ctx, filters)}

    assert names(ADMIN, {"name": ["a", "c"]}) == {"a", "c"}
    assert names(ADMIN, {"name": ["a", "c"], "shared": [False]}) == {"a"}
    assert names(ADMIN, {"router:external": [True]}) == {"c"}
    assert names(ADMIN, {"provider:network_type": ["vlan"]}) == {"a", "b"}
    assert names(ADMIN, {"provider:segmentation_id": [b["provider:segmentation_id"]]}) == {"b"}
    assert names(ADMIN, {"provider:physical_network": ["physnet1"]}) == {"a", "b", "c"}
    assert names(ADMIN, {"tenant_id": ["pa"]}) == {"a", "b"}
    assert names(ADMIN, {"id": [a["id"], c["id"]]}) == {"a", "c"}
    assert names(BOB, {"name": ["a", "b", "c"]}) == {"c"}
    assert names(ADMIN, {"name": []}) == {"a", "b", "c"}


def test_network_listing_costs_the_same_for_one_or_many(sqlite_database: Database,
                                                          clock) -> None:  # noqa: ANN001
    res = make(sqlite_database, clock, tenant_network_type="local")
    nets = [res.networks.create(ALICE, {"name": f"n{i}"}) for i in range(6)]
    for i, net in enumerate(nets):
        for j in range(2):
            res.subnets.create(ALICE, {"network_id": net["id"], "ip_version": 4,
                                      "cidr": f"10.{i}.{j}.0/24",
                                      "dns_nameservers": ["8.8.8.8"]})
    now = clock.now()
    with sqlite_database.session() as s:
        for host, zone in (("h1", "az1"), ("h2", "az2"), ("h3", "az1")):
            s.add(models.Agent(id=host, agent_type="DHCP agent", binary="b", topic="dhcp_agent",
                               host=host, availability_zone=zone, created_at=now,
                               started_at=now, heartbeat_timestamp=now))
        s.flush()
        for i, agent in enumerate(("h1", "h2", "h3")):
            s.add(models.NetworkDhcpAgentBinding(network_id=nets[0]["id"], dhcp_agent_id=agent,
                                                 binding_index=i + 1))
        s.add(models.NetworkDhcpAgentBinding(network_id=nets[1]["id"], dhcp_agent_id="h3"))
    assert res.networks.get(ALICE, nets[0]["id"])["availability_zones"] == ["az1", "az2"]
    zones = {n["name"]: n["availability_zones"] for n in res.networks.list(ALICE)}
    assert zones["n1"] == ["az1"] and zones["n5"] == []
    assert all(len(n["subnets"]) == 2 for n in res.networks.list(ALICE))

    with recorded(sqlite_database.engine) as statements:
        res.networks.list(ALICE, {"name": ["n0"]})
        one = len(statements)
        statements.clear()
        res.networks.list(ALICE)
    assert len(statements) == one  # six networks cost what one does


def test_a_page_read_as_rows_shows_what_the_objects_show(database: Database,
                                                         clock) -> None:  # noqa: ANN001
    # The API's lists read networks as rows; the dicts must be the ones the objects give.
    res = make(database, clock)
    plain = res.networks.create(ALICE, {"name": "plain", "availability_zone_hints": ["az1"]})
    vlan = res.networks.create(ADMIN, {"name": "vlan", "provider:network_type": "vlan",
                                      "provider:physical_network": "physnet2",
                                      "provider:segmentation_id": 21, "shared": True,
                                      "router:external": True, "description": "d"})
    flat = res.networks.create(ADMIN, {"name": "flat", "provider:network_type": "flat",
                                      "provider:physical_network": "physnet3"})
    for j in range(3):
        res.subnets.create(ADMIN, {"network_id": vlan["id"], "ip_version": 4,
                                  "cidr": f"10.7.{j}.0/24"})
    res.tags.add(ADMIN, "networks", vlan["id"], ["zeta", "alpha"])
    now = clock.now()
    with database.session() as s:
        s.add(models.Agent(id="h1", agent_type="DHCP agent", binary="b", topic="dhcp_agent",
                           host="h1", availability_zone="az9", created_at=now,
                           started_at=now, heartbeat_timestamp=now))
        s.flush()
        s.add(models.NetworkDhcpAgentBinding(network_id=vlan["id"], dhcp_agent_id="h1",
                                             binding_index=1))
    for ctx in (ADMIN, ALICE, BOB):
        paged = res.networks.list_page(ctx, None, PageRequest()).items
        assert paged == sorted(res.networks.list(ctx), key=lambda n: n["id"]), ctx
    shown = {n["name"]: n for n in res.networks.list_page(ADMIN, None, PageRequest()).items}
    assert shown["vlan"]["tags"] == ["alpha", "zeta"]
    assert len(shown["vlan"]["subnets"]) == 3 and shown["vlan"]["availability_zones"] == ["az9"]
    assert shown["vlan"]["provider:segmentation_id"] == 21
    assert shown["flat"]["provider:network_type"] == "flat"
    assert shown["plain"]["availability_zone_hints"] == ["az1"]
    assert {plain["id"], flat["id"]} <= set(shown[n]["id"] for n in shown)


def test_a_page_of_networks_is_two_statements(database: Database, clock) -> None:  # noqa: ANN001
    # The networks, then their segments, subnets, tags and agents' zones in one UNION ALL.
    res = make(database, clock)
    nets = [res.networks.create(ADMIN, {"name": f"n{i}"}) for i in range(3)]
    res.subnets.create(ADMIN, {"network_id": nets[0]["id"], "ip_version": 4,
                              "cidr": "10.8.0.0/24"})
    res.tags.add(ADMIN, "networks", nets[1]["id"], ["b", "a"])
    now = clock.now()
    with database.session() as s:
        for host, zone in (("h1", "az2"), ("h2", ""), ("h3", "az1"), ("h4", "az2")):
            s.add(models.Agent(id=host, agent_type="DHCP agent", binary="b",
                               topic="dhcp_agent", host=host, availability_zone=zone,
                               created_at=now, started_at=now, heartbeat_timestamp=now))
        s.flush()
        for i, host in enumerate(("h1", "h2", "h3", "h4")):
            s.add(models.NetworkDhcpAgentBinding(network_id=nets[0]["id"], dhcp_agent_id=host,
                                                 binding_index=i + 1))
    with recorded(database.engine) as statements:
        paged = res.networks.list_page(ADMIN, None, PageRequest()).items
    selects = of_verbs(statements, "SELECT")
    assert len(selects) == 2, statements  # (SQLite's BEGIN aside)
    assert paged == sorted(res.networks.list(ADMIN), key=lambda n: n["id"])
    shown = {n["name"]: n for n in paged}
    assert shown["n0"]["availability_zones"] == ["az1", "az2"]
    assert shown["n0"]["subnets"] and shown["n1"]["tags"] == ["a", "b"]
    assert shown["n2"]["provider:network_type"] == "vlan"
    assert shown["n2"]["provider:segmentation_id"] is not None


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
