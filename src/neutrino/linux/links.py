"""Links: bridges, VLAN devices, veth pairs, their MACs, MTUs and addresses.

Each function does one idempotent thing in a `HostNamespaces`: in the host's own network
namespace, or in one of its named namespaces when `namespace` is given.
"""

from __future__ import annotations

import errno
import ipaddress
from collections.abc import Iterable
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from neutrino.linux.host import HostNamespaces, netlink, run
from neutrino.linux.rtnl import DumpedLink, LinkInfo

IFA_F_NODAD = 0x02  # linux/if_addr.h


class LinkNotFound(LookupError):
    pass


def _index(ipr: IPRoute, name: str) -> int | None:
    # A direct RTM_GETLINK by name: link_lookup would dump every link of the namespace.
    try:
        index: int = ipr.link("get", ifname=name)[0]["index"]
        return index
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return None
        raise


def _require(ipr: IPRoute, name: str) -> int:
    index = _index(ipr, name)
    if index is None:
        raise LinkNotFound(name)
    return index


def list_links(host: HostNamespaces, prefix: str = "",
               namespace: str | None = None) -> list[str]:
    names = run(host, lambda ipr: [link.get("ifname") for link in ipr.link("dump")],
                namespace)
    return sorted(n for n in names if n and n.startswith(prefix))


def link_exists(host: HostNamespaces, name: str, namespace: str | None = None) -> bool:
    return run(host, lambda ipr: _index(ipr, name) is not None, namespace)


def _describe(link: dict[str, Any], names: dict[int, str | None]) -> LinkInfo:
    linkinfo = link.get("IFLA_LINKINFO")
    master = link.get("IFLA_MASTER")
    return {
        "mac": link.get("IFLA_ADDRESS"),
        "mtu": link.get("IFLA_MTU"),
        "up": bool(link["flags"] & 1),
        "master": names.get(master) if master else None,
        "kind": linkinfo.get("IFLA_INFO_KIND") if linkinfo else None,
    }


def link_info(host: HostNamespaces, name: str, namespace: str | None = None
              ) -> LinkInfo | None:
    """{"mac", "mtu", "up", "master" (bridge name or None), "kind"} of a link, or None."""
    def read(ipr: IPRoute) -> LinkInfo | None:
        index = _index(ipr, name)
        if index is None:
            return None
        link = ipr.link("get", index=index)[0]
        master_index = link.get("IFLA_MASTER")
        names = {}
        if master_index:
            names[master_index] = ipr.link("get", index=master_index)[0].get("IFLA_IFNAME")
        return _describe(link, names)
    return run(host, read, namespace)


def links_info(host: HostNamespaces, prefix: str = "",
               namespace: str | None = None) -> dict[str, LinkInfo]:
    """`link_info` of every link whose name starts with `prefix`, in one netlink dump."""
    dump = run(host, lambda ipr: list(ipr.link("dump")), namespace)
    names = {link["index"]: link.get("IFLA_IFNAME") for link in dump}
    return {link.get("IFLA_IFNAME"): _describe(link, names) for link in dump
            if link.get("IFLA_IFNAME") and link.get("IFLA_IFNAME").startswith(prefix)}


def _add(ipr: IPRoute, **spec: object) -> bool:
    try:
        ipr.link("add", **spec)
    except NetlinkError as e:
        if e.code == errno.EEXIST:
            return False
        raise
    return True


def ensure_bridge(host: HostNamespaces, name: str) -> bool:
    """Create bridge `name` (up) unless it exists; True when created."""
    def make(ipr: IPRoute) -> bool:
        created = _add(ipr, ifname=name, kind="bridge")
        ipr.link("set", index=_require(ipr, name), state="up")
        return created
    return run(host, make)


def delete_link(host: HostNamespaces, name: str, namespace: str | None = None) -> bool:
    """Delete a link if it is there (a veth takes its peer along); True when deleted."""
    return run(host, lambda ipr: delete_in(ipr, name), namespace)


def ensure_vlan(host: HostNamespaces, interface: str, vlan: int, name: str) -> bool:
    """Create VLAN device `name` for `vlan` on `interface` (up) unless there; True if created."""
    def make(ipr: IPRoute) -> bool:
        parent = _require(ipr, interface)
        created = _add(ipr, ifname=name, kind="vlan", link=parent, vlan_id=vlan)
        ipr.link("set", index=_require(ipr, name), state="up")
        return created
    return run(host, make)


def enslave(host: HostNamespaces, device: str, bridge: str) -> None:
    """Make `device` a port of `bridge` (a no-op when it already is)."""
    run(host, lambda ipr: ipr.link("set", index=_require(ipr, device),
                                   master=_require(ipr, bridge)))


