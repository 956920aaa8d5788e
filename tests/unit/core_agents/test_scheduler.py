"""Placement: the pure scheduler functions."""

import random
from collections import Counter

import pytest

from neutrino.core.agents import scheduler
from neutrino.core.agents.scheduler import AgentSlot, choose_agents, free_indexes, wanted


def slot(name: str, load: int = 0, zone: str | None = "nova") -> AgentSlot:
    return AgentSlot(id=name, host="host-" + name, load=load, availability_zone=zone)


@pytest.mark.parametrize("policy", ["chance", "weight", "az"])
def test_never_picks_agents_already_hosting(policy):
    a, b, c = slot("a"), slot("b"), slot("c")
    for seed in range(20):
        chosen = choose_agents(policy, [a, b, c], [a, b], 3, rng=random.Random(seed))
        assert chosen == [c]


@pytest.mark.parametrize("policy", ["chance", "weight", "az"])
def test_picks_at_most_count_and_no_duplicates(policy):
    agents = [slot(str(i), load=i) for i in range(6)]
    chosen = choose_agents(policy, agents, [], 3, rng=random.Random(1))
    assert len(chosen) == 3
    assert len({a.id for a in chosen}) == 3


@pytest.mark.parametrize("policy", ["chance", "weight", "az"])
def test_fewer_candidates_than_wanted(policy):
    assert choose_agents(policy, [slot("a")], [], 3, rng=random.Random(0)) == [slot("a")]
    assert choose_agents(policy, [], [], 3, rng=random.Random(0)) == []


@pytest.mark.parametrize("policy", ["chance", "weight", "az"])
def test_zero_wanted_picks_nothing(policy):
    assert choose_agents(policy, [slot("a")], [], 0) == []


@pytest.mark.parametrize("policy", ["chance", "weight", "az"])
def test_hints_restrict_candidates(policy):
    agents = [slot("a", zone="z1"), slot("b", zone="z2"), slot("c", zone=None)]
    for seed in range(10):
        chosen = choose_agents(policy, agents, [], 3, az_hints=["z2"],
                               rng=random.Random(seed))
        assert chosen == [agents[1]]


def test_weight_prefers_least_loaded():
    agents = [slot("a", 5), slot("b", 1), slot("c", 3), slot("d", 0)]
    chosen = choose_agents("weight", agents, [], 2, rng=random.Random(3))
    assert [a.id for a in chosen] == ["d", "b"]


def test_weight_breaks_ties_randomly():
    agents = [slot(str(i), 0) for i in range(4)]
    firsts = Counter(choose_agents("weight", agents, [], 1, rng=random.Random(seed))[0].id
                     for seed in range(200))
    assert set(firsts) == {"0", "1", "2", "3"}


def test_chance_is_random_but_reproducible():
    agents = [slot(str(i)) for i in range(5)]
    picks = {choose_agents("chance", agents, [], 1, rng=random.Random(s))[0].id
             for s in range(100)}
    assert len(picks) == 5
    assert (choose_agents("chance", agents, [], 2, rng=random.Random(7))
            == choose_agents("chance", agents, [], 2, rng=random.Random(7)))


def test_chance_ignores_load():
    agents = [slot("light", 0), slot("heavy", 1000)]
    picks = {choose_agents("chance", agents, [], 1, rng=random.Random(s))[0].id
             for s in range(50)}
    assert picks == {"light", "heavy"}


def test_az_spreads_over_zones():
    agents = [slot("a1", 0, "z1"), slot("a2", 0, "z1"), slot("b1", 5, "z2"),
              slot("c1", 9, "z3")]
    chosen = choose_agents("az", agents, [], 3, rng=random.Random(0))
    assert sorted(a.availability_zone for a in chosen) == ["z1", "z2", "z3"]


def test_az_fills_the_zone_with_fewest_hosting_agents_first():
    hosting = [slot("h1", 0, "z1")]
    agents = [slot("a", 0, "z1"), slot("b", 7, "z2")]
    chosen = choose_agents("az", agents, hosting, 1, rng=random.Random(0))
    assert chosen == [agents[1]]


def test_az_takes_lightest_agent_within_zone():
    agents = [slot("a", 9, "z1"), slot("b", 2, "z1")]
    assert choose_agents("az", agents, [], 1, rng=random.Random(0)) == [agents[1]]


def test_unknown_policy_is_an_error():
    with pytest.raises(ValueError):
        choose_agents("nope", [slot("a")], [], 1)


def test_wanted():
    assert wanted(3, 0) == 3
    assert wanted(3, 2) == 1
    assert wanted(1, 4) == 0


def test_free_indexes_within_limit():
    assert free_indexes([], 2, 3) == [1, 2]
    assert free_indexes([1, 3], 5, 3) == [2]
    assert free_indexes([1, 2, 3], 1, 3) == []


def test_free_indexes_without_limit_goes_past_it():
    assert free_indexes([1, 2], 1, None) == [3]
    assert free_indexes([2], 2, None) == [1, 3]


def test_with_added_load():
    agents = [slot("a", 1), slot("b", 2)]
    out = scheduler.with_added_load(agents, [agents[1]])
    assert [a.load for a in out] == [1, 3]
