"""Port views remembered by id, revision and creation (issue 17): every way a port's shown
attributes change also moves its revision, so a list or show after any of them equals a
fresh read, and a list of ports read before reads only those three columns of them."""

import pytest
from support.core_world import World
from support.statements import of_verbs, recorded

from neutrino.core.resources.paging import PageRequest
from neutrino.core.services import ports as service_ports
from neutrino.lib.naming import tap_name


@pytest.fixture
def world(database):
    return World(database)


def listed(world, network_id):
    return world.core.ports.list_page(world.admin, {"network_id": [network_id]},
                                      PageRequest()).items


def fresh(world, network_id):
    # The ORM path, which no memo serves.
    return world.core.ports.list(world.admin, {"network_id": [network_id]})


def test_every_change_shows_after_the_port_was_remembered(world):
    world.dhcp_agent("hostA")
    world.l2_agent("hostA")
    net = world.network()
    nid = net["id"]
    port = world.port(nid, name="vm1", device_owner="compute:nova")
    pid = port["id"]
    dhcp = world.core.dhcp_plugin.create_dhcp_port("hostA", {"port": {
        "network_id": nid, "fixed_ips": [{"subnet_id": net["subnets"][0]}]}})
    second = world.subnet(nid, cidr="10.9.0.0/24")
    world.core.ports.update(world.admin, dhcp["id"], {"fixed_ips": [
        {"subnet_id": net["subnets"][0]}, {"subnet_id": second["id"]}]})

    def agrees():
        assert listed(world, nid) == fresh(world, nid)
        assert world.core.ports.get(world.admin, pid) == \
            next(p for p in fresh(world, nid) if p["id"] == pid)

    world.clock.advance(30)  # rows last written this long ago are remembered
    agrees()
    assert len(world.core.ports.memo) >= 2
    changes = [
        lambda: world.core.ports.update(world.admin, pid, {"name": "renamed"}),
        lambda: world.core.tags.add(world.admin, "ports", pid, ["blue"]),
        lambda: world.core.ports.update(world.admin, pid, {"fixed_ips": [
            {"subnet_id": net["subnets"][0]}, {"subnet_id": second["id"]}]}),
        lambda: world.core.ports.update(world.admin, pid, {"extra_dhcp_opts": [
            {"opt_name": "mtu", "opt_value": "1400"}]}),
        lambda: world.core.ports.update(world.admin, pid, {"allowed_address_pairs": [
            {"ip_address": "10.9.0.200"}]}),
        lambda: world.core.ports.update(world.admin, pid, {"binding:host_id": "hostA"}),
        lambda: (world.core.l2_plugin.update_device_up("hostA", tap_name(pid)),
                 world.core.dhcp_plugin.dhcp_ready_on_ports([pid])),
        lambda: world.core.tags.remove(world.admin, "ports", pid, "blue"),
        lambda: world.core.ports.update(world.admin, pid, {"fixed_ips": [
            {"subnet_id": net["subnets"][0]}]}),
        # The DHCP port loses its address on the subnet deleted under it.
        lambda: world.core.subnets.delete(world.admin, second["id"]),
    ]
    for step, change in enumerate(changes):
        world.clock.advance(30)
        before = {p["id"]: p for p in listed(world, nid)}
        change()
        agrees()
        after = {p["id"]: p for p in listed(world, nid)}
        assert after != before, step
    shown = {p["id"]: p for p in listed(world, nid)}
    assert shown[pid]["status"] == "ACTIVE"
    assert [ip["subnet_id"] for ip in shown[dhcp["id"]]["fixed_ips"]] == [net["subnets"][0]]


def selects_of(world, read):
    """What `read()` returns, and the SELECTs it ran."""
    with recorded(world.db.engine) as statements:
        result = read()
    return result, of_verbs(statements, "SELECT")


def test_a_list_read_before_reads_only_the_ports_table(world):
    net = world.network()
    for _ in range(5):
        world.port(net["id"])
    world.clock.advance(30)
    first = listed(world, net["id"])
    again, selects = selects_of(world, lambda: listed(world, net["id"]))
    assert again == first
    assert len(selects) == 1, selects
    assert "ipallocations" not in selects[0]


