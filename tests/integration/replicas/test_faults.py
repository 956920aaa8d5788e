"""Issue 13's fault test: a port storm through two server replicas while one replica is
killed -9, a DHCP agent is killed -9 and restarted, RabbitMQ closes every connection of the
test's vhost and the database is cut for a few seconds.

Afterwards every acknowledged port exists exactly once, no address is used twice, no
request got a 500, and every agent hosting a network serves (in its real dnsmasq hosts
file, in its own namespace) exactly the ports the database holds, within a generous wait
(polled, never timed: the time it took is printed as the figure to watch).

The agents are real `neutrino-dhcp-agent` processes acting in test namespaces, with their
default revision check and a full sync no sooner than the test lasts, so only casts,
recorded casts swept by the surviving replica, and revision checks can bring them the
ports.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from functional.conftest import scratch_database_url, selected_backends
from functional.test_silent_database import Relay
from support import netns as tn
from support.rabbit import RabbitVhost, rabbitmqctl
from support.server import ADMIN, NeutrinoServer, executable, render_config

from neutrino.db.engine import normalize_url
from neutrino.linux import dnsmasq

pytestmark = [pytest.mark.root, pytest.mark.rabbit, pytest.mark.db,
              pytest.mark.timeout(300)]

WALKTHROUGH_DHCP_INI = Path(__file__).resolve().parents[3] / "etc" / "walkthrough" / \
    "dhcp_agent.ini"
BACKENDS = [b for b in selected_backends() if b in ("sqlite", "postgresql")]
CLIENTS = 6
PACE = 0.1  # seconds between one client's requests: a storm, not a benchmark
FROZEN = 0.5  # seconds replica b's casts are held before it is killed
HTTP_TIMEOUT = 30.0
CONVERGE_TIMEOUT = 120.0  # generous: the target is seconds
AGENTS = ("HostA", "HostB")


class CuttableRelay(Relay):
    """The database relay, cut like a database restart: every connection reset and new
    ones refused until `restore()`."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.refusing = threading.Event()
        super().__init__(upstream)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refusing.is_set():
                client.close()
                continue
            client.settimeout(None)
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            self.sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                thread = threading.Thread(target=self._pump, args=(src, dst), daemon=True)
                self.threads.append(thread)
                thread.start()

    def cut(self) -> None:
        self.refusing.set()
        for sock in list(self.sockets):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def restore(self) -> None:
        self.refusing.clear()
        self.flowing.set()


# -- the cluster ------------------------------------------------------------------------------

@dataclass
class Agent:
    host: str
    netns: str
    state: str
    conf: str
    log: str
    process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [executable("neutrino-dhcp-agent"), "--config-file", self.conf,
                 "--config-file", str(WALKTHROUGH_DHCP_INI)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)
        self.process = None

    def hosts_file(self, network_id: str) -> set[tuple[str, str]]:
        """(mac, ip) of every line of the network's dnsmasq hosts file."""
        try:
            text = Path(self.state, "dhcp", network_id, "host").read_text()
        except OSError:
            return set()
        entries = set()
        for line in text.splitlines():
            fields = line.split(",")
            if len(fields) >= 3:
                entries.add((fields[0].lower(), fields[2].strip("[]")))
        return entries

    def serving(self, network_id: str) -> bool:
        return bool(dnsmasq.find(os.path.join(self.state, "dhcp", network_id, "pid")))

    def kill_dnsmasqs(self) -> None:
        root = os.path.join(self.state, "dhcp")
        for net in os.listdir(root) if os.path.isdir(root) else []:
            tn.kill_pid_file(os.path.join(root, net, "pid"), "dnsmasq")


