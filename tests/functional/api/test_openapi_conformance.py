"""The server against its own /openapi.json: a bounded schemathesis run per operation
(no 5xx, every status documented, every body and header as documented), and the
document's routes against the server's."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.routing import Route
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.api.openapi import document
from neutrino.conf.settings import CoreSettings, VlanRange
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import Services, build_services

from .conftest import register_dhcp_agent

# Enough to reach every handler with valid and boundary bodies, little enough for the
# whole run to stay around a minute on two cores.
EXAMPLES_PER_OPERATION = 60
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance]
# Served, but left out of the document on purpose (see api/openapi.py's docstring).
UNDOCUMENTED = re.compile(r"^/(v3|v2\.0/quotas|v2\.0/ports/\{\}/bindings|metrics$|"
                          r"healthcheck$|v2\.0/(tokens|tenants|users|roles|OS-))")


def _server_routes(app: Any) -> set[tuple[str, str]]:
    starlette = app.app  # under EdgeMiddleware
    found = set()
    for route in starlette.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, re.sub(r"\{(\w+)(:\w+)?\}", "{}", route.path)))
    return found


def _documented_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), re.sub(r"\{\w+\}", "{}", path))
            for path, item in doc["paths"].items() for method in item
            if method in ("get", "post", "put", "delete", "patch")}


def test_every_route_is_documented_and_every_documented_route_served(core, api_settings):
    app = create_app(core, api_settings)
    served = {(m, p) for m, p in _server_routes(app) if not UNDOCUMENTED.match(p)}
    documented = _documented_routes(document())
    assert documented - served == set()
    assert served - documented == set()


def test_create_bodies_discriminate_single_from_bulk():
    body = document()["paths"]["/v2.0/networks"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    single, bulk = body["oneOf"]
    assert single["required"] == ["network"] and single["additionalProperties"] is False
    assert bulk["required"] == ["networks"] and bulk["additionalProperties"] is False


def _with_known_ids(case: Any, data: Any, known: dict[str, list[str]]) -> None:
    """Random UUIDs only ever reach the 404 paths: most cases name a resource that exists
    (`known`, by the collection a path or body key refers to)."""
    segments = case.operation.path.split("/")
    for name in list(case.path_parameters or {}):
        collection = "networks" if name == "network_id" else (
            "aliases" if name == "alias" else segments[segments.index("{" + name + "}") - 1])
        if known.get(collection) and data.draw(st.booleans()):
            case.path_parameters[name] = data.draw(st.sampled_from(known[collection]))
    body = case.body if isinstance(case.body, dict) else {}
    items = [body] + [b for b in body.values() if isinstance(b, dict)] + [
        b for value in body.values() if isinstance(value, list) for b in value
        if isinstance(b, dict)]
    for item in items:
        if "network_id" in item and data.draw(st.integers(0, 3)):
            item["network_id"] = data.draw(st.sampled_from(known["networks"]))
        for fixed_ip in item.get("fixed_ips") or []:
            if isinstance(fixed_ip, dict) and "subnet_id" in fixed_ip:
                fixed_ip["subnet_id"] = data.draw(st.sampled_from(known["subnets"]))
        if "cidr" in item and data.draw(st.booleans()):
            item["cidr"] = f"10.{data.draw(st.integers(0, 255))}.0.0/24"


def _fuzz(operation: Any, headers: dict[str, str], known: dict[str, list[str]]) -> None:
    """EXAMPLES_PER_OPERATION cases of `operation`, each response checked by CHECKS; the
    same cases on every run (derandomize), so a failure in CI reproduces locally."""
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None,
              deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), data=st.data())
    def run(case: Any, data: Any) -> None:
        _with_known_ids(case, data, known)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    run()


def _admin_token(client: TestClient) -> str:
    response = client.post("/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": "adminpassword"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    assert response.status_code == 201, response.text
    return str(response.headers["X-Subject-Token"])


@pytest.fixture
def roomy_core(sqlite_database: Any) -> Services:
    """Core with every VLAN to give: the fuzzer creates networks by the hundred, and a
    503 NoNetworkAvailable would hide any real 5xx after it."""
    settings = CoreSettings(host="controlnode", tenant_network_type="vlan",
                            vlan_ranges=(VlanRange("physnet1", 1, 4094),),
                            network_scheduler="chance")
    return build_services(sqlite_database, settings, RecordingNotifier())


def test_server_conforms_to_its_openapi_document(roomy_core: Services, api_settings: Any
                                                 ) -> None:
    core = roomy_core
    app = create_app(core, api_settings)
    client = TestClient(app)
    admin_token = _admin_token(client)
    raw = client.get("/openapi.json").json()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # Some networks, subnets and ports to find, update and delete: the fuzzer's random ids
    # would otherwise only ever reach the 404 paths.
    headers = {"X-Auth-Token": admin_token}
    known: dict[str, list[str]] = {"networks": [], "subnets": [], "ports": [],
                                   "agents": [register_dhcp_agent(core, "host-a")["id"]],
                                   "aliases": ["agent", "binding", "provider"]}
    for index in range(3):
        net = client.post("/v2.0/networks", headers=headers,
                          json={"network": {"name": f"n{index}"}}).json()["network"]
        subnet = client.post("/v2.0/subnets", headers=headers, json={"subnet": {
            "network_id": net["id"], "ip_version": 4, "cidr": f"10.{index}.0.0/24"}})
        port = client.post("/v2.0/ports", headers=headers,
                           json={"port": {"network_id": net["id"]}})
        known["networks"].append(net["id"])
        known["subnets"].append(subnet.json()["subnet"]["id"])
        known["ports"].append(port.json()["port"]["id"])
    failures = []
    began = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    # Deletions last, so the other operations still find the known resources.
    operations.sort(key=lambda operation: operation.method.upper() == "DELETE")
    labels = {(o.method.upper(), re.sub(r"\{\w+\}", "{}", o.path)) for o in operations}
    # from_asgi leaves out the document it was loaded from.
    assert labels == _documented_routes(raw) - {("GET", "/openapi.json")}
    for operation in operations:
        try:
            _fuzz(operation, headers, known)
        except Exception as error:  # noqa: BLE001 - collected, reported together below
            failures.append(f"{operation.label}: {error}")
    elapsed = time.monotonic() - began
    assert not failures, "\n\n".join(failures)
    assert elapsed < 300, elapsed


def test_401_without_a_token_is_as_documented(client: TestClient) -> None:
    # The run above always sends a valid token; this is the one 401 body it never sees.
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    case = schema["/v2.0/networks"]["GET"].Case()
    response = case.call()
    assert response.status_code == 401
    case.validate_response(response, checks=CHECKS)
