"""Parsing of the ports' fixed_ips filter."""

from neutrino.core.resources.filters import parse_fixed_ip_filters


def test_parse_fixed_ip_filters() -> None:
    parsed = parse_fixed_ip_filters(["ip_address=10.0.0.5", "subnet_id=abc",
                                     {"ip_address": "2001:DB8:0::5"}, "10.0.0.6",
                                     "ip_address_substr=10.0"])
    assert parsed == {"ip_address": ["10.0.0.5", "2001:db8::5", "10.0.0.6"],
                      "subnet_id": ["abc"], "ip_address_substr": ["10.0"]}
