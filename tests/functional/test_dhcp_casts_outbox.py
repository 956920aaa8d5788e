"""Casts to DHCP agents are recorded with the change and sent by whichever replica is alive
(issue 13: a replica killed between commit and send, or a broker dropping the cast, left an
agent without the change until its periodic full sync)."""

import pytest
from sqlalchemy import func, select
from support.core_world import World

from neutrino.core.agents.notify import Outbox
from neutrino.core.services import build_services
from neutrino.core.services.casts import GRACE, MAX_AGE
from neutrino.db.models import DhcpCast
from neutrino.lib import constants as const


def recorded(world) -> int:
    return world.db.transaction(
        lambda s: s.scalar(select(func.count()).select_from(DhcpCast)), readonly=True)


def drop_casts(world, monkeypatch) -> None:
    """The broker loses every cast of this replica (the notifier says so, as
    RpcDhcpNotifier does)."""
    def dropped(host, method, payload):
        return False
    monkeypatch.setattr(world.notifier, "cast", dropped)


def replica(database, seconds_later: float) -> World:
    """Another server replica on the same database, its clock `seconds_later` than the
    first's (which has not moved)."""
    other = World(database)
    other.clock.advance(seconds_later)
    return other


@pytest.fixture
def world(database):
    w = World(database)
    w.dhcp_agent("hostA")
    w.net = w.network()
    w.core.dhcp_casts.tick()
    w.forget_casts()
    return w


def test_a_cast_is_recorded_with_its_change_and_forgotten_once_sent(world, database):
    world.port(world.net["id"])
    assert world.cast_hosts(const.PORT_CREATE_END) == ["hostA"]
    assert recorded(world) == 1
    assert world.core.dhcp_casts.tick() == 0  # deletes what this process sent
    assert recorded(world) == 0
    later = replica(database, GRACE + 1)
    assert later.core.dhcp_casts.tick() == 0 and later.casts() == []  # nothing sent twice


def test_casts_the_broker_dropped_are_sent_again_by_any_replica(world, database,
                                                                monkeypatch):
    drop_casts(world, monkeypatch)
    port = world.port(world.net["id"])
    world.core.ports.update(world.admin, port["id"], {"dns_name": "vm1"})
    world.core.dhcp_casts.tick()
    assert recorded(world) == 2  # nothing delivered: nothing deleted
    assert replica(database, 0).core.dhcp_casts.tick() == 0  # within the grace: left
    other = replica(database, GRACE + 1)
    assert other.core.dhcp_casts.tick() == 2
    assert [(h, m) for h, m, _ in other.casts()] == [
        ("hostA", const.PORT_CREATE_END), ("hostA", const.PORT_UPDATE_END)]
    assert other.casts()[1][2]["port"]["dns_name"] == "vm1"
    assert recorded(world) == 0


def test_casts_of_a_replica_that_died_before_sending_are_swept(world, database, monkeypatch):
    # The replica commits and dies before its send: nothing reaches the broker.
    monkeypatch.setattr(Outbox, "send", lambda self, notifier, delivered=None: None)
    port = world.port(world.net["id"])
    assert world.casts() == [] and recorded(world) == 1
    monkeypatch.undo()
    other = replica(database, GRACE + 1)
    assert other.core.dhcp_casts.tick() == 1
    assert other.casts() == [("hostA", const.PORT_CREATE_END, {"port": port})]


def test_subnet_and_network_changes_are_recorded_too(world, monkeypatch):
    drop_casts(world, monkeypatch)
    subnet = world.subnet(world.net["id"])
    world.core.subnets.update(world.admin, subnet["id"], {"name": "s"})
    world.core.networks.update(world.admin, world.net["id"], {"dns_domain": "example."})
    world.core.subnets.delete(world.admin, subnet["id"])
    assert recorded(world) == 4


def test_very_old_casts_are_dropped_unsent(world, database, monkeypatch):
    drop_casts(world, monkeypatch)
    world.port(world.net["id"])
    other = replica(database, MAX_AGE + 5)
    assert other.core.dhcp_casts.tick() == 0
    assert other.casts() == [] and recorded(world) == 0


def test_an_idle_sweep_takes_no_lock_and_writes_nothing(world, database, monkeypatch):
    # Every replica sweeps every second: with nothing due it must cost one indexed read,
    # not a write transaction locking rows (SELECT ... FOR UPDATE SKIP LOCKED).
    world.port(world.net["id"])  # sent and recorded, not forgotten yet: not due either
    other = replica(database, 0)
    writes = []
    run = other.core.dhcp_casts.queue.tx.run

    def counted(work, *args, **kwargs):
        if not kwargs.get("readonly"):
            writes.append(work)
        return run(work, *args, **kwargs)
    monkeypatch.setattr(other.core.dhcp_casts.queue.tx, "run", counted)
    assert other.core.dhcp_casts.sweep() == 0
    assert writes == []
    assert recorded(world) == 1


def test_forgetting_what_was_sent_sends_nothing_again(world, database, monkeypatch):
    drop_casts(world, monkeypatch)
    world.port(world.net["id"])
    other = replica(database, GRACE + 1)
    other.core.dhcp_casts.forget_sent()  # what an API worker runs: no sweep
    assert other.casts() == [] and recorded(world) == 1
    assert other.core.dhcp_casts.tick() == 1


def test_casts_sent_after_the_reply_are_those_sent_before_it(database):
    # The API's services send on a thread of their own: the same casts, in the same
    # order, marked delivered and then forgotten, as the caller's own sending gives.
    inline, background = World(database), World(database)
    background.core = build_services(database, background.settings, background.notifier,
                                     background.clock, send_in_background=True)
    made = []
    for w in (inline, background):
        w.dhcp_agent("hostA")
        net = w.network()
        port = w.port(net["id"], name="vm")
        w.core.ports.update(w.admin, port["id"], {"device_owner": "compute:nova"})
        w.core.ports.delete(w.admin, port["id"])
        w.core.dhcp_casts.flush()
        made.append([(h, m) for h, m, _ in w.casts()])
        w.core.dhcp_casts.forget_sent()
    assert made[0] == made[1] and (const.PORT_DELETE_END in {m for _, m in made[1]})
    assert recorded(background) == 0  # every recorded cast delivered and deleted
