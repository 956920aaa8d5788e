"""The DHCP plugin API, port status and casts (SQLite)."""

import pytest
from support.core_world import World

from neutrino.core.agents.dhcp import DhcpPortInUse
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib.naming import dhcp_device_id, tap_name


@pytest.fixture
def world(sqlite_database):
    return World(sqlite_database)


def dhcp_port(world, host, net):
    return world.core.dhcp_plugin.create_dhcp_port(host, {"port": {
        "network_id": net["id"], "fixed_ips": [{"subnet_id": s} for s in net["subnets"]]}})


# -- network info -------------------------------------------------------------------------------

def test_active_networks_info_shape(world):
    world.dhcp_agent("hostA")
    net = world.network()
    second = world.subnet(net["id"])
    port = world.port(net["id"])
    infos = world.core.dhcp_plugin.get_active_networks_info("hostA")
    assert len(infos) == 1
    info = infos[0]
    network = world.core.networks.get(world.admin, net["id"])
    for key, value in network.items():
        if key != "subnets":
            assert info[key] == value, key
    assert [s["id"] for s in info["subnets"]] == sorted([net["subnets"][0], second["id"]])
    assert info["subnets"][0]["cidr"]
    assert [p["id"] for p in info["ports"]] == [port["id"]]
    assert info["ports"][0]["fixed_ips"] == port["fixed_ips"]
    assert info["non_local_subnets"] == []


def test_active_networks_info_includes_dhcp_ports(world):
    world.dhcp_agent("hostA")
    net = world.network()
    mine = dhcp_port(world, "hostA", net)
    info = world.core.dhcp_plugin.get_active_networks_info("hostA")[0]
    assert [p["id"] for p in info["ports"]] == [mine["id"]]


def test_active_networks_info_for_unknown_or_disabled_agent(world):
    assert world.core.dhcp_plugin.get_active_networks_info("nobody") == []
    agent = world.dhcp_agent("hostA")
    world.network()
    world.core.agents.update(world.admin, agent["id"], {"admin_state_up": False})
    assert world.core.dhcp_plugin.get_active_networks_info("hostA") == []
    world.l2_agent("hostL2")
    assert world.core.dhcp_plugin.get_active_networks_info("hostL2") == []


def test_admin_down_networks_are_left_out(world):
    world.dhcp_agent("hostA")
    up = world.network()
    down = world.network()
    world.core.networks.update(world.admin, down["id"], {"admin_state_up": False})
    assert [i["id"] for i in world.core.dhcp_plugin.get_active_networks_info("hostA")] == [up["id"]]
    assert world.core.dhcp_plugin.get_network_info(down["id"], "hostA") is None


def test_get_network_info(world):
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    net = world.network()
    host = world.hosting(net["id"])[0]
    other = "hostB" if host == "hostA" else "hostA"
    info = world.core.dhcp_plugin.get_network_info(net["id"], host)
    assert info["id"] == net["id"] and [s["id"] for s in info["subnets"]] == net["subnets"]
    assert world.core.dhcp_plugin.get_network_info(net["id"], other) is None
    assert world.core.dhcp_plugin.get_network_info("nope", host) is None


def test_network_info_ports_carry_the_api_s_dns_assignment(sqlite_database):
    world = World(sqlite_database, dns_domain="cloud.example.org")
    world.dhcp_agent("hostA")
    net = world.network()
    port = world.core.ports.create(world.admin, {"network_id": net["id"], "dns_name": "vm1"})
    info = world.core.dhcp_plugin.get_network_info(net["id"], "hostA")
    shown = next(p for p in info["ports"] if p["id"] == port["id"])
    assert shown["dns_assignment"] == port["dns_assignment"] == [{
        "ip_address": port["fixed_ips"][0]["ip_address"], "hostname": "vm1",
        "fqdn": "vm1.cloud.example.org."}]
    active = world.core.dhcp_plugin.get_active_networks_info("hostA")
    assert next(p for i in active for p in i["ports"] if p["id"] == port["id"]) == shown


