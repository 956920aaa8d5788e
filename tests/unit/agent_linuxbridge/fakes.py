"""An in-memory host for the Linux bridge agent's unit tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from neutrino.agent.linuxbridge.firewall_diff import Changes, Installed, InstalledChain, digest
from neutrino.agent.linuxbridge.firewall_flows import Flow
from neutrino.agent.linuxbridge.firewall_plan import EB, IpSet
from neutrino.agent.linuxbridge.plan import Link


class FakeHostLinks:
    def __init__(self, *links: Link) -> None:
        self.state = {link.name: link for link in links}
        self.ops: list[tuple[str, ...]] = []
        self.fail: set[str] = set()  # link names whose operations fail

    def _check(self, *names: str) -> None:
        for name in names:
            if name in self.fail:
                raise OSError(f"cannot touch {name}")

    def links(self) -> dict[str, Link]:
        return dict(self.state)

    def ensure_bridge(self, name: str) -> None:
        self._check(name)
        self.ops.append(("bridge", name))
        self.state[name] = Link(name, "bridge", None, True)

    def ensure_vlan(self, interface: str, vlan: int, name: str) -> None:
        self._check(name)
        if interface not in self.state:
            raise OSError(f"no {interface}")
        self.ops.append(("vlan", name))
        self.state[name] = Link(name, "vlan", None, True)

    def enslave(self, device: str, bridge: str) -> None:
        self._check(device, bridge)
        self.ops.append(("enslave", device, bridge))
        self.state[device] = replace(self.state[device], master=bridge)

    def set_up(self, name: str) -> None:
        self._check(name)
        self.ops.append(("up", name))
        self.state[name] = replace(self.state[name], up=True)

    def delete(self, name: str) -> None:
        self._check(name)
        self.ops.append(("delete", name))
        self.state.pop(name, None)
        for other, link in list(self.state.items()):
            if link.master == name:
                self.state[other] = replace(link, master=None)

    def add_tap(self, name: str) -> None:
        self.state[name] = Link(name, "tun", None, False)


class FakeL2Plugin:
    def __init__(self, ports: dict[str, dict[str, Any]] | None = None) -> None:
        self.ports = ports or {}  # tap -> details
        self.calls: list[tuple[str, ...]] = []
        self.broken = False

    def _call(self, *call: str) -> None:
        if self.broken:
            raise ConnectionError("server unreachable")
        self.calls.append(call)

    def get_device_details(self, device: str) -> dict[str, Any]:
        self._call("details", device)
        return self.ports.get(device, {"device": device})

    def update_device_up(self, device: str) -> None:
        self._call("up", device)

    def update_device_down(self, device: str) -> None:
        self._call("down", device)

    def get_ports_on_host(self) -> list[dict[str, Any]]:
        self._call("ports_on_host")
        return list(self.ports.values())


def port(tap: str, network_id: str, network_type: str = "vlan",
         physical_network: str | None = "physnet1", segmentation_id: int | None = 1000,
         admin_state_up: bool = True) -> dict[str, Any]:
    return {"device": tap, "port_id": tap[3:] + "-rest", "network_id": network_id,
            "mac_address": "fa:16:3e:00:00:01", "admin_state_up": admin_state_up,
            "network_type": network_type, "physical_network": physical_network,
            "segmentation_id": segmentation_id, "fixed_ips": [], "device_owner": "compute:nova"}


class FakeFirewall:
    """`HostFirewall` in memory: applies `Changes` to an `Installed`."""

    def __init__(self) -> None:
        self.state = Installed()
        self.applied: list[Changes] = []
        self.forgotten: list[Flow] = []
        self.reads = 0
        self.broken = False

    def installed(self) -> Installed:
        self.reads += 1
        return self.state

    def apply(self, changes: Changes) -> None:
        if self.broken:
            raise OSError("iptables-restore failed")
        self.applied.append(changes)
        sets = dict(self.state.sets)
        for name, family in changes.create_sets:
            sets[name] = IpSet(family, frozenset())
        for name, member in changes.add_members:
            sets[name] = IpSet(sets[name].family, sets[name].members | {member})
        for name, member in changes.remove_members:
            sets[name] = IpSet(sets[name].family, sets[name].members - {member})
        chains = dict(self.state.chains)
        for family, written in changes.write_chains.items():
            for chain, rules in written.items():
                body = rules if family == EB else rules[1:]  # past the marker
                chains[(family, chain)] = InstalledChain(digest(body), len(body))
        for family, deleted in changes.delete_chains.items():
            for chain in deleted:
                del chains[(family, chain)]
        for name in changes.destroy_sets:
            del sets[name]
        hooks = self.state.hooks | set(changes.add_hooks)
        self.state = Installed(chains, hooks, sets)

    def forget(self, flows: list[Flow]) -> None:
        self.forgotten.extend(flows)
