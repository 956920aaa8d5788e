"""Pure planning: dnsmasq's command line and files from a network_info."""

from __future__ import annotations

import copy

import pytest

from neutrino.agent.dhcp import plan
from neutrino.agent.dhcp.validate import Unsafe
from neutrino.lib import naming

NET = "8d5a1c3e-0000-4000-8000-000000000001"
SUB = "5b1f0000-0000-4000-8000-00000000000a"
SUB2 = "5b1f0000-0000-4000-8000-00000000000b"
DHCP_PORT = "aaaabbbbcccc-0000-4000-8000-0000000000d1"
VM = "11112222-3333-4000-8000-0000000000e1"
PARAMS = plan.PlanParams(host="HostA", confs_dir="/var/lib/n/dhcp", lease_duration=120)
DEVICE_ID = naming.dhcp_device_id("HostA", NET)


def subnet(sid: str = SUB, cidr: str = "10.0.1.0/24", gw: str | None = "10.0.1.1",
           **kw: object) -> dict:
    return {"id": sid, "network_id": NET, "cidr": cidr, "ip_version": 4, "gateway_ip": gw,
            "enable_dhcp": True, "dns_nameservers": [], "host_routes": [], **kw}


def port(pid: str, mac: str, ip: str, sid: str = SUB, **kw: object) -> dict:
    return {"id": pid, "network_id": NET, "mac_address": mac, "device_owner": "compute:nova",
            "device_id": "vm", "fixed_ips": [{"subnet_id": sid, "ip_address": ip}],
            "dns_name": "", "extra_dhcp_opts": [], "revision_number": 3, **kw}


def dhcp_port(ip: str = "10.0.1.2") -> dict:
    return port(DHCP_PORT, "fa:16:3e:00:00:02", ip, device_owner="network:dhcp",
                device_id=DEVICE_ID)


def info(*ports: dict, subnets: list[dict] | None = None, mtu: int = 1450) -> dict:
    return {"id": NET, "admin_state_up": True, "mtu": mtu, "tenant_id": "p1",
            "subnets": subnets if subnets is not None else [subnet()], "ports": list(ports)}


def test_argv_static_ranges_and_files() -> None:
    p = plan.build_plan(info(dhcp_port()), dhcp_port(), PARAMS)
    d = "/var/lib/n/dhcp/" + NET
    assert p.argv == (
        "dnsmasq", "--conf-file=", "--no-hosts",
        f"--pid-file={d}/pid", f"--dhcp-hostsfile={d}/host", f"--addn-hosts={d}/addn_hosts",
        f"--dhcp-optsfile={d}/opts",
        f"--dhcp-leasefile={d}/leases", f"--log-facility={d}/dnsmasq.log",
        "--interface=ns-aaaabbbbccc", "--except-interface=lo", "--bind-dynamic",
        "--dhcp-authoritative",
        f"--dhcp-range=set:subnet-{SUB},10.0.1.0,static,255.255.255.0,120s",
        "--dhcp-lease-max=256", "--no-resolv", "--domain=openstacklocal")
    assert p.namespace == "qdhcp-" + NET
    assert p.bridge == "brq8d5a1c3e-00"
    assert p.tap == "tapaaaabbbbccc"
    assert p.interface == "ns-aaaabbbbccc"
    assert p.addresses == ("10.0.1.2/24",)
    assert p.mac == "fa:16:3e:00:00:02"
    assert p.mtu == 1450


def test_hosts_and_opts() -> None:
    vm = port(VM, "FA:16:3E:AA:BB:CC", "10.0.1.5")
    p = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    assert p.hosts == (
        "fa:16:3e:aa:bb:cc,host-10-0-1-5.openstacklocal,10.0.1.5\n"
        "fa:16:3e:00:00:02,host-10-0-1-2.openstacklocal,10.0.1.2\n")
    assert p.opts == (f"tag:subnet-{SUB},option:router,10.0.1.1\n"
                      f"tag:subnet-{SUB},option:mtu,1450\n")
    assert p.dns_hosts == ("10.0.1.5\thost-10-0-1-5.openstacklocal\thost-10-0-1-5\n"
                           "10.0.1.2\thost-10-0-1-2.openstacklocal\thost-10-0-1-2\n")
    assert set(p.served_ports) == {VM, DHCP_PORT}
    assert p.subnet_count == 1