def test_a_port_changed_a_moment_ago_is_remembered_at_once(world):
    # Made long ago: a change moves its revision, so its new row is remembered right away;
    # a port made a moment ago is not (see the next test).
    net = world.network()
    old = world.port(net["id"])
    world.clock.advance(30)
    world.core.ports.update(world.admin, old["id"], {"name": "renamed"})
    new = world.port(net["id"])
    assert listed(world, net["id"]) == fresh(world, net["id"])
    again, selects = selects_of(world, lambda: listed(world, net["id"]))
    assert again == fresh(world, net["id"])
    assert {p["id"]: p["name"] for p in again} == {old["id"]: "renamed", new["id"]: ""}
    assert len(world.core.ports.memo) == 1  # the renamed port's view
    # The ports' keys, then the new port alone: its row, its addresses, its options, pairs
    # and tags, by id, not joined to the whole list.
    assert len(selects) == 4, selects
    assert selects[0].startswith("SELECT ports.id, ports.revision_number, ports.created_at "
                                 "AS key_created_at FROM ports"), selects
    assert "WHERE ports.id IN" in selects[1], selects
    assert all("part_" in s for s in selects[2:]), selects


def test_a_port_made_again_within_its_second_is_not_mistaken_for_the_old_one(world):
    # Timestamps are whole seconds: deleted and made again with the same id, MAC and
    # attributes, the port's row is the old row; only its address differs.
    net = world.network()
    subnet = net["subnets"][0]
    body = {"id": "0b7e3c1a-2f4d-4e5b-9c6d-7e8f9a0b1c2d", "mac_address": "fa:16:3e:00:00:01"}
    first = world.port(net["id"], fixed_ips=[{"subnet_id": subnet,
                                              "ip_address": "10.0.1.10"}], **body)
    assert listed(world, net["id"]) == [first]
    world.core.ports.delete(world.admin, body["id"])
    again = world.port(net["id"], fixed_ips=[{"subnet_id": subnet,
                                              "ip_address": "10.0.1.20"}], **body)
    assert again["created_at"] == first["created_at"]
    world.clock.advance(30)
    assert [p["fixed_ips"] for p in listed(world, net["id"])] == [again["fixed_ips"]]
    assert world.core.ports.get(world.admin, body["id"])["fixed_ips"] == again["fixed_ips"]


def test_a_port_stamped_to_the_microsecond_is_remembered_at_once_where_it_is_kept(world):
    # SQLite and PostgreSQL keep the fraction of a second, so a new port's key is its own;
    # MariaDB's DATETIME drops it, so a new port waits out the margin there.
    world.clock.advance(0.25)
    net = world.network()
    port = world.port(net["id"])
    assert listed(world, net["id"]) == [port]
    again, selects = selects_of(world, lambda: listed(world, net["id"]))
    assert again == [port]
    if world.db.backend in ("mysql", "mariadb"):
        assert len(world.core.ports.memo) == 0
        assert len(selects) == 4, selects
    else:
        assert len(world.core.ports.memo) == 1
        assert len(selects) == 1, selects


def test_a_port_made_again_a_microsecond_later_is_not_mistaken_for_the_old_one(world):
    world.clock.advance(0.25)
    net = world.network()
    subnet = net["subnets"][0]
    body = {"id": "5c0a1d7e-3b2f-4c6d-8e9f-0a1b2c3d4e5f", "mac_address": "fa:16:3e:00:00:02"}
    world.port(net["id"], fixed_ips=[{"subnet_id": subnet, "ip_address": "10.0.1.10"}],
               **body)
    listed(world, net["id"])
    world.core.ports.delete(world.admin, body["id"])
    world.clock.advance(0.000001)
    again = world.port(net["id"], fixed_ips=[{"subnet_id": subnet,
                                              "ip_address": "10.0.1.20"}], **body)
    assert [p["fixed_ips"] for p in listed(world, net["id"])] == [again["fixed_ips"]]
    assert world.core.ports.get(world.admin, body["id"])["fixed_ips"] == again["fixed_ips"]


