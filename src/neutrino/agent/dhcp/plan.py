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
METADATA_IP = "169.254.169.254"
METADATA_PORT = 80
_METADATA_CIDR = ipaddress.IPv4Network("169.254.0.0/16")
# Neutron's router interface owners: a subnet whose gateway is on one of these reaches
# metadata through the router, so it is not isolated.
_ROUTER_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                  "network:ha_router_replicated_interface")


@dataclass(frozen=True)
class PlanParams:
    """The agent's settings that shape a plan."""

    host: str
    confs_dir: str
    domain: str = DhcpAgentSettings.domain
    lease_duration: int = DhcpAgentSettings.lease_duration
    dns_servers: tuple[str, ...] = ()  # dnsmasq's forwarders
    local_resolv: bool = False
    renewal_time: int = 0  # T1 (option 58); 0: not sent
    rebinding_time: int = 0  # T2 (option 59); 0: not sent
    broadcast_reply: bool = False
    config_file: str = ""  # an operator's dnsmasq.conf; "": none
    lease_max: int = DhcpAgentSettings.lease_max
    isolated_metadata: bool = False
    force_metadata: bool = False
    metadata_network: bool = False


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
    def dns_hosts(self) -> str:
        return os.path.join(self.directory, "addn_hosts")

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
class Instance:
    """Who a VM's address belongs to, as Nova's metadata API is told."""

    instance_id: str  # the port's device_id
    tenant_id: str


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
    dns_hosts: str  # the addn-hosts file: every served address's names
    argv: tuple[str, ...]
    served_ports: dict[str, str] = field(default_factory=dict)  # port id -> fingerprint
    subnet_count: int = 0
    rejected: tuple[str, ...] = ()  # why some inputs were refused (to log)
    # Served by the metadata proxy in the namespace: VM IPv4 address -> instance. None: no
    # metadata service on this network.
    metadata: dict[str, Instance] | None = None


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


def _is_metadata_network(subnet: dict[str, Any]) -> bool:
    try:
        return ipaddress.IPv4Network(subnet["cidr"]).subnet_of(_METADATA_CIDR)
    except (KeyError, TypeError, ValueError):
        return False


def _isolated(subnet: dict[str, Any], info: dict[str, Any]) -> bool:
    gateway = subnet.get("gateway_ip")
    return not any(port.get("device_owner") in _ROUTER_OWNERS and
                   any(f.get("ip_address") == gateway for f in port.get("fixed_ips") or [])
                   for port in info.get("ports") or [])


def metadata_subnets(info: dict[str, Any], params: PlanParams) -> list[dict[str, Any]]:
    """The DHCP subnets whose VMs reach the metadata proxy in the DHCP namespace."""
    subnets = dhcp_subnets(info)
    if params.force_metadata:
        return subnets
    if not params.isolated_metadata:
        return []
    if params.metadata_network and any(_is_metadata_network(s) for s in subnets):
        return subnets
    return [s for s in subnets if _isolated(s, info)]


def _metadata_route(subnet: dict[str, Any], params: PlanParams) -> bool:
    """Whether DHCP hands out the route to 169.254.169.254 on `subnet`: not on a metadata
    access network, whose VMs reach it through their router."""
    return not (params.metadata_network and _is_metadata_network(subnet))


def _instances(info: dict[str, Any], subnets: dict[str, ipaddress.IPv4Network]
               ) -> dict[str, Instance]:
    """The proxy's table: each VM address on a served subnet to its port's device and
    project (ports of network:* owners are no instances)."""
    table = {}
    for port in info.get("ports") or []:
        device = port.get("device_id")
        owner = port.get("device_owner") or ""
        if not device or not isinstance(device, str) or owner.startswith("network:"):
            continue
        tenant = port.get("tenant_id") or port.get("project_id") or ""
        for fixed in port.get("fixed_ips") or []:
            if fixed.get("subnet_id") in subnets:
                table[str(fixed.get("ip_address"))] = Instance(device, str(tenant))
    return table


def _lease(duration: int) -> str:
    return "infinite" if duration == INFINITE else f"{duration}s"


def _names(port: dict[str, Any], ip: str, domain: str, rejected: list[str]
           ) -> tuple[str, str]:
    """(host name, FQDN) of a port's address: the server's dns_assignment, so dnsmasq
    answers exactly the names the API shows; else its dns_name or host-<ip> in `domain`."""
    default = "host-" + ip.replace(".", "-")
    for entry in port.get("dns_assignment") or []:
        if isinstance(entry, dict) and entry.get("ip_address") == ip:
            try:
                return (validate.check_hostname(entry.get("hostname")),
                        validate.check_hostname(entry.get("fqdn")))
            except Unsafe as e:
                rejected.append(f"port {port.get('id')}: dns_assignment: {e}")
    name = port.get("dns_name") or ""
    if name:
        try:
            name = validate.check_hostname(name)
        except Unsafe as e:
            rejected.append(f"port {port.get('id')}: {e}; using {default}")
            name = ""
    name = name or default
    return name, f"{name}.{domain}" if domain and "." not in name else name


def _fingerprint(port: dict[str, Any]) -> str:
    ips = ",".join(sorted(f"{i['subnet_id']}={i['ip_address']}"
                          for i in port.get("fixed_ips") or []))
    return f"{port.get('mac_address')}|{ips}|{port.get('revision_number', '')}"


