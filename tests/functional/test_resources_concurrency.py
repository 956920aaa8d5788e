"""Concurrent creators against one database: the constraints settle every race, and every
loser gets a clean Neutron error, never a SQL one."""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from support.race import race

from neutrino.conf.settings import CoreSettings, VlanRange
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

ADMIN = Context.admin()
THREADS = int(os.environ.get("NEUTRINO_TEST_THREADS", "24"))


def test_ports_on_a_small_subnet(server_database: Database) -> None:
    res = _services(server_database, CoreSettings(tenant_network_type="local"))
    net = res.networks.create(ADMIN, {"name": "race", "tenant_id": "p"})
    # /28 with the gateway at .1: 13 addresses, .2 to .14.
    subnet = res.subnets.create(ADMIN, {"network_id": net["id"], "ip_version": 4,
                                       "cidr": "10.9.0.0/28"})
    ports, errors = race(THREADS, lambda i: res.ports.create(
        ADMIN, {"network_id": net["id"], "name": f"p{i}"}))
    assert all(isinstance(e, exc.IpAddressGenerationFailure) for e in errors), errors
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert len(ips) == len(set(ips)), "duplicate IP handed out"
    assert len(ports) == 13 and len(errors) == THREADS - 13
    assert sorted(ips, key=ipaddress.ip_address) == [f"10.9.0.{i}" for i in range(2, 15)]
    stored = res.ports.list(ADMIN, {"network_id": [net["id"]]})
    assert sorted(p["fixed_ips"][0]["ip_address"] for p in stored) == sorted(ips)
    assert all(p["fixed_ips"][0]["subnet_id"] == subnet["id"] for p in stored)


def test_ports_on_a_roomy_subnet_all_succeed(server_database: Database) -> None:
    res = _services(server_database, CoreSettings(tenant_network_type="local"))
    net = res.networks.create(ADMIN, {"name": "race", "tenant_id": "p"})
    res.subnets.create(ADMIN, {"network_id": net["id"], "ip_version": 4,
                              "cidr": "10.9.0.0/24"})
    ports, errors = race(THREADS, lambda i: res.ports.create(
        ADMIN, {"network_id": net["id"]}))
    assert errors == []
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert len(set(ips)) == THREADS
    macs = [p["mac_address"] for p in ports]
    assert len(set(macs)) == THREADS


def test_tenant_vlans(server_database: Database) -> None:
    res = _services(server_database,
                    CoreSettings(tenant_network_type="vlan",
                                 vlan_ranges=(VlanRange("physnet1", 100, 104),)))
    tenant = Context(user_id="u", project_id="p", roles=("member",))
    nets, errors = race(12, lambda i: res.networks.create(tenant, {"name": f"n{i}"}))
    assert all(isinstance(e, exc.NoNetworkAvailable) for e in errors), errors
    vlans = sorted(n["provider:segmentation_id"] for n in nets)
    assert vlans == [100, 101, 102, 103, 104]


def test_same_explicit_ip(server_database: Database) -> None:
    res = _services(server_database, CoreSettings(tenant_network_type="local"))
    net = res.networks.create(ADMIN, {"name": "race", "tenant_id": "p"})
    res.subnets.create(ADMIN, {"network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/24"})
    ports, errors = race(8, lambda i: res.ports.create(
        ADMIN, {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.9.0.50"}]}))
    assert len(ports) == 1
    assert len(errors) == 7 and all(isinstance(e, exc.IpAddressInUse) for e in errors), errors


def test_sqlite_writers_wait_their_turn(sqlite_database: Database) -> None:
    """The all-in-one server writes from API and RPC threads at once: SQLite's lock must
    make them queue (busy timeout, BEGIN IMMEDIATE), not fail."""
    res = _services(sqlite_database, CoreSettings(tenant_network_type="local"))
    net = res.networks.create(ADMIN, {"name": "race", "tenant_id": "p"})
    res.subnets.create(ADMIN, {"network_id": net["id"], "ip_version": 4, "cidr": "10.9.0.0/24"})

    def work(i: int) -> Any:
        port = res.ports.create(ADMIN, {"network_id": net["id"]})
        res.ports.list(ADMIN, {"network_id": [net["id"]]})
        return res.ports.update(ADMIN, port["id"], {"name": f"p{i}"})

    ports, errors = race(12, work)
    assert errors == []
    assert len({p["fixed_ips"][0]["ip_address"] for p in ports}) == 12


def test_overlapping_subnets_on_different_networks_without_overlapping_ips(
        server_database: Database) -> None:
    """Only the network's own row is locked by a subnet create; with overlapping IPs off
    the check spans every network, so creates on different networks must serialise too."""
    res = _services(server_database, CoreSettings(tenant_network_type="local",
                                                  allow_overlapping_ips=False))
    nets = [res.networks.create(ADMIN, {"name": f"o{i}", "tenant_id": "p"})
            for i in range(THREADS)]
    subnets, errors = race(THREADS, lambda i: res.subnets.create(ADMIN, {
        "network_id": nets[i]["id"], "ip_version": 4, "cidr": f"10.77.{i}.0/24"
        if i % 2 else "10.77.0.0/16"}))
    assert all(isinstance(e, exc.InvalidInput) for e in errors), errors
    cidrs = [ipaddress.ip_network(s["cidr"]) for s in subnets]
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1:]), cidrs
    assert subnets and len(subnets) + len(errors) == THREADS


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
