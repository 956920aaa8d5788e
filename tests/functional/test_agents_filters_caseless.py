"""Agents' string filters (agent_type, binary, topic, host) match case-insensitively on
every database, as Neutron on MySQL; the others are compared by the database."""

import pytest
from support.core_world import World

from neutrino.lib import constants as const


@pytest.fixture
def world(database):
    return World(database)


def ids(world, **filters):
    return sorted(a["host"] for a in world.core.agents.list(world.admin, filters))


def test_string_filters_ignore_case(world):
    world.dhcp_agent("HostA")
    world.dhcp_agent("hostb")
    world.l2_agent("HostA")
    assert ids(world, agent_type=["DHCP Agent"]) == ["HostA", "hostb"]
    assert ids(world, agent_type=["dhcp agent"], host=["HOSTA"]) == ["HostA"]
    assert ids(world, binary=[const.BINARY_DHCP.upper()]) == ["HostA", "hostb"]
    assert ids(world, topic=["DHCP_AGENT"]) == ["HostA", "hostb"]
    assert ids(world, host=["HostB", "nobody"]) == ["hostb"]
    assert ids(world, agent_type=["DHCP"]) == []  # equality, not a substring


def test_other_filters_follow_the_databases_collation(world):
    world.dhcp_agent("HostA")
    assert ids(world, availability_zone=["nova"]) == ["HostA"]
    # Exact on SQLite and PostgreSQL (as Neutron on PostgreSQL); MariaDB's default
    # collation ignores case (as Neutron on MySQL).
    caseless = world.db.backend in ("mysql", "mariadb")
    assert ids(world, availability_zone=["NOVA"]) == (["HostA"] if caseless else [])
