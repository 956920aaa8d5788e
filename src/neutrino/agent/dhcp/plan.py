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
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
STATEFUL, STATELESS, SLAAC = "dhcpv6-stateful", "dhcpv6-stateless", "slaac"
# dnsmasq serves DHCPv6 ranges of /64 or longer only (Neutron skips shorter ones too).
_MIN_V6_RANGE_PREFIX = 64


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
    enable_ra: bool = False  # router advertisements on networks with no router


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
    router_advertisements: bool = False
    rejected: tuple[str, ...] = ()  # why some inputs were refused (to log)
    # Served by the metadata proxy in the namespace: VM IPv4 address -> instance. None: no
    # metadata service on this network.
    metadata: dict[str, Instance] | None = None


def dhcp_subnets(info: dict[str, Any]) -> list[dict[str, Any]]:
    """The subnets dnsmasq serves: IPv4 and IPv6 with DHCP enabled, sorted by id."""
    return sorted((s for s in info.get("subnets") or []
                   if s.get("enable_dhcp") and s.get("ip_version") in (4, 6)),
                  key=lambda s: s["id"])


def v6_mode(subnet: dict[str, Any]) -> str:
    """How VMs of an IPv6 subnet get their addresses: its ipv6_address_mode, else its
    ipv6_ra_mode (the API's IPAM reads them the same way), else DHCPv6 stateful."""
    mode = subnet.get("ipv6_address_mode") or subnet.get("ipv6_ra_mode") or STATEFUL
    return str(mode) if mode in (STATEFUL, STATELESS, SLAAC) else STATEFUL


def wants_router_advertisements(info: dict[str, Any], params: PlanParams) -> bool:
    """RAs come from a network's router; with `enable_ra` the DHCP namespace sends them
    on networks where none of the IPv6 DHCP subnets has its gateway on a router port."""
    v6 = [s for s in dhcp_subnets(info) if s.get("ip_version") == 6]
    return params.enable_ra and bool(v6) and all(_isolated(s, info) for s in v6)


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
    # A subnet whose gateway is on a router port has the router (metadata, RAs).
    return not any(port.get("device_owner") in constants.DEVICE_OWNERS_ROUTER_INTERFACE and
                   any(f.get("ip_address") == gateway for f in port.get("fixed_ips") or [])
                   for port in info.get("ports") or [])


def metadata_subnets(info: dict[str, Any], params: PlanParams) -> list[dict[str, Any]]:
    """The DHCP subnets whose VMs reach the metadata proxy in the DHCP namespace (IPv4
    only: the proxy listens on 169.254.169.254)."""
    subnets = [s for s in dhcp_subnets(info) if s.get("ip_version") == 4]
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


def _instances(info: dict[str, Any], subnets: dict[str, IPNetwork]
               ) -> dict[str, Instance]:
    """The proxy's table: each VM address on a served subnet to its port's device and
    project (ports of network:* owners are no instances)."""
    table = {}
    for port in info.get("ports") or []:
        device = port.get("device_id")
        if (not device or not isinstance(device, str)
                or constants.is_network_owned(port.get("device_owner"))):
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
    default = "host-" + ip.replace(".", "-").replace(":", "-")
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


def _port_options(port: dict[str, Any], port_id: str, rejected: list[str]
                  ) -> dict[int, list[str]]:
    """A port's extra_dhcp_opts as option lines, by IP version."""
    found: dict[int, list[str]] = {4: [], 6: []}
    for opt in port.get("extra_dhcp_opts") or []:
        version = 6 if str(opt.get("ip_version", 4)) == "6" else 4
        try:
            spec, value = validate.check_option(opt.get("opt_name"), opt.get("opt_value"),
                                                version)
        except Unsafe as e:
            rejected.append(f"port {port_id}: option dropped: {e}")
            continue
        found[version].append(f"tag:port-{port_id},{spec},{value}")
    return found


