"""Port binding through HTTP as Nova drives it: `vif_type: tap` where a Linux bridge agent
can plug the port, `binding_failed` where none can, and unbinding with a null host."""

from __future__ import annotations

from typing import Any

from neutrino.core.services import Services
from neutrino.lib import constants, naming

TAP_DETAILS = {"connectivity": "l2", "port_filter": False}


def register_l2_agent(core: Services, host: str, physnet: str = "physnet1",
                      firewall_driver: str = "noop") -> None:
    core.agents.report_state({"agent_state": {
        "binary": constants.BINARY_LINUXBRIDGE, "host": host,
        "topic": constants.TOPIC_LINUXBRIDGE, "agent_type": constants.AGENT_TYPE_LINUXBRIDGE,
        "start_flag": True, "configurations": {"interface_mappings": {physnet: "eth0"},
                                               "firewall_driver": firewall_driver}}})


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["NeutronError"]["type"]


def test_a_port_on_a_host_with_an_agent_binds_tap(api, core) -> None:
    register_l2_agent(core, "compute1")
    net = api.create("network", name="n")
    port = api.create("port", network_id=net["id"], device_owner="compute:nova",
                      **{"binding:host_id": "compute1"})
    assert port["binding:vif_type"] == "tap"
    assert port["binding:vif_details"] == TAP_DETAILS


def test_port_filter_is_true_on_a_host_whose_agent_filters(api, core) -> None:
    register_l2_agent(core, "filtering", firewall_driver="iptables")
    register_l2_agent(core, "plain", firewall_driver="noop")
    net = api.create("network", name="n")
    port = api.create("port", network_id=net["id"], device_owner="compute:nova",
                      **{"binding:host_id": "filtering"})
    assert port["binding:vif_details"] == {"connectivity": "l2", "port_filter": True}
    moved = api.call("PUT", f"/v2.0/ports/{port['id']}",
                     json={"port": {"binding:host_id": "plain"}}).json()["port"]
    assert moved["binding:vif_details"] == TAP_DETAILS
    shown = api.call("GET", f"/v2.0/ports/{port['id']}").json()["port"]
    assert shown["binding:vif_details"] == TAP_DETAILS


def test_binding_fails_without_an_agent_that_can_plug_and_is_retried_on_update(api,
                                                                                core) -> None:
    register_l2_agent(core, "compute2", physnet="physnet9")  # cannot reach physnet1
    net = api.create("network", name="n")
    port = api.create("port", network_id=net["id"], **{"binding:host_id": "compute3"})
    assert (port["binding:vif_type"], port["binding:vif_details"]) == ("binding_failed", {})
    moved = api.call("PUT", f"/v2.0/ports/{port['id']}",
                     json={"port": {"binding:host_id": "compute2"}}).json()["port"]
    assert moved["binding:vif_type"] == "binding_failed"
    register_l2_agent(core, "compute2")  # now mapped: any update binds again
    renamed = api.call("PUT", f"/v2.0/ports/{port['id']}",
                       json={"port": {"name": "again"}}).json()["port"]
    assert (renamed["binding:host_id"], renamed["binding:vif_type"]) == ("compute2", "tap")


def test_nova_unbinds_a_port_on_server_delete(api, core) -> None:
    register_l2_agent(core, "compute1")
    net = api.create("network", name="n")
    api.create("subnet", network_id=net["id"], cidr="10.9.0.0/24", ip_version=4,
               enable_dhcp=False)
    port = api.create("port", network_id=net["id"], name="mine", device_id="vm-1",
                      device_owner="compute:nova", dns_name="vm1",
                      **{"binding:host_id": "compute1", "binding:profile": {"a": "b"}})
    core.l2_plugin.update_device_up("compute1", naming.tap_name(port["id"]))
    active = api.call("GET", f"/v2.0/ports/{port['id']}").json()["port"]
    assert active["status"] == "ACTIVE"

    # Exactly what Nova sends on server delete and on a failed build.
    response = api.call("PUT", f"/v2.0/ports/{port['id']}", json={"port": {
        "binding:host_id": None, "device_id": "", "device_owner": "",
        "binding:profile": {}, "dns_name": ""}})
    assert response.status_code == 200, response.text
    unbound = response.json()["port"]
    assert unbound["binding:host_id"] == "" and unbound["binding:vif_type"] == "unbound"
    assert unbound["binding:vif_details"] == {} and unbound["binding:profile"] == {}
    assert unbound["status"] == "DOWN"
    assert (unbound["device_id"], unbound["device_owner"], unbound["dns_name"]) == ("", "", "")
    # Nothing else is touched: the user's port keeps its name, MAC and addresses.
    for key in ("name", "mac_address", "fixed_ips", "network_id", "admin_state_up"):
        assert unbound[key] == active[key], key
    # The agent on the old host no longer finds it.
    assert core.l2_plugin.get_ports_on_host("compute1") == []
    # An empty string unbinds too, and unbinding twice is harmless.
    again = api.call("PUT", f"/v2.0/ports/{port['id']}",
                     json={"port": {"binding:host_id": ""}})
    assert again.status_code == 200 and again.json()["port"]["binding:vif_type"] == "unbound"


def test_bad_host_ids_are_refused_and_only_admins_unbind(api) -> None:
    net = api.create("network", name="n", who="demo")
    port = api.create("port", network_id=net["id"], who="demo")
    url = f"/v2.0/ports/{port['id']}"
    for bad in (123, ["h"], "a" * 256, "bad\nhost"):
        response = api.call("PUT", url, json={"port": {"binding:host_id": bad}})
        assert error(response) == (400, "HTTPBadRequest"), bad
    response = api.call("PUT", url, "demo", json={"port": {"binding:host_id": None}})
    assert error(response) == (403, "PolicyNotAuthorized")
