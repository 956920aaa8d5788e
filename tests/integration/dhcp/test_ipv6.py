"""IPv6 through the real core's IPAM (SQLite), the DHCP agent's real dnsmasq and real
clients in namespaces: dhclient -6 gets the stateful address the API allocated, a
stateless subnet hands out its DNS server, a dual-stack VM gets both families, and SLAAC
with router advertisements from the DHCP namespace gives the VM its EUI-64 address."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from support import netns as tn
from support.core_world import World
from support.dhcp_lab import DhcpLab

from neutrino.conf.settings import DatabaseSettings
from neutrino.core.services.dhcp_plugin import DhcpPluginService
from neutrino.db.engine import Database
from neutrino.lab.vm import Vms

pytestmark = pytest.mark.root


class CorePlugin:
    """The agent's plugin API over core's DHCP plugin service, as the RPC endpoint calls
    it: every address the agent serves is one the API allocated."""

    def __init__(self, service: DhcpPluginService, host: str) -> None:
        self._service = service
        self._host = host
        self.networks: list[str] = []  # for DhcpLab's clean-up

    def get_active_networks_info(self) -> list[dict[str, Any]]:
        return self._service.get_active_networks_info(self._host)

    def get_network_info(self, network_id: str) -> dict[str, Any] | None:
        return self._service.get_network_info(network_id, self._host)

    def create_dhcp_port(self, port: dict[str, Any]) -> dict[str, Any]:
        return self._service.create_dhcp_port(self._host, port)

    def update_dhcp_port(self, port_id: str, port: dict[str, Any]) -> dict[str, Any]:
        return self._service.update_dhcp_port(self._host, port_id, port)

    def release_dhcp_port(self, network_id: str, device_id: str) -> None:
        self._service.release_dhcp_port(self._host, network_id, device_id)

    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None:
        self._service.dhcp_ready_on_ports(port_ids)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'core.sqlite'}"))
    try:
        db.upgrade()
        world = World(db, tenant_network_type="local")
        world.dhcp_agent("HostA")
        yield world
    finally:
        db.dispose()


@pytest.fixture
def res() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as res:
        yield res


def lab_with(res: tn.NetnsResources, world: World) -> DhcpLab:
    lab = DhcpLab(res)
    plugin = CorePlugin(world.core.dhcp_plugin, "HostA")
    lab.plugin = plugin  # type: ignore[assignment]
    return lab


def network(world: World, lab: DhcpLab, *subnets: dict[str, Any]) -> str:
    net = world.network(dhcp=None)
    for body in subnets:
        world.subnet(net["id"], **body)
    lab.plugin.networks.append(net["id"])
    return str(net["id"])


def v6(cidr: str, mode: str, **body: Any) -> dict[str, Any]:
    return {"ip_version": 6, "cidr": cidr, "ipv6_address_mode": mode, "ipv6_ra_mode": mode,
            **body}


def address(port: dict[str, Any], version: int) -> str:
    return next(f["ip_address"] for f in port["fixed_ips"] if (":" in f["ip_address"]) ==
                (version == 6))


def eui64(prefix: str, mac: str) -> str:
    """RFC 4291's modified EUI-64 interface id, worked out here independently of IPAM."""
    raw = bytes.fromhex(mac.replace(":", ""))
    interface = bytes([raw[0] ^ 0x02]) + raw[1:3] + b"\xff\xfe" + raw[3:]
    network = ipaddress.IPv6Network(prefix)
    return str(network.network_address + int.from_bytes(interface, "big"))


def served(lab: DhcpLab, net: str, **settings: Any) -> Any:
    agent = lab.agent(**settings)
    agent.start()
    tn.wait_for(lambda: net in agent.served(), timeout=30)
    return agent


def test_dhclient_6_gets_the_stateful_address_the_api_allocated(
        res: tn.NetnsResources, world: World) -> None:
    lab = lab_with(res, world)
    net = network(world, lab, v6("2001:db8:61::/64", "dhcpv6-stateful",
                                 dns_nameservers=["2001:db8:61::53"]))
    vm_port = world.port(net)
    vm_ip = address(vm_port, 6)
    served(lab, net)
    # The DHCP port's stateful address is on the namespace's interface.
    dhcp_port = world.core.ports.list(world.admin, {"network_id": [net],
                                                    "device_owner": ["network:dhcp"]})[0]
    dhcp_ip = address(dhcp_port, 6)
    ns = lab.host.namespace_path(f"qdhcp-{net}")
    assert f"{dhcp_ip}/64" in tn.addresses(f"ns-{dhcp_port['id'][:11]}", netns=ns)
    assert dhcp_ip != vm_ip

    client = lab.vm(net, vm_port["mac_address"])
    lease = tn.run_dhclient6(res, client, "eth0")
    assert lease is not None
    assert lease.fields["reason"] == "BOUND6"
    assert lease.ip == vm_ip
    assert lease.fields["dns"] == "2001:db8:61::53"
    assert lease.fields["search"] == "openstacklocal."

    # A MAC the API does not know gets nothing (static: host entries only).
    stranger = lab.vm(net, "fa:16:3e:12:34:56")
    assert tn.run_dhclient6(res, stranger, "eth0", timeout=8) is None