def test_no_gateway_routes_dns_two_subnets() -> None:
    s1 = subnet(gw=None, dns_nameservers=["8.8.8.8", "1.1.1.1"])
    s2 = subnet(SUB2, "192.168.0.0/16", "192.168.0.1",
                host_routes=[{"destination": "172.16.0.0/12", "nexthop": "192.168.0.254"}])
    p = plan.build_plan(info(dhcp_port(), subnets=[s1, s2]), dhcp_port(), PARAMS)
    assert p.opts.splitlines() == [
        f"tag:subnet-{SUB},option:router",
        f"tag:subnet-{SUB},option:dns-server,8.8.8.8,1.1.1.1",
        f"tag:subnet-{SUB},option:mtu,1450",
        f"tag:subnet-{SUB2},option:router,192.168.0.1",
        f"tag:subnet-{SUB2},option:classless-static-route,"
        "172.16.0.0/12,192.168.0.254,0.0.0.0/0,192.168.0.1",
        f"tag:subnet-{SUB2},249,172.16.0.0/12,192.168.0.254,0.0.0.0/0,192.168.0.1",
        f"tag:subnet-{SUB2},option:mtu,1450",
    ]
    assert [a for a in p.argv if a.startswith("--dhcp-range")] == [
        f"--dhcp-range=set:subnet-{SUB},10.0.1.0,static,255.255.255.0,120s",
        f"--dhcp-range=set:subnet-{SUB2},192.168.0.0,static,255.255.0.0,120s"]
    assert "--dhcp-lease-max=65792" in p.argv


def test_dns_names_follow_the_server_s_dns_assignment() -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5", dns_name="web-1", dns_assignment=[
        {"ip_address": "10.0.1.5", "hostname": "web-1", "fqdn": "web-1.cloud.example.org."}])
    p = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    assert "10.0.1.5\tweb-1.cloud.example.org\tweb-1\n" in p.dns_hosts
    assert "fa:16:3e:aa:bb:cc,web-1.openstacklocal,10.0.1.5\n" in p.hosts
    hostile = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5", dns_assignment=[
        {"ip_address": "10.0.1.5", "hostname": "x\naddress=/evil/1.2.3.4", "fqdn": "a b"}])
    p = plan.build_plan(info(dhcp_port(), hostile), dhcp_port(), PARAMS)
    assert "10.0.1.5\thost-10-0-1-5.openstacklocal\thost-10-0-1-5\n" in p.dns_hosts
    assert any("dns_assignment" in r for r in p.rejected)


def test_forwarders_and_local_resolv() -> None:
    def argv(**kw: object) -> tuple[str, ...]:
        params = plan.PlanParams(host="HostA", confs_dir="/d", **kw)  # type: ignore[arg-type]
        return plan.build_plan(info(dhcp_port()), dhcp_port(), params).argv
    assert "--no-resolv" in argv() and not any(a.startswith("--server") for a in argv())
    assert "--no-resolv" not in argv(local_resolv=True)
    both = argv(dns_servers=("8.8.8.8", "2001:db8::53"), local_resolv=True)
    assert [a for a in both if a.startswith("--server") or a == "--no-resolv"] == [
        "--server=8.8.8.8", "--server=2001:db8::53", "--no-resolv"]
    # Forwarders are dnsmasq's, not handed to the VMs (dnsmasq offers itself).
    p = plan.build_plan(info(dhcp_port()), dhcp_port(), plan.PlanParams(
        host="HostA", confs_dir="/d", dns_servers=("8.8.8.8",)))
    assert "dns-server" not in p.opts


def test_nameserver_0_0_0_0_means_no_dns_server() -> None:
    p = plan.build_plan(info(dhcp_port(), subnets=[subnet(dns_nameservers=["0.0.0.0"])]),
                        dhcp_port(), PARAMS)
    assert f"tag:subnet-{SUB},option:dns-server\n" in p.opts


