"""The host side of security groups: reading and changing iptables and ipsets through
`neutrino.linux.iptables`, in the order `firewall_plan.Changes` needs."""

from __future__ import annotations

from typing import Protocol

from neutrino.agent.linuxbridge.firewall_diff import (
    Changes,
    Installed,
    installed_from,
    ipset_text,
    restore_text,
)
from neutrino.agent.linuxbridge.firewall_flows import Flow, conntrack_filter
from neutrino.agent.linuxbridge.firewall_plan import TABLE_FAMILIES
from neutrino.linux import conntrack, iptables
from neutrino.linux.host import HostNamespaces


class HostFirewall(Protocol):
    def installed(self) -> Installed: ...
    def apply(self, changes: Changes) -> None: ...
    def forget(self, flows: list[Flow]) -> None: ...


class IptablesFirewall:
    """`HostFirewall` in a host's network namespace."""

    def __init__(self, host: HostNamespaces) -> None:
        self._host = host

    def installed(self) -> Installed:
        iptables.enable_bridge_netfilter(self._host)
        saves = {family: iptables.save(self._host, family) for family in TABLE_FAMILIES}
        return installed_from(saves, iptables.ipset_save(self._host))

    def apply(self, changes: Changes) -> None:
        # Sets first (new rules refer to them), chains next, unused sets last.
        text = ipset_text(changes)
        if text:
            iptables.ipset_restore(self._host, text)
        for family in TABLE_FAMILIES:
            text = restore_text(changes, family)
            if text:
                iptables.restore(self._host, family, text)
        for name in changes.destroy_sets:
            iptables.ipset_destroy(self._host, name)

    def forget(self, flows: list[Flow]) -> None:
        for flow in flows:
            conntrack.delete(self._host, conntrack_filter(flow))
