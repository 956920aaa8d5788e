"""What to tell which DHCP agents, and telling them only after the commit.

Operations collect casts in an `Outbox` while their transaction runs and send them once it
has committed: an agent must never hear of a change it cannot read back yet.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.core.interfaces import DhcpAgentNotifier
from neutrino.db.models import Agent, NetworkDhcpAgentBinding
from neutrino.lib import constants as const
from neutrino.lib import payloads
from neutrino.lib.payloads import FanoutPayload, Payload

LOG = logging.getLogger(__name__)

# A change of any of these alters what a DHCP agent serves (or where it serves it).
DHCP_RELEVANT_PORT_FIELDS = ("fixed_ips", "mac_address", "extra_dhcp_opts", "dns_name",
                             "admin_state_up", "binding:host_id", "device_owner")


def _norm(field: str, value: Any) -> Any:
    if field == "fixed_ips":
        return sorted((ip["subnet_id"], ip["ip_address"]) for ip in value or [])
    if field == "extra_dhcp_opts":
        return sorted((o["opt_name"], str(o["opt_value"]), o.get("ip_version", 4))
                      for o in value or [])
    return value


def port_changed_for_dhcp(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return any(_norm(f, before.get(f)) != _norm(f, after.get(f))
               for f in DHCP_RELEVANT_PORT_FIELDS)


def hosting_hosts(session: Session, network_ids: Iterable[str],
                  admin_up_only: bool = True) -> dict[str, list[str]]:
    """network id -> hosts of the DHCP agents bound to it, in one query."""
    ids = sorted(set(network_ids))
    out: dict[str, list[str]] = {i: [] for i in ids}
    if not ids:
        return out
    binding = NetworkDhcpAgentBinding
    query = (select(binding.network_id, Agent.host)
             .join(Agent, Agent.id == binding.dhcp_agent_id)
             .where(binding.network_id.in_(ids)))
    if admin_up_only:
        query = query.where(Agent.admin_state_up.is_(True))
    for network_id, host in session.execute(query.order_by(Agent.host)):
        out[network_id].append(host)
    return out


# A change of any of these alters a port's filtering on its host.
SECURITY_RELEVANT_PORT_FIELDS = ("security_groups", "port_security_enabled",
                                 "allowed_address_pairs", "fixed_ips", "mac_address")


class Outbox:
    """Casts gathered during an operation, sent in order by `send` after the commit."""

    def __init__(self) -> None:
        self.casts: list[tuple[str, str, Payload]] = []
        self.fanouts: list[tuple[str, str, FanoutPayload]] = []

    def rules_changed(self, group_ids: Iterable[str]) -> None:
        if group_ids := sorted(set(group_ids)):
            self.fanouts.append((const.TOPIC_SECURITY_GROUP_UPDATE,
                                 const.SECURITY_GROUPS_RULE_UPDATED,
                                 payloads.security_groups_changed(group_ids)))

    def members_changed(self, group_ids: Iterable[str]) -> None:
        if group_ids := sorted(set(group_ids)):
            self.fanouts.append((const.TOPIC_SECURITY_GROUP_UPDATE,
                                 const.SECURITY_GROUPS_MEMBER_UPDATED,
                                 payloads.security_groups_changed(group_ids)))

    def port_security(self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
                      ) -> None:
        """What the Linux bridge agents hear of a port created (before None), changed or
        deleted (after None): its groups' members changed when it joined, left, or its
        addresses did; the port itself changed when anything it is filtered by did."""
        old = set(before["security_groups"]) if before else set()
        new = set(after["security_groups"]) if after else set()
        changed = [f for f in SECURITY_RELEVANT_PORT_FIELDS
                   if before and after and _norm(f, before.get(f)) != _norm(f, after.get(f))]
        if before is None or after is None:
            self.members_changed(old | new)
        elif changed:
            addresses = {"fixed_ips", "mac_address", "allowed_address_pairs"} & set(changed)
            self.members_changed((old ^ new) | ((old | new) if addresses else set()))
            self.fanouts.append((const.TOPIC_PORT_UPDATE, const.PORT_UPDATE,
                                 payloads.port_event(dict(after))))

    def add(self, host: str, method: str, payload: Payload) -> None:
        self.casts.append((host, method, payload))

    def to_hosts(self, hosts: Iterable[str], method: str, payload: Payload) -> None:
        for host in hosts:
            self.add(host, method, payload)

    def send(self, notifier: DhcpAgentNotifier) -> None:
        fanouts, self.fanouts = self.fanouts, []
        for topic, method, fanout_payload in fanouts:
            try:
                notifier.fanout(topic, method, fanout_payload)
            except Exception:
                LOG.exception("fanout %s on %s failed", method, topic)
        casts, self.casts = self.casts, []
        for host, method, payload in casts:
            try:
                notifier.cast(host, method, payload)
            except Exception:
                # The change is committed; the agent's periodic and error-driven resyncs
                # converge it. A failed cast must not turn a done operation into an error.
                LOG.exception("cast %s to %s failed", method, host)
