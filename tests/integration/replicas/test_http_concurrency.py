"""The issue's concurrency acceptance, end to end: two `neutrino-server` replicas on one
database (MariaDB, PostgreSQL) and one RabbitMQ vhost, many HTTP clients at once.

Each test starts its own cluster: a scratch database (dropped afterwards), a vhost (deleted
afterwards), two real server processes started together on the empty database, and
DHCP agents registered by real `report_state` calls over RabbitMQ, one heartbeat thread per
agent. Clients use one builtin-auth admin token (both replicas share `token_secret`) and
spread their requests over both replicas.

Claims checked through the API: no 5xx; every failure is a documented Neutron error in a
NeutronError body; no duplicate IP and exactly as many ports as the pool holds; automatic
scheduling never binds more than `dhcp_agents_per_network` agents; manual adds bind each
agent once; both binding listings agree; a dead agent's networks move exactly once.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from functional.conftest import scratch_database_url, selected_backends
from support.rabbit import RabbitVhost
from support.server import ADMIN, NeutrinoServer

from neutrino.conf.settings import DatabaseSettings, RpcSettings
from neutrino.core.dbutil import insert_row_unless_duplicate
from neutrino.db.engine import Database
from neutrino.lib import constants
from neutrino.rpc.agent.clients import DhcpPluginClient, StateReportClient, serve_dhcp_agent
from neutrino.rpc.transport import get_transport

pytestmark = [pytest.mark.rabbit, pytest.mark.db, pytest.mark.timeout(420)]

PER_NETWORK = 2
HEARTBEAT = 1.0
HTTP_TIMEOUT = 60.0
BACKENDS = [b for b in selected_backends() if b != "sqlite"]


# -- the cluster ------------------------------------------------------------------------------

class Heartbeats:
    """DHCP agents kept alive by real report_state calls, one thread per agent (so a slow
    answer for one does not make the others look dead). `pause(host)` is the agent's death."""

    def __init__(self, transport: Any, hosts: list[str]) -> None:
        self.hosts = hosts
        self.errors: list[str] = []
        self.paused: set[str] = set()
        self._clients = {h: StateReportClient(transport, h, timeout=20) for h in hosts}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._beat, args=(h,), daemon=True,
                                          name=f"heartbeat-{h}") for h in hosts]

    @staticmethod
    def state() -> dict:
        return {"binary": constants.BINARY_DHCP, "topic": constants.TOPIC_DHCP_AGENT,
                "agent_type": constants.AGENT_TYPE_DHCP, "availability_zone": "nova",
                "configurations": {"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",
                                   "networks": 0, "subnets": 0, "ports": 0}}

    def start(self) -> None:
        for host in self.hosts:
            assert self._clients[host].report_state(self.state(), start_flag=True) == "new"
        for thread in self._threads:
            thread.start()

    def _beat(self, host: str) -> None:
        while not self._stop.wait(HEARTBEAT):
            if host in self.paused:
                continue
            try:
                self._clients[host].report_state(self.state(), start_flag=False)
            except Exception as exc:  # noqa: BLE001 - recorded; the test decides
                self.errors.append(f"{host}: {exc!r}")

    def pause(self, host: str) -> None:
        self.paused.add(host)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(30)


