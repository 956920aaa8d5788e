"""neutrino-linuxbridge-agent: plugs this host's taps into per-network bridges.

    neutrino-linuxbridge-agent --config-file /etc/neutron/neutron.conf \
        --config-file /etc/neutron/plugins/linuxbridge/linuxbridge_conf.ini
"""

from __future__ import annotations

import logging
import signal
import sys
import threading

import oslo_messaging
from oslo_config import cfg

from neutrino.agent.linuxbridge.agent import LinuxBridgeAgent
from neutrino.agent.linuxbridge.links import LinuxHostLinks
from neutrino.conf import opts
from neutrino.conf.settings import (
    ConfigError,
    LinuxBridgeSettings,
    linuxbridge_settings,
    rpc_settings,
)
from neutrino.linux.host import HostNamespaces
from neutrino.rpc.agent_api import L2PluginClient, StateReportClient
from neutrino.rpc.transport import get_transport

PROG = "neutrino-linuxbridge-agent"
LOG = logging.getLogger(PROG)


def setup_logging(conf: cfg.ConfigOpts) -> None:
    handler: logging.Handler = (logging.FileHandler(conf.log_file) if conf.log_file
                                else logging.StreamHandler())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if conf.debug else logging.INFO)
    if not conf.debug:
        # oslo.messaging's connection chatter drowns the agent's own messages.
        logging.getLogger("oslo.messaging").setLevel(logging.WARNING)
        logging.getLogger("oslo_messaging").setLevel(logging.WARNING)


def build_agent(settings: LinuxBridgeSettings,
                transport: oslo_messaging.Transport) -> LinuxBridgeAgent:
    """The agent for `settings.agent.host`, wired to the server over `transport`."""
    host = settings.agent.host
    namespaces = HostNamespaces(settings.agent.host_netns, settings.agent.netns_dir)
    return LinuxBridgeAgent(
        settings, LinuxHostLinks(namespaces), L2PluginClient(transport, host),
        StateReportClient(transport, host, timeout=settings.agent.report_interval))


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def main(argv: list[str] | None = None) -> int:
    conf = opts.load(sys.argv[1:] if argv is None else argv, prog=PROG)
    setup_logging(conf)
    try:
        settings = linuxbridge_settings(conf)
        rpc = rpc_settings(conf)
    except ConfigError as exc:
        LOG.error("Invalid configuration: %s", exc)
        return 1
    transport = get_transport(rpc)
    agent = build_agent(settings, transport)
    agent.start()
    try:
        wait_for_signal()
    finally:
        LOG.info("Stopping")
        agent.stop()
        transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
