"""Sorting, filters and `limit`/`marker` paging done in SQL, through the API, on every
backend: pages concatenate to the whole sorted list, markers and page_reverse walk both
ways, ties break on the id, filters bound the pages; a policy file that changes get_port
takes the per-row path and still pages correctly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings, VlanRange
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import Services, build_services
from neutrino.db.engine import Database

from .conftest import USERS, Api


def _services(database: Database) -> Services:
    settings = CoreSettings(host="controlnode", agent_down_time=5, tenant_network_type="vlan",
                            vlan_ranges=(VlanRange("physnet1", 1000, 1010),),
                            network_scheduler="chance")
    return build_services(database, settings, RecordingNotifier())


def _api(database: Database, tmp_path: Path, policy_file: str | None = None
         ) -> Iterator[Api]:
    settings = ApiSettings(state_path=str(tmp_path / "state"), users=USERS, region="RegionOne")
    with TestClient(create_app(_services(database), settings, policy_file=policy_file)) as c:
        yield Api(c)


@pytest.fixture
def backend_api(database: Database, tmp_path: Path) -> Iterator[Api]:
    yield from _api(database, tmp_path)


def _ports(api: Api, network_id: str, names: list[str], who: str = "admin") -> list[dict]:
    return [api.create("port", who, network_id=network_id, name=name) for name in names]


def _get(api: Api, url: str, who: str = "admin") -> dict[str, Any]:
    response = api.call("GET", url, who)
    assert response.status_code == 200, response.text
    return response.json()


def _link(body: dict[str, Any], rel: str) -> str | None:
    for link in body.get("ports_links", []):
        if link["rel"] == rel:
            parts = urlsplit(link["href"])
            return f"{parts.path}?{parts.query}"
    return None


def _walk(api: Api, url: str, rel: str, who: str = "admin") -> list[list[str]]:
    """Every page's names, following `rel` links from `url`."""
    pages: list[list[str]] = []
    next_url: str | None = url
    while next_url is not None:
        body = _get(api, next_url, who)
        pages.append([p["name"] for p in body["ports"]])
        next_url = _link(body, rel)
        assert len(pages) < 50
    return pages


def _expected(ports: list[dict], *keys: tuple[str, bool]) -> list[dict]:
    ordered = sorted(ports, key=lambda p: p["id"])
    for key, ascending in reversed(keys):
        ordered = sorted(ordered, key=lambda p: p[key], reverse=not ascending)
    return ordered


def test_pages_concatenate_to_the_sorted_list_both_ways(backend_api: Api) -> None:
    api = backend_api
    net = api.create("network", name="paged")["id"]
    other = api.create("network", name="other")["id"]
    # Ties on name ("b" three times) break on the id; another network's ports are filtered out.
    ports = _ports(api, net, ["c", "a", "b", "e", "b", "d", "b"])
    _ports(api, other, ["a", "z"])
    names = [p["name"] for p in _expected(ports, ("name", True))]
    url = f"/v2.0/ports?network_id={net}&sort_key=name&sort_dir=asc&limit=3"
    forward = _walk(api, url, "next")
    assert forward == [names[0:3], names[3:6], names[6:7]]
    # Same ids too (the ties), not just names.
    ids = [p["id"] for p in _expected(ports, ("name", True))]
    first = _get(api, url)
    assert [p["id"] for p in first["ports"]] == ids[:3]
    assert _link(first, "previous") is None
    # Backwards from the last page: page_reverse links lead to the first page.
    last = _get(api, f"{url}&marker={ids[5]}")
    assert [p["id"] for p in last["ports"]] == ids[6:]
    assert _link(last, "next") is None
    previous = _link(last, "previous")
    assert previous is not None and "page_reverse=True" in previous
    back = _walk(api, previous, "previous")
    assert back == [names[3:6], names[0:3]]


def test_page_reverse_without_marker_is_the_last_page(backend_api: Api) -> None:
    api = backend_api
    net = api.create("network", name="paged")["id"]
    ports = _ports(api, net, ["a", "b", "c", "d", "e"])
    ids = [p["id"] for p in _expected(ports, ("id", True))]
    body = _get(api, f"/v2.0/ports?network_id={net}&limit=2&page_reverse=True")
    assert [p["id"] for p in body["ports"]] == ids[3:]
    assert _link(body, "next") is None and _link(body, "previous") is not None


def test_several_sort_keys_and_directions(backend_api: Api) -> None:
    api = backend_api
    net = api.create("network", name="paged")["id"]
    ports = _ports(api, net, ["x", "y", "x", "y", "z", "x"])
    for port, state in zip(ports, [True, False, False, True, True, True], strict=True):
        response = api.call("PUT", f"/v2.0/ports/{port['id']}", "admin",
                            json={"port": {"admin_state_up": state}})
        assert response.status_code == 200, response.text
        port["admin_state_up"] = state
    keys = (("admin_state_up", False), ("name", True))
    expected = [p["id"] for p in _expected(ports, *keys)]
    url = (f"/v2.0/ports?network_id={net}&sort_key=admin_state_up&sort_dir=desc"
           f"&sort_key=name&sort_dir=asc")
    assert [p["id"] for p in _get(api, url)["ports"]] == expected
    seen: list[str] = []
    next_url: str | None = url + "&limit=4"
    while next_url:
        body = _get(api, next_url)
        seen += [p["id"] for p in body["ports"]]
        next_url = _link(body, "next")
    assert seen == expected


