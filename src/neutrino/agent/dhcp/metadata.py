"""The metadata proxy: 169.254.169.254:80 in every DHCP namespace that needs it, served by
the agent's own process and forwarded to Nova's metadata API with the instance's headers.

One process for the host, not one per network: each namespace gets only a listening socket
(made inside it, then handled here), one thread waits on all of them, and a small pool of
threads answers. A host with 1,000 networks pays 1,000 sockets, not 1,000 processes (see
bench/bench_metadata_proxy.py). The instance behind a request is found from its source
address in the network's table, which each reconcile refreshes from the network info the
agent already has: no server call per request.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import logging
import queue
import selectors
import socket
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler
from typing import Any

from neutrino.agent.dhcp.plan import METADATA_IP, METADATA_PORT, Instance
from neutrino.conf.settings import MetadataSettings
from neutrino.linux import host as linux_host

LOG = logging.getLogger(__name__)

MAX_BODY = 1 << 20  # Nova's metadata POSTs (a password) are tiny
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate",
                         "proxy-authorization", "te", "trailer", "transfer-encoding",
                         "upgrade", "host", "content-length"})


def sign(secret: str, instance_id: str) -> str:
    """X-Instance-ID-Signature as Nova checks it: HMAC-SHA256 of the id, in hex."""
    return hmac.new(secret.encode(), instance_id.encode(), hashlib.sha256).hexdigest()


def forwarded_headers(incoming: Mapping[str, str] | Message, client_ip: str,
                      instance: Instance, secret: str) -> dict[str, str]:
    """The headers sent to Nova: the VM's own, less every X- header (Nova trusts
    X-Instance-ID, X-Tenant-ID, X-Forwarded-For, X-Metadata-Provider...: none may come from
    a VM), every header with an `_` (WSGI servers may take X_Tenant_ID for X-Tenant-ID; no
    real client needs one) and hop-by-hop ones, plus the instance's."""
    headers = {name: value for name, value in incoming.items()
               if "_" not in name and not name.lower().startswith("x-")
               and name.lower() not in _HOP_BY_HOP}
    headers.update({
        "X-Forwarded-For": client_ip,
        "X-Instance-ID": instance.instance_id,
        "X-Tenant-ID": instance.tenant_id,
        "X-Instance-ID-Signature": sign(secret, instance.instance_id),
    })
    return headers


@dataclass
class _Listener:
    sock: socket.socket
    identity: tuple[int, int] | None  # the namespace it was made in