def test_several_dhcp_ports_are_the_dns_servers_without_nameservers() -> None:
    other = port("bbbb0000-0000-4000-8000-0000000000d2", "fa:16:3e:00:00:03", "10.0.1.3",
                 device_owner="network:dhcp", device_id="dhcpother")
    p = plan.build_plan(info(dhcp_port(), other), dhcp_port(), PARAMS)
    assert f"tag:subnet-{SUB},option:dns-server,10.0.1.2,10.0.1.3" in p.opts.splitlines()


def test_disabled_subnets_are_not_served() -> None:
    v6 = {**subnet(SUB2, "fd00::/64", "fd00::1"), "ip_version": 6}
    off = subnet("c0000000-0000-4000-8000-000000000001", "10.9.0.0/24", enable_dhcp=False)
    i = info(dhcp_port(), subnets=[subnet(), v6, off])
    assert [s["id"] for s in plan.dhcp_subnets(i)] == [SUB, SUB2]
    assert plan.wants_dhcp(info(subnets=[v6, off]))
    assert not plan.wants_dhcp(info(subnets=[off]))
    assert not plan.wants_dhcp(None)
    assert not plan.wants_dhcp({**i, "admin_state_up": False})


def test_infinite_lease() -> None:
    params = plan.PlanParams(host="HostA", confs_dir="/d", lease_duration=-1)
    p = plan.build_plan(info(dhcp_port()), dhcp_port(), params)
    assert f"--dhcp-range=set:subnet-{SUB},10.0.1.0,static,255.255.255.0,infinite" in p.argv


def test_dns_name_and_extra_options() -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5", dns_name="web-1", extra_dhcp_opts=[
        {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4},
        {"opt_name": "dns-server", "opt_value": "9.9.9.9, 8.8.4.4", "ip_version": 4},
        {"opt_name": "66", "opt_value": "tftp.example.org", "ip_version": 4},
        {"opt_name": "bootfile-name", "opt_value": "x", "ip_version": 6},
    ])
    p = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    assert f"fa:16:3e:aa:bb:cc,web-1.openstacklocal,10.0.1.5,set:port-{VM}" in p.hosts
    assert p.opts.splitlines()[-3:] == [
        f"tag:port-{VM},option:bootfile-name,pxelinux.0",
        f"tag:port-{VM},option:dns-server,9.9.9.9,8.8.4.4",
        f"tag:port-{VM},66,tftp.example.org"]
    assert p.rejected == ()


HOSTILE_NAMES = [
    "evil\ndhcp-range=1.2.3.4", "a,b", "x y", "tag:foo", "-leading", "a" * 64, "é",
    "name#c", "a..b", "..", "$(reboot)", "a\x00b",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_dns_name_falls_back_to_the_generated_name(name: str) -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5", dns_name=name)
    p = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    assert "fa:16:3e:aa:bb:cc,host-10-0-1-5.openstacklocal,10.0.1.5\n" in p.hosts
    assert len(p.hosts.splitlines()) == 2
    assert any("not a valid DNS name" in r for r in p.rejected)
    assert VM in p.served_ports


HOSTILE_OPTIONS = [
    ("bootfile-name", "a\ndhcp-option=option:router,6.6.6.6"),
    ("bootfile-name", "a,b"),
    ("bootfile-name", "a b"),
    ("bootfile-name", 'a"b'),
    ("bootfile-name", "a\\b"),
    ("bootfile-name", ""),
    ("router\n", "1.2.3.4"),
    ("tag:x,option:router", "1.2.3.4"),
    ("option:router", "1.2.3.4"),
    ("300", "x"),
    ("dns-server", "8.8.8.8\nfoo"),
    ("dns-server", "8.8.8.8,evil"),
    ("Bootfile", "x"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE_OPTIONS)
def test_hostile_extra_options_are_dropped_rest_kept(name: str, value: str) -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5", extra_dhcp_opts=[
        {"opt_name": name, "opt_value": value, "ip_version": 4},
        {"opt_name": "ntp-server", "opt_value": "10.0.1.9", "ip_version": 4}])
    p = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    assert p.opts.splitlines()[-1] == f"tag:port-{VM},option:ntp-server,10.0.1.9"
    assert len(p.opts.splitlines()) == 3  # router, mtu, ntp: nothing smuggled in
    assert len(p.rejected) == 1 and "option dropped" in p.rejected[0]
    for text in (p.hosts, p.opts):
        assert "6.6.6.6" not in text and "evil" not in text