def _host_line(mac: str, name: str, address: str, subnet: dict[str, Any],
               port_id: str, options: dict[int, list[str]]) -> str | None:
    """The dhcp-host line of one address: IPv4 and DHCPv6 stateful by MAC with the
    address ([...] for IPv6); stateless only to tag the port for its options; SLAAC
    none (the VM makes its address itself)."""
    tag = f",set:port-{port_id}" if options[subnet.get("ip_version", 4)] else ""
    if subnet.get("ip_version") != 6:
        return f"{mac},{name},{address}{tag}"
    mode = v6_mode(subnet)
    if mode == STATEFUL:
        return f"{mac},{name},[{address}]{tag}"
    if mode == STATELESS and tag:
        return f"{mac}{tag}"
    return None


def _hosts_and_port_opts(info: dict[str, Any], subnets: dict[str, IPNetwork],
                         domain: str, rejected: list[str]
                         ) -> tuple[list[str], list[str], dict[str, str], list[str]]:
    """dnsmasq's dhcp-host lines, per-port option lines, the ports served (id ->
    fingerprint) and the DNS lines ("<ip> <fqdn> <hostname>", an addn-hosts file)."""
    by_id = {s["id"]: s for s in info.get("subnets") or []}
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
        port_opts = _port_options(port, port_id, rejected)
        lines = []
        seen_subnets = set()
        for fixed in port.get("fixed_ips") or []:
            subnet_id = fixed.get("subnet_id")
            if subnet_id not in subnets or subnet_id in seen_subnets:
                continue  # dnsmasq gives one address per MAC per subnet
            try:
                address = validate.check_ip(fixed.get("ip_address"))
            except Unsafe as e:
                rejected.append(f"port {port_id}: {e}")
                continue
            if ipaddress.ip_address(address) not in subnets[subnet_id]:
                rejected.append(f"port {port_id}: {address} is outside subnet {subnet_id}")
                continue
            seen_subnets.add(subnet_id)
            hostname, fqdn = _names(port, address, domain, rejected)
            # DHCP gives the VM a name in the agent's domain (option 15); DNS answers both.
            dhcp_name = f"{hostname}.{domain}" if domain and "." not in hostname \
                else hostname
            names.append(f"{address}\t{fqdn}\t{hostname}" if fqdn != hostname
                         else f"{address}\t{fqdn}")
            line = _host_line(mac, dhcp_name, address, by_id[subnet_id], port_id, port_opts)
            if line is not None:
                lines.append(line)
        if seen_subnets:
            hosts.extend(lines)
            versions = {by_id[sid].get("ip_version") for sid in seen_subnets}
            opts.extend(line for v in (4, 6) if v in versions for line in port_opts[v])
            served[port_id] = _fingerprint(port)
    return hosts, opts, served, names


def _subnet_opts6(subnet: dict[str, Any], dhcp_ips: list[str], params: PlanParams,
                  rejected: list[str]) -> list[str]:
    """DHCPv6 options of a stateful or stateless subnet (SLAAC ones have no DHCPv6):
    DNS servers as for IPv4 ('::' alone: none) and the domain to search."""
    if v6_mode(subnet) == SLAAC:
        return []
    tag = f"tag:subnet-{subnet['id']}"
    lines = _dns_option(subnet, 6, dhcp_ips, rejected)
    if params.domain:
        lines.append(f"{tag},option6:domain-search,{validate.check_hostname(params.domain)}")
    return lines


