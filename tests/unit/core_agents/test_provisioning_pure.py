"""Which provisioning blocks a port gets."""

from neutrino.core.agents.provisioning import DHCP, L2, initial_blocks
from neutrino.lib import constants as const


def test_unbound_port_on_network_without_dhcp_has_no_block():
    assert initial_blocks("compute:nova", "", False, False) == set()


def test_bound_port_waits_for_l2():
    assert initial_blocks("compute:nova", "hostA", True, False) == {L2}
    # An L2 agent that has not registered yet is still awaited.
    assert initial_blocks("compute:nova", "hostA", False, False) == {L2}


def test_port_on_served_network_waits_for_dhcp():
    assert initial_blocks("", "hostA", True, True) == {L2, DHCP}
    assert initial_blocks("", "", True, True) == {DHCP}


def test_dhcp_port_waits_for_l2_only():
    assert initial_blocks(const.DEVICE_OWNER_DHCP, "hostA", True, True) == {L2}


def test_dhcp_port_without_l2_agent_waits_for_its_dhcp_agent():
    assert initial_blocks(const.DEVICE_OWNER_DHCP, "hostA", False, True) == {DHCP}
