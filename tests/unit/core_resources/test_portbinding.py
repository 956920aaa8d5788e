"""The binding decision: which host/segment/agent combinations bind `tap`, which fail."""

from __future__ import annotations

import pytest

from neutrino.core.resources.portbinding import (
    FAILED,
    TAP_VIF_DETAILS,
    UNBOUND,
    HostAgent,
    Segment,
    decide,
    host_agent,
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
    assert host_agent(True, conf) == HostAgent(True, frozenset({"physnet1", "p2"}))
    for bad in ("not json", '["a"]', None):
        assert host_agent(True, bad) == HostAgent(True)


@pytest.mark.parametrize(("conf", "port_filter"), [
    ('{"firewall_driver": "iptables"}', True),
    ('{"firewall_driver": "iptables_hybrid"}', True),
    ('{"firewall_driver": "noop"}', False),
    ('{"firewall_driver": "neutron.agent.firewall.NoopFirewallDriver"}', False),
    ('{"firewall_driver": ""}', False),
    ('{"firewall_driver": null}', False),
    ("{}", False),  # an agent that does not say: assume nothing filters
])
def test_port_filter_follows_the_agents_reported_firewall_driver(
        conf: str, port_filter: bool) -> None:
    agent = host_agent(True, conf)
    assert agent.port_filter is port_filter
    binding = decide("HostA", "normal", [LOCAL], [agent])
    assert binding.vif_details == {"connectivity": "l2", "port_filter": port_filter}
