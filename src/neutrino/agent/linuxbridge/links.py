"""The host side of the agent: reading and changing links through `neutrino.linux`."""

from __future__ import annotations

from typing import Protocol

from neutrino.agent.linuxbridge.plan import Link
from neutrino.linux import links as linux_links
from neutrino.linux import rtnl
from neutrino.linux.host import HostNamespaces, read


class HostLinks(Protocol):
    def links(self) -> dict[str, Link]: ...
    def ensure_bridge(self, name: str) -> None: ...
    def ensure_vlan(self, interface: str, vlan: int, name: str) -> None: ...
    def enslave(self, device: str, bridge: str) -> None: ...
    def set_up(self, name: str) -> None: ...
    def delete(self, name: str) -> None: ...


class LinuxHostLinks:
    """`HostLinks` in a host's network namespace."""

    def __init__(self, host: HostNamespaces) -> None:
        self._host = host

    def links(self) -> dict[str, Link]:
        # One netlink dump per pass (the loop runs every second), on the host's kept
        # socket and decoded by `rtnl`: pyroute2 would decode every attribute of every link.
        return {name: Link(name, info["kind"], info["master"], info["up"])
                for name, info in read(self._host, rtnl.dump_links).items()}

    def ensure_bridge(self, name: str) -> None:
        linux_links.ensure_bridge(self._host, name)

    def ensure_vlan(self, interface: str, vlan: int, name: str) -> None:
        linux_links.ensure_vlan(self._host, interface, vlan, name)

    def enslave(self, device: str, bridge: str) -> None:
        linux_links.enslave(self._host, device, bridge)

    def set_up(self, name: str) -> None:
        linux_links.set_up(self._host, name)

    def delete(self, name: str) -> None:
        linux_links.delete_link(self._host, name)
