"""binding-extended through HTTP: Nova's live migration sequence and Neutron's errors."""

from __future__ import annotations

from typing import Any

from neutrino.lib import naming

from .test_binding import TAP_DETAILS, register_l2_agent


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["NeutronError"]["type"]


def compute_port(api: Any, core: Any, host: str = "src") -> dict[str, Any]:
    for name in ("src", "dst"):
        register_l2_agent(core, name)
    net = api.create("network", name="n")
    return api.create("port", network_id=net["id"], device_owner="compute:nova",
                      device_id="vm", **{"binding:host_id": host})


def test_live_migration_sequence(api, core) -> None:
    port = compute_port(api, core)
    base = f"/v2.0/ports/{port['id']}/bindings"
    listed = api.call("GET", base).json()["bindings"]
    assert listed == [{"host": "src", "vnic_type": "normal", "vif_type": "tap",
                       "vif_details": TAP_DETAILS, "profile": {}, "status": "ACTIVE"}]

    created = api.call("POST", base, json={"binding": {"host": "dst",
                                                       "profile": {"migrating_to": "dst"}}})
    assert created.status_code == 201, created.text
    assert created.json()["binding"] == {
        "host": "dst", "vnic_type": "normal", "vif_type": "tap", "vif_details": TAP_DETAILS,
        "profile": {"migrating_to": "dst"}, "status": "INACTIVE"}
    # The port itself is still on the source until activation.
    assert api.call("GET", f"/v2.0/ports/{port['id']}").json()["port"][
        "binding:host_id"] == "src"
    shown = api.call("GET", f"{base}/dst?fields=status&fields=host").json()["binding"]
    assert shown == {"host": "dst", "status": "INACTIVE"}
    inactive = api.call("GET", base, params={"status": "INACTIVE"}).json()["bindings"]
    assert [b["host"] for b in inactive] == ["dst"]

    activated = api.call("PUT", f"{base}/dst/activate")
    assert activated.status_code == 200, activated.text
    assert activated.json()["binding"]["status"] == "ACTIVE"
    moved = api.call("GET", f"/v2.0/ports/{port['id']}").json()["port"]
    assert moved["binding:host_id"] == "dst" and moved["status"] == "DOWN"
    assert moved["binding:profile"] == {"migrating_to": "dst"}
    statuses = {b["host"]: b["status"] for b in api.call("GET", base).json()["bindings"]}
    assert statuses == {"dst": "ACTIVE", "src": "INACTIVE"}
    # The destination's agent plugs the tap: the port goes ACTIVE there.
    assert core.l2_plugin.get_ports_on_host("src") == []
    core.l2_plugin.update_device_up("dst", naming.tap_name(port["id"]))
    assert api.call("GET", f"/v2.0/ports/{port['id']}").json()["port"]["status"] == "ACTIVE"

    assert api.call("DELETE", f"{base}/src").status_code == 204
    assert [b["host"] for b in api.call("GET", base).json()["bindings"]] == ["dst"]


def test_neutrons_errors(api, core) -> None:
    port = compute_port(api, core)
    base = f"/v2.0/ports/{port['id']}/bindings"
    assert api.call("POST", base, json={"binding": {"host": "dst"}}).status_code == 201
    assert error(api.call("POST", base, json={"binding": {"host": "dst"}})) == (
        409, "PortBindingAlreadyExists")
    assert error(api.call("POST", base, json={"binding": {"host": "src"}})) == (
        409, "PortBindingAlreadyExists")
    assert error(api.call("PUT", f"{base}/src/activate")) == (409, "PortBindingAlreadyActive")
    assert error(api.call("PUT", f"{base}/nowhere/activate")) == (404, "PortBindingNotFound")
    assert error(api.call("GET", f"{base}/nowhere")) == (404, "PortBindingNotFound")
    assert error(api.call("DELETE", f"{base}/nowhere")) == (404, "PortBindingNotFound")
    assert error(api.call("DELETE", f"{base}/src")) == (404, "PortBindingNotFound")  # active
    # No live agent on the host: the binding cannot be made.
    assert error(api.call("POST", base, json={"binding": {"host": "ghost"}})) == (
        409, "PortBindingError")
    missing = "/v2.0/ports/00000000-0000-0000-0000-000000000000/bindings"
    assert error(api.call("GET", missing)) == (404, "PortNotFound")
    for bad in (None, [], {"binding": "x"}, {"binding": {}}, {"binding": {"host": ""}},
                {"binding": {"host": "h", "foo": 1}}, {"binding": {"host": 5}},
                {"binding": {"host": "h", "vnic_type": "bogus"}},
                {"binding": {"host": "h", "profile": "x"}}):
        assert error(api.call("POST", base, json=bad)) == (400, "HTTPBadRequest"), bad
    net = api.create("network", name="other")
    plain = api.create("port", network_id=net["id"], **{"binding:host_id": "src"})
    assert error(api.call("POST", f"/v2.0/ports/{plain['id']}/bindings",
                          json={"binding": {"host": "dst"}})) == (400, "BadRequest")


def test_an_unbound_port_gets_an_active_binding(api, core) -> None:
    port = compute_port(api, core, host="")
    base = f"/v2.0/ports/{port['id']}/bindings"
    assert api.call("GET", base).json()["bindings"] == []
    created = api.call("POST", base, json={"binding": {"host": "dst"}}).json()["binding"]
    assert (created["host"], created["status"]) == ("dst", "ACTIVE")
    shown = api.call("GET", f"/v2.0/ports/{port['id']}").json()["port"]
    assert (shown["binding:host_id"], shown["binding:vif_type"]) == ("dst", "tap")


def test_port_bindings_are_admin_only(api, core) -> None:
    net = api.create("network", name="d", who="demo")
    port = api.create("port", network_id=net["id"], device_owner="compute:nova", who="demo")
    base = f"/v2.0/ports/{port['id']}/bindings"
    assert error(api.call("GET", base, "demo")) == (403, "PolicyNotAuthorized")
    assert error(api.call("POST", base, "demo", json={"binding": {"host": "h"}})) == (
        403, "PolicyNotAuthorized")
    assert error(api.call("PUT", f"{base}/h/activate", "demo")) == (403, "PolicyNotAuthorized")
    assert error(api.call("DELETE", f"{base}/h", "demo")) == (403, "PolicyNotAuthorized")
    assert error(api.call("GET", base, "alt")) == (404, "PortNotFound")  # not even visible
    aliases = {e["alias"] for e in api.call("GET", "/v2.0/extensions").json()["extensions"]}
    assert "binding-extended" in aliases
