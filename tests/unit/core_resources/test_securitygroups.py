"""Security groups' pure decisions: attribute converters, Neutron's rule checks and what
makes two rules the same, the agents' protocol names, and which casts a port change
causes."""

from __future__ import annotations

import pytest

from neutrino.core.agents.notify import Outbox
from neutrino.core.agents.securitygroups import wire_protocol
from neutrino.core.resources.securitygroups import check_rule, rule_key
from neutrino.lib import constants as c
from neutrino.lib import exceptions as exc
from neutrino.lib import validators as v


@pytest.mark.parametrize(("given", "stored"), [
    (None, None), ("", None), ("any", None), ("ANY", None), ("TCP", "tcp"), ("6", "6"),
    (6, "6"), ("0", "0"), (255, "255"), ("icmpv6", "icmpv6"), ("ipv6-icmp", "ipv6-icmp")])
def test_sg_protocol_takes_neutrons_names_and_numbers(given, stored):
    assert v.sg_protocol(given) == stored


@pytest.mark.parametrize("given", ["bogus", 256, -1, True, 1.5, ["tcp"], "6a"])
def test_sg_protocol_refuses_the_rest(given):
    with pytest.raises(exc.SecurityGroupRuleInvalidProtocol):
        v.sg_protocol(given)


@pytest.mark.parametrize(("given", "port"), [(None, None), (0, 0), ("22", 22), (65535, 65535)])
def test_sg_port(given, port):
    assert v.sg_port(given) == port


@pytest.mark.parametrize("given", [-1, 65536, "x", True, 1.5, [1]])
def test_sg_port_refuses(given):
    with pytest.raises(exc.SecurityGroupInvalidPortValue):
        v.sg_port(given)


@pytest.mark.parametrize(("given", "prefix"), [
    ("10.1.2.3", "10.1.2.3/32"), ("10.1.2.3/16", "10.1.0.0/16"), ("::1", "::1/128"),
    ("2001:db8::5/32", "2001:db8::/32"), ("", None), (None, None)])
def test_ip_prefix_is_normalised_to_its_network(given, prefix):
    assert v.ip_prefix(given) == prefix


@pytest.mark.parametrize("given", ["10.0.0.300/24", "x", "fe80::1%eth0/64", 5])
def test_ip_prefix_refuses(given):
    with pytest.raises(exc.InvalidCIDR):
        v.ip_prefix(given)


def test_ethertype_and_name():
    assert v.ethertype("ipv6") == "IPv6"
    with pytest.raises(exc.SecurityGroupRuleInvalidEtherType):
        v.ethertype(4)
    assert v.sg_name()("web") == "web"
    with pytest.raises(exc.SecurityGroupDefaultAlreadyExists):
        v.sg_name()("DEFAULT")


def test_uuid_list_collapses_duplicates_and_null():
    gid = "6a2c4a4e-25c3-4b52-9d6e-2d1e0a0a0a0a"
    assert v.uuid_list([gid, gid]) == [gid]
    assert v.uuid_list(None) == []
    with pytest.raises(v.Invalid):
        v.uuid_list(["nope"])


def rule(**attrs):
    return {"security_group_id": "g", "direction": "ingress", "ethertype": "IPv4",
            "protocol": None, "port_range_min": None, "port_range_max": None,
            "remote_ip_prefix": None, "remote_group_id": None, **attrs}


def test_ipv6_icmp_takes_its_canonical_name():
    assert check_rule(rule(ethertype="IPv6", protocol="icmp"))["protocol"] == "ipv6-icmp"
    assert check_rule(rule(ethertype="IPv6", protocol="1"))["protocol"] == "58"
    assert check_rule(rule(protocol="icmp"))["protocol"] == "icmp"


