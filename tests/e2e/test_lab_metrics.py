"""`/metrics` of the lab's real server and of its agents (scraped over the management network,
as controlnode's Prometheus would): the figures move as networks are scheduled, a DHCP agent
dies, the HA monitor moves its network, and the agent comes back."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import pytest
import requests
from support.prometheus import Samples, parse, total, value

from neutrino.lab.api import Credentials, NetworkApi
from neutrino.lab.lab import Lab
from neutrino.lab.system import wait_for

pytestmark = [pytest.mark.root, pytest.mark.rabbit]

DHCP, LB = "DHCP agent", "Linux bridge agent"


def until(scrape: Callable[[], Samples], check: Callable[[Samples], bool],
          what: str) -> Samples:
    """Scrapes until `check` holds; returns the scrape that satisfied it."""
    seen: list[Samples] = []

    def ok() -> bool:
        seen.append(scrape())
        return check(seen[-1])
    wait_for(ok, 90, 0.5, what)
    return seen[-1]


def test_server_and_agent_metrics_follow_scheduling_death_and_failover(lab_factory):
    lab: Lab = lab_factory()
    # The server's default API workers (one per CPU): every scrape, whichever worker
    # answers, shows the counters of the whole server, the HA monitor's included.
    st = lab.up("rabbit", hosts=("HostA", "HostB"), agent_metrics_port=9110)
    url = f"http://127.0.0.1:{st.api_port}"
    api = NetworkApi(Credentials(f"{url}/v2.0/", "admin", "adminpassword", "admin"))

    def server() -> Samples:
        response = requests.get(f"{url}/metrics", timeout=30)
        assert response.status_code == 200, response.text
        return parse(response.text)

    def agent(host: str, kind: str = "dhcp") -> Callable[[], Samples]:
        return lambda: parse(lab.scrape_agent(host, kind))

    until(server, lambda s: value(s, "neutrino_agents", agent_type=DHCP, alive="true",
                                  admin_state_up="true") == 2
          and value(s, "neutrino_agents", agent_type=LB, alive="true",
                    admin_state_up="true") == 2, "four live agents in the server's metrics")
    for host in ("HostA", "HostB"):
        dhcp = until(agent(host), lambda s: total(s, "neutrino_agent_full_syncs_total",
                                                  agent="dhcp") >= 1,
                     f"{host}'s DHCP agent's first full sync")
        assert value(dhcp, "neutrino_dhcp_agent_dnsmasq_processes") == 0
        assert value(dhcp, "neutrino_agent_state_reports_total", agent_type=DHCP,
                     result="ok") >= 1
        bridge = agent(host, "linuxbridge")()
        assert value(bridge, "neutrino_linuxbridge_agent_devices") == 0
        assert value(bridge, "neutrino_agent_state_reports_total", agent_type=LB,
                     result="ok") >= 1

    # The operator's way in: `neutrino lab metrics HOST --agent ...`.
    printed = subprocess.run(["neutrino-lab", "metrics", "HostA", "--agent", "linuxbridge",
                              "--name", lab.names.lab, "--run-base", lab.names.run_base,
                              "--state-base", lab.names.state_base],
                             capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0, printed.stderr
    assert value(parse(printed.stdout), "neutrino_linuxbridge_agent_devices") == 0
    assert lab.status()["agent_metrics"]["HostB/dhcp"] == "http://172.30.0.12:9110/metrics"

    before = server()
    decided = total(before, "neutrino_dhcp_scheduling_decisions_total", trigger="network")
    failovers = total(before, "neutrino_dhcp_scheduling_decisions_total", trigger="failover")
    assert value(before, "neutrino_dhcp_networks") == 0

    net = api.call("POST", "networks", {"network": {"name": "metricsnet"}})["network"]
    api.call("POST", "subnets", {"subnet": {"network_id": net["id"], "cidr": "10.7.0.0/24",
                                            "ip_version": 4}})
    hosting = api.dhcp_agents_hosting(net["id"])
    assert len(hosting) == 1  # the lab's dhcp_agents_per_network = 1
    first = hosting[0]["host"]
    other = "HostB" if first == "HostA" else "HostA"
    scheduled = until(server, lambda s: value(s, "neutrino_dhcp_agent_networks",
                                              host=first) == 1, f"{first} to hold the network")
    assert total(scheduled, "neutrino_dhcp_scheduling_decisions_total",
                 trigger="network") == decided + 1
    assert value(scheduled, "neutrino_dhcp_networks") == 1
    assert value(scheduled, "neutrino_dhcp_networks_below_wanted") == 0
    assert value(scheduled, "neutrino_dhcp_agent_networks", host=other) in (None, 0)
    serving = until(agent(first), lambda s: value(
        s, "neutrino_dhcp_agent_dnsmasq_processes") == 1, f"{first}'s dnsmasq")
    assert total(serving, "neutrino_agent_reconcile_passes_total", agent="dhcp",
                 result="ok") >= 1
    assert total(serving, "neutrino_agent_reconcile_duration_seconds_count",
                 agent="dhcp") >= 1
    assert value(agent(other)(), "neutrino_dhcp_agent_dnsmasq_processes") == 0

    lab.stop_dhcp(first)  # the agent and its dnsmasq
    with pytest.raises(OSError):
        lab.scrape_agent(first, "dhcp")
    dead = until(server, lambda s: value(s, "neutrino_agent_alive", agent_type=DHCP,
                                         host=first) == 0, f"{first}'s DHCP agent to be dead")
    assert value(dead, "neutrino_agent_alive", agent_type=DHCP, host=other) == 1
    assert value(dead, "neutrino_agent_alive", agent_type=LB, host=first) == 1
    assert value(dead, "neutrino_agents", agent_type=DHCP, alive="false",
                 admin_state_up="true") == 1
    age = value(dead, "neutrino_agent_heartbeat_age_seconds", agent_type=DHCP, host=first)
    assert age is not None and age > 0

    # The HA monitor moves the network to the live agent, which starts dnsmasq for it.
    moved = until(server, lambda s: value(s, "neutrino_dhcp_agent_networks",
                                          host=other) == 1, f"the network to move to {other}")
    assert total(moved, "neutrino_dhcp_scheduling_decisions_total",
                 trigger="failover") >= failovers + 1
    assert total(moved, "neutrino_dhcp_failover_networks_moved_total") >= 1
    until(server, lambda s: value(s, "neutrino_dhcp_networks_without_live_agent") == 0
          and value(s, "neutrino_dhcp_networks_below_wanted") == 0,
          "the network covered again")
    until(agent(other), lambda s: value(s, "neutrino_dhcp_agent_dnsmasq_processes") == 1,
          f"{other}'s dnsmasq")

    lab.start_dhcp(first)
    back = until(server, lambda s: value(s, "neutrino_agent_alive", agent_type=DHCP,
                                         host=first) == 1, f"{first}'s DHCP agent back")
    assert value(back, "neutrino_agents", agent_type=DHCP, alive="true",
                 admin_state_up="true") == 2
    # A new process: its counters start again, from its first full sync.
    restarted = until(agent(first), lambda s: total(s, "neutrino_agent_full_syncs_total",
                                                    agent="dhcp") >= 1,
                      f"{first}'s new DHCP agent's full sync")
    assert total(restarted, "neutrino_agent_last_full_sync_timestamp_seconds",
                 agent="dhcp") > 0