# -- DHCP ports -------------------------------------------------------------------------------

def test_create_dhcp_port(world):
    world.dhcp_agent("hostA")
    net = world.network()
    port = dhcp_port(world, "hostA", net)
    assert port["device_owner"] == const.DEVICE_OWNER_DHCP
    assert port["device_id"] == dhcp_device_id("hostA", net["id"])
    assert port["binding:host_id"] == "hostA"
    assert port["project_id"] == "proj"
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == net["subnets"]
    # Asking again gives the same port: the agent's own, found by device_id.
    assert dhcp_port(world, "hostA", net)["id"] == port["id"]


def test_create_dhcp_port_only_on_hosted_networks(world):
    world.dhcp_agent("hostA")
    net = world.network()
    world.dhcp_agent("hostB")
    with pytest.raises(exc.NetworkNotFound):
        dhcp_port(world, "hostB", net)
    with pytest.raises(exc.NetworkNotFound):
        world.core.dhcp_plugin.create_dhcp_port("hostA", {"network_id": "nope"})


def test_update_dhcp_port(world):
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    net = world.network()
    host = world.hosting(net["id"])[0]
    other = "hostB" if host == "hostA" else "hostA"
    port = dhcp_port(world, host, net)
    world.forget_casts()
    subnet = net["subnets"][0]
    prefix = port["fixed_ips"][0]["ip_address"].rsplit(".", 1)[0]
    wanted = f"{prefix}.200"
    out = world.core.dhcp_plugin.update_dhcp_port(host, port["id"], {"port": {
        "fixed_ips": [{"subnet_id": subnet, "ip_address": wanted}]}})
    assert out["fixed_ips"] == [{"subnet_id": subnet, "ip_address": wanted}]
    assert world.cast_hosts(const.PORT_UPDATE_END) == [host]
    with pytest.raises(exc.NetworkNotFound):
        world.core.dhcp_plugin.update_dhcp_port(other, port["id"], {"port": {"name": "x"}})
    with pytest.raises(exc.PortNotFound):
        world.core.dhcp_plugin.update_dhcp_port(host, "nope", {"port": {}})
    vm = world.port(net["id"], device_id="vm1")
    with pytest.raises(DhcpPortInUse):
        world.core.dhcp_plugin.update_dhcp_port(host, vm["id"], {"port": {"name": "mine"}})


def test_update_dhcp_port_rechecks_the_owner_in_its_own_transaction(world, monkeypatch):
    """An agent that lost its port (another agent adopted it after the update's first read)
    cannot take it back: the owner is checked on the row the update locks."""
    from neutrino.db.models import Port

    world.dhcp_agent("hostA")
    net = world.network()
    port = dhcp_port(world, "hostA", net)
    adopter = dhcp_device_id("hostB", net["id"])
    update = world.core.ports.update

    def adopted_in_between(*args, **kwargs):
        def adopt(session):
            session.get(Port, port["id"]).device_id = adopter
        world.db.transaction(adopt)
        return update(*args, **kwargs)
    monkeypatch.setattr(world.core.ports, "update", adopted_in_between)
    with pytest.raises(DhcpPortInUse):
        world.core.dhcp_plugin.update_dhcp_port("hostA", port["id"], {"port": {"name": "back"}})
    monkeypatch.undo()
    kept = world.core.ports.get(world.admin, port["id"])
    assert kept["device_id"] == adopter and kept["name"] != "back"


def test_release_dhcp_port(world):
    world.dhcp_agent("hostA")
    net = world.network()
    port = dhcp_port(world, "hostA", net)
    vm = world.port(net["id"])
    world.forget_casts()
    world.core.dhcp_plugin.release_dhcp_port("hostA", net["id"], port["device_id"])
    with pytest.raises(exc.PortNotFound):
        world.core.ports.get(world.admin, port["id"])
    assert world.core.ports.get(world.admin, vm["id"])["id"] == vm["id"]
    assert world.casts() == [("hostA", const.PORT_DELETE_END, {
        "port_id": port["id"], "network_id": net["id"], "fixed_ips": port["fixed_ips"]})]
    world.core.dhcp_plugin.release_dhcp_port("hostA", net["id"], port["device_id"])  # idempotent


