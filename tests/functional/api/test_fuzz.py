"""Junk at every endpoint, as admin and as a member: never a 5xx.

The endpoints come from the server's own OpenAPI document, so a new resource is fuzzed as
soon as it is described in the tables.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ATTRIBUTE_NAMES = ["name", "id", "network_id", "subnet_id", "cidr", "ip_version",
                   "fixed_ips", "mac_address", "admin_state_up", "shared", "tenant_id",
                   "project_id", "allocation_pools", "dns_nameservers", "host_routes",
                   "gateway_ip", "extra_dhcp_opts", "binding:host_id", "binding:profile",
                   "provider:network_type", "provider:segmentation_id", "router:external",
                   "availability_zone_hints", "description", "enable_dhcp", "alive",
                   "fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse",
                   "device_owner", "dns_name", "ipv6_ra_mode", "status", "mtu"]

json_leaf = st.none() | st.booleans() | st.integers(-2**70, 2**70) | \
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20) | \
    st.sampled_from(["10.0.0.0/24", "10.0.0.1", "fa:16:3e:00:00:01", "True", "",
                     "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e", "::1", "vlan", "physnet1"])
json_value = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(ATTRIBUTE_NAMES) | st.text(max_size=8), children, max_size=5),
    max_leaves=12)


def resource_body(singular_plural):
    singular, plural = singular_plural
    item = st.dictionaries(st.sampled_from(ATTRIBUTE_NAMES), json_value, max_size=6)
    return st.one_of(
        st.builds(lambda i: {singular: i}, item),
        st.builds(lambda items: {plural: items}, st.lists(item, max_size=3)),
        json_value,
        st.builds(lambda d: {"network_id": d}, json_value))


def _endpoints(doc):
    for path, item in doc["paths"].items():
        for method in item:
            if method in ("get", "post", "put", "delete"):
                yield method.upper(), path
    yield "GET", "/v2.0/extensions/{alias}"


def test_no_5xx_for_any_input(api, client):
    doc = client.get("/openapi.json").json()
    endpoints = sorted(set(_endpoints(doc))) + [("PATCH", "/v2.0/networks"),
                                                ("GET", "/v2.0/{junk}/{junk2}")]
    net = api.create("network", name="fuzz")
    path_values = st.sampled_from([net["id"], "junk", "%2e%2e", "a" * 300, "null", "0",
                                   "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e"]) | \
        st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
                max_size=12)
    query = st.lists(st.tuples(st.sampled_from(ATTRIBUTE_NAMES) | st.text(max_size=6),
                               st.text(max_size=12) | st.sampled_from(
                                   ["True", "-1", "x", "asc", "desc", net["id"]])),
                     max_size=5)
    singular = {"networks": ("network", "networks"), "subnets": ("subnet", "subnets"),
                "ports": ("port", "ports"), "agents": ("agent", "agents")}

    @settings(max_examples=400, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(endpoint=st.sampled_from(endpoints), values=st.lists(path_values, min_size=3,
                                                                max_size=3),
           params=query, who=st.sampled_from(["admin", "demo"]), data=st.data(),
           raw=st.booleans())
    def probe(endpoint, values, params, who, data, raw):
        method, template = endpoint
        names = re.findall(r"{(\w+)}", template)
        path = template
        for name, value in zip(names, values, strict=False):
            path = path.replace("{" + name + "}", quote(value, safe=""), 1)
        kind = template.split("/")[2] if template.count("/") >= 2 else "networks"
        kwargs = {"params": params}
        if method in ("POST", "PUT"):
            if raw:
                kwargs["content"] = data.draw(st.binary(max_size=64))
            else:
                body = data.draw(resource_body(singular.get(kind, ("network", "networks"))))
                kwargs["content"] = json.dumps(body).encode()
        response = api.call(method, path, who, **kwargs)
        # 503 is Neutron's answer when a pool runs dry (e.g. every VLAN allocated).
        exhausted = response.status_code == 503 and response.json()["NeutronError"][
            "type"] in ("NoNetworkAvailable", "MacAddressGenerationFailure")
        assert response.status_code < 500 or exhausted, (
            method, path, params, kwargs.get("content"), response.text)
        if response.status_code >= 400 and response.status_code != 401:
            assert "NeutronError" in response.json(), response.text

    probe()