class CastRecorder:
    """What a DHCP agent on `host` would receive."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.casts: list[tuple[float, str, dict]] = []

    def __getattr__(self, name: str) -> Callable[[dict], None]:
        if name not in constants.DHCP_AGENT_CASTS:
            raise AttributeError(name)

        def handle(payload: dict) -> None:
            self.casts.append((time.monotonic(), name, payload))
        return handle


@dataclass
class Cluster:
    replicas: list[NeutrinoServer]
    agents: Heartbeats
    transport: Any
    token: str
    agent_ids: dict[str, str] = field(default_factory=dict)  # host -> agent id

    def client(self, i: int) -> httpx.Client:
        """A client of replica i % 2 (callers close it)."""
        replica = self.replicas[i % len(self.replicas)]
        return httpx.Client(base_url=replica.url + "/v2.0", timeout=HTTP_TIMEOUT,
                            headers={"X-Auth-Token": self.token})

    def logs(self) -> str:
        return "\n".join(r.log_path.read_text(errors="replace") for r in self.replicas)


def admin_token(server: NeutrinoServer) -> str:
    user, password, project = ADMIN
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    resp = httpx.post(server.url + "/v3/auth/tokens", json=body, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


def in_parallel(calls: list[Callable[[], None]]) -> None:
    with ThreadPoolExecutor(len(calls)) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()


@contextmanager
def cluster(backend: str, tmp_path: Path, agent_hosts: list[str], agent_down_time: int
            ) -> Iterator[Cluster]:
    """Everything torn down on the way out, pass or fail, in reverse order of creation."""
    with ExitStack() as stack:
        vhost = stack.enter_context(RabbitVhost("nt-replicas"))
        db_url = stack.enter_context(scratch_database_url(backend, tmp_path))
        options = {"DEFAULT": {"dhcp_agents_per_network": PER_NETWORK},
                   "identity": {"token_secret": secrets.token_hex(16)}}
        replicas = [NeutrinoServer(
            tmp_path / f"replica-{name}", transport_url=vhost.url, database_url=db_url,
            agent_down_time=agent_down_time, host=f"controller-{name}", options=options)
            for name in ("a", "b")]
        # Started and stopped together: both find the database empty and must take turns
        # creating the schema, and the teardown is not twice as long.
        stack.callback(in_parallel, [r.stop for r in replicas])
        in_parallel([r.start for r in replicas])
        transport = get_transport(RpcSettings(vhost.url, response_timeout=20))
        stack.callback(transport.cleanup)
        agents = Heartbeats(transport, agent_hosts)
        stack.callback(agents.stop)
        agents.start()
        result = Cluster(replicas, agents, transport, admin_token(replicas[0]))
        with result.client(1) as api:
            listed = checked(api.get("/agents", params={"agent_type": constants.AGENT_TYPE_DHCP}))
        result.agent_ids = {a["host"]: a["id"] for a in listed["agents"]}
        assert sorted(result.agent_ids) == sorted(agent_hosts)
        yield result
        assert not agents.errors, agents.errors[:5]


# -- checking responses -----------------------------------------------------------------------

@dataclass
class Outcome:
    what: str
    status: int
    body: Any

    @property
    def error_type(self) -> str | None:
        if self.status < 400:
            return None
        return self.body["NeutronError"]["type"]


def outcome(what: str, resp: httpx.Response) -> Outcome:
    try:
        body = resp.json() if resp.content else None
    except ValueError:
        body = resp.text
    return Outcome(what, resp.status_code, body)


def checked(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.request.method, resp.request.url,
                                        resp.status_code, resp.text)
    return resp.json() if resp.content else None


def assert_documented(outcomes: list[Outcome], allowed: dict[str, set[str]]) -> None:
    """No 5xx; every failure a NeutronError whose (status, type) the operation allows."""
    server_errors = [o for o in outcomes if o.status >= 500]
    assert not server_errors, server_errors[:5]
    for o in outcomes:
        if o.status < 400:
            continue
        assert isinstance(o.body, dict) and set(o.body) == {"NeutronError"}, o
        error = o.body["NeutronError"]
        assert error.get("message"), o
        assert o.status == 409 and error["type"] in allowed.get(o.what, set()), o


def run_all(jobs: list[Callable[[], list[Outcome]]], workers: int) -> list[Outcome]:
    """Run every job at once (as far as `workers` allows); re-raises a job's exception."""
    barrier = threading.Barrier(min(workers, len(jobs)))

    def started(job: Callable[[], list[Outcome]]) -> list[Outcome]:
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            pass  # fewer jobs than workers left: start anyway
        return job()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(started, job) for job in jobs]
        return [o for f in futures for o in f.result()]


# -- reading bindings through the API ---------------------------------------------------------

def bindings_by_network(api: httpx.Client, network_ids: list[str]) -> dict[str, list[str]]:
    return {n: [a["id"] for a in checked(api.get(f"/networks/{n}/dhcp-agents"))["agents"]]
            for n in network_ids}


def bindings_by_agent(api: httpx.Client, agent_ids: list[str]) -> dict[str, list[str]]:
    return {a: [n["id"] for n in checked(api.get(f"/agents/{a}/dhcp-networks"))["networks"]]
            for a in agent_ids}


def assert_listings_agree(api: httpx.Client, agent_ids: list[str]) -> dict[str, list[str]]:
    """Both listings describe the same (network, agent) pairs; returns by network."""
    all_networks = [n["id"] for n in checked(api.get("/networks"))["networks"]]
    by_network = bindings_by_network(api, all_networks)
    by_agent = bindings_by_agent(api, agent_ids)
    for n, agents in by_network.items():
        assert len(agents) == len(set(agents)), (n, agents)
    for a, networks in by_agent.items():
        assert len(networks) == len(set(networks)), (a, networks)
    pairs_n = {(n, a) for n, agents in by_network.items() for a in agents}
    pairs_a = {(n, a) for a, networks in by_agent.items() for n in networks}
    assert pairs_n == pairs_a
    return by_network


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        time.sleep(0.5)


