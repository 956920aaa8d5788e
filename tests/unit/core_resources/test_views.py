"""Rows → dicts, as Neutron shows them."""

from __future__ import annotations

from datetime import datetime

import pytest

from neutrino.core.resources import views
from neutrino.db import models

NOW = datetime(2026, 11, 25, 22, 31, 53)


def _net(segment: models.NetworkSegment | None) -> models.Network:
    net = models.Network(id="n1", project_id="p1", name="net", admin_state_up=True,
                         status="ACTIVE", shared=False, external=True, mtu=1500, dns_domain="",
                         availability_zone_hints='["az1"]', description="", created_at=NOW,
                         updated_at=NOW, revision_number=2)
    net.segments = [segment] if segment else []
    net.subnets = [models.Subnet(id="s2"), models.Subnet(id="s1")]
    return net


def test_network_dict_vlan() -> None:
    seg = models.NetworkSegment(id="g", network_type="vlan", physical_network="physnet1",
                                segmentation_id=1000)
    d = views.network_dict(_net(seg), ["nova"])
    assert d["tenant_id"] == d["project_id"] == "p1"
    assert d["created_at"] == d["updated_at"] == "2026-11-25T22:31:53Z"
    assert d["provider:network_type"] == "vlan"
    assert d["provider:physical_network"] == "physnet1"
    assert d["provider:segmentation_id"] == 1000
    assert d["router:external"] is True
    assert d["subnets"] == ["s1", "s2"]
    assert d["availability_zone_hints"] == ["az1"]
    assert d["availability_zones"] == ["nova"]
    assert d["revision_number"] == 2
    assert d["mtu"] == 1500 and d["status"] == "ACTIVE" and d["dns_domain"] == ""


def test_flat_network_shows_no_segmentation_id() -> None:
    seg = models.NetworkSegment(id="g", network_type="flat", physical_network="physnet1",
                                segmentation_id=0)
    d = views.network_dict(_net(seg))
    assert d["provider:network_type"] == "flat"
    assert d["provider:segmentation_id"] is None
    assert d["availability_zones"] == []


def test_port_dict() -> None:
    port = models.Port(id="p", project_id="t", network_id="n", name="",
                       mac_address="fa:16:3e:00:00:01", admin_state_up=True, status="DOWN",
                       device_id="d", device_owner="compute:nova",
                       dns_name="", host_id="", vnic_type="normal", vif_type="unbound",
                       profile="{}", vif_details="{}", description="", created_at=NOW,
                       updated_at=NOW, revision_number=1)
    port.fixed_ips = [models.IPAllocation(ip_address="10.0.0.10", subnet_id="s"),
                      models.IPAllocation(ip_address="10.0.0.9", subnet_id="s")]
    port.extra_dhcp_opts = [models.ExtraDhcpOpt(opt_name="tftp-server", opt_value="1.2.3.4",
                                                ip_version=4)]
    d = views.port_dict(port, "openstacklocal")
    assert d["fixed_ips"] == [{"subnet_id": "s", "ip_address": "10.0.0.9"},
                              {"subnet_id": "s", "ip_address": "10.0.0.10"}]
    assert d["binding:vif_type"] == "unbound"
    assert d["binding:profile"] == {} and d["binding:vif_details"] == {}
    assert d["binding:host_id"] == ""
    assert d["extra_dhcp_opts"] == [{"opt_name": "tftp-server", "opt_value": "1.2.3.4",
                                     "ip_version": 4}]
    assert d["dns_assignment"][0] == {"ip_address": "10.0.0.9", "hostname": "host-10-0-0-9",
                                      "fqdn": "host-10-0-0-9.openstacklocal."}


def test_view_parts_gives_back_what_made_the_view() -> None:
    row = [getattr(models.Port(
        id="p", project_id="t", network_id="n", name="", mac_address="fa:16:3e:00:00:01",
        admin_state_up=True, status="DOWN", device_id="", device_owner="", dns_name="vm1",
        host_id="", vnic_type="normal", vif_type="unbound", profile="{}", vif_details="{}",
        description="", created_at=NOW, updated_at=NOW, revision_number=3), c.key)
        for c in views.PORT_COLUMNS]
    parts = views.PortParts(
        [("s2", "10.0.1.5"), ("s1", "10.0.0.10"), ("s1", "10.0.0.9"), ("s6", "fd00::5")],
        [("mtu", "1400", 4), ("bootfile-name", None, 6), ("bootfile-name", "pxe", 4)],
        [("10.0.0.200", "fa:16:3e:00:00:09"), ("10.0.0.100", "fa:16:3e:00:00:01")],
        ["red", "blue"])
    view = views.port_view(row, "example.org", parts)
    again = views.view_parts(view)
    assert views.port_view(row, "example.org", again) == view
    # The parts come back in the order the view shows them, whatever order made it.
    assert list(again.fixed_ips) == [("s1", "10.0.0.9"), ("s1", "10.0.0.10"),
                                     ("s2", "10.0.1.5"), ("s6", "fd00::5")]
    assert list(again.tags) == ["blue", "red"]
    assert views.view_parts(views.port_view(row, "", views.PortParts())).fixed_ips == []


@pytest.mark.parametrize(("name", "domain", "hostname", "fqdn"), [
    ("", "example.org", "host-10-0-0-9", "host-10-0-0-9.example.org."),
    ("", "example.org.", "host-10-0-0-9", "host-10-0-0-9.example.org."),
    ("vm1", "example.org", "vm1", "vm1.example.org."),
    ("vm1.other.net.", "example.org", "vm1.other.net.", "vm1.other.net."),
    ("vm1", "", "vm1", "vm1"),
    ("", "", "host-10-0-0-9", "host-10-0-0-9"),
])
def test_dns_assignment_follows_the_configured_domain(name: str, domain: str, hostname: str,
                                                      fqdn: str) -> None:
    assert views.dns_assignment(name, ["10.0.0.9"], domain) == [
        {"ip_address": "10.0.0.9", "hostname": hostname, "fqdn": fqdn}]


def test_subnet_dict() -> None:
    subnet = models.Subnet(id="s", project_id="t", network_id="n", name="", ip_version=4,
                           cidr="10.0.0.0/24", gateway_ip="10.0.0.1", enable_dhcp=True,
                           description="", created_at=NOW, updated_at=NOW, revision_number=1)
    subnet.allocation_pools = [models.IPAllocationPool(first_ip="10.0.0.2", last_ip="10.0.0.254")]
    subnet.dns_nameservers = [models.DNSNameServer(address="8.8.8.8", order=1),
                              models.DNSNameServer(address="1.1.1.1", order=0)]
    subnet.host_routes = [models.SubnetRoute(destination="0.0.0.0/0", nexthop="10.0.0.1")]
    d = views.subnet_dict(subnet)
    assert d["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert d["dns_nameservers"] == ["1.1.1.1", "8.8.8.8"]
    assert d["host_routes"] == [{"destination": "0.0.0.0/0", "nexthop": "10.0.0.1"}]
    assert d["ipv6_ra_mode"] is None and d["subnetpool_id"] is None
