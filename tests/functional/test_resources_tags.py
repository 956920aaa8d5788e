"""Tags in the database, on every backend: the four filters in SQL, exact comparison (no
case folding or pad-space equality on MariaDB), cascades and concurrent writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text
from support.core_world import World

from neutrino.lib import exceptions as exc

NAMES = {"none": [], "red": ["red"], "blue": ["blue"], "both": ["red", "blue"],
         "all": ["red", "blue", "green"], "Red": ["Red"], "red ": ["red "]}


@pytest.fixture
def world(database):
    return World(database)


def _tagged(world, collection, make):
    ids = {}
    for name, tags in NAMES.items():
        ids[name] = make(name)
        world.core.tags.replace(world.admin, collection, ids[name], tags)
    return ids


@pytest.mark.parametrize("collection", ["networks", "subnets", "ports"])
def test_tag_filters_on_every_backend(world, collection):
    net = world.network(dhcp=None)["id"]
    makers = {
        "networks": lambda name: world.network(dhcp=None, name=name)["id"],
        "subnets": lambda name: world.subnet(net, name=name)["id"],
        "ports": lambda name: world.port(net, name=name)["id"],
    }
    ids = _tagged(world, collection, makers[collection])
    service = getattr(world.core, collection)
    by_id = {v: k for k, v in ids.items()}

    def names(**filters):
        found = service.list(world.admin, {k.replace("_", "-"): v for k, v in filters.items()})
        return sorted(by_id[i["id"]] for i in found if i["id"] in by_id)

    assert names(tags=["red"]) == ["all", "both", "red"]
    assert names(tags=["red,blue"]) == ["all", "both"]
    assert names(tags=["Red"]) == ["Red"]
    assert names(tags=["red "]) == ["red "]
    assert names(tags_any=["blue,green"]) == ["all", "blue", "both"]
    assert names(not_tags=["red,blue"]) == ["Red", "blue", "none", "red", "red "]
    assert names(not_tags_any=["red,green"]) == ["Red", "blue", "none", "red "]
    assert names(tags=["red"], not_tags_any=["green"]) == ["both", "red"]
    shown = service.get(world.admin, ids["all"])
    assert shown["tags"] == ["blue", "green", "red"]


def test_exact_tags_are_distinct_in_the_unique_constraint(world):
    net = world.network(dhcp=None)["id"]
    wanted = ["a", "A", "a ", "á"]
    assert world.core.tags.replace(world.admin, "networks", net, wanted) == sorted(wanted)
    world.core.tags.remove(world.admin, "networks", net, "a")
    assert world.core.tags.list(world.admin, "networks", net) == sorted(["A", "a ", "á"])
    with pytest.raises(exc.TagNotFound):
        world.core.tags.remove(world.admin, "networks", net, "a")


def test_tags_go_with_their_resources(world):
    net = world.network()
    subnet_id = net["subnets"][0]
    port_id = world.port(net["id"])["id"]
    for collection, id_ in (("networks", net["id"]), ("subnets", subnet_id),
                            ("ports", port_id)):
        world.core.tags.add(world.admin, collection, id_, ["x"])
    world.core.ports.delete(world.admin, port_id)
    world.core.networks.delete(world.admin, net["id"])
    remaining = world.db.transaction(
        lambda s: s.execute(text("SELECT count(*) FROM tags")).scalar_one())
    assert remaining == 0


def test_concurrent_adds_of_one_tag_all_succeed_once(world):
    net = world.network(dhcp=None)
    errors: list[BaseException] = []

    def add(tag):
        try:
            world.core.tags.add(world.admin, "networks", net["id"], [tag, "same"])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=add, args=(f"t{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert world.core.tags.list(world.admin, "networks", net["id"]) == sorted(
        ["same", *(f"t{i}" for i in range(6))])
    # Each call changed the tags: one revision each.
    shown = world.core.networks.get(world.admin, net["id"])
    assert shown["revision_number"] == net["revision_number"] + 6