# -- the storm ---------------------------------------------------------------------------------

PORT_CLIENTS = 12
AUTO_NETWORKS = 6
SUBNETS_PER_NETWORK = 3
MANUAL_NETWORKS = 2
ADDS_PER_PAIR = 2  # the same (agent, network) POSTed this often, from both replicas


@pytest.mark.parametrize("backend", BACKENDS)
def test_many_clients_on_two_replicas(backend: str, tmp_path: Path) -> None:
    tag = secrets.token_hex(3)
    hosts = [f"dhcp-{tag}-{i}" for i in range(4)]
    # A long agent_down_time: nobody dies during the storm, so placement is the only actor.
    with cluster(backend, tmp_path, hosts, agent_down_time=60) as c:
        agent_ids = sorted(c.agent_ids.values())
        with c.client(0) as api:
            pool_net = checked(api.post("/networks", json={"network": {
                "name": f"pool-{tag}"}}), 201)["network"]["id"]
            subnet = checked(api.post("/subnets", json={"subnet": {
                "network_id": pool_net, "ip_version": 4, "cidr": "10.77.0.0/27"}}),
                201)["subnet"]
            manual = [checked(api.post("/networks", json={"network": {
                "name": f"manual-{tag}-{i}"}}), 201)["network"]["id"]
                for i in range(MANUAL_NETWORKS)]
        pool_size = sum(int(ipaddress.ip_address(p["end"])) -
                        int(ipaddress.ip_address(p["start"])) + 1
                        for p in subnet["allocation_pools"])
        assert pool_size == 29  # a /27 without network, gateway and broadcast

        created_networks: list[str] = []
        created_lock = threading.Lock()

        def port_client(i: int) -> Callable[[], list[Outcome]]:
            def job() -> list[Outcome]:
                results = []
                with c.client(i) as api:
                    for _ in range(pool_size + 5):  # bounded, whatever happens
                        o = outcome("port", api.post("/ports", json={"port": {
                            "network_id": pool_net, "name": f"p{i}"}}))
                        results.append(o)
                        if o.error_type == "IpAddressGenerationFailure" or o.status >= 500:
                            break
                return results
            return job

        def auto_network(i: int) -> Callable[[], list[Outcome]]:
            """A network, then its subnets created at once from both replicas (each create
            schedules the network), then a port on it from each replica."""
            def job() -> list[Outcome]:
                with c.client(i) as api:
                    o = outcome("network", api.post("/networks", json={"network": {
                        "name": f"auto-{tag}-{i}"}}))
                if o.status != 201:
                    return [o]
                net = o.body["network"]["id"]
                with created_lock:
                    created_networks.append(net)

                def subnet_job(j: int) -> list[Outcome]:
                    with c.client(j) as api:
                        return [outcome("subnet", api.post("/subnets", json={"subnet": {
                            "network_id": net, "ip_version": 4,
                            "cidr": f"10.{80 + i}.{j}.0/24"}})),
                            outcome("port", api.post("/ports", json={"port": {
                                "network_id": net}}))]
                with ThreadPoolExecutor(SUBNETS_PER_NETWORK) as pool:
                    return [o, *(x for r in pool.map(subnet_job, range(SUBNETS_PER_NETWORK))
                                 for x in r)]
            return job

        def manual_add(i: int, agent_id: str, network_id: str) -> Callable[[], list[Outcome]]:
            def job() -> list[Outcome]:
                with c.client(i) as api:
                    o = outcome("add", api.post(f"/agents/{agent_id}/dhcp-networks",
                                                json={"network_id": network_id}))
                o.body = {"pair": (agent_id, network_id), "body": o.body} \
                    if o.status < 400 else o.body
                return [o]
            return job

        def manual_subnet(i: int, network_id: str) -> Callable[[], list[Outcome]]:
            def job() -> list[Outcome]:
                with c.client(i) as api:
                    return [outcome("subnet", api.post("/subnets", json={"subnet": {
                        "network_id": network_id, "ip_version": 4,
                        "cidr": f"10.90.{i}.0/24"}}))]
            return job

        def agent_sync(host: str) -> Callable[[], list[Outcome]]:
            """The agent-side trigger: get_active_networks_info auto-schedules for host."""
            def job() -> list[Outcome]:
                client = DhcpPluginClient(c.transport, host, timeout=60)
                for _ in range(3):
                    client.get_active_networks_info()
                return []
            return job

        jobs = [port_client(i) for i in range(PORT_CLIENTS)]
        jobs += [auto_network(i) for i in range(AUTO_NETWORKS)]
        jobs += [manual_add(i, a, n) for n in manual for a in agent_ids
                 for i in range(ADDS_PER_PAIR)]
        jobs += [manual_subnet(i, n) for i, n in enumerate(manual)]
        jobs += [agent_sync(h) for h in hosts]
        started = time.monotonic()
        outcomes = run_all(jobs, workers=len(jobs))
        storm_seconds = time.monotonic() - started

        assert_documented(outcomes, {
            "port": {"IpAddressGenerationFailure"},
            # Same pair twice, or the automatic scheduler got there first.
            "add": {"NetworkHostedByDHCPAgent"},
        })
        by_kind = Counter((o.what, o.status) for o in outcomes)
        assert by_kind[("network", 201)] == AUTO_NETWORKS, by_kind
        assert by_kind[("subnet", 201)] == AUTO_NETWORKS * SUBNETS_PER_NETWORK + \
            MANUAL_NETWORKS, by_kind

        # The pool: exactly its size created, every port exhausting client told so.
        pool_ports = [o for o in outcomes if o.what == "port" and o.status == 201
                      and o.body["port"]["network_id"] == pool_net]
        assert len(pool_ports) == pool_size, (by_kind, [o for o in outcomes
                                                        if o.what == "port"][:3])
        exhausted = [o for o in outcomes if o.error_type == "IpAddressGenerationFailure"]
        assert len(exhausted) == PORT_CLIENTS
        other_ports = [o for o in outcomes if o.what == "port" and o.status == 201
                       and o.body["port"]["network_id"] != pool_net]
        assert len(other_ports) == AUTO_NETWORKS * SUBNETS_PER_NETWORK

        with c.client(1) as api:
            listed = checked(api.get("/ports", params={"network_id": pool_net}))["ports"]
            assert sorted(p["id"] for p in listed) == sorted(
                o.body["port"]["id"] for o in pool_ports)
            ips = [ip["ip_address"] for p in listed for ip in p["fixed_ips"]]
            assert len(ips) == pool_size and len(set(ips)) == pool_size, Counter(ips)
            pools = [(ipaddress.ip_address(p["start"]), ipaddress.ip_address(p["end"]))
                     for p in subnet["allocation_pools"]]
            assert all(any(s <= ipaddress.ip_address(ip) <= e for s, e in pools)
                       for ip in ips)
            for net in created_networks:
                net_ips = [(ip["subnet_id"], ip["ip_address"]) for p in checked(api.get(
                    "/ports", params={"network_id": net}))["ports"] for ip in p["fixed_ips"]]
                assert len(net_ips) == len(set(net_ips)), net_ips

            by_network = assert_listings_agree(api, agent_ids)
            # Automatic placement only: exactly dhcp_agents_per_network (4 live agents).
            for net in [pool_net, *created_networks]:
                assert len(by_network[net]) == PER_NETWORK, (net, by_network[net])
            # Manual adds may exceed it, but bind each agent once: here every agent.
            for net in manual:
                assert sorted(by_network[net]) == agent_ids, (net, by_network[net])
            adds = Counter(o.body["pair"] for o in outcomes
                           if o.what == "add" and o.status == 201)
            assert all(v == 1 for v in adds.values()), adds

        print(f"\n[{backend}] storm: {len(outcomes)} HTTP requests in {storm_seconds:.1f}s, "
              f"{dict(by_kind)}")


