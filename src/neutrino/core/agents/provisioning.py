"""Port status through provisioning blocks.

A port starts DOWN with one block per component that still has to wire it: `L2` when it is
bound to a host (the Linux bridge agent plugs its tap), `DHCP` when its network is served
by a DHCP agent (the agent has written it into dnsmasq). It turns ACTIVE when it is bound
and the last block goes. A DHCP port is wired by its own agent, so it only waits for `L2`;
on a host without a Linux bridge agent it waits for `DHCP` instead, which its agent lifts
through `dhcp_ready_on_ports`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import bindparam, delete, exists, insert, select, update
from sqlalchemy.orm import Session

from neutrino.core.agents import nova
from neutrino.core.dbutil import rowcount
from neutrino.core.savepoint import execute_or_skip
from neutrino.db.models import Agent, Port, ProvisioningBlock
from neutrino.lib import constants as const

L2 = "L2"
DHCP = "DHCP"


def initial_blocks(device_owner: str, host: str, l2_agent_on_host: bool,
                   network_served_by_dhcp: bool) -> set[str]:
    """The blocks a port gets when it is created or bound to a new host."""
    if device_owner == const.DEVICE_OWNER_DHCP:
        if not host:
            return set()
        return {L2} if l2_agent_on_host else {DHCP}
    blocks: set[str] = set()
    if host:
        blocks.add(L2)
    if network_served_by_dhcp:
        blocks.add(DHCP)
    return blocks


_L2_AGENT_ON_HOST = select(exists().where(Agent.agent_type == const.AGENT_TYPE_LINUXBRIDGE,
                                          Agent.host == bindparam("host")))


def l2_agent_on_host(session: Session, host: str) -> bool:
    if not host:
        return False
    return bool(session.scalar(_L2_AGENT_ON_HOST, {"host": host}))


def add_blocks(session: Session, port_id: str, entities: Iterable[str]) -> None:
    """Idempotent: a block that is already there stays once."""
    wanted = set(entities)
    if not wanted:
        return
    have = set(session.scalars(select(ProvisioningBlock.entity).where(
        ProvisioningBlock.port_id == port_id)))
    for entity in sorted(wanted - have):
        # A clash means it was added meanwhile, or the port is gone: nothing left to do.
        execute_or_skip(session, insert(ProvisioningBlock).values(port_id=port_id,
                                                                  entity=entity))


def lift(session: Session, port_ids: Iterable[str], entity: str, now: datetime,
         only_if_lifted: bool) -> list[str]:
    """Remove `entity`'s blocks from the ports; returns the ports that turned ACTIVE.

    With `only_if_lifted` a port only turns ACTIVE when this call removed its last block (a
    DHCP agent marks every port it serves ready, also ports whose device is down).
    """
    ids = sorted(set(port_ids))
    if not ids:
        return []
    had = set(session.scalars(select(ProvisioningBlock.port_id).where(
        ProvisioningBlock.port_id.in_(ids), ProvisioningBlock.entity == entity)))
    if had:
        session.execute(delete(ProvisioningBlock).where(
            ProvisioningBlock.port_id.in_(sorted(had)), ProvisioningBlock.entity == entity),
            execution_options={"synchronize_session": False})
    targets = sorted(had) if only_if_lifted else ids
    return activate_if_unblocked(session, targets, now)


def activate_if_unblocked(session: Session, port_ids: list[str], now: datetime) -> list[str]:
    if not port_ids:
        return []
    blocked = exists().where(ProvisioningBlock.port_id == Port.id)
    ready = list(session.scalars(select(Port.id).where(
        Port.id.in_(port_ids), Port.host_id != "", Port.status != const.PORT_STATUS_ACTIVE,
        ~blocked)))
    if ready:
        set_status(session, ready, const.PORT_STATUS_ACTIVE, now)
    return ready


def set_status(session: Session, port_ids: list[str], status: str, now: datetime) -> int:
    """Status changes bump the revision, as every change of a port does in Neutron."""
    if not port_ids:
        return 0
    # Nova hears of it (when configured) by a row committed with this change.
    nova.record_status_change(session, port_ids, status, now)
    result = session.execute(
        update(Port).where(Port.id.in_(port_ids), Port.status != status).values(
            status=status, revision_number=Port.revision_number + 1, updated_at=now),
        execution_options={"synchronize_session": False})
    return rowcount(result) or 0


def rebind_blocks(session: Session, port_id: str, device_owner: str, host: str,
                  network_served_by_dhcp: bool) -> None:
    """The port moved to `host` (or was unbound): wiring starts over there. The caller
    puts the port back to DOWN as part of its own update."""
    session.execute(delete(ProvisioningBlock).where(
        ProvisioningBlock.port_id == port_id, ProvisioningBlock.entity == L2),
        execution_options={"synchronize_session": False})
    blocks = initial_blocks(device_owner, host, l2_agent_on_host(session, host),
                            network_served_by_dhcp)
    if device_owner != const.DEVICE_OWNER_DHCP:
        blocks.discard(DHCP)  # DHCP does not care where a port is bound
    add_blocks(session, port_id, blocks)
