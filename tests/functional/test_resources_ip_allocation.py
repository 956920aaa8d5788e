"""IP allocation found in the database (the ipallocations (subnet_id, ip_offset) index):
lowest free address first, holes reused, pools in order, full pools, the cost per port
independent of how many addresses are taken, and the migration that fills offsets of
existing rows. On every backend."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import func, insert, select, text
from support.statements import recorded

from neutrino.conf.settings import CoreSettings
from neutrino.core import dbutil
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.resources import ipam, ports
from neutrino.core.services import Services, build_services
from neutrino.db import models
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

ADMIN = Context.admin()


@pytest.fixture
def res(database: Database) -> Services:
    return _services(database, CoreSettings(tenant_network_type="local"))


def _net(res: Services, **subnet: object) -> tuple[str, str]:
    net = res.networks.create(ADMIN, {"name": "n", "tenant_id": "t"})
    body = {"network_id": net["id"], "ip_version": 4, "cidr": "10.0.0.0/24", "tenant_id": "t"}
    body.update(subnet)
    return net["id"], res.subnets.create(ADMIN, body)["id"]


def _port(res: Services, net_id: str, **body: object) -> dict:
    return res.ports.create(ADMIN, {"network_id": net_id, "tenant_id": "t", **body})


def _ip(port: dict) -> str:
    return port["fixed_ips"][0]["ip_address"]


def test_holes_are_filled_lowest_first(res: Services) -> None:
    net_id, _ = _net(res)
    made = [_port(res, net_id) for _ in range(6)]
    assert [_ip(p) for p in made] == [f"10.0.0.{i}" for i in range(2, 8)]
    res.ports.delete(ADMIN, made[3]["id"])  # .5
    res.ports.delete(ADMIN, made[1]["id"])  # .3
    assert [_ip(_port(res, net_id)) for _ in range(3)] == ["10.0.0.3", "10.0.0.5", "10.0.0.8"]
    res.ports.delete(ADMIN, made[0]["id"])  # .2, the pool's first address
    assert _ip(_port(res, net_id)) == "10.0.0.2"


def test_specific_address_then_automatic_ones_around_it(res: Services) -> None:
    net_id, subnet_id = _net(res)
    _port(res, net_id, fixed_ips=[{"subnet_id": subnet_id, "ip_address": "10.0.0.4"}])
    assert [_ip(_port(res, net_id)) for _ in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.5"]
    with pytest.raises(exc.IpAddressInUse):
        _port(res, net_id, fixed_ips=[{"subnet_id": subnet_id, "ip_address": "10.0.0.3"}])


def test_pools_in_order_and_a_full_subnet(res: Services) -> None:
    net_id, _ = _net(res, cidr="10.0.0.0/28", allocation_pools=[
        {"start": "10.0.0.10", "end": "10.0.0.11"}, {"start": "10.0.0.3", "end": "10.0.0.4"}])
    assert [_ip(_port(res, net_id)) for _ in range(4)] == \
        ["10.0.0.3", "10.0.0.4", "10.0.0.10", "10.0.0.11"]
    with pytest.raises(exc.IpAddressGenerationFailure):
        _port(res, net_id)


def test_updated_fixed_ips_take_the_lowest_free(res: Services) -> None:
    net_id, subnet_id = _net(res)
    first = _port(res, net_id)
    second = _port(res, net_id)
    res.ports.delete(ADMIN, first["id"])
    moved = res.ports.update(ADMIN, second["id"], {"fixed_ips": [{"subnet_id": subnet_id}] * 2})
    assert sorted(ip["ip_address"] for ip in moved["fixed_ips"]) == ["10.0.0.2", "10.0.0.3"]


def test_ipv6_stateful_addresses(res: Services) -> None:
    net_id, _ = _net(res, ip_version=6, cidr="fd00:1::/64",
                     ipv6_ra_mode="dhcpv6-stateful", ipv6_address_mode="dhcpv6-stateful")
    assert [_ip(_port(res, net_id)) for _ in range(3)] == \
        ["fd00:1::2", "fd00:1::3", "fd00:1::4"]


def test_statements_per_port_do_not_grow_with_the_subnet(res: Services,
                                                          database: Database) -> None:
    net_id, _ = _net(res, cidr="10.0.0.0/20")
    # The project's first port also makes its default security group: not what is measured.
    _port(res, net_id)
    with recorded(database.engine) as statements:
        def cost() -> int:
            statements.clear()
            _port(res, net_id)
            return len(statements)

        early = cost()
        for _ in range(60):
            _port(res, net_id)
        late = cost()
    assert late == early
    assert not any("SELECT ipallocations.ip_address FROM" in s for s in statements)


def test_a_hole_is_found_by_one_query_wherever_it_lies(res: Services,
                                                       database: Database) -> None:
    net_id, _ = _net(res, cidr="10.0.0.0/22")
    made = [_port(res, net_id) for _ in range(300)]
    with recorded(database.engine) as statements:
        def cost() -> tuple[str, int]:
            statements.clear()
            ip = _ip(_port(res, net_id))
            return ip, len(statements)

        _, packed = cost()  # no hole: the next address is one past the highest
        res.ports.delete(ADMIN, made[250]["id"])  # 10.0.0.252
        high = cost()
        res.ports.delete(ADMIN, made[5]["id"])  # 10.0.0.7
        low = cost()
    assert high == ("10.0.0.252", packed)
    assert low == ("10.0.0.7", packed)


def _losing_races(monkeypatch: pytest.MonkeyPatch, losses: int) -> list[str]:
    """The next `losses` automatic addresses are taken by another port just before this
    create inserts them (as a concurrent creator's commit would be seen); the addresses
    lost, in order."""
    lost: list[str] = []
    real = ports._insert_ip

    def racing_insert(session, port, subnet, ip, claim=False):  # type: ignore[no-untyped-def]
        if len(lost) < losses:
            lost.append(ip)
            winner = session.scalars(select(models.Port.id)
                                     .where(models.Port.id != port.id)).first()
            session.execute(insert(models.IPAllocation.__table__), {
                "ip_address": ip, "subnet_id": subnet.id, "port_id": winner,
                "network_id": port.network_id, "ip_offset": int(ip.rsplit(".", 1)[1])})
        return real(session, port, subnet, ip, claim)

    monkeypatch.setattr(ports, "_insert_ip", racing_insert)
    return lost


def test_a_lost_race_for_the_lowest_address_takes_the_next_one_found_in_sql(
        res: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    net_id, _ = _net(res)
    assert [_ip(_port(res, net_id)) for _ in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    read_all = []
    monkeypatch.setattr(ports, "_taken", lambda *a: read_all.append(a) or set())
    lost = _losing_races(monkeypatch, 1)
    assert _ip(_port(res, net_id)) == "10.0.0.6"
    assert lost == ["10.0.0.5"]
    assert read_all == []  # not every address read again


def test_racing_again_reads_every_address_and_spreads_out(
        res: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    net_id, _ = _net(res)
    assert [_ip(_port(res, net_id)) for _ in range(3)] == ["10.0.0.2", "10.0.0.3", "10.0.0.4"]
    taken = ports._taken
    read_all = []
    monkeypatch.setattr(ports, "_taken", lambda *a: read_all.append(a) or taken(*a))
    lost = _losing_races(monkeypatch, 2)
    got = _ip(_port(res, net_id))
    assert lost == ["10.0.0.5", "10.0.0.6"]
    assert len(read_all) == 1
    # One of the lowest few free addresses, at random, so racers stop picking the same one.
    free = [f"10.0.0.{i}" for i in range(7, 7 + ipam.SPREAD_AFTER_COLLISION)]
    assert got in free


# Sessions of this database waiting for a lock another transaction holds.
_PG_LOCK_WAITS = text("SELECT count(*) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND wait_event_type = 'Lock'")


@dataclass
class BesideInFlight:
    made: dict  # "port" or "error"
    waited: bool  # the create waited on a lock (looked for on PostgreSQL only)
    done_in_flight: bool  # the create had finished before the other transaction ended


def _create_beside_a_creator_in_flight(db: Database, res: Services, net_id: str,
                                       subnet_id: str, owner_id: str, ip: str,
                                       commit: bool) -> BesideInFlight:
    """A port create while another transaction has inserted `ip` for `owner_id` (holding
    its claim on PostgreSQL) and not committed. That transaction commits (or rolls back)
    once the create has finished or, on PostgreSQL, waits on a lock."""
    postgresql = db.backend == "postgresql"
    made: dict = {}

    def create() -> None:
        try:
            made["port"] = _port(res, net_id)
        except Exception as err:  # noqa: BLE001 - the test's assertions show it
            made["error"] = err

    creator = threading.Thread(target=create)
    with db.engine.connect() as in_flight, \
            db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watch:
        in_flight.begin()
        if postgresql:
            in_flight.execute(select(func.pg_advisory_xact_lock(
                ipam.claim_key(subnet_id, ipam.ip_to_int(ip)))))
        in_flight.execute(insert(models.IPAllocation.__table__), {
            "ip_address": ip, "subnet_id": subnet_id, "port_id": owner_id,
            "network_id": net_id, "ip_offset": int(ip.rsplit(".", 1)[1])})
        creator.start()
        waited = False
        deadline = time.monotonic() + 30
        while postgresql and creator.is_alive() and not waited \
                and time.monotonic() < deadline:
            waited = watch.execute(_PG_LOCK_WAITS).scalar() > 0
            time.sleep(0.02)
        done_in_flight = not creator.is_alive()
        if commit:
            in_flight.commit()
        else:
            in_flight.rollback()
    creator.join(60)
    return BesideInFlight(made, waited, done_in_flight)


def test_a_creator_in_flight_with_the_lowest_address(server_database: Database) -> None:
    """Another creator is inserting 10.0.0.3 and has not committed: a create takes
    10.0.0.4. On PostgreSQL at once, without waiting for the creator in flight (which
    holds its claim on the address); on MariaDB once the creator in flight committed."""
    res = _services(server_database, CoreSettings(tenant_network_type="local"))
    net_id, subnet_id = _net(res)
    owner = _port(res, net_id)
    assert _ip(owner) == "10.0.0.2"
    run = _create_beside_a_creator_in_flight(server_database, res, net_id, subnet_id,
                                             owner["id"], "10.0.0.3", commit=True)
    assert _ip(run.made["port"]) == "10.0.0.4"
    if server_database.backend == "postgresql":
        assert (run.waited, run.done_in_flight) == (False, True)


def test_the_last_free_address_a_creator_in_flight_gives_up_is_taken(
        server_database: Database) -> None:
    """The pool's one free address is being inserted by another creator, which then rolls
    back: a create waits for it on the address's key (on PostgreSQL after passing over
    the claimed address and finding no other) and takes it, rather than failing."""
    res = _services(server_database, CoreSettings(tenant_network_type="local"))
    net_id, subnet_id = _net(res, allocation_pools=[{"start": "10.0.0.2", "end": "10.0.0.3"}])
    owner = _port(res, net_id)
    assert _ip(owner) == "10.0.0.2"
    run = _create_beside_a_creator_in_flight(server_database, res, net_id, subnet_id,
                                             owner["id"], "10.0.0.3", commit=False)
    assert "error" not in run.made, run.made
    assert _ip(run.made["port"]) == "10.0.0.3"
    if server_database.backend == "postgresql":
        assert run.waited


def test_an_address_at_the_highest_offset_is_no_overflow(res: Services) -> None:
    # A /64's pool is cut at the highest offset a column holds (2**63 - 1); an address
    # there must not make the search for the next free one overflow.
    net_id, subnet_id = _net(res, ip_version=6, cidr="fd00:9::/64",
                             ipv6_ra_mode="dhcpv6-stateful",
                             ipv6_address_mode="dhcpv6-stateful")
    top = "fd00:9::7fff:ffff:ffff:ffff"
    assert _ip(_port(res, net_id, fixed_ips=[{"ip_address": top}])) == top
    assert [_ip(_port(res, net_id)) for _ in range(3)] == \
        ["fd00:9::2", "fd00:9::3", "fd00:9::4"]


def test_a_lost_race_for_a_pools_last_address_goes_on_to_the_next_pool(
        res: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    net_id, _ = _net(res, allocation_pools=[{"start": "10.0.0.2", "end": "10.0.0.3"},
                                            {"start": "10.0.0.10", "end": "10.0.0.12"}])
    assert _ip(_port(res, net_id)) == "10.0.0.2"
    read_all = []
    monkeypatch.setattr(ports, "_taken", lambda *a: read_all.append(a) or set())
    lost = _losing_races(monkeypatch, 1)
    assert _ip(_port(res, net_id)) == "10.0.0.10"
    assert (lost, read_all) == (["10.0.0.3"], [])


def test_a_bulk_create_claims_its_first_few_addresses_only(res: Services,
                                                           database: Database) -> None:
    # Each claim holds a PostgreSQL lock slot until the commit: a bulk create must not run
    # out of them. Elsewhere nothing is claimed.
    net_id, _ = _net(res)
    count = dbutil.MAX_CLAIMS + 4
    with recorded(database.engine) as statements:
        made = res.ports.create_bulk(ADMIN, [{"network_id": net_id, "tenant_id": "t"}
                                             for _ in range(count)])
    assert [_ip(p) for p in made] == [f"10.0.0.{i}" for i in range(2, 2 + count)]
    claims = [s for s in statements if "pg_try_advisory_xact_lock" in s]
    inserts = [s for s in statements if s.startswith("INSERT INTO ipallocations")]
    if database.backend == "postgresql":
        assert (len(claims), len(inserts)) == (dbutil.MAX_CLAIMS, count)
    else:
        assert (len(claims), len(inserts)) == (0, count)


def test_migration_fills_offsets_of_existing_addresses(res: Services,
                                                       database: Database) -> None:
    net_id, _ = _net(res)
    v6_net, _ = _net(res, ip_version=6, cidr="fd00:2::/64", ipv6_ra_mode="dhcpv6-stateful",
                     ipv6_address_mode="dhcpv6-stateful")
    for _ in range(3):
        _port(res, net_id)
    _port(res, v6_net)
    database.downgrade("0001_initial")
    database.upgrade()
    with database.engine.connect() as conn:
        rows = dict(conn.execute(select(models.IPAllocation.ip_address,
                                        models.IPAllocation.ip_offset)).all())
    assert rows == {"10.0.0.2": 2, "10.0.0.3": 3, "10.0.0.4": 4, "fd00:2::2": 2}
    assert _ip(_port(res, net_id)) == "10.0.0.5"


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
