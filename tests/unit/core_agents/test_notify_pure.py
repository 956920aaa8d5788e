"""When a port change matters to DHCP agents, and the cast payloads."""

import pytest

from neutrino.core.agents.notify import (
    Outbox,
    port_changed_for_dhcp,
)
from neutrino.core.interfaces import RecordingNotifier
from neutrino.lib import payloads

PORT = {"id": "p", "network_id": "n", "name": "x", "description": "",
        "fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.5"}],
        "mac_address": "fa:16:3e:00:00:01", "extra_dhcp_opts": [], "dns_name": "",
        "admin_state_up": True, "binding:host_id": "", "device_owner": "",
        "device_id": "", "status": "DOWN"}


@pytest.mark.parametrize("field,value", [
    ("fixed_ips", [{"subnet_id": "s", "ip_address": "10.0.0.6"}]),
    ("mac_address", "fa:16:3e:00:00:02"),
    ("extra_dhcp_opts", [{"opt_name": "mtu", "opt_value": "1400", "ip_version": 4}]),
    ("dns_name", "vm1"),
    ("admin_state_up", False),
    ("binding:host_id", "hostA"),
    ("device_owner", "compute:nova"),
    ("device_id", "vm"),
])
def test_dhcp_relevant_changes(field, value):
    assert port_changed_for_dhcp(PORT, {**PORT, field: value})


@pytest.mark.parametrize("field,value", [("name", "y"), ("description", "d"),
                                         ("status", "ACTIVE")])
def test_irrelevant_changes(field, value):
    assert not port_changed_for_dhcp(PORT, {**PORT, field: value})


def test_order_of_fixed_ips_does_not_matter():
    two = [{"subnet_id": "s", "ip_address": "10.0.0.5"},
           {"subnet_id": "t", "ip_address": "10.1.0.5"}]
    assert not port_changed_for_dhcp({**PORT, "fixed_ips": two},
                                     {**PORT, "fixed_ips": list(reversed(two))})


def test_payloads():
    assert payloads.port_delete(PORT) == {"port_id": "p", "network_id": "n",
                                         "fixed_ips": PORT["fixed_ips"]}
    assert payloads.subnet_delete({"id": "s", "network_id": "n", "cidr": "x"}) == {
        "subnet_id": "s", "network_id": "n"}


class Exploding:
    def __init__(self):
        self.calls = 0

    def cast(self, host, method, payload):
        self.calls += 1
        raise RuntimeError("broker down")


def test_outbox_sends_in_order_and_survives_failures():
    box = Outbox()
    box.to_hosts(["a", "b"], "port_create_end", {"port": {}})
    recorder = RecordingNotifier()
    box.send(recorder)
    assert [(h, m) for h, m, _ in recorder.casts] == [("a", "port_create_end"),
                                                     ("b", "port_create_end")]
    assert box.casts == []
    box.add("a", "x", {})
    box.add("b", "y", {})
    failing = Exploding()
    box.send(failing)
    assert failing.calls == 2
