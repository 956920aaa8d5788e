"""Pure helpers of the DHCP plugin API and the L2 device API."""

import pytest

from neutrino.core.agents.bindings import parse_hints
from neutrino.core.agents.dhcp import DhcpPortInUse, check_port_owner, dhcp_port_body, unwrap_port
from neutrino.core.agents.l2 import port_id_prefix, prefix_upper_bound
from neutrino.db.models import Network, Port
from neutrino.lib import constants as const
from neutrino.lib.naming import dhcp_device_id, tap_name

PORT_ID = "12345678-abcd-4ef0-9123-456789abcdef"


def test_tap_name_round_trip():
    assert port_id_prefix(tap_name(PORT_ID)) == PORT_ID[:11]
    assert port_id_prefix("eth0") == ""


@pytest.mark.parametrize("prefix,upper", [
    ("12345678-a9", "12345678-aa"),  # not ':' which punctuation-blind collations skip
    ("12345678-af", "12345678-b0"),
    ("1234567f-ff", "12345680-00"),
    ("ffffffff-ff", None),
])
def test_prefix_upper_bound(prefix, upper):
    assert prefix_upper_bound(prefix) == upper


def test_prefix_range_contains_exactly_the_prefixed_ids():
    prefix = "12345678-a9"
    upper = prefix_upper_bound(prefix)
    inside = [prefix + "cd-4ef0", prefix + "ff-ffff", prefix]
    outside = ["12345678-a8ff", "12345678-aa00", "12345678-b"]
    assert all(prefix <= i < upper for i in inside)
    assert not any(prefix <= o < upper for o in outside)


def test_unwrap_port():
    assert unwrap_port({"port": {"network_id": "n"}}) == {"network_id": "n"}
    assert unwrap_port({"network_id": "n"}) == {"network_id": "n"}


def test_parse_hints():
    assert parse_hints('["az1", "az2"]') == ["az1", "az2"]
    assert parse_hints(None) == []
    assert parse_hints("garbage") == []
    assert parse_hints('{"a": 1}') == []


def test_only_own_or_reserved_dhcp_ports_may_be_changed():
    own = Port(id="p", network_id="n", device_id=dhcp_device_id("hostA", "n"))
    reserved = Port(id="p", network_id="n", device_id=const.DEVICE_ID_RESERVED_DHCP_PORT)
    other = Port(id="p", network_id="n", device_id=dhcp_device_id("hostB", "n"))
    check_port_owner(own, "hostA")
    check_port_owner(reserved, "hostA")
    with pytest.raises(DhcpPortInUse):
        check_port_owner(other, "hostA")


def test_dhcp_port_body_is_owned_by_the_server():
    net = Network(id="n", project_id="proj")
    body = dhcp_port_body("hostA", net, {
        "fixed_ips": [{"subnet_id": "s"}], "device_id": "evil", "device_owner": "compute:x",
        "binding:host_id": "elsewhere", "tenant_id": "other", "name": "dhcp"})
    assert body == {
        "name": "dhcp", "fixed_ips": [{"subnet_id": "s"}], "network_id": "n",
        "tenant_id": "proj", "project_id": "proj",
        "device_id": dhcp_device_id("hostA", "n"), "device_owner": const.DEVICE_OWNER_DHCP,
        "binding:host_id": "hostA"}
