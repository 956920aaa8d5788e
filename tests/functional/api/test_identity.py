"""The builtin identity API: v3 and v2.0 token issuance, validation, catalog, expiry."""

from __future__ import annotations

import dataclasses
import time

from starlette.testclient import TestClient

from neutrino.api.app import create_app


def v3_auth(user="admin", password="adminpassword", project="admin", **user_extra):
    spec = {"name": user, "domain": {"name": "Default"}, "password": password, **user_extra}
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": spec}},
                     "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}


def test_v3_password_token(client):
    response = client.post("/v3/auth/tokens", json=v3_auth())
    assert response.status_code == 201
    token_id = response.headers["X-Subject-Token"]
    token = response.json()["token"]
    assert token["user"]["name"] == "admin" and token["project"]["name"] == "admin"
    assert {r["name"] for r in token["roles"]} >= {"admin"}
    assert token["expires_at"].endswith("Z") and token["methods"] == ["password"]
    services = {s["type"]: s for s in token["catalog"]}
    network = services["network"]["endpoints"]
    assert {e["interface"] for e in network} == {"public", "internal", "admin"}
    assert all(e["url"] == "http://testserver" and e["region"] == "RegionOne"
               for e in network)
    assert services["identity"]["endpoints"][0]["url"] == "http://testserver/v3"

    check = client.get("/v3/auth/tokens", headers={"X-Auth-Token": token_id,
                                                   "X-Subject-Token": token_id})
    assert check.status_code == 200
    assert check.json()["token"]["project"]["id"] == token["project"]["id"]
    assert client.get("/v3/auth/tokens", headers={
        "X-Auth-Token": token_id, "X-Subject-Token": "junk"}).status_code == 404
    assert client.get("/v3/auth/tokens", headers={"X-Subject-Token": token_id}
                      ).status_code == 401
    catalog = client.get("/v3/auth/catalog", headers={"X-Auth-Token": token_id}).json()
    assert {s["type"] for s in catalog["catalog"]} == {"network", "identity"}
    assert client.get("/v2.0/networks", headers={"X-Auth-Token": token_id}).status_code == 200


def test_v3_by_ids_and_token_method(client):
    first = client.post("/v3/auth/tokens", json=v3_auth()).json()["token"]
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "id": first["user"]["id"], "password": "adminpassword"}}},
        "scope": {"project": {"id": first["project"]["id"]}}}}
    response = client.post("/v3/auth/tokens", json=body)
    assert response.status_code == 201
    token_id = response.headers["X-Subject-Token"]
    rescoped = client.post("/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": token_id}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
    assert rescoped.status_code == 201


def test_v3_refusals(client):
    for body in (v3_auth(password="wrong"), v3_auth(user="nobody"),
                 v3_auth(project="demo"),  # admin has no role on demo
                 {"auth": {"identity": {"methods": ["password"], "password": {"user": {
                     "name": "admin", "domain": {"name": "Other"},
                     "password": "adminpassword"}}}}}):
        response = client.post("/v3/auth/tokens", json=body)
        assert response.status_code == 401, body
        assert response.json()["error"]["code"] == 401
    for body in ({}, {"auth": []}, {"auth": {"identity": {"methods": "password"}}}, [1]):
        assert client.post("/v3/auth/tokens", json=body).status_code == 400
    assert client.post("/v3/auth/tokens", content=b"{").status_code == 400


def test_v2_tokens(client):
    response = client.post("/v2.0/tokens", json={"auth": {
        "passwordCredentials": {"username": "demo", "password": "demopassword"},
        "tenantName": "demo"}})
    assert response.status_code == 200
    access = response.json()["access"]
    token_id = access["token"]["id"]
    assert access["token"]["tenant"]["name"] == "demo"
    assert access["user"]["username"] == "demo"
    network = [s for s in access["serviceCatalog"] if s["type"] == "network"][0]
    assert network["endpoints"][0]["publicURL"] == "http://testserver"
    assert client.get("/v2.0/networks", headers={"X-Auth-Token": token_id}).status_code == 200
    response = client.post("/v2.0/tokens", json={"auth": {
        "passwordCredentials": {"username": "demo", "password": "nope"},
        "tenantName": "demo"}})
    assert response.status_code == 401


def test_v2_root_answers_identity_discovery_too(client):
    body = client.get("/v2.0").json()
    assert body["version"]["id"] == "v2.0" and body["version"]["status"] == "stable"
    assert body["resources"]
    v3 = client.get("/v3").json()["version"]
    assert v3["id"].startswith("v3") and v3["links"][0]["href"] == "http://testserver/v3/"


