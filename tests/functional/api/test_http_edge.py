"""The API behind uvicorn as neutrino-server runs it (cmd/server.py's ApiServer on a socket
from `listen`): the HTTP edge that Starlette's TestClient skips — the protocol and loop it
runs on, kept-alive connections, request ids, Neutron's URL forms, header whitespace, body
limits and malformed requests; and the hand-off of a request's work to a thread."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import http.client
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import pytest
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from neutrino.api.app import NeutronApi, create_app
from neutrino.api.auth import NoAuth
from neutrino.api.policy import Policy
from neutrino.cmd.server import ApiServer, listen
from neutrino.lib.exceptions import ServiceUnavailable

REQUEST_ID = re.compile(r"req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                        r"[0-9a-f]{12}")


class Edge:
    def __init__(self, server: ApiServer, port: int) -> None:
        self.server = server
        self.port = port
        self.token = ""

    def connection(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             conn: http.client.HTTPConnection | None = None) -> tuple[int, Any, Any]:
        own = conn is None
        conn = conn or self.connection()
        headers = {"X-Auth-Token": self.token if token is None else token,
                   "Content-Type": "application/json"}
        try:
            conn.request(method, path, json.dumps(body) if body is not None else None,
                         headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            if own:
                conn.close()
        return response.status, json.loads(raw) if raw else None, response.headers

    def raw(self, data: bytes) -> bytes:
        """The first answer to `data` sent as is (read by its Content-Length: the server
        may keep the connection)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            out = b""
            while chunk := sock.recv(65536):
                out += chunk
                head, found, body = out.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                if found and length and len(body) >= int(length.group(1)):
                    break
        return out


