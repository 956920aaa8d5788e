"""Nova events on every backend: recorded with the port change that causes them (and only
then), sent by the sender to a fake Nova over HTTP, retried while Nova is down, and sent
exactly once by two replicas draining one outbox."""

from __future__ import annotations

import random
import threading
import uuid
from typing import Any

from sqlalchemy import func, inspect, select
from support.core_world import World
from support.fake_nova import FakeNova, fake_nova

from neutrino.conf.settings import DatabaseSettings, NovaSettings
from neutrino.core.agents import nova, provisioning
from neutrino.core.services import build_services
from neutrino.core.transaction import Transactions
from neutrino.db.engine import Database
from neutrino.db.models import NovaEvent
from neutrino.lib import constants as const
from neutrino.lib.naming import tap_name
from neutrino.nova.client import NovaClient
from neutrino.nova.sender import NovaSender

SERVER = "6f3c3cbb-7d41-4b8e-9a43-0b1c2d3e4f50"


def nova_world(db: Database, settings: NovaSettings | None) -> World:
    world = World(db)
    world.core = build_services(db, world.settings, world.notifier, world.clock,
                                rng=random.Random(0), nova_settings=settings)
    return world


def configured() -> NovaSettings:
    return NovaSettings(auth_type="password", auth_options=(("auth_url", "http://ks/v3"),))


def recorded(db: Database) -> list[tuple[str, str, str, str | None]]:
    with db.session(readonly=True) as s:
        return [(e.name, e.server_uuid, e.tag, e.status)
                for e in s.scalars(select(NovaEvent).order_by(NovaEvent.id))]


def server_port(world: World) -> dict[str, Any]:
    world.l2_agent("hostA")
    net = world.network(dhcp=False)
    return world.port(net["id"], device_owner="compute:nova", device_id=SERVER,
                      **{"binding:host_id": "hostA"})


def test_a_server_ports_life_is_recorded_in_order(database: Database) -> None:
    world = nova_world(database, configured())
    port = server_port(world)
    assert recorded(database) == []  # created DOWN: nothing for Nova yet
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))  # already ACTIVE
    world.core.l2_plugin.update_device_down("hostA", tap_name(port["id"]))
    world.core.ports.update(world.admin, port["id"], {"name": "renamed"})
    world.core.ports.delete(world.admin, port["id"])
    pid = port["id"]
    assert recorded(database) == [
        (nova.VIF_PLUGGED, SERVER, pid, "completed"),
        (nova.VIF_UNPLUGGED, SERVER, pid, "completed"),
        (nova.NETWORK_CHANGED, SERVER, pid, None),
        (nova.VIF_DELETED, SERVER, pid, None)]


def test_rebinding_an_active_port_is_unplugged_and_changed(database: Database) -> None:
    world = nova_world(database, configured())
    port = server_port(world)
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    world.core.ports.update(world.admin, port["id"], {"binding:host_id": "hostB"})
    assert [r[0] for r in recorded(database)] == [
        nova.VIF_PLUGGED, nova.VIF_UNPLUGGED, nova.NETWORK_CHANGED]


def test_other_ports_and_an_unconfigured_nova_record_nothing(database: Database) -> None:
    world = nova_world(database, None)
    port = server_port(world)
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    world.core.ports.update(world.admin, port["id"], {"name": "x"})
    world.core.ports.delete(world.admin, port["id"])
    world = nova_world(database, configured())
    net = world.network(dhcp=False)
    other = world.port(net["id"], device_owner="network:router_interface",
                       device_id=SERVER, **{"binding:host_id": "hostA"})
    world.core.l2_plugin.update_device_up("hostA", tap_name(other["id"]))
    world.core.ports.update(world.admin, other["id"], {"name": "x"})
    assert recorded(database) == []


def test_an_event_is_rolled_back_with_its_change(database: Database) -> None:
    world = nova_world(database, configured())
    port = server_port(world)
    tx = Transactions(database, nova.recording_info(configured()))

    def activate_then_fail(session: Any) -> None:
        provisioning.set_status(session, [port["id"]], const.PORT_STATUS_ACTIVE,
                                world.clock.now())
        assert len(list(session.scalars(select(NovaEvent.id)))) == 1  # written, uncommitted
        raise RuntimeError("the change fails after recording")

    try:
        tx.run(activate_then_fail)
    except RuntimeError:
        pass
    assert recorded(database) == []
    assert world.core.ports.get(world.admin, port["id"])["status"] == "DOWN"


