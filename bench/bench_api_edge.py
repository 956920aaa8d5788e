"""The HTTP edge's cost per request (issue 17): many clients asking what costs the server
almost nothing below the edge, so what is measured is uvicorn, Starlette, authentication,
the access log, metrics and JSON encoding.

A real `neutrino-server` on SQLite (its own state directory and RabbitMQ vhost, so
`api_workers` is the machine's default), then `--clients` client processes for `--duration`
seconds per target, one target after the other, printing requests/s, latency and the server's
CPU time per request (user + system of the server and its workers, from /proc: the figure
that other load on the machine disturbs least):

- `extension`: `GET /v2.0/extensions/{alias}`, authenticated, no database;
- `show_port`: `GET /v2.0/ports/{id}`, one indexed read;
- `list_networks`: `GET /v2.0/networks` with `--networks` networks (a JSON list to encode);
- `list_ports`: `GET /v2.0/ports?network_id=` of a network of `--ports` ports.

    python bench/bench_api_edge.py [--duration 10] [--clients 8] [--networks 100]
        [--ports 300] [--workers N] [--profile extension]

`--profile TARGET` samples the server's processes with py-spy during that target's run.
Everything made is removed at the end (server, temp directory, vhost).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from bench_api_load import (  # noqa: E402
    Client,
    get_token,
    pct,
    print_profile,
    server_cpu,
    setup_network,
    start_profile,
)
from support.rabbit import RabbitVhost  # noqa: E402
from support.server import NeutrinoServer  # noqa: E402


def client_loop(url: str, token: str, path: str, seconds: float, out: Any) -> None:
    client = Client(url, token)
    samples: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        status, _, _ = client.call("GET", path)
        samples.append((time.perf_counter() - start) * 1000)
        errors += status >= 400
    out.put((samples, errors))


def run(url: str, token: str, name: str, path: str, args: argparse.Namespace,
        server_pid: int) -> None:
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=client_loop, args=(url, token, path, args.duration, out))
             for _ in range(args.clients)]
    profiler = start_profile(server_pid, args.duration) if args.profile == name else None
    started, cpu = time.monotonic(), server_cpu(server_pid)
    for proc in procs:
        proc.start()
    samples: list[float] = []
    errors = 0
    for _ in procs:
        got, failed = out.get()
        samples += got
        errors += failed
    for proc in procs:
        proc.join()
    elapsed = time.monotonic() - started
    per_request = (server_cpu(server_pid) - cpu) * 1000 / max(len(samples), 1)
    print(f"  {name:<14} {len(samples) / elapsed:8.1f} req/s   p50 {pct(samples, .5):6.2f} ms"
          f"   p99 {pct(samples, .99):6.2f} ms   server CPU {per_request:.3f} ms/request"
          f"   errors {errors}")
    if profiler is not None:
        print_profile(*profiler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--ports", type=int, default=300)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--profile", default="",
                        help="py-spy the server during this target: extension, show_port, "
                             "list_networks, list_ports")
    args = parser.parse_args()
    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"
    print(f"== edge, {args.clients} clients, api_workers = {args.workers or 'the default'}, "
          f"{os.cpu_count()} CPUs")
    with ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="neutrino-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        vhost = stack.enter_context(RabbitVhost("neutrino-bench"))
        options: dict[str, dict[str, Any]] = {
            "DEFAULT": {"debug": "false"},
            "quotas": {"quota_port": -1, "quota_network": -1, "quota_subnet": -1}}
        if args.workers:
            options["DEFAULT"]["api_workers"] = args.workers
        server = stack.enter_context(NeutrinoServer(
            workdir / "server", transport_url=vhost.url, options=options))
        token = get_token(server.url)
        client = Client(server.url, token)
        network, ports = setup_network(client, max(1, args.ports))
        for i in range(args.networks - 1):
            status, body, _ = client.call("POST", "/v2.0/networks",
                                          {"network": {"name": f"edge-{i}"}})
            assert status == 201, body
        assert server.process is not None
        for name, path in (("extension", "/v2.0/extensions/binding"),
                           ("show_port", f"/v2.0/ports/{ports[0]}"),
                           ("list_networks", "/v2.0/networks"),
                           ("list_ports", f"/v2.0/ports?network_id={network}")):
            run(server.url, token, name, path, args, server.process.pid)


if __name__ == "__main__":
    main()