@pytest.fixture
def edge(core, api_settings) -> Iterator[Edge]:
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = ApiServer(create_app(core, api_settings), "127.0.0.1", port, sock)
    try:
        server.start()
        running = Edge(server, port)
        status, _, headers = running.call("POST", "/v3/auth/tokens", {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "admin", "domain": {"id": "default"}, "password": "adminpassword"}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
        assert status == 201
        running.token = headers["X-Subject-Token"]
        yield running
    finally:
        server.stop()
        sock.close()


def test_served_by_httptools_on_uvloop_over_kept_alive_connections(edge):
    with closing(edge.connection()) as conn:
        ids = set()
        for _ in range(3):
            status, body, headers = edge.call("GET", "/v2.0/networks", conn=conn)
            assert (status, body) == (200, {"networks": []})
            assert REQUEST_ID.fullmatch(headers["X-OpenStack-Request-Id"])
            ids.add(headers["X-OpenStack-Request-Id"])
        assert len(ids) == 3
        # The connection is still open, and its protocol and loop are the compiled ones.
        protocols = list(edge.server._server.server_state.connections)
        assert len(protocols) == 1 and isinstance(protocols[0], HttpToolsProtocol)
        assert isinstance(protocols[0].loop, uvloop.Loop)


def test_neutron_url_forms(edge):
    status, net, _ = edge.call("POST", "/v2.0/networks.json", {"network": {"name": "n"}})
    assert status == 201
    net_id = net["network"]["id"]
    for path in (f"/v2.0/networks/{net_id}", f"/v2.0/networks/{net_id}.json",
                 f"/v2.0/networks/{net_id}/", f"/v2.0/networks/{net_id}//"):
        status, body, _ = edge.call("GET", path)
        assert (status, body) == (200, net), path
    status, body, _ = edge.call("GET", "/v2.0/networks?name=n&fields=id&fields=name")
    assert body == {"networks": [{"id": net_id, "name": "n"}]}
    # Percent-encoded: decoded before routing ("a/b" is no id), as under h11.
    for path in ("/v2.0/networks/a%2Fb", "/v2.0/networks/%E2%82%AC", "/v2.0/net%77orks/x"):
        status, body, _ = edge.call("GET", path)
        assert status == 404 and body["NeutronError"]["type"] in (
            "HTTPNotFound", "NetworkNotFound"), path


def test_header_values_lose_trailing_whitespace(edge):
    # A token followed by spaces or a tab is the token (RFC 9110: the whitespace around a
    # field value is not part of it); httptools leaves it to the application to drop.
    for token in (edge.token + "  ", edge.token + "\t", " " + edge.token + " \t "):
        status, body, _ = edge.call("GET", "/v2.0/networks", token=token)
        assert (status, body) == (200, {"networks": []}), repr(token[-3:])
    status, _, _ = edge.call("GET", "/v2.0/networks", token=edge.token[:-1] + " ")
    assert status == 401


def test_too_large_bodies_are_413(edge):
    head = (b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nX-Auth-Token: "
            + edge.token.encode() + b"\r\nContent-Type: application/json\r\n")
    size = 1024 * 1024 + 1
    answers = [
        edge.raw(head + f"Content-Length: {size}\r\n\r\n".encode() + b" " * size),
        edge.raw(head + b"Transfer-Encoding: chunked\r\n\r\n"
                 + (b"10000\r\n" + b" " * 0x10000 + b"\r\n") * 17 + b"0\r\n\r\n"),
    ]
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413 ") and REQUEST_ID.search(head.decode())
        assert json.loads(body)["NeutronError"]["type"] == "HTTPRequestEntityTooLarge"


def test_malformed_requests_are_400(edge):
    for request in (b"GARBAGE\r\n\r\n", b"GET /v2.0/networks HTTP/1.1\r\nBad Header\r\n\r\n",
                    b"GET /v2.0/net\x00works HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"POST /v2.0/networks HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                    b"Content-Length: 2\r\n\r\n{}"):
        answer = edge.raw(request)
        assert answer.startswith(b"HTTP/1.1 400 ") and \
            answer.endswith(b"Invalid HTTP request received."), request


def test_stop_closes_the_port(edge):
    with closing(edge.connection()) as conn:
        assert edge.call("GET", "/v2.0/networks", conn=conn)[0] == 200  # kept alive, idle
        edge.server.stop()
        assert not edge.server._thread.is_alive()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", edge.port), timeout=10).close()


# --- the hand-off of a request's work to a thread -------------------------------------------

@pytest.fixture
def neutron_api(core, api_settings) -> NeutronApi:
    return NeutronApi(core, dataclasses.replace(api_settings, request_timeout=1), Policy(),
                      NoAuth(), None)


CALLER = contextvars.ContextVar("caller", default="")


def test_work_runs_in_a_thread_with_the_callers_context(neutron_api):
    async def handle() -> tuple[str, str]:
        CALLER.set("request-1")
        return await neutron_api._bounded(time.monotonic(), lambda: (
            threading.current_thread().name, CALLER.get()))
    thread, seen = asyncio.run(handle())
    assert thread != threading.main_thread().name and seen == "request-1"


def test_work_past_its_deadline_is_a_503_and_is_left_to_finish(neutron_api):
    release, done = threading.Event(), threading.Event()

    def slow() -> None:
        release.wait(60)
        done.set()
    with pytest.raises(ServiceUnavailable):
        asyncio.run(neutron_api._bounded(time.monotonic(), slow))
    assert not done.is_set()
    release.set()
    assert done.wait(60)  # abandoned, not killed


def test_work_whose_deadline_passed_before_it_started_never_runs(neutron_api):
    ran = []
    with pytest.raises(ServiceUnavailable):
        asyncio.run(neutron_api._bounded(time.monotonic() - 5, lambda: ran.append(1)))
    assert ran == []


def test_the_works_own_timeout_is_no_503(neutron_api):
    def failing() -> None:
        raise TimeoutError("the action's")
    with pytest.raises(TimeoutError, match="the action's"):
        asyncio.run(neutron_api._bounded(time.monotonic(), failing))
