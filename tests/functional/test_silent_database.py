"""A database that stops answering (issue 13, item 2): bounded 503s, never a 500 or a hang,
and no change committed for a request that was already answered.

A relay between the server and PostgreSQL stops forwarding but keeps every socket open,
as a hung database host or a dropped firewall state does. "Bounded" is asserted as
"answered with a 503 before the client gave up", never as a duration.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings, DatabaseSettings
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db import models
from neutrino.db.engine import Database, normalize_url
from neutrino.lib import constants

from .conftest import scratch_database_url, selected_backends

pytestmark = pytest.mark.skipif("postgresql" not in selected_backends(),
                                reason="needs PostgreSQL")

CLIENT_GIVES_UP = 60.0  # seconds; the server's request_timeout (2 s) is far below


class Relay:
    """A TCP relay to `upstream` that can be frozen: bytes stop moving both ways while
    every connection stays open."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)  # so the accept loop sees `closed`
        self.port = self.listener.getsockname()[1]
        self.flowing = threading.Event()
        self.flowing.set()
        self.closed = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self.threads.append(thread)
                thread.start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self.closed.is_set():
                data = src.recv(65536)
                if not data:
                    break
                while not self.flowing.wait(0.05):  # frozen: hold the bytes
                    if self.closed.is_set():
                        return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self.closed.set()
        self.flowing.set()
        self.listener.close()
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a pump blocked in recv()
            except OSError:
                pass
            sock.close()
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.fixture
def relayed(tmp_path: Path) -> Iterator[tuple[Relay, Database, str]]:
    with scratch_database_url("postgresql", tmp_path) as url:
        Database(DatabaseSettings(url)).upgrade()
        direct = normalize_url(url)
        relay = Relay((direct.host or "127.0.0.1", direct.port or 5432))
        through = direct.set(host="127.0.0.1", port=relay.port)
        db = Database(DatabaseSettings(through.render_as_string(hide_password=False),
                                       pool_size=2, max_overflow=0, pool_timeout=1,
                                       connect_timeout=2, statement_timeout=5))
        try:
            yield relay, db, url
        finally:
            relay.close()
            db.dispose()


def _names(url: str) -> set[str]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return set(conn.scalars(select(models.Network.name)))
    finally:
        engine.dispose()


def _in_threads(calls: list[Any]) -> list[Any]:
    """Run each call in its own thread, as concurrent clients; None for a client that
    gave up (no answer within CLIENT_GIVES_UP)."""
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(CLIENT_GIVES_UP)
    return results


def test_silent_database_gives_bounded_503s_and_no_late_commit(
        relayed: tuple[Relay, Database, str], tmp_path: Path) -> None:
    relay, db, url = relayed
    services = build_services(db, CoreSettings(), RecordingNotifier())
    settings = ApiSettings(auth_strategy="noauth", request_timeout=2,
                           state_path=str(tmp_path / "state"))
    admin = {"X-Roles": "admin", "X-Project-Id": "p"}
    with TestClient(create_app(services, settings)) as client:
        assert client.post("/v2.0/networks", json={"network": {"name": "before"}},
                           headers=admin).status_code == 201
        relay.flowing.clear()
        calls = [lambda: client.post("/v2.0/networks", json={"network": {"name": "late"}},
                                     headers=admin)]
        calls += [lambda: client.get("/v2.0/networks", headers=admin)] * 5
        responses = _in_threads(calls)
        assert all(r is not None for r in responses), "a request was not answered"
        for response in responses:
            assert response.status_code == 503, response.text
            assert response.json()["NeutronError"]["type"] == "ServiceUnavailable"
            assert int(response.headers["Retry-After"]) > 0
        relay.flowing.set()
        # The abandoned workers run on once the bytes flow again; every connection comes
        # back to the pool when they are done.
        for _ in range(600):
            if db.engine.pool.checkedout() == 0:  # type: ignore[attr-defined]
                break
            threading.Event().wait(0.1)
        assert db.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        assert client.get("/v2.0/networks", headers=admin).status_code == 200
    assert _names(url) == {"before"}


def test_heartbeats_cannot_take_every_connection(relayed: tuple[Relay, Database, str]
                                                 ) -> None:
    relay, db, _ = relayed
    services = build_services(db, CoreSettings(state_report_concurrency=1),
                              RecordingNotifier())

    def report(host: str) -> Any:
        def call() -> Any:
            try:
                return services.agents.report_state({"agent_state": {
                    "binary": constants.BINARY_DHCP, "host": host,
                    "topic": constants.TOPIC_DHCP_AGENT,
                    "agent_type": constants.AGENT_TYPE_DHCP, "configurations": {}}})
            except Exception as error:  # noqa: BLE001 - the outcome is what we check
                return error
        return call

    relay.flowing.clear()
    stuck = threading.Thread(target=report("stuck"), daemon=True)
    stuck.start()
    # With one report slot taken, more reports are turned away without a connection...
    others = _in_threads([report(f"h{i}") for i in range(4)])
    assert all(type(o).__name__ == "ServiceUnavailable" for o in others), others
    assert db.engine.pool.checkedout() <= 1  # type: ignore[attr-defined]
    relay.flowing.set()
    stuck.join(CLIENT_GIVES_UP)
    # ...and the API's requests still find one.
    assert services.networks.list(Context.admin()) == []
    with db.session() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