def _dns_option(subnet: dict[str, Any], version: int, dhcp_ips: list[str],
                rejected: list[str]) -> list[str]:
    """The subnet's DNS server option line, if any. Neutron's way to say "no DNS server" (0.0.0.0
    or :: alone) is an empty option, which keeps dnsmasq's own address out too. Without
    nameservers: the DHCP ports' dnsmasqs (dnsmasq offers its own address when it is the
    only one); they answer the network's names and forward the rest."""
    check = validate.check_ipv4 if version == 4 else validate.check_ipv6
    option = "option:dns-server" if version == 4 else "option6:dns-server"
    dns = []
    for server in subnet.get("dns_nameservers") or []:
        try:
            dns.append(check(server))
        except Unsafe as e:
            rejected.append(f"subnet {subnet['id']}: DNS server: {e}")
    line = f"tag:subnet-{subnet['id']},{option}"
    if dns == (["0.0.0.0"] if version == 4 else ["::"]):
        return [line]
    dns = dns or (dhcp_ips if len(dhcp_ips) > 1 else [])
    if not dns:
        return []
    return [f"{line},{','.join(dns if version == 4 else (f'[{a}]' for a in dns))}"]


def _subnet_opts(subnet: dict[str, Any], network: IPNetwork, mtu: int | None,
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
    lines += _dns_option(subnet, 4, dhcp_ips, rejected)
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
    subnets: dict[str, IPNetwork] = {}
    subnet_dicts = []
    for subnet in dhcp_subnets(info):
        try:
            sid = validate.check_id(subnet["id"], "subnet id")
            network = ipaddress.ip_network(subnet["cidr"])
            if network.version != subnet["ip_version"]:
                raise ValueError(f"{subnet['cidr']} is not IPv{subnet['ip_version']}")
            subnets[sid] = network
            subnet_dicts.append(subnet)
        except (Unsafe, ValueError, TypeError, KeyError) as e:
            rejected.append(f"subnet skipped: {e}")
    addresses = []
    own_ips: dict[str, str] = {}
    # Every address of the DHCP port, IPv6 ones too: dnsmasq serves a DHCPv6 range (and
    # advertises a prefix) only on an interface with an address in it.
    for fixed in port.get("fixed_ips") or []:
        net = subnets.get(fixed.get("subnet_id"))
        if net is not None:
            own = validate.check_ip(fixed["ip_address"])
            if ipaddress.ip_address(own) not in net:
                raise Unsafe(f"DHCP port address {own} is outside {net}")
            own_ips[fixed["subnet_id"]] = own
            addresses.append(f"{own}/{net.prefixlen}")
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
                    validate.check_ip(fixed.get("ip_address")))
            except Unsafe:
                continue
    mtu = info.get("mtu") or None
    hosts, port_opts, served, names = _hosts_and_port_opts(info, subnets, params.domain,
                                                           rejected)
    opts = []
    for subnet in subnet_dicts:
        if subnet["ip_version"] == 6:
            opts += _subnet_opts6(subnet, sorted(dhcp_ips_by_subnet.get(subnet["id"], [])),
                                  params, rejected)
            continue
        via = own_ips.get(subnet["id"]) if (
            subnet["id"] in metadata_ids and _metadata_route(subnet, params)) else None
        opts += _subnet_opts(subnet, subnets[subnet["id"]], mtu,
                             sorted(dhcp_ips_by_subnet.get(subnet["id"], [])), params,
                             rejected, via)
    opts += port_opts
    files = conf_files(params.confs_dir, network_id)
    interface = naming.ns_device_name(port_id)
    ra = wants_router_advertisements(info, params)
    ranges: list[tuple[str, IPNetwork, str]] = []
    for subnet in subnet_dicts:
        net = subnets[subnet["id"]]
        mode = "static" if net.version == 4 else _v6_range_mode(v6_mode(subnet), ra)
        if net.version == 6 and mode and net.prefixlen < _MIN_V6_RANGE_PREFIX:
            rejected.append(f"subnet {subnet['id']}: {net} is shorter than /64: no DHCPv6")
        elif mode:
            ranges.append((subnet["id"], net, mode))
    return NetworkPlan(
        network_id=network_id, namespace=naming.dhcp_namespace(network_id),
        bridge=naming.bridge_name(network_id), tap=naming.tap_name(port_id),
        interface=interface, mac=mac, mtu=mtu, addresses=tuple(addresses),
        dhcp_port_id=port_id, files=files,
        hosts="".join(line + "\n" for line in hosts),
        dns_hosts="".join(line + "\n" for line in names),
        opts="".join(line + "\n" for line in opts),
        argv=tuple(dnsmasq_argv(files, interface, ranges, params, ra)),
        served_ports=served, subnet_count=len(subnets), router_advertisements=ra,
        rejected=tuple(rejected),
        metadata=_instances(info, {s: subnets[s] for s in metadata_ids})
        if metadata_ids else None)


