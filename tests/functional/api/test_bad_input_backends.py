"""Bad input gets the same clean 4xx on every backend (issue 13, items 1 and 6).

The API's other functional tests run on SQLite only; the values here are the ones where the
backends used to disagree (SQLite's driver raises OverflowError for integers beyond 64 bits,
PostgreSQL refuses NUL in text), so each runs on SQLite, MariaDB and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings, VlanRange
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.db.engine import Database

from .conftest import USERS, Api

HUGE = [str(2 ** 64 * 5), str(2 ** 63), str(-(2 ** 63) - 1), str(2 ** 31), str(-(2 ** 31) - 1)]


@pytest.fixture
def backend_api(database: Database, tmp_path: Any) -> Iterator[Api]:
    settings = CoreSettings(host="controlnode", vlan_ranges=(VlanRange("physnet1", 1000, 1010),))
    services = build_services(database, settings, RecordingNotifier())
    api_settings = ApiSettings(state_path=str(tmp_path / "state"), users=USERS)
    with TestClient(create_app(services, api_settings)) as client:
        yield Api(client)


def _error(response: Any) -> tuple[int, str]:
    body = response.json()["NeutronError"]
    return response.status_code, body["type"]


@pytest.mark.parametrize("url, key", [
    ("/v2.0/subnets", "revision_number"), ("/v2.0/networks", "mtu"),
    ("/v2.0/networks", "provider:segmentation_id"), ("/v2.0/subnets", "ip_version"),
    ("/v2.0/ports", "revision_number"),
])
def test_out_of_range_integer_filter_is_400(backend_api: Api, url: str, key: str) -> None:
    for value in HUGE:
        response = backend_api.call("GET", f"{url}?{key}={value}")
        assert _error(response) == (400, "InvalidInput"), (value, response.text)
        assert "out of range" in response.json()["NeutronError"]["message"]


def test_in_range_integer_filter_still_matches(backend_api: Api) -> None:
    net = backend_api.create("network", name="n")
    found = backend_api.call("GET", f"/v2.0/networks?mtu={net['mtu']}").json()["networks"]
    assert [n["id"] for n in found] == [net["id"]]


@pytest.mark.parametrize("value", [2 ** 64 * 5, 2 ** 31, -(2 ** 63) - 1])
def test_out_of_range_integer_body_is_400(backend_api: Api, value: int) -> None:
    response = backend_api.call("POST", "/v2.0/networks", json={"network": {
        "name": "n", "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": value}})
    assert response.status_code == 400, response.text
    for network_type in ("flat", "local"):
        response = backend_api.call("POST", "/v2.0/networks", json={"network": {
            "name": "n", "provider:network_type": network_type,
            "provider:segmentation_id": value}})
        assert response.status_code == 400, response.text
    net = backend_api.create("network", name="m")
    response = backend_api.call("POST", "/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": value}})
    assert _error(response) == (400, "HTTPBadRequest"), response.text


def test_nul_in_an_id_is_404(backend_api: Api) -> None:
    for resource in ("networks", "subnets", "ports"):
        response = backend_api.call("GET", f"/v2.0/{resource}/a%00b")
        assert response.status_code == 404, response.text
        assert response.json()["NeutronError"]["type"].endswith("NotFound")
    for resource in ("networks", "ports"):
        response = backend_api.call("PUT", f"/v2.0/{resource}/a%00b",
                                    json={resource[:-1]: {"name": "x"}})
        assert response.status_code == 404, response.text
        assert backend_api.call("DELETE", f"/v2.0/{resource}/a%00b").status_code == 404


def test_nul_in_a_filter_matches_nothing(backend_api: Api) -> None:
    response = backend_api.call("GET", "/v2.0/networks?name=a%00b")
    assert response.status_code == 200, response.text
    assert response.json()["networks"] == []
    response = backend_api.call("GET", "/v2.0/networks?id=a%00b")
    assert response.status_code == 200, response.text


def test_lone_surrogate_in_a_name_is_a_neutron_400(backend_api: Api) -> None:
    # JSON may carry "\ud800", which is no character at all: json.loads accepts it.
    raw = b'{"network": {"name": "x\\ud800y"}}'
    response = backend_api.call("POST", "/v2.0/networks", content=raw,
                                headers={"Content-Type": "application/json"})
    assert _error(response) == (400, "HTTPBadRequest"), response.text
    message = response.json()["NeutronError"]["message"]
    assert message.startswith("Invalid input for name. Reason:"), message
    assert "codec" not in message and "surrogate" in message
    response = backend_api.call("GET", "/v2.0/networks?name=x%ED%A0%80y")
    assert response.status_code in (200, 400), response.text
