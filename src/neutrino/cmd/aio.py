"""neutrino-aio: the server and several hosts' agents in one process, without a broker.

    neutrino-aio --config-file server.conf --host HostA=/run/netns/hosta \
        --host HostB=/run/netns/hostb

Runs what `neutrino-server` runs (API, RPC endpoints, HA monitor) and, for each `--host
NAME=NETNS_PATH`, a DHCP agent and a Linux bridge agent with `host = NAME`, acting in that
network namespace and keeping their named namespaces in `<state_path>/<NAME>/netns`. All of
them talk over oslo.messaging's in-process transport: the same code as the separate
programs, only the transport differs.

A control socket, `<state_path>/aio.sock`, takes one JSON request per line and answers with
one JSON line, so a lab can stop and start one host's agent:

    {"op": "stop" | "start", "host": "HostA", "agent": "dhcp" | "linuxbridge"}
    {"op": "status"}                       -> {"ok": true, "hosts": {"HostA": {...}}}

Stopping a DHCP agent leaves its dnsmasq serving, as stopping the real process does.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Callable
from typing import Any, Protocol

import oslo_messaging
from oslo_config import cfg

from neutrino.cmd import dhcp_agent as dhcp_cmd
from neutrino.cmd import linuxbridge_agent as lb_cmd
from neutrino.cmd import server as server_cmd
from neutrino.cmd.common import setup_logging, wait_for_signal
from neutrino.conf import opts
from neutrino.conf.settings import (
    ConfigError,
    DhcpAgentSettings,
    LinuxBridgeSettings,
    RpcSettings,
    dhcp_agent_settings,
    linuxbridge_settings,
)
from neutrino.rpc.agent.clients import serve_dhcp_agent
from neutrino.rpc.transport import IN_PROCESS_URL, get_transport

PROG = "neutrino-aio"
LOG = logging.getLogger(PROG)
AGENTS = ("dhcp", "linuxbridge")
SOCKET_NAME = "aio.sock"


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclasses.dataclass(frozen=True)
class HostSpec:
    name: str
    netns: str


def parse_host(value: str) -> HostSpec:
    name, sep, path = value.partition("=")
    if not sep or not name or not path or "/" in name or name in (".", ".."):
        raise argparse.ArgumentTypeError(f"--host {value!r} is not NAME=NETNS_PATH")
    return HostSpec(name, path)


def host_agent_settings(base_dhcp: DhcpAgentSettings, base_lb: LinuxBridgeSettings,
                        host: HostSpec, state_path: str
                        ) -> tuple[DhcpAgentSettings, LinuxBridgeSettings]:
    """One host's agents' settings: its name, its namespace, its own state directory."""
    host_state = os.path.join(state_path, host.name)
    agent = dataclasses.replace(base_dhcp.agent, host=host.name, host_netns=host.netns,
                                netns_dir=os.path.join(host_state, "netns"),
                                state_path=host_state)
    dhcp = dataclasses.replace(base_dhcp, agent=agent,
                               confs_dir=os.path.join(host_state, "dhcp"))
    lb = dataclasses.replace(base_lb, agent=agent)
    return dhcp, lb


class _RunningDhcp:
    """A DHCP agent as its program runs it: the agent, then its cast listener."""

    def __init__(self, settings: DhcpAgentSettings,
                 transport: oslo_messaging.Transport) -> None:
        os.makedirs(settings.confs_dir, mode=0o755, exist_ok=True)
        os.makedirs(settings.agent.netns_dir, exist_ok=True)
        self._agent = dhcp_cmd.build_agent(settings, transport)
        self._agent.start()
        try:
            self._listener = serve_dhcp_agent(transport, settings.agent.host, self._agent)
        except BaseException:
            self._agent.stop()
            raise

    def stop(self) -> None:
        self._listener.stop()
        self._agent.stop()


class _RunningLinuxBridge:
    def __init__(self, settings: LinuxBridgeSettings,
                 transport: oslo_messaging.Transport) -> None:
        self._agent, self._listeners = lb_cmd.start_agent(settings, transport)

    def stop(self) -> None:
        self._listeners.stop()
        self._agent.stop()


Factory = Callable[[], Stoppable]


class Agents:
    """The agents of every host; each can be stopped and started on its own."""

    def __init__(self, factories: dict[tuple[str, str], Factory]) -> None:
        self._factories = factories
        self._running: dict[tuple[str, str], Stoppable] = {}
        self._lock = threading.Lock()

    def hosts(self) -> list[str]:
        return sorted({host for host, _ in self._factories})

    def start(self, host: str, agent: str) -> bool:
        """Start one agent; False when it was already running."""
        key = self._key(host, agent)
        with self._lock:
            if key in self._running:
                return False
            self._running[key] = self._factories[key]()
            LOG.info("Started the %s agent of %s", agent, host)
            return True

    def stop(self, host: str, agent: str) -> bool:
        """Stop one agent; False when it was not running."""
        key = self._key(host, agent)
        with self._lock:
            running = self._running.pop(key, None)
            if running is None:
                return False
            running.stop()
            LOG.info("Stopped the %s agent of %s", agent, host)
            return True

    def start_all(self) -> None:
        for host, agent in sorted(self._factories):
            self.start(host, agent)

    def stop_all(self) -> None:
        for host, agent in sorted(self._running):
            try:
                self.stop(host, agent)
            except Exception:  # noqa: BLE001 - stop the others regardless
                LOG.exception("Stopping the %s agent of %s failed", agent, host)

    def status(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return {host: {agent: "running" if (host, agent) in self._running else "stopped"
                           for agent in AGENTS}
                    for host in self.hosts()}

    def _key(self, host: str, agent: str) -> tuple[str, str]:
        key = (host, agent)
        if key not in self._factories:
            raise KeyError(f"no {agent!r} agent on host {host!r}")
        return key


def handle_request(line: str, agents: Agents) -> dict[str, Any]:
    """One control request (a JSON line) -> its answer."""
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            raise ValueError("a request is a JSON object")
        op = request.get("op")
        if op == "status":
            return {"ok": True, "hosts": agents.status()}
        if op not in ("start", "stop"):
            raise ValueError(f"op must be start, stop or status, not {op!r}")
        host, agent = request.get("host"), request.get("agent")
        if agent not in AGENTS:
            raise ValueError(f"agent must be one of {list(AGENTS)}, not {agent!r}")
        if not isinstance(host, str):
            raise ValueError("host must be a string")
        changed = agents.start(host, agent) if op == "start" else agents.stop(host, agent)
        return {"ok": True, "changed": changed, "hosts": agents.status()}
    except (ValueError, KeyError) as exc:
        return {"ok": False, "error": str(exc.args[0]) if exc.args else str(exc)}
    except Exception as exc:  # noqa: BLE001 - the control socket must keep answering
        LOG.exception("Control request %r failed", line)
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


class ControlSocket:
    """A Unix socket answering `handle_request`, one connection at a time per thread."""

    def __init__(self, path: str, agents: Agents) -> None:
        self.path = path
        self._agents = agents
        if os.path.exists(path):
            os.unlink(path)  # a stale socket of a previous run
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(path)
        os.chmod(path, 0o600)
        self._sock.listen(8)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="aio-control",
                                        daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        # Separate reader and writer: a write on a read-write text stream drops what it
        # had read ahead (the next requests of a pipelining client).
        with conn, conn.makefile("r", encoding="utf-8") as reader, \
                conn.makefile("w", encoding="utf-8") as writer:
            for line in reader:
                if not line.strip():
                    continue
                writer.write(json.dumps(handle_request(line, self._agents)) + "\n")
                writer.flush()

    def close(self) -> None:
        self._closed.set()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="The Neutrino server and several hosts' agents in one "
                               "process, on the in-process transport.")
    parser.add_argument("--config-file", action="append", default=[], metavar="PATH")
    parser.add_argument("--config-dir", action="append", default=[], metavar="DIR")
    parser.add_argument("--host", action="append", default=[], type=parse_host,
                        metavar="NAME=NETNS_PATH",
                        help="a host whose DHCP and Linux bridge agents run here "
                             "(repeatable)")
    return parser


def build_agents(conf: cfg.ConfigOpts, hosts: list[HostSpec],
                 transport: oslo_messaging.Transport) -> Agents:
    base_dhcp, base_lb = dhcp_agent_settings(conf), linuxbridge_settings(conf)
    factories: dict[tuple[str, str], Factory] = {}
    for host in hosts:
        dhcp, lb = host_agent_settings(base_dhcp, base_lb, host, conf.state_path)
        factories[(host.name, "dhcp")] = \
            lambda s=dhcp: _RunningDhcp(s, transport)  # type: ignore[misc]
        factories[(host.name, "linuxbridge")] = \
            lambda s=lb: _RunningLinuxBridge(s, transport)  # type: ignore[misc]
    return Agents(factories)


def in_process_transport(conf: cfg.ConfigOpts) -> oslo_messaging.Transport:
    return get_transport(RpcSettings(IN_PROCESS_URL, conf.control_exchange,
                                     conf.rpc_response_timeout))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    names = [h.name for h in args.host]
    if len(set(names)) != len(names):
        print(f"{PROG}: a --host name is given twice", file=sys.stderr)
        return 2
    conf_argv: list[str] = []
    for path in args.config_file:
        conf_argv += ["--config-file", path]
    for path in args.config_dir:
        conf_argv += ["--config-dir", path]
    try:
        conf = opts.load(conf_argv, prog=PROG)
    except cfg.Error as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    setup_logging(conf)
    os.makedirs(conf.state_path, exist_ok=True)
    transport = in_process_transport(conf)
    try:
        agents = build_agents(conf, args.host, transport)
        server = server_cmd.start_server(conf, transport)
    except (ConfigError, cfg.Error, ValueError) as exc:
        transport.cleanup()
        LOG.error("Invalid configuration: %s", exc)
        return 1
    except Exception as exc:  # database unreachable, port taken...
        transport.cleanup()
        LOG.error("Cannot start: %s: %s", type(exc).__name__, exc)
        return 1
    control: ControlSocket | None = None
    try:
        agents.start_all()
        control = ControlSocket(os.path.join(conf.state_path, SOCKET_NAME), agents)
        LOG.info("All-in-one running: hosts %s, control socket %s", names, control.path)
        wait_for_signal()
    finally:
        LOG.info("Stopping (dnsmasq keeps serving)")
        if control is not None:
            control.close()
        agents.stop_all()
        server.stop()
        transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