# -- HA failover with two monitors ------------------------------------------------------------

HA_DOWN_TIME = 4
HA_NETWORKS = 6
MOVED = re.compile(r"moved (\d+) network\(s\) off dead DHCP agent (\S+) on")


@pytest.mark.parametrize("backend", BACKENDS)
def test_dead_agent_networks_move_exactly_once(backend: str, tmp_path: Path) -> None:
    tag = secrets.token_hex(3)
    hosts = [f"dhcp-{tag}-{i}" for i in range(3)]
    with cluster(backend, tmp_path, hosts, agent_down_time=HA_DOWN_TIME) as c, \
            ExitStack() as listeners:
        recorders = {h: CastRecorder(h) for h in hosts}
        for h, rec in recorders.items():
            listeners.callback(serve_dhcp_agent(c.transport, h, rec).stop)
        agent_ids = sorted(c.agent_ids.values())

        def make(i: int) -> list[Outcome]:
            with c.client(i) as api:
                net = checked(api.post("/networks", json={"network": {
                    "name": f"ha-{tag}-{i}"}}), 201)["network"]["id"]
                checked(api.post("/subnets", json={"subnet": {
                    "network_id": net, "ip_version": 4, "cidr": f"10.60.{i}.0/24"}}), 201)
            return []
        run_all([lambda i=i: make(i) for i in range(HA_NETWORKS)], HA_NETWORKS)

        with c.client(0) as api:
            before = assert_listings_agree(api, agent_ids)
        assert all(len(v) == PER_NETWORK for v in before.values()), before
        dead_host = max(hosts, key=lambda h: sum(c.agent_ids[h] in v
                                                 for v in before.values()))
        dead = c.agent_ids[dead_host]
        on_dead = sorted(n for n, v in before.items() if dead in v)
        assert on_dead

        # The scheduling casts of the set-up are in; count only what the failover sends.
        time.sleep(2)
        mark = time.monotonic()
        c.agents.pause(dead_host)

        with c.client(1) as api:
            wait_for(lambda: not checked(api.get(f"/agents/{dead}/dhcp-networks"))["networks"],
                     HA_DOWN_TIME + 30, "the dead agent's networks to move")
            moved_at = time.monotonic()
            assert checked(api.get(f"/agents/{dead}"))["agent"]["alive"] is False
            # Both monitors keep ticking: a few more ticks must change nothing.
            time.sleep(4)
            after = assert_listings_agree(api, agent_ids)

        survivors = [c.agent_ids[h] for h in hosts if h != dead_host]
        for net in before:
            if net in on_dead:
                # Exactly its slot refilled: the other agent kept, the third one added.
                assert sorted(after[net]) == sorted(survivors), (net, before[net], after[net])
            else:
                assert after[net] == before[net], (net, before[net], after[net])

        creates = Counter((h, p["network"]["id"]) for h, rec in recorders.items()
                          for t, name, p in list(rec.casts)
                          if t > mark and name == constants.NETWORK_CREATE_END)
        expected = Counter()
        for net in on_dead:
            (new,) = set(after[net]) - set(before[net])
            expected[(next(h for h, i in c.agent_ids.items() if i == new), net)] = 1
        assert creates == expected
        # One move per network across both replicas' monitors.
        moves = [(int(n), agent) for n, agent in MOVED.findall(c.logs())]
        assert sum(n for n, agent in moves if agent == dead) == len(on_dead), moves
        print(f"\n[{backend}] {len(on_dead)} network(s) moved off {dead_host} "
              f"{moved_at - mark:.1f}s after its last heartbeat stopped; monitor moves {moves}")


