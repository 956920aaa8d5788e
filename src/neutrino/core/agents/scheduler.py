"""DHCP network placement: which agents should host a network.

Pure functions of (candidates, agents already hosting the network, how many to add, AZ
hints, rng). The database work around them (reading candidates, inserting bindings under
the (network_id, binding_index) constraint) lives in `neutrino.core.agents.bindings`.

Policies, chosen by `CoreSettings.network_scheduler`:
- `chance`: a random sample of the candidates.
- `weight`: the least loaded candidates (ties broken at random, so that server replicas
  scheduling at the same moment tend to pick different agents).
- `az`: one agent at a time, from the availability zone that hosts the fewest of the
  network's agents so far, the least loaded agent in it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

CHANCE = "chance"
WEIGHT = "weight"
AZ = "az"


@dataclass(frozen=True)
class AgentSlot:
    """What placement needs to know about one DHCP agent."""

    id: str
    host: str
    load: int = 0
    availability_zone: str | None = None


Policy = Callable[[Sequence[AgentSlot], Sequence[AgentSlot], int, random.Random],
                  list[AgentSlot]]


def eligible(candidates: Iterable[AgentSlot], hosting: Iterable[AgentSlot],
             az_hints: Sequence[str]) -> list[AgentSlot]:
    """Candidates not already hosting the network, inside the hinted zones (if any)."""
    taken = {a.id for a in hosting}
    zones = set(az_hints)
    return [a for a in candidates
            if a.id not in taken and (not zones or a.availability_zone in zones)]


def _chance(candidates: Sequence[AgentSlot], hosting: Sequence[AgentSlot], count: int,
            rng: random.Random) -> list[AgentSlot]:
    return rng.sample(list(candidates), min(count, len(candidates)))


def _least_loaded(candidates: Sequence[AgentSlot], rng: random.Random) -> list[AgentSlot]:
    shuffled = list(candidates)
    rng.shuffle(shuffled)
    return sorted(shuffled, key=lambda a: a.load)  # stable: ties stay shuffled


def _weight(candidates: Sequence[AgentSlot], hosting: Sequence[AgentSlot], count: int,
            rng: random.Random) -> list[AgentSlot]:
    return _least_loaded(candidates, rng)[:max(count, 0)]


def _az(candidates: Sequence[AgentSlot], hosting: Sequence[AgentSlot], count: int,
        rng: random.Random) -> list[AgentSlot]:
    per_zone = Counter(a.availability_zone for a in hosting)
    pool = _least_loaded(candidates, rng)
    chosen: list[AgentSlot] = []
    while pool and len(chosen) < count:
        # The zone hosting fewest of this network's agents; among equals, the one whose
        # best agent is lightest, then the zone name, so the choice is reproducible.
        best = min(pool, key=lambda a: (per_zone[a.availability_zone], a.load,
                                        a.availability_zone or ""))
        zone = best.availability_zone
        pick = next(a for a in pool if a.availability_zone == zone)
        chosen.append(pick)
        pool.remove(pick)
        per_zone[zone] += 1
    return chosen


POLICIES: dict[str, Policy] = {CHANCE: _chance, WEIGHT: _weight, AZ: _az}


def choose_agents(policy: str, candidates: Sequence[AgentSlot],
                  hosting: Sequence[AgentSlot], count: int, az_hints: Sequence[str] = (),
                  rng: random.Random | None = None) -> list[AgentSlot]:
    """Up to `count` agents to add to a network hosted by `hosting` now.

    `candidates` are the alive, admin-up DHCP agents; those already hosting the network and
    those outside `az_hints` are dropped here.
    """
    if count <= 0:
        return []
    try:
        place = POLICIES[policy]
    except KeyError:
        raise ValueError(f"unknown network scheduler {policy!r}") from None
    pool = eligible(candidates, hosting, az_hints)
    return place(pool, list(hosting), count, rng or random.Random())


def wanted(agents_per_network: int, hosted: int) -> int:
    """How many agents automatic scheduling should add to a network hosted by `hosted`."""
    return max(agents_per_network - hosted, 0)


def free_indexes(used: Iterable[int], count: int, limit: int | None) -> list[int]:
    """The lowest `count` binding indexes not in `used`, starting at 1.

    With `limit` (dhcp_agents_per_network) the indexes stay within 1..limit, so the unique
    (network_id, binding_index) constraint caps automatic scheduling at that many agents
    even when several servers schedule one network at once. Manual scheduling passes None.
    """
    taken = set(used)
    out: list[int] = []
    index = 1
    while len(out) < count and (limit is None or index <= limit):
        if index not in taken:
            out.append(index)
        index += 1
    return out


def with_added_load(agents: Sequence[AgentSlot], chosen: Iterable[AgentSlot],
                    amount: int = 1) -> list[AgentSlot]:
    """`agents` with the chosen ones' load raised, for placing many networks in one pass."""
    ids = Counter(a.id for a in chosen)
    return [replace(a, load=a.load + amount * ids[a.id]) if a.id in ids else a
            for a in agents]
