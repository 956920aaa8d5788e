"""neutrino-server: the Neutron v2.0 API, the agents' RPC endpoints and the DHCP HA monitor.

    neutrino-server --config-file /etc/neutron/neutron.conf \
        --config-file /etc/neutron/plugins/linuxbridge/linuxbridge_conf.ini

Configuration is read once, here; the layers below get typed settings. `api_workers` is
accepted but one process serves the API: scale out by running more replicas (they share
nothing but the database and the broker, and tokens when `token_secret` is shared).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import oslo_messaging
import uvicorn
from oslo_config import cfg
from oslo_policy import opts as policy_opts

from neutrino.api.app import create_app
from neutrino.api.auth import KeystoneAuth
from neutrino.conf import opts
from neutrino.conf.settings import (
    ConfigError,
    api_settings,
    core_settings,
    database_settings,
    rpc_settings,
)
from neutrino.core.service import Core
from neutrino.db.engine import Database
from neutrino.rpc.notifier import RpcDhcpNotifier
from neutrino.rpc.server import start_rpc_servers
from neutrino.rpc.transport import get_transport

PROG = "neutrino-server"
LOG = logging.getLogger(PROG)
HA_MONITOR_INTERVAL = 1.0
_DEFAULT_POLICY_FILE = "policy.yaml"


def setup_logging(conf: cfg.ConfigOpts) -> None:
    handler: logging.Handler = (logging.FileHandler(conf.log_file) if conf.log_file
                                else logging.StreamHandler())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if conf.debug else logging.INFO)
    quiet = ["oslo.messaging", "oslo_messaging", "oslo_policy", "uvicorn.access"]
    if not conf.debug:
        quiet += ["keystonemiddleware", "keystoneauth", "sqlalchemy", "alembic"]
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def register_edge_opts(conf: cfg.ConfigOpts) -> None:
    """Options of the libraries the server hands configuration to: oslo.policy's
    `[oslo_policy]` and keystonemiddleware's `[keystone_authtoken]`."""
    from keystonemiddleware import auth_token

    for group, options in policy_opts.list_opts():
        conf.register_opts(options, group=group)
    for group, options in auth_token.list_opts():
        conf.register_opts(options, group=group)


def policy_file(conf: cfg.ConfigOpts) -> str | None:
    """The policy file to load: found like Neutron finds it, next to the config files."""
    name = conf.oslo_policy.policy_file
    path = name if os.path.isabs(name) else conf.find_file(name)
    if path and os.path.exists(path):
        return path
    if name != _DEFAULT_POLICY_FILE:
        raise ConfigError(f"[oslo_policy] policy_file {name!r} not found")
    return None


def keystone_authenticator(conf: cfg.ConfigOpts) -> KeystoneAuth:
    from keystonemiddleware import auth_token

    def middleware(app: Any) -> Any:
        # delay_auth_decision: the API writes the 401 itself, in Neutron's format.
        return auth_token.AuthProtocol(app, {"oslo_config_config": conf,
                                             "delay_auth_decision": "true"})
    section = conf.keystone_authtoken
    return KeystoneAuth(middleware, section.www_authenticate_uri)


class HaMonitor:
    """Calls `tick` about every `interval` seconds in a thread; a failing tick is logged
    and the next one runs anyway."""

    def __init__(self, tick: Callable[[], int], interval: float = HA_MONITOR_INTERVAL) -> None:
        self._tick = tick
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ha-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                moved = self._tick()
                if moved:
                    LOG.info("HA monitor moved %d network(s) off dead DHCP agents", moved)
            except Exception:
                LOG.exception("HA monitor tick failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


class ApiServer:
    """uvicorn in a thread of its own, so the caller's thread keeps the signals."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        config = uvicorn.Config(app, host=host, port=port, lifespan="off", log_config=None,
                                access_log=False, server_header=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self.address = f"{host}:{port}"

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the API could not listen on {self.address}")
            time.sleep(0.02)

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=30)


class Server:
    """A running server: API, RPC listeners and HA monitor. `stop()` undoes `start_server`."""

    def __init__(self, db: Database, rpc: Any, monitor: HaMonitor, api: ApiServer) -> None:
        self.db, self.rpc, self.monitor, self.api = db, rpc, monitor, api

    def stop(self) -> None:
        for name, step in (("API", self.api.stop), ("HA monitor", self.monitor.stop),
                           ("RPC servers", self.rpc.stop), ("database", self.db.dispose)):
            try:
                step()
            except Exception:
                LOG.exception("Error stopping the %s", name)


def prepare_database(db: Database) -> None:
    db.wait_until_reachable()
    current = db.current_revision()
    if current is None:
        LOG.info("Empty database: creating the schema")
        db.upgrade()
    elif current != db.head_revision():
        LOG.warning("Database schema %s is not the latest (%s): run "
                    "`neutrino-db-manage upgrade head`", current, db.head_revision())


def start_server(conf: cfg.ConfigOpts, transport: oslo_messaging.Transport) -> Server:
    """Everything `neutrino-server` runs, started; raises ConfigError for bad settings."""
    register_edge_opts(conf)
    settings = api_settings(conf)
    core_config = core_settings(conf)
    keystone = keystone_authenticator(conf) if settings.auth_strategy == "keystone" else None
    policy = policy_file(conf)
    if settings.api_workers > 1:
        LOG.warning("api_workers = %d: one process serves the API; run more replicas of "
                    "neutrino-server to scale out", settings.api_workers)

    db = Database(database_settings(conf))
    prepare_database(db)
    core = Core(db, core_config, RpcDhcpNotifier(transport))
    app = create_app(core, settings, policy_file=policy, keystone=keystone)
    rpc = start_rpc_servers(transport, core, host=conf.host)
    monitor = HaMonitor(core.reschedule_networks_from_down_agents)
    api = ApiServer(app, settings.bind_host, settings.bind_port)
    try:
        monitor.start()
        api.start()
    except BaseException:
        Server(db, rpc, monitor, api).stop()
        raise
    LOG.info("%s listening on http://%s (auth_strategy = %s)", PROG, api.address,
             settings.auth_strategy)
    return Server(db, rpc, monitor, api)


def wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass


def _fail(conf: cfg.ConfigOpts, message: str) -> int:
    LOG.error("%s", message)
    if conf.log_file:  # the operator starting it looks at the terminal first
        print(f"{PROG}: {message}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    try:
        conf = opts.load(sys.argv[1:] if argv is None else argv, prog=PROG)
    except cfg.Error as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    try:
        setup_logging(conf)
    except (OSError, cfg.Error) as exc:
        print(f"{PROG}: cannot log: {exc}", file=sys.stderr)
        return 1
    transport = None
    try:
        transport = get_transport(rpc_settings(conf))
        server = start_server(conf, transport)
    except (ConfigError, cfg.Error, ValueError) as exc:
        if transport is not None:
            transport.cleanup()
        return _fail(conf, f"Invalid configuration: {exc}")
    except Exception as exc:  # database unreachable, port taken, broker refused...
        if transport is not None:
            transport.cleanup()
        return _fail(conf, f"Cannot start: {type(exc).__name__}: {exc}")
    try:
        wait_for_signal()
    finally:
        LOG.info("Stopping")
        server.stop()
        transport.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
