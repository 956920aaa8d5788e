"""Where host side effects happen: the host's network namespace and its named namespaces."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyroute2 import IPRoute, NetNS


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


@contextmanager
def netlink(host: HostNamespaces, namespace: str | None = None) -> Iterator[IPRoute]:
    """A netlink socket in the host's namespace, or in one of its named namespaces."""
    path = host.netns_path(namespace)
    # flags=0: never create a namespace by accident (pyroute2's default is O_CREAT).
    ipr = IPRoute() if path is None else NetNS(path, flags=0)
    try:
        yield ipr
    finally:
        ipr.close()
