"""neutrino-server: the Neutron v2.0 API, the agents' RPC endpoints and the DHCP HA monitor.

    neutrino-server --config-file /etc/neutron/neutron.conf \
        --config-file /etc/neutron/plugins/linuxbridge/linuxbridge_conf.ini

Configuration is read once, here; the layers below get typed settings.

`api_workers = N` (default: one per CPU, as Neutron's): the server binds its port, prepares
the database, then forks N API worker processes before any thread or connection exists; each
worker has its own core services, database pool and transport (for its casts) and serves on
the shared socket. RPC servers, the HA monitor and the Nova notifier run once, in the parent,
which serves no API: agents' heartbeats and RPC calls never queue behind API requests for the
GIL. The server's processes share their metrics through files in state_path/metrics/, so a
scrape of any worker shows the whole server's. Workers need a real broker: with the
in-process transport (`fake://`) one process serves everything. Replicas of the whole server
scale out the same way (they share only the database, the broker and, through `token_secret`
or a shared state_path, the token key).
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import oslo_messaging
import uvicorn
from oslo_config import cfg
from oslo_policy import opts as policy_opts

from neutrino.api.app import create_app, request_threads
from neutrino.api.auth import KeystoneAuth
from neutrino.api.health import Probe
from neutrino.cmd.common import catch_stop_signals, setup_logging, wait_for_signal
from neutrino.conf import opts
from neutrino.conf.settings import (
    ApiSettings,
    ConfigError,
    NovaSettings,
    api_settings,
    core_settings,
    database_settings,
    nova_settings,
    rpc_settings,
)
from neutrino.core.agents.nova import NovaEventQueue
from neutrino.core.health import DatabaseProbe
from neutrino.core.interfaces import SystemClock
from neutrino.core.metrics import ClusterCollector, PoolWatch
from neutrino.core.services import Services, build_services
from neutrino.core.transaction import Transactions
from neutrino.db.engine import Database
from neutrino.lib.metrics import forget_process, share_between_processes
from neutrino.nova.client import NovaClient
from neutrino.nova.sender import NovaSender, SenderLoop
from neutrino.rpc.health import BrokerProbe
from neutrino.rpc.server.listeners import start_rpc_servers
from neutrino.rpc.server.notifier import RpcDhcpNotifier
from neutrino.rpc.transport import get_transport

PROG = "neutrino-server"
LOG = logging.getLogger(PROG)
HA_MONITOR_INTERVAL = 1.0
CAST_LOOP_INTERVAL = 1.0
_DEFAULT_POLICY_FILE = "policy.yaml"




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


class PeriodicLoop:
    """Calls `tick` about every `interval` seconds in a thread; a failing tick is logged
    and the next one runs anyway."""

    def __init__(self, tick: Callable[[], int], interval: float, name: str,
                 done: str) -> None:
        """`done`: logged with the count when a tick returns one, after `name`."""
        self._tick = tick
        self._interval = interval
        self._name = name
        self._done = done
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                count = self._tick()
                if count:
                    LOG.info("%s " + self._done, self._name, count)
            except Exception:
                LOG.exception("%s tick failed; retrying", self._name)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)


def cast_loop(services: Services, sweep: bool = True) -> PeriodicLoop:
    """Every process running core deletes the recorded casts it sent; only the one with
    `sweep` (the parent, not each API worker) also sends those that no replica did (see
    core.agents.notify): the sweep is the same work in every process of a replica."""
    casts = services.dhcp_casts

    def forget_only() -> int:
        casts.forget_sent()
        return 0
    return PeriodicLoop(casts.tick if sweep else forget_only, CAST_LOOP_INTERVAL,
                        "DHCP cast sweeper", "sent %d recorded cast(s) again")


def _uvicorn(app: Any, host: str, port: int) -> uvicorn.Server:
    # uvicorn's compiled HTTP parser (under http_protocol's one write per response) and
    # event loop, named rather than left to "auto" (which falls back to pure-Python h11 and
    # asyncio when they are missing): together they take about 80 us of CPU off every
    # request. httptools is stricter than h11 about malformed requests (unknown or
    # lower-case methods, bare LF line ends, folded headers and Content-Length with
    # Transfer-Encoding are a 400) and keeps a header value's trailing whitespace, which
    # api.app.EdgeMiddleware strips as h11 did. Imported here: only a process serving the
    # API loads httptools (not a server's main process, which forks the API workers).
    from neutrino.cmd.http_protocol import HttpProtocol
    return uvicorn.Server(uvicorn.Config(app, host=host, port=port, lifespan="off",
                                         http=HttpProtocol, loop="uvloop",
                                         log_config=None, access_log=False,
                                         server_header=False))


def listen(host: str, port: int) -> socket.socket:
    """The API's listening socket, made before forking so every worker shares it."""
    # proto=IPPROTO_TCP, not create_server's 0: asyncio sets TCP_NODELAY only on accepted
    # sockets whose proto says TCP, and without it every answer on a kept-alive connection
    # waited ~40 ms for the client's delayed ACK (Nagle). NODELAY on the listener too: on
    # Linux accepted sockets inherit it, whichever loop (asyncio or uvloop) accepts them.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class ApiServer:
    """uvicorn in a thread of its own, so the caller's thread keeps the signals."""

    def __init__(self, app: Any, host: str, port: int,
                 sock: socket.socket | None = None) -> None:
        self._server = _uvicorn(app, host, port)
        sockets = [sock] if sock is not None else None
        self._thread = threading.Thread(target=self._server.run, args=(sockets,),
                                        name="api", daemon=True)
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
    """A running server: API, RPC listeners, HA monitor and Nova notifier. `stop()` undoes
    `start_server`."""

    def __init__(self, db: Database, rpc: Any, monitor: PeriodicLoop, api: ApiServer | None,
                 nova: SenderLoop | None = None, casts: PeriodicLoop | None = None,
                 pool: PoolWatch | None = None, services: Services | None = None) -> None:
        self.db, self.rpc, self.monitor, self.api = db, rpc, monitor, api
        self.nova = nova
        self.casts = casts
        self.pool = pool
        self.services = services

    def _close_database(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.db.dispose()

    def stop(self) -> None:
        nova_stop = self.nova.stop if self.nova is not None else (lambda: None)
        api_stop = self.api.stop if self.api is not None else (lambda: None)
        casts_stop = self.casts.stop if self.casts is not None else (lambda: None)
        services = self.services
        flush = (lambda: _flush_casts(services)) if services is not None else (lambda: None)
        for name, step in (("API", api_stop), ("HA monitor", self.monitor.stop),
                           ("DHCP cast sweeper", casts_stop), ("cast sender", flush),
                           ("Nova notifier", nova_stop),
                           ("RPC servers", self.rpc.stop), ("database", self._close_database)):
            try:
                step()
            except Exception:
                LOG.exception("Error stopping the %s", name)


def nova_sender(db: Database, settings: NovaSettings) -> SenderLoop | None:
    """The loop sending the outbox's events to Nova; None (and nothing recorded) without a
    [nova] auth_type and auth_url."""
    if not settings.enabled:
        LOG.info("No [nova] auth_type/auth_url: Nova is not told of port changes")
        return None
    options = dict(settings.auth_options)
    LOG.info("Telling Nova of port changes (auth_url %s, region %s, %s endpoint; status "
             "changes: %s, data changes: %s), every %ss", options.get("auth_url"),
             settings.region_name, settings.endpoint_type, settings.notify_on_port_status,
             settings.notify_on_port_data, settings.send_events_interval)
    queue = NovaEventQueue(Transactions(db), SystemClock())
    return SenderLoop(NovaSender(queue, NovaClient(settings), settings.send_events_interval))


def prepare_database(db: Database) -> None:
    db.wait_until_reachable()
    current = db.current_revision()
    if current is None:
        LOG.info("Empty database: creating the schema")
        db.upgrade()
    elif current != db.head_revision():
        LOG.warning("Database schema %s is not the latest (%s): run "
                    "`neutrino-db-manage upgrade head`", current, db.head_revision())


def build_app(conf: cfg.ConfigOpts, db: Database, transport: oslo_messaging.Transport
              ) -> tuple[Any, Services]:
    """The API application over core's services of its own (one set per process)."""
    settings = api_settings(conf)
    settings = dataclasses.replace(settings, request_threads=request_threads(
        settings.request_threads, db.engine.dialect.name))
    LOG.info("Serving up to %d API requests at once in this process "
             "(wsgi_default_pool_size)", settings.request_threads)
    keystone = keystone_authenticator(conf) if settings.auth_strategy == "keystone" else None
    core = core_settings(conf)
    # The API's casts go out after the reply, not before it.
    services = build_services(db, core, RpcDhcpNotifier(transport),
                              nova_settings=nova_settings(conf), send_in_background=True)
    # Cluster gauges are read when scraped; probes when /healthcheck is asked.
    collectors = [ClusterCollector(db, core, SystemClock())]
    probes: list[Probe] = [DatabaseProbe(db), BrokerProbe(rpc_settings(conf).transport_url)]
    app = create_app(services, settings, policy_file=policy_file(conf), keystone=keystone,
                     collectors=collectors, probes=probes)
    return app, services


def warn_unshared_token_key(settings: ApiSettings) -> bool:
    """Warn when builtin tokens are signed with a key of this host's own; True if warned.

    Without `token_secret` the key is generated into state_path: a replica whose state_path
    is not shared then makes its own, and rejects every other replica's tokens."""
    if settings.auth_strategy != "builtin" or settings.token_secret:
        return False
    LOG.warning("auth_strategy = builtin and no [identity] token_secret is set: tokens are "
                "signed with %s/identity.key, made by this host. Every server replica needs "
                "the same key: set the same [identity] token_secret on all of them (or share "
                "state_path), or tokens issued by one replica are rejected by the others.",
                settings.state_path)
    return True


def check_config(conf: cfg.ConfigOpts) -> None:
    """Every setting the server reads, so a bad one fails before anything starts."""
    register_edge_opts(conf)
    api_settings(conf)
    core_settings(conf)
    database_settings(conf)
    rpc_settings(conf)
    nova_settings(conf)
    policy_file(conf)


def start_server(conf: cfg.ConfigOpts, transport: oslo_messaging.Transport,
                 sock: socket.socket | None = None, db: Database | None = None,
                 serve_api: bool = True) -> Server:
    """Everything `neutrino-server` runs, started; raises ConfigError for bad settings.
    `sock`/`db`: the listening socket and database prepared before forking workers;
    `serve_api=False`: the workers serve the API, this process the rest."""
    check_config(conf)
    settings = api_settings(conf)
    warn_unshared_token_key(settings)
    if db is None:
        db = Database(database_settings(conf))
        prepare_database(db)
    pool = PoolWatch(db)
    if serve_api:
        app, services = build_app(conf, db, transport)
    else:
        services = build_services(db, core_settings(conf), RpcDhcpNotifier(transport),
                                  nova_settings=nova_settings(conf))
    rpc = start_rpc_servers(transport, services, host=conf.host)
    monitor = PeriodicLoop(services.dhcp_scheduling.reschedule_networks_from_down_agents,
                           HA_MONITOR_INTERVAL, "HA monitor",
                           "moved %d network(s) off dead DHCP agents")
    casts = cast_loop(services)
    nova = nova_sender(db, nova_settings(conf))
    api = ApiServer(app, settings.bind_host, settings.bind_port, sock) if serve_api else None
    try:
        monitor.start()
        casts.start()
        if nova is not None:
            nova.start()
        if api is not None:
            api.start()
    except BaseException:
        Server(db, rpc, monitor, api, nova, casts, pool, services).stop()
        raise
    freeze_startup_objects()
    if api is not None:
        LOG.info("%s listening on http://%s (auth_strategy = %s)", PROG, api.address,
                 settings.auth_strategy)
    else:
        LOG.info("%s: RPC servers and HA monitor running; the API workers listen on "
                 "http://%s:%s (auth_strategy = %s)", PROG, settings.bind_host,
                 settings.bind_port, settings.auth_strategy)
    return Server(db, rpc, monitor, api, nova, casts, pool, services)




def _fail(conf: cfg.ConfigOpts, message: str) -> int:
    LOG.error("%s", message)
    if conf.log_file:  # the operator starting it looks at the terminal first
        print(f"{PROG}: {message}", file=sys.stderr)
    return 1


GC_YOUNG_THRESHOLD = 10_000


def freeze_startup_objects() -> None:
    """What starting made (modules, mappers, compiled SQL, policy rules: some 160,000
    objects) lives as long as the process: out of the cyclic collector's way. Otherwise
    every full collection walks them all, with the GIL held, 50-150 ms each, a quarter of a
    worker's time under a list-heavy load."""
    gc.collect()
    gc.freeze()
    # A request allocates thousands of short-lived objects (rows, statements, dicts) that
    # reference counting frees; counted against Python's default of 700 they set off a
    # young collection every few requests, and with them, now and then, a full one over
    # every remembered port view (a few percent of a worker's CPU). Cycles are rare here:
    # a young collection per 10,000 surviving allocations costs little memory.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _flush_casts(services: Services) -> None:
    """Send the casts waiting for the sending thread, then delete those sent (the parent's
    sweeper would send them again otherwise)."""
    try:
        services.dhcp_casts.flush()
        services.dhcp_casts.forget_sent()
    except Exception:
        LOG.exception("Error sending the casts left at shutdown; the sweeper sends them")


def run_worker(conf: cfg.ConfigOpts, sock: socket.socket) -> int:
    """A forked API worker: serves on the parent's socket until SIGTERM/SIGINT."""
    transport = get_transport(rpc_settings(conf))
    db = Database(database_settings(conf))
    pool = PoolWatch(db)
    casts: PeriodicLoop | None = None
    services: Services | None = None
    try:
        app, services = build_app(conf, db, transport)
        casts = cast_loop(services, sweep=False)
        casts.start()
        settings = api_settings(conf)
        server = _uvicorn(app, settings.bind_host, settings.bind_port)
        freeze_startup_objects()
        server.run(sockets=[sock])
        return 0
    except Exception:
        LOG.exception("API worker %d failed", os.getpid())
        return 1
    finally:
        if casts is not None:
            casts.stop()
        if services is not None:
            _flush_casts(services)
        pool.close()
        db.dispose()
        transport.cleanup()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """A worker outlives no server: when the parent process dies, even by SIGKILL (a
    supervisor's or an operator's kill -9), the kernel sends the worker SIGTERM. Without
    this, orphaned workers would keep serving the API port with nobody to stop them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        LOG.warning("API worker %d cannot follow its parent's death (errno %d)", os.getpid(),
                    ctypes.get_errno())
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not ours to judge
        return True
    return True


def metrics_directory(state_path: str) -> str:
    """An empty directory for this server run's metrics files, `metrics/<host>-<pid>` under
    state_path (which replicas may share), after removing those of this host's runs that
    died without removing theirs (kill -9, power loss)."""
    base = os.path.join(state_path, "metrics")
    os.makedirs(base, exist_ok=True)
    host = socket.gethostname()
    for name in os.listdir(base):
        run_host, _, pid = name.rpartition("-")
        if run_host == host and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)
    mine = os.path.join(base, f"{host}-{os.getpid()}")
    shutil.rmtree(mine, ignore_errors=True)  # a pid reused from an earlier boot
    os.makedirs(mine)
    return mine


def fork_workers(conf: cfg.ConfigOpts, count: int, sock: socket.socket) -> list[int]:
    pids = []
    parent = os.getpid()
    for _ in range(count):
        pid = os.fork()
        if pid == 0:  # the child never returns into the parent's code
            code = 1
            try:
                die_with_parent(parent)
                code = run_worker(conf, sock)
            finally:
                os._exit(code)
        pids.append(pid)
    LOG.info("Started %d API worker process(es): %s", count, pids)
    return pids


def reap_workers(pids: list[int]) -> None:
    """Removes the workers that died from `pids`, saying so, and drops their live gauges
    (their counters stay in the server's sums). The API keeps being served by the others."""
    for pid in list(pids):
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done, status = pid, 0
        if done:
            pids.remove(pid)
            forget_process(pid)
            LOG.error("API worker %d exited (code %d; negative: killed by that signal); "
                      "%d left", pid, os.waitstatus_to_exitcode(status), len(pids))


def stop_workers(pids: list[int], timeout: float = 30.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while True:
            try:
                done, _status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done:
                forget_process(pid)
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                forget_process(pid)
                break
            time.sleep(0.05)


def _in_process(url: str) -> bool:
    return url.startswith(("fake:", "kombu+memory:"))


CONFIG_CHECK_OPT = cfg.BoolOpt("config-check", default=False,
                               help="Do not start: report unknown options, bad values and "
                                    "an unreachable database or broker; exit 1 on any.")


def server_opt_groups(conf: cfg.ConfigOpts) -> list[tuple[str | None, list[cfg.Opt]]]:
    """Every option group the server reads, as registered on `conf`."""
    from keystonemiddleware import auth_token

    groups: list[tuple[str | None, list[cfg.Opt]]] = [
        (None if g == "DEFAULT" else g, list(o)) for g, o in opts.GROUPS.items()]
    groups += [(g, list(o)) for g, o in opts._messaging_opts()]
    groups += [(g, list(o)) for g, o in policy_opts.list_opts()]
    groups += [(g, list(o)) for g, o in auth_token.list_opts()]
    return groups


def main(argv: list[str] | None = None) -> int:
    try:
        conf = opts.load(sys.argv[1:] if argv is None else argv, prog=PROG,
                         cli_opts=[CONFIG_CHECK_OPT])
    except cfg.Error as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    if conf.config_check:
        from neutrino.cmd import config_check
        try:
            register_edge_opts(conf)
        except cfg.Error as exc:
            print(f"ERROR: {exc}", file=sys.stdout)
            return 1
        return config_check.run(conf, server_opt_groups(conf), check_config, sys.stdout)
    try:
        setup_logging(conf)
    except (OSError, cfg.Error) as exc:
        print(f"{PROG}: cannot log: {exc}", file=sys.stderr)
        return 1
    transport = None
    workers: list[int] = []
    shared_metrics: str | None = None
    try:
        check_config(conf)
        settings, rpc = api_settings(conf), rpc_settings(conf)
        sock, db = None, None
        count = settings.api_workers or os.cpu_count() or 1
        if count > 1 and _in_process(rpc.transport_url):
            if settings.api_workers:  # said by the operator, not the machine's default
                LOG.warning("api_workers = %d ignored: the in-process transport %s needs "
                            "one process", settings.api_workers, rpc.transport_url)
        elif count > 1:
            # Fork before any thread, broker or database connection exists.
            sock = listen(settings.bind_host, settings.bind_port)
            db = Database(database_settings(conf))
            prepare_database(db)
            db.dispose()
            # One scrape of any worker shows the whole server's counters.
            shared_metrics = metrics_directory(settings.state_path)
            share_between_processes(shared_metrics)
            workers = fork_workers(conf, count, sock)
        # Caught from here, in this process only (the workers have uvicorn's handlers): the
        # workers may answer before this process has started its own part, and a stop
        # asked for then must still end with the clean stop below.
        stopping = catch_stop_signals()
        transport = get_transport(rpc)
        server = start_server(conf, transport, sock=sock, db=db, serve_api=not workers)
    except (ConfigError, cfg.Error, ValueError) as exc:
        _stop_early(workers, transport, shared_metrics)
        return _fail(conf, f"Invalid configuration: {exc}")
    except Exception as exc:  # database unreachable, port taken, broker refused...
        _stop_early(workers, transport, shared_metrics)
        return _fail(conf, f"Cannot start: {type(exc).__name__}: {exc}")
    try:
        wait_for_signal((lambda: reap_workers(workers)) if workers else None,
                        stop=stopping)
    finally:
        LOG.info("Stopping")
        stop_workers(workers)
        server.stop()
        transport.cleanup()
        if shared_metrics is not None:
            shutil.rmtree(shared_metrics, ignore_errors=True)
    return 0


def _stop_early(workers: list[int], transport: oslo_messaging.Transport | None,
                shared_metrics: str | None) -> None:
    stop_workers(workers)
    if transport is not None:
        transport.cleanup()
    if shared_metrics is not None:
        shutil.rmtree(shared_metrics, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
