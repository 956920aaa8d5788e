"""A fake Keystone and Nova on 127.0.0.1, in a thread: enough identity for keystoneauth's
`password` plugin (version discovery, a scoped token with a catalog naming the compute
endpoint) and Nova's `POST /os-server-external-events`, which records every batch."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from neutrino.conf.settings import NovaSettings

TOKEN = "fake-token-0123"
PASSWORD = "nova-secret"


class FakeNova:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[list[dict[str, Any]]] = []  # accepted ones
        self.requests = 0  # event POSTs, answered or not
        self.tokens_issued = 0
        self.down = False  # answer event POSTs with 503
        self.status = 200  # when up
        self.headers: list[dict[str, str]] = []
        self.arrived = threading.Event()  # set by every accepted batch
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> FakeNova:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered(self) -> list[dict[str, Any]]:
        with self.lock:
            return [event for batch in self.batches for event in batch]

    def settings(self, **overrides: Any) -> NovaSettings:
        options = {"auth_url": self.url + "/identity/v3", "username": "nova",
                   "password": PASSWORD, "project_name": "service",
                   "user_domain_name": "Default", "project_domain_name": "Default"}
        return NovaSettings(auth_type="password", auth_options=tuple(options.items()),
                            region_name="RegionOne", timeout=10, **overrides)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        nova = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None
                       ) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def do_GET(self) -> None:  # noqa: N802
                if self.path.rstrip("/") == "/identity/v3":
                    self._reply(200, {"version": {
                        "id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z",
                        "links": [{"rel": "self", "href": nova.url + "/identity/v3/"}],
                        "media-types": [{"base": "application/json",
                                         "type": "application/vnd.openstack.identity-v3+json"}]}})
                else:
                    self._reply(404, {})

            def do_POST(self) -> None:  # noqa: N802
                body = self._body()
                if self.path == "/identity/v3/auth/tokens":
                    password = body["auth"]["identity"]["password"]["user"]["password"]
                    if password != PASSWORD:
                        self._reply(401, {"error": {"code": 401}})
                        return
                    with nova.lock:
                        nova.tokens_issued += 1
                    self._reply(201, _token(nova.url), {"X-Subject-Token": TOKEN})
                elif self.path == "/compute/v2.1/os-server-external-events":
                    with nova.lock:
                        nova.requests += 1
                        if self.headers.get("X-Auth-Token") != TOKEN:
                            status = 401
                        else:
                            status = 503 if nova.down else nova.status
                        if status in (200, 207):
                            nova.batches.append(body["events"])
                            nova.headers.append(dict(self.headers))
                            nova.arrived.set()
                    if status in (200, 207):
                        self._reply(status, {"events": [{**e, "code": 200}
                                                        for e in body["events"]]})
                    else:
                        self._reply(status, {"itemNotFound": {"code": status}})
                else:
                    self._reply(404, {})

        return Handler


def _token(url: str) -> dict[str, Any]:
    endpoints = [{"id": f"c-{i}", "interface": i, "region": "RegionOne", "region_id": "RegionOne",
                  "url": url + "/compute/v2.1"} for i in ("public", "internal", "admin")]
    return {"token": {
        "methods": ["password"], "expires_at": "2999-01-01T00:00:00.000000Z",
        "issued_at": "2020-01-01T00:00:00.000000Z",
        "user": {"id": "u-nova", "name": "nova", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p-service", "name": "service",
                    "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r-admin", "name": "admin"}],
        "catalog": [{"type": "compute", "name": "nova", "id": "s-nova", "endpoints": endpoints}],
    }}


@contextmanager
def fake_nova() -> Iterator[FakeNova]:
    nova = FakeNova().start()
    try:
        yield nova
    finally:
        nova.stop()
