"""Neutron's validators and converters: accepted values convert, junk gets Neutron's reason."""

import pytest

from neutrino.lib import validators as v
from neutrino.lib.exceptions import InvalidInput


@pytest.mark.parametrize("raw,expected", [
    (True, True), (False, False), ("True", True), ("false", False), ("1", True),
    ("0", False), (1, True), (0, False), ("FALSE", False)])
def test_boolean_conversion(raw, expected):
    assert v.to_boolean(raw) is expected


@pytest.mark.parametrize("raw", ["maybe", "", 2, None, [], {}])
def test_boolean_conversion_refuses(raw):
    with pytest.raises(InvalidInput, match="cannot be converted to boolean"):
        v.to_boolean(raw)


def test_uuid():
    good = "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e"
    assert v.uuid_(good) == good
    for bad in ["x", "{3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e}",
                "3f1d5e3a1b7e4c1c9a577c0f3b1c2d4e", 5, None]:
        with pytest.raises(v.Invalid, match="is not a valid UUID"):
            v.uuid_(bad)


def test_string_length_and_type():
    assert v.string(5)("abc") == "abc"
    with pytest.raises(v.Invalid, match="exceeds maximum length of 5"):
        v.string(5)("abcdef")
    with pytest.raises(v.Invalid, match="is not a valid string"):
        v.string(5)(3)


def test_safe_string_refuses_control_characters():
    with pytest.raises(v.Invalid, match="control characters"):
        v.safe_string()("net\nname")


def test_mac_address():
    assert v.mac_address("FA:16:3E:00:00:01") == "fa:16:3e:00:00:01"
    for bad in ["fa:16:3e:00:00", "zz:16:3e:00:00:01", "01:00:00:00:00:01",
                "00:00:00:00:00:00", 1]:
        with pytest.raises(v.Invalid, match="is not a valid MAC address"):
            v.mac_address(bad)


def test_cidr():
    assert v.subnet("10.0.0.0/24") == "10.0.0.0/24"
    assert v.subnet_or_none(None) is None
    with pytest.raises(v.Invalid, match="'10.0.0.0/24' is recommended"):
        v.subnet("10.0.0.1/24")
    for bad in ["10.0.0.0", "10.0.0.0/33", "x/24", 3]:
        with pytest.raises(v.Invalid, match="is not a valid IP subnet"):
            v.subnet(bad)


def test_ip_address():
    assert v.ip_address("10.0.0.1") == "10.0.0.1"
    assert v.ip_address("fe80::1") == "fe80::1"
    assert v.ip_address_or_none(None) is None
    for bad in ["10.0.0.256", "10.0.0.0/24", "fe80::1%eth0", 10]:
        with pytest.raises(v.Invalid, match="is not a valid IP address"):
            v.ip_address(bad)


def test_ip_pools():
    pools = [{"start": "10.0.0.2", "end": "10.0.0.9"}]
    assert v.ip_pools(pools) == pools
    with pytest.raises(v.Invalid, match="Invalid data format for IP pool"):
        v.ip_pools([{"start": "10.0.0.2"}])
    with pytest.raises(v.Invalid, match="Unrecognized attribute"):
        v.ip_pools([{"start": "10.0.0.2", "end": "10.0.0.3", "x": 1}])
    with pytest.raises(v.Invalid, match="is not a valid IP address"):
        v.ip_pools([{"start": "10.0.0.x", "end": "10.0.0.3"}])
    with pytest.raises(v.Invalid, match="is not a list"):
        v.ip_pools("10.0.0.2-10.0.0.9")


def test_nameservers_and_routes():
    assert v.nameservers(["8.8.8.8", "1.1.1.1"]) == ["8.8.8.8", "1.1.1.1"]
    with pytest.raises(v.Invalid, match="Duplicate nameserver"):
        v.nameservers(["8.8.8.8", "8.8.8.8"])
    with pytest.raises(v.Invalid, match="is not a valid nameserver"):
        v.nameservers(["dns.example"])
    route = {"destination": "10.1.0.0/16", "nexthop": "10.0.0.1"}
    assert v.hostroutes([route]) == [route]
    with pytest.raises(v.Invalid, match="Duplicate hostroute"):
        v.hostroutes([route, dict(route)])
    with pytest.raises(v.Invalid, match="Invalid data format for hostroute"):
        v.hostroutes([{"destination": "10.1.0.0/16"}])


