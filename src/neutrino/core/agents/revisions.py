"""Per-network DHCP revisions: how an agent finds out, cheaply, that it missed a change.

Every change that alters what a DHCP agent serves (the network, its subnets, its ports)
bumps `networks.dhcp_revision` in its own transaction, so the revision commits with the
change or not at all. An agent asks for the revisions of the networks bound to it (one
indexed query over its own bindings) every few seconds and fetches again only the networks
whose revision differs from the one it last read: a cast lost to a dying server replica or
a dropped broker connection costs seconds, not the period of a full sync.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from neutrino.core.dbutil import execute
from neutrino.db.models import Agent, Network, NetworkDhcpAgentBinding
from neutrino.lib import constants as const

# Built once: every port change runs it.
# The table's, run on the connection: no ORM bulk-update machinery for a counter.
_NETWORKS = Network.__table__
_BUMP = (update(_NETWORKS).where(_NETWORKS.c.id.in_(bindparam("network_ids", expanding=True)))
         .values(dhcp_revision=_NETWORKS.c.dhcp_revision + 1))


def bump(session: Session, network_ids: Iterable[str]) -> None:
    """One UPDATE for all the networks; sorted, so two writers lock rows in the same order."""
    ids = sorted(set(network_ids))
    if ids:
        execute(session, _BUMP, {"network_ids": ids})


def for_host(session: Session, host: str) -> dict[str, int]:
    """network id -> revision, for the admin-up networks bound to `host`'s admin-up DHCP
    agent (what `get_active_networks_info` would serve it)."""
    binding = NetworkDhcpAgentBinding
    rows = session.execute(
        select(Network.id, Network.dhcp_revision)
        .join(binding, binding.network_id == Network.id)
        .join(Agent, Agent.id == binding.dhcp_agent_id)
        .where(Agent.agent_type == const.AGENT_TYPE_DHCP, Agent.host == host,
               Agent.admin_state_up.is_(True), Network.admin_state_up.is_(True)))
    return {network_id: int(revision) for network_id, revision in rows}
