"""In-memory stand-ins for the server's DHCP plugin API and for the host, for tests.

`FakeDhcpPlugin` behaves like the server as far as the agent can tell (it allocates IPs,
adopts the agent's existing DHCP port, deletes released ones) without a database or broker.
"""

from __future__ import annotations

import ipaddress
import threading
import uuid
from typing import Any

from neutrino.agent.dhcp.executor import Applied, DnsmasqAction, dnsmasq_action
from neutrino.agent.dhcp.plan import NetworkPlan
from neutrino.lib import constants


class RpcFailure(RuntimeError):
    pass


def _mac(n: int) -> str:
    return f"fa:16:3e:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"


class FakeDhcpPlugin:
    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.networks: dict[str, dict[str, Any]] = {}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.hosted: set[str] = set()
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.ready: list[str] = []
        self.failing: set[str] = set()  # method names that raise RpcFailure
        self.revisions: dict[str, int] = {}  # network -> DHCP revision, as the server's
        self._macs = 0x100

    # -- test set-up ----------------------------------------------------------------------

    def bump(self, network_id: str) -> None:
        with self._lock:
            self.revisions[network_id] = self.revisions.get(network_id, 0) + 1

    def add_network(self, cidr: str = "10.0.0.0/24", gateway: str | None = "auto",
                    mtu: int = 1500, hosted: bool = True, **subnet: Any) -> str:
        with self._lock:
            network_id = str(uuid.uuid4())
            self.networks[network_id] = {
                "id": network_id, "name": "", "admin_state_up": True, "mtu": mtu,
                "tenant_id": "p1", "project_id": "p1", "status": "ACTIVE"}
            if cidr:
                self.add_subnet(network_id, cidr, gateway, **subnet)
            if hosted:
                self.hosted.add(network_id)
            return network_id

    def add_subnet(self, network_id: str, cidr: str, gateway: str | None = "auto",
                   **extra: Any) -> str:
        with self._lock:
            net = ipaddress.IPv4Network(cidr)
            if gateway == "auto":
                gateway = str(net.network_address + 1)
            subnet_id = str(uuid.uuid4())
            self.subnets[subnet_id] = {
                "id": subnet_id, "network_id": network_id, "cidr": cidr, "ip_version": 4,
                "gateway_ip": gateway, "enable_dhcp": True, "dns_nameservers": [],
                "host_routes": [], **extra}
            self.bump(network_id)
            return subnet_id

    def add_port(self, network_id: str, ip: str | None = None, mac: str | None = None,
                 **extra: Any) -> dict[str, Any]:
        with self._lock:
            subnet = next(s for s in self.subnets.values() if s["network_id"] == network_id)
            return self._new_port(network_id, [{"subnet_id": subnet["id"]} | (
                {"ip_address": ip} if ip else {})], mac=mac, **extra)

    def remove_port(self, port_id: str) -> None:
        with self._lock:
            self.bump(self.ports.pop(port_id)["network_id"])

    def _new_port(self, network_id: str, fixed: list[dict[str, Any]], mac: str | None = None,
                  **extra: Any) -> dict[str, Any]:
        self._macs += 1
        tenant = self.networks[network_id]["tenant_id"]
        port = {"id": str(uuid.uuid4()), "network_id": network_id, "name": "",
                "tenant_id": tenant, "project_id": tenant,
                "mac_address": mac or _mac(self._macs), "admin_state_up": True,
                "device_owner": "compute:nova", "device_id": "", "dns_name": "",
                "extra_dhcp_opts": [], "status": "DOWN", "revision_number": 1, **extra}
        port["fixed_ips"] = self._allocate(fixed)
        self.ports[port["id"]] = port
        self.bump(network_id)
        return dict(port)

    def _allocate(self, fixed: list[dict[str, Any]]) -> list[dict[str, Any]]:
        used = {ip["ip_address"] for p in self.ports.values() for ip in p["fixed_ips"]}
        result = []
        for request in fixed:
            subnet = self.subnets[request["subnet_id"]]
            address = request.get("ip_address")
            if not address:
                for candidate in ipaddress.IPv4Network(subnet["cidr"]).hosts():
                    if str(candidate) not in used and str(candidate) != subnet["gateway_ip"]:
                        address = str(candidate)
                        break
            used.add(address)
            result.append({"subnet_id": subnet["id"], "ip_address": address})
        return result

    def info(self, network_id: str) -> dict[str, Any] | None:
        with self._lock:
            network = self.networks.get(network_id)
            if network is None:
                return None
            subnets = sorted((dict(s) for s in self.subnets.values()
                              if s["network_id"] == network_id), key=lambda s: s["id"])
            ports = [dict(p) for p in self.ports.values() if p["network_id"] == network_id]
            return dict(network, subnets=subnets, ports=ports,
                        dhcp_revision=self.revisions.get(network_id, 0))

    # -- the plugin API -------------------------------------------------------------------

    def _call(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        if method in self.failing:
            raise RpcFailure(f"{method} failed (test)")

    def get_active_networks_info(self) -> list[dict[str, Any]]:
        with self._lock:
            self._call("get_active_networks_info")
            return [i for i in (self.info(n) for n in sorted(self.hosted)) if i]

    def get_network_info(self, network_id: str) -> dict[str, Any] | None:
        with self._lock:
            self._call("get_network_info", network_id)
            # As the server: None for a network this host's agent does not host.
            return self.info(network_id) if network_id in self.hosted else None

    def create_dhcp_port(self, port: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._call("create_dhcp_port", port)
            body = port.get("port", port)
            for existing in self.ports.values():
                if existing["device_id"] == body["device_id"]:
                    return dict(existing)
            return self._new_port(body["network_id"], body["fixed_ips"],
                                  device_owner=constants.DEVICE_OWNER_DHCP,
                                  device_id=body["device_id"])

    def update_dhcp_port(self, port_id: str, port: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._call("update_dhcp_port", port_id, port)
            body = port.get("port", port)
            existing = self.ports[port_id]
            if "fixed_ips" in body:
                keep = [f for f in body["fixed_ips"] if f.get("ip_address")]
                existing["fixed_ips"] = keep + self._allocate(
                    [f for f in body["fixed_ips"] if not f.get("ip_address")])
                self.bump(existing["network_id"])
            return dict(existing)

    def release_dhcp_port(self, network_id: str, device_id: str) -> None:
        with self._lock:
            self._call("release_dhcp_port", network_id, device_id)
            for port_id in [p["id"] for p in self.ports.values()
                            if p["network_id"] == network_id and p["device_id"] == device_id]:
                del self.ports[port_id]
                self.bump(network_id)

    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None:
        with self._lock:
            self._call("dhcp_ready_on_ports", list(port_ids))
            self.ready.extend(port_ids)

    def get_network_revisions(self) -> dict[str, int]:
        with self._lock:
            self._call("get_network_revisions")
            return {n: self.revisions.get(n, 0) for n in sorted(self.hosted)
                    if n in self.networks}


class FakeDhcpHost:
    """Records plans instead of applying them; "runs" a dnsmasq per network."""

    def __init__(self) -> None:
        self.applied: dict[str, NetworkPlan] = {}
        self.pids: dict[str, int] = {}
        self.actions: list[tuple[str, DnsmasqAction]] = []
        self.leftovers: set[str] = set()  # networks with host state but no plan (restart)
        self.broken: set[str] = set()  # networks whose apply raises
        self._next_pid = 1000
        self._lock = threading.Lock()

    def existing_networks(self) -> set[str]:
        with self._lock:
            return set(self.applied) | set(self.leftovers)

    def serving(self, network_id: str) -> int | None:
        with self._lock:
            return self.pids.get(network_id)

    def apply(self, plan: NetworkPlan) -> Applied:
        with self._lock:
            if plan.network_id in self.broken:
                raise OSError(f"network {plan.network_id} is broken (test)")
            previous = self.applied.get(plan.network_id)
            running = previous.argv if previous and plan.network_id in self.pids else None
            changed = previous is None or (
                previous.hosts, previous.opts, previous.dns_hosts) != (
                plan.hosts, plan.opts, plan.dns_hosts)
            action = dnsmasq_action(list(running) if running else None, plan.argv, changed)
            if action in (DnsmasqAction.START, DnsmasqAction.RESTART):
                self._next_pid += 1
                self.pids[plan.network_id] = self._next_pid
            self.applied[plan.network_id] = plan
            self.leftovers.discard(plan.network_id)
            self.actions.append((plan.network_id, action))
            return Applied(self.pids[plan.network_id], action)

    def teardown(self, network_id: str) -> bool:
        with self._lock:
            removed = network_id in self.applied or network_id in self.leftovers
            self.applied.pop(network_id, None)
            self.pids.pop(network_id, None)
            self.leftovers.discard(network_id)
            return removed
