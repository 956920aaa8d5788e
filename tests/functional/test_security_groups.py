"""Security groups in core on real databases: the default group made once per project by
racing server replicas, groups deleted while ports join them, and what the Linux bridge
agents are served (security_group_info_for_devices)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from support.core_world import World
from support.race import race

from neutrino.core.context import Context
from neutrino.core.services import build_services
from neutrino.db.engine import Database
from neutrino.lib import constants as c
from neutrino.lib import exceptions as exc
from neutrino.lib.naming import tap_name

PROJECT = Context(project_id="p1", user_id="u1", roles=("member",))


@pytest.fixture
def world(server_database: Database) -> World:
    return World(server_database)


@pytest.fixture
def replicas(world: World) -> Iterator[list[Any]]:
    """Two servers' services on the same database, each with its own connection pool."""
    other = Database(world.db.settings)
    try:
        yield [world.core, build_services(other, world.settings, world.notifier, world.clock)]
    finally:
        other.dispose()


def default_groups(world: World, project: str) -> list[dict[str, Any]]:
    return [g for g in world.core.security_groups.list(world.admin, {"project_id": [project]})
            if g["name"] == "default"]


def test_replicas_racing_for_a_new_projects_default_group_make_one(world, replicas):
    net = world.network(shared=True)

    def first_use(i: int) -> list[str]:
        core = replicas[i % 2]
        if i % 3 == 0:
            return core.ports.create(PROJECT, {"network_id": net["id"]})["security_groups"]
        if i % 3 == 1:
            return [g["id"] for g in core.security_groups.list(PROJECT) if g["name"] == "default"]
        return [r["remote_group_id"] for r in core.security_group_rules.list(PROJECT)
                if r["remote_group_id"]][:1]

    results, errors = race(9, first_use)
    assert errors == []
    found = default_groups(world, "p1")
    assert len(found) == 1
    assert all(result == [found[0]["id"]] for result in results), results
    assert len(found[0]["security_group_rules"]) == 4


def test_a_group_deleted_while_ports_join_it_ends_consistent(world, replicas):
    net = world.network(shared=True)
    group = world.core.security_groups.create(PROJECT, {"name": "web"})

    def act(i: int) -> str:
        core = replicas[i % 2]
        if i == 0:
            core.security_groups.delete(PROJECT, group["id"])
            return "deleted"
        return core.ports.create(PROJECT, {"network_id": net["id"],
                                           "security_groups": [group["id"]]})["id"]

    results, errors = race(5, act)
    members = [p for p in world.core.ports.list(world.admin, {"network_id": [net["id"]]})
               if group["id"] in p["security_groups"]]
    if "deleted" in results:
        # Every port that tried after the delete was told the group is gone; none holds it.
        assert members == []
        assert errors and all(isinstance(e, exc.SecurityGroupNotFound) for e in errors)
    else:
        assert [type(e) for e in errors] == [exc.SecurityGroupInUse]
        assert sorted(p["id"] for p in members) == sorted(results)


def test_info_for_devices_serves_the_agents_contract(sqlite_database):
    world = World(sqlite_database)
    core, admin = world.core, world.admin
    net = world.network()
    dhcp_port = world.port(net["id"], device_owner=c.DEVICE_OWNER_DHCP)
    web = core.security_groups.create(admin, {"name": "web", "project_id": "proj"})
    default = default_groups(world, "proj")[0]
    rule = core.security_group_rules.create(admin, {
        "security_group_id": web["id"], "direction": "ingress", "ethertype": "IPv4",
        "protocol": "6", "port_range_min": 22, "port_range_max": 22,
        "remote_group_id": default["id"], "project_id": "proj"})
    member = world.port(net["id"], allowed_address_pairs=[{"ip_address": "10.9.9.0/24"}])
    vm = world.port(net["id"], security_groups=[web["id"]])
    open_port = world.port(net["id"], port_security_enabled=False)

    info = core.security_group_rpc.info_for_devices(
        [tap_name(vm["id"]), member["id"], open_port["id"], "tapdeadbeef-00"])

    assert set(info["devices"]) == {vm["id"], member["id"], open_port["id"]}
    described = info["devices"][vm["id"]]
    assert described == {
        "id": vm["id"], "device": tap_name(vm["id"]), "network_id": net["id"],
        "mac_address": vm["mac_address"],
        "fixed_ips": [ip["ip_address"] for ip in vm["fixed_ips"]],
        "device_owner": "", "port_security_enabled": True, "security_groups": [web["id"]],
        "allowed_address_pairs": [],
        "dhcp_server_ips": [ip["ip_address"] for ip in dhcp_port["fixed_ips"]]}
    assert info["devices"][member["id"]]["device"] == member["id"]
    assert info["devices"][member["id"]]["allowed_address_pairs"] == [
        {"ip_address": "10.9.9.0/24", "mac_address": member["mac_address"]}]
    unfiltered = info["devices"][open_port["id"]]
    assert unfiltered["port_security_enabled"] is False
    assert unfiltered["security_groups"] == [] and unfiltered["allowed_address_pairs"] == []

    assert set(info["security_groups"]) == {web["id"], default["id"]}
    by_id = {r["id"]: r for r in info["security_groups"][web["id"]]}
    assert by_id[rule["id"]] == {
        "id": rule["id"], "security_group_id": web["id"], "direction": "ingress",
        "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
        "remote_ip_prefix": None, "remote_group_id": default["id"]}
    # The default group's own rules name it as remote too: its members' addresses, fixed
    # IPs and allowed pairs, by IP version.
    assert set(info["sg_member_ips"]) == {default["id"]}
    assert info["sg_member_ips"][default["id"]] == {
        "IPv4": sorted([member["fixed_ips"][0]["ip_address"], "10.9.9.0/24"]), "IPv6": []}
    assert info["sg_stateful"] == {web["id"]: True, default["id"]: True}