def test_api_needs_a_valid_token(client):
    for headers in ({}, {"X-Auth-Token": "garbage"}):
        response = client.get("/v2.0/networks", headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Keystone uri="http://testserver/v3"'
    assert client.get("/").status_code == 200
    assert client.get("/v2.0/extensions").status_code == 401


def test_tokens_expire(core, api_settings):
    settings = dataclasses.replace(api_settings, token_expiration=1)
    with TestClient(create_app(core, settings)) as client:
        response = client.post("/v3/auth/tokens", json=v3_auth())
        token_id = response.headers["X-Subject-Token"]
        assert client.get("/v2.0/networks", headers={"X-Auth-Token": token_id}
                          ).status_code == 200
        time.sleep(2.1)
        assert client.get("/v2.0/networks", headers={"X-Auth-Token": token_id}
                          ).status_code == 401


def test_key_survives_restart_and_secret_is_shared(core, api_settings):
    with TestClient(create_app(core, api_settings)) as first:
        token_id = first.post("/v3/auth/tokens", json=v3_auth()).headers["X-Subject-Token"]
    with TestClient(create_app(core, api_settings)) as second:  # same state_path
        assert second.get("/v2.0/networks", headers={"X-Auth-Token": token_id}
                          ).status_code == 200
    # 32 bytes at least: PyJWT warns about shorter HS256 keys.
    shared = dataclasses.replace(api_settings,
                                 token_secret="one-secret-for-all-the-server-replicas")
    with TestClient(create_app(core, shared)) as a, TestClient(create_app(core, shared)) as b:
        token_id = a.post("/v3/auth/tokens", json=v3_auth()).headers["X-Subject-Token"]
        assert b.get("/v2.0/networks", headers={"X-Auth-Token": token_id}).status_code == 200
        assert b.get("/v2.0/networks", headers={"X-Auth-Token": "x" + token_id}
                     ).status_code == 401


def test_noauth_trusts_headers(core, api_settings):
    settings = dataclasses.replace(api_settings, auth_strategy="noauth")
    with TestClient(create_app(core, settings)) as client:
        assert client.post("/v3/auth/tokens", json=v3_auth()).status_code == 404
        member = {"X-Project-Id": "p1", "X-User-Id": "u1", "X-Roles": "member"}
        response = client.post("/v2.0/networks", headers=member, json={"network": {}})
        assert response.status_code == 201
        assert response.json()["network"]["project_id"] == "p1"
        assert client.get("/v2.0/agents", headers=member).json() == {"agents": []}
        other = {"X-Project-Id": "p2", "X-Roles": "member"}
        assert client.get("/v2.0/networks", headers=other).json() == {"networks": []}


def test_v3_projects_and_head(client):
    response = client.post("/v3/auth/tokens", json=v3_auth("demo", "demopassword", "demo"))
    token_id = response.headers["X-Subject-Token"]
    projects = client.get("/v3/auth/projects", headers={"X-Auth-Token": token_id}).json()
    assert [p["name"] for p in projects["projects"]] == ["demo"]
    head = client.head("/v3/auth/tokens", headers={"X-Auth-Token": token_id,
                                                   "X-Subject-Token": token_id})
    assert head.status_code == 200
    admin = client.post("/v3/auth/tokens", json=v3_auth()).headers["X-Subject-Token"]
    # A member may not look at another user's token.
    forbidden = client.get("/v3/auth/tokens", headers={"X-Auth-Token": token_id,
                                                       "X-Subject-Token": admin})
    assert forbidden.status_code == 403


def test_projects_by_id_and_name_for_openstack_quota_commands(api):
    """`openstack quota show PROJECT` finds the project by id, then by name."""
    own = api.call("GET", "/v3/auth/projects", "demo").json()["projects"][0]
    assert api.call("GET", f"/v3/projects/{own['id']}", "demo").json()["project"]["name"] \
        == "demo"
    alt = api.call("GET", "/v3/auth/projects", "alt").json()["projects"][0]
    assert api.call("GET", f"/v3/projects/{alt['id']}", "demo").status_code == 403
    assert api.call("GET", f"/v3/projects/{alt['id']}").json()["project"]["name"] == "alt"
    assert api.call("GET", "/v3/projects/nonexistent").status_code == 404
    by_name = api.call("GET", "/v3/projects", params={"name": "alt"}).json()["projects"]
    assert [p["id"] for p in by_name] == [alt["id"]]
    assert api.call("GET", "/v3/projects", "demo", params={"name": "alt"}).status_code == 403


def test_noauth_without_a_project_is_neutrons_admin_of_fake_project_id(core, api_settings):
    # Neutron 29's noauth pipeline (its fake_project_id filter) gives a caller without
    # X-Project-Id the project "fake_project_id" and admin: a create naming no project
    # lands there, one naming any project lands in that one.
    settings = dataclasses.replace(api_settings, auth_strategy="noauth")
    with TestClient(create_app(core, settings)) as client:
        response = client.post("/v2.0/networks", json={"network": {"tenant_id": "p9"}})
        assert response.status_code == 201, response.text
        assert response.json()["network"]["project_id"] == "p9"
        defaulted = client.post("/v2.0/networks", json={"network": {}})
        assert defaulted.status_code == 201, defaulted.text
        assert defaulted.json()["network"]["project_id"] == "fake_project_id"
        assert {n["project_id"] for n in client.get("/v2.0/networks").json()["networks"]} \
            == {"p9", "fake_project_id"}
        own = client.post("/v2.0/networks", json={"network": {}},
                          headers={"X-Project-Id": "p7"})
        assert own.json()["network"]["project_id"] == "p7"
        assert client.get("/v2.0/agents").status_code == 200
