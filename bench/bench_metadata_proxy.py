"""What the metadata service costs a host with N networks (1,000 by default), both ways:

  * one proxy for the host (what the DHCP agent runs): a listening socket on
    169.254.169.254:80 made inside each of N namespaces, all served by this one process;
    its memory, threads, file descriptors and extra processes, the time to open the N
    listeners, and requests through it (VM address in a namespace -> proxy -> a stand-in
    Nova on loopback that checks the signature);
  * one proxy process per network: `--sample` such processes, each the same proxy serving
    one namespace, and (when installed) as many haproxy processes, Neutron's per-network
    proxy, measured (PSS: shared pages counted once) and scaled to N.

Run as root:  python bench/bench_metadata_proxy.py [--networks 1000] [--sample 20]
Namespaces live in a fresh directory (not /run/netns) and are removed, pass or fail.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from neutrino.agent.dhcp.metadata import MetadataProxy
from neutrino.agent.dhcp.plan import METADATA_IP, Instance
from neutrino.conf.settings import MetadataSettings
from neutrino.linux import links, netns
from neutrino.linux.host import HostNamespaces, socket_in

SECRET = "bench-secret"
VM_IP = "10.0.0.5"

_ONE_PROXY = """
import sys
from neutrino.agent.dhcp.metadata import MetadataProxy
from neutrino.agent.dhcp.plan import Instance
from neutrino.conf.settings import MetadataSettings
proxy = MetadataProxy(MetadataSettings(nova_port=int(sys.argv[2]), shared_secret=sys.argv[3]))
proxy.start()
proxy.serve("net", sys.argv[1], {"10.0.0.5": Instance("i", "p")})
print("ready", flush=True)
sys.stdin.read()
"""

# As lean as a per-network haproxy gets: one listener, one backend.
_HAPROXY = """global
    maxconn 1024
defaults
    mode http
    timeout connect 30s
    timeout client 32s
    timeout server 32s
listen metadata
    bind 169.254.169.254:80
    http-request add-header X-Neutron-Network-ID {network}
    server nova 127.0.0.1:8775