@dataclass
class Cluster:
    replicas: list[NeutrinoServer]
    agents: dict[str, Agent]
    token: str
    cut_database: Callable[[], None]
    restore_database: Callable[[], None]
    vhost: str
    broker_relay: CuttableRelay  # replica b's way to RabbitMQ
    alive: list[int] = field(default_factory=lambda: [0, 1])

    def client(self, i: int) -> httpx.Client:
        return httpx.Client(base_url=self.replicas[i].url + "/v2.0", timeout=HTTP_TIMEOUT,
                            headers={"X-Auth-Token": self.token})

    def kill_replica_b(self) -> float:
        """kill -9 of replica b's whole process group (its API workers too), at the worst
        moment: it has committed ports and handed their casts to its broker connection,
        which has not passed them on yet (frozen); they die with it. Returns when its
        casts stopped going out (time.monotonic)."""
        proc = self.replicas[1].process
        assert proc is not None
        self.broker_relay.flowing.clear()
        frozen = time.monotonic()
        time.sleep(FROZEN)
        self.alive.remove(1)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        self.broker_relay.cut()
        self.broker_relay.restore()
        return frozen

    def close_broker_connections(self) -> int:
        listed = rabbitmqctl("list_connections", "pid", "vhost").stdout.splitlines()
        pids = [line.split("\t")[0] for line in listed
                if line.split("\t")[-1].strip() == self.vhost]
        for pid in pids:
            rabbitmqctl("close_connection", pid, "fault test", check=False)
        return len(pids)


def admin_token(server: NeutrinoServer) -> str:
    user, password, project = ADMIN
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}}
    resp = httpx.post(server.url + "/v3/auth/tokens", json=body, timeout=HTTP_TIMEOUT)
    assert resp.status_code == 201, resp.text
    return resp.headers["X-Subject-Token"]


@contextmanager
def database(backend: str, tmp_path: Path, stack: ExitStack
             ) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """The servers' database URL and how to cut it and bring it back."""
    url = stack.enter_context(scratch_database_url(backend, tmp_path))
    if backend == "sqlite":
        # No network to cut: a writer holding the file's lock stops every other write.
        path = normalize_url(url).database
        holder: list[sqlite3.Connection] = []

        def cut() -> None:
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            holder.append(conn)

        def restore() -> None:
            while holder:
                conn = holder.pop()
                conn.execute("ROLLBACK")
                conn.close()
        stack.callback(restore)
        yield url, cut, restore
        return
    direct = normalize_url(url)
    relay = CuttableRelay((direct.host or "127.0.0.1", direct.port or 5432))
    stack.callback(relay.close)
    through = direct.set(host="127.0.0.1", port=relay.port)
    yield through.render_as_string(hide_password=False), relay.cut, relay.restore


@contextmanager
def cluster(backend: str, tmp_path: Path) -> Iterator[Cluster]:
    with ExitStack() as stack:
        res = stack.enter_context(tn.NetnsResources())
        vhost = stack.enter_context(RabbitVhost("nt-faults"))
        db_url, cut, restore = stack.enter_context(database(backend, tmp_path, stack))
        broker = normalize_url(vhost.url.replace("rabbit://", "postgresql://", 1))
        relay = CuttableRelay((broker.host or "127.0.0.1", broker.port or 5672))
        stack.callback(relay.close)
        relayed_url = vhost.url.replace(f"@{broker.host}:{broker.port}/",
                                        f"@127.0.0.1:{relay.port}/")
        options = {"DEFAULT": {"dhcp_agents_per_network": len(AGENTS), "api_workers": 1},
                   "identity": {"token_secret": "s" * 32},
                   "quotas": {"quota_port": -1}}
        replicas = [NeutrinoServer(tmp_path / f"replica-{n}", transport_url=url,
                                   database_url=db_url, agent_down_time=30,
                                   host=f"controller-{n}", options=options)
                    for n, url in (("a", vhost.url), ("b", relayed_url))]
        for replica in replicas:
            stack.callback(replica.stop)
            replica.start()  # one after the other: the first creates the schema
        agents: dict[str, Agent] = {}
        for host in AGENTS:
            netns = res.namespace("ntf-")
            state = res.directory(f"ntf{host}-")
            os.chmod(state, 0o755)  # dnsmasq reads its files after dropping root
            conf = os.path.join(state, "neutron.conf")
            Path(conf).write_text(render_config({
                "DEFAULT": {"host": host, "transport_url": vhost.url, "state_path": state,
                            "host_netns": netns, "netns_dir": os.path.join(state, "netns"),
                            # Retries of a failed network after 1 s; the periodic full sync
                            # only after the test (60 * 10 s).
                            "resync_interval": 10, "debug": "true"},
                "AGENT": {"report_interval": 5},
            }))
            agent = Agent(host, netns, state, conf, os.path.join(state, "agent.log"))
            agents[host] = agent
            # Stopped before the namespaces go: last registered runs first.
            res.defer(agent.kill_dnsmasqs)
            res.defer(agent.kill)
        result = Cluster(replicas, agents, admin_token(replicas[0]), cut, restore,
                         vhost.name, relay)
        try:
            yield result
        finally:
            for agent in agents.values():
                agent.kill()
                print(f"--- {agent.host} ---\n" + Path(agent.log).read_text(
                    errors="replace")[-6000:] if os.path.exists(agent.log) else "")
            for replica in replicas:
                print(f"--- {replica.host} ---\n" + replica.log_tail(80))


