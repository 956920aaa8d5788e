"""Pure planning: from a network_info to what the host must look like.

Nothing here touches the host; the executor applies a `NetworkPlan`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import Any

from neutrino.agent.dhcp import validate
from neutrino.agent.dhcp.validate import Unsafe
from neutrino.conf.settings import DhcpAgentSettings
from neutrino.lib import constants, naming

INFINITE = -1


@dataclass(frozen=True)
class PlanParams:
    """The agent's settings that shape a plan."""

    host: str
    confs_dir: str
    domain: str = DhcpAgentSettings.domain
    lease_duration: int = DhcpAgentSettings.lease_duration
    dns_servers: tuple[str, ...] = ()
    lease_max: int = DhcpAgentSettings.lease_max


@dataclass(frozen=True)
class ConfFiles:
    """A network's dnsmasq files, in `<confs_dir>/<network_id>/`."""

    directory: str

    @property
    def hosts(self) -> str:
        return os.path.join(self.directory, "host")

    @property
    def opts(self) -> str:
        return os.path.join(self.directory, "opts")

    @property
    def leases(self) -> str:
        return os.path.join(self.directory, "leases")

    @property
    def pid(self) -> str:
        return os.path.join(self.directory, "pid")

    @property
    def log(self) -> str:
        return os.path.join(self.directory, "dnsmasq.log")


def conf_files(confs_dir: str, network_id: str) -> ConfFiles:
    return ConfFiles(os.path.join(confs_dir, validate.check_id(network_id, "network id")))


@dataclass(frozen=True)
class PortRequest:
    """An RPC the agent must make before it can serve: create or update its DHCP port."""

    port_id: str | None  # None: create
    body: dict[str, Any]


@dataclass(frozen=True)
class NetworkPlan:
    network_id: str
    namespace: str
    bridge: str
    tap: str
    interface: str  # the ns- end, dnsmasq's interface
    mac: str
    mtu: int | None
    addresses: tuple[str, ...]  # "10.0.0.2/24" on the ns- end
    dhcp_port_id: str
    files: ConfFiles
    hosts: str
    opts: str
    argv: tuple[str, ...]
    served_ports: dict[str, str] = field(default_factory=dict)  # port id -> fingerprint
    subnet_count: int = 0
    rejected: tuple[str, ...] = ()  # why some inputs were refused (to log)


