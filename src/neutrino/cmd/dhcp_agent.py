"""neutrino-dhcp-agent: serves DHCP for the networks scheduled to this host, with dnsmasq.

    neutrino-dhcp-agent --config-file /etc/neutron/neutron.conf \
        --config-file /etc/neutron/dhcp_agent.ini

Stopping the agent (SIGTERM/SIGINT) leaves dnsmasq serving; the next start adopts it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys

import oslo_messaging

from neutrino.agent.dhcp.agent import DhcpAgent
from neutrino.cmd.common import (
    CHECK_OPT,
    check_agent,
    setup_logging,
    start_metrics,
    wait_for_signal,
    with_health_file,
)
from neutrino.conf import opts
from neutrino.conf.settings import (
    ConfigError,
    DhcpAgentSettings,
    dhcp_agent_settings,
    rpc_settings,
)
from neutrino.linux.host import HostNamespaces
from neutrino.rpc.agent.clients import DhcpPluginClient, StateReportClient, serve_dhcp_agent
from neutrino.rpc.transport import get_transport

PROG = "neutrino-dhcp-agent"
LOG = logging.getLogger(PROG)




def build_agent(settings: DhcpAgentSettings, transport: oslo_messaging.Transport
                ) -> DhcpAgent:
    """The agent for `settings.agent.host`, wired to the server over `transport`."""
    host = settings.agent.host
    namespaces = HostNamespaces(settings.agent.host_netns, settings.agent.netns_dir)
    return DhcpAgent(settings, namespaces, DhcpPluginClient(transport, host),
                     StateReportClient(transport, host,
                                       timeout=settings.agent.report_interval))




def main(argv: list[str] | None = None) -> int:
    conf = opts.load(sys.argv[1:] if argv is None else argv, prog=PROG,
                     cli_opts=[CHECK_OPT])
    try:
        settings = dhcp_agent_settings(conf)
        rpc = rpc_settings(conf)
    except ConfigError as exc:
        setup_logging(conf)
        LOG.error("Invalid configuration: %s", exc)
        return 1
    if conf.check:
        return check_agent(settings.agent, PROG)
    setup_logging(conf)
    settings = dataclasses.replace(settings, agent=with_health_file(settings.agent, PROG))
    # dnsmasq reads its files after dropping root: the directory must be traversable.
    os.makedirs(settings.confs_dir, mode=0o755, exist_ok=True)
    transport = get_transport(rpc)
    agent = build_agent(settings, transport)
    metrics = start_metrics(settings.agent, agent.metrics_collector())
    agent.start()
    listener = serve_dhcp_agent(transport, settings.agent.host, agent)
    LOG.info("DHCP agent on host %s started", settings.agent.host)
    try:
        wait_for_signal()
    finally:
        LOG.info("Stopping (dnsmasq keeps serving)")
        listener.stop()
        agent.stop()
        if metrics is not None:
            metrics.stop()
        transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
