"""Which networks a revision check fetches again."""

from neutrino.agent.dhcp.plan import stale_networks


def test_moved_new_and_gone_networks() -> None:
    server = {"same": 3, "moved": 5, "new": 1}
    known = {"same": 3, "moved": 4, "gone": 2}
    assert stale_networks(server, known, {"same", "moved", "served-only"}, set()) == (
        ["moved", "new"], ["gone", "served-only"])


def test_queued_networks_are_left_to_their_reconcile() -> None:
    assert stale_networks({"a": 2}, {"a": 1, "b": 1}, set(), {"a", "b"}) == ([], [])
