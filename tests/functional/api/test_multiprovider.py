"""multi-provider (`segments` on networks) and the extension aliases Nova looks for."""

from __future__ import annotations

from typing import Any


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


def test_one_segment_is_shown_as_provider_attributes_not_segments(api) -> None:
    # As Neutron: `segments` is for networks of several segments (Nova reads it when present
    # and fails when none of its entries names a physical network).
    net = api.create("network", name="n")
    shown = api.call("GET", f"/v2.0/networks/{net['id']}?fields=segments").json()["network"]
    assert shown == {}
    assert (net["provider:network_type"], net["provider:physical_network"]) == (
        "vlan", "physnet1")
    # Admin only, as Neutron's get_network:segments.
    demo_net = api.create("network", name="d", who="demo")
    as_demo = api.call("GET", f"/v2.0/networks/{demo_net['id']}", "demo").json()["network"]
    assert "segments" not in as_demo and "provider:network_type" not in as_demo


def test_a_network_is_created_from_one_segment(api) -> None:
    net = api.create("network", name="s", segments=[{
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": "1007"}])
    assert (net["provider:network_type"], net["provider:segmentation_id"]) == ("vlan", 1007)
    assert "segments" not in net
    flat = api.create("network", name="f", segments=[{
        "provider:network_type": "flat", "provider:physical_network": "physnet1"}])
    assert (flat["provider:network_type"], flat["provider:physical_network"],
            flat["provider:segmentation_id"]) == ("flat", "physnet1", None)
    # Updating to the same segments is no change; another segment is refused.
    url = f"/v2.0/networks/{net['id']}"
    same = api.call("PUT", url, json={"network": {"segments": [{
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 1007}]}})
    assert same.status_code == 200, same.text
    other = api.call("PUT", url, json={"network": {"segments": [{
        "provider:network_type": "vlan", "provider:physical_network": "physnet1",
        "provider:segmentation_id": 1008}]}})
    assert error(other)[:2] == (400, "InvalidInput")


def test_bad_segments_get_neutrons_errors(api) -> None:
    segment = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}

    def create(who: str = "admin", **attrs: Any) -> Any:
        return api.call("POST", "/v2.0/networks", who, json={"network": attrs})

    assert error(create(segments=[segment], **{"provider:network_type": "vlan"})) == (
        400, "SegmentsSetInConjunctionWithProviders",
        "Segments and provider values cannot both be set.")
    assert error(create(segments=[segment, dict(segment)])) == (
        400, "SegmentsContainDuplicateEntry", "Duplicate segment entry in request.")
    two = [segment, {"provider:network_type": "flat", "provider:physical_network": "physnet1"}]
    assert error(create(segments=two))[:2] == (400, "InvalidInput")
    assert error(create(segments=[{"provider:physical_network": "physnet1"}])) == (
        400, "InvalidInput", "Invalid input for operation: network_type required.")
    for bad in ("vlan", [1], [{"foo": 1}], [{"provider:segmentation_id": "x"}],
                [{"provider:network_type": 5}]):
        assert error(create(segments=bad))[:2] == (400, "HTTPBadRequest"), bad
    assert error(create("demo", segments=[segment]))[:2] == (403, "PolicyNotAuthorized")


def test_nova_finds_the_extensions_it_asks_for(api) -> None:
    aliases = {e["alias"] for e in api.call("GET", "/v2.0/extensions").json()["extensions"]}
    assert {"multi-provider", "ip-substring-filtering"} <= aliases
    ext = api.call("GET", "/v2.0/extensions/multi-provider").json()["extension"]
    assert ext["name"] == "Multi Provider Network"
