"""uvicorn's HTTP protocol, sending a response's head and the start of its body in one write.

uvicorn writes a response's head when the application starts it and its body when the
application sends it: two send(2) calls, two TCP segments and, on a kept-alive connection,
two wake-ups of the client. Here the head waits for what follows it: the first body write
(the whole body, for the API's answers), the end of the response (a HEAD's or a 304's,
which have no body to write) or the connection's close. An interim `100 Continue` goes out
at once: the client waits for it before it sends the body.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def _is_final_head(data: bytes) -> bool:
    return data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 1") \
        and data.endswith(b"\r\n\r\n")


class CoalescingTransport:
    """A transport that holds a response's head until the next write, `flush` or close."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if data:
                # One writev: a list's body is not copied to join it to its head.
                self._transport.writelines([head, data])
            else:
                self._transport.write(head)
            return
        if isinstance(data, bytes) and _is_final_head(data):
            self._head = data
            return
        self._transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self._transport.write(head)

    def close(self) -> None:
        self.flush()  # what was written before the close is sent, as a transport does
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info...) is the socket's.
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """httptools' protocol over a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport))  # type: ignore[arg-type]

    def on_response_complete(self) -> None:
        # A response with no body write (HEAD, 304) has only its head to send.
        self.transport.flush()  # type: ignore[attr-defined]
        super().on_response_complete()
