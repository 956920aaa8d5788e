"""`[oslo_messaging_rabbit]` in the config files reaches the connections RabbitMQ sees."""

from __future__ import annotations

import pytest
from support.rabbit import rabbitmqctl
from support.rpc_fakes import RecordingCore

from neutrino.conf import opts
from neutrino.conf.settings import rpc_settings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import StateReportClient
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.transport import get_transport

pytestmark = pytest.mark.rabbit


def _rows(vhost: str, what: str, *columns: str) -> list[list[str]]:
    out = rabbitmqctl(what, "vhost", *columns).stdout
    return [line.split("\t")[1:] for line in out.splitlines()
            if line.split("\t")[0] == vhost]


def test_heartbeat_and_prefetch_from_the_config_file_reach_the_broker(rabbit, tmp_path):
    conf_file = tmp_path / "neutron.conf"
    # Neither is oslo.messaging's default (60 s, no prefetch limit).
    conf_file.write_text(f"[DEFAULT]\ntransport_url = {rabbit.url}\n\n"
                         "[oslo_messaging_rabbit]\nheartbeat_timeout_threshold = 17\n"
                         "rabbit_qos_prefetch_count = 7\n")
    settings = rpc_settings(opts.load(["--config-file", str(conf_file)], "test"))
    assert ("heartbeat_timeout_threshold", 17) in settings.rabbit
    transport = get_transport(settings)
    servers = start_rpc_servers(transport, RecordingCore(), host="server-1")
    try:
        answer = StateReportClient(transport, "HostA", timeout=20).report_state(
            {"agent_type": constants.AGENT_TYPE_DHCP}, start_flag=True)
        assert answer == constants.AGENT_NEW
        connections = _rows(rabbit.name, "list_connections", "timeout")
        consumers = [row for row in _rows(rabbit.name, "list_channels", "prefetch_count",
                                          "consumer_count") if int(row[1]) > 0]
    finally:
        servers.stop()
        transport.cleanup()
    # The negotiated heartbeat is the smaller of the client's and the broker's (60 s).
    assert connections and all(row == ["17"] for row in connections), connections
    assert consumers and all(row[0] == "7" for row in consumers), consumers
