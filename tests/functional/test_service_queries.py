"""What the hot paths cost in SQL statements: constant, not per row (SQLite).

Heartbeats arrive every report_interval from every agent, the HA tick runs every second and
an agent's full sync covers all its networks: none of them may scan or loop per row.
"""

from contextlib import contextmanager

import pytest
from support.core_world import World, dhcp_report
from support.statements import of_verbs, recorded

from neutrino.lib.naming import tap_name


@pytest.fixture
def world(sqlite_database):
    return World(sqlite_database, agent_down_time=10)


@contextmanager
def statements(db):
    """The SELECTs, INSERTs, UPDATEs and DELETEs run in the block (read after it)."""
    with recorded(db.engine) as seen:
        yield seen
    seen[:] = of_verbs(seen, "SELECT", "INSERT", "UPDATE", "DELETE")


def test_heartbeat_of_a_live_agent_is_one_update(world):
    world.dhcp_agent("hostA")
    world.clock.advance(3)
    with statements(world.db) as seen:
        assert world.core.agents.report_state(dhcp_report("hostA")) == "alive"
    assert len(seen) == 1
    assert seen[0].lstrip().upper().startswith("UPDATE AGENTS")


def test_idle_ha_tick_is_one_query(world):
    world.dhcp_agent("hostA")
    world.network()
    world.clock.advance(3)
    world.heartbeat("hostA")
    with statements(world.db) as seen:
        assert world.core.dhcp_scheduling.reschedule_networks_from_down_agents() == 0
    assert len(seen) == 1 and "heartbeat_timestamp" in seen[0]


def sync_cost(world, host, networks, ports_each):
    """Grow the agent's share to `networks` networks; what does its full sync cost?"""
    while len(world.core.dhcp_plugin.get_active_networks_info(host)) < networks:
        net = world.network()
        for _ in range(ports_each):
            world.port(net["id"], **{"binding:host_id": host})
    with statements(world.db) as seen:
        infos = world.core.dhcp_plugin.get_active_networks_info(host)
    assert len(infos) == networks
    assert sum(len(i["ports"]) for i in infos) == networks * ports_each
    return len(seen)


def test_agent_sync_costs_the_same_for_many_networks(world):
    world.dhcp_agent("hostA")
    small = sync_cost(world, "hostA", 1, 3)
    large = sync_cost(world, "hostA", 15, 3)
    assert large == small


def l2_sync_cost(world, host, net, ports):
    world.l2_agent(host)
    made = [world.port(net, **{"binding:host_id": host}) for _ in range(ports)]
    with statements(world.db) as seen:
        assert len(world.core.l2_plugin.get_ports_on_host(host)) == ports
    with statements(world.db) as one:
        details = world.core.l2_plugin.get_device_details(host, tap_name(made[-1]["id"]))
    assert details["port_id"] == made[-1]["id"]
    return len(seen), len(one)


def test_l2_sync_costs_the_same_for_many_ports(world):
    net = world.network(dhcp=False)["id"]
    small, small_one = l2_sync_cost(world, "small", net, 1)
    large, large_one = l2_sync_cost(world, "large", net, 20)
    assert large == small
    assert large_one == small_one


def _full_ports(world, count):
    """`count` ports with everything a port's dict shows from other tables: two addresses,
    DHCP options of both versions, address pairs and tags."""
    net = world.network()
    subnets = [*net["subnets"], world.subnet(net["id"])["id"]]
    made = []
    for i in range(count):
        port = world.port(net["id"], fixed_ips=[{"subnet_id": s} for s in subnets[::-1]],
                          extra_dhcp_opts=[
            {"opt_name": "tftp-server", "opt_value": f"10.9.9.{i}", "ip_version": 4},
            {"opt_name": "bootfile-name", "opt_value": "pxe", "ip_version": 6},
            {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4}],
            allowed_address_pairs=[{"ip_address": "10.200.0.9"},
                                   {"ip_address": "10.200.0.0/24"}])
        world.core.tags.replace(world.admin, "ports", port["id"], [f"t{i % 2}", "z", "a"])
        made.append(port["id"])
    return net["id"], made


def _orm_views(world, ids):
    from neutrino.core.resources import views
    from neutrino.db import models
    with world.db.session(readonly=True) as session:
        return {i: views.port_dict(session.get(models.Port, i), world.settings.dns_domain)
                for i in ids}


