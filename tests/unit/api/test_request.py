"""Request bodies: Neutron's messages for unknown, read-only, missing and invalid values."""

import pytest

from neutrino.api import request
from neutrino.api.errors import ApiError
from neutrino.core.context import Context
from neutrino.lib.attributes import AGENT, NETWORK, PORT, SUBNET
from neutrino.lib.exceptions import HTTPBadRequest, InvalidInput

MEMBER = Context(user_id="u", project_id="p1", roles=("member",))
ADMIN = Context(user_id="a", project_id="adm", roles=("admin",), is_admin=True)
NET = "3f1d5e3a-1b7e-4c1c-9a57-7c0f3b1c2d4e"


def message(excinfo):
    return excinfo.value.message


def test_parse_json_errors():
    with pytest.raises(ApiError) as e:
        request.parse_json(b"{not json")
    assert (e.value.status, e.value.type, message(e)) == (
        400, "HTTPBadRequest", "Body contains invalid data")
    for raw in [b"\xff\xfe", b'{"a": NaN}', b"[" * 100000]:
        with pytest.raises(ApiError, match="Body contains invalid data"):
            request.parse_json(raw)
    with pytest.raises(ApiError, match="Resource body required"):
        request.parse_json(b"  ")


def test_resource_items():
    assert request.resource_items({"network": {}}, NETWORK, True) == ([{}], False)
    assert request.resource_items({"networks": [{"name": "a"}, {"network": {"name": "b"}}]},
                                  NETWORK, True) == ([{"name": "a"}, {"name": "b"}], True)
    with pytest.raises(ApiError, match="Unable to find 'network' in request body"):
        request.resource_items({"net": {}}, NETWORK, True)
    with pytest.raises(ApiError, match="Body contains invalid data"):
        request.resource_items([1], NETWORK, True)
    with pytest.raises(ApiError, match="Resources required"):
        request.resource_items({"networks": []}, NETWORK, True)


def test_create_fills_defaults_and_project():
    body = request.prepare_create(NETWORK, {"name": "n1", "admin_state_up": "false"}, MEMBER)
    assert body["admin_state_up"] is False
    assert body["shared"] is False and body["router:external"] is False
    assert body["availability_zone_hints"] == [] and body["description"] == ""
    assert body["tenant_id"] == body["project_id"] == "p1"
    # Optional attributes without a default are left for core to decide.
    assert "provider:network_type" not in body and "mtu" not in body


def test_create_errors():
    with pytest.raises(ApiError, match=r"Unrecognized attribute\(s\) 'bogus'"):
        request.prepare_create(NETWORK, {"bogus": 1}, MEMBER)
    with pytest.raises(ApiError, match="Attribute 'status' not allowed in POST"):
        request.prepare_create(NETWORK, {"status": "ACTIVE"}, MEMBER)
    with pytest.raises(ApiError, match="Required attribute 'network_id' not specified"):
        request.prepare_create(PORT, {}, MEMBER)
    with pytest.raises(ApiError) as e:
        request.prepare_create(PORT, {"network_id": "nope"}, MEMBER)
    assert message(e) == "Invalid input for network_id. Reason: 'nope' is not a valid UUID."
    with pytest.raises(InvalidInput, match="cannot be converted to boolean"):
        request.prepare_create(NETWORK, {"shared": "perhaps"}, MEMBER)
    with pytest.raises(ApiError, match="is not in \\[4, 6\\]"):
        request.prepare_create(SUBNET, {"network_id": NET, "ip_version": 5,
                                        "cidr": "10.0.0.0/24"}, MEMBER)
    with pytest.raises(ApiError, match="Agent"):
        raise ApiError(400, "x", "Agent")  # keeps the helper honest
    with pytest.raises(ApiError, match="not allowed in POST"):
        request.prepare_create(AGENT, {"host": "h"}, ADMIN)


def test_project_rules():
    with pytest.raises(HTTPBadRequest, match="requires admin privileges"):
        request.prepare_create(NETWORK, {"tenant_id": "other"}, MEMBER)
    with pytest.raises(HTTPBadRequest, match="'project_id' and 'tenant_id' do not match"):
        request.prepare_create(NETWORK, {"tenant_id": "a", "project_id": "b"}, ADMIN)
    body = request.prepare_create(NETWORK, {"project_id": "other"}, ADMIN)
    assert body["tenant_id"] == "other"
    with pytest.raises(HTTPBadRequest, match="requires that project_id is specified"):
        request.prepare_create(NETWORK, {}, Context(is_admin=True))


def test_update():
    assert request.prepare_update(NETWORK, {"name": "x", "shared": "True"}) == {
        "name": "x", "shared": True}
    with pytest.raises(ApiError, match="Cannot update read-only attribute tenant_id"):
        request.prepare_update(NETWORK, {"tenant_id": "x"})
    with pytest.raises(ApiError, match="Cannot update read-only attribute host"):
        request.prepare_update(AGENT, {"host": "x"})
    assert request.prepare_update(AGENT, {"description": None}) == {"description": None}