"""


def report(name: str, value: float, unit: str, target: str = "", ok: bool | None = None
           ) -> None:
    verdict = "" if ok is None else ("ok" if ok else "MISS")
    print(f"{name:<56} {value:>10.1f} {unit:<8} {target:<14} {verdict}", flush=True)


def status(pid: int | str, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def pss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))


def fds() -> int:
    return len(os.listdir("/proc/self/fd"))


class Nova(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        instance = self.headers.get("X-Instance-ID", "")
        expected = hmac.new(SECRET.encode(), instance.encode(), hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, self.headers.get("X-Instance-ID-Signature", ""))
        body = b'{"uuid": "%s"}' % instance.encode() if ok else b"{}"
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def fetch(path: str) -> int:
    """GET through the proxy from the VM address inside the namespace at `path`."""
    sock = socket_in(path, socket.AF_INET, socket.SOCK_STREAM, 0)
    try:
        sock.settimeout(10)
        sock.bind((VM_IP, 0))
        sock.connect((METADATA_IP, 80))
        sock.sendall(b"GET /openstack/latest/meta_data.json HTTP/1.0\r\n"
                     b"Host: 169.254.169.254\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    finally:
        sock.close()
    return int(data.split(b" ", 2)[1])


def wait_listening(path: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        sock = socket_in(path, socket.AF_INET, socket.SOCK_STREAM, 0)
        try:
            sock.connect((METADATA_IP, 80))
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        finally:
            sock.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="bench-metadata-")
    host = HostNamespaces(None, os.path.join(work, "netns"))
    names = [f"qdhcp-bench{i:05d}" for i in range(args.networks)]
    made: list[str] = []
    nova = ThreadingHTTPServer(("127.0.0.1", 0), Nova)
    threading.Thread(target=nova.serve_forever, daemon=True).start()
    children: list[subprocess.Popen[str]] = []
    proxy = MetadataProxy(MetadataSettings(nova_port=nova.server_address[1],
                                           shared_secret=SECRET))
    try:
        start = time.monotonic()
        for name in names:
            made.append(netns.ensure_namespace(host, name))
            links.set_up(host, "lo", name)
            links.set_addresses(host, "lo", [f"{METADATA_IP}/32", f"{VM_IP}/32"], name)
        report(f"{args.networks} namespaces made (set-up, not measured)",
               time.monotonic() - start, "s")

        rss0, threads0, fds0 = status("self", "VmRSS"), status("self", "Threads"), fds()
        proxy.start()
        start = time.monotonic()
        for i, path in enumerate(made):
            proxy.serve(f"net{i}", path, {VM_IP: Instance(f"inst-{i}", "p")})
        opened = time.monotonic() - start
        latencies = []
        for i in range(args.requests):
            t = time.monotonic()
            code = fetch(made[i % len(made)])
            latencies.append((time.monotonic() - t) * 1000)
            assert code == 200, code
        rss = status("self", "VmRSS") - rss0
        print(f"One proxy for the host, {args.networks} networks:")
        report("  extra processes", 0, "", "0", True)
        report("  memory (RSS growth of the agent's process)", rss / 1024, "MiB")
        report("  memory per network", rss / args.networks, "KiB")
        report("  threads added", status("self", "Threads") - threads0, "")
        report("  file descriptors added (one listener per network)", fds() - fds0, "")
        report(f"  open {args.networks} listeners", opened, "s")
        report("  request via proxy to Nova, p50", statistics.median(latencies), "ms",
               "< 10 ms", statistics.median(latencies) < 10)
        report("  request via proxy to Nova, p99",
               statistics.quantiles(latencies, n=100)[98], "ms")

        proxy.stop()  # the per-network processes take over the same addresses
        for path in made[:args.sample]:
            children.append(subprocess.Popen(
                [sys.executable, "-c", _ONE_PROXY, path, str(nova.server_address[1]), SECRET],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        assert fetch(made[0]) == 200
        pss = [pss_kb(c.pid) for c in children]
        rss_each = [status(c.pid, "VmRSS") for c in children]
        per = statistics.mean(pss)
        print(f"One proxy process per network ({args.sample} measured, scaled to "
              f"{args.networks}):")
        report("  extra processes", args.networks, "")
        report("  PSS per process", per / 1024, "MiB")
        report("  RSS per process", statistics.mean(rss_each) / 1024, "MiB")
        report(f"  memory for {args.networks} networks (PSS x N)",
               per * args.networks / 1024, "MiB")
        for child in children:
            child.kill()
            child.wait()
        children.clear()
        haproxy = shutil.which("haproxy")
        if haproxy:
            for i, path in enumerate(made[:args.sample]):
                conf = os.path.join(work, f"haproxy{i}.cfg")
                with open(conf, "w") as f:
                    f.write(_HAPROXY.format(network=f"net{i}"))
                children.append(subprocess.Popen(
                    ["nsenter", f"--net={path}", haproxy, "-db", "-f", conf],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, text=True))
            for path in made[:args.sample]:
                wait_listening(path)
            pss = [pss_kb(c.pid) for c in children]
            print(f"One haproxy per network, as Neutron ({args.sample} measured, scaled to "
                  f"{args.networks}):")
            report("  extra processes", args.networks, "")
            report("  PSS per process", statistics.mean(pss) / 1024, "MiB")
            report(f"  memory for {args.networks} networks (PSS x N)",
                   statistics.mean(pss) * args.networks / 1024, "MiB")
        return 0
    finally:
        for child in children:
            child.kill()
            child.wait()
        proxy.stop()
        nova.shutdown()
        nova.server_close()
        for name in names[:len(made)]:
            netns.delete_namespace(host, name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