class MetadataProxy:
    def __init__(self, settings: MetadataSettings, workers: int = 8,
                 client_timeout: float = 10.0, nova_timeout: float = 30.0) -> None:
        self._settings = settings
        self._client_timeout = client_timeout
        self._nova_timeout = nova_timeout
        self._workers = workers
        # Connections one network may have open (answered or waiting): one VM opening many
        # cannot take every worker from the other networks.
        self._per_network = max(1, workers // 2)
        self._open: dict[str, int] = {}
        self._lock = threading.Lock()
        self._listeners: dict[str, _Listener] = {}
        self._tables: dict[str, dict[str, Instance]] = {}
        self._selector: selectors.BaseSelector | None = None
        # Changes to the selector are made by its own thread, between two waits.
        self._changes: queue.SimpleQueue[Callable[[selectors.BaseSelector], object]] = \
            queue.SimpleQueue()
        self._wake: tuple[socket.socket, socket.socket] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        if not self._settings.shared_secret:
            LOG.warning("metadata_proxy_shared_secret is empty: requests are signed with an "
                        "empty key, which anyone who reaches Nova's metadata API can forge")
        self._stop.clear()
        self._selector = selectors.DefaultSelector()
        self._wake = socket.socketpair()
        self._wake[0].setblocking(False)
        self._selector.register(self._wake[0], selectors.EVENT_READ, None)
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="metadata")
        self._thread = threading.Thread(target=self._loop, name="metadata-accept",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close every listener: the namespaces' metadata service stops with the agent and
        comes back with the next agent's first reconcile."""
        if self._thread is None:
            return
        self._stop.set()
        self._wake_up()
        self._thread.join(timeout=10)
        self._thread = None
        assert self._pool is not None and self._selector is not None
        self._pool.shutdown(wait=True)
        self._apply_changes(self._selector)  # closes what was removed meanwhile
        with self._lock:
            listeners = list(self._listeners.values())
            self._listeners.clear()
            self._tables.clear()
        for listener in listeners:
            listener.sock.close()
        self._selector.close()
        self._selector = None
        assert self._wake is not None
        for end in self._wake:
            end.close()
        self._wake = None

    # -- what the executor calls ---------------------------------------------------------

    def serve(self, network_id: str, namespace_path: str,
              instances: Mapping[str, Instance]) -> None:
        """Listen in the namespace (once per namespace) and answer for `instances`."""
        if self._thread is None:
            raise RuntimeError("the metadata proxy is not running")
        identity = linux_host.namespace_identity(namespace_path)
        with self._lock:
            self._tables[network_id] = dict(instances)
            current = self._listeners.get(network_id)
            if current is not None and current.identity == identity:
                return
        if current is not None:
            self._close(network_id, current)
        sock = linux_host.tcp_listener_in(namespace_path, METADATA_IP, METADATA_PORT)
        with self._lock:
            self._listeners[network_id] = _Listener(sock, identity)
        self._change(lambda sel: sel.register(sock, selectors.EVENT_READ, network_id))

    def remove(self, network_id: str) -> bool:
        with self._lock:
            self._tables.pop(network_id, None)
            listener = self._listeners.pop(network_id, None)
        if listener is None:
            return False
        self._close(network_id, listener)
        return True

    def listening(self) -> set[str]:
        with self._lock:
            return set(self._listeners)

    def _close(self, network_id: str, listener: _Listener) -> None:
        with self._lock:
            if self._listeners.get(network_id) is listener:
                del self._listeners[network_id]

        def unregister(sel: selectors.BaseSelector) -> None:
            try:
                sel.unregister(listener.sock)
            except (KeyError, ValueError):
                pass
            listener.sock.close()
        self._change(unregister)

    def _change(self, change: Callable[[selectors.BaseSelector], object]) -> None:
        if self._thread is None:
            raise RuntimeError("the metadata proxy is not running")
        self._changes.put(change)
        self._wake_up()

    def _wake_up(self) -> None:
        try:
            if self._wake is not None:
                self._wake[1].send(b"\0")
        except (BlockingIOError, OSError):
            pass  # already awake, or stopped

    # -- the accepting thread ------------------------------------------------------------

    def _loop(self) -> None:
        selector = self._selector
        assert selector is not None and self._pool is not None
        while not self._stop.is_set():
            for key, _events in selector.select(timeout=5):
                if key.data is None:
                    try:
                        while key.fileobj.recv(4096):  # type: ignore[union-attr]
                            pass
                    except BlockingIOError:
                        pass
                    continue
                self._accept(key.fileobj, str(key.data))  # type: ignore[arg-type]
            self._apply_changes(selector)

    def _apply_changes(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                change = self._changes.get_nowait()
            except queue.Empty:
                return
            try:
                change(selector)
            except (OSError, ValueError, KeyError) as e:  # this thread must go on
                LOG.warning("Metadata proxy: listener change failed: %s", e)

    def _accept(self, sock: socket.socket, network_id: str) -> None:
        assert self._pool is not None
        while True:
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:  # e.g. EMFILE: the next select tries again
                LOG.warning("Metadata proxy: accept failed on network %s: %s", network_id, e)
                return
            with self._lock:
                busy = self._open.get(network_id, 0) >= self._per_network
                if not busy:
                    self._open[network_id] = self._open.get(network_id, 0) + 1
            if busy:
                conn.close()
                continue
            conn.settimeout(self._client_timeout)
            self._pool.submit(self._handle, conn, address, network_id)

    def _handle(self, conn: socket.socket, address: tuple[str, int], network_id: str
                ) -> None:
        try:
            _Handler(conn, address, self, network_id)
        except Exception:  # noqa: BLE001 - one bad client never stops the proxy
            LOG.exception("Metadata proxy: request on network %s failed", network_id)
        finally:
            conn.close()
            with self._lock:
                left = self._open.get(network_id, 1) - 1
                if left:
                    self._open[network_id] = left
                else:
                    self._open.pop(network_id, None)

    # -- one request ---------------------------------------------------------------------

    def instance(self, network_id: str, client_ip: str) -> Instance | None:
        with self._lock:
            return self._tables.get(network_id, {}).get(client_ip)

    def forward(self, handler: _Handler) -> None:
        client_ip = handler.client_address[0]
        instance = self.instance(handler.network_id, client_ip)
        if instance is None:
            LOG.info("Metadata proxy: no instance has %s on network %s", client_ip,
                     handler.network_id)
            handler.reply(404, b"No instance has this address.\n")
            return
        if not handler.path.startswith("/"):
            handler.reply(400, b"Bad request target.\n")
            return
        if "chunked" in (handler.headers.get("Transfer-Encoding") or "").lower():
            handler.reply(411, b"A Content-Length is required.\n")
            return
        try:
            length = int(handler.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY:
            handler.reply(413 if length > MAX_BODY else 400, b"Bad request body.\n")
            return
        body = handler.rfile.read(length) if length else None
        headers = forwarded_headers(handler.headers, client_ip, instance,
                                    self._settings.shared_secret)
        settings = self._settings
        conn_class = (http.client.HTTPSConnection if settings.nova_protocol == "https"
                      else http.client.HTTPConnection)
        nova = conn_class(settings.nova_host, settings.nova_port, timeout=self._nova_timeout)
        try:
            nova.request(handler.command, handler.path, body=body, headers=headers)
            response = nova.getresponse()
            data = response.read()
            reply_headers = [(k, v) for k, v in response.getheaders()
                             if k.lower() not in _HOP_BY_HOP | {"date", "server"}]
        except (OSError, http.client.HTTPException) as e:
            LOG.warning("Metadata proxy: Nova's metadata API at %s:%s failed: %s",
                        settings.nova_host, settings.nova_port, e)
            handler.reply(503, b"The metadata service is unavailable.\n")
            return
        finally:
            nova.close()
        handler.reply(response.status, data, reply_headers, response.reason)


class _Handler(BaseHTTPRequestHandler):
    """Parses one request (HTTP/1.0: one per connection) and hands it to the proxy."""

    server_version = "neutrino-metadata-proxy"

    def __init__(self, conn: socket.socket, address: tuple[str, int], proxy: MetadataProxy,
                 network_id: str) -> None:
        self.proxy = proxy
        self.network_id = network_id
        # No socketserver here: the proxy's own loop accepted the connection.
        super().__init__(conn, address, None)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.proxy.forward(self)

    do_HEAD = do_POST = do_PUT = do_GET  # noqa: N815

    def reply(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
              reason: str | None = None) -> None:
        self.send_response(status, reason)
        for name, value in headers or [("Content-Type", "text/plain")]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        LOG.debug("Metadata proxy, network %s: %s", self.network_id, format % args)
