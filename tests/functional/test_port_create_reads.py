"""What a port create reads before its inserts (issue 17): its network, its project's own
port quota and its project's default security group in one statement when the project
is known without the network; every decision they feed stays the one separate reads
gave (quota limits set by an admin, the default group made once, a project taken from
the network)."""

from __future__ import annotations

import pytest
from support.core_world import World
from support.statements import of_verbs, recorded

from neutrino.conf.settings import QuotaSettings
from neutrino.core.context import Context
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

MEMBER = Context(user_id="u", project_id="proj", roles=("member",))


def statements_of(world: World, act):  # noqa: ANN001, ANN201
    with recorded(world.db.engine) as seen:
        result = act()
    return result, of_verbs(seen, "SELECT", "INSERT", "UPDATE")


def reads_before_insert(statements: list[str]) -> list[str]:
    first_insert = next(i for i, s in enumerate(statements)
                        if s.startswith("INSERT INTO ports "))
    return [s for s in statements[:first_insert] if s.startswith("SELECT")]


@pytest.mark.parametrize("quota", [-1, 500])
def test_one_read_gives_the_network_the_quota_and_the_default_group(database: Database,
                                                                     quota: int) -> None:
    world = World(database, quotas=QuotaSettings(port=quota))
    net = world.network(project_id="proj")
    first = world.core.ports.create(MEMBER, {"network_id": net["id"]})  # makes the group
    port, statements = statements_of(
        world, lambda: world.core.ports.create(MEMBER, {"network_id": net["id"]}))
    assert port["security_groups"] == first["security_groups"] != []
    reads = reads_before_insert(statements)
    assert reads[0].startswith("SELECT networks.id"), reads
    assert "quotas" in reads[0] and "defaultsecuritygroups" in reads[0], reads[0]
    if quota < 0:
        assert len(reads) == 1, reads  # unlimited: no lock, no count
    else:
        # The lock, then the limit again under it with the count (quotas.enforce).
        assert len(reads) == 2 and "count(*)" in reads[1], reads
        assert any(s.startswith("INSERT INTO quotausages") for s in statements)
    assert not [s for s in statements if s.startswith("SELECT defaultsecuritygroups")]


def test_a_projects_own_limit_read_with_the_network_is_enforced(database: Database) -> None:
    world = World(database, quotas=QuotaSettings(port=-1))
    net = world.network(project_id="proj")
    world.core.quotas.update("proj", {"port": 2})
    for _ in range(2):
        world.core.ports.create(MEMBER, {"network_id": net["id"]})
    with pytest.raises(exc.OverQuota):
        world.core.ports.create(MEMBER, {"network_id": net["id"]})
    # An own limit of -1 lifts the default one.
    strict = World(database, quotas=QuotaSettings(port=1))
    strict.core.quotas.update("proj", {"port": -1})
    _, statements = statements_of(strict, lambda: [
        strict.core.ports.create(MEMBER, {"network_id": net["id"]}) for _ in range(2)])
    assert not any(s.startswith("INSERT INTO quotausages") for s in statements)


def test_a_bulk_create_makes_the_default_group_once(database: Database) -> None:
    world = World(database)
    net = world.network(project_id="fresh")
    member = Context(user_id="u", project_id="fresh", roles=("member",))
    made = world.core.ports.create_bulk(member, [{"network_id": net["id"]}] * 3)
    groups = {tuple(p["security_groups"]) for p in made}
    assert len(groups) == 1 and len(next(iter(groups))) == 1
    assert [g["name"] for g in world.core.security_groups.list(member)] == ["default"]


def test_a_project_taken_from_the_network_gets_its_own_group_and_quota(
        database: Database) -> None:
    # The server's own context names no project: the port is the network's project's, so
    # nothing is read ahead for another project.
    world = World(database, quotas=QuotaSettings(port=-1))
    net = world.network(project_id="proj")
    world.core.quotas.update("proj", {"port": 1})
    owner = world.core.ports.create(MEMBER, {"network_id": net["id"]})
    with pytest.raises(exc.OverQuota):
        world.core.ports.create(Context.admin(), {"network_id": net["id"]})
    world.core.quotas.update("proj", {"port": 5})
    port = world.core.ports.create(Context.admin(), {"network_id": net["id"]})
    assert port["project_id"] == "proj"
    assert port["security_groups"] == owner["security_groups"]


def test_an_admin_bulk_create_for_two_projects_reads_each(database: Database) -> None:
    world = World(database, quotas=QuotaSettings(port=-1))
    net = world.network(project_id="proj", shared=True)
    world.core.quotas.update("other", {"port": 0})
    with pytest.raises(exc.OverQuota):
        world.core.ports.create_bulk(world.admin, [
            {"network_id": net["id"], "project_id": "proj"},
            {"network_id": net["id"], "project_id": "other"}])
    made = world.core.ports.create_bulk(world.admin, [
        {"network_id": net["id"], "project_id": "proj"},
        {"network_id": net["id"], "project_id": "third"}])
    assert [p["project_id"] for p in made] == ["proj", "third"]
    assert made[0]["security_groups"] != made[1]["security_groups"]
