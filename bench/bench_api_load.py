"""API throughput under a mixed load, against a real `neutrino-server` (issue 17).

For each database (SQLite, and PostgreSQL in a database of its own, dropped afterwards): a
server with its own state directory and RabbitMQ vhost, two fake DHCP agents reporting state
and consuming their casts, a network with `--ports` ports, then `--clients` client processes
for `--duration` seconds with the mix 30% list ports of the network, 20% show port,
10% list networks, 20% create port, 10% delete port, 10% update port. Then one client alone:
show port, a list of 1,000 ports, and `limit=50` on a network of `--fill` ports (inserted by
SQL, not the API). Every figure is printed beside the issue's target.

    python bench/bench_api_load.py [--db sqlite,postgresql] [--duration 30] [--clients 8]
        [--ports 300] [--workers N] [--fill 100000] [--set SECTION.key=value] [--profile]

`--profile` samples the server's processes with py-spy during the load and prints the
functions holding the most samples. Everything made is removed at the end: the server
(and its workers), the temp directory, the vhost, the PostgreSQL database.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, insert, text

from neutrino.conf.settings import RpcSettings
from neutrino.db import models
from neutrino.lib import constants as const
from neutrino.rpc.agent.clients import StateReportClient, serve_dhcp_agent
from neutrino.rpc.transport import get_transport

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.rabbit import RabbitVhost  # noqa: E402
from support.server import ADMIN, NeutrinoServer  # noqa: E402

POSTGRESQL = os.environ.get("NEUTRINO_TEST_POSTGRESQL_URL",
                            "postgresql://postgres@127.0.0.1:5432/postgres")
MIX = (("list_ports", 30), ("show_port", 20), ("list_networks", 10), ("create_port", 20),
       ("delete_port", 10), ("update_port", 10))


# --- the database, the server, the agents ---------------------------------------------

@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'neutrino.sqlite'}"
        return
    name = "nt_bench_" + secrets.token_hex(5)
    admin = create_engine(POSTGRESQL.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            base = POSTGRESQL.rsplit("/", 1)[0]
            yield f"{base}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


class NullCasts:
    """A DHCP agent that takes every cast and does nothing: the server's side is measured."""

    def __getattr__(self, name: str) -> Any:
        return lambda payload: None


