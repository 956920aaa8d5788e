"""The VLAN follower's decisions, without a lab: which VLANs it asks for and when it stops."""

from __future__ import annotations

from neutrino.lab import fabric, state, vlans
from neutrino.lab.naming import LabNames
from neutrino.lab.state import HostRecord, LabState


class FakeApi:
    def __init__(self, networks: list[dict]) -> None:
        self.networks = networks
        self.queries: list[dict] = []

    def list_networks(self, **query: str) -> list[dict]:
        self.queries.append(query)
        return self.networks


def test_wanted_vlans_are_physnet1_vlan_networks_segments():
    api = FakeApi([{"provider:segmentation_id": 1000}, {"provider:segmentation_id": 2999},
                   {"provider:segmentation_id": None}])
    assert vlans.wanted_vlans(api) == {1000, 2999}  # type: ignore[arg-type]
    assert api.queries == [{"provider:network_type": "vlan",
                            "provider:physical_network": "physnet1"}]


def test_follow_once_adds_segments_for_every_host_and_stops_without_a_lab(tmp_path,
                                                                          monkeypatch):
    names = LabNames("tvf", str(tmp_path / "run"), str(tmp_path / "state"))
    api = FakeApi([{"provider:segmentation_id": 1005}])
    calls = []
    monkeypatch.setattr(fabric, "ensure_vlan_segments",
                        lambda n, wanted, hosts: calls.append((n, wanted, hosts)))
    assert vlans.follow_once(names, api) is False  # type: ignore[arg-type]

    st = LabState(lab="tvf", emulated_vlans=False)
    state.save(names.state_file, st)
    assert vlans.follow_once(names, api) is False  # type: ignore[arg-type]

    st.emulated_vlans = True
    st.hosts = {"HostA": HostRecord("HostA", 0, 1), "HostC": HostRecord("HostC", 2, 2)}
    state.save(names.state_file, st)
    assert vlans.follow_once(names, api) is True  # type: ignore[arg-type]
    assert calls == [(names, {1005}, {"HostA": 0, "HostC": 2})]


def test_down_recognises_the_follower_by_its_command_line():
    names = LabNames("tvf", "/run/x", "/var/lib/x")
    assert " ".join([vlans.MODULE, *vlans.follower_args(names)]) == (
        "neutrino.lab.vlans --lab tvf --run-base /run/x --state-base /var/lib/x")