@pytest.mark.parametrize("bad", [
    {"mac_address": "fa:16:3e:aa:bb:cc\nfa:16:3e:00:00:09,evil,10.0.1.66"},
    {"mac_address": "fa:16:3e:aa:bb"},
    {"id": "x,set:known"},
    {"fixed_ips": [{"subnet_id": SUB, "ip_address": "10.0.1.5\n"}]},
    {"fixed_ips": [{"subnet_id": SUB, "ip_address": "10.9.9.9"}]},
])
def test_unservable_ports_are_skipped(bad: dict) -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5") | bad
    good = port("22220000-0000-4000-8000-0000000000e2", "fa:16:3e:aa:bb:dd", "10.0.1.6")
    p = plan.build_plan(info(dhcp_port(), vm, good), dhcp_port(), PARAMS)
    assert sorted(p.hosts.splitlines()) == [
        "fa:16:3e:00:00:02,host-10-0-1-2.openstacklocal,10.0.1.2",
        "fa:16:3e:aa:bb:dd,host-10-0-1-6.openstacklocal,10.0.1.6"]
    assert len(p.rejected) == 1


def test_unsafe_network_id_is_refused() -> None:
    i = info(dhcp_port())
    i["id"] = "../../etc"
    with pytest.raises(Unsafe):
        plan.build_plan(i, dhcp_port(), PARAMS)


def test_port_request_create_and_update() -> None:
    i = info()
    req = plan.port_request(i, PARAMS, None)
    assert req is not None and req.port_id is None
    assert req.body == {"name": "", "network_id": NET, "device_owner": "network:dhcp",
                        "device_id": DEVICE_ID, "admin_state_up": True, "tenant_id": "p1",
                        "fixed_ips": [{"subnet_id": SUB}]}
    assert plan.port_request(i, PARAMS, dhcp_port()) is None
    two = info(subnets=[subnet(), subnet(SUB2, "10.0.2.0/24", "10.0.2.1")])
    req = plan.port_request(two, PARAMS, dhcp_port())
    assert req is not None and req.port_id == DHCP_PORT
    assert req.body == {"fixed_ips": [{"subnet_id": SUB, "ip_address": "10.0.1.2"},
                                      {"subnet_id": SUB2}]}


def test_own_dhcp_port_matches_device_id_only() -> None:
    other = dhcp_port() | {"id": "ffff0000-0000-4000-8000-000000000001",
                           "device_id": "reserved_dhcp_port"}
    assert plan.own_dhcp_port(info(other), DEVICE_ID) is None
    assert plan.own_dhcp_port(info(other, dhcp_port()), DEVICE_ID)["id"] == DHCP_PORT


def test_ready_port_ids_follow_fingerprints() -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5")
    p1 = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    assert plan.ready_port_ids(p1.served_ports, {}) == sorted([DHCP_PORT, VM])
    assert plan.ready_port_ids(p1.served_ports, dict(p1.served_ports)) == []
    moved = copy.deepcopy(vm)
    moved["fixed_ips"][0]["ip_address"] = "10.0.1.7"
    p2 = plan.build_plan(info(dhcp_port(), moved), dhcp_port(), PARAMS)
    assert plan.ready_port_ids(p2.served_ports, dict(p1.served_ports)) == [VM]


def test_with_port_and_without_port() -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5")
    base = info(dhcp_port())
    added = plan.with_port(base, vm)
    assert [p["id"] for p in added["ports"]] == [DHCP_PORT, VM]
    assert base["ports"] == [dhcp_port()]  # not mutated
    newer = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.6", revision_number=4)
    assert plan.with_port(added, newer)["ports"][-1]["fixed_ips"][0]["ip_address"] == \
        "10.0.1.6"
    stale = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.9", revision_number=2)
    assert plan.with_port(added, stale) is added
    assert plan.with_port(base, port(VM, "fa:16:3e:aa:bb:cc", "10.0.2.5", sid=SUB2)) is None
    assert plan.with_port(base, dhcp_port()) is None
    assert [p["id"] for p in plan.without_port(added, VM)["ports"]] == [DHCP_PORT]