def checked(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, (resp.request.method, resp.request.url,
                                        resp.status_code, resp.text)
    return resp.json() if resp.content else None


# -- the storm --------------------------------------------------------------------------------

@dataclass
class Storm:
    cluster: Cluster
    networks: list[str]
    acknowledged: dict[str, dict] = field(default_factory=dict)  # name -> port
    via_b: list[dict] = field(default_factory=list)  # ports replica b acknowledged
    statuses: Counter = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)  # 5xx other than 503, bodies not Neutron's
    transport_errors: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client_loop(self, n: int) -> None:
        replica = n % 2
        api = self.cluster.client(replica)
        i = 0
        try:
            while not self.stop.is_set():
                if replica not in self.cluster.alive:
                    api.close()
                    replica = self.cluster.alive[0]
                    api = self.cluster.client(replica)
                name = f"c{n}-{i}"
                i += 1
                body = {"port": {"network_id": self.networks[i % len(self.networks)],
                                 "name": name}}
                try:
                    resp = api.post("/ports", json=body)
                except httpx.HTTPError:
                    with self.lock:
                        self.transport_errors += 1
                    time.sleep(0.2)
                    continue
                self.record(name, resp, replica)
                time.sleep(PACE)
        finally:
            api.close()

    def record(self, name: str, resp: httpx.Response, replica: int) -> None:
        with self.lock:
            self.statuses[resp.status_code] += 1
            if resp.status_code == 201:
                self.acknowledged[name] = resp.json()["port"]
                if replica == 1:
                    self.via_b.append(self.acknowledged[name])
                return
            try:
                error = resp.json()["NeutronError"]
                well_formed = bool(error["type"] and error["message"])
            except (ValueError, KeyError, TypeError):
                well_formed = False
            if resp.status_code == 500 or (resp.status_code >= 500 and
                                           resp.status_code != 503) or not well_formed:
                self.bad.append(f"{resp.status_code} {resp.text[:300]}")
        if resp.status_code == 503:
            time.sleep(0.2)