def test_a_remembered_port_is_changed_and_deleted_without_reading_its_other_rows(world):
    # A rename and a delete lock the port's row; a view remembered under that row's key
    # is the port's, so its addresses, options, pairs and tags are not read again.
    world.dhcp_agent("hostA")
    net = world.network()
    nid, subnet = net["id"], net["subnets"][0]
    second = world.subnet(nid, cidr="10.9.0.0/24")
    port = world.port(nid, fixed_ips=[{"subnet_id": subnet}, {"subnet_id": second["id"]}],
                      extra_dhcp_opts=[{"opt_name": "mtu", "opt_value": "1400"}],
                      allowed_address_pairs=[{"ip_address": "10.9.0.200"}])
    pid = port["id"]
    world.core.tags.add(world.admin, "ports", pid, ["blue"])
    world.clock.advance(30)
    world.core.ports.get(world.admin, pid)  # remembered
    remembered = len(world.core.ports.memo)

    renamed, selects = selects_of(
        world, lambda: world.core.ports.update(world.admin, pid, {"name": "renamed"}))
    assert renamed == world.core.ports.list(world.admin, {"id": [pid]})[0]  # the ORM's
    assert renamed["name"] == "renamed" and len(renamed["fixed_ips"]) == 2
    assert renamed["tags"] == ["blue"] and renamed["extra_dhcp_opts"][0]["opt_value"] == "1400"
    assert not [s for s in selects if "part_" in s], selects
    assert len(selects) == 1, selects  # the locked row
    # The renamed port's view is remembered once committed, not the one before.
    assert len(world.core.ports.memo) == remembered + 1
    shown, selects = selects_of(world, lambda: world.core.ports.get(world.admin, pid))
    assert shown == renamed and len(selects) == 1, selects

    world.forget_casts()
    _, selects = selects_of(world, lambda: world.core.ports.delete(world.admin, pid))
    assert not [s for s in selects if "part_" in s], selects
    [(host, _, payload)] = world.casts("port_delete_end")
    assert host == "hostA"
    assert payload == {"port_id": pid, "network_id": nid, "fixed_ips": renamed["fixed_ips"]}


def test_a_port_not_remembered_is_changed_from_its_rows(world):
    net = world.network()
    port = world.port(net["id"], extra_dhcp_opts=[{"opt_name": "mtu", "opt_value": "1400"}])
    world.clock.advance(30)
    renamed, selects = selects_of(
        world, lambda: world.core.ports.update(world.admin, port["id"], {"name": "x"}))
    assert renamed == world.core.ports.list(world.admin, {"id": [port["id"]]})[0]
    assert renamed["extra_dhcp_opts"] == port["extra_dhcp_opts"]
    assert len([s for s in selects if "part_" in s]) == 2, selects
    assert len(world.core.ports.memo) == 1  # the new row's view, once committed


def test_an_update_rolled_back_is_not_remembered(world, monkeypatch):
    # Its new row never committed: a later change takes the same revision number.
    net = world.network()
    port = world.port(net["id"])
    world.clock.advance(30)

    def fail(*args):  # noqa: ANN002 - after the UPDATE, inside the transaction
        raise RuntimeError("broker gone")

    monkeypatch.setattr(service_ports, "tell_dhcp_agents", fail)
    with pytest.raises(RuntimeError):
        world.core.ports.update(world.admin, port["id"], {"name": "lost"})
    monkeypatch.undo()
    assert len(world.core.ports.memo) == 0
    kept = world.core.ports.update(world.admin, port["id"], {"name": "kept"})
    assert kept["revision_number"] == port["revision_number"] + 1
    assert world.core.ports.get(world.admin, port["id"])["name"] == "kept"


def test_a_port_made_is_remembered_by_its_create_where_its_stamp_is_kept(world):
    # Its view is the create's answer, under the key its committed row is read by: a list
    # that follows reads the keys only, a delete only the locked row. Not on MariaDB,
    # whose whole seconds do not tell two lives of a port apart.
    world.dhcp_agent("hostA")
    world.clock.advance(0.25)
    net = world.network()
    nid = net["id"]
    second = world.subnet(nid, cidr="10.9.0.0/24")
    made = [world.port(nid, fixed_ips=[{"subnet_id": net["subnets"][0]},
                                       {"subnet_id": second["id"]}],
                       extra_dhcp_opts=[{"opt_name": "mtu", "opt_value": "1400"}]),
            world.port(nid, device_owner="compute:nova")]
    kept = world.db.backend not in ("mysql", "mariadb")
    assert len(world.core.ports.memo) == (2 if kept else 0)
    shown, selects = selects_of(world, lambda: listed(world, nid))
    assert shown == fresh(world, nid) == sorted(made, key=lambda p: p["id"])
    assert len(selects) == (1 if kept else 4), selects
    world.forget_casts()
    _, selects = selects_of(world, lambda: world.core.ports.delete(world.admin, made[0]["id"]))
    assert bool([s for s in selects if "part_" in s]) is not kept, selects
    [(_, _, payload)] = world.casts("port_delete_end")
    assert payload["fixed_ips"] == made[0]["fixed_ips"]


def test_a_create_rolled_back_is_not_remembered(world, monkeypatch):
    world.clock.advance(0.25)
    net = world.network()

    def fail(*args):  # noqa: ANN002 - inside the create's transaction, after the inserts
        raise RuntimeError("broker gone")

    monkeypatch.setattr(service_ports, "record_and_bump", fail)
    with pytest.raises(RuntimeError):
        world.port(net["id"])
    assert len(world.core.ports.memo) == 0
