"""uvicorn's HTTP protocol, sending each response in one write.

uvicorn writes a response's head when the application starts it and its body when the
application sends it: two send(2) calls, two TCP segments and, on a kept-alive connection,
two wake-ups of the client. On loopback the kernel delivers to the receiver inside the
sender's call, so under load those writes were about a tenth of the API's CPU for a port
shown. Writes made within one turn of the event loop are joined and handed to the socket
once, at the end of that turn: the head and body of a response the application sends
without waiting in between go out together.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes wait for the end of the event loop's turn, in order."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending or self._transport.is_closing():
            return
        if len(pending) == 1:
            self._transport.write(pending[0])
        else:
            # One writev: a list's body is not copied to join it to its head.
            self._transport.writelines(pending)

    def close(self) -> None:
        self.flush()  # what was written before the close is sent, as a transport does
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, pause_reading, get_extra_info...) is the socket's.
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """httptools' protocol over a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(
            CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
