"""A recording HTTP proxy on 127.0.0.1, to see what a client (Nova) asks of a server (Neutrino).

    with RecordingProxy() as proxy:          # proxy.url is known before the target exists
        cloud = OpenStackCloud(..., neutron_url=proxy.url)
        proxy.target = neutrino.url
        ...
        for call in proxy.calls: call.method, call.path, call.query, call.body_keys, call.status

Until `target` is set it answers 503. Every exchange is kept in `calls` (and appended as one
JSON line to `log_path` when given), in the order the requests arrived.

For exploring past a failure, `shim(method, path, body)` may answer a request itself (return
(status, body)) and `rewrite(method, path, body)` / `rewrite_response(method, path, body)` may
change a JSON request or response on its way; such calls are marked `extra["shimmed"]`. Tests of
Neutrino itself use neither.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
              "trailers", "transfer-encoding", "upgrade", "host", "content-length"}


def body_keys(raw: bytes) -> object:
    """The shape of a JSON body: its keys, one level into a single wrapping object."""
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return f"<{len(raw)} bytes>"
    if isinstance(doc, dict):
        if len(doc) == 1:
            (key, inner), = doc.items()
            if isinstance(inner, dict):
                return {key: sorted(inner)}
            if isinstance(inner, list):
                return {key: sorted({k for item in inner if isinstance(item, dict)
                                     for k in item})}
        return sorted(doc)
    return type(doc).__name__


@dataclass
class Call:
    seq: int
    time: float
    method: str
    path: str
    query: list[tuple[str, str]]
    body_keys: object
    body: object
    status: int
    response: object
    user_agent: str = ""
    elapsed: float = 0.0
    extra: dict = field(default_factory=dict)


class RecordingProxy:
    def __init__(self, target: str | None = None, log_path: Path | None = None, *,
                 shim: Callable[[str, str, object], tuple[int, object] | None] | None = None,
                 rewrite: Callable[[str, str, object], object] | None = None,
                 rewrite_response: Callable[[str, str, object], object] | None = None) -> None:
        self.target = target
        self.shim = shim
        self.rewrite = rewrite
        self.rewrite_response = rewrite_response
        self.log_path = log_path
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _any(self) -> None:
                proxy._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        began = time.monotonic()
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        split = urlsplit(handler.path)
        shimmed = False
        try:
            doc: object = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        answer = self.shim(handler.command, split.path, doc) if self.shim else None
        if self.rewrite and doc is not None:
            new = self.rewrite(handler.command, split.path, doc)
            if new != doc:
                shimmed, raw = True, json.dumps(new).encode()
        if answer is not None:
            shimmed = True
            status, headers = answer[0], [("Content-Type", "application/json")]
            payload = json.dumps(answer[1]).encode() if answer[1] is not None else b""
        elif self.target is None:
            status, headers, payload = 503, [("Content-Type", "text/plain")], b"no target yet"
        else:
            target = urlsplit(self.target)
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
            fwd = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
            try:
                conn.request(handler.command, handler.path, body=raw or None, headers=fwd)
                resp = conn.getresponse()
                status, payload = resp.status, resp.read()
                headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            except OSError as exc:
                status, headers, payload = 502, [("Content-Type", "text/plain")], str(exc).encode()
            finally:
                conn.close()
        if self.rewrite_response and payload and answer is None:
            try:
                rdoc = json.loads(payload)
            except ValueError:
                rdoc = None
            if rdoc is not None:
                new = self.rewrite_response(handler.command, split.path, rdoc)
                if new != rdoc:
                    shimmed, payload = True, json.dumps(new).encode()
        handler.send_response(status)
        for key, value in headers:
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(payload)
        self._record(handler, split, raw, status, payload, time.monotonic() - began, shimmed)

    def _record(self, handler: BaseHTTPRequestHandler, split, raw: bytes, status: int,
                payload: bytes, elapsed: float, shimmed: bool = False) -> None:
        try:
            body: object = json.loads(raw) if raw else None
        except ValueError:
            body = None
        try:
            response: object = json.loads(payload) if payload else None
        except ValueError:
            response = payload[:500].decode(errors="replace")
        with self._lock:
            call = Call(seq=len(self.calls) + 1, time=time.time(), method=handler.command,
                        path=split.path, query=parse_qsl(split.query, keep_blank_values=True),
                        body_keys=body_keys(raw), body=body, status=status,
                        response=response,
                        user_agent=handler.headers.get("User-Agent", ""), elapsed=elapsed,
                        extra={"shimmed": True} if shimmed else {})
            self.calls.append(call)
            if self.log_path is not None:
                with open(self.log_path, "a") as log:
                    log.write(json.dumps(asdict(call), default=str) + "\n")

    # -- reading the record --------------------------------------------------------------

    def mark(self) -> int:
        """A position in the record: `since(mark)` gives the calls made after it."""
        with self._lock:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._lock:
            return list(self.calls[mark:])

    @staticmethod
    def summary(calls: list[Call]) -> str:
        lines = []
        for call in calls:
            query = "&".join(f"{k}={v}" for k, v in call.query)
            mark = "*" if call.extra.get("shimmed") else " "
            lines.append(f"{call.seq:4d} {call.status}{mark}{call.method:6s} {call.path}"
                         f"{'?' + query if query else ''}  {call.body_keys or ''}")
        return "\n".join(lines)
