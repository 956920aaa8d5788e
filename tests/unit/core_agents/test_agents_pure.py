"""Liveness, timestamps, load and availability zones: the pure agent helpers."""

from datetime import datetime, timedelta

import pytest

from neutrino.core.agents.registry import (
    agent_load,
    alive_cutoff,
    format_agent_time,
    is_alive,
    server_time,
    unwrap_report,
    zone_states,
)
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc

NOW = datetime(2026, 11, 25, 22, 31, 53)


def test_alive_until_exactly_agent_down_time():
    assert is_alive(NOW - timedelta(seconds=4, microseconds=999999), NOW, 5)
    assert not is_alive(NOW - timedelta(seconds=5), NOW, 5)
    assert not is_alive(NOW - timedelta(hours=1), NOW, 5)


def test_cutoff_agrees_with_is_alive():
    cutoff = alive_cutoff(NOW, 5)
    for seconds in (0, 4, 5, 6):
        heartbeat = NOW - timedelta(seconds=seconds)
        assert (heartbeat > cutoff) == is_alive(heartbeat, NOW, 5)


def test_agent_time_format():
    assert format_agent_time(NOW) == "2026-11-25 22:31:53"
    assert format_agent_time(None) is None


def test_server_time_drops_the_fraction():
    assert server_time(NOW.replace(microsecond=987654)) == NOW


@pytest.mark.parametrize("load_type,expected", [("networks", 3), ("subnets", 4),
                                                ("ports", 12)])
def test_load_of_dhcp_agent(load_type, expected):
    conf = {"networks": 3, "subnets": 4, "ports": 12}
    assert agent_load(const.AGENT_TYPE_DHCP, conf, load_type) == expected


def test_load_of_other_agents_and_garbage():
    assert agent_load(const.AGENT_TYPE_LINUXBRIDGE, {"networks": 3}, "networks") == 0
    assert agent_load(const.AGENT_TYPE_DHCP, {}, "networks") == 0
    assert agent_load(const.AGENT_TYPE_DHCP, {"networks": "x"}, "networks") == 0


def test_unwrap_report_accepts_both_shapes():
    inner = {"agent_type": "DHCP agent", "host": "h", "binary": "b", "topic": "t"}
    assert unwrap_report({"agent_state": inner}) == inner
    assert unwrap_report(inner) == inner


def test_unwrap_report_needs_identity():
    with pytest.raises(exc.InvalidInput):
        unwrap_report({"agent_type": "DHCP agent", "binary": "b", "topic": "t"})


def test_zone_available_when_any_agent_admin_up():
    rows = [("z1", False), ("z1", True), ("z2", False), (None, True)]
    assert zone_states(rows) == {"z1": True, "z2": False}