def set_up(host: HostNamespaces, name: str, namespace: str | None = None) -> None:
    run(host, lambda ipr: ipr.link("set", index=_require(ipr, name), state="up"), namespace)


def set_mac(host: HostNamespaces, name: str, mac: str, namespace: str | None = None) -> None:
    def change(ipr: IPRoute) -> None:
        index = _require(ipr, name)
        current = ipr.link("get", index=index)[0].get("IFLA_ADDRESS")
        if current != mac.lower():
            ipr.link("set", index=index, address=mac)
    run(host, change, namespace)


def set_mtu(host: HostNamespaces, name: str, mtu: int, namespace: str | None = None) -> None:
    run(host, lambda ipr: ipr.link("set", index=_require(ipr, name), mtu=mtu), namespace)


def ensure_veth(host: HostNamespaces, name: str, peer: str, peer_namespace: str,
                peer_mac: str | None = None, mtu: int | None = None) -> bool:
    """A veth pair: `name` in the host's namespace, `peer` in the named `peer_namespace`.

    A half-made pair (one end missing) is replaced. True when the pair was created.
    """
    peer_path = host.namespace_path(peer_namespace)
    if link_exists(host, name):
        if link_exists(host, peer, peer_namespace):
            return False
        delete_link(host, name)
    peer_spec: dict[str, object] = {"ifname": peer, "net_ns_fd": peer_path}
    if peer_mac:
        peer_spec["address"] = peer_mac
    spec: dict[str, object] = {"ifname": name, "kind": "veth", "peer": peer_spec}
    if mtu:
        spec["mtu"] = mtu
        peer_spec["mtu"] = mtu
    run(host, lambda ipr: ipr.link("add", **spec))
    return True


def _network(cidr: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(cidr)


def set_addresses(host: HostNamespaces, name: str, cidrs: Iterable[str],
                  namespace: str | None = None) -> None:
    """Make `cidrs` (e.g. "10.0.0.2/24") exactly the addresses of `name`.

    IPv6 link-local addresses are the kernel's and stay.
    """
    wanted = list(cidrs)
    run(host, lambda ipr: converge_addresses(ipr, name, wanted), namespace)


def get_addresses(host: HostNamespaces, name: str, namespace: str | None = None) -> list[str]:
    def read(ipr: IPRoute) -> list[str]:
        return sorted(f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                      for a in ipr.get_addr(index=_require(ipr, name)))
    return run(host, read, namespace)


# -- several steps on one client ---------------------------------------------------------
# A DHCP reconcile checks a dozen things in a namespace; one client for all of them saves
# opening one per step (a thread, a setns and pyroute2's set-up each).

session = netlink  # `with session(host, namespace) as ipr:` one client for several steps


def dump_links(ipr: IPRoute) -> dict[str, DumpedLink]:
    """`link_info` of every link the client sees, plus its "index"."""
    dump = list(ipr.link("dump"))
    names = {link["index"]: link.get("IFLA_IFNAME") for link in dump}
    return {link.get("IFLA_IFNAME"): DumpedLink(**_describe(link, names), index=link["index"])
            for link in dump if link.get("IFLA_IFNAME")}


def set_link(ipr: IPRoute, name: str, **attrs: object) -> None:
    """Change a link's attributes (state="up", address=..., mtu=...)."""
    ipr.link("set", index=_require(ipr, name), **attrs)


def delete_in(ipr: IPRoute, name: str) -> bool:
    """`delete_link` on a client already open."""
    index = _index(ipr, name)
    if index is None:
        return False
    try:
        ipr.link("del", index=index)
    except NetlinkError as e:
        if e.code == errno.ENODEV:
            return False
        raise
    return True


def converge_addresses(ipr: IPRoute, name: str, cidrs: Iterable[str]) -> None:
    """`set_addresses` on a client already open."""
    wanted = {_network(c) for c in cidrs}
    index = _require(ipr, name)
    present = set()
    for addr in ipr.get_addr(index=index):
        iface = _network(f"{addr.get('IFA_ADDRESS')}/{addr['prefixlen']}")
        if iface.version == 6 and iface.ip.is_link_local:
            continue
        present.add(iface)
    for iface in present - wanted:
        ipr.addr("del", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen)
    for iface in sorted(wanted - present, key=str):
        # IPv6: usable at once (no duplicate address detection): the addresses come from
        # IPAM, and a tentative one would keep dnsmasq from serving its subnet for a while.
        extra = {"flags": IFA_F_NODAD} if iface.version == 6 else {}
        ipr.addr("add", index=index, address=str(iface.ip), prefixlen=iface.network.prefixlen,
                 **extra)
