"""Which port change means which Nova event (Neutron's rules)."""

from __future__ import annotations

from typing import Any

import pytest

from neutrino.conf.settings import NovaSettings
from neutrino.core.agents import nova

SERVER = "6f3c3cbb-7d41-4b8e-9a43-0b1c2d3e4f50"
PORT = "11111111-2222-3333-4444-555555555555"
BOTH = nova.EventPolicy(port_status=True, port_data=True)


def port(**kw: Any) -> dict[str, Any]:
    base = {"id": PORT, "device_owner": "compute:nova", "device_id": SERVER,
            "status": "DOWN", "binding:host_id": "hostA"}
    return {**base, **kw}


@pytest.mark.parametrize(("before", "after", "name", "status"), [
    ("DOWN", "ACTIVE", nova.VIF_PLUGGED, "completed"),
    ("BUILD", "ACTIVE", nova.VIF_PLUGGED, "completed"),
    (None, "ACTIVE", nova.VIF_PLUGGED, "completed"),
    ("DOWN", "ERROR", nova.VIF_PLUGGED, "failed"),
    ("ACTIVE", "DOWN", nova.VIF_UNPLUGGED, "completed"),
])
def test_status_changes_nova_waits_for(before: str | None, after: str, name: str,
                                       status: str) -> None:
    event = nova.status_event(PORT, "compute:az1", SERVER, before, after)
    assert event == nova.Event(name, SERVER, PORT, status)
    assert event.body() == {"name": name, "server_uuid": SERVER, "tag": PORT, "status": status}


@pytest.mark.parametrize(("before", "after"), [
    ("ACTIVE", "ERROR"), ("ERROR", "DOWN"), ("ACTIVE", "BUILD"), (None, "DOWN"),
    ("DOWN", "BUILD")])
def test_other_status_changes_are_of_no_interest(before: str | None, after: str) -> None:
    assert nova.status_event(PORT, "compute:nova", SERVER, before, after) is None


@pytest.mark.parametrize(("owner", "device"), [
    ("network:dhcp", SERVER), ("", SERVER), ("compute:nova", ""),
    ("compute:nova", "dhcp-hostA-net"), ("baremetal:none", SERVER)])
def test_only_ports_of_servers_count(owner: str, device: str) -> None:
    assert not nova.is_compute_port(owner, device)
    assert nova.status_event(PORT, owner, device, "DOWN", "ACTIVE") is None
    assert nova.update_events(port(device_owner=owner, device_id=device),
                              port(device_owner=owner, device_id=device), BOTH) == []
    assert nova.delete_events(port(device_owner=owner, device_id=device), BOTH) == []


def test_an_update_of_a_server_port_is_network_changed() -> None:
    events = nova.update_events(port(), port(**{"fixed_ips": [{"ip_address": "10.0.0.9"}]}),
                                BOTH)
    assert [e.body() for e in events] == [
        {"name": nova.NETWORK_CHANGED, "server_uuid": SERVER, "tag": PORT}]


def test_an_update_that_brings_the_port_down_is_unplugged_then_changed() -> None:
    events = nova.update_events(port(status="ACTIVE"), port(status="DOWN"), BOTH)
    assert [e.name for e in events] == [nova.VIF_UNPLUGGED, nova.NETWORK_CHANGED]


def test_the_port_as_it_is_after_the_update_decides() -> None:
    """Nova unbinding a port clears device_owner: nothing to tell the server any more."""
    unbound = port(status="DOWN", device_owner="", device_id="")
    assert nova.update_events(port(status="ACTIVE"), unbound, BOTH) == []


def test_deleting_a_server_port_is_vif_deleted() -> None:
    assert nova.delete_events(port(), BOTH) == [nova.Event(nova.VIF_DELETED, SERVER, PORT)]


def test_each_option_switches_its_own_events() -> None:
    status_only = nova.EventPolicy(port_status=True, port_data=False)
    data_only = nova.EventPolicy(port_status=False, port_data=True)
    change = (port(status="ACTIVE"), port(status="DOWN"))
    assert [e.name for e in nova.update_events(*change, status_only)] == [nova.VIF_UNPLUGGED]
    assert [e.name for e in nova.update_events(*change, data_only)] == [nova.NETWORK_CHANGED]
    assert nova.delete_events(port(), status_only) == []


def test_nothing_is_recorded_without_a_configured_nova() -> None:
    assert nova.recording_info(None) == {}
    assert nova.recording_info(NovaSettings()) == {}
    on = NovaSettings(auth_type="password")
    assert nova.recording_info(on) == {nova.INFO_KEY: BOTH}
    off = NovaSettings(auth_type="password", notify_on_port_status=False,
                       notify_on_port_data=False)
    assert nova.recording_info(off) == {}


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [nova.backoff(n, 2, 30) for n in range(1, 7)] == [2, 4, 8, 16, 30, 30]
