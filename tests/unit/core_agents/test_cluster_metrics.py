"""The cluster gauges from what the scrape's queries read (pure), and on a real database
through the collector: figures per agent and per network coverage."""

from __future__ import annotations

from datetime import datetime, timedelta

from neutrino.core import metrics

NOW = datetime(2026, 1, 1, 12, 0, 0)
DHCP, L2 = "DHCP agent", "Linux bridge agent"


def samples(families) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in families for s in family.samples}


def test_agents_by_type_liveness_and_heartbeat_age():
    agents = [(DHCP, "HostA", True, NOW - timedelta(seconds=3)),
              (DHCP, "HostB", True, NOW - timedelta(seconds=80)),
              (DHCP, "HostC", False, NOW - timedelta(seconds=1)),
              (L2, "HostA", True, NOW - timedelta(seconds=2))]
    got = samples(metrics.cluster_families(agents, {}, {}, NOW, 75, 2))
    assert got[("neutrino_agents", (("admin_state_up", "true"), ("agent_type", DHCP),
                                    ("alive", "true")))] == 1
    assert got[("neutrino_agents", (("admin_state_up", "true"), ("agent_type", DHCP),
                                    ("alive", "false")))] == 1
    assert got[("neutrino_agents", (("admin_state_up", "false"), ("agent_type", DHCP),
                                    ("alive", "true")))] == 1
    assert got[("neutrino_agent_alive", (("agent_type", DHCP), ("host", "HostB")))] == 0
    assert got[("neutrino_agent_alive", (("agent_type", L2), ("host", "HostA")))] == 1
    assert got[("neutrino_agent_heartbeat_age_seconds",
                (("agent_type", DHCP), ("host", "HostB")))] == 80


def test_networks_below_the_wanted_number_of_live_agents():
    # live agents -> networks: 3 with none, 4 with one, 5 with two; two are wanted
    got = samples(metrics.cluster_families([], {"HostA": 9, "HostB": 5}, {0: 3, 1: 4, 2: 5},
                                           NOW, 75, 2))
    assert got[("neutrino_dhcp_networks", ())] == 12
    assert got[("neutrino_dhcp_networks_below_wanted", ())] == 7
    assert got[("neutrino_dhcp_networks_without_live_agent", ())] == 3
    assert got[("neutrino_dhcp_agents_per_network", ())] == 2
    assert got[("neutrino_dhcp_agent_networks", (("host", "HostA"),))] == 9


def test_counters_count_only_what_happened():
    from prometheus_client import REGISTRY

    from neutrino.lib.metrics import process_label
    labels = {"process": process_label(), "trigger": metrics.TRIGGER_FAILOVER}
    before = REGISTRY.get_sample_value("neutrino_dhcp_scheduling_decisions_total", labels) or 0
    metrics.count_failover(0)
    metrics.count_failover(3)
    assert REGISTRY.get_sample_value("neutrino_dhcp_scheduling_decisions_total",
                                     labels) == before + 3


def test_pool_gauges_follow_the_pool_as_connections_come_and_go(tmp_path):
    from prometheus_client import REGISTRY

    from neutrino.conf.settings import DatabaseSettings
    from neutrino.db.engine import Database
    from neutrino.lib.metrics import process_label

    process = process_label()

    def read() -> dict[str, float]:
        got = {state: REGISTRY.get_sample_value(
            "neutrino_db_pool_connections", {"process": process, "state": state}) or 0
            for state in ("checked_out", "idle", "overflow")}
        got["size"] = REGISTRY.get_sample_value("neutrino_db_pool_size",
                                                {"process": process}) or 0
        return got

    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'pool.sqlite'}"))
    try:
        with db.engine.connect():  # opened before the watch: counted when it starts
            before = read()
            metrics.PoolWatch(db)
            assert read() == {**before, "checked_out": before["checked_out"] + 1,
                              "size": before["size"] + 5}  # SQLAlchemy's QueuePool default
        held = [db.engine.connect() for _ in range(7)]  # 5 pooled, 2 beyond the pool size
        assert read() == {**before, "checked_out": before["checked_out"] + 7,
                          "overflow": before["overflow"] + 2, "size": before["size"] + 5}
        for conn in held:
            conn.close()
        assert read() == {**before, "idle": before["idle"] + 5, "size": before["size"] + 5}
    finally:
        db.dispose()
    assert read() == {**before, "size": before["size"] + 5}


def test_a_closed_pool_watch_leaves_the_gauges_as_before_it(tmp_path):
    from prometheus_client import REGISTRY
    from sqlalchemy import event

    from neutrino.conf.settings import DatabaseSettings
    from neutrino.db.engine import Database
    from neutrino.lib.metrics import process_label

    process = process_label()

    def read() -> dict[str, float]:
        got = {state: REGISTRY.get_sample_value(
            "neutrino_db_pool_connections", {"process": process, "state": state}) or 0
            for state in ("checked_out", "idle", "overflow")}
        got["size"] = REGISTRY.get_sample_value("neutrino_db_pool_size",
                                                {"process": process}) or 0
        return got

    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'pool.sqlite'}"))
    try:
        before = read()
        watch = metrics.PoolWatch(db)
        held = [db.engine.connect() for _ in range(6)]  # one beyond the pool's size
        held[0].close()
        assert read() != before
        watch.close()
        assert read() == before  # its pool is gone from the sums (a stopped server's)
        assert not event.contains(db.engine, "checkout", watch._checkout)
        for conn in held[1:]:
            conn.close()
        db.engine.connect().close()
        assert read() == before  # and the pool's events no longer move them
        watch.close()
        assert read() == before
    finally:
        db.dispose()