class FakeDhcpAgents:
    """`count` DHCP agents reporting every `interval` s and listening for their casts."""

    def __init__(self, transport_url: str, count: int = 2, interval: float = 2.0) -> None:
        self.transport = get_transport(RpcSettings(transport_url))
        self.hosts = [f"bench-dhcp-{i}" for i in range(count)]
        self.interval = interval
        self.stopping = threading.Event()
        self.listeners = [serve_dhcp_agent(self.transport, h, NullCasts())  # type: ignore
                          for h in self.hosts]
        self.clients = [StateReportClient(self.transport, h, timeout=10) for h in self.hosts]
        self.report(start=True)
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def report(self, start: bool = False) -> None:
        for client in self.clients:
            client.report_state({
                "binary": const.BINARY_DHCP, "topic": const.TOPIC_DHCP_AGENT,
                "agent_type": const.AGENT_TYPE_DHCP, "availability_zone": "nova",
                "configurations": {"networks": 1, "subnets": 1, "ports": 0,
                                   "dhcp_driver": "dnsmasq", "dhcp_lease_time": 86400,
                                   "use_namespaces": True}}, start)

    def loop(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.report()
            except Exception as err:  # noqa: BLE001 - a missed report is not the measure
                print(f"  (agent report failed: {err})", file=sys.stderr)

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        for listener in self.listeners:
            listener.stop()
        self.transport.cleanup()


# --- HTTP -------------------------------------------------------------------------------

class Client:
    def __init__(self, url: str, token: str = "") -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.token = token

    def call(self, method: str, path: str, body: Any = None, parse: bool = True
             ) -> tuple[int, Any, Any]:
        """`parse=False`: the body is read but not decoded (the load measures the server;
        decoding a list of ports costs a client as much as the server spends on it)."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.token:
            headers["X-Auth-Token"] = self.token
        data = json.dumps(body).encode() if body is not None else None
        try:
            self.conn.request(method, path, data, headers)
            resp = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # a dropped keep-alive connection: once more on a new one
            self.conn.request(method, path, data, headers)
            resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw and parse else None, resp.headers


def get_token(url: str) -> str:
    user, password, project = ADMIN
    status, _, headers = Client(url).call("POST", "/v3/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "password": password, "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": project, "domain": {"name": "Default"}}}}})
    assert status == 201, status
    return headers["X-Subject-Token"]


def setup_network(client: Client, ports: int, cidr: str = "10.0.0.0/16") -> tuple[str, list[str]]:
    status, body, _ = client.call("POST", "/v2.0/networks", {"network": {"name": "bench"}})
    assert status == 201, body
    net = body["network"]["id"]
    status, body, _ = client.call("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net, "cidr": cidr, "ip_version": 4}})
    assert status == 201, body
    ids: list[str] = []
    while len(ids) < ports:
        count = min(100, ports - len(ids))
        status, body, _ = client.call("POST", "/v2.0/ports", {"ports": [
            {"network_id": net} for _ in range(count)]})
        assert status == 201, body
        ids += [p["id"] for p in body["ports"]]
    return net, ids


def fill_ports(db_url: str, network: str, count: int) -> None:
    """`count` bare ports on `network`, straight into the tables (the API would take long)."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    try:
        with engine.begin() as conn:
            project = conn.execute(text("SELECT project_id FROM networks WHERE id = :id"),
                                   {"id": network}).scalar_one()
            for start in range(0, count, 5000):
                conn.execute(insert(models.Port), [{
                    "id": str(uuid.uuid4()), "project_id": project, "network_id": network,
                    "name": "", "mac_address": "fa:17:" + ":".join(
                        f"{i >> shift & 255:02x}" for shift in (24, 16, 8, 0)),
                    "admin_state_up": True, "status": "DOWN", "device_id": "",
                    "device_owner": "", "dns_name": "", "host_id": "", "vnic_type": "normal",
                    "vif_type": "unbound", "profile": "{}", "vif_details": "{}",
                    "description": "", "created_at": now, "updated_at": now,
                    "revision_number": 1} for i in range(start, min(count, start + 5000))])
        if engine.dialect.name == "postgresql":
            # As autovacuum would soon: the planner's statistics know the new rows.
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE ports"))
    finally:
        engine.dispose()


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by `pid` and its children (the API workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    total = 0
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


# --- the load ---------------------------------------------------------------------------

def client_loop(url: str, token: str, network: str, ports: list[str], seconds: float,
                seed: int, out: Any) -> None:
    rng = random.Random(seed)
    client = Client(url, token)
    ops = [name for name, weight in MIX for _ in range(weight)]
    mine: list[str] = []  # ports this client created: the ones it deletes
    samples: list[tuple[str, float, int]] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        op = rng.choice(ops)
        if op == "delete_port" and not mine:
            op = "create_port"
        start = time.perf_counter()
        if op == "list_ports":
            status, _, _ = client.call("GET", f"/v2.0/ports?network_id={network}", parse=False)
        elif op == "show_port":
            status, _, _ = client.call("GET", f"/v2.0/ports/{rng.choice(ports)}", parse=False)
        elif op == "list_networks":
            status, _, _ = client.call("GET", "/v2.0/networks", parse=False)
        elif op == "create_port":
            status, body, _ = client.call("POST", "/v2.0/ports",
                                          {"port": {"network_id": network}})
            if status == 201:
                mine.append(body["port"]["id"])
        elif op == "delete_port":
            status, _, _ = client.call("DELETE", f"/v2.0/ports/{mine.pop()}", parse=False)
        else:
            status, _, _ = client.call("PUT", f"/v2.0/ports/{rng.choice(ports)}",
                                       {"port": {"name": f"p{rng.randrange(1000)}"}},
                                       parse=False)
        samples.append((op, (time.perf_counter() - start) * 1000, status))
    # Reported before the clean-up, which is not part of the load's time.
    out.put((samples, len(mine)))
    for port in mine:
        client.call("DELETE", f"/v2.0/ports/{port}", parse=False)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


def line(name: str, value: str, target: str = "", ok: bool | None = None) -> None:
    verdict = "" if ok is None else ("ok" if ok else "MISS")
    print(f"  {name:<44} {value:>22}   {target:<22} {verdict}")


def run_load(url: str, token: str, network: str, ports: list[str], args: argparse.Namespace,
             server_pid: int) -> None:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=client_loop, args=(url, token, network, ports, args.duration,
                                                     i, out)) for i in range(args.clients)]
    profiler = start_profile(server_pid, args.duration) if args.profile else None
    started, cpu = time.monotonic(), server_cpu(server_pid)
    for proc in procs:
        proc.start()
    samples: list[tuple[str, float, int]] = []
    grown = 0
    for _ in procs:
        done, kept = out.get()
        samples += done
        grown += kept
    elapsed = time.monotonic() - started
    cpu = server_cpu(server_pid) - cpu
    for proc in procs:
        proc.join()
    errors = Counter((op, status) for op, _, status in samples if status >= 400)
    total = [ms for _, ms, _ in samples]
    rate = len(samples) / elapsed
    print(f"  {args.clients} clients, {elapsed:.0f} s, {len(samples)} requests, "
          f"errors {dict(errors) or 'none'}; the listed network grew from {len(ports)} "
          f"to {len(ports) + grown} ports")
    line("requests/s", f"{rate:.1f}", ">= 300", rate >= 300)
    line("p50 / p99 (ms)", f"{pct(total, .5):.1f} / {pct(total, .99):.1f}", "p99 <= 100",
         pct(total, .99) <= 100)
    line("server CPU (ms per request)", f"{cpu * 1000 / max(len(samples), 1):.2f}")
    by_op: dict[str, list[float]] = defaultdict(list)
    for op, ms, _ in samples:
        by_op[op].append(ms)
    for op, _ in MIX:
        values = by_op.get(op, [])
        line(f"  {op} p50 / p99 (ms, n={len(values)})",
             f"{pct(values, .5):.1f} / {pct(values, .99):.1f}")
    if profiler is not None:
        print_profile(*profiler)