def _v6_range_mode(mode: str, ra: bool) -> str | None:
    """dnsmasq's --dhcp-range mode for an IPv6 subnet (None: no range). `static`: only
    the hosts file's entries get addresses, and information requests are answered."""
    if mode == STATEFUL:
        return "static"  # with RAs: the M bit, no autonomous prefix
    if mode == STATELESS:
        return "static,ra-stateless" if ra else "static"  # RAs: the A and O bits
    return "ra-only" if ra else None  # SLAAC: nothing but the prefix to autoconfigure


def dnsmasq_argv(files: ConfFiles, interface: str,
                 ranges: list[tuple[str, IPNetwork, str]],
                 params: PlanParams, router_advertisements: bool = False) -> list[str]:
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
    for subnet_id, network, mode in sorted(ranges, key=lambda s: s[0]):
        mask = network.netmask if network.version == 4 else network.prefixlen
        argv.append(f"--dhcp-range=set:subnet-{subnet_id},{network.network_address},{mode},"
                    f"{mask},{lease}")
        size += network.num_addresses
    argv.append(f"--dhcp-lease-max={min(size, params.lease_max)}")
    if router_advertisements:
        # Router lifetime 0: prefixes and DNS, but no default route via the namespace,
        # which forwards nothing.
        argv += ["--enable-ra", f"--ra-param={interface},0,0"]
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
    own = [i for i in map(ipaddress.ip_interface, network_plan.addresses) if i.version == 4]
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


@dataclass(frozen=True)
class StaleLease6:
    ip: str
    iaid: int
    client_duid: bytes
    server_duid: bytes  # dnsmasq's own, from the lease file's "duid" line


def _duid_mac(duid: bytes) -> str | None:
    """The MAC inside a DUID-LLT or DUID-LL of Ethernet (types 1 and 3), if it is one."""
    if len(duid) == 14 and duid[:4] == b"\0\x01\0\x01":
        raw = duid[8:]
    elif len(duid) == 10 and duid[:4] == b"\0\x03\0\x01":
        raw = duid[4:]
    else:
        return None
    return ":".join(f"{b:02x}" for b in raw)


def _hex(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text.replace(":", ""))
    except ValueError:
        return None


def stale_leases6(leases: str | None, network_plan: NetworkPlan) -> list[StaleLease6]:
    """DHCPv6 leases of addresses the hosts file no longer gives to the client holding
    them (by the MAC in its DUID when it has one, else by the address alone): released,
    or dnsmasq keeps refusing the address to the port that has it now."""
    wanted: dict[str, set[str]] = {}
    for line in network_plan.hosts.splitlines():
        parts = line.split(",")
        if len(parts) >= 3 and parts[2].startswith("["):
            wanted.setdefault(parts[2].strip("[]"), set()).add(parts[0])
    server: bytes | None = None
    stale = []
    for line in (leases or "").splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == "duid":
            server = _hex(fields[1])
            continue
        # After the "duid" line: "<expiry> <iaid> <address> <hostname> <client duid>".
        if server is None or len(fields) < 5 or ":" not in fields[2]:
            continue
        client = _hex(fields[4])
        try:
            ip, iaid = str(ipaddress.IPv6Address(fields[2])), int(fields[1])
        except ValueError:
            continue
        if client is None:
            continue
        mac = _duid_mac(client)
        if ip in wanted and (mac is None or mac in wanted[ip]):
            continue
        stale.append(StaleLease6(ip, iaid, client, server))
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
