"""ViewMemo: views kept under their key, the oldest forgotten first."""

from neutrino.core.resources.viewmemo import ViewMemo


def test_a_view_is_found_under_an_equal_key_only():
    memo = ViewMemo(size=8)
    memo.put(("p1", 1, "2026-01-01"), {"id": "p1"})
    assert memo.get(("p1", 1, "2026-01-01")) == {"id": "p1"}
    assert memo.get(("p1", 2, "2026-01-01")) is None  # the revision moved
    assert memo.get(("p1", 1, "2026-01-02")) is None  # another life of the port


def test_the_oldest_eighth_goes_when_full():
    memo = ViewMemo(size=16)
    for i in range(16):
        memo.put((i,), {"i": i})
    memo.put((16,), {"i": 16})
    assert len(memo) == 15
    assert memo.get((0,)) is None and memo.get((1,)) is None
    assert memo.get((2,)) == {"i": 2} and memo.get((16,)) == {"i": 16}


def test_an_unhashable_key_is_never_kept():
    memo = ViewMemo()
    memo.put(("p1", {"a": 1}), {"id": "p1"})
    assert len(memo) == 0
    assert memo.get(("p1", {"a": 1})) is None


def test_many_keys_are_looked_up_in_one_pass_unhashable_ones_found_nowhere():
    memo = ViewMemo(size=8)
    memo.put(("p1", 1, "t"), {"id": "p1"})
    memo.put(("p2", 3, "t"), {"id": "p2"})
    rows = [["p2", 3, "t"], ("p1", 1, "t"), ("p1", 2, "t")]  # rows: any sequence
    assert memo.get_many(rows) == [{"id": "p2"}, {"id": "p1"}, None]
    assert memo.get_many([("p1", 1, "t"), ("p3", [1], "t")]) == [{"id": "p1"}, None]
    assert memo.get_many([]) == []
