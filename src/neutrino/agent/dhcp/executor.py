"""Applies a `NetworkPlan` to the host, and tears a network down. The only side effects.

`DhcpHost` is the interface the reconciler uses; `LinuxDhcpHost` is the real one.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import os
import shutil
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from neutrino.agent.dhcp import validate
from neutrino.agent.dhcp.metadata import MetadataProxy
from neutrino.agent.dhcp.plan import NetworkPlan, conf_files, stale_leases, stale_leases6
from neutrino.lib import naming
from neutrino.linux import dhcp_release, dnsmasq, files, links, netns, rtnl
from neutrino.linux.host import HostNamespaces, write_sysctls_in
from neutrino.linux.host import read as rtnl_read

LOG = logging.getLogger(__name__)

_NS_PREFIX = "qdhcp-"

# What a network's links were made from: the namespace's (st_dev, st_ino), then the plan's
# bridge, tap, interface, mac, mtu and addresses.
LinksKey = tuple[int, int, str, str, str, str, int | None, tuple[str, ...]]


def _is_network_id(name: str) -> bool:
    try:
        validate.check_id(name)
    except validate.Unsafe:
        return False
    return True


class DnsmasqAction(enum.Enum):
    NONE = "none"
    START = "start"
    RELOAD = "reload"
    RESTART = "restart"


def dnsmasq_action(running_argv: list[str] | None, wanted_argv: tuple[str, ...],
                   files_changed: bool) -> DnsmasqAction:
    """Keep a running dnsmasq whenever its command line is still right: a port change is a
    SIGHUP (same pid, leases kept); only a changed command line (subnets, interface, lease
    time) needs a restart."""
    if running_argv is None:
        return DnsmasqAction.START
    if tuple(running_argv) != tuple(wanted_argv):
        return DnsmasqAction.RESTART
    return DnsmasqAction.RELOAD if files_changed else DnsmasqAction.NONE


@dataclass(frozen=True)
class Applied:
    pid: int
    action: DnsmasqAction


class DhcpHost(Protocol):
    def existing_networks(self) -> set[str]:
        """Networks with anything of ours on the host (namespace, files)."""

    def apply(self, plan: NetworkPlan) -> Applied:
        """Make the host match the plan; idempotent."""

    def teardown(self, network_id: str) -> bool:
        """Stop dnsmasq, remove devices, namespace and files; True if anything was there."""

    def serving(self, network_id: str) -> int | None:
        """The pid of the network's running dnsmasq, if any."""