def test_two_agents_adopting_reserved_ports(sqlite_database):
    world = World(sqlite_database, dhcp_agents_per_network=2)
    a = world.dhcp_agent("hostA")
    b = world.dhcp_agent("hostB")
    net = world.network()
    pa, pb = dhcp_port(world, "hostA", net), dhcp_port(world, "hostB", net)
    world.core.dhcp_scheduling.remove_network(world.admin, a["id"], net["id"])
    world.core.dhcp_scheduling.remove_network(world.admin, b["id"], net["id"])
    c, d = world.dhcp_agent("hostC"), world.dhcp_agent("hostD")
    world.core.dhcp_scheduling.add_network(world.admin, c["id"], net["id"])
    world.core.dhcp_scheduling.add_network(world.admin, d["id"], net["id"])
    pc, pd = dhcp_port(world, "hostC", net), dhcp_port(world, "hostD", net)
    assert {pc["id"], pd["id"]} == {pa["id"], pb["id"]}


# -- port status --------------------------------------------------------------------------------

def status(world, port):
    return world.core.ports.get(world.admin, port["id"])["status"]


def test_vm_port_goes_active_after_l2_and_dhcp(world):
    world.dhcp_agent("hostA")
    world.l2_agent("hostA")
    net = world.network()
    port = world.port(net["id"], **{"binding:host_id": "hostA", "device_owner": "compute:nova"})
    assert port["status"] == "DOWN"
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "DOWN"  # DHCP still to come
    world.core.dhcp_plugin.dhcp_ready_on_ports([port["id"]])
    assert status(world, port) == "ACTIVE"
    world.core.l2_plugin.update_device_down("hostA", tap_name(port["id"]))
    assert status(world, port) == "DOWN"
    # A DHCP agent marking every port ready does not wake a port whose device is down.
    world.core.dhcp_plugin.dhcp_ready_on_ports([port["id"]])
    assert status(world, port) == "DOWN"
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"


def test_order_of_l2_and_dhcp_does_not_matter(world):
    world.dhcp_agent("hostA")
    net = world.network()
    port = world.port(net["id"], **{"binding:host_id": "hostA"})
    world.core.dhcp_plugin.dhcp_ready_on_ports([port["id"]])
    assert status(world, port) == "DOWN"
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"


def test_network_without_dhcp_agent_needs_only_l2(world):
    net = world.network(dhcp=False)
    port = world.port(net["id"], **{"binding:host_id": "hostA"})
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"


def test_unbound_port_stays_down(world):
    world.dhcp_agent("hostA")
    net = world.network()
    port = world.port(net["id"])
    world.core.dhcp_plugin.dhcp_ready_on_ports([port["id"]])
    assert status(world, port) == "DOWN"
    world.core.ports.update(world.admin, port["id"], {"binding:host_id": "hostA"})
    assert status(world, port) == "DOWN"
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"