def test_stateless_subnet_hands_out_options_but_no_address(
        res: tn.NetnsResources, world: World) -> None:
    lab = lab_with(res, world)
    net = network(world, lab, v6("2001:db8:62::/64", "dhcpv6-stateless",
                                 dns_nameservers=["2001:db8:62::53", "2001:db8:62::54"]))
    vm_port = world.port(net)
    # IPAM gave the port its EUI-64 address.
    assert address(vm_port, 6) == eui64("2001:db8:62::/64", vm_port["mac_address"])
    served(lab, net)
    client = lab.vm(net, vm_port["mac_address"])
    lease = tn.run_dhclient6(res, client, "eth0", stateless=True)
    assert lease is not None
    # Information only (dhclient's hook reports it as RENEW6): options, no address.
    assert lease.ip == ""
    assert lease.fields["dns"] == "2001:db8:62::53,2001:db8:62::54"


def test_dual_stack_vm_gets_both(res: tn.NetnsResources, world: World) -> None:
    lab = lab_with(res, world)
    net = network(world, lab, {"cidr": "10.63.0.0/24"},
                  v6("2001:db8:63::/64", "dhcpv6-stateful"))
    vm_port = world.port(net)
    served(lab, net)
    client = lab.vm(net, vm_port["mac_address"])
    lease4 = tn.run_udhcpc(client, "eth0", tries=3, timeout=1)
    assert lease4 is not None and lease4.ip == address(vm_port, 4)
    lease6 = tn.run_dhclient6(res, client, "eth0")
    assert lease6 is not None and lease6.ip == address(vm_port, 6)


def test_slaac_with_router_advertisements_from_the_namespace(
        res: tn.NetnsResources, world: World) -> None:
    lab = lab_with(res, world)
    net = network(world, lab, v6("2001:db8:64::/64", "slaac"))
    vm_port = world.port(net)
    slaac = address(vm_port, 6)
    assert slaac == eui64("2001:db8:64::/64", vm_port["mac_address"])
    served(lab, net, enable_ra=True)
    client = lab.vm(net, vm_port["mac_address"])
    # The VM's kernel takes the advertised prefix (accept_ra, not forwarding) and makes
    # the same EUI-64 address the API shows.
    tn.ip("link", "set", "eth0", "down", netns=client)
    tn.ip("link", "set", "eth0", "up", netns=client)
    tn.wait_for(lambda: f"{slaac}/64" in tn.addresses("eth0", netns=client), timeout=30)
    # The namespace is no router: no default route via it.
    assert "default" not in tn.ip("-6", "route", "show", netns=client)


def test_slaac_without_router_advertisements_is_left_to_a_router(
        res: tn.NetnsResources, world: World) -> None:
    lab = lab_with(res, world)
    net = network(world, lab, v6("2001:db8:65::/64", "slaac"))
    agent = served(lab, net)
    argv = Path(f"/proc/{agent.served()[net].pid}/cmdline").read_text().split("\0")
    assert "--enable-ra" not in argv
    assert not any(a.startswith("--dhcp-range") for a in argv)


def test_lab_vm_dhcp_with_dhclient_both_families(res: tn.NetnsResources, world: World,
                                                 tmp_path: Path) -> None:
    """`neutrino lab vm dhcp NAME --client dhclient [-6]`'s own code (command, hook,
    files) against the agent's dnsmasq: the VM's eth0 gets the API's addresses."""
    lab = lab_with(res, world)
    net = network(world, lab, {"cidr": "10.66.0.0/24"},
                  v6("2001:db8:66::/64", "dhcpv6-stateful", dns_nameservers=["2001:db8::53"]))
    vm_port = world.port(net)
    served(lab, net)
    client = lab.vm(net, vm_port["mac_address"])
    lab_stub = SimpleNamespace(names=SimpleNamespace(run_dir=str(tmp_path)))
    vms = Vms(lab_stub, None)  # type: ignore[arg-type]
    name = Path(client).name
    got6 = vms._dhclient("vm1", name, ipv6=True, stateless=False, timeout=30)
    assert got6 == f"{address(vm_port, 6)} dns=2001:db8::53"
    got4 = vms._dhclient("vm1", name, ipv6=False, stateless=False, timeout=30)
    assert got4 == address(vm_port, 4)
    assert {f"{address(vm_port, 4)}/24", f"{address(vm_port, 6)}/128"} <= \
        set(tn.addresses("eth0", netns=client))
    # dhclient was stopped, its pid files removed; its leases file stays for its DUID.
    assert not list(tmp_path.glob("*.pid"))
    assert not [line for line in tn.ip("netns", "pids", name).split() if line]


def test_a_deleted_port_s_dhcpv6_lease_is_released_for_the_next_port(
        res: tn.NetnsResources, world: World) -> None:
    lab = lab_with(res, world)
    net = network(world, lab, v6("2001:db8:67::/64", "dhcpv6-stateful"))
    first = world.port(net)
    ip = address(first, 6)
    agent = served(lab, net)
    assert tn.run_dhclient6(res, lab.vm(net, first["mac_address"]), "eth0") is not None
    world.core.ports.delete(world.admin, first["id"])
    agent.port_delete_end({"port_id": first["id"], "network_id": net})
    tn.wait_for(lambda: first["id"] not in agent.served()[net].ports)
    # The address goes to another port at once: dnsmasq gives it only if the first
    # client's lease was released (it would say the address is leased to another).
    second = world.port(net, fixed_ips=[{"ip_address": ip}])
    agent.port_create_end({"port": second})
    tn.wait_for(lambda: second["id"] in agent.served()[net].ports)
    lease = tn.run_dhclient6(res, lab.vm(net, second["mac_address"]), "eth0")
    assert lease is not None and lease.ip == ip
