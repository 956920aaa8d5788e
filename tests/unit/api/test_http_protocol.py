"""Each response leaves in one write (cmd/http_protocol.py): uvicorn's httptools protocol
over a transport that joins the writes of one turn of the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop
from uvicorn.server import ServerState

from neutrino.cmd.http_protocol import CoalescingTransport, HttpProtocol
from neutrino.cmd.server import _uvicorn


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 40000), "sockname": ("127.0.0.1", 9696)}.get(
            name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    status = 204 if scope["path"] == "/empty" else 200
    body = b"" if status == 204 else b'{"port": {"name": "p"}}'
    headers = [(b"content-type", b"application/json")]
    if body:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(requests: bytes) -> RecordingTransport:
    async def run() -> RecordingTransport:
        config = _uvicorn(app, "127.0.0.1", 9696).config
        config.load()
        protocol = HttpProtocol(config=config, server_state=ServerState(), app_state={},
                                _loop=asyncio.get_running_loop())
        transport = RecordingTransport()
        protocol.connection_made(transport)
        protocol.data_received(requests)
        for _ in range(50):
            await asyncio.sleep(0.01)
        # What reached the socket while the connection was open: nothing may wait for
        # the close that ends this test.
        sent = RecordingTransport()
        sent.writes, sent.closed = list(transport.writes), transport.closed
        protocol.connection_lost(None)
        return sent
    return uvloop.run(run())


def test_a_response_is_one_write_head_and_body_together() -> None:
    transport = serve(b"GET /ports/1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(transport.writes) == 1, transport.writes
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"content-length: 23" in head.lower()
    assert body == b'{"port": {"name": "p"}}'


def test_pipelined_requests_get_their_responses_in_order_once_each() -> None:
    transport = serve(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /empty HTTP/1.1\r\nHost: x\r\n\r\n")
    sent = b"".join(transport.writes)
    assert sent.count(b"HTTP/1.1 ") == 2
    assert sent.index(b"HTTP/1.1 200") < sent.index(b"HTTP/1.1 204")
    assert all(w.count(b"HTTP/1.1 ") == 1 for w in transport.writes), transport.writes


def test_connection_close_sends_the_response_before_closing() -> None:
    transport = serve(b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert transport.closed
    assert len(transport.writes) == 1
    assert transport.writes[0].endswith(b'{"port": {"name": "p"}}')


def test_a_head_request_gets_its_head_though_no_body_is_written() -> None:
    transport = serve(b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")
    assert len(transport.writes) == 1, transport.writes
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[0].endswith(b"\r\n\r\n")


def test_a_100_continue_is_not_held_back() -> None:
    # The client sends the body only once it has the interim answer.
    inner = RecordingTransport()
    outer = CoalescingTransport(inner)
    outer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert inner.writes == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    outer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert len(inner.writes) == 1  # the final head waits for its body
    outer.write(b"{}")
    assert inner.writes[1:] == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    outer.write(b"more")  # nothing held: straight through
    assert inner.writes[2:] == [b"more"]