# -- regression: the insert-or-skip behind port creation --------------------------------------

@pytest.mark.parametrize("backend", ["sqlite", *BACKENDS])
def test_insert_row_unless_duplicate_says_whether_it_inserted(backend: str,
                                                             tmp_path: Path) -> None:
    """Found by the storm above: on PostgreSQL (psycopg 3, SQLAlchemy 2.1) an INSERT's
    rowcount is -1, so every port create drew a second MAC for the same port id and failed
    with a 409 Conflict (ports_pkey). The answer must come from the database itself."""
    table = sa.Table("nt_regression", sa.MetaData(),
                     sa.Column("id", sa.String(36), primary_key=True),
                     sa.Column("mac", sa.String(17), nullable=False, unique=True))
    with scratch_database_url(backend, tmp_path) as url:
        db = Database(DatabaseSettings(url))
        try:
            db.transaction(lambda s: table.create(s.connection()))

            def attempt(row_id: str, mac: str) -> bool:
                return db.transaction(lambda s: insert_row_unless_duplicate(
                    s, table, {"id": row_id, "mac": mac}, conflict_on=("mac",)))
            assert attempt("a", "fa:16:3e:00:00:01") is True
            assert attempt("b", "fa:16:3e:00:00:01") is False  # MAC taken: skipped
            assert attempt("c", "fa:16:3e:00:00:02") is True
            rows = db.transaction(lambda s: s.execute(
                sa.select(table.c.id).order_by(table.c.id)).scalars().all(), readonly=True)
            assert rows == ["a", "c"]
        finally:
            db.dispose()
