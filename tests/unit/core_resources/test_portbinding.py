"""The binding decision: which host/segment/agent combinations bind `tap`, which fail."""

from __future__ import annotations

import pytest

from neutrino.core.resources.portbinding import (
    FAILED,
    TAP_VIF_DETAILS,
    UNBOUND,
    HostAgent,
    Segment,
    agent_physical_networks,
    decide,
)

VLAN = Segment("vlan", "physnet1")
FLAT = Segment("flat", "physnet1")
LOCAL = Segment("local")
MAPPED = HostAgent(alive=True, physical_networks=frozenset({"physnet1"}))


@pytest.mark.parametrize("segment", [VLAN, FLAT, LOCAL])
def test_a_live_agent_reaching_the_segment_binds_tap(segment: Segment) -> None:
    binding = decide("HostA", "normal", [segment], [MAPPED])
    assert binding.vif_type == "tap" and binding.bound
    assert binding.vif_details == {"connectivity": "l2", "port_filter": False}
    binding.vif_details["x"] = 1  # a copy: the module's constant stays as it is
    assert "x" not in TAP_VIF_DETAILS


@pytest.mark.parametrize("host", ["", None])
def test_no_host_is_unbound(host: str | None) -> None:
    assert decide(host or "", "normal", [VLAN], [MAPPED]) == UNBOUND
    assert not UNBOUND.bound


@pytest.mark.parametrize("agents", [
    [],  # no Linux bridge agent on the host
    [HostAgent(alive=False, physical_networks=frozenset({"physnet1"}))],  # a dead one
    [HostAgent(alive=True, physical_networks=frozenset({"physnet2"}))],  # physnet unmapped
])
def test_binding_fails_without_an_agent_able_to_plug(agents: list[HostAgent]) -> None:
    assert decide("HostA", "normal", [VLAN], agents) == FAILED
    assert not FAILED.bound and FAILED.vif_details == {}


def test_a_local_segment_needs_a_live_agent_but_no_mapping() -> None:
    assert decide("HostA", "normal", [LOCAL], [HostAgent(alive=True)]).vif_type == "tap"
    assert decide("HostA", "normal", [LOCAL], [HostAgent(alive=False)]) == FAILED


def test_unsupported_segment_types_and_vnic_types_fail() -> None:
    assert decide("HostA", "normal", [Segment("vxlan")], [MAPPED]) == FAILED
    assert decide("HostA", "normal", [], [MAPPED]) == FAILED
    assert decide("HostA", "direct", [VLAN], [MAPPED]) == FAILED


def test_agent_physical_networks_come_from_interface_and_bridge_mappings() -> None:
    conf = '{"interface_mappings": {"physnet1": "eth0"}, "bridge_mappings": {"p2": "br"}}'
    assert agent_physical_networks(conf) == {"physnet1", "p2"}
    assert agent_physical_networks("not json") == frozenset()
    assert agent_physical_networks('["a"]') == frozenset()
    assert agent_physical_networks(None) == frozenset()
