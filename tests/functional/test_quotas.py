"""Quotas in core on every backend: limits set and read back, usage counted in SQL,
enforcement inside creates (bulk included), DHCP ports over RPC exempt but counted, and
concurrent creators on two server replicas never taking a project above its limit."""

from __future__ import annotations

from typing import Any

import pytest
from support.core_world import World, settings
from support.race import race

from neutrino.conf.settings import QuotaSettings
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

MEMBER = Context(user_id="u", project_id="proj", roles=("member",))


def test_limits_set_read_and_deleted(database: Database) -> None:
    world = World(database, quotas=QuotaSettings(network=3, subnet=4, port=5))
    q = world.core.quotas
    groups = {"security_group": 10, "security_group_rule": 100}
    assert q.get("proj") == {"network": 3, "subnet": 4, "port": 5, **groups}
    assert q.update("proj", {"port": 9, "network": -1}) == {
        "network": -1, "subnet": 4, "port": 9, **groups}
    # Setting it again updates the row, it does not add one.
    assert q.update("proj", {"port": 10})["port"] == 10
    assert q.list() == [("proj", {"network": -1, "subnet": 4, "port": 10, **groups})]
    assert q.get("other") == {"network": 3, "subnet": 4, "port": 5, **groups}
    q.delete("proj")
    assert q.list() == []
    with pytest.raises(exc.TenantQuotaNotFound):
        q.delete("proj")


def test_details_count_the_projects_rows(database: Database) -> None:
    world = World(database)
    net = world.network()  # one network, one subnet, in "proj"
    world.port(net["id"])
    world.port(net["id"])
    world.core.networks.create(world.admin, {"project_id": "other"})
    details = world.core.quotas.details("proj")
    # The project's first port made its default security group, with its four rules.
    assert {k: v["used"] for k, v in details.items()} == {
        "network": 1, "subnet": 1, "port": 2, "security_group": 1, "security_group_rule": 4}
    assert all(v["reserved"] == 0 for v in details.values())


def test_creates_stop_at_the_limit(database: Database) -> None:
    world = World(database, quotas=QuotaSettings(network=2, subnet=1, port=2))
    net = world.network()
    with pytest.raises(exc.OverQuota) as caught:
        world.subnet(net["id"])
    assert str(caught.value) == "Quota exceeded for resources: ['subnet']."
    world.core.networks.create(MEMBER, {"name": "second"})
    with pytest.raises(exc.OverQuota):
        world.core.networks.create(MEMBER, {"name": "third"})
    # A bulk create counts every item, and is refused whole.
    with pytest.raises(exc.OverQuota):
        world.core.ports.create_bulk(MEMBER, [{"network_id": net["id"]}] * 3)
    assert world.core.ports.list(world.admin) == []
    world.core.ports.create_bulk(MEMBER, [{"network_id": net["id"]}] * 2)
    with pytest.raises(exc.OverQuota):
        world.port(net["id"])
    # Deleting frees room; raising the limit does too.
    world.core.ports.delete(world.admin, world.core.ports.list(world.admin)[0]["id"])
    world.port(net["id"])
    world.core.quotas.update("proj", {"port": -1})
    world.port(net["id"])
    world.core.quotas.update("proj", {"port": 0})
    with pytest.raises(exc.OverQuota):
        world.port(net["id"])


def test_an_admin_bulk_create_counts_each_project(database: Database) -> None:
    world = World(database, quotas=QuotaSettings(network=1))
    with pytest.raises(exc.OverQuota):
        world.core.networks.create_bulk(world.admin, [
            {"project_id": "a"}, {"project_id": "b"}, {"project_id": "a"}])
    created = world.core.networks.create_bulk(world.admin, [
        {"project_id": "a"}, {"project_id": "b"}])
    assert sorted(n["project_id"] for n in created) == ["a", "b"]


def test_dhcp_ports_over_rpc_are_not_limited_but_count(database: Database) -> None:
    """Neutron's DHCP RPC creates its port through the plugin, past the API's quota
    check; a project at its port limit must not lose DHCP on a new network."""
    world = World(database, quotas=QuotaSettings(port=1))
    world.dhcp_agent("hostA")
    net = world.network()
    world.port(net["id"])
    port = world.core.dhcp_plugin.create_dhcp_port("hostA", {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": s} for s in net["subnets"]]}})
    assert port["project_id"] == "proj"
    assert world.core.quotas.details("proj")["port"]["used"] == 2


# --- concurrency ----------------------------------------------------------------------

CREATORS = 8
LIMIT = 5


def _replicas(db: Database) -> list[Any]:
    """Two server replicas: their own services (and engines) over one database."""
    second = Database(db.settings)
    quota = QuotaSettings(network=LIMIT, subnet=LIMIT, port=LIMIT)
    return [build_services(d, settings(quotas=quota, tenant_network_type="local"),
                           RecordingNotifier()) for d in (db, second)]


@pytest.mark.parametrize("resource", ["port", "network", "subnet"])
def test_concurrent_creators_on_two_replicas_never_pass_the_limit(
        server_database: Database, resource: str) -> None:
    replicas = _replicas(server_database)
    admin = Context.admin()
    net = replicas[0].networks.create(admin, {"project_id": "proj"})
    replicas[0].subnets.create(admin, {"network_id": net["id"], "ip_version": 4,
                                       "cidr": "10.0.0.0/24", "project_id": "proj"})
    existing = {"network": 1, "subnet": 1, "port": 0}[resource]

    def create(i: int) -> Any:
        services = replicas[i % 2]
        if resource == "port":
            return services.ports.create(MEMBER, {"network_id": net["id"]})
        if resource == "network":
            return services.networks.create(MEMBER, {"name": f"n{i}"})
        return services.subnets.create(MEMBER, {"network_id": net["id"], "ip_version": 4,
                                                "cidr": f"10.1.{i}.0/24"})
    try:
        created, errors = race(CREATORS, create)
        assert all(isinstance(e, exc.OverQuota) for e in errors), errors
        assert len(created) == LIMIT - existing
        assert len(errors) == CREATORS - (LIMIT - existing)
        used = replicas[1].quotas.details("proj")[resource]["used"]
        assert used == LIMIT
    finally:
        for services in replicas[1:]:
            services.quotas.env.tx.db.dispose()
