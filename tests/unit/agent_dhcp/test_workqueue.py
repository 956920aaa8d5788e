from __future__ import annotations

from neutrino.agent.dhcp.workqueue import FETCH, WorkQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_marks_coalesce_and_latest_wins() -> None:
    q = WorkQueue(Clock())
    q.mark("n1", {"id": "n1", "v": 1})
    q.mark("n1", {"id": "n1", "v": 2})
    q.mark("n2")
    first = q.take(timeout=0)
    second = q.take(timeout=0)
    assert {first.network_id, second.network_id} == {"n1", "n2"}
    work = first if first.network_id == "n1" else second
    assert work.info == {"id": "n1", "v": 2}
    assert q.take(timeout=0) is None


def test_one_worker_per_network_and_mark_while_busy_runs_after() -> None:
    q = WorkQueue(Clock())
    q.mark("n1")
    assert q.take(timeout=0).network_id == "n1"
    q.mark("n1", None)
    assert q.take(timeout=0) is None  # n1 is busy
    q.done("n1")
    again = q.take(timeout=0)
    assert again.network_id == "n1" and again.info is None


def test_failure_backs_off_without_blocking_others() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    q.mark("bad")
    q.mark("good")
    works = [q.take(timeout=0), q.take(timeout=0)]
    bad = next(w for w in works if w.network_id == "bad")
    q.failed(bad.network_id, FETCH, delay=10)
    q.done("good")
    q.mark("good")
    assert q.take(timeout=0).network_id == "good"
    q.mark("bad")  # an event does not cut the backoff short
    assert q.take(timeout=0) is None
    clock.now += 10
    retry = q.take(timeout=0)
    assert retry.network_id == "bad" and retry.attempts == 1 and retry.info is FETCH
    q.done("bad")
    q.mark("bad")
    assert q.take(timeout=0).attempts == 0


def test_full_sync_info_older_than_an_event_is_replaced_by_a_fetch() -> None:
    q = WorkQueue(Clock())
    before = q.epoch()
    q.mark("n1", {"id": "n1", "fresh": True})
    q.take(timeout=0)
    q.done("n1")
    q.offer("n1", {"id": "n1", "stale": True}, before)
    assert q.take(timeout=0).info is FETCH
    q.done("n1")
    q.offer("n1", {"id": "n1", "current": True}, q.epoch())
    assert q.take(timeout=0).info == {"id": "n1", "current": True}


def test_close_wakes_takers() -> None:
    q = WorkQueue()
    q.close()
    assert q.take() is None


def test_mark_with_builds_on_the_newest_info() -> None:
    q = WorkQueue(Clock())
    q.mark_with("n1", lambda i: {**i, "x": 1})
    assert q.take(timeout=0).info is FETCH  # nothing known yet: ask the server
    q.known("n1", {"id": "n1", "v": 1})
    q.done("n1")
    q.mark_with("n1", lambda i: {**i, "a": 1})
    q.mark_with("n1", lambda i: {**i, "b": 2})  # builds on the pending one
    work = q.take(timeout=0)
    assert work.info == {"id": "n1", "v": 1, "a": 1, "b": 2}
    # While that is being applied, the next event builds on it.
    q.mark_with("n1", lambda i: {**i, "c": 3})
    q.known("n1", work.info)
    q.done("n1")
    assert q.take(timeout=0).info == {"id": "n1", "v": 1, "a": 1, "b": 2, "c": 3}
    q.failed("n1", FETCH, delay=0)
    q.take(timeout=0)
    q.done("n1")
    q.mark_with("n1", lambda i: {**i, "d": 4})  # after a failure nothing is trusted
    assert q.take(timeout=0).info is FETCH
    q.done("n1")
    q.mark_with("n1", lambda i: None)
    assert q.take(timeout=0).info is FETCH


def test_many_networks_come_out_in_due_order_busy_ones_skipped() -> None:
    clock = Clock()
    q = WorkQueue(clock)
    for i in range(2000):
        q.offer(f"n{i}", {"id": f"n{i}"}, 0)
    first = q.take(timeout=0)
    q.failed(first.network_id, FETCH, delay=5)
    q.mark("n1")  # busy? no: n1 is still pending and keeps its place
    taken = []
    while (w := q.take(timeout=0)) is not None:
        taken.append(w.network_id)
    assert len(taken) == 1999 and first.network_id not in taken
    assert taken[:3] == ["n1", "n2", "n3"]
    for n in taken:
        q.done(n)
    clock.now += 5
    assert q.take(timeout=0).network_id == first.network_id
    assert q.idle() is False
    q.done(first.network_id)
    assert q.idle()


def test_network_gone_keeps_its_last_event_for_syncs_in_flight() -> None:
    q = WorkQueue(Clock())
    before = q.epoch()  # a full sync reads the network as hosted...
    q.mark("n1", None)  # ...while it is removed from this agent
    q.take(timeout=0)
    q.known("n1", None)
    q.done("n1")
    assert q._latest == {}
    q.offer("n1", {"id": "n1", "stale": True}, before)
    assert q.take(timeout=0).info is FETCH


def test_sync_info_for_a_network_never_seen_before_the_rpc() -> None:
    q = WorkQueue(Clock())
    epoch = q.epoch()
    q.mark("new", None)  # removed from this agent while the sync RPC ran
    q.take(timeout=0)
    q.known("new", None)
    q.done("new")
    q.offer("new", {"id": "new"}, epoch)
    assert q.take(timeout=0).info is FETCH
    q.done("new")
    q.offer("other", {"id": "other"}, epoch)
    assert q.take(timeout=0).info == {"id": "other"}