# --- profile ----------------------------------------------------------------------------

def start_profile(pid: int, seconds: float) -> tuple[subprocess.Popen[bytes], Path]:
    out = Path(tempfile.mkstemp(prefix="neutrino-profile-", suffix=".txt")[1])
    # --gil: the thread running Python code, not those waiting on the database (py-spy
    # counts a thread in psycopg's wait as busy: a third of the samples on PostgreSQL).
    proc = subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--format", "raw", "--gil",
         "--duration", str(max(1, int(seconds) - 1)), "--rate", "200", "--nonblocking",
         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, out


def _frame(raw: str) -> str:
    """`func (/long/path/site-packages/pkg/mod.py:12)` as `func (pkg/mod.py:12)`."""
    name, _, where = raw.partition(" (")
    for cut in ("site-packages/", "/src/", "lib/python3.11/"):
        if cut in where:
            where = where.split(cut, 1)[1]
            break
    return f"{name} ({where}" if where else name


def print_profile(proc: subprocess.Popen[bytes], out: Path, top: int = 25) -> None:
    proc.wait(60)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for row in out.read_text().splitlines():
        stack, _, count = row.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [_frame(f) for f in stack.split(";")]
        n = int(count)
        total += n
        # Idle threads (waiting on a lock, a socket, a queue) are not CPU. An API request
        # thread waits for work in C (SimpleQueue.get), so only its own frame shows it.
        if any(w in stack for w in ("wait (threading", "select (selectors", "_recv_into",
                                    "poll (", "sleep", "get (queue")) or \
                frames[-1].startswith("_worker (concurrent/futures/thread.py"):
            continue
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    out.unlink(missing_ok=True)
    busy = sum(own.values()) or 1
    print(f"  profile: {busy} busy samples of {total}; top functions by own samples:")
    for name, n in own.most_common(top):
        print(f"    {100 * n / busy:5.1f}%  {name}")
    print("  top by inclusive samples (neutrino code):")
    shown = [(k, n) for k, n in inclusive.most_common() if "(neutrino/" in k]
    for name, n in shown[:top]:
        print(f"    {100 * n / busy:5.1f}%  {name}")


# --- single client ----------------------------------------------------------------------

def timed(client: Client, method: str, path: str, repeat: int, body: Any = None
          ) -> list[float]:
    result = []
    for _ in range(repeat):
        start = time.perf_counter()
        status, _, _ = client.call(method, path, body, parse=False)
        result.append((time.perf_counter() - start) * 1000)
        assert status < 400, (path, status)
    return result