def test_moving_a_port_to_another_host_rewires_it(world):
    net = world.network(dhcp=False)
    port = world.port(net["id"], **{"binding:host_id": "hostA"})
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"
    moved = world.core.ports.update(world.admin, port["id"], {"binding:host_id": "hostB"})
    assert moved["status"] == "DOWN"
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))  # the old host: ignored
    assert status(world, port) == "DOWN"
    world.core.l2_plugin.update_device_up("hostB", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"


def test_dhcp_port_with_l2_agent_needs_only_l2(world):
    world.dhcp_agent("hostA")
    world.l2_agent("hostA")
    net = world.network()
    port = dhcp_port(world, "hostA", net)
    assert port["status"] == "DOWN"
    world.core.l2_plugin.update_device_up("hostA", tap_name(port["id"]))
    assert status(world, port) == "ACTIVE"


def test_dhcp_port_without_l2_agent_is_active_when_ready(world):
    world.dhcp_agent("hostA")
    net = world.network()
    port = dhcp_port(world, "hostA", net)
    assert port["status"] == "DOWN"
    world.core.dhcp_plugin.dhcp_ready_on_ports([port["id"]])
    assert status(world, port) == "ACTIVE"


# -- L2 agent API ---------------------------------------------------------------------------------

def test_device_details(world):
    world.l2_agent("hostA")
    net = world.network(dhcp=False)
    port = world.port(net["id"], **{"binding:host_id": "hostA", "device_owner": "compute:nova"})
    device = tap_name(port["id"])
    details = world.core.l2_plugin.get_device_details("hostA", device)
    assert details == {
        "device": device, "port_id": port["id"], "network_id": net["id"],
        "mac_address": port["mac_address"], "admin_state_up": True,
        "network_type": "vlan", "physical_network": "physnet1",
        "segmentation_id": net["provider:segmentation_id"],
        "fixed_ips": port["fixed_ips"], "device_owner": "compute:nova"}
    assert world.core.l2_plugin.get_device_details("hostB", device) == {"device": device}
    assert world.core.l2_plugin.get_device_details("hostA", "tap00000000-00") == {
        "device": "tap00000000-00"}
    assert world.core.l2_plugin.get_device_details("hostA", "eth0") == {"device": "eth0"}
    assert world.core.l2_plugin.get_ports_on_host("hostA") == [details]
    assert world.core.l2_plugin.get_ports_on_host("hostB") == []


def test_a_failed_binding_is_tried_again_when_the_hosts_agent_asks(world):
    net = world.network(dhcp=False)
    port = world.port(net["id"], **{"binding:host_id": "hostC", "device_owner": "compute:nova"})
    assert port["binding:vif_type"] == "binding_failed"  # no agent on hostC yet
    device = tap_name(port["id"])
    assert world.core.l2_plugin.get_device_details("hostC", device) == {"device": device}
    assert world.core.l2_plugin.get_ports_on_host("hostC") == []
    world.l2_agent("hostC")  # the agent starts after the port was bound
    details = world.core.l2_plugin.get_device_details("hostC", device)
    assert details["port_id"] == port["id"]
    bound = world.core.ports.get(world.admin, port["id"])
    assert bound["binding:vif_type"] == "tap"
    assert bound["revision_number"] == port["revision_number"] + 1


def test_ports_on_host_bind_again_what_failed(world):
    net = world.network(dhcp=False)
    port = world.port(net["id"], **{"binding:host_id": "hostD"})
    assert port["binding:vif_type"] == "binding_failed"
    world.l2_agent("hostD")
    assert [p["port_id"] for p in world.core.l2_plugin.get_ports_on_host("hostD")] == \
        [port["id"]]


# -- casts ------------------------------------------------------------------------------------

def test_casts_go_to_admin_up_hosting_agents_after_changes(sqlite_database):
    world = World(sqlite_database, dhcp_agents_per_network=2)
    world.dhcp_agent("hostA")
    world.dhcp_agent("hostB")
    world.dhcp_agent("hostC")
    net = world.network()
    hosts = world.hosting(net["id"])
    assert len(hosts) == 2
    down = [a for a in world.core.agents.list(world.admin, {"host": hosts})
            if a["agent_type"] == const.AGENT_TYPE_DHCP][0]
    world.core.agents.update(world.admin, down["id"], {"admin_state_up": False})
    up = [h for h in hosts if h != down["host"]]
    world.forget_casts()

    world.core.networks.update(world.admin, net["id"], {"name": "renamed"})
    assert world.casts() == []  # nothing a DHCP agent serves
    network = world.core.networks.update(world.admin, net["id"], {"dns_domain": "example."})
    assert world.casts() == [(up[0], const.NETWORK_UPDATE_END, {"network": network})]
    world.forget_casts()
    subnet = world.core.subnets.update(world.admin, net["subnets"][0], {"name": "s"})
    assert world.casts() == [(up[0], const.SUBNET_UPDATE_END, {"subnet": subnet})]
    world.forget_casts()
    port = world.port(net["id"])
    assert world.casts() == [(up[0], const.PORT_CREATE_END, {"port": port})]
    world.forget_casts()
    world.core.ports.update(world.admin, port["id"], {"name": "irrelevant"})
    assert world.casts() == []
    moved = world.core.ports.update(world.admin, port["id"], {"device_id": "instance-2"})
    assert world.casts() == [(up[0], const.PORT_UPDATE_END, {"port": moved})]
    world.forget_casts()
    updated = world.core.ports.update(world.admin, port["id"], {"dns_name": "vm1"})
    assert world.casts() == [(up[0], const.PORT_UPDATE_END, {"port": updated})]
    world.forget_casts()
    world.core.ports.delete(world.admin, port["id"])
    assert world.casts() == [(up[0], const.PORT_DELETE_END, {
        "port_id": port["id"], "network_id": net["id"], "fixed_ips": port["fixed_ips"]})]
    world.forget_casts()
    extra = world.subnet(net["id"])
    assert world.casts() == [(up[0], const.SUBNET_CREATE_END, {"subnet": extra})]
    world.forget_casts()
    world.core.subnets.delete(world.admin, extra["id"])
    assert world.casts() == [(up[0], const.SUBNET_DELETE_END, {
        "subnet_id": extra["id"], "network_id": net["id"]})]
    world.forget_casts()
    world.core.networks.delete(world.admin, net["id"])
    assert world.casts() == [(up[0], const.NETWORK_DELETE_END, {"network_id": net["id"]})]


def test_no_casts_for_networks_nobody_hosts(world):
    net = world.network()
    port = world.port(net["id"])
    world.core.networks.update(world.admin, net["id"], {"name": "x"})
    world.core.ports.delete(world.admin, port["id"])
    world.core.networks.delete(world.admin, net["id"])
    assert world.casts() == []


def placed_after_the_first_transaction(world, monkeypatch, agent_id, network_id):
    """After the operation's first transaction commits, the admin places the network on
    another agent (a race with a second server); returns whether that placement took."""
    transaction = world.db.transaction
    placed = []
    state = {"first": True}

    def racing(*args, **kwargs):
        result = transaction(*args, **kwargs)
        if state["first"]:
            state["first"] = False
            try:
                world.core.dhcp_scheduling.add_network(world.admin, agent_id, network_id)
                placed.append(True)
            except exc.NetworkNotFound:
                pass  # the operation was one transaction: the network is gone already
        return result
    monkeypatch.setattr(world.db, "transaction", racing)
    return placed


def test_delete_network_tells_every_agent_hosting_it_when_deleted(world, monkeypatch):
    world.dhcp_agent("hostA")
    net = world.network()
    b = world.dhcp_agent("hostB")
    world.forget_casts()
    placed = placed_after_the_first_transaction(world, monkeypatch, b["id"], net["id"])
    world.core.networks.delete(world.admin, net["id"])
    monkeypatch.undo()
    told = world.cast_hosts(const.NETWORK_DELETE_END)
    assert told == (["hostA", "hostB"] if placed else ["hostA"])


def test_subnet_update_tells_the_agents_hosting_the_network_then(world, monkeypatch):
    world.dhcp_agent("hostA")
    net = world.network()
    b = world.dhcp_agent("hostB")
    world.forget_casts()
    placed = placed_after_the_first_transaction(world, monkeypatch, b["id"], net["id"])
    subnet = world.core.subnets.update(world.admin, net["subnets"][0], {"name": "s"})
    monkeypatch.undo()
    assert placed  # placed after the update committed: hostB fetches the network itself
    assert world.casts(const.SUBNET_UPDATE_END) == [
        ("hostA", const.SUBNET_UPDATE_END, {"subnet": subnet})]
