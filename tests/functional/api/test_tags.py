"""standard-attr-tag through HTTP: Neutron's URLs, status codes, bodies, errors, policy,
the `tags` attribute on each resource and the four tag filters."""

from __future__ import annotations

import json
from typing import Any

import pytest


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


@pytest.fixture
def resources(api: Any) -> dict[str, dict[str, Any]]:
    """A network, subnet and port of the demo project, by collection."""
    net = api.create("network", "demo", name="tagged")
    subnet = api.create("subnet", "demo", network_id=net["id"], cidr="10.9.0.0/24",
                        ip_version=4)
    port = api.create("port", "demo", network_id=net["id"])
    return {"networks": net, "subnets": subnet, "ports": port}


@pytest.mark.parametrize("collection", ["networks", "subnets", "ports"])
def test_tag_lifecycle(api, resources, collection):
    item = resources[collection]
    url = f"/v2.0/{collection}/{item['id']}"
    singular = collection[:-1]
    assert item["tags"] == []
    assert api.call("GET", url + "/tags", "demo").json() == {"tags": []}

    response = api.call("PUT", url + "/tags/red", "demo")
    assert (response.status_code, response.json()) == (201, None)
    # Idempotent: a second PUT of the same tag changes nothing, not even the revision.
    revision = api.call("GET", url, "demo").json()[singular]["revision_number"]
    assert revision == item["revision_number"] + 1
    assert api.call("PUT", url + "/tags/red", "demo").status_code == 201
    assert api.call("GET", url, "demo").json()[singular]["revision_number"] == revision

    assert api.call("GET", url + "/tags/red", "demo").status_code == 204
    assert error(api.call("GET", url + "/tags/blue", "demo")) == (
        404, "TagNotFound", "Tag blue could not be found.")

    response = api.call("PUT", url + "/tags", "demo", json={"tags": ["zeta", "alpha", "red"]})
    assert (response.status_code, response.json()) == (200, {"tags": ["alpha", "red", "zeta"]})
    shown = api.call("GET", url, "demo").json()[singular]
    assert shown["tags"] == ["alpha", "red", "zeta"]
    assert shown["revision_number"] == revision + 1
    assert api.call("GET", url, "demo", params={"fields": "tags"}).json() == {
        singular: {"tags": ["alpha", "red", "zeta"]}}

    assert api.call("DELETE", url + "/tags/red", "demo").status_code == 204
    assert error(api.call("DELETE", url + "/tags/red", "demo")) == (
        404, "TagNotFound", "Tag red could not be found.")
    assert api.call("GET", url + "/tags", "demo").json() == {"tags": ["alpha", "zeta"]}

    response = api.call("POST", url + "/tags", "demo", json={"tags": ["beta", "alpha"]})
    assert response.status_code == 201, response.text
    assert api.call("GET", url + "/tags", "demo").json() == {"tags": ["alpha", "beta", "zeta"]}

    response = api.call("DELETE", url + "/tags", "demo")
    assert (response.status_code, response.content) == (204, b"")
    assert api.call("GET", url + "/tags", "demo").json() == {"tags": []}


def test_tags_are_exact_strings(api, resources):
    url = f"/v2.0/networks/{resources['networks']['id']}/tags"
    wanted = ["Red", "red", "red ", "a,b", "x" * 255, "ünï"]
    response = api.call("PUT", url, json={"tags": wanted})
    assert response.status_code == 200, response.text
    assert response.json()["tags"] == sorted(wanted)
    assert api.call("GET", url + "/Red").status_code == 204
    assert api.call("GET", url + "/RED").status_code == 404


@pytest.mark.parametrize(("body", "message"), [
    ({"tags": "red"}, "'red' is not a list"),
    ({"tags": ["a", "b", "a"]}, "Duplicate items in the list: 'a'"),
    ({"tags": [1]}, "'1' is not a valid string"),
    ({"tags": ["x" * 256]}, f"'{'x' * 256}' exceeds maximum length of 255"),
    ({"tag": ["a"]}, "Invalid tags body"),
    (["a"], "Invalid tags body"),
    (None, "Invalid tags body"),
])
def test_invalid_tag_lists_are_refused(api, resources, body, message):
    url = f"/v2.0/networks/{resources['networks']['id']}/tags"
    for method in ("PUT", "POST"):  # a JSON null too: refused, never a 500
        assert error(api.call(method, url, content=json.dumps(body))) == (
            400, "InvalidInput", f"Invalid input for operation: {message}.")
    assert api.call("GET", url).json() == {"tags": []}


