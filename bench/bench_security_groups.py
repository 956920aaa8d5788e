"""Security groups on a Linux bridge host: what a pass costs, and how long a rule change
takes to be enforced.

1. Passes of the agent's sync (plan, diff, iptables/ipset executor) with `--ports` ports in
   `--groups` groups, each group with a port range rule, an ICMP rule, a prefix rule and a
   remote-group rule, in a fresh namespace with real iptables: the first install, a pass
   with nothing to do, a rule change in one group, a member joining a group, and an agent
   restart finding everything right. Target: an incremental pass well under a second, and
   no full reload (the rewritten chain count is printed).
2. Rule change to enforcement through the agent's loop: a real `LinuxBridgeAgent` thread
   (casts wake it; polling_interval 1 s) plugging two veth "VMs" into a bridge, the server
   replaced by in-memory fakes at the RPC boundary; a rule is added and the cast
   delivered, and the time until a ping gets through is measured (`--changes` times).

Run as root:  python bench/bench_security_groups.py [--ports 500] [--groups 50]
Everything is made in fresh namespaces and removed, pass or fail.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any

from neutrino.agent.clock import SYSTEM_CLOCK
from neutrino.agent.linuxbridge.agent import LinuxBridgeAgent
from neutrino.agent.linuxbridge.firewall import IptablesFirewall
from neutrino.agent.linuxbridge.firewall_diff import Changes
from neutrino.agent.linuxbridge.links import LinuxHostLinks
from neutrino.agent.linuxbridge.security_groups import SecurityGroupSync
from neutrino.conf.settings import AgentSettings, LinuxBridgeSettings
from neutrino.lib import constants
from neutrino.linux import netns
from neutrino.linux.host import HostNamespaces


class Server:
    """`security_group_info_for_devices` and the device API, in memory."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ports: dict[str, dict[str, Any]] = {}
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.details: dict[str, dict[str, Any]] = {}

    def security_group_info_for_devices(self, devices: list[str]) -> dict[str, Any]:
        with self.lock:
            found = {d: dict(self.ports[d]) for d in devices if d in self.ports}
            groups = {g for p in found.values() for g in p["security_groups"]}
            remote = {r["remote_group_id"] for g in groups for r in self.rules[g]
                      if r["remote_group_id"]}
            members = {g: {"IPv4": [ip for p in self.ports.values()
                                    if g in p["security_groups"] for ip in p["fixed_ips"]],
                           "IPv6": []} for g in remote}
            return {"devices": found, "security_groups": {g: list(self.rules[g])
                                                          for g in groups},
                    "sg_member_ips": members}

    def get_device_details(self, device: str) -> dict[str, Any]:
        with self.lock:
            return dict(self.details.get(device, {"device": device}))

    def update_device_up(self, device: str) -> None: ...
    def update_device_down(self, device: str) -> None: ...

    def get_ports_on_host(self) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(d) for d in self.details.values()]

    def report_state(self, agent_state: dict[str, Any], start_flag: bool) -> str:
        return constants.AGENT_NEW


def rule(group: str, protocol: str | None = None, low: int | None = None,
         high: int | None = None, prefix: str | None = None,
         remote: str | None = None, direction: str = "ingress") -> dict[str, Any]:
    return {"id": f"{group}-{protocol}-{low}-{prefix}-{remote}-{direction}",
            "security_group_id": group, "direction": direction, "ethertype": "IPv4",
            "protocol": protocol, "port_range_min": low, "port_range_max": high,
            "remote_ip_prefix": prefix, "remote_group_id": remote}


def port(port_id: str, ip: str, groups: list[str], mac: str) -> dict[str, Any]:
    return {"id": port_id, "device": port_id, "network_id": "net", "mac_address": mac,
            "fixed_ips": [ip], "device_owner": "compute:nova", "port_security_enabled": True,
            "security_groups": groups, "allowed_address_pairs": [],
            "dhcp_server_ips": ["10.0.0.2"]}


def written(changes: list[Changes]) -> int:
    return sum(len(c) for ch in changes for c in ch.write_chains.values())


class Recording(IptablesFirewall):
    def __init__(self, host: HostNamespaces) -> None:
        super().__init__(host)
        self.changes: list[Changes] = []

    def apply(self, changes: Changes) -> None:
        self.changes.append(changes)
        super().apply(changes)


def line(what: str, seconds: float, note: str = "") -> None:
    print(f"{what:<58} {seconds * 1000:>9.1f} ms  {note}")


