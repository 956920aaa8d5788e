"""An API worker's cyclic collector: start-up objects frozen, young collections rarer."""

import gc

from neutrino.cmd import server


def test_a_worker_freezes_what_it_made_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        # Python's default, whatever an earlier test in this process left.
        gc.set_threshold(700, *before[1:])
        made = [[] for _ in range(1000)]  # tracked objects alive at start-up
        server.freeze_startup_objects()
        assert gc.get_freeze_count() >= len(made)
        young, *older = gc.get_threshold()
        assert young == server.GC_YOUNG_THRESHOLD > 700
        assert tuple(older) == before[1:]
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