def single_client(url: str, token: str, db_url: str, ports: list[str],
                  args: argparse.Namespace, server_pid: int) -> None:
    client = Client(url, token)
    print("  one client:")
    show = timed(client, "GET", f"/v2.0/ports/{ports[0]}", 200)
    line("show port p50 (ms)", f"{pct(show, .5):.2f}", "<= 2", pct(show, .5) <= 2)
    big, _ = setup_network(client, 1000, "10.1.0.0/16")
    whole = timed(client, "GET", f"/v2.0/ports?network_id={big}", 10)
    line("list 1,000 ports p50 (ms)", f"{pct(whole, .5):.1f}", "<= 30", pct(whole, .5) <= 30)
    create = timed(client, "POST", "/v2.0/ports", 50, {"port": {"network_id": big}})
    line("create port p50 (ms)", f"{pct(create, .5):.1f}", "<= 17 (before)",
         pct(create, .5) <= 17)
    # The server's CPU per operation of the mix, one at a time: where a request's cost is.
    costs = []
    for op, method, path, body in (
            ("show_port", "GET", f"/v2.0/ports/{ports[0]}", None),
            ("list_ports", "GET", f"/v2.0/ports?network_id={big}", None),
            ("list_networks", "GET", "/v2.0/networks", None),
            ("create_port", "POST", "/v2.0/ports", {"port": {"network_id": big}}),
            ("update_port", "PUT", f"/v2.0/ports/{ports[1]}", {"port": {"name": "cpu"}})):
        repeat = 20 if op == "list_ports" else 100
        cpu = server_cpu(server_pid)
        timed(client, method, path, repeat, body)
        costs.append(f"{op} {(server_cpu(server_pid) - cpu) * 1000 / repeat:.2f}")
    print(f"  server CPU (ms per request): {', '.join(costs)} (list_ports of 1,050 ports)")
    if args.fill:
        status, body, _ = client.call("POST", "/v2.0/networks", {"network": {"name": "fill"}})
        assert status == 201, body
        fill_net = body["network"]["id"]
        started = time.monotonic()
        fill_ports(db_url, fill_net, args.fill)
        print(f"  ({args.fill} ports inserted by SQL in {time.monotonic() - started:.0f} s)")
        paged = timed(client, "GET", f"/v2.0/ports?network_id={fill_net}&limit=50", 5)
        line(f"limit=50 of {args.fill} ports p50 (ms)", f"{pct(paged, .5):.1f}", "<= 10",
             pct(paged, .5) <= 10)
        small = timed(client, "GET", f"/v2.0/ports?network_id={big}&limit=50", 10)
        line("limit=50 of 1,050 ports p50 (ms)", f"{pct(small, .5):.1f}")


# --- main -------------------------------------------------------------------------------

def bench(kind: str, args: argparse.Namespace) -> None:
    print(f"\n== {kind}, api_workers = {args.workers or 'the default'}, "
          f"{os.cpu_count()} CPUs")
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="neutrino-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        db_url = stack.enter_context(database(kind, workdir))
        vhost = stack.enter_context(RabbitVhost("neutrino-bench"))
        options: dict[str, dict[str, Any]] = {
            "DEFAULT": {"debug": "false", "agent_down_time": 30},
            "quotas": {"quota_port": -1, "quota_network": -1, "quota_subnet": -1}}
        if args.workers:
            options["DEFAULT"]["api_workers"] = args.workers
        for setting in args.set:
            name, _, value = setting.partition("=")
            section, _, key = name.rpartition(".")
            options.setdefault(section or "DEFAULT", {})[key] = value
        server = stack.enter_context(NeutrinoServer(
            workdir / "server", transport_url=vhost.url, database_url=db_url,
            options=options))
        agents = FakeDhcpAgents(vhost.url)
        stack.callback(agents.stop)
        token = get_token(server.url)
        client = Client(server.url, token)
        started = time.monotonic()
        network, ports = setup_network(client, args.ports)
        print(f"  network with {len(ports)} ports made in {time.monotonic() - started:.1f} s")
        assert server.process is not None
        run_load(server.url, token, network, ports, args, server.process.pid)
        single_client(server.url, token, db_url, ports, args, server.process.pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="sqlite,postgresql",
                        help="comma-separated: sqlite, postgresql")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--ports", type=int, default=300)
    parser.add_argument("--workers", type=int, default=0,
                        help="api_workers (default: the server's own default)")
    parser.add_argument("--fill", type=int, default=100000,
                        help="ports inserted by SQL into one network for limit=50 (0: skip)")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.key=value",
                        help="a server option, e.g. DEFAULT.wsgi_default_pool_size=8")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the server processes during the load")
    args = parser.parse_args()
    # The server from this interpreter's installation, not another one earlier on PATH.
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    if args.profile and shutil.which("py-spy") is None:
        sys.exit(f"--profile needs py-spy: {Path(sys.executable).parent}/pip install py-spy")
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        bench(kind, args)


if __name__ == "__main__":
    main()
