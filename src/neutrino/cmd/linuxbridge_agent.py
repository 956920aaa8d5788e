"""neutrino-linuxbridge-agent: plugs this host's taps into per-network bridges.

    neutrino-linuxbridge-agent --config-file /etc/neutron/neutron.conf \
        --config-file /etc/neutron/plugins/linuxbridge/linuxbridge_conf.ini
"""

from __future__ import annotations

import dataclasses
import logging
import sys

import oslo_messaging

from neutrino.agent.linuxbridge.agent import LinuxBridgeAgent
from neutrino.agent.linuxbridge.firewall import IptablesFirewall
from neutrino.agent.linuxbridge.links import LinuxHostLinks
from neutrino.agent.linuxbridge.security_groups import SecurityGroupSync
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
    LinuxBridgeSettings,
    linuxbridge_settings,
    rpc_settings,
)
from neutrino.linux.host import HostNamespaces
from neutrino.rpc.agent.clients import (
    L2PluginClient,
    Listeners,
    SecurityGroupPluginClient,
    StateReportClient,
    serve_linuxbridge_agent,
)
from neutrino.rpc.transport import get_transport

PROG = "neutrino-linuxbridge-agent"
LOG = logging.getLogger(PROG)




def build_agent(settings: LinuxBridgeSettings,
                transport: oslo_messaging.Transport) -> LinuxBridgeAgent:
    """The agent for `settings.agent.host`, wired to the server over `transport`."""
    host = settings.agent.host
    namespaces = HostNamespaces(settings.agent.host_netns, settings.agent.netns_dir)
    security_groups = None
    if settings.firewall_driver == "iptables":
        security_groups = SecurityGroupSync(IptablesFirewall(namespaces),
                                            SecurityGroupPluginClient(transport, host))
    return LinuxBridgeAgent(
        settings, LinuxHostLinks(namespaces), L2PluginClient(transport, host),
        StateReportClient(transport, host, timeout=settings.agent.report_interval),
        security_groups=security_groups)


def start_agent(settings: LinuxBridgeSettings,
                transport: oslo_messaging.Transport) -> tuple[LinuxBridgeAgent, Listeners]:
    """The agent, running, and its cast listeners (stop those first; none with the noop
    firewall, which has nothing to hear)."""
    agent = build_agent(settings, transport)
    agent.start()
    if settings.firewall_driver == "noop":
        return agent, Listeners()
    try:
        listeners = serve_linuxbridge_agent(transport, settings.agent.host, agent)
    except BaseException:
        agent.stop()
        raise
    return agent, listeners




def main(argv: list[str] | None = None) -> int:
    conf = opts.load(sys.argv[1:] if argv is None else argv, prog=PROG,
                     cli_opts=[CHECK_OPT])
    try:
        settings = linuxbridge_settings(conf)
        rpc = rpc_settings(conf)
    except ConfigError as exc:
        setup_logging(conf)
        LOG.error("Invalid configuration: %s", exc)
        return 1
    if conf.check:
        return check_agent(settings.agent, PROG)
    setup_logging(conf)
    settings = dataclasses.replace(settings, agent=with_health_file(settings.agent, PROG))
    transport = get_transport(rpc)
    agent, listeners = start_agent(settings, transport)
    metrics = start_metrics(settings.agent, agent.metrics_collector())
    try:
        wait_for_signal()
    finally:
        LOG.info("Stopping")
        listeners.stop()
        agent.stop()
        if metrics is not None:
            metrics.stop()
        transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