def test_dhcpv6_servers_include_the_dhcp_ports_link_local_addresses(sqlite_database):
    # dnsmasq answers DHCPv6 from its interface's link-local address (EUI-64 of the DHCP
    # port's MAC): a filtered port must accept replies from it.
    world = World(sqlite_database)
    net = world.network()
    v6 = world.subnet(net["id"], ip_version=6, cidr="fd00:1::/64",
                      ipv6_address_mode="dhcpv6-stateful", ipv6_ra_mode="dhcpv6-stateful")
    dhcp_port = world.port(net["id"], device_owner=c.DEVICE_OWNER_DHCP,
                           mac_address="fa:16:3e:12:34:56")
    vm = world.port(net["id"])
    v4_only = world.network()
    v4_dhcp = world.port(v4_only["id"], device_owner=c.DEVICE_OWNER_DHCP)
    v4_vm = world.port(v4_only["id"])

    info = world.core.security_group_rpc.info_for_devices([vm["id"], v4_vm["id"]])

    fixed = [ip["ip_address"] for ip in dhcp_port["fixed_ips"]]
    assert any(ip["subnet_id"] == v6["id"] for ip in dhcp_port["fixed_ips"])
    assert info["devices"][vm["id"]]["dhcp_server_ips"] == sorted(
        [*fixed, "fe80::f816:3eff:fe12:3456"])
    assert info["devices"][v4_vm["id"]]["dhcp_server_ips"] == [
        ip["ip_address"] for ip in v4_dhcp["fixed_ips"]]  # no IPv6 subnet: no DHCPv6


def test_ipv6_icmp_and_other_protocols_reach_agents_by_their_wire_names(sqlite_database):
    world = World(sqlite_database)
    core, admin = world.core, world.admin
    net = world.network()
    group = core.security_groups.create(admin, {"name": "g", "project_id": "proj"})
    for protocol, ethertype in (("icmp", "IPv6"), ("gre", "IPv4"), ("17", "IPv4"),
                                ("icmp", "IPv4")):
        core.security_group_rules.create(admin, {
            "security_group_id": group["id"], "direction": "ingress",
            "ethertype": ethertype, "protocol": protocol, "project_id": "proj"})
    port = world.port(net["id"], security_groups=[group["id"]])
    info = core.security_group_rpc.info_for_devices([port["id"]])
    wire = sorted((r["ethertype"], r["protocol"]) for r in info["security_groups"][group["id"]]
                  if r["direction"] == "ingress")
    assert wire == [("IPv4", "47"), ("IPv4", "icmp"), ("IPv4", "udp"), ("IPv6", "icmpv6")]


def test_a_dhcp_port_coming_or_going_tells_the_groups_of_the_networks_ports(sqlite_database):
    world = World(sqlite_database)
    net = world.network()
    vm = world.port(net["id"])
    group = vm["security_groups"]
    world.notifier.fanouts.clear()
    dhcp_port = world.port(net["id"], device_owner=c.DEVICE_OWNER_DHCP)
    assert (c.TOPIC_SECURITY_GROUP_UPDATE, c.SECURITY_GROUPS_MEMBER_UPDATED,
            {"security_groups": group}) in world.notifier.fanouts
    world.notifier.fanouts.clear()
    world.core.ports.update(world.admin, dhcp_port["id"], {"name": "renamed"})
    assert world.notifier.fanouts == []  # its addresses did not change
    # A new MAC is a new link-local address, which DHCPv6 replies come from.
    world.core.ports.update(world.admin, dhcp_port["id"], {"mac_address": "fa:16:3e:aa:bb:cc"})
    assert (c.TOPIC_SECURITY_GROUP_UPDATE, c.SECURITY_GROUPS_MEMBER_UPDATED,
            {"security_groups": group}) in world.notifier.fanouts
    world.notifier.fanouts.clear()
    world.core.ports.delete(world.admin, dhcp_port["id"])
    assert world.notifier.fanouts == [(c.TOPIC_SECURITY_GROUP_UPDATE,
                                       c.SECURITY_GROUPS_MEMBER_UPDATED,
                                       {"security_groups": group})]
