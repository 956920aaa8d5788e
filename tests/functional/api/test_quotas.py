"""The quotas and quota_details extensions through HTTP: shapes, status codes, policy
(member vs admin) and validation as Neutron answers them."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings, QuotaSettings, VlanRange
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services

SG_DEFAULTS = {"security_group": 10, "security_group_rule": 100}
DEFAULTS = {"network": 100, "subnet": 100, "port": 500, **SG_DEFAULTS}


def error(response: Any) -> tuple[int, str, str]:
    body = response.json()["NeutronError"]
    return response.status_code, body["type"], body["message"]


def project(api: Any, who: str) -> str:
    response = api.call("GET", "/v2.0/quotas/project", who)
    assert response.status_code == 200, response.text
    return response.json()["project"]["project_id"]


def test_extensions_are_listed(api):
    aliases = {e["alias"]: e for e in api.call("GET", "/v2.0/extensions").json()["extensions"]}
    assert aliases["quotas"]["name"] == "Quota management support"
    assert aliases["quota_details"]["updated"] == "2017-02-10T10:00:00-00:00"


def test_a_project_without_limits_of_its_own_has_the_defaults(api):
    demo = project(api, "demo")
    for who in ("admin", "demo"):
        response = api.call("GET", f"/v2.0/quotas/{demo}", who)
        assert response.status_code == 200
        assert response.json() == {"quota": DEFAULTS}
    assert api.call("GET", f"/v2.0/quotas/{demo}/default", "demo").json() == {
        "quota": DEFAULTS}
    assert api.call("GET", "/v2.0/quotas/tenant", "demo").json() == {
        "tenant": {"tenant_id": demo}}


def test_admin_sets_shows_lists_and_deletes_a_project_quota(api):
    demo = project(api, "demo")
    response = api.call("PUT", f"/v2.0/quotas/{demo}",
                        json={"quota": {"network": 10, "port": "-1"}})
    assert response.status_code == 200, response.text
    assert response.json() == {"quota": {"network": 10, "subnet": 100, "port": -1,
                                         **SG_DEFAULTS}}
    assert api.call("GET", f"/v2.0/quotas/{demo}", "demo").json()["quota"]["network"] == 10
    assert api.call("GET", "/v2.0/quotas").json() == {"quotas": [
        {"network": 10, "subnet": 100, "port": -1, **SG_DEFAULTS, "project_id": demo,
         "tenant_id": demo}]}
    # The defaults stay the defaults.
    assert api.call("GET", f"/v2.0/quotas/{demo}/default").json() == {"quota": DEFAULTS}

    response = api.call("DELETE", f"/v2.0/quotas/{demo}")
    assert response.status_code == 204 and response.content == b""
    assert api.call("GET", f"/v2.0/quotas/{demo}").json() == {"quota": DEFAULTS}
    assert api.call("GET", "/v2.0/quotas").json() == {"quotas": []}
    assert error(api.call("DELETE", f"/v2.0/quotas/{demo}")) == (
        404, "TenantQuotaNotFound", f"Quota for tenant {demo} could not be found.")


def test_a_member_reads_only_its_own_project_and_changes_nothing(api):
    demo, alt = project(api, "demo"), project(api, "alt")
    disallowed = {
        ("GET", f"/v2.0/quotas/{alt}"): "get_quota",
        ("GET", f"/v2.0/quotas/{alt}/default"): "get_quota",
        ("GET", "/v2.0/quotas"): "get_quota",
        ("PUT", f"/v2.0/quotas/{demo}"): "update_quota",
        ("DELETE", f"/v2.0/quotas/{demo}"): "delete_quota",
    }
    for (method, url), rule in disallowed.items():
        kwargs = {"json": {"quota": {"port": 1}}} if method == "PUT" else {}
        assert error(api.call(method, url, "demo", **kwargs)) == (
            403, "PolicyNotAuthorized", f"Rule:{rule} is disallowed by policy"), url
    assert error(api.call("GET", f"/v2.0/quotas/{alt}/details", "demo")) == (
        403, "AdminRequired", "User does not have admin privileges: Only admin is "
        "authorized to access quotas for another tenant.")
    assert api.call("GET", f"/v2.0/quotas/{demo}", "demo").json() == {"quota": DEFAULTS}


def test_details_count_what_the_project_has(api):
    demo = project(api, "demo")
    net = api.create("network", "demo", name="n")
    api.create("subnet", "demo", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4)
    api.create("port", "demo", network_id=net["id"])
    api.call("PUT", f"/v2.0/quotas/{demo}", json={"quota": {"port": 7}})
    response = api.call("GET", f"/v2.0/quotas/{demo}/details", "demo")
    assert response.status_code == 200
    assert response.json() == {"quota": {
        "network": {"limit": 100, "used": 1, "reserved": 0},
        "subnet": {"limit": 100, "used": 1, "reserved": 0},
        "port": {"limit": 7, "used": 1, "reserved": 0},
        # The port gave the project its default group, with its four rules.
        "security_group": {"limit": 10, "used": 1, "reserved": 0},
        "security_group_rule": {"limit": 100, "used": 4, "reserved": 0}}}
    admin_view = api.call("GET", f"/v2.0/quotas/{demo}/details").json()
    assert admin_view == response.json()


@pytest.mark.parametrize(("body", "message"), [
    ({"quota": {"router": 5}}, "Unrecognized attribute(s) 'router'"),
    ({"quota": {"port": -2}},
     "Invalid input for port. Reason: '-2' is too small - must be at least '-1'."),
    ({"quota": {"port": 2 ** 31}}, "Invalid input for port. Reason: '2147483648' is too "
     "large - must be no larger than '2147483647'."),
    ({"quota": {"port": "many"}}, "Invalid input for operation: 'many' is not an integer."),
    ({"quota": {"port": True}}, "Invalid input for operation: 'True' is not an integer."),
    ({"quota": {"port": None}}, "Invalid input for operation: 'None' is not an integer."),
    ({"quota": [1]}, "Body contains invalid data"),
    ({"network": {}}, "Unable to find 'quota' in request body"),
])
def test_bad_limits_are_refused_with_neutrons_errors(api, body, message):
    demo = project(api, "demo")
    status, _, text = error(api.call("PUT", f"/v2.0/quotas/{demo}", json=body))
    assert (status, text) == (400, message)
    assert api.call("GET", "/v2.0/quotas").json() == {"quotas": []}


def test_check_limit_refuses_a_limit_below_the_usage(api):
    demo = project(api, "demo")
    api.create("network", "demo")
    api.create("network", "demo")
    response = api.call("PUT", f"/v2.0/quotas/{demo}",
                        json={"quota": {"network": 1, "check_limit": True}})
    assert error(response) == (400, "HTTPBadRequest", "Quota limit 1 for network must be "
                               "greater than or equal to already used 2")
    forced = api.call("PUT", f"/v2.0/quotas/{demo}", json={"quota": {"network": 1,
                                                                       "force": True}})
    assert forced.json()["quota"]["network"] == 1


def test_post_is_not_implemented(api):
    response = api.call("POST", "/v2.0/quotas", json={"quota": {"port": 1}})
    assert response.status_code == 501
    assert response.json()["NeutronError"]["type"] == "HTTPNotImplemented"


def test_creates_over_the_limit_get_409_over_quota(api):
    demo = project(api, "demo")
    api.call("PUT", f"/v2.0/quotas/{demo}", json={"quota": {"network": 2, "port": 1}})
    net = api.create("network", "demo")
    response = api.call("POST", "/v2.0/networks", "demo",
                        json={"networks": [{"name": "a"}, {"name": "b"}]})
    assert error(response) == (409, "OverQuota",
                               "Quota exceeded for resources: ['network'].")
    # All or nothing: the bulk create that would have gone over left nothing behind.
    assert len(api.call("GET", "/v2.0/networks", "demo").json()["networks"]) == 1
    api.create("port", "demo", network_id=net["id"])
    response = api.call("POST", "/v2.0/ports", "demo", json={"port": {"network_id": net["id"]}})
    assert error(response) == (409, "OverQuota", "Quota exceeded for resources: ['port'].")
    # Another project's limits are its own.
    api.create("network", "alt")


def test_defaults_come_from_the_quotas_section(sqlite_database, api_settings, make_api):
    settings = CoreSettings(host="controlnode", vlan_ranges=(VlanRange("physnet1", 1000, 1010),),
                            quotas=QuotaSettings(network=1, subnet=-1, port=0))
    services = build_services(sqlite_database, settings, RecordingNotifier())
    with TestClient(create_app(services, ApiSettings(**{
            **api_settings.__dict__}))) as client:
        api = make_api(client)
        demo = project(api, "demo")
        assert api.call("GET", f"/v2.0/quotas/{demo}", "demo").json() == {
            "quota": {"network": 1, "subnet": -1, "port": 0, **SG_DEFAULTS}}
        net = api.create("network", "demo")
        assert error(api.call("POST", "/v2.0/networks", "demo", json={"network": {}}))[1] == \
            "OverQuota"
        assert error(api.call("POST", "/v2.0/ports", "demo",
                              json={"port": {"network_id": net["id"]}}))[1] == "OverQuota"
