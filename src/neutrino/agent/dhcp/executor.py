"""Applies a `NetworkPlan` to the host, and tears a network down. The only side effects.

`DhcpHost` is the interface the reconciler uses; `LinuxDhcpHost` is the real one.
"""

from __future__ import annotations

import enum
import logging
import os
import shutil
from dataclasses import dataclass
from typing import Protocol

from neutrino.agent.dhcp import validate
from neutrino.agent.dhcp.plan import NetworkPlan, conf_files, stale_leases
from neutrino.lib import naming
from neutrino.linux import dhcp_release, dnsmasq, files, links, netns
from neutrino.linux.host import HostNamespaces

LOG = logging.getLogger(__name__)

_NS_PREFIX = "qdhcp-"


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

    def __init__(self, host: HostNamespaces, confs_dir: str) -> None:
        self._host = host
        self._confs_dir = confs_dir

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

    def apply(self, plan: NetworkPlan) -> Applied:
        host = self._host
        netns.ensure_namespace(host, plan.namespace)
        links.set_up(host, "lo", namespace=plan.namespace)
        # A DHCP port replaced by another (new id) leaves an old ns- device behind.
        for stale in links.list_links(host, "ns-", namespace=plan.namespace):
            if stale != plan.interface:
                links.delete_link(host, stale, namespace=plan.namespace)
        # Creating the bridge is idempotent with the Linux bridge agent, which adds uplinks.
        links.ensure_bridge(host, plan.bridge)
        links.ensure_veth(host, plan.tap, plan.interface, plan.namespace, peer_mac=plan.mac,
                          mtu=plan.mtu)
        # Read both ends once and change only what differs: most reconciles change nothing.
        tap = links.link_info(host, plan.tap) or {}
        inner = links.link_info(host, plan.interface, namespace=plan.namespace) or {}
        if inner.get("mac") != plan.mac:
            links.set_mac(host, plan.interface, plan.mac, namespace=plan.namespace)
        if plan.mtu and tap.get("mtu") != plan.mtu:
            links.set_mtu(host, plan.tap, plan.mtu)
        if plan.mtu and inner.get("mtu") != plan.mtu:
            links.set_mtu(host, plan.interface, plan.mtu, namespace=plan.namespace)
        if tap.get("master") != plan.bridge:
            links.enslave(host, plan.tap, plan.bridge)
        if not tap.get("up"):
            links.set_up(host, plan.tap)
        if not inner.get("up"):
            links.set_up(host, plan.interface, namespace=plan.namespace)
        links.set_addresses(host, plan.interface, plan.addresses, namespace=plan.namespace)

        os.makedirs(plan.files.directory, mode=0o755, exist_ok=True)
        changed = files.write_atomic(plan.files.hosts, plan.hosts)
        changed = files.write_atomic(plan.files.opts, plan.opts) or changed
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
        for lease in stale_leases(files.read_text(plan.files.leases), plan):
            try:
                dhcp_release.release(self._host, plan.namespace, plan.interface,
                                     lease.server_ip, lease.ip, lease.mac,
                                     dhcp_release.parse_client_id(lease.client_id))
            except OSError as e:  # the lease then ends on its own
                LOG.warning("Network %s: could not release the lease of %s (%s): %s",
                            plan.network_id, lease.ip, lease.mac, e)

    def teardown(self, network_id: str) -> bool:
        host = self._host
        conf = conf_files(self._confs_dir, network_id)
        namespace = naming.dhcp_namespace(network_id)
        removed = dnsmasq.stop(conf.pid)
        if netns.namespace_exists(host, namespace):
            # Deleting the ns- end takes the host's tap with it.
            for device in links.list_links(host, "ns-", namespace=namespace):
                links.delete_link(host, device, namespace=namespace)
        removed = netns.delete_namespace(host, namespace) or removed
        if os.path.isdir(conf.directory):
            shutil.rmtree(conf.directory)
            removed = True
        return removed
