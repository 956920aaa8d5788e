"""An in-memory server side of the security group RPC contract (/work/notes/SECGROUPS.md):
what `security_group_info_for_devices` answers, from ports and rules a test edits."""

from __future__ import annotations

import copy
from typing import Any


class FakeSecurityGroupPlugin:
    """The server's `security_group_info_for_devices` over an in-memory model."""

    def __init__(self) -> None:
        self.ports: dict[str, dict[str, Any]] = {}  # port id -> entry
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.stateful: dict[str, bool] = {}
        self.calls: list[list[str]] = []
        self.broken = False

    def security_group_info_for_devices(self, devices: list[str]) -> dict[str, Any]:
        if self.broken:
            raise ConnectionError("server unreachable")
        self.calls.append(list(devices))
        found = {d: self.ports[d] for d in devices if d in self.ports}
        groups = {g for p in found.values() for g in p["security_groups"]}
        remote = {r["remote_group_id"] for g in groups for r in self.rules.get(g, [])
                  if r.get("remote_group_id")}
        members: dict[str, dict[str, list[str]]] = {}
        for group in remote:
            ips = [ip for p in self.ports.values() if group in p["security_groups"]
                   for ip in p["fixed_ips"]]
            members[group] = {"IPv4": [ip for ip in ips if ":" not in ip],
                              "IPv6": [ip for ip in ips if ":" in ip]}
        # Copies, as a call over the wire gives: tests edit the server's dicts in place.
        return copy.deepcopy({"devices": found,
                "security_groups": {g: self.rules.get(g, []) for g in groups},
                "sg_member_ips": members,
                "sg_stateful": {g: self.stateful.get(g, True) for g in groups}})


def sg_port(port_id: str, ips: list[str], groups: list[str], mac: str = "fa:16:3e:00:00:01",
            port_security: bool = True, pairs: list[dict[str, Any]] | None = None,
            dhcp: list[str] | None = None) -> dict[str, Any]:
    return {"id": port_id, "device": port_id, "network_id": "net1", "mac_address": mac,
            "fixed_ips": ips, "device_owner": "compute:nova",
            "port_security_enabled": port_security,
            "security_groups": groups if port_security else [],
            "allowed_address_pairs": pairs or [], "dhcp_server_ips": dhcp or ["10.0.0.2"]}


def sg_rule(group: str, direction: str = "ingress", protocol: str | None = None,
            low: int | None = None, high: int | None = None, prefix: str | None = None,
            remote_group: str | None = None, ethertype: str = "IPv4") -> dict[str, Any]:
    return {"id": f"{group}-{direction}-{protocol}-{low}-{prefix}-{remote_group}",
            "security_group_id": group, "direction": direction, "ethertype": ethertype,
            "protocol": protocol, "port_range_min": low, "port_range_max": high,
            "remote_ip_prefix": prefix, "remote_group_id": remote_group}
