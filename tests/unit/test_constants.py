"""The `network:` owner rule, written once: the server's default groups, the Linux bridge
agent's filtering and the DHCP agent's metadata instances all follow it."""

from __future__ import annotations

from neutrino.agent.linuxbridge import firewall_plan
from neutrino.lib import constants


def test_network_owned_ports() -> None:
    owners = {"network:dhcp": True, "network:router_interface": True, "network:": True,
              "compute:nova": False, "": False, None: False, "Network:dhcp": False,
              "xnetwork:dhcp": False}
    for owner, expected in owners.items():
        assert constants.is_network_owned(owner) is expected, owner
        assert firewall_plan.trusted({"device_owner": owner}) is expected, owner
