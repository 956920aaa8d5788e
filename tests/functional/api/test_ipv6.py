"""IPv6 mistakes through the HTTP API: Neutron's error bodies, 400, nothing written."""

from __future__ import annotations

from .conftest import Api


def test_ipv6_errors_are_neutron_400s(api: Api) -> None:
    net = api.create("network", name="n")
    base = {"network_id": net["id"], "ip_version": 6, "cidr": "2001:db8:9::/64"}
    for body, type_ in [
        ({"ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateless"}, "InvalidInput"),
        ({"ipv6_address_mode": "slaac", "enable_dhcp": False}, "InvalidInput"),
        ({"ipv6_address_mode": "dhcpv6"}, "HTTPBadRequest"),  # attribute validation
    ]:
        response = api.call("POST", "/v2.0/subnets", json={"subnet": base | body})
        assert response.status_code == 400, response.text
        error = response.json()["NeutronError"]
        assert error["type"] == type_ and error["message"], error
    assert api.call("GET", "/v2.0/subnets").json()["subnets"] == []

    subnet = api.create("subnet", **base, ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    response = api.call("POST", "/v2.0/ports", json={"port": {
        "network_id": net["id"],
        "fixed_ips": [{"subnet_id": subnet["id"], "ip_address": "2001:db8:9::99"}]}})
    assert response.status_code == 400
    assert response.json()["NeutronError"]["type"] == "AllocationOnAutoAddressSubnet"
    assert api.call("GET", "/v2.0/ports").json()["ports"] == []
    response = api.call("PUT", f"/v2.0/subnets/{subnet['id']}",
                        json={"subnet": {"enable_dhcp": False}})
    assert response.status_code == 400
    assert response.json()["NeutronError"]["type"] == "InvalidInput"
