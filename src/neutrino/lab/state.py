"""The lab's record of what it made (a JSON file in its run directory).

The record speeds things up and holds what cannot be found by name (pids, ports, VM ids);
`down` never relies on it alone.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field


@dataclass
class HostRecord:
    name: str
    index: int
    holder_pid: int
    agents: dict[str, int] = field(default_factory=dict)  # "dhcp"/"linuxbridge" -> pid
    mnt_inode: int | None = None  # the host's mount namespace: its agents and dnsmasq share it


@dataclass
class VmRecord:
    name: str
    id: str
    host: str
    port_id: str
    network_id: str
    mac: str


@dataclass
class LabState:
    lab: str
    transport: str | None = None
    api_port: int | None = None
    hosts: dict[str, HostRecord] = field(default_factory=dict)
    vms: dict[str, VmRecord] = field(default_factory=dict)
    forwarder_pid: int | None = None
    vlan_follower_pid: int | None = None
    server_pid: int | None = None
    aio_pid: int | None = None
    rabbit: bool = False
    emulated_vlans: bool = False  # the kernel cannot tag: VLANs are segments (see fabric)
    vlans: list[int] = field(default_factory=list)
    agent_metrics_port: int | None = None  # the DHCP agent's; the Linux bridge agent's is +1
    firewall_driver: str = "noop"  # the Linux bridge agents' [SECURITYGROUP] firewall_driver

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> LabState:
        data = json.loads(text)
        data["hosts"] = {k: HostRecord(**v) for k, v in data.get("hosts", {}).items()}
        data["vms"] = {k: VmRecord(**v) for k, v in data.get("vms", {}).items()}
        return cls(**data)


def load(path: str) -> LabState | None:
    try:
        with open(path) as f:
            return LabState.from_json(f.read())
    except FileNotFoundError:
        return None


def save(path: str, state: LabState) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(state.to_json())
    os.replace(tmp, path)
