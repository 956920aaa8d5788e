"""The server's RPC listeners: state reports and the agents' plugin API.

Every server replica runs the same listeners; on RabbitMQ the topic queues are shared, so
each request reaches exactly one replica.
"""

from __future__ import annotations

import logging
import socket

import oslo_messaging

from neutrino.core.services import Services
from neutrino.lib import constants
from neutrino.rpc.server.endpoints import (
    DhcpPluginEndpoint,
    DhcpRevisionsEndpoint,
    L2PluginEndpoint,
    MetadataEndpoint,
    ReportStateEndpoint,
    SecurityGroupEndpoint,
)

LOG = logging.getLogger(__name__)


class RpcServers:
    """The running listeners; `stop()` waits for the requests in flight."""

    def __init__(self, servers: list[oslo_messaging.MessageHandlingServer]) -> None:
        self._servers = servers

    def stop(self) -> None:
        for server in self._servers:
            server.stop()
        for server in self._servers:
            server.wait()
        self._servers = []


def _server(transport: oslo_messaging.Transport, topic: str, host: str,
            endpoints: list[object]) -> oslo_messaging.MessageHandlingServer:
    target = oslo_messaging.Target(topic=topic, server=host)
    return oslo_messaging.get_rpc_server(
        transport, target, endpoints,
        access_policy=oslo_messaging.DefaultRPCAccessPolicy)


def start_rpc_servers(transport: oslo_messaging.Transport, services: Services,
                      host: str | None = None) -> RpcServers:
    """Listen on `q-reports-plugin` and `q-plugin`, handing each request to core's
    services.

    `host` names this replica's own queues (default: the machine's name); it never decides
    which replica gets a request.
    """
    host = host or socket.gethostname()
    servers = [
        _server(transport, constants.TOPIC_REPORTS, host,
                [ReportStateEndpoint(services.agents)]),
        _server(transport, constants.TOPIC_PLUGIN, host,
                [DhcpPluginEndpoint(services.dhcp_plugin),
                 DhcpRevisionsEndpoint(services.dhcp_plugin),
                 L2PluginEndpoint(services.l2_plugin),
                 MetadataEndpoint(services.dhcp_plugin),
                 SecurityGroupEndpoint(services.security_group_rpc)]),
    ]
    started: list[oslo_messaging.MessageHandlingServer] = []
    try:
        for server in servers:
            server.start()
            started.append(server)
    except BaseException:
        RpcServers(started).stop()
        raise
    LOG.info("RPC servers listening on %s and %s", constants.TOPIC_REPORTS,
             constants.TOPIC_PLUGIN)
    return RpcServers(started)