def test_stale_leases() -> None:
    vm = port(VM, "fa:16:3e:aa:bb:cc", "10.0.1.5")
    p = plan.build_plan(info(dhcp_port(), vm), dhcp_port(), PARAMS)
    leases = (
        "1795647960 fa:16:3e:aa:bb:cc 10.0.1.5 host-10-0-1-5 01:fa:16:3e:aa:bb:cc\n"
        "1795647960 fa:16:3e:aa:bb:cc 10.0.1.9 host-10-0-1-9 *\n"  # the port's old IP
        "1795647960 fa:16:3e:00:00:77 10.0.1.5 gone 01:fa:16:3e:00:00:77\n"  # old port
        "1795647960 fa:16:3e:00:00:78 10.7.0.5 gone *\n"  # a subnet no longer served
        "duid 00:01:00:01:2c:00:00:00:fa:16:3e:00:00:01\n"
        "garbage\n")
    assert plan.stale_leases(leases, p) == [
        plan.StaleLease("fa:16:3e:aa:bb:cc", "10.0.1.9", "*", "10.0.1.2"),
        plan.StaleLease("fa:16:3e:00:00:77", "10.0.1.5", "01:fa:16:3e:00:00:77", "10.0.1.2")]
    assert plan.stale_leases(None, p) == []


META = plan.PlanParams(host="HostA", confs_dir="/d", isolated_metadata=True)


def test_no_metadata_unless_enabled() -> None:
    p = plan.build_plan(info(dhcp_port(), port(VM, "fa:16:3e:00:00:10", "10.0.1.10")),
                        dhcp_port(), PARAMS)
    assert p.metadata is None
    assert p.addresses == ("10.0.1.2/24",)
    assert "169.254.169.254" not in p.opts


def test_isolated_metadata_route_table_and_address() -> None:
    vm = port(VM, "fa:16:3e:00:00:10", "10.0.1.10", device_id="inst-1", tenant_id="p9",
              host_routes=[])
    routed = subnet(host_routes=[{"destination": "10.9.0.0/16", "nexthop": "10.0.1.254"}])
    p = plan.build_plan(info(dhcp_port(), vm, subnets=[routed]), dhcp_port(), META)
    assert p.addresses == ("10.0.1.2/24", "169.254.169.254/32")
    assert p.metadata == {"10.0.1.10": plan.Instance("inst-1", "p9")}  # not the DHCP port
    routes = "10.9.0.0/16,10.0.1.254,169.254.169.254/32,10.0.1.2,0.0.0.0/0,10.0.1.1"
    assert f"tag:subnet-{SUB},option:classless-static-route,{routes}\n" in p.opts
    assert f"tag:subnet-{SUB},249,{routes}\n" in p.opts


def test_a_router_port_on_the_gateway_means_no_metadata_unless_forced() -> None:
    router = port("r1", "fa:16:3e:00:00:01", "10.0.1.1", device_owner="network:router_interface",
                  device_id="router-1")
    vm = port(VM, "fa:16:3e:00:00:10", "10.0.1.10", device_id="inst-1")
    p = plan.build_plan(info(dhcp_port(), router, vm), dhcp_port(), META)
    assert p.metadata is None and "169.254.169.254" not in p.opts
    forced = plan.PlanParams(host="HostA", confs_dir="/d", force_metadata=True)
    p = plan.build_plan(info(dhcp_port(), router, vm), dhcp_port(), forced)
    assert p.metadata == {"10.0.1.10": plan.Instance("inst-1", "")}
    assert "169.254.169.254/32,10.0.1.2" in p.opts


