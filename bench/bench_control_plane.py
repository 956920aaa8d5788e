"""Control-plane figures, measured through the real Core on a real database.

Prints each figure beside its target. Targets come from the project's plans: 1,000 agents per
server, 200 port changes/s per agent, an agent with 1,000 networks resynced in seconds, and an
HA monitor cheap enough to tick every second.

    python bench/bench_control_plane.py [--db URL] [--agents 1000] [--networks 1000]
        [--ports 500] [--fill 20000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event

from neutrino.conf.settings import CoreSettings, DatabaseSettings, QuotaSettings, VlanRange
from neutrino.core.context import Context
from neutrino.core.interfaces import NullNotifier
from neutrino.core.services import build_services
from neutrino.db.engine import Database
from neutrino.lib import constants as const

ADMIN = Context.admin()


def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def report(name: str, value: float, unit: str, target: str, ok: bool) -> None:
    print(f"{name:<48} {value:>10.1f} {unit:<10} target {target:<14} {'ok' if ok else 'MISS'}")


def count_statements(db: Database, fn: Callable[[], object]) -> int:
    statements = []

    def note(*_args: object) -> None:
        statements.append(1)
    event.listen(db.engine, "before_cursor_execute", note)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    return len(statements)


def dhcp_state(host: str, networks: int = 0) -> dict:
    return {"agent_state": {
        "binary": const.BINARY_DHCP, "host": host, "topic": const.TOPIC_DHCP_AGENT,
        "agent_type": const.AGENT_TYPE_DHCP, "availability_zone": "nova",
        "configurations": {"networks": networks, "subnets": networks, "ports": 0},
        "start_flag": False}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="SQLAlchemy URL of an empty database (default: SQLite)")
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=500)
    parser.add_argument("--fill", type=int, default=20000,
                        help="addresses to take on a big subnet before timing creates there")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        db = Database(DatabaseSettings(url))
        db.upgrade()
        # Unlimited quotas: the runs below fill one project far beyond Neutron's defaults.
        settings = CoreSettings(
            host="bench", agent_down_time=75, quotas=QuotaSettings(-1, -1, -1),
            vlan_ranges=(VlanRange("physnet1", 1, 4094),), network_scheduler="weight")
        core = build_services(db, settings, NullNotifier())
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")

        # Heartbeats: every agent reports once per report_interval (30 s by default).
        for i in range(args.agents):
            core.agents.report_state(dhcp_state(f"host-{i}"))
        per_report = timed(
            lambda: [core.agents.report_state(dhcp_state(f"host-{i}")) for i in range(args.agents)])
        rate = args.agents / per_report
        report(f"heartbeats/s ({args.agents} agents registered)", rate, "reports/s",
               ">= 333/s", rate >= 333)
        report("  agents one server can carry at report_interval 30 s", rate * 30, "agents",
               ">= 1000", rate * 30 >= 1000)

        # HA monitor tick when nothing is dead: must stay cheap at any scale.
        tick = statistics.median(timed(core.dhcp_scheduling.reschedule_networks_from_down_agents)
                                 for _ in range(20))
        report("HA monitor idle tick", tick * 1000, "ms", "< 20 ms", tick < 0.02)

        # Ports on one subnet: the server side of "200 port changes/s per agent".
        net = core.networks.create(ADMIN, {"name": "bench", "admin_state_up": True,
                                          "tenant_id": "bench"})
        core.subnets.create(ADMIN, {"network_id": net["id"], "cidr": "10.0.0.0/16",
                                   "ip_version": 4, "name": "bench", "enable_dhcp": True,
                                   "tenant_id": "bench"})
        started = time.perf_counter()
        made = []
        for i in range(args.ports):
            made.append(core.ports.create(ADMIN, {"network_id": net["id"], "name": f"p{i}",
                                                 "admin_state_up": True, "tenant_id": "bench",
                                                 "binding:host_id": "host-0"}))
        rate = args.ports / (time.perf_counter() - started)
        report("port creates/s (one client, one subnet)", rate, "ports/s", ">= 200/s",
               rate >= 200)
        statements = count_statements(db, lambda: core.ports.create(
            ADMIN, {"network_id": net["id"], "tenant_id": "bench", "binding:host_id": "host-0"}))
        report("  SQL statements per port create (incl. fan-out)", statements, "stmts",
               "<= 12", statements <= 12)
        started = time.perf_counter()
        for i, port in enumerate(made):
            core.ports.update(ADMIN, port["id"], {"name": f"u{i}"})
        rate = len(made) / (time.perf_counter() - started)
        report("port updates/s (name)", rate, "ports/s", ">= 200/s", rate >= 200)
        listing = statistics.median(timed(lambda: core.ports.list(ADMIN, {}))
                                    for _ in range(3))
        report(f"list_ports of {len(made) + 1} ports", listing * 1000, "ms",
               "< 1000 ms", listing < 1)
        started = time.perf_counter()
        for port in made[: len(made) // 2]:
            core.ports.delete(ADMIN, port["id"])
        rate = (len(made) // 2) / (time.perf_counter() - started)
        report("port deletes/s", rate, "ports/s", ">= 200/s", rate >= 200)

        # A big subnet with many addresses taken: an allocation must not read them all.
        if args.fill:
            big = core.networks.create(ADMIN, {"name": "big", "tenant_id": "bench"})
            core.subnets.create(ADMIN, {"network_id": big["id"], "cidr": "10.64.0.0/14",
                                       "ip_version": 4, "enable_dhcp": False,
                                       "tenant_id": "bench"})
            body = {"network_id": big["id"], "tenant_id": "bench"}
            started = time.perf_counter()
            filled = []
            for start in range(0, args.fill, 500):
                filled += core.ports.create_bulk(ADMIN, [body] * min(500, args.fill - start))
            rate = args.fill / (time.perf_counter() - started)
            report(f"bulk port creates/s (500 a request, to {args.fill})", rate, "ports/s",
                   ">= 200/s", rate >= 200)
            started = time.perf_counter()
            for _ in range(100):
                core.ports.create(ADMIN, body)
            rate = 100 / (time.perf_counter() - started)
            report(f"port creates/s, {args.fill} addresses taken", rate, "ports/s",
                   ">= 200/s", rate >= 200)
            for port in filled[10:: max(1, args.fill // 50)]:
                core.ports.delete(ADMIN, port["id"])  # holes to fill, lowest first
            started = time.perf_counter()
            for _ in range(100):
                core.ports.create(ADMIN, body)
            rate = 100 / (time.perf_counter() - started)
            report("  the same with holes to fill", rate, "ports/s", ">= 200/s", rate >= 200)

        # One agent hosting many networks: what its full sync asks of the server.
        agent_host = "big-host"
        core.agents.report_state(dhcp_state(agent_host))
        agent = core.agents.list(ADMIN, {"host": [agent_host]})[0]
        for i in range(args.networks):
            n = core.networks.create(ADMIN, {"name": f"n{i}", "admin_state_up": True,
                                             "tenant_id": "bench"})
            core.subnets.create(ADMIN, {"network_id": n["id"], "cidr": f"10.{i // 250 + 100}."
                                       f"{i % 250}.0/24", "ip_version": 4,
                                       "enable_dhcp": True, "tenant_id": "bench"})
            try:
                core.dhcp_scheduling.add_network(ADMIN, agent["id"], n["id"])
            except Exception:  # noqa: BLE001 - already scheduled there by the scheduler
                pass
        sync = timed(lambda: core.dhcp_plugin.get_active_networks_info(agent_host))
        report(f"full sync of an agent hosting {args.networks} networks", sync, "s",
               "< 2 s", sync < 2)
        db.dispose()


if __name__ == "__main__":
    main()
