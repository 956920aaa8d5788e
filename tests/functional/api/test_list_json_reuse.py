"""A port list copies the JSON written for each port before (api.jsonbody.EncodedItems):
whoever lists next, whatever changed meanwhile and whatever `fields` are asked for, the
list says what each port's show says to the same caller."""

from __future__ import annotations

from typing import Any

from .conftest import Api

# Shown to admins only (binding:vnic_type is the owner's too).
BINDING = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")


def _list(api: Api, network_id: str, who: str, query: str = "") -> dict[str, dict[str, Any]]:
    response = api.call("GET", f"/v2.0/ports?network_id={network_id}{query}", who)
    assert response.status_code == 200, response.text
    return {port["id"]: port for port in response.json()["ports"]}


def _shows(api: Api, ids: list[str], who: str) -> dict[str, dict[str, Any]]:
    shown = {}
    for id_ in ids:
        response = api.call("GET", f"/v2.0/ports/{id_}", who)
        assert response.status_code == 200, response.text
        shown[id_] = response.json()["port"]
    return shown


def test_lists_agree_with_shows_whoever_lists_and_after_changes(api: Api) -> None:
    net = api.create("network", "demo", name="reuse")
    api.create("subnet", "demo", network_id=net["id"], cidr="10.9.0.0/24", ip_version=4)
    ids = [api.create("port", "demo", network_id=net["id"], name=f"p{i}")["id"]
           for i in range(4)]
    for _ in range(2):  # the second round is served from what the first wrote
        for who in ("admin", "demo", "admin"):
            listed = _list(api, net["id"], who)
            assert listed == _shows(api, ids, who), who
            for port in listed.values():
                assert all((key in port) == (who == "admin") for key in BINDING), who

    # A change is a new revision, so a new view: the list says the new name to both.
    response = api.call("PUT", f"/v2.0/ports/{ids[0]}", "demo", json={"port": {"name": "new"}})
    assert response.status_code == 200, response.text
    for who in ("demo", "admin"):
        listed = _list(api, net["id"], who)
        assert listed[ids[0]]["name"] == "new"
        assert listed == _shows(api, ids, who)

    # `fields` shapes apart from the whole view, and the whole view after them again.
    narrow = _list(api, net["id"], "admin", "&fields=id&fields=name")
    assert narrow == {i: {"id": i, "name": port["name"]}
                      for i, port in _list(api, net["id"], "admin").items()}
    assert _list(api, net["id"], "admin") == _shows(api, ids, "admin")


def test_a_port_whose_json_only_json_dumps_writes_is_listed_beside_the_others(
        api: Api) -> None:
    # orjson would write an infinite float as null: that port's view is not remembered as
    # JSON, and the list (otherwise copied JSON) is written by json.dumps as a whole.
    net = api.create("network", name="inf")
    api.create("subnet", network_id=net["id"], cidr="10.8.0.0/24", ip_version=4)
    plain = [api.create("port", network_id=net["id"])["id"] for _ in range(2)]
    body = '{"port": {"network_id": "NET", "binding:profile": {"x": 1e400}}}'
    response = api.call("POST", "/v2.0/ports", content=body.replace("NET", net["id"]),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
    odd = response.json()["port"]["id"]
    for _ in range(2):
        response = api.call("GET", f"/v2.0/ports?network_id={net['id']}")
        assert response.status_code == 200
        assert b'"binding:profile": {"x": Infinity}' in response.content
        listed = {port["id"]: port for port in response.json()["ports"]}
        assert set(listed) == {odd, *plain}
        assert listed == _shows(api, [odd, *plain], "admin")