def test_metadata_network_is_served_without_a_route() -> None:
    params = plan.PlanParams(host="HostA", confs_dir="/d", isolated_metadata=True,
                             metadata_network=True)
    meta_subnet = subnet(cidr="169.254.0.0/16", gw="169.254.0.1")
    own = dhcp_port("169.254.0.2")
    vm = port(VM, "fa:16:3e:00:00:10", "169.254.0.10", device_id="inst-1")
    p = plan.build_plan(info(own, vm, subnets=[meta_subnet]), own, params)
    assert p.metadata == {"169.254.0.10": plan.Instance("inst-1", "")}
    assert "classless-static-route" not in p.opts


def test_renewal_rebinding_broadcast_and_config_file() -> None:
    params = plan.PlanParams(host="HostA", confs_dir="/d", renewal_time=600,
                             rebinding_time=900, broadcast_reply=True,
                             config_file="/etc/neutron/dnsmasq-extra.conf")
    p = plan.build_plan(info(dhcp_port()), dhcp_port(), params)
    assert p.opts.splitlines()[-2:] == [f"tag:subnet-{SUB},option:T1,600",
                                        f"tag:subnet-{SUB},option:T2,900"]
    assert "--dhcp-broadcast" in p.argv
    assert p.argv[1] == "--conf-file=/etc/neutron/dnsmasq-extra.conf"
    default = plan.build_plan(info(dhcp_port()), dhcp_port(), PARAMS)
    assert "T1" not in default.opts and "--dhcp-broadcast" not in default.argv
    assert default.argv[1] == "--conf-file="


# --- IPv6 ---------------------------------------------------------------------------------

V6 = "6e000000-0000-4000-8000-00000000000c"
DHCP_MAC, VM_MAC = "fa:16:3e:00:00:02", "fa:16:3e:aa:bb:cc"


def subnet6(mode: str | None, cidr: str = "2001:db8:1::/64", sid: str = V6,
            **kw: object) -> dict:
    return subnet(sid, cidr, cidr.split("/")[0] + "1", ip_version=6,
                  ipv6_address_mode=mode, ipv6_ra_mode=mode, **kw)


def dual_port(pid: str, mac: str, ip4: str, ip6: str, **kw: object) -> dict:
    return port(pid, mac, ip4, fixed_ips=[{"subnet_id": SUB, "ip_address": ip4},
                                          {"subnet_id": V6, "ip_address": ip6}], **kw)


def dual_dhcp_port(ip6: str) -> dict:
    return dual_port(DHCP_PORT, DHCP_MAC, "10.0.1.2", ip6, device_owner="network:dhcp",
                     device_id=DEVICE_ID)


def v6_plan(mode: str | None, vm_ip6: str, dhcp_ip6: str, params: plan.PlanParams = PARAMS,
            **vm: object) -> plan.NetworkPlan:
    dhcp = dual_dhcp_port(dhcp_ip6)
    i = info(dhcp, dual_port(VM, VM_MAC, "10.0.1.5", vm_ip6, **vm),
             subnets=[subnet(), subnet6(mode)])
    return plan.build_plan(i, dhcp, params)


def ranges(p: plan.NetworkPlan) -> list[str]:
    return [a for a in p.argv if a.startswith(("--dhcp-range", "--enable-ra", "--ra-param"))]


def test_dhcpv6_stateful_range_hosts_and_address() -> None:
    p = v6_plan("dhcpv6-stateful", "2001:db8:1::5", "2001:db8:1::2")
    assert ranges(p) == [f"--dhcp-range=set:subnet-{SUB},10.0.1.0,static,255.255.255.0,120s",
                         f"--dhcp-range=set:subnet-{V6},2001:db8:1::,static,64,120s"]
    assert p.addresses == ("10.0.1.2/24", "2001:db8:1::2/64")
    lines = p.hosts.splitlines()
    assert f"{VM_MAC},host-10-0-1-5.openstacklocal,10.0.1.5" in lines
    assert f"{VM_MAC},host-2001-db8-1--5.openstacklocal,[2001:db8:1::5]" in lines
    assert f"tag:subnet-{V6},option6:domain-search,openstacklocal" in p.opts.splitlines()
    # No IPv4 options for the IPv6 subnet, and the names of both addresses.
    assert not any(line.startswith(f"tag:subnet-{V6},option:") for line in p.opts.splitlines())
    assert "2001:db8:1::5\thost-2001-db8-1--5.openstacklocal\thost-2001-db8-1--5" in \
        p.dns_hosts.splitlines()
    assert not p.router_advertisements


