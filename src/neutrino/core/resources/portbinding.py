"""Binding a port to a host, as ML2's Linux bridge mechanism driver does.

A port asked for on a host is bound only when a live Linux bridge agent on that host can
reach the network's segment (its type is one the agent wires, and for flat/VLAN its
physical network is in the agent's mappings). Otherwise the binding fails: `vif_type`
`binding_failed`, which Nova sees at once and reschedules on, instead of booting a guest
whose tap no agent will ever plug. A failed binding is tried again whenever the port is
updated and whenever the agent on its host asks for it, as ML2 does.

A bound port gets `vif_type: tap`: Nova's libvirt driver creates the `tap<port id[:11]>`
device with the port's MAC and the network's MTU (it reads the MTU from the network, not
from vif_details, as Neutron's agent drivers never put it there), and the agent plugs it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.core.liveness import is_alive
from neutrino.db import models
from neutrino.lib import constants

VIF_TYPE_TAP = "tap"
VIF_TYPE_UNBOUND = "unbound"
VIF_TYPE_BINDING_FAILED = "binding_failed"
# `port_filter` (added per binding) says whether the networking service filters the port's
# traffic (security groups): true when the host's agent reports a firewall_driver other
# than noop, so Nova adds no filtering of its own.
TAP_VIF_DETAILS: dict[str, Any] = {"connectivity": "l2"}
# Names an agent may report for "no filtering" (ours reports the short one).
_NOOP_FIREWALL_DRIVERS = frozenset({"", "noop", "neutron.agent.firewall.NoopFirewallDriver"})
# The Linux bridge agent plugs taps: only plain virtio ports.
SUPPORTED_VNIC_TYPES = frozenset({"normal"})
_AGENT_NETWORK_TYPES = frozenset({constants.TYPE_LOCAL, constants.TYPE_FLAT,
                                  constants.TYPE_VLAN})


@dataclass(frozen=True)
class Segment:
    network_type: str
    physical_network: str | None = None


@dataclass(frozen=True)
class HostAgent:
    """A Linux bridge agent on the port's host, as binding needs to know it."""
    alive: bool
    physical_networks: frozenset[str] = frozenset()
    port_filter: bool = False  # it enforces security groups on the taps it plugs


@dataclass(frozen=True)
class Binding:
    vif_type: str
    vif_details: dict[str, Any]

    @property
    def bound(self) -> bool:
        return self.vif_type not in (VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED)


UNBOUND = Binding(VIF_TYPE_UNBOUND, {})
FAILED = Binding(VIF_TYPE_BINDING_FAILED, {})


def can_reach(agent: HostAgent, segment: Segment) -> bool:
    if segment.network_type not in _AGENT_NETWORK_TYPES:
        return False
    if segment.network_type == constants.TYPE_LOCAL:
        return True
    return segment.physical_network in agent.physical_networks


def decide(host: str, vnic_type: str, segments: Sequence[Segment],
           agents: Iterable[HostAgent]) -> Binding:
    """The binding of a port asked for on `host` (empty: unbound)."""
    if not host:
        return UNBOUND
    if vnic_type not in SUPPORTED_VNIC_TYPES:
        return FAILED
    for agent in agents:
        # A dead agent would never plug the tap: Neutron refuses to bind to one too.
        if agent.alive and any(can_reach(agent, s) for s in segments):
            return Binding(VIF_TYPE_TAP, dict(TAP_VIF_DETAILS, port_filter=agent.port_filter))
    return FAILED


def host_agent(alive: bool, configurations: str | None) -> HostAgent:
    """The agent as its last state report's `configurations` (JSON) describe it."""
    try:
        conf = json.loads(configurations or "{}")
    except ValueError:
        conf = {}
    if not isinstance(conf, dict):
        conf = {}
    driver = conf.get("firewall_driver")
    return HostAgent(alive, _physical_networks(conf),
                     port_filter=isinstance(driver, str)
                     and driver not in _NOOP_FIREWALL_DRIVERS)


def _physical_networks(conf: dict[str, Any]) -> frozenset[str]:
    found: set[str] = set()
    for key in ("interface_mappings", "bridge_mappings"):
        mappings = conf.get(key)
        if isinstance(mappings, dict):
            found.update(str(k) for k in mappings)
    return frozenset(found)


def host_agents(session: Session, host: str, now: datetime,
                agent_down_time: int) -> list[HostAgent]:
    rows = session.execute(select(models.Agent.heartbeat_timestamp,
                                  models.Agent.configurations).where(
        models.Agent.agent_type == constants.AGENT_TYPE_LINUXBRIDGE,
        models.Agent.host == host)).all()
    return [host_agent(is_alive(beat, now, agent_down_time), conf) for beat, conf in rows]


def network_segments(session: Session, network_id: str) -> list[Segment]:
    rows = session.execute(select(models.NetworkSegment.network_type,
                                  models.NetworkSegment.physical_network).where(
        models.NetworkSegment.network_id == network_id)).all()
    return [Segment(t, p) for t, p in rows]


def bind_for_host(session: Session, network_id: str, host: str, vnic_type: str,
                  now: datetime, agent_down_time: int) -> Binding:
    """`decide`, with the segments and agents read in the caller's transaction."""
    if not host:
        return UNBOUND
    return decide(host, vnic_type, network_segments(session, network_id),
                  host_agents(session, host, now, agent_down_time))