def _fill(db: Database, world: World, count: int) -> list[str]:
    tags = [str(uuid.uuid4()) for _ in range(count)]
    with db.session() as s:
        nova.record(s, [nova.Event(nova.NETWORK_CHANGED, SERVER, t) for t in tags],
                    world.clock.now())
    return tags


def _sender(db: Database, world: World, fake: FakeNova, batch: int = 100) -> NovaSender:
    return NovaSender(nova.NovaEventQueue(Transactions(db), world.clock),
                      NovaClient(fake.settings()), interval=2, batch=batch)


def test_the_sender_delivers_and_empties_the_outbox(database: Database) -> None:
    world = nova_world(database, configured())
    port = server_port(world)
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    world.core.ports.update(world.admin, port["id"], {"name": "renamed"})
    with fake_nova() as fake:
        assert _sender(database, world, fake).tick() == 2
        assert fake.batches == [[
            {"name": nova.VIF_PLUGGED, "server_uuid": SERVER, "tag": port["id"],
             "status": "completed"},
            {"name": nova.NETWORK_CHANGED, "server_uuid": SERVER, "tag": port["id"]}]]
    assert recorded(database) == []


def test_nova_down_then_up(database: Database) -> None:
    world = nova_world(database, configured())
    tags = _fill(database, world, 3)
    queue = nova.NovaEventQueue(Transactions(database), world.clock)
    with fake_nova() as fake:
        sender = _sender(database, world, fake)
        fake.down = True
        assert sender.tick() == 0
        assert fake.requests == 1
        assert queue.pending() == 3
        assert sender.tick() == 0  # not due yet: no request at all
        assert fake.requests == 1
        world.clock.advance(2)  # the first wait: send_events_interval
        assert sender.tick() == 0
        assert fake.requests == 2
        world.clock.advance(2)  # the second wait is twice as long
        assert sender.tick() == 0
        assert fake.requests == 2
        fake.down = False
        world.clock.advance(2)
        assert sender.tick() == 3
        assert [e["tag"] for e in fake.delivered()] == tags
    assert queue.pending() == 0
    with database.session(readonly=True) as s:
        assert s.scalar(select(func.count()).select_from(NovaEvent)) == 0


def test_a_claim_is_nobody_elses_until_its_lease_ends(database: Database) -> None:
    world = nova_world(database, configured())
    _fill(database, world, 2)
    queue = nova.NovaEventQueue(Transactions(database), world.clock)
    first = queue.claim(10, lease_seconds=60)
    assert first is not None and len(first.items) == 2
    assert queue.claim(10, lease_seconds=60) is None
    world.clock.advance(61)  # its sender died: the events are free again
    second = queue.claim(10, lease_seconds=60)
    assert second is not None and len(second.items) == 2
    assert queue.done(first) == 0  # the old claim settles nothing any more
    assert queue.done(second) == 2


def test_two_replicas_send_each_event_exactly_once(database: Database) -> None:
    world = nova_world(database, configured())
    tags = _fill(database, world, 300)
    url = database.engine.url.render_as_string(hide_password=False)
    replicas = [Database(DatabaseSettings(url)) for _ in range(2)]
    try:
        with fake_nova() as fake:
            senders = [_sender(db, world, fake, batch=7) for db in replicas]
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def drain(sender: NovaSender) -> None:
                try:
                    barrier.wait(30)
                    sender.tick()
                except BaseException as err:  # noqa: BLE001
                    errors.append(err)

            threads = [threading.Thread(target=drain, args=(s,)) for s in senders]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
            assert errors == []
            delivered = [e["tag"] for e in fake.delivered()]
        assert sorted(delivered) == sorted(tags)  # all of them, none twice
        assert len(fake.batches) >= 300 // 7
    finally:
        for db in replicas:
            db.dispose()
    assert recorded(database) == []


def test_the_migration_adds_and_removes_the_outbox(database: Database) -> None:
    database.downgrade("0002_ipallocation_offsets")
    assert "novaevents" not in inspect(database.engine).get_table_names()
    database.upgrade()
    assert "novaevents" in inspect(database.engine).get_table_names()
    world = nova_world(database, configured())
    _fill(database, world, 1)
    assert nova.NovaEventQueue(Transactions(database), world.clock).pending() == 1