@pytest.mark.db
def test_port_reads_from_rows_show_what_the_orm_view_shows(database):
    """On every backend: the union of the part tables is typed per column."""
    from neutrino.core.resources.paging import PageRequest
    world = World(database)
    net, ids = _full_ports(world, 5)
    expected = _orm_views(world, ids)
    assert all(len(p["fixed_ips"]) == 2 and len(p["extra_dhcp_opts"]) == 3
               and len(p["allowed_address_pairs"]) == 2 and len(p["tags"]) == 3
               for p in expected.values())
    ports = world.core.ports
    whole = ports.list_page(world.admin, {"network_id": [net]}, PageRequest())
    assert {p["id"]: p for p in whole.items} == expected
    paged, marker = [], None
    while True:  # pages of 2: the parts read by id
        page = ports.list_page(world.admin, {"network_id": [net]},
                               PageRequest(limit=2, marker=marker))
        paged += page.items
        if not page.has_after:
            break
        marker = page.items[-1]["id"]
    assert {p["id"]: p for p in paged} == expected
    assert all(ports.get(world.admin, i) == expected[i] for i in ids)
    # Filters whose own subqueries read the part tables: the parts still all come.
    tagged = ports.list_page(world.admin, {"tags": ["t0"]}, PageRequest())
    assert {p["id"]: p for p in tagged.items} == {i: expected[i] for i in ids[::2]}
    ip = expected[ids[1]]["fixed_ips"][1]["ip_address"]
    by_ip = ports.list_page(world.admin, {"fixed_ips": [{"ip_address": ip}]}, PageRequest())
    assert by_ip.items == [expected[ids[1]]]


def test_a_port_list_costs_the_same_statements_for_many_ports(world):
    from neutrino.core.resources.paging import PageRequest

    def cost(count):
        net, _ = _full_ports(world, count)
        with statements(world.db) as seen:
            found = world.core.ports.list_page(world.admin, {"network_id": [net]},
                                               PageRequest())
        assert len(found.items) == count
        return len(seen)
    # The ports' keys, the rows of those not remembered (all: they are new), their
    # addresses, then their options, pairs and tags in one query.
    assert cost(2) == cost(30) == 4


@pytest.mark.db
def test_a_column_only_update_shows_what_the_orm_view_shows(database):
    """A rename and the like is written without a Port object: on every backend its
    answer is the view the ORM reads back, parts (addresses, options, pairs, tags)
    included, and the stored row is what the answer says."""
    world = World(database)
    _, ids = _full_ports(world, 2)
    before = _orm_views(world, ids)
    world.clock.advance(7)
    changes = [{"name": "renamed", "description": "d"},
               {"admin_state_up": False, "device_id": "vm-1", "device_owner": "compute:nova",
                "dns_name": "host-a", "status": "ACTIVE"}]
    answers = {i: world.core.ports.update(world.admin, i, body)
               for i, body in zip(ids, changes, strict=True)}
    stored = _orm_views(world, ids)
    assert answers == stored
    for i, body in zip(ids, changes, strict=True):
        assert {k: stored[i][k] for k in body} == body
        assert stored[i]["revision_number"] == before[i]["revision_number"] + 1
        assert stored[i]["updated_at"] != before[i]["updated_at"]
        unchanged = set(before[i]) - set(body) - {"revision_number", "updated_at",
                                                   "dns_assignment"}
        assert {k: stored[i][k] for k in unchanged} == {k: before[i][k] for k in unchanged}


def test_a_port_rename_is_one_update_and_reads_no_orm_collections(world):
    net = world.network()
    port = world.port(net["id"])
    with statements(world.db) as seen:
        world.core.ports.update(world.admin, port["id"], {"name": "x"})
    writes = [s for s in seen if not s.lstrip().upper().startswith("SELECT")]
    assert len(writes) == 1 and writes[0].lstrip().upper().startswith("UPDATE PORTS")
    # The row, its addresses, its options, pairs and tags in one query: not a query per
    # relationship as loading a Port object does.
    assert len(seen) == 4


def test_a_rename_of_a_port_whose_binding_failed_binds_it_again(world):
    net = world.network(dhcp=False)
    port = world.port(net["id"], **{"binding:host_id": "hostE"})
    assert port["binding:vif_type"] == "binding_failed"
    world.l2_agent("hostE")
    renamed = world.core.ports.update(world.admin, port["id"], {"name": "again"})
    assert (renamed["name"], renamed["binding:vif_type"]) == ("again", "tap")


def test_a_port_create_reads_its_network_once(world):
    """The policy check (the API's `authorize`) and the create share one read."""
    net = world.network()
    checked = []
    with statements(world.db) as seen:
        world.core.ports.create_bulk(world.admin, [{"network_id": net["id"],
                                                   "project_id": "proj"}],
                                     authorize=checked.append)
    assert checked == [{net["id"]: {"id": net["id"], "project_id": "proj",
                                    "tenant_id": "proj", "shared": False,
                                    "router:external": False}}]
    # Who owns and shares it (the scheduler's own read of its zone hints aside).
    owner_reads = [s for s in seen if "FROM networks" in s and "networks.project_id" in s]
    assert len(owner_reads) == 1, owner_reads