def test_limit_with_filters_and_fields(backend_api: Api) -> None:
    api = backend_api
    net = api.create("network", name="paged")["id"]
    ports = _ports(api, net, ["keep", "drop", "keep", "keep", "drop"])
    keep = [p["id"] for p in _expected([p for p in ports if p["name"] == "keep"],
                                       ("id", True))]
    body = _get(api, f"/v2.0/ports?network_id={net}&name=keep&limit=2&fields=id")
    assert body["ports"] == [{"id": i} for i in keep[:2]]
    next_url = _link(body, "next")
    assert next_url is not None
    assert dict(parse_qsl(urlsplit(next_url).query))["marker"] == keep[1]
    assert [p["id"] for p in _get(api, next_url)["ports"]] == keep[2:]
    # A marker the filters exclude is not found, as the per-row path says.
    dropped = next(p["id"] for p in ports if p["name"] == "drop")
    response = api.call("GET", f"/v2.0/ports?network_id={net}&name=keep&limit=2"
                               f"&marker={dropped}")
    assert response.status_code == 404
    assert response.json()["NeutronError"]["type"] == "PortNotFound"


def test_a_member_pages_through_what_it_may_see(backend_api: Api) -> None:
    api = backend_api
    mine = api.create("network", "demo", name="mine")["id"]
    ports = _ports(api, mine, ["m1", "m2", "m3"], who="demo")
    # The admin's port on the member's network is visible to the member (network owner).
    ports += _ports(api, mine, ["m0"])
    hidden = api.create("network", "alt", name="alts")["id"]
    alt = _ports(api, hidden, ["h"], who="alt")
    expected = [p["id"] for p in _expected(ports, ("name", True))]
    assert [p["id"] for p in _get(api, "/v2.0/ports?sort_key=name&sort_dir=asc", "demo")
            ["ports"]] == expected
    body = _get(api, "/v2.0/ports?sort_key=name&sort_dir=asc&limit=3", "demo")
    assert [p["id"] for p in body["ports"]] == expected[:3]
    # Admin-only attributes stay hidden from the member.
    assert all("binding:host_id" not in p for p in body["ports"])
    response = api.call("GET", f"/v2.0/ports?limit=3&marker={alt[0]['id']}", "demo")
    assert response.status_code == 404


def test_networks_page_in_sql_too(backend_api: Api) -> None:
    api = backend_api
    made = [api.create("network", name=n) for n in ["n3", "n1", "n2", "n1"]]
    expected = [n["id"] for n in _expected(made, ("name", False))]
    body = _get(api, "/v2.0/networks?sort_key=name&sort_dir=desc&limit=3")
    assert [n["id"] for n in body["networks"]] == expected[:3]
    following = _get(api, "/v2.0/networks?sort_key=name&sort_dir=desc&limit=3"
                          f"&marker={expected[2]}")
    assert [n["id"] for n in following["networks"]] == expected[3:]


GET_PORT_OWNER_ONLY = '"get_port": "rule:admin_or_owner"\n'


def test_a_changed_get_port_rule_is_applied_per_row(sqlite_database: Database,
                                                      tmp_path: Path) -> None:
    """With get_port narrowed to the port's owner, the network owner no longer sees other
    projects' ports on its network: the per-row path (core's SQL would show them)."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(GET_PORT_OWNER_ONLY)
    for api in _api(sqlite_database, tmp_path, str(policy)):
        net = api.create("network", "demo", name="mine")["id"]
        own = _ports(api, net, ["own1", "own2"], who="demo")
        theirs = _ports(api, net, ["admins"])
        listed = _get(api, "/v2.0/ports?sort_key=name&sort_dir=asc&limit=1", "demo")
        assert [p["id"] for p in listed["ports"]] == [own[0]["id"]]
        every = _get(api, "/v2.0/ports", "demo")["ports"]
        assert sorted(p["id"] for p in every) == sorted(p["id"] for p in own)
        response = api.call("GET", f"/v2.0/ports/{theirs[0]['id']}", "demo")
        assert response.status_code == 404


def test_attribute_rules_are_decided_per_owner_in_one_list(backend_api: Api) -> None:
    """get_port:binding:vnic_type is admin_or_owner: the network's owner sees every port
    on its network, but that attribute only on its own ports, whichever order the rows of
    the two owners come in."""
    net = backend_api.create("network", "demo", name="mine")["id"]
    own = {p["id"] for p in _ports(backend_api, net, ["a", "c", "e"], who="demo")}
    theirs = {p["id"] for p in _ports(backend_api, net, ["b", "d"])}
    for url in ("/v2.0/ports?sort_key=name&sort_dir=asc",
                "/v2.0/ports?sort_key=name&sort_dir=asc&limit=4"):
        listed = _get(backend_api, url, "demo")["ports"]
        assert [p["name"] for p in listed] == ["a", "b", "c", "d", "e"][:len(listed)]
        ids = {p["id"] for p in listed}
        assert {p["id"] for p in listed if "binding:vnic_type" in p} == own & ids
        assert {p["id"] for p in listed if "binding:vnic_type" not in p} == theirs & ids
    as_admin = _get(backend_api, "/v2.0/ports", "admin")["ports"]
    assert all(p["binding:vnic_type"] == "normal" for p in as_admin)