@pytest.mark.parametrize(("attrs", "error"), [
    ({"protocol": "tcp", "port_range_min": 5, "port_range_max": 4},
     exc.SecurityGroupInvalidPortRange),
    ({"protocol": "sctp", "port_range_max": 4}, exc.SecurityGroupInvalidPortRange),
    ({"protocol": "udp", "port_range_min": 0, "port_range_max": 0},
     exc.SecurityGroupInvalidPortValue),
    ({"port_range_min": 1, "port_range_max": 2}, exc.SecurityGroupProtocolRequiredWithPorts),
    ({"protocol": "47", "port_range_min": 1, "port_range_max": 2},
     exc.SecurityGroupInvalidProtocolForPort),
    ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 256},
     exc.SecurityGroupInvalidIcmpValue),
    ({"protocol": "icmp", "port_range_max": 1}, exc.SecurityGroupMissingIcmpType),
    ({"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"},
     exc.SecurityGroupRuleParameterConflict),
    ({"protocol": "58"}, exc.SecurityGroupEthertypeConflictWithProtocol),
    ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "g"},
     exc.SecurityGroupMultipleRemoteEntites),
])
def test_check_rule_refuses_what_neutron_refuses(attrs, error):
    with pytest.raises(error):
        check_rule(rule(**attrs))


def test_icmp_type_and_code_and_port_ranges_pass():
    check_rule(rule(protocol="icmp", port_range_min=8, port_range_max=0))
    check_rule(rule(protocol="icmp", port_range_min=8))
    check_rule(rule(protocol="tcp", port_range_min=22, port_range_max=22))
    check_rule(rule(protocol="udplite", port_range_min=1, port_range_max=65535))


def test_rules_compare_by_protocol_number_and_any_address():
    assert rule_key(rule(protocol="tcp")) == rule_key(rule(protocol="6"))
    assert rule_key(rule(remote_ip_prefix="0.0.0.0/0")) == rule_key(rule())
    assert rule_key(rule(protocol="tcp")) != rule_key(rule(protocol="udp"))
    assert rule_key(rule(direction="egress")) != rule_key(rule())


@pytest.mark.parametrize(("stored", "wire"), [
    (None, None), ("tcp", "tcp"), ("6", "tcp"), ("17", "udp"), ("icmp", "icmp"),
    ("1", "icmp"), ("ipv6-icmp", "icmpv6"), ("58", "icmpv6"), ("gre", "47"), ("112", "112")])
def test_agents_get_names_for_the_common_protocols_numbers_for_the_rest(stored, wire):
    assert wire_protocol(stored) == wire


def port(groups, **attrs):
    return {"id": "p", "security_groups": groups, "port_security_enabled": True,
            "allowed_address_pairs": [], "fixed_ips": [], "mac_address": "fa:16:3e:0:0:1",
            **attrs}


def test_port_casts():
    outbox = Outbox()
    outbox.port_security(None, port(["a"]))
    assert [f[1:] for f in outbox.fanouts] == [
        (c.SECURITY_GROUPS_MEMBER_UPDATED, {"security_groups": ["a"]})]
    outbox = Outbox()
    outbox.port_security(port(["a", "b"]), port(["b", "c"]))
    assert [f[1] for f in outbox.fanouts] == [c.SECURITY_GROUPS_MEMBER_UPDATED, c.PORT_UPDATE]
    assert outbox.fanouts[0][2] == {"security_groups": ["a", "c"]}
    outbox = Outbox()
    outbox.port_security(port(["a"]), port(["a"], allowed_address_pairs=[{"ip_address": "x"}]))
    assert outbox.fanouts[0][2] == {"security_groups": ["a"]}
    outbox = Outbox()
    outbox.port_security(port(["a"]), port(["a"], name="renamed"))
    assert outbox.fanouts == []  # nothing the filters depend on
    outbox = Outbox()
    outbox.port_security(port([]), None)
    assert outbox.fanouts == []


def test_a_new_device_owner_reaches_the_port_filter():
    # The agents' firewall trusts network:* owners: a port turning into one (or out of
    # one) must be filtered anew.
    outbox = Outbox()
    outbox.port_security(port(["a"], device_owner="compute:nova"),
                         port(["a"], device_owner="network:dhcp"))
    assert [f[1] for f in outbox.fanouts] == [c.PORT_UPDATE]
