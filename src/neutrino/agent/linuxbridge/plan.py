"""Deciding what the host's links must look like: a pure function of the ports behind the
host's taps and the links that are there.

A port on network N gets bridge `brq<N[:11]>`; its uplink is `<iface>.<vlan>` for a VLAN
network, the mapped interface itself for a flat one, nothing for a local one. Bridges that
no tap uses any more go, with their VLAN device.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neutrino.lib import constants, naming

TAP_PREFIX = "tap"
BRIDGE_PREFIX = "brq"


@dataclass(frozen=True)
class Link:
    name: str
    kind: str | None = None  # "bridge", "vlan", "veth", "tun", ... (None: a plain device)
    master: str | None = None
    up: bool = False


@dataclass(frozen=True)
class Uplink:
    device: str
    interface: str  # the mapped physical interface
    vlan: int | None = None  # None: flat, the interface itself


@dataclass(frozen=True)
class Plan:
    bridges: tuple[str, ...] = ()  # create (or bring up)
    vlans: tuple[Uplink, ...] = ()  # VLAN devices to create
    enslave: tuple[tuple[str, str], ...] = ()  # (device, bridge)
    set_up: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()  # bridges no tap needs, then their VLAN devices
    # tap -> bridge for every tap that is in place once the plan is applied
    plugged: Mapping[str, str] = field(default_factory=dict)
    # the links a tap needs besides itself: if one of them fails, the tap is not plugged
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unpluggable: Mapping[str, str] = field(default_factory=dict)  # tap -> why


def has_port(details: Mapping[str, Any]) -> bool:
    return bool(details.get("port_id"))


def uplink_for(details: Mapping[str, Any],
               mappings: Mapping[str, str]) -> tuple[Uplink | None, str | None]:
    """The uplink a port's bridge needs, or (None, reason) when this host cannot plug it."""
    network_type = details.get("network_type")
    if network_type == constants.TYPE_LOCAL:
        return None, None
    if network_type not in (constants.TYPE_VLAN, constants.TYPE_FLAT):
        return None, f"network type {network_type!r} is not supported"
    physnet = details.get("physical_network")
    interface = mappings.get(physnet or "")
    if interface is None:
        return None, f"physical network {physnet!r} is not mapped on this host"
    if network_type == constants.TYPE_FLAT:
        return Uplink(interface, interface), None
    vlan = int(details["segmentation_id"])
    return Uplink(naming.vlan_device(interface, vlan), interface, vlan), None


def plan_links(devices: Mapping[str, Mapping[str, Any]], mappings: Mapping[str, str],
               links: Mapping[str, Link]) -> Plan:
    """`devices`: tap name -> device details of the taps present on the host."""
    bridges: list[str] = []
    vlans: dict[str, Uplink] = {}
    enslave: list[tuple[str, str]] = []
    set_up: list[str] = []
    plugged: dict[str, str] = {}
    needs: dict[str, tuple[str, ...]] = {}
    unpluggable: dict[str, str] = {}
    wanted_bridges: set[str] = set()
    done_bridges: set[str] = set()
    wanted_uplinks: set[str] = set()

    for tap in sorted(devices):
        details = devices[tap]
        if not has_port(details) or not details.get("admin_state_up", True):
            continue
        uplink, why = uplink_for(details, mappings)
        if why is None and uplink is not None and uplink.interface not in links:
            why = f"interface {uplink.interface!r} does not exist"
        if why is not None:
            unpluggable[tap] = why
            continue
        bridge = naming.bridge_name(details["network_id"])
        wanted_bridges.add(bridge)
        if bridge not in done_bridges:
            done_bridges.add(bridge)
            current = links.get(bridge)
            if current is None or not current.up:
                bridges.append(bridge)
            if uplink is not None:
                wanted_uplinks.add(uplink.device)
                present = links.get(uplink.device)
                if uplink.vlan is not None and present is None:
                    vlans[uplink.device] = uplink
                if present is None or present.master != bridge:
                    enslave.append((uplink.device, bridge))
        tap_link = links[tap] if tap in links else Link(tap)
        if tap_link.master != bridge:
            enslave.append((tap, bridge))
        if not tap_link.up:
            set_up.append(tap)
        plugged[tap] = bridge
        needs[tap] = (bridge,) + ((uplink.device,) if uplink is not None else ())

    delete: list[str] = []
    vlan_devices: list[str] = []
    for name, link in sorted(links.items()):
        if (link.kind != "bridge" or not name.startswith(BRIDGE_PREFIX)
                or name in wanted_bridges):
            continue
        ports = [p for p in links.values() if p.master == name]
        if any(p.name.startswith(TAP_PREFIX) for p in ports):
            continue  # a tap we do not manage (yet) still uses it
        delete.append(name)
        # An uplink another bridge takes over in this plan stays.
        vlan_devices.extend(p.name for p in ports
                            if p.kind == "vlan" and p.name not in wanted_uplinks)
    return Plan(tuple(bridges), tuple(vlans.values()), tuple(enslave), tuple(set_up),
                tuple(delete + sorted(vlan_devices)), plugged, needs, unpluggable)