def _hosts_and_port_opts(info: dict[str, Any], subnets: dict[str, ipaddress.IPv4Network],
                         domain: str, rejected: list[str]
                         ) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """dnsmasq's dhcp-host lines, per-port option lines, the ports served (id ->
    fingerprint) and the DNS lines ("<ip> <fqdn> <hostname>", an addn-hosts file)."""
    hosts: list[str] = []
    names: list[str] = []
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
            hostname, fqdn = _names(port, address, domain, rejected)
            # DHCP gives the VM a name in the agent's domain (option 15); DNS answers both.
            dhcp_name = f"{hostname}.{domain}" if domain and "." not in hostname \
                else hostname
            names.append(f"{address}\t{fqdn}\t{hostname}" if fqdn != hostname
                         else f"{address}\t{fqdn}")
            line = f"{mac},{dhcp_name},{address}"
            if port_opts:
                line += f",set:port-{port_id}"
            lines.append(line)
        if lines:
            hosts.extend(lines)
            opts.extend(port_opts)
            served[port_id] = _fingerprint(port)
    return hosts, opts, served, names


def _subnet_opts(subnet: dict[str, Any], network: ipaddress.IPv4Network, mtu: int | None,
                 dhcp_ips: list[str], params: PlanParams, rejected: list[str],
                 metadata_via: str | None = None) -> list[str]:
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
    if dns == ["0.0.0.0"]:
        # Neutron's way to say "no DNS server": an empty option keeps dnsmasq's own out too.
        lines.append(f"{tag},option:dns-server")
    else:
        # Without nameservers, the DHCP ports' dnsmasqs (dnsmasq offers its own address
        # when it is the only one); they answer the network's names and forward the rest.
        dns = dns or (dhcp_ips if len(dhcp_ips) > 1 else [])
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
    if metadata_via and not any(r.startswith(f"{METADATA_IP}/32,") for r in routes):
        routes.append(f"{METADATA_IP}/32,{metadata_via}")
    if routes:
        # RFC 3442: a client that takes classless routes ignores the router option.
        if gateway and not any(r.startswith("0.0.0.0/0,") for r in routes):
            routes.append(f"0.0.0.0/0,{gateway}")
        lines.append(f"{tag},option:classless-static-route,{','.join(routes)}")
        lines.append(f"{tag},249,{','.join(routes)}")  # Microsoft's code for the same
    if mtu:
        lines.append(f"{tag},option:mtu,{mtu}")
    if params.renewal_time:
        lines.append(f"{tag},option:T1,{params.renewal_time}")
    if params.rebinding_time:
        lines.append(f"{tag},option:T2,{params.rebinding_time}")
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
    own_ips: dict[str, str] = {}
    for fixed in port.get("fixed_ips") or []:
        net = subnets.get(fixed.get("subnet_id"))
        if net is not None:
            own_ips[fixed["subnet_id"]] = validate.check_ipv4(fixed["ip_address"])
            addresses.append(f"{own_ips[fixed['subnet_id']]}/{net.prefixlen}")
    metadata_ids = {s["id"] for s in metadata_subnets(info, params) if s["id"] in subnets}
    if metadata_ids:
        addresses.append(f"{METADATA_IP}/32")  # what the proxy listens on
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
    hosts, port_opts, served, names = _hosts_and_port_opts(info, subnets, params.domain,
                                                           rejected)
    opts = []
    for subnet in subnet_dicts:
        via = own_ips.get(subnet["id"]) if (
            subnet["id"] in metadata_ids and _metadata_route(subnet, params)) else None
        opts += _subnet_opts(subnet, subnets[subnet["id"]], mtu,
                             sorted(dhcp_ips_by_subnet.get(subnet["id"], [])), params,
                             rejected, via)
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
        dns_hosts="".join(line + "\n" for line in names),
        opts="".join(line + "\n" for line in opts),
        argv=tuple(dnsmasq_argv(files, interface, plan_subnets, params)),
        served_ports=served, subnet_count=len(subnets), rejected=tuple(rejected),
        metadata=_instances(info, {s: subnets[s] for s in metadata_ids})
        if metadata_ids else None)


def dnsmasq_argv(files: ConfFiles, interface: str,
                 subnets: list[tuple[str, ipaddress.IPv4Network]],
                 params: PlanParams) -> list[str]:
    lease = _lease(params.lease_duration)
    argv = [
        "dnsmasq",
        # Never the machine's /etc/dnsmasq.conf; the operator's dnsmasq_config_file if set.
        f"--conf-file={params.config_file}",
        "--no-hosts",
        f"--pid-file={files.pid}",
        f"--dhcp-hostsfile={files.hosts}",
        f"--addn-hosts={files.dns_hosts}",
        f"--dhcp-optsfile={files.opts}",
        f"--dhcp-leasefile={files.leases}",
        f"--log-facility={files.log}",
        f"--interface={interface}",
        "--except-interface=lo",
        "--bind-dynamic",
        "--dhcp-authoritative",
    ]
    if params.broadcast_reply:
        argv.append("--dhcp-broadcast")
    size = 0
    for subnet_id, network in sorted(subnets, key=lambda s: s[0]):
        argv.append(f"--dhcp-range=set:subnet-{subnet_id},{network.network_address},static,"
                    f"{network.netmask},{lease}")
        size += network.num_addresses
    argv.append(f"--dhcp-lease-max={min(size, params.lease_max)}")
    # Names dnsmasq cannot answer go to dnsmasq_dns_servers, else (dnsmasq_local_resolv)
    # to the host's resolv.conf, else nowhere.
    argv += [f"--server={validate.check_ip(server)}" for server in params.dns_servers]
    if params.dns_servers or not params.local_resolv:
        argv.append("--no-resolv")
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
