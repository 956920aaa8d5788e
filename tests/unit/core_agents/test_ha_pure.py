"""The HA monitor's stampede guard."""

from datetime import datetime, timedelta

from neutrino.core.agents.ha import (
    MASS_DEATH_PATIENCE,
    FailoverView,
    hold_reason,
    revival_means_outage,
)

NOW = datetime(2026, 11, 25, 23, 0, 0)
DOWN = 10


def view(**kw):
    base = {"now": NOW, "server_started_at": NOW - timedelta(hours=1), "agent_down_time": DOWN,
            "any_dhcp_agent_alive": True, "hosting_alive": 2,
            "dead_heartbeats": (NOW - timedelta(seconds=DOWN + 1),), "holdoff_until": None}
    base.update(kw)
    return FailoverView(**base)


def test_single_dead_agent_among_live_ones_moves():
    assert hold_reason(view()) is None


def test_nothing_dead_nothing_to_do():
    assert hold_reason(view(dead_heartbeats=())) is not None


def test_no_live_dhcp_agent_holds():
    assert "alive" in hold_reason(view(any_dhcp_agent_alive=False, hosting_alive=0))


def test_young_server_holds():
    reason = hold_reason(view(server_started_at=NOW - timedelta(seconds=DOWN - 1)))
    assert "up for less" in reason
    assert hold_reason(view(server_started_at=NOW - timedelta(seconds=DOWN))) is None


def test_recorded_holdoff_holds_until_it_expires():
    assert hold_reason(view(holdoff_until=NOW + timedelta(seconds=1))) is not None
    assert hold_reason(view(holdoff_until=NOW)) is None


def test_mass_death_holds_then_is_believed():
    dead = tuple(NOW - timedelta(seconds=DOWN + 1) for _ in range(3))
    assert "look dead" in hold_reason(view(hosting_alive=1, dead_heartbeats=dead))
    old = tuple(NOW - timedelta(seconds=MASS_DEATH_PATIENCE * DOWN) for _ in range(3))
    assert hold_reason(view(hosting_alive=1, dead_heartbeats=old)) is None


def test_several_dead_but_most_alive_moves():
    dead = tuple(NOW - timedelta(seconds=DOWN + 1) for _ in range(2))
    assert hold_reason(view(hosting_alive=2, dead_heartbeats=dead)) is None


def test_revival_means_outage_when_fewer_than_half_were_alive():
    assert revival_means_outage(0, 10)
    assert revival_means_outage(4, 10)
    assert not revival_means_outage(5, 10)
    assert revival_means_outage(0, 2)
    assert not revival_means_outage(1, 2)
    assert not revival_means_outage(9, 10)  # one flapping agent in a healthy cluster