class LinuxDhcpHost:
    """The real host: namespaces, veth, bridge, files and dnsmasq through `neutrino.linux`."""

    def __init__(self, host: HostNamespaces, confs_dir: str,
                 verify_links_every: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 metadata: MetadataProxy | None = None) -> None:
        self._host = host
        self._metadata = metadata
        self._confs_dir = confs_dir
        self._verify_every = verify_links_every
        self._clock = clock
        # network -> (what its links were made from, when they were last checked). A port
        # change must reach dnsmasq in milliseconds, and re-reading both veth ends, the
        # bridge and the addresses costs a dozen netlink round trips: the links are checked
        # when what they are made from changes, at an agent's start, after a failure, and
        # otherwise every `verify_links_every` seconds.
        self._links_checked: dict[str, tuple[LinksKey, float]] = {}
        # network -> the namespace (st_dev, st_ino), ns- end name and index its sysctls
        # were written for.
        self._sysctls_written: dict[str, tuple[int, int, str, object]] = {}
        self._no_ipv6_logged = False

    def existing_networks(self) -> set[str]:
        found = {n[len(_NS_PREFIX):] for n in netns.list_namespaces(self._host, _NS_PREFIX)}
        try:
            found |= {d for d in os.listdir(self._confs_dir)
                      if os.path.isdir(os.path.join(self._confs_dir, d))}
        except FileNotFoundError:
            pass
        # Anything else in those directories (lost+found, an operator's backup) is not ours.
        return {n for n in found if _is_network_id(n)}

    def serving(self, network_id: str) -> int | None:
        found = dnsmasq.find(conf_files(self._confs_dir, network_id).pid)
        return found[0] if found else None

    def _links_key(self, plan: NetworkPlan) -> LinksKey | None:
        try:
            st = os.stat(self._host.namespace_path(plan.namespace))
        except FileNotFoundError:
            return None
        # The nsfs inode: a namespace deleted and made again is checked again.
        return (st.st_dev, st.st_ino, plan.bridge, plan.tap, plan.interface, plan.mac,
                plan.mtu, tuple(plan.addresses))

    def apply(self, plan: NetworkPlan) -> Applied:
        key = self._links_key(plan)
        checked = self._links_checked.get(plan.network_id)
        if (key is None or checked is None or checked[0] != key
                or self._clock() - checked[1] >= self._verify_every):
            self._links_checked.pop(plan.network_id, None)
            self._apply_links(plan)
            key = self._links_key(plan)
            if key is not None:
                self._links_checked[plan.network_id] = (key, self._clock())
        try:
            applied = self._apply_dnsmasq(plan)
            self._apply_metadata(plan)
        except BaseException:
            self._links_checked.pop(plan.network_id, None)
            raise
        return applied

    def _apply_metadata(self, plan: NetworkPlan) -> None:
        if self._metadata is None:
            if plan.metadata is not None:
                raise RuntimeError("the plan serves metadata but the agent has no proxy")
            return
        if plan.metadata is None:
            self._metadata.remove(plan.network_id)
        else:
            self._metadata.serve(plan.network_id, self._host.namespace_path(plan.namespace),
                                 plan.metadata)

    def _apply_links(self, plan: NetworkPlan) -> None:
        host = self._host
        netns.ensure_namespace(host, plan.namespace)
        # Read everything with plain netlink sockets (a fraction of a millisecond) and use
        # pyroute2 only for what differs: most reconciles change nothing.
        # Mappings: a link missing after it was made reads as {} (nothing of it is right).
        bridge: Mapping[str, object] | None
        tap: Mapping[str, object] | None
        bridge, tap = rtnl_read(host, lambda s: (rtnl.get_link(s, plan.bridge),
                                                 rtnl.get_link(s, plan.tap)))
        if bridge is None or not bridge["up"]:
            # Idempotent with the Linux bridge agent, which adds uplinks to it.
            links.ensure_bridge(host, plan.bridge)
            bridge = rtnl_read(host, lambda s: rtnl.get_link(s, plan.bridge)) or {}
        inside, addresses = self._read_inside(plan)
        if tap is None or plan.interface not in inside:
            links.ensure_veth(host, plan.tap, plan.interface, plan.namespace,
                              peer_mac=plan.mac, mtu=plan.mtu)
            tap = rtnl_read(host, lambda s: rtnl.get_link(s, plan.tap))
            inside, addresses = self._read_inside(plan)
        tap = tap or {}
        inner: Mapping[str, object] = inside.get(plan.interface) or {}
        self._write_sysctls(plan, inner.get("index"))
        lo: Mapping[str, object] = inside.get("lo") or {}
        stale = [n for n in inside if n.startswith("ns-") and n != plan.interface]
        wanted = {str(ipaddress.ip_interface(a)) for a in plan.addresses}
        # IPv6 link-local addresses are the kernel's and stay.
        present = {a for a in addresses if not (ipaddress.ip_interface(a).version == 6 and
                                                ipaddress.ip_interface(a).is_link_local)}
        if (stale or not lo.get("up") or inner.get("mac") != plan.mac
                or (plan.mtu and inner.get("mtu") != plan.mtu) or not inner.get("up")
                or present != wanted):
            with links.session(host, plan.namespace) as ipr:
                if not lo.get("up"):
                    links.set_link(ipr, "lo", state="up")
                # A DHCP port replaced by another (new id) leaves an old ns- device behind.
                for name in stale:
                    links.delete_in(ipr, name)
                if inner.get("mac") != plan.mac:
                    links.set_link(ipr, plan.interface, address=plan.mac)
                if plan.mtu and inner.get("mtu") != plan.mtu:
                    links.set_link(ipr, plan.interface, mtu=plan.mtu)
                if not inner.get("up"):
                    links.set_link(ipr, plan.interface, state="up")
                links.converge_addresses(ipr, plan.interface, plan.addresses)
        if plan.mtu and tap.get("mtu") != plan.mtu:
            links.set_mtu(host, plan.tap, plan.mtu)
        if tap.get("master") is None or tap.get("master") != bridge.get("index"):
            links.enslave(host, plan.tap, plan.bridge)
        if not tap.get("up"):
            links.set_up(host, plan.tap)

    def _write_sysctls(self, plan: NetworkPlan, index: object) -> None:
        """As Neutron: the DHCP port takes no addresses from router advertisements (a
        router's, or its own when it sends them); it has the port's addresses only.

        Sysctls live as long as the namespace and the link: written once for each
        (namespace, ns- end) this process sees, not on every links check (a thread and a
        namespace switch)."""
        path = self._host.namespace_path(plan.namespace)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return  # gone under us: the next reconcile makes it again
        if index is None:
            return  # no ns- end (the link steps below fail and the check is retried)
        made = (st.st_dev, st.st_ino, plan.interface, index)
        if self._sysctls_written.get(plan.network_id) == made:
            return
        try:
            write_sysctls_in(path, {"ipv6/conf/default/accept_ra": "0",
                                    f"ipv6/conf/{plan.interface}/accept_ra": "0"})
        except FileNotFoundError:
            # A host booted with ipv6.disable=1 has no IPv6 sysctls: no RAs to refuse.
            if not self._no_ipv6_logged:
                self._no_ipv6_logged = True
                LOG.debug("no IPv6 sysctls in %s (IPv6 disabled?): accept_ra left alone",
                          plan.namespace)
        self._sysctls_written[plan.network_id] = made

    def _read_inside(self, plan: NetworkPlan) -> tuple[dict[str, rtnl.DumpedLink], list[str]]:
        def read(sock: socket.socket) -> tuple[dict[str, rtnl.DumpedLink], list[str]]:
            inside = rtnl.dump_links(sock)
            inner = inside.get(plan.interface)
            return inside, rtnl.addresses(sock, inner["index"]) if inner else []
        return rtnl_read(self._host, read, plan.namespace)

    def _apply_dnsmasq(self, plan: NetworkPlan) -> Applied:
        host = self._host
        os.makedirs(plan.files.directory, mode=0o755, exist_ok=True)
        changed = files.write_atomic(plan.files.hosts, plan.hosts)
        changed = files.write_atomic(plan.files.opts, plan.opts) or changed
        changed = files.write_atomic(plan.files.dns_hosts, plan.dns_hosts) or changed
        running = dnsmasq.find(plan.files.pid)
        action = dnsmasq_action(running[1] if running else None, plan.argv, changed)
        if action is DnsmasqAction.RESTART:
            dnsmasq.stop(plan.files.pid)
        if action in (DnsmasqAction.START, DnsmasqAction.RESTART):
            pid = dnsmasq.start(host, plan.namespace, list(plan.argv), plan.files.pid)
        else:
            assert running is not None
            pid = running[0]
            # Also without a reload: an agent that died between writing the files and
            # releasing the leases catches up here.
            self._release_stale(plan)
            if action is DnsmasqAction.RELOAD:
                dnsmasq.reload(pid)
        return Applied(pid, action)

    def _release_stale(self, plan: NetworkPlan) -> None:
        leases = files.read_text(plan.files.leases)
        for lease6 in stale_leases6(leases, plan):
            try:
                dhcp_release.release6(self._host, plan.namespace, plan.interface, lease6.ip,
                                      lease6.iaid, lease6.client_duid, lease6.server_duid)
            except OSError as e:
                LOG.warning("Network %s: could not release the DHCPv6 lease of %s: %s",
                            plan.network_id, lease6.ip, e)
        for lease in stale_leases(leases, plan):
            try:
                dhcp_release.release(self._host, plan.namespace, plan.interface,
                                     lease.server_ip, lease.ip, lease.mac,
                                     dhcp_release.parse_client_id(lease.client_id))
            except OSError as e:  # the lease then ends on its own
                LOG.warning("Network %s: could not release the lease of %s (%s): %s",
                            plan.network_id, lease.ip, lease.mac, e)

    def teardown(self, network_id: str) -> bool:
        self._links_checked.pop(network_id, None)
        self._sysctls_written.pop(network_id, None)
        host = self._host
        conf = conf_files(self._confs_dir, network_id)
        namespace = naming.dhcp_namespace(network_id)
        removed = dnsmasq.stop(conf.pid)
        if self._metadata is not None:
            removed = self._metadata.remove(network_id) or removed
        if netns.namespace_exists(host, namespace):
            # Deleting the ns- end takes the host's tap with it.
            for device in links.list_links(host, "ns-", namespace=namespace):
                links.delete_link(host, device, namespace=namespace)
        removed = netns.delete_namespace(host, namespace) or removed
        if os.path.isdir(conf.directory):
            shutil.rmtree(conf.directory)
            removed = True
        return removed