def bench_passes(ports: int, groups: int) -> None:
    base = tempfile.mkdtemp(prefix="nbench-sg-")
    keeper = HostNamespaces(None, base)
    host = HostNamespaces(netns.ensure_namespace(keeper, "host"), base)
    try:
        server = Server()
        for g in range(groups):
            name = f"{g:08d}-0000-4000-8000-000000000000"
            server.rules[name] = [
                rule(name, direction="egress"),
                rule(name, "tcp", 8000 + g, 8010 + g),
                rule(name, "icmp", 8, 0),
                rule(name, "udp", 53, 53, prefix="192.168.0.0/16"),
                rule(name, remote=name)]
        names = sorted(server.rules)
        devices = {}
        for i in range(ports):
            port_id = f"{i:08d}-aaaa-4000-8000-000000000000"
            server.ports[port_id] = port(port_id, f"10.{i // 250}.{i % 250}.10",
                                         [names[i % groups]],
                                         f"fa:16:3e:00:{i // 256:02x}:{i % 256:02x}")
            devices["tap" + port_id[:11]] = port_id
        firewall = Recording(host)
        sync = SecurityGroupSync(firewall, server)

        def timed(what: str, full: bool = False, note: str = "") -> None:
            before = len(firewall.changes)
            start = time.perf_counter()
            sync.sync(devices, full=full)
            took = time.perf_counter() - start
            chains = written(firewall.changes[before:])
            line(what, took, f"{chains} chains rewritten; {note}")

        timed(f"first install, {ports} ports in {groups} groups", full=True,
              note="once per host")
        timed("a pass with nothing to do", note="every second")
        with server.lock:
            server.rules[names[0]].append(rule(names[0], "tcp", 22, 22))
        sync.rule_updated([names[0]])
        timed(f"a rule added to one group ({ports // groups} ports)",
              note="target well under 1000 ms, no full reload")
        moved = f"{1:08d}-aaaa-4000-8000-000000000000"
        with server.lock:
            server.ports[moved]["security_groups"] = [names[1], names[0]]
        sync.member_updated([names[0]])
        sync.port_updated(moved)
        timed("a port joins a second group (member update)", note="target well under 1000 ms")
        firewall = Recording(host)
        sync = SecurityGroupSync(firewall, server)
        timed("agent restart: full sync finding everything right", full=True,
              note="0 chains expected")
    finally:
        with contextlib.suppress(Exception):
            netns.delete_namespace(keeper, "host")
        subprocess.run(["rm", "-rf", base], check=False)


def ping(ns: str, ip: str, timeout: str = "1") -> bool:
    return subprocess.run(["nsenter", f"--net={ns}", "ping", "-c", "1", "-W", timeout, ip],
                          capture_output=True).returncode == 0


def bench_enforcement(changes: int) -> None:
    base = tempfile.mkdtemp(prefix="nbench-sgl-")
    keeper = HostNamespaces(None, base)
    host_ns = netns.ensure_namespace(keeper, "host")
    vm_ns = {n: netns.ensure_namespace(keeper, n) for n in ("vm1", "vm2")}
    host = HostNamespaces(host_ns, base)
    agent = None
    try:
        server = Server()
        server.rules = {"sga": [rule("sga", direction="egress")],
                        "sgb": [rule("sgb", direction="egress")]}
        for i, name in enumerate(("vm1", "vm2"), 1):
            port_id = f"{i:08d}-bbbb-4000-8000-000000000000"
            tap, mac, ip = "tap" + port_id[:11], f"fa:16:3e:00:0b:{i:02x}", f"10.9.0.{i}"
            subprocess.run(["nsenter", f"--net={host_ns}", "ip", "link", "add", tap, "type",
                            "veth", "peer", "name", "eth0", "address", mac], check=True)
            subprocess.run(["nsenter", f"--net={host_ns}", "ip", "link", "set", "eth0",
                            "netns", vm_ns[name]], check=True)
            for argv in (["ip", "addr", "add", f"{ip}/24", "dev", "eth0"],
                         ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"]):
                subprocess.run(["nsenter", f"--net={vm_ns[name]}", *argv], check=True)
            server.ports[port_id] = port(port_id, ip, ["sga" if i == 1 else "sgb"], mac)
            server.details[tap] = {"device": tap, "port_id": port_id, "network_id": "n" * 36,
                                   "network_type": "local", "admin_state_up": True}
        settings = LinuxBridgeSettings(AgentSettings("bench", base, report_interval=30),
                                       firewall_driver="iptables")
        agent = LinuxBridgeAgent(
            settings, LinuxHostLinks(host), server, server,
            clock=SYSTEM_CLOCK,
            security_groups=SecurityGroupSync(IptablesFirewall(host), server))
        agent.start()
        deadline = time.monotonic() + 30
        while agent.configurations()["devices"] < 2:  # both taps filtered and plugged
            if time.monotonic() > deadline:
                raise RuntimeError("the taps were never plugged")
            time.sleep(0.1)
        times = []
        for n in range(changes):
            assert not ping(vm_ns["vm1"], "10.9.0.2"), "vm2's ingress should be closed"
            with server.lock:
                server.rules["sgb"].append(rule("sgb", "icmp"))
            start = time.monotonic()
            agent.security_groups_rule_updated(["sgb"])  # what the cast does
            # A lost ping waits out its timeout: keep it short, it is the resolution.
            while not ping(vm_ns["vm1"], "10.9.0.2", timeout="0.05"):
                if time.monotonic() - start > 30:
                    raise RuntimeError("the rule was never enforced")
            times.append(time.monotonic() - start)
            with server.lock:
                server.rules["sgb"] = [rule("sgb", direction="egress")]
            agent.security_groups_rule_updated(["sgb"])
            while ping(vm_ns["vm1"], "10.9.0.2"):  # removed: the next change starts blocked
                if time.monotonic() - start > 60:
                    raise RuntimeError(f"the rule was never removed (change {n})")
        line(f"rule change -> ping passes, through the agent loop (median of {changes})",
             statistics.median(times), "target about a second (casts wake the loop)")
        line("  slowest", max(times), f"fastest {min(times) * 1000:.1f} ms")
    finally:
        if agent is not None:
            agent.stop()
        for name in ("vm1", "vm2", "host"):
            with contextlib.suppress(Exception):
                netns.delete_namespace(keeper, name)
        subprocess.run(["rm", "-rf", base], check=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=500)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--changes", type=int, default=5)
    args = parser.parse_args()
    bench_passes(args.ports, args.groups)
    bench_enforcement(args.changes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