def test_invalid_tags_in_the_url_and_the_body(api, resources):
    url = f"/v2.0/networks/{resources['networks']['id']}/tags"
    assert error(api.call("PUT", url + "/" + "x" * 256))[:2] == (400, "InvalidInput")
    assert error(api.call("PUT", url + "/a%00b"))[:2] == (400, "InvalidInput")
    assert error(api.call("PUT", url, json={"tags": ["a\x00"]}))[:2] == (400, "InvalidInput")
    # Tags are changed through their URLs only, as in Neutron.
    response = api.call("PUT", f"/v2.0/networks/{resources['networks']['id']}",
                        json={"network": {"tags": ["a"]}})
    assert error(response) == (400, "HTTPBadRequest", "Cannot update read-only attribute tags")
    response = api.call("POST", "/v2.0/networks", json={"network": {"tags": ["a"]}})
    assert error(response) == (400, "HTTPBadRequest", "Attribute 'tags' not allowed in POST")


def test_absent_or_hidden_resources(api, resources):
    missing = "/v2.0/ports/9a4b2f1c-0000-4000-8000-000000000000/tags"
    assert error(api.call("GET", missing)) == (
        404, "TagResourceNotFound",
        "Resource ports 9a4b2f1c-0000-4000-8000-000000000000 could not be found.")
    assert error(api.call("PUT", missing + "/a"))[:2] == (404, "TagResourceNotFound")
    # Another project's network is absent for alt, as the network itself is.
    net_url = f"/v2.0/networks/{resources['networks']['id']}/tags"
    assert error(api.call("PUT", net_url + "/a", "alt"))[:2] == (404, "TagResourceNotFound")
    assert error(api.call("GET", net_url, "alt"))[:2] == (404, "TagResourceNotFound")


def test_only_owner_or_admin_changes_tags(api):
    shared = api.create("network", "admin", name="shared", shared=True)
    url = f"/v2.0/networks/{shared['id']}/tags"
    assert api.call("PUT", url + "/ops").status_code == 201
    # A shared network is readable by everyone, its tags too, but not theirs to change.
    assert api.call("GET", url, "demo").json() == {"tags": ["ops"]}
    assert api.call("GET", url + "/ops", "demo").status_code == 204
    for method, path, body in (("PUT", "/mine", None), ("PUT", "", {"tags": []}),
                               ("POST", "", {"tags": ["x"]}), ("DELETE", "/ops", None),
                               ("DELETE", "", None)):
        response = api.call(method, url + path, "demo", json=body)
        assert error(response)[:2] == (403, "PolicyNotAuthorized"), (method, path)
    assert api.call("GET", url).json() == {"tags": ["ops"]}


def test_tags_go_with_their_resource(api, resources):
    for collection, item in resources.items():
        assert api.call("PUT", f"/v2.0/{collection}/{item['id']}/tags/gone",
                        "demo").status_code == 201
    assert api.call("DELETE", f"/v2.0/ports/{resources['ports']['id']}").status_code == 204
    assert api.call("DELETE", f"/v2.0/networks/{resources['networks']['id']}").status_code \
        == 204
    # A new resource with the old one's tag is not filtered in by leftovers.
    net = api.create("network", "demo", name="fresh")
    for collection in ("networks", "subnets", "ports"):
        assert api.call("GET", f"/v2.0/{collection}", params={"tags": "gone"}).json() == {
            collection: []}
    assert net["tags"] == []


def test_tag_filters(api):
    nets = {}
    for name, tags in (("none", []), ("red", ["red"]), ("blue", ["blue"]),
                       ("both", ["red", "blue"]), ("all", ["red", "blue", "green"])):
        nets[name] = api.create("network", "demo", name=name)
        if tags:
            response = api.call("PUT", f"/v2.0/networks/{nets[name]['id']}/tags", "demo",
                                json={"tags": tags})
            assert response.status_code == 200

    def names(*params: tuple[str, str]) -> list[str]:
        response = api.call("GET", "/v2.0/networks", "demo", params=list(params))
        assert response.status_code == 200, response.text
        return sorted(n["name"] for n in response.json()["networks"])

    assert names(("tags", "red")) == ["all", "both", "red"]
    assert names(("tags", "red,blue")) == ["all", "both"]
    assert names(("tags", "red"), ("tags", "blue")) == ["all", "both"]
    assert names(("tags-any", "blue,green")) == ["all", "blue", "both"]
    assert names(("not-tags", "red,blue")) == ["blue", "none", "red"]
    assert names(("not-tags-any", "red,green")) == ["blue", "none"]
    assert names(("tags", "red"), ("not-tags-any", "green")) == ["both", "red"]
    assert names(("tags", "nothere")) == []
    assert names(("tags", "red"), ("name", "red")) == ["red"]