def test_a_subnet_without_modes_is_served_stateful() -> None:
    p = v6_plan(None, "2001:db8:1::5", "2001:db8:1::2")
    assert f"--dhcp-range=set:subnet-{V6},2001:db8:1::,static,64,120s" in p.argv


def test_dhcpv6_stateless_serves_options_but_no_addresses() -> None:
    vm_ip, dhcp_ip = "2001:db8:1:0:f816:3eff:feaa:bbcc", "2001:db8:1:0:f816:3eff:fe00:2"
    p = v6_plan("dhcpv6-stateless", vm_ip, dhcp_ip, dns_name="web")
    assert f"--dhcp-range=set:subnet-{V6},2001:db8:1::,static,64,120s" in p.argv
    assert not any("[" in line for line in p.hosts.splitlines())
    assert f"{dhcp_ip}/64" in p.addresses
    assert f"tag:subnet-{V6},option6:domain-search,openstacklocal" in p.opts.splitlines()
    assert f"{vm_ip}\tweb.openstacklocal\tweb" in p.dns_hosts.splitlines()


def test_slaac_has_no_dhcpv6_range_without_router_advertisements() -> None:
    p = v6_plan("slaac", "2001:db8:1:0:f816:3eff:feaa:bbcc", "2001:db8:1:0:f816:3eff:fe00:2")
    assert not any(V6 in a for a in ranges(p))
    assert not any(V6 in line for line in p.opts.splitlines() + p.hosts.splitlines())
    assert VM in p.served_ports


@pytest.mark.parametrize(("mode", "range_mode"), [("slaac", "ra-only"),
                                                  ("dhcpv6-stateless", "static,ra-stateless"),
                                                  ("dhcpv6-stateful", "static")])
def test_router_advertisements_when_enabled_on_networks_without_a_router(
        mode: str, range_mode: str) -> None:
    params = plan.PlanParams(host="HostA", confs_dir="/c", lease_duration=120, enable_ra=True)
    p = v6_plan(mode, "2001:db8:1::5", "2001:db8:1::2", params)
    assert p.router_advertisements
    assert ranges(p)[1:] == [f"--dhcp-range=set:subnet-{V6},2001:db8:1::,{range_mode},64,120s",
                             "--enable-ra", "--ra-param=ns-aaaabbbbccc,0,0"]
    # A router on the network (its port holds the IPv6 gateway) sends them instead.
    dhcp = dual_dhcp_port("2001:db8:1::2")
    router = port("22220000-0000-4000-8000-0000000000f1", "fa:16:3e:00:00:01",
                  "2001:db8:1::1", sid=V6, device_owner="network:router_interface")
    routed = plan.build_plan(info(dhcp, router, subnets=[subnet(), subnet6(mode)]), dhcp,
                             params)
    assert not routed.router_advertisements
    assert "--enable-ra" not in routed.argv


def test_ipv6_nameservers_and_none() -> None:
    dhcp = dual_dhcp_port("2001:db8:1::2")
    given = subnet6("dhcpv6-stateful", dns_nameservers=["2001:4860:4860::8888", "8.8.8.8"])
    p = plan.build_plan(info(dhcp, subnets=[subnet(), given]), dhcp, PARAMS)
    assert f"tag:subnet-{V6},option6:dns-server,[2001:4860:4860::8888]" in p.opts.splitlines()
    assert any("8.8.8.8" in r for r in p.rejected)
    none = subnet6("dhcpv6-stateful", dns_nameservers=["::"])
    p = plan.build_plan(info(dhcp, subnets=[subnet(), none]), dhcp, PARAMS)
    assert f"tag:subnet-{V6},option6:dns-server" in p.opts.splitlines()


