"""Where host side effects happen: the host's network namespace and its named namespaces."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyroute2 import IPRoute

_CLONE_NEWNET = 0x40000000
_NETLINK_ROUTE = 0
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


@dataclass(frozen=True)
class HostNamespaces:
    """The host an agent acts for.

    `netns` is the path of the network namespace the host's own links live in (None: the
    caller's); `netns_dir` is where named namespaces (`qdhcp-...`) are kept as nsfs bind
    mounts. Several hosts can share one machine by each having their own pair.
    """

    netns: str | None = None
    netns_dir: str = "/run/netns"

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
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if _libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {path}: {os.strerror(err)}")
            finally:
                os.close(fd)
            made.append(socket.socket(family, kind, proto))
        except OSError as e:
            errors.append(e)

    worker = threading.Thread(target=enter_and_create, name="netns-socket", daemon=True)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]
    return made[0]


@contextmanager
def netlink(host: HostNamespaces, namespace: str | None = None) -> Iterator[IPRoute]:
    """An rtnetlink client in the host's namespace, or in one of its named namespaces.

    A missing namespace raises FileNotFoundError; it is never created by accident.
    """
    path = host.netns_path(namespace)
    if path is None:
        ipr = IPRoute()
    else:
        sock = socket_in(path)
        try:
            ipr = IPRoute(fileno=sock.detach())
        except BaseException:
            sock.close()
            raise
    try:
        yield ipr
    finally:
        ipr.close()
