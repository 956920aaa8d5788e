"""A broker outage: the agent's heartbeats fail, and once they get through again the agent
is told to resync (casts sent meanwhile were lost)."""

from __future__ import annotations

import threading

import pytest
from support import netns as tn
from support.rabbit import rabbitmqctl
from support.rpc_fakes import RecordingCore

from neutrino.agent.report import StateReporter
from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import StateReportClient
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.transport import get_transport

pytestmark = pytest.mark.rabbit


class RegistryCore(RecordingCore):
    """Answers "new" to an agent's first report, "alive" afterwards."""

    def report_state(self, agent_state: dict, time: str | None = None) -> str:
        known = any(name == "report_state" for name, _ in self.calls)
        super().report_state(agent_state, time)
        return constants.AGENT_ALIVE if known else constants.AGENT_NEW


def test_reports_fail_during_an_outage_and_a_resync_follows(rabbit, caplog) -> None:
    settings = RpcSettings(rabbit.url, response_timeout=5)
    server_transport, agent_transport = get_transport(settings), get_transport(settings)
    core = RegistryCore()
    servers = start_rpc_servers(server_transport, core, host="server-1")
    resynced = threading.Event()
    reporter = StateReporter(StateReportClient(agent_transport, "HostA", timeout=2),
                             {"agent_type": "DHCP agent"}, dict, 0.5,
                             on_resync=resynced.set)
    try:
        reporter.start()
        tn.wait_for(lambda: len(core.calls) >= 2, timeout=30)
        assert not resynced.is_set()

        # The outage: the vhost goes, with every connection into it.
        rabbitmqctl("delete_vhost", rabbit.name)
        tn.wait_for(lambda: "Failed reporting state" in caplog.text, timeout=60)
        assert not resynced.is_set()
        rabbit.create()  # the broker is back (empty: the servers declare their queues again)

        assert resynced.wait(120), "no resync after the broker came back"
    finally:
        reporter.stop()
        servers.stop()
        server_transport.cleanup()
        agent_transport.cleanup()
