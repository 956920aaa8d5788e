"""The Linux bridge agent's pure planning function."""

from __future__ import annotations

from neutrino.agent.linuxbridge.plan import Link, Uplink, plan_links

from .fakes import port

NET1 = "11111111-aaaa-bbbb-cccc-000000000001"
NET2 = "22222222-aaaa-bbbb-cccc-000000000002"
BR1 = "brq11111111-aa"
BR2 = "brq22222222-aa"
MAPPINGS = {"physnet1": "eth0"}
ETH0 = Link("eth0", None, None, True)


def tap(name: str, master: str | None = None, up: bool = False) -> Link:
    return Link(name, "tun", master, up)


def as_links(*links: Link) -> dict[str, Link]:
    return {link.name: link for link in links}


def test_a_vlan_port_gets_its_bridge_vlan_device_and_is_plugged() -> None:
    plan = plan_links({"tapaaa": port("tapaaa", NET1)}, MAPPINGS,
                      as_links(ETH0, tap("tapaaa")))
    assert plan.bridges == (BR1,)
    assert plan.vlans == (Uplink("eth0.1000", "eth0", 1000),)
    assert plan.enslave == (("eth0.1000", BR1), ("tapaaa", BR1))
    assert plan.set_up == ("tapaaa",)
    assert plan.delete == ()
    assert dict(plan.plugged) == {"tapaaa": BR1}
    assert plan.needs["tapaaa"] == (BR1, "eth0.1000")


def test_in_place_means_nothing_to_do() -> None:
    links = as_links(ETH0, Link(BR1, "bridge", None, True),
                     Link("eth0.1000", "vlan", BR1, True), tap("tapaaa", BR1, True))
    plan = plan_links({"tapaaa": port("tapaaa", NET1)}, MAPPINGS, links)
    assert (plan.bridges, plan.vlans, plan.enslave, plan.set_up, plan.delete) == \
        ((), (), (), (), ())
    assert dict(plan.plugged) == {"tapaaa": BR1}


def test_a_flat_port_enslaves_the_interface_itself() -> None:
    details = port("tapaaa", NET1, "flat", segmentation_id=None)
    plan = plan_links({"tapaaa": details}, MAPPINGS, as_links(ETH0, tap("tapaaa")))
    assert plan.vlans == ()
    assert plan.enslave == (("eth0", BR1), ("tapaaa", BR1))


def test_a_local_port_gets_a_bridge_without_uplink() -> None:
    details = port("tapaaa", NET1, "local", physical_network=None, segmentation_id=None)
    plan = plan_links({"tapaaa": details}, {}, as_links(tap("tapaaa")))
    assert plan.bridges == (BR1,)
    assert plan.enslave == (("tapaaa", BR1),)
    assert plan.needs["tapaaa"] == (BR1,)


def test_two_taps_on_one_network_share_one_bridge() -> None:
    devices = {"tapaaa": port("tapaaa", NET1), "tapbbb": port("tapbbb", NET1)}
    plan = plan_links(devices, MAPPINGS, as_links(ETH0, tap("tapaaa"), tap("tapbbb")))
    assert plan.bridges == (BR1,)
    assert len(plan.vlans) == 1
    assert plan.enslave == (("eth0.1000", BR1), ("tapaaa", BR1), ("tapbbb", BR1))


def test_unplugable_ports_are_explained_and_left_alone() -> None:
    devices = {
        "tapaaa": port("tapaaa", NET1, physical_network="physnet9"),
        "tapbbb": port("tapbbb", NET2, "vxlan"),
        "tapccc": port("tapccc", NET2, physical_network="physnet2"),
    }
    plan = plan_links(devices, {"physnet1": "eth0", "physnet2": "eth9"},
                      as_links(ETH0, tap("tapaaa"), tap("tapbbb"), tap("tapccc")))
    assert set(plan.unpluggable) == {"tapaaa", "tapbbb", "tapccc"}
    assert "physnet9" in plan.unpluggable["tapaaa"]
    assert "eth9" in plan.unpluggable["tapccc"]
    assert not plan.plugged and not plan.bridges and not plan.enslave


def test_taps_without_port_or_admin_down_are_not_plugged() -> None:
    devices = {"tapaaa": {"device": "tapaaa"},
               "tapbbb": port("tapbbb", NET1, admin_state_up=False)}
    plan = plan_links(devices, MAPPINGS, as_links(ETH0, tap("tapaaa"), tap("tapbbb")))
    assert not plan.plugged and not plan.bridges and not plan.unpluggable


def test_a_bridge_without_taps_goes_with_its_vlan_device() -> None:
    links = as_links(ETH0, Link(BR2, "bridge", None, True),
                     Link("eth0.1001", "vlan", BR2, True), tap("tapaaa"))
    plan = plan_links({"tapaaa": port("tapaaa", NET1)}, MAPPINGS, links)
    assert plan.delete == (BR2, "eth0.1001")


def test_a_bridge_still_used_by_an_unknown_tap_stays() -> None:
    links = as_links(ETH0, Link(BR2, "bridge", None, True), tap("tapzzz", BR2, True))
    plan = plan_links({}, MAPPINGS, links)
    assert plan.delete == ()


def test_only_brq_bridges_are_ours_to_delete() -> None:
    links = as_links(ETH0, Link("br-ex", "bridge", None, True),
                     Link("brqnotabridge", None, None, True))
    assert plan_links({}, MAPPINGS, links).delete == ()


def test_a_flat_interface_of_a_removed_bridge_is_released_not_deleted() -> None:
    links = as_links(Link("eth0", None, BR2, True), Link(BR2, "bridge", None, True))
    assert plan_links({}, MAPPINGS, links).delete == (BR2,)


def test_a_vlan_device_moving_to_a_new_bridge_is_kept() -> None:
    # The old network's bridge still holds eth0.1000; the new network reuses VLAN 1000.
    links = as_links(ETH0, Link(BR2, "bridge", None, True),
                     Link("eth0.1000", "vlan", BR2, True), tap("tapaaa"))
    plan = plan_links({"tapaaa": port("tapaaa", NET1)}, MAPPINGS, links)
    assert ("eth0.1000", BR1) in plan.enslave
    assert plan.delete == (BR2,)


def test_a_bridge_that_is_down_is_brought_up() -> None:
    links = as_links(ETH0, Link(BR1, "bridge", None, False),
                     Link("eth0.1000", "vlan", BR1, True), tap("tapaaa", BR1, True))
    plan = plan_links({"tapaaa": port("tapaaa", NET1)}, MAPPINGS, links)
    assert plan.bridges == (BR1,)
