"""Keeping a host's security group filters current, pass by pass.

Casts only mark work (`rule_updated`, `member_updated`, `port_updated`); `sync` (called by
the agent's loop) asks the server for the affected devices only, plans the ruleset of every
known port (pure, `firewall_plan`), and applies the difference from what it last installed.
What is installed is read from the host at start and on every full sync, so an agent
restart that finds the right rules changes nothing, and a hand-made change is repaired.
Once rules are removed, the connections they had allowed are forgotten by conntrack (those
still allowed stay up).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from neutrino.agent import metrics
from neutrino.agent.linuxbridge.firewall import HostFirewall
from neutrino.agent.linuxbridge.firewall_diff import Installed, applied, diff
from neutrino.agent.linuxbridge.firewall_flows import flows_to_forget
from neutrino.agent.linuxbridge.firewall_plan import Ruleset, plan_ruleset, referenced_groups

LOG = logging.getLogger(__name__)


class SecurityGroupPlugin(Protocol):
    def security_group_info_for_devices(self, devices: list[str]) -> dict[str, Any]: ...


class SecurityGroupSync:
    def __init__(self, firewall: HostFirewall, plugin: SecurityGroupPlugin) -> None:
        self._firewall = firewall
        self._plugin = plugin
        self._lock = threading.Lock()  # casts arrive on the listeners' threads
        self._dirty_groups: set[str] = set()  # rules changed
        self._dirty_members: set[str] = set()  # membership changed
        self._dirty_ports: set[str] = set()  # port ids
        self._ports: dict[str, dict[str, Any]] = {}  # tap -> the server's entry
        self._port_ids: dict[str, str] = {}  # tap -> port id
        self._rules: dict[str, list[dict[str, Any]]] = {}
        self._stateful: dict[str, bool] = {}
        self._members: dict[str, dict[str, list[str]]] = {}
        self._installed: Installed | None = None  # None: read it from the host
        # (ports, rules, members) before this pass's refresh, when it changes anything
        self._before: tuple[Any, Any, Any] | None = None
        self._desired: Ruleset | None = None
        self.applied_changes = 0  # passes that changed the host (tests, benchmarks)

    # -- casts ---------------------------------------------------------------------------

    def rule_updated(self, groups: list[str]) -> None:
        with self._lock:
            self._dirty_groups.update(groups)

    def member_updated(self, groups: list[str]) -> None:
        with self._lock:
            self._dirty_members.update(groups)

    def port_updated(self, port_id: str) -> None:
        with self._lock:
            self._dirty_ports.add(port_id)

    # -- one pass ------------------------------------------------------------------------

    def sync(self, devices: Mapping[str, str], full: bool = False) -> set[str]:
        """Filter `devices` (tap -> port id, the taps present with a port); returns the taps
        whose filter is in place (only those may be plugged and reported up)."""
        with self._lock:
            groups, members, ports = self._dirty_groups, self._dirty_members, \
                self._dirty_ports
            self._dirty_groups, self._dirty_members, self._dirty_ports = set(), set(), set()
        try:
            changed = self._refresh(devices, groups, members, ports, full)
        except Exception:
            with self._lock:  # try again next pass
                self._dirty_groups |= groups
                self._dirty_members |= members
                self._dirty_ports |= ports
            raise
        if changed or full or self._desired is None:
            self._desired = plan_ruleset(self._ports, self._rules, self._members,
                                         self._stateful)
        elif self._installed is not None:
            return set(self._ports)  # converged and nothing new: not even a diff
        self._enforce(self._desired, full)
        self._forget_removed()
        return set(self._ports)

    def _forget_removed(self) -> None:
        if self._before is None:
            return
        before, self._before = self._before, None
        flows = flows_to_forget(before, (self._ports, self._rules, self._members))
        if not flows:
            return
        try:
            self._firewall.forget(flows)
        except Exception as exc:  # noqa: BLE001 - the rules are right; flows age out
            LOG.warning("Could not forget the connections removed rules allowed: %s", exc)
            metrics.failed(metrics.LINUXBRIDGE, "conntrack")

    def _refresh(self, devices: Mapping[str, str], groups: set[str], members: set[str],
                 ports: set[str], full: bool) -> bool:
        changed = False
        before = (dict(self._ports), dict(self._rules), dict(self._members))
        for tap in set(self._ports) - set(devices):
            del self._ports[tap]
            self._port_ids.pop(tap, None)
            changed = True
        wanted = set(devices) if full else {
            tap for tap, port_id in devices.items()
            if tap not in self._ports or port_id in ports
            or self._port_ids.get(tap) != port_id
            or self._affected(self._ports[tap], groups, members)}
        if wanted:
            self._fetch({tap: devices[tap] for tap in wanted})
            changed = True
        if changed:
            self._prune()
            if self._before is None:  # kept until the rules are applied (a retry keeps it)
                self._before = before
        return changed

    def _affected(self, port: Mapping[str, Any], groups: set[str], members: set[str]) -> bool:
        own = set(port.get("security_groups") or ())
        if own & (groups | members):
            return True
        return bool(members and referenced_groups([port], self._rules) & members)

    def _fetch(self, devices: Mapping[str, str]) -> None:
        answer = self._plugin.security_group_info_for_devices(sorted(devices.values()))
        found = answer.get("devices") or {}
        for tap, port_id in devices.items():
            entry = found.get(port_id)
            if entry is None:
                # Unknown to the server (yet): no filter, so not plugged; asked again.
                self._ports.pop(tap, None)
                self._port_ids.pop(tap, None)
                LOG.debug("No security group information for %s (%s) yet", tap, port_id)
                continue
            self._ports[tap] = entry
            self._port_ids[tap] = port_id
        self._rules.update(answer.get("security_groups") or {})
        self._stateful.update(answer.get("sg_stateful") or {})
        self._members.update(answer.get("sg_member_ips") or {})

    def _prune(self) -> None:
        used = {g for p in self._ports.values() for g in p.get("security_groups") or ()}
        for group in set(self._rules) - used:
            del self._rules[group]
            self._stateful.pop(group, None)
        remote = referenced_groups(self._ports.values(), self._rules)
        for group in set(self._members) - remote:
            del self._members[group]

    def _enforce(self, desired: Ruleset, full: bool) -> None:
        if full or self._installed is None:
            self._installed = self._firewall.installed()
        changes = diff(desired, self._installed)
        if changes.empty:
            return
        try:
            self._firewall.apply(changes)
        except Exception:
            self._installed = None  # partly applied: read it again
            metrics.failed(metrics.LINUXBRIDGE, "firewall")
            raise
        self._installed = applied(self._installed, desired)
        self.applied_changes += 1
        LOG.info("Security group rules applied: %d chains rewritten, %d deleted, "
                 "%d set members added, %d removed",
                 sum(len(c) for c in changes.write_chains.values()),
                 sum(len(c) for c in changes.delete_chains.values()),
                 len(changes.add_members), len(changes.remove_members))
