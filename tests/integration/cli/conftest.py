"""A real neutrino-server on its own RabbitMQ vhost, agents registered by real report_state
calls, and the real `neutrino`/`openstack` executables run against it.

Everything is per test module: the vhost `nt-cli-<random>` (deleted afterwards, with its
queues), the server's state directory and SQLite database (under pytest's tmp dir), and the
heartbeat thread.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from support.rabbit import RabbitVhost
from support.server import ADMIN, NeutrinoServer, executable

from neutrino.conf.settings import RpcSettings
from neutrino.lib import constants
from neutrino.rpc.agent.clients import StateReportClient
from neutrino.rpc.transport import get_transport

AGENT_DOWN_TIME = 10
HEARTBEAT = 1.0
CLI_TIMEOUT = 120


@pytest.fixture(scope="module")
def rabbit_url() -> Iterator[str]:
    """A transport URL on a fresh vhost; the vhost and its queues go afterwards."""
    with RabbitVhost("nt-cli") as vhost:
        yield vhost.url


@pytest.fixture(scope="module")
def server(rabbit_url: str, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[NeutrinoServer]:
    with NeutrinoServer(tmp_path_factory.mktemp("cli_server"), transport_url=rabbit_url,
                        agent_down_time=AGENT_DOWN_TIME) as srv:
        yield srv


def dhcp_state() -> dict:
    return {"binary": constants.BINARY_DHCP, "topic": constants.TOPIC_DHCP_AGENT,
            "agent_type": constants.AGENT_TYPE_DHCP, "availability_zone": "nova",
            "configurations": {"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
                               "dhcp_lease_duration": 86400, "log_agent_heartbeats": False,
                               "networks": 0, "subnets": 0, "ports": 0}}


def linuxbridge_state() -> dict:
    return {"binary": constants.BINARY_LINUXBRIDGE, "topic": constants.TOPIC_LINUXBRIDGE,
            "agent_type": constants.AGENT_TYPE_LINUXBRIDGE,
            "configurations": {"interface_mappings": {"physnet1": "eth0"}, "devices": 0}}


@dataclass
class Fleet:
    """The walk-through's four agents, kept alive by a heartbeat thread.

    Each agent is (kind, host) with kind "dhcp" or "linuxbridge"; `pause` stops one agent's
    reports (as stopping its process would), `resume` starts them again.
    """

    transport_url: str
    hosts: tuple[str, ...] = ("HostA", "HostB")
    paused: set[tuple[str, str]] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._transport = get_transport(RpcSettings(self.transport_url, response_timeout=20))
        self._clients = {host: StateReportClient(self._transport, host, timeout=20)
                         for host in self.hosts}
        self._states = {"dhcp": dhcp_state(), "linuxbridge": linuxbridge_state()}
        self._started: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="agent-heartbeats",
                                        daemon=True)

    @property
    def agents(self) -> list[tuple[str, str]]:
        return [(kind, host) for host in self.hosts for kind in ("linuxbridge", "dhcp")]

    def report(self, kind: str, host: str) -> str:
        with self._lock:
            start = (kind, host) not in self._started
            answer = self._clients[host].report_state(self._states[kind], start_flag=start)
            self._started.add((kind, host))
            return answer

    def start(self) -> None:
        for kind, host in self.agents:
            self.report(kind, host)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT):
            for agent in self.agents:
                if agent in self.paused:
                    continue
                try:
                    self.report(*agent)
                except Exception as exc:  # noqa: BLE001 - recorded, the test decides
                    self.errors.append(f"{agent}: {exc!r}")

    def pause(self, kind: str, host: str) -> None:
        self.paused.add((kind, host))

    def resume(self, kind: str, host: str) -> None:
        self.paused.discard((kind, host))

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)
        self._transport.cleanup()


@pytest.fixture(scope="module")
def fleet(server: NeutrinoServer, rabbit_url: str) -> Iterator[Fleet]:
    agents = Fleet(rabbit_url)
    try:
        agents.start()
        yield agents
    finally:
        agents.stop()


@dataclass
class Run:
    argv: list[str]
    code: int
    out: str
    err: str


def run_command(argv: list[str], env: dict[str, str]) -> Run:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                          stdin=subprocess.DEVNULL)
    result = Run(argv, done.returncode, done.stdout, done.stderr)
    # Whatever happens, the operator never sees a traceback.
    assert "Traceback" not in done.stderr, result
    return result


def make_runner(program: str, server: NeutrinoServer, default_identity: str
                ) -> Callable[..., Run]:
    path = executable(program)

    def run(*args: str, ok: bool = True, identity: str | None = None,
            env: dict[str, str] | None = None) -> Run:
        environment = env if env is not None else server.cli_env(identity or default_identity)
        result = run_command([path, *args], environment)
        if ok:
            assert result.code == 0, result
        return result
    return run


@pytest.fixture(scope="module")
def neutrino(server: NeutrinoServer) -> Callable[..., Run]:
    """Runs the `neutrino` executable as the walk-through's admin (v2.0 auth by default)."""
    return make_runner("neutrino", server, "v2.0")


@pytest.fixture(scope="module")
def openstack(server: NeutrinoServer) -> Callable[..., Run]:
    """Runs the `openstack` executable as admin with v3 auth."""
    return make_runner("openstack", server, "v3")


def table_rows(out: str) -> list[list[str]]:
    """The cells of a prettytable, header first, border lines dropped."""
    return [[c.strip() for c in line.strip()[1:-1].split("|")]
            for line in out.splitlines() if line.startswith("|")]


def wait_for(predicate: Callable[[], object], timeout: float = 30.0,
             interval: float = 0.5, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@pytest.fixture
def rows() -> Callable[[str], list[list[str]]]:
    return table_rows


@pytest.fixture
def until() -> Callable[..., object]:
    return wait_for


class Api:
    """Direct reads of the API (as admin), to check what a CLI command did cheaply."""

    def __init__(self, server: NeutrinoServer) -> None:
        user, password, project = ADMIN
        auth = v3.Password(auth_url=server.auth_url("v3"), username=user, password=password,
                           project_name=project, user_domain_name="Default",
                           project_domain_name="Default")
        self._session = ks_session.Session(auth=auth)
        self._root = server.url + "/v2.0"

    def call(self, method: str, path: str) -> tuple[int, object]:
        resp = self._session.request(self._root + path, method, raise_exc=False)
        return resp.status_code, (resp.json() if resp.content else None)

    def get(self, path: str) -> dict:
        status, body = self.call("GET", path)
        assert status == 200, (path, status, body)
        return body  # type: ignore[return-value]


@pytest.fixture(scope="module")
def api(server: NeutrinoServer) -> Api:
    return Api(server)
