"""Placing a network on DHCP agents when it first needs DHCP, from the resource services."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core import metrics
from neutrino.core.agents import provisioning
from neutrino.core.agents.bindings import DhcpBindings, DhcpHosting, dhcp_hosting, dhcp_state
from neutrino.core.agents.notify import Outbox
from neutrino.db.engine import RetryRequest
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib import payloads

LOG = logging.getLogger(__name__)


def schedule_after_commit(bindings: DhcpBindings, network_id: str, now: datetime,
                          outbox: Outbox) -> list[str]:
    """Schedule the network if it needs agents; network_create_end to the new ones.

    The change that asked for it has committed already: a failure here is logged, and the
    agents' next sync (auto-scheduling) places the network instead.
    """
    try:
        new_hosts = bindings.schedule(network_id, now)
    except exc.NeutronException as err:
        LOG.warning("scheduling network %s failed (%s); agents will pick it up",
                    network_id, err)
        return []
    metrics.count_scheduled(metrics.TRIGGER_NETWORK, len(new_hosts))
    for host in new_hosts:
        outbox.add(host, const.NETWORK_CREATE_END, payloads.network_create(network_id))
    return new_hosts


def served(session: Session, network_id: str) -> bool:
    """Whether a DHCP agent serves the network, so its ports wait for DHCP."""
    return all(dhcp_state(session, network_id))


def schedule_for_new_ports(session: Session, settings: CoreSettings, bindings: DhcpBindings,
                           network_ids: set[str], schedulable: set[str], now: datetime
                           ) -> tuple[list[tuple[str, str]], dict[str, DhcpHosting]]:
    """A port on a network that needs DHCP but has no agent yet (say, every agent was down
    when its subnet was made) places the network now. Returns the new (host, network)
    pairs, and per network its DHCP state after that: whether a DHCP agent serves it (its
    ports then wait for DHCP), and the hosts to tell of its ports."""
    new_hosts: list[tuple[str, str]] = []
    states: dict[str, DhcpHosting] = {}
    for network_id in sorted(network_ids):
        state = dhcp_hosting(session, network_id)
        if (state.needed and not state.bound and settings.network_auto_schedule
                and network_id in schedulable):
            try:
                placed = bindings.schedule_in(session, network_id, now)
            except IntegrityError as e:
                raise RetryRequest() from e  # another server placed it: look again
            new_hosts.extend((a.host, network_id) for a in placed)
            state = dhcp_hosting(session, network_id)
        states[network_id] = state
    return new_hosts, states


def blocks_for(session: Session, network_id: str, device_owner: str, host: str) -> set[str]:
    return provisioning.initial_blocks(device_owner, host,
                                       provisioning.l2_agent_on_host(session, host),
                                       served(session, network_id))