def dhcp_subnets(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The subnets dnsmasq serves: IPv4 with DHCP enabled, sorted by id."""
    return sorted((s for s in info.get("subnets") or []
                   if s.get("enable_dhcp") and s.get("ip_version") == 4),
                  key=lambda s: s["id"])


def wants_dhcp(info: dict[str, Any] | None) -> bool:
    if not info:
        return False
    return bool(info.get("admin_state_up", True)) and bool(dhcp_subnets(info))


def own_dhcp_port(info: dict[str, Any], device_id: str) -> dict[str, Any] | None:
    ports: list[dict[str, Any]] = info.get("ports") or []
    for port in ports:
        if port.get("device_id") == device_id and \
                port.get("device_owner") == constants.DEVICE_OWNER_DHCP:
            return port
    return None


def port_request(info: dict[str, Any], params: PlanParams, port: dict[str, Any] | None
                 ) -> PortRequest | None:
    """What to ask the server so the agent's DHCP port has an IP on every DHCP subnet."""
    device_id = naming.dhcp_device_id(params.host, info["id"])
    wanted = [s["id"] for s in dhcp_subnets(info)]
    if port is None:
        return PortRequest(None, {
            "name": "", "network_id": info["id"], "device_owner": constants.DEVICE_OWNER_DHCP,
            "device_id": device_id, "admin_state_up": True,
            "tenant_id": info.get("tenant_id") or info.get("project_id"),
            "fixed_ips": [{"subnet_id": s} for s in wanted],
        })
    have = {ip["subnet_id"] for ip in port.get("fixed_ips") or []}
    missing = [s for s in wanted if s not in have]
    if not missing:
        return None
    fixed = list(port.get("fixed_ips") or []) + [{"subnet_id": s} for s in missing]
    return PortRequest(port["id"], {"fixed_ips": fixed})


def _lease(duration: int) -> str:
    return "infinite" if duration == INFINITE else f"{duration}s"


def _hostname(port: dict[str, Any], ip: str, domain: str, rejected: list[str]) -> str:
    default = "host-" + ip.replace(".", "-")
    name = port.get("dns_name") or ""
    if name:
        try:
            name = validate.check_hostname(name)
        except Unsafe as e:
            rejected.append(f"port {port.get('id')}: {e}; using {default}")
            name = ""
    name = name or default
    return f"{name}.{domain}" if domain and "." not in name else name


def _fingerprint(port: dict[str, Any]) -> str:
    ips = ",".join(sorted(f"{i['subnet_id']}={i['ip_address']}"
                          for i in port.get("fixed_ips") or []))
    return f"{port.get('mac_address')}|{ips}|{port.get('revision_number', '')}"


def _hosts_and_port_opts(info: dict[str, Any], subnets: dict[str, ipaddress.IPv4Network],
                         domain: str, rejected: list[str]
                         ) -> tuple[list[str], list[str], dict[str, str]]:
    hosts: list[str] = []
    opts: list[str] = []
    served: dict[str, str] = {}
    for port in sorted(info.get("ports") or [], key=lambda p: p.get("id", "")):
        try:
            port_id = validate.check_id(port.get("id"), "port id")
            mac = validate.check_mac(port.get("mac_address"))
        except Unsafe as e:
            rejected.append(f"port skipped: {e}")
            continue
        port_opts = []
        for opt in port.get("extra_dhcp_opts") or []:
            if str(opt.get("ip_version", 4)) != "4":
                continue
            try:
                spec, value = validate.check_option(opt.get("opt_name"), opt.get("opt_value"))
            except Unsafe as e:
                rejected.append(f"port {port_id}: option dropped: {e}")
                continue
            port_opts.append(f"tag:port-{port_id},{spec},{value}")
        lines = []
        seen_subnets = set()
        for fixed in port.get("fixed_ips") or []:
            subnet_id = fixed.get("subnet_id")
            if subnet_id not in subnets or subnet_id in seen_subnets:
                continue  # dnsmasq gives one address per MAC per subnet
            try:
                address = validate.check_ipv4(fixed.get("ip_address"))
            except Unsafe as e:
                rejected.append(f"port {port_id}: {e}")
                continue
            if ipaddress.IPv4Address(address) not in subnets[subnet_id]:
                rejected.append(f"port {port_id}: {address} is outside subnet {subnet_id}")
                continue
            seen_subnets.add(subnet_id)
            line = f"{mac},{_hostname(port, address, domain, rejected)},{address}"
            if port_opts:
                line += f",set:port-{port_id}"
            lines.append(line)
        if lines:
            hosts.extend(lines)
            opts.extend(port_opts)
            served[port_id] = _fingerprint(port)
    return hosts, opts, served


def _subnet_opts(subnet: dict[str, Any], network: ipaddress.IPv4Network, mtu: int | None,
                 dhcp_ips: list[str], params: PlanParams, rejected: list[str]) -> list[str]:
    tag = f"tag:subnet-{subnet['id']}"
    lines = []
    gateway = subnet.get("gateway_ip")
    try:
        gateway = validate.check_ipv4(gateway) if gateway else None
    except Unsafe as e:
        rejected.append(f"subnet {subnet['id']}: gateway: {e}")
        gateway = None
    # Without a gateway an empty router option stops dnsmasq offering itself as the router.
    lines.append(f"{tag},option:router,{gateway}" if gateway else f"{tag},option:router")
    dns = []
    for server in subnet.get("dns_nameservers") or []:
        try:
            dns.append(validate.check_ipv4(server))
        except Unsafe as e:
            rejected.append(f"subnet {subnet['id']}: DNS server: {e}")
    if not dns:
        dns = list(params.dns_servers) or (dhcp_ips if len(dhcp_ips) > 1 else [])
    if dns:
        lines.append(f"{tag},option:dns-server,{','.join(dns)}")
    routes = []
    for route in subnet.get("host_routes") or []:
        try:
            destination = ipaddress.IPv4Network(route.get("destination"))
            nexthop = validate.check_ipv4(route.get("nexthop"))
        except (ValueError, TypeError, Unsafe):
            rejected.append(f"subnet {subnet['id']}: host route {route!r} dropped")
            continue
        routes.append(f"{destination},{nexthop}")
    if routes:
        # RFC 3442: a client that takes classless routes ignores the router option.
        if gateway and not any(r.startswith("0.0.0.0/0,") for r in routes):
            routes.append(f"0.0.0.0/0,{gateway}")
        lines.append(f"{tag},option:classless-static-route,{','.join(routes)}")
        lines.append(f"{tag},249,{','.join(routes)}")  # Microsoft's code for the same
    if mtu:
        lines.append(f"{tag},option:mtu,{mtu}")
    return lines


def build_plan(info: dict[str, Any], port: dict[str, Any], params: PlanParams) -> NetworkPlan:
    """The plan for a network the agent serves, given its own DHCP port.

    Raises Unsafe when the network itself (its id, the DHCP port) cannot be served.
    """
    network_id = validate.check_id(info.get("id"), "network id")
    port_id = validate.check_id(port.get("id"), "DHCP port id")
    mac = validate.check_mac(port.get("mac_address"))
    rejected: list[str] = []
    subnets: dict[str, ipaddress.IPv4Network] = {}
    subnet_dicts = []
    for subnet in dhcp_subnets(info):
        try:
            sid = validate.check_id(subnet["id"], "subnet id")
            subnets[sid] = ipaddress.IPv4Network(subnet["cidr"])
            subnet_dicts.append(subnet)
        except (Unsafe, ValueError, TypeError) as e:
            rejected.append(f"subnet skipped: {e}")
    addresses = []
    for fixed in port.get("fixed_ips") or []:
        net = subnets.get(fixed.get("subnet_id"))
        if net is not None:
            addresses.append(f"{validate.check_ipv4(fixed['ip_address'])}/{net.prefixlen}")
    dhcp_ips_by_subnet: dict[str, list[str]] = {}
    for other in info.get("ports") or []:
        if other.get("device_owner") != constants.DEVICE_OWNER_DHCP:
            continue
        for fixed in other.get("fixed_ips") or []:
            try:
                dhcp_ips_by_subnet.setdefault(fixed.get("subnet_id"), []).append(
                    validate.check_ipv4(fixed.get("ip_address")))
            except Unsafe:
                continue
    mtu = info.get("mtu") or None
    hosts, port_opts, served = _hosts_and_port_opts(info, subnets, params.domain, rejected)
    opts = []
    for subnet in subnet_dicts:
        opts += _subnet_opts(subnet, subnets[subnet["id"]], mtu,
                             sorted(dhcp_ips_by_subnet.get(subnet["id"], [])), params,
                             rejected)
    opts += port_opts
    files = conf_files(params.confs_dir, network_id)
    interface = naming.ns_device_name(port_id)
    plan_subnets = [(sid, net) for sid, net in subnets.items()]
    return NetworkPlan(
        network_id=network_id, namespace=naming.dhcp_namespace(network_id),
        bridge=naming.bridge_name(network_id), tap=naming.tap_name(port_id),
        interface=interface, mac=mac, mtu=mtu, addresses=tuple(addresses),
        dhcp_port_id=port_id, files=files,
        hosts="".join(line + "\n" for line in hosts),
        opts="".join(line + "\n" for line in opts),
        argv=tuple(dnsmasq_argv(files, interface, plan_subnets, params)),
        served_ports=served, subnet_count=len(subnets), rejected=tuple(rejected))


def dnsmasq_argv(files: ConfFiles, interface: str,
                 subnets: list[tuple[str, ipaddress.IPv4Network]],
                 params: PlanParams) -> list[str]:
    lease = _lease(params.lease_duration)
    argv = [
        "dnsmasq",
        "--conf-file=",  # never read the machine's /etc/dnsmasq.conf
        "--no-hosts", "--no-resolv",
        f"--pid-file={files.pid}",
        f"--dhcp-hostsfile={files.hosts}",
        f"--dhcp-optsfile={files.opts}",
        f"--dhcp-leasefile={files.leases}",
        f"--log-facility={files.log}",
        f"--interface={interface}",
        "--except-interface=lo",
        "--bind-dynamic",
        "--dhcp-authoritative",
    ]
    size = 0
    for subnet_id, network in sorted(subnets, key=lambda s: s[0]):
        argv.append(f"--dhcp-range=set:subnet-{subnet_id},{network.network_address},static,"
                    f"{network.netmask},{lease}")
        size += network.num_addresses
    argv.append(f"--dhcp-lease-max={min(size, params.lease_max)}")
    if params.domain:
        argv.append(f"--domain={validate.check_hostname(params.domain)}")
    return argv


def ready_port_ids(served: dict[str, str], reported: dict[str, str]) -> list[str]:
    """Ports to report ready: served now with a fingerprint not yet reported."""
    return sorted(p for p, fp in served.items() if reported.get(p) != fp)


def with_port(info: dict[str, Any], port: dict[str, Any]) -> dict[str, Any] | None:
    """`info` with `port` added or replaced, from a port cast; None when the cast cannot be
    applied without asking the server (an unknown subnet, or a DHCP port: the agent's own
    port decides its device)."""
    subnet_ids = {s["id"] for s in info.get("subnets") or []}
    if any(f.get("subnet_id") not in subnet_ids for f in port.get("fixed_ips") or []):
        return None
    if port.get("device_owner") == constants.DEVICE_OWNER_DHCP:
        return None
    ports = []
    for existing in info.get("ports") or []:
        if existing.get("id") != port.get("id"):
            ports.append(existing)
        elif _older(port, existing):
            return info  # a late cast: what we have is newer
    return dict(info, ports=ports + [port])


def without_port(info: dict[str, Any], port_id: str) -> dict[str, Any]:
    return dict(info, ports=[p for p in info.get("ports") or [] if p.get("id") != port_id])


def _older(new: dict[str, Any], old: dict[str, Any]) -> bool:
    try:
        return int(new["revision_number"]) < int(old["revision_number"])
    except (KeyError, TypeError, ValueError):
        return False


@dataclass(frozen=True)
class StaleLease:
    mac: str
    ip: str
    client_id: str | None
    server_ip: str  # the agent's address in the lease's subnet


def stale_leases(leases: str | None, network_plan: NetworkPlan) -> list[StaleLease]:
    """Leases dnsmasq holds for a (MAC, IP) the hosts file no longer has: they must be
    released, or the IP stays taken from the port that gets it next."""
    wanted = set()
    for line in network_plan.hosts.splitlines():
        parts = line.split(",")
        if len(parts) >= 3:
            wanted.add((parts[0], parts[2]))
    own = [ipaddress.IPv4Interface(a) for a in network_plan.addresses]
    stale = []
    for line in (leases or "").splitlines():
        fields = line.split()
        # "<expiry> <mac> <ip> <hostname> <client-id>"; IPv6 lines ("duid ...") differ.
        if len(fields) < 4 or fields[0] == "duid":
            continue
        mac, ip = fields[1].lower(), fields[2]
        if (mac, ip) in wanted:
            continue
        try:
            address = ipaddress.IPv4Address(ip)
        except ValueError:
            continue
        server = next((str(i.ip) for i in own if address in i.network), None)
        if server is not None:
            stale.append(StaleLease(mac, ip, fields[4] if len(fields) > 4 else None, server))
    return stale


def stale_networks(server: dict[str, int], known: dict[str, int], served: set[str],
                   busy: set[str]) -> tuple[list[str], list[str]]:
    """From the server's DHCP revisions of the networks it gives this agent: the networks
    to fetch again because their revision is not the one last read (or they are new here),
    and those served or known here that the server no longer gives it. Networks already
    queued or in a reconcile are left to it; the next check looks at them again."""
    changed = sorted(n for n, rev in server.items()
                     if known.get(n) != rev and n not in busy)
    gone = sorted(n for n in (served | set(known)) - set(server) if n not in busy)
    return changed, gone
