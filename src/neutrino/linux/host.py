"""Where host side effects happen: the host's network namespace and its named namespaces."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

_CLONE_NEWNET = 0x40000000
_NETLINK_ROUTE = 0
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
T = TypeVar("T")


class _SharedNetlink:
    """The one rtnetlink client of a host's own namespace, kept between calls.

    Opening a client in another namespace costs a thread, a setns and pyroute2's set-up, and
    the Linux bridge agent's loop and every DHCP reconcile would pay it several times a pass.
    pyroute2 (0.9) keeps a socket and event loop per *thread* of an IPRoute, so one client
    shared by threads is not one socket (and one built on a passed fd breaks when a second
    thread uses it). So the client lives in one thread of its own, which entered the
    namespace and opened it there; callers hand it their requests and wait for the result,
    which also keeps one caller's request and reply from interleaving with another's.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._thread: int | None = None
        self._ipr: IPRoute | None = None
        self._raw: socket.socket | None = None
        self._identity: tuple[int, int] | None = None  # the namespace the client is in
        self.opened = 0  # clients opened so far (for tests and benchmarks)

    def run(self, path: str | None, fn: Callable[[IPRoute], T], raw: bool = False) -> T:
        """`fn(client)` in the client's thread; with `raw`, `fn` gets a plain rtnetlink
        socket in the same namespace instead (for `rtnl` reads)."""
        if threading.get_ident() == self._thread:
            return self._call(path, fn, raw)  # a request made from inside a request
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="netlink",
                    initializer=self._started)
            executor = self._executor
        return executor.submit(self._call, path, fn, raw).result()

    def _started(self) -> None:
        self._thread = threading.get_ident()

    def _call(self, path: str | None, fn: Callable[[Any], T], raw: bool) -> T:
        # Runs in the client's thread only.
        identity = _identity(path)
        if self._ipr is not None and identity != self._identity:
            # The namespace at `path` was deleted or replaced: the old client must neither
            # answer for it nor keep it alive.
            self._drop()
        if self._ipr is None:
            if path is not None:
                _enter(path)
            self._ipr = IPRoute()
            self._raw = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_ROUTE)
            self._identity = identity
            self.opened += 1
        try:
            return fn(self._raw if raw else self._ipr)
        except (NetlinkError, LookupError):
            raise  # the kernel answered, or the caller found no link: the socket is fine
        except BaseException:
            # A socket error, or a request cut short: its reply may still be queued.
            self._drop()
            raise

    def _drop(self) -> None:
        ipr, self._ipr = self._ipr, None
        raw, self._raw = self._raw, None
        if raw is not None:
            raw.close()
        if ipr is not None:
            try:
                ipr.close()
            except Exception:  # noqa: BLE001 - already broken; a new one is opened next
                pass

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._drop).result()
            executor.shutdown(wait=True)
            self._thread = None


def _identity(path: str | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _enter(path: str) -> None:
    """Move the calling thread (only) into the network namespace at `path`."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


@dataclass(frozen=True)
class HostNamespaces:
    """The host an agent acts for.

    `netns` is the path of the network namespace the host's own links live in (None: the
    caller's); `netns_dir` is where named namespaces (`qdhcp-...`) are kept as nsfs bind
    mounts. Several hosts can share one machine by each having their own pair.
    """

    netns: str | None = None
    netns_dir: str = "/run/netns"
    _netlink: _SharedNetlink = field(default_factory=_SharedNetlink, init=False,
                                     repr=False, compare=False)

    def close(self) -> None:
        """Close the kept netlink client (it is reopened if the host is used again)."""
        self._netlink.close()

    def namespace_path(self, name: str) -> str:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"bad namespace name {name!r}")
        return os.path.join(self.netns_dir, name)

    def netns_path(self, namespace: str | None = None) -> str | None:
        """The path of a named namespace, or of the host's own one when `namespace` is None."""
        return self.netns if namespace is None else self.namespace_path(namespace)


def socket_in(path: str, family: int = socket.AF_NETLINK, kind: int = socket.SOCK_DGRAM,
              proto: int = _NETLINK_ROUTE) -> socket.socket:
    """A socket created inside the network namespace at `path` (rtnetlink by default).

    A socket stays in the namespace it was created in, so a short-lived thread enters the
    namespace (setns moves only the calling thread) and makes it. pyroute2's NetNS forks a
    child instead, which is slower and unsafe in a process with many threads.
    """
    made: list[socket.socket] = []
    errors: list[OSError] = []

    def enter_and_create() -> None:
        try:
            _enter(path)
            made.append(socket.socket(family, kind, proto))
        except OSError as e:
            errors.append(e)

    worker = threading.Thread(target=enter_and_create, name="netns-socket", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return made[0]


def tcp_listener_in(path: str, address: str, port: int, backlog: int = 128
                    ) -> socket.socket:
    """A listening TCP socket on `address`:`port` inside the namespace at `path`, for a
    server that runs in this process whatever namespace its clients are in."""
    sock = socket_in(path, socket.AF_INET, socket.SOCK_STREAM, 0)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def write_sysctls_in(path: str, values: dict[str, str]) -> None:
    """Write /proc/sys/net values (e.g. {"ipv6/conf/default/accept_ra": "0"}) inside the
    namespace at `path`: /proc/sys/net shows the namespace of the thread that opens it."""
    errors: list[OSError] = []

    def enter_and_write() -> None:
        try:
            _enter(path)
            for key, value in values.items():
                if ".." in key.split("/"):
                    raise OSError(f"bad sysctl {key!r}")
                with open(os.path.join("/proc/sys/net", key), "w") as f:
                    f.write(value)
        except OSError as e:
            errors.append(e)

    worker = threading.Thread(target=enter_and_write, name="netns-sysctl", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]


def namespace_identity(path: str) -> tuple[int, int] | None:
    """The nsfs inode of the namespace at `path` (a namespace made again differs)."""
    return _identity(path)


def _open(path: str) -> IPRoute:
    sock = socket_in(path)
    try:
        return IPRoute(fileno=sock.detach())
    except BaseException:
        sock.close()
        raise


def run(host: HostNamespaces, fn: Callable[[IPRoute], T], namespace: str | None = None) -> T:
    """`fn(client)` with an rtnetlink client in the host's namespace, or in a named one.

    The host's own client is kept and shared (see `_SharedNetlink`): `fn` runs in its thread
    and must not block on other threads. A named namespace gets a client for the call only,
    since an open socket would keep a deleted namespace alive. A missing namespace raises
    FileNotFoundError; it is never created by accident.
    """
    if namespace is None:
        return host._netlink.run(host.netns, fn)
    with netlink(host, namespace) as ipr:
        return fn(ipr)


@contextmanager
def netlink(host: HostNamespaces, namespace: str) -> Iterator[IPRoute]:
    """A client of its own in one of the host's named namespaces, for one thread's use."""
    ipr = _open(host.namespace_path(namespace))
    try:
        yield ipr
    finally:
        ipr.close()


def read(host: HostNamespaces, fn: Callable[[socket.socket], T],
         namespace: str | None = None) -> T:
    """`fn(sock)` with a plain rtnetlink socket (see `rtnl`) in the host's namespace (the
    kept client's thread and namespace) or in a named one (a socket for the call)."""
    if namespace is None:
        return host._netlink.run(host.netns, fn, raw=True)
    sock = socket_in(host.namespace_path(namespace))
    try:
        return fn(sock)
    finally:
        sock.close()
