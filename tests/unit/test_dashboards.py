"""The Grafana dashboard and the alerting rules use only metrics Neutrino exposes (a renamed
metric would otherwise leave an empty panel or an alert that never fires)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

from prometheus_client import REGISTRY

import neutrino.agent.metrics
import neutrino.api.metrics
import neutrino.rpc.server.notifier  # noqa: F401 - registers the casts counter
from neutrino.agent.dhcp import agent as dhcp_agent
from neutrino.agent.linuxbridge import agent as lb_agent
from neutrino.core import metrics as core_metrics

ETC = Path(__file__).resolve().parents[2] / "etc"
NAME = re.compile(r"\bneutrino_[a-z_]+")


def exposed() -> set[str]:
    names = {s.name for family in REGISTRY.collect() for s in family.samples}
    names |= {m.name for m in REGISTRY.collect()}
    now = datetime(2026, 1, 1)
    names |= {f.name for f in core_metrics.cluster_families(
        [("DHCP agent", "h", True, now)], {"h": 1}, {1: 1}, now, 75, 1)}
    names |= {"neutrino_cluster_database_up", "neutrino_db_pool_connections",
              "neutrino_db_pool_size"}
    for module in (dhcp_agent, lb_agent):
        source = Path(module.__file__).read_text()
        names |= set(re.findall(r'"(neutrino_[a-z_]+)"', source))
    # Histograms and counters are queried by their sample names.
    for name in list(names):
        names |= {f"{name}_total", f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return names


def used(path: Path) -> set[str]:
    return set(NAME.findall(path.read_text()))


def test_alert_rules_use_exposed_metrics():
    rules = ETC / "prometheus" / "neutrino-alerts.yml"
    assert used(rules) - exposed() == set()
    text = rules.read_text()
    for alert in ("NeutrinoDhcpAgentDead", "NeutrinoNetworksBelowWantedDhcpAgents",
                  "NeutrinoCastsFailing"):
        assert f"alert: {alert}" in text


def test_dashboard_uses_exposed_metrics():
    path = ETC / "grafana" / "neutrino-dashboard.json"
    dashboard = json.loads(path.read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    found = {n for e in exprs for n in NAME.findall(e)}
    assert found and found - exposed() == set()