def test_ipv6_extra_dhcp_opts_by_version() -> None:
    opts = [{"opt_name": "dns-server", "opt_value": "2001:db8::53", "ip_version": 6},
            {"opt_name": "bootfile-url", "opt_value": "tftp://x/boot", "ip_version": 6},
            {"opt_name": "bootfile-name", "opt_value": "pxe.0", "ip_version": 4},
            {"opt_name": "dns-server", "opt_value": "x,option6:evil", "ip_version": 6}]
    p = v6_plan("dhcpv6-stateful", "2001:db8:1::5", "2001:db8:1::2", extra_dhcp_opts=opts)
    lines = p.opts.splitlines()
    assert f"tag:port-{VM},option6:dns-server,[2001:db8::53]" in lines
    assert f"tag:port-{VM},option6:bootfile-url,tftp://x/boot" in lines
    assert f"tag:port-{VM},option:bootfile-name,pxe.0" in lines
    assert not any("evil" in line for line in lines)
    assert any("option dropped" in r for r in p.rejected)
    hosts = p.hosts.splitlines()
    assert f"{VM_MAC},host-10-0-1-5.openstacklocal,10.0.1.5,set:port-{VM}" in hosts
    assert f"{VM_MAC},host-2001-db8-1--5.openstacklocal,[2001:db8:1::5],set:port-{VM}" in hosts
    # Stateless: a line that only tags the port, for its options.
    p = v6_plan("dhcpv6-stateless", "2001:db8:1::5", "2001:db8:1::2", extra_dhcp_opts=opts)
    assert f"{VM_MAC},set:port-{VM}" in p.hosts.splitlines()


def test_short_ipv6_prefix_gets_no_range_and_metadata_stays_ipv4() -> None:
    dhcp = dual_dhcp_port("2001:db8::2")
    wide = subnet6("dhcpv6-stateful", cidr="2001:db8::/56")
    params = plan.PlanParams(host="HostA", confs_dir="/c", isolated_metadata=True)
    vm = dual_port(VM, VM_MAC, "10.0.1.5", "2001:db8::5", device_id="inst")
    p = plan.build_plan(info(dhcp, vm, subnets=[subnet(), wide]), dhcp, params)
    assert not any(V6 in a for a in p.argv)
    assert any("shorter than /64" in r for r in p.rejected)
    assert p.metadata is not None and set(p.metadata) == {"10.0.1.5"}


def test_stale_leases_ignore_ipv6() -> None:
    p = v6_plan("dhcpv6-stateful", "2001:db8:1::5", "2001:db8:1::2")
    leases = ("100 fa:16:3e:99:99:99 10.0.1.9 x *\n"
              "duid 00:01:00:01:aa\n"
              "100 1234 2001:db8:1::9 x 00:01:00:01\n")
    assert [(s.ip, s.server_ip) for s in plan.stale_leases(leases, p)] == \
        [("10.0.1.9", "10.0.1.2")]


def test_stale_dhcpv6_leases_by_address_and_duid_mac() -> None:
    p = v6_plan("dhcpv6-stateful", "2001:db8:1::5", "2001:db8:1::2")
    server = "00:01:00:01:2a:2b:2c:2d:fa:16:3e:00:00:02"
    leases = (f"100 fa:16:3e:99:99:99 10.0.1.5 x *\n"
              f"duid {server}\n"
              # the VM's lease, DUID-LLT with its MAC: kept
              f"100 7 2001:db8:1::5 x 00:01:00:01:11:22:33:44:{VM_MAC}\n"
              # its address held by another MAC (DUID-LL): released
              "100 8 2001:db8:1::5 x 00:03:00:01:fa:16:3e:77:77:77\n"
              # an address nobody has any more, DUID-EN (no MAC): released
              "100 9 2001:db8:1::9 x 00:02:00:00:00:09:01:02\n")
    stale = plan.stale_leases6(leases, p)
    assert [(s.ip, s.iaid, s.client_duid.hex()) for s in stale] == [
        ("2001:db8:1::5", 8, "00030001fa163e777777"),
        ("2001:db8:1::9", 9, "0002000000090102")]
    assert {s.server_duid.hex(":") for s in stale} == {server}