def test_fixed_ips():
    ips = [{"subnet_id": "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e", "ip_address": "10.0.0.5"}]
    assert v.fixed_ips(ips) == ips
    with pytest.raises(v.Invalid, match="Duplicate IP address"):
        v.fixed_ips([{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.0.5"}])
    with pytest.raises(v.Invalid, match="Invalid data format for fixed IP"):
        v.fixed_ips([{}])
    with pytest.raises(v.Invalid, match="Unrecognized attribute"):
        v.fixed_ips([{"ip": "10.0.0.5"}])


def test_extra_dhcp_opts_are_safe_for_dnsmasq():
    opts = [{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"},
            {"opt_name": "option6:dns-server", "opt_value": "[fe80::1]", "ip_version": "6"}]
    assert v.extra_dhcp_opts(opts)[1]["ip_version"] == 6
    assert v.extra_dhcp_opts(None) is None
    for bad, reason in [
        ({"opt_name": "a\nb", "opt_value": "x"}, "not a valid DHCP option name"),
        ({"opt_name": "tftp-server", "opt_value": "x\ndhcp-range=1"}, "control characters"),
        ({"opt_name": "", "opt_value": "x"}, "Blank strings"),
        ({"opt_name": "tftp-server", "opt_value": "x" * 256}, "exceeds maximum length"),
        ({"opt_name": "tftp,server", "opt_value": "x"}, "not a valid DHCP option name"),
        ({"opt_name": "tftp-server", "opt_value": "x", "ip_version": 5}, "not in"),
        ({"opt_name": "tftp-server"}, "Invalid data format"),
        ({"opt_name": "tftp-server", "opt_value": "x", "y": 1}, "Unrecognized"),
    ]:
        with pytest.raises(v.Invalid, match=reason):
            v.extra_dhcp_opts([bad])


def test_dns_names():
    assert v.dns_host_name()("vm-1") == "vm-1"
    assert v.dns_host_name()("") == ""
    with pytest.raises(v.Invalid, match="not a valid PQDN or FQDN"):
        v.dns_host_name()("-bad")
    assert v.dns_domain_name()("example.org.") == "example.org."
    with pytest.raises(v.Invalid, match="not a valid domain name"):
        v.dns_domain_name()("exa mple.org")


def test_integer_filters_are_bounded_by_the_column() -> None:
    assert v.to_db_int(str(v.INT_MAX)) == v.INT_MAX
    assert v.to_db_int(str(v.INT_MIN)) == v.INT_MIN
    for raw in (str(v.INT_MAX + 1), str(v.INT_MIN - 1), "99999999999999999999"):
        with pytest.raises(InvalidInput, match="out of range"):
            v.to_db_int(raw)


def test_strings_with_a_lone_surrogate_are_refused_in_plain_words() -> None:
    for check in (v.string(), v.safe_string()):
        with pytest.raises(v.Invalid, match="lone surrogate") as caught:
            check("x\ud800y")
        str(caught.value).encode("utf-8")  # the message itself is printable


# --- standard-attr-tag ----------------------------------------------------------------

def test_tag_takes_any_string_up_to_255_characters():
    for tag in ("red", "", "a,b", "with space ", "ünï", "x" * 255):
        assert v.tag(tag) == tag


@pytest.mark.parametrize(("value", "reason"), [
    ("x" * 256, f"'{'x' * 256}' exceeds maximum length of 255"),
    (5, "'5' is not a valid string"),
    (None, "'None' is not a valid string"),
    ("a\x00b", "''a\\x00b'' contains a NUL character"),
    ("\ud800", "'\\ud800' contains a lone surrogate, which is not a valid character"),
])
def test_tag_refuses(value, reason):
    with pytest.raises(v.Invalid) as err:
        v.tag(value)
    assert str(err.value) == reason


def test_tags_is_a_list_of_unique_tags_in_the_order_given():
    assert v.tags([]) == []
    assert v.tags(["b", "a", "A"]) == ["b", "a", "A"]
    with pytest.raises(v.Invalid, match="^Duplicate items in the list: 'a, b'$"):
        v.tags(["a", "b", "a", "c", "b"])
    with pytest.raises(v.Invalid, match="is not a list"):
        v.tags("a")
    with pytest.raises(v.Invalid, match="exceeds maximum length of 255"):
        v.tags(["ok", "y" * 256])


def test_tags_attribute_and_its_filters_are_described_on_each_taggable_resource():
    from neutrino.lib.attributes import TAG_FILTERS, TAGGABLE
    assert sorted(TAGGABLE) == ["networks", "ports", "subnets"]
    for resource in TAGGABLE.values():
        tags = resource.get("tags")
        assert tags is not None and tags.visible and tags.filter
        assert not tags.allow_post and not tags.allow_put and not tags.sortable
        for name in TAG_FILTERS[1:]:
            attr = resource.get(name)
            assert attr is not None and attr.filter and not attr.visible