def wait_for_ports(storm: Storm, count: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while len(storm.acknowledged) < count:
        assert time.monotonic() < deadline, f"storm stalled: {storm.statuses}"
        time.sleep(0.1)


def time_to_serve(agent: Agent, ports: list[dict], since: float,
                  stop: threading.Event) -> None:
    """Prints how long after `since` the (never killed) agent served every one of `ports`
    (those of the killed replica, some of whose casts died with it)."""
    want = {(p["network_id"], p["mac_address"].lower(), ip["ip_address"])
            for p in ports for ip in p["fixed_ips"]}
    while want:
        for net in {n for n, _, _ in want}:
            served = agent.hosts_file(net)
            want = {w for w in want if w[0] != net or (w[1], w[2]) not in served}
        if stop.wait(0.1) and want:
            return
    print(f"{agent.host} served every port of the killed replica "
          f"{time.monotonic() - since:.1f} s after its casts stopped going out")


def differences(cluster: Cluster, networks: list[str]) -> list[str]:
    """What the hosting agents' dnsmasq hosts files lack or have too many of, against the
    database as the API shows it; empty once every agent has converged."""
    replica = cluster.alive[0]
    out = []
    with cluster.client(replica) as api:
        for net in networks:
            ports = checked(api.get("/ports", params={"network_id": net}))["ports"]
            want = {(p["mac_address"].lower(), ip["ip_address"]) for p in ports
                    for ip in p["fixed_ips"]}
            hosting = checked(api.get(f"/networks/{net}/dhcp-agents"))["agents"]
            hosts = sorted(a["host"] for a in hosting)
            if hosts != sorted(AGENTS):
                out.append(f"{net}: hosted by {hosts}")
            for host in hosts:
                have = cluster.agents[host].hosts_file(net)
                if have != want:
                    out.append(f"{net} on {host}: missing {len(want - have)}, "
                               f"extra {len(have - want)}")
    return out


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_change_reaches_every_agent_whatever_dies(backend: str, tmp_path: Path
                                                        ) -> None:
    with cluster(backend, tmp_path) as c:
        for agent in c.agents.values():
            agent.start()
        with c.client(0) as api:
            deadline = time.monotonic() + 60
            while True:
                listed = checked(api.get("/agents", params={"agent_type": "DHCP agent"}))
                if sorted(a["host"] for a in listed["agents"] if a["alive"]) == \
                        sorted(AGENTS):
                    break
                assert time.monotonic() < deadline, listed
                time.sleep(0.5)
            networks = []
            for k in range(2):
                net = checked(api.post("/networks", json={"network": {"name": f"f{k}"}}),
                              201)["network"]["id"]
                checked(api.post("/subnets", json={"subnet": {
                    "network_id": net, "cidr": f"10.{60 + k}.0.0/21", "ip_version": 4}}),
                    201)
                networks.append(net)
        tn.wait_for(lambda: all(a.serving(n) for a in c.agents.values() for n in networks),
                    timeout=90)

        storm = Storm(c, networks)
        clients = [threading.Thread(target=storm.client_loop, args=(n,), daemon=True)
                   for n in range(CLIENTS)]
        for thread in clients:
            thread.start()
        try:
            wait_for_ports(storm, 20)
            frozen = c.kill_replica_b()
            with storm.lock:
                last_of_b = list(storm.via_b)
            caught_up = threading.Thread(target=time_to_serve, daemon=True, args=(
                c.agents["HostA"], last_of_b, frozen, storm.stop))
            caught_up.start()
            wait_for_ports(storm, len(storm.acknowledged) + 10)
            c.agents["HostB"].kill()
            wait_for_ports(storm, len(storm.acknowledged) + 10)
            c.agents["HostB"].start()
            assert c.close_broker_connections() > 0
            wait_for_ports(storm, len(storm.acknowledged) + 10)
            c.cut_database()
            time.sleep(3)
            c.restore_database()
            wait_for_ports(storm, len(storm.acknowledged) + 20)
        finally:
            c.restore_database()
            storm.stop.set()
            for thread in clients:
                thread.join(HTTP_TIMEOUT + 10)
        stopped = time.monotonic()
        print(f"storm: {len(storm.acknowledged)} ports acknowledged, statuses "
              f"{dict(storm.statuses)}, {storm.transport_errors} connection errors")

        assert not storm.bad, storm.bad[:5]
        with c.client(0) as api:
            ports = [p for net in networks for p in checked(
                api.get("/ports", params={"network_id": net}))["ports"]]
        names = Counter(p["name"] for p in ports if p["name"])  # DHCP ports have none
        assert not [n for n, k in names.items() if k > 1]
        by_name = {p["name"]: p for p in ports}
        for name, port in storm.acknowledged.items():
            assert by_name.get(name, {}).get("id") == port["id"], name
        addresses = Counter((ip["subnet_id"], ip["ip_address"]) for p in ports
                            for ip in p["fixed_ips"])
        assert not [a for a, k in addresses.items() if k > 1]

        last: list[str] = []

        def converged() -> bool:
            last[:] = differences(c, networks)
            return not last
        try:
            tn.wait_for(converged, timeout=CONVERGE_TIMEOUT)
        except AssertionError:
            pytest.fail(f"agents did not converge: {last}")
        print(f"every hosting agent served the database {time.monotonic() - stopped:.1f} s "
              f"after the storm ended")
