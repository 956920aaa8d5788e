"""DHCP agent figures on this machine: the real agent, namespaces and dnsmasq, the in-memory
plugin (`neutrino.agent.dhcp.fakes`) in place of the server, so the figures are the agent's
and the host's and not the broker's or the database's.

Prints each figure beside its target:
  * a new port answered: port cast reaching the agent -> dnsmasq OFFERs to that MAC (~20 ms),
    with a raw DISCOVER sender and with udhcpc (one attempt);
  * port changes per second one agent applies (200/s);
  * first start with N networks (spawning dnsmasq), and a restart adopting them (< 5 s for
    1,000; same pids, no respawn).

Run as root:  python bench/bench_dhcp_agent.py [--networks 100] [--ports 1000] [--trials 20]
Everything it makes lives under one fresh directory and is removed, pass or fail.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dhcp_probe  # noqa: E402

from neutrino.agent.dhcp.agent import DhcpAgent  # noqa: E402
from neutrino.agent.dhcp.executor import Applied, LinuxDhcpHost  # noqa: E402
from neutrino.agent.dhcp.fakes import FakeDhcpPlugin  # noqa: E402
from neutrino.agent.dhcp.plan import NetworkPlan, conf_files  # noqa: E402
from neutrino.conf.settings import AgentSettings, DhcpAgentSettings  # noqa: E402
from neutrino.lib import naming  # noqa: E402
from neutrino.linux import links, netns, process  # noqa: E402
from neutrino.linux.host import HostNamespaces  # noqa: E402


def report(name: str, value: float, unit: str, target: str, ok: bool | None) -> None:
    verdict = "" if ok is None else ("ok" if ok else "MISS")
    print(f"{name:<52} {value:>9.1f} {unit:<8} target {target:<12} {verdict}", flush=True)


class CountingHost:
    """The real `LinuxDhcpHost`, counting what it does (reconciles, dnsmasq actions)."""

    def __init__(self, inner: LinuxDhcpHost) -> None:
        self._inner = inner
        self.actions: dict[str, int] = {}

    def existing_networks(self) -> set[str]:
        return self._inner.existing_networks()

    def serving(self, network_id: str) -> int | None:
        return self._inner.serving(network_id)

    def apply(self, plan: NetworkPlan) -> Applied:
        applied = self._inner.apply(plan)
        key = applied.action.value
        self.actions[key] = self.actions.get(key, 0) + 1
        return applied

    def teardown(self, network_id: str) -> bool:
        return self._inner.teardown(network_id)

    def reset(self) -> None:
        self.actions = {}


class Lab:
    """One simulated host: its own network namespace, namespace directory and confs dir."""

    def __init__(self) -> None:
        self.base = tempfile.mkdtemp(prefix="nbench-")
        os.chmod(self.base, 0o755)  # dnsmasq re-reads its files as nobody
        self.ns_dir = os.path.join(self.base, "ns")
        self.confs = os.path.join(self.base, "confs")
        self.other_ns = HostNamespaces(None, os.path.join(self.base, "hostns"))
        os.makedirs(self.confs, mode=0o755)
        self.host_path = netns.ensure_namespace(self.other_ns, "host")
        self.host = HostNamespaces(self.host_path, self.ns_dir)
        self.plugin = FakeDhcpPlugin()
        self.agents: list[DhcpAgent] = []
        self.clients = 0

    def settings(self, threads: int) -> DhcpAgentSettings:
        agent = AgentSettings(host="BenchHost", state_path=self.base, report_interval=30,
                              host_netns=self.host_path, netns_dir=self.ns_dir)
        return DhcpAgentSettings(agent=agent, resync_interval=5, num_sync_threads=threads,
                                 confs_dir=self.confs, lease_duration=600)

    def agent(self, threads: int) -> tuple[DhcpAgent, CountingHost]:
        counting = CountingHost(LinuxDhcpHost(self.host, self.confs))
        agent = DhcpAgent(self.settings(threads), self.host, self.plugin, None,
                          dhcp_host=counting)
        self.agents.append(agent)
        return agent, counting

    def client(self, network_id: str, mac: str) -> str:
        """A 'VM' namespace whose eth0 (carrying `mac`) is cabled to the network's bridge."""
        self.clients += 1
        name = f"vm{self.clients}"
        netns.ensure_namespace(self.other_ns, name)
        outside = f"nbv{self.clients}"
        client_ns = HostNamespaces(None, self.other_ns.netns_dir)
        # The veth is made in the host's namespace with its peer in the client's.
        maker = HostNamespaces(self.host_path, self.other_ns.netns_dir)
        links.ensure_veth(maker, outside, "eth0", name, peer_mac=mac)
        links.enslave(maker, outside, naming.bridge_name(network_id))
        links.set_up(maker, outside)
        links.set_up(client_ns, "eth0", namespace=name)
        links.set_up(client_ns, "lo", namespace=name)
        getattr(maker, "close", lambda: None)()
        return os.path.join(self.other_ns.netns_dir, name)

    def close(self) -> None:
        for agent in self.agents:
            with contextlib.suppress(Exception):
                agent.stop()
        getattr(self.host, "close", lambda: None)()
        # Every dnsmasq whose pid file is ours, also one whose pid file went missing.
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            argv = process.cmdline(int(entry)) or []
            if argv and os.path.basename(argv[0]) == "dnsmasq" and any(
                    a.startswith(f"--pid-file={self.confs}/") for a in argv):
                process.terminate(int(entry))
        for ns_host in (self.host, self.other_ns):
            for name in netns.list_namespaces(ns_host):
                with contextlib.suppress(OSError):
                    netns.delete_namespace(ns_host, name)
        # The host namespace takes its bridges and taps with it.
        with contextlib.suppress(OSError):
            netns.delete_namespace(self.other_ns, "host")
        shutil.rmtree(self.base, ignore_errors=True)


def wait(predicate: Callable[[], object], timeout: float, interval: float = 0.005) -> float:
    """perf_counter when `predicate()` first held; TimeoutError after `timeout` s."""
    deadline = time.perf_counter() + timeout
    while True:
        if predicate():
            return time.perf_counter()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"waited {timeout}s for {predicate}")
        time.sleep(interval)


def settled(agent: DhcpAgent, networks: int) -> Callable[[], bool]:
    return lambda: agent.full_syncs >= 1 and agent.idle() and len(agent.served()) == networks


def subnet_cidr(i: int, prefix: int = 24) -> str:
    return f"10.{100 + i // 256}.{i % 256}.0/{prefix}" if prefix == 24 else \
        f"10.{200 + i}.0.0/{prefix}"


def udhcpc_once(netns_path: str, timeout: int = 1) -> bool:
    done = subprocess.run(["nsenter", f"--net={netns_path}", "udhcpc", "-f", "-q", "-n",
                           "-i", "eth0", "-t", "1", "-T", str(timeout), "-s", "/bin/true"],
                          capture_output=True, text=True, timeout=timeout + 10,
                          stdin=subprocess.DEVNULL)
    return done.returncode == 0


# -- the benchmarks ----------------------------------------------------------------------

def bench_new_port(lab: Lab, trials: int) -> None:
    network_id = lab.plugin.add_network(subnet_cidr(0))
    agent, _ = lab.agent(threads=4)
    agent.start()
    wait(settled(agent, 1), 60)

    raw, via_udhcpc, udhcpc_known = [], [], []
    for trial in range(trials):
        port = lab.plugin.add_port(network_id)
        vm = lab.client(network_id, port["mac_address"])
        sock = dhcp_probe.packet_socket(vm, "eth0")
        try:
            start = time.perf_counter()
            agent.port_create_end({"port": port})
            got = dhcp_probe.wait_for_offer(sock, port["mac_address"], timeout=2.0)
        finally:
            sock.close()
        if got is None:
            raise RuntimeError(f"trial {trial}: no OFFER for {port['mac_address']}")
        raw.append((got[0] - start) * 1000)
        wait(agent.idle, 10)
        # udhcpc alone, for a MAC dnsmasq already knows: its own start-up and exchange.
        start = time.perf_counter()
        if udhcpc_once(vm):
            udhcpc_known.append((time.perf_counter() - start) * 1000)

        port = lab.plugin.add_port(network_id)
        vm = lab.client(network_id, port["mac_address"])
        start = time.perf_counter()
        agent.port_create_end({"port": port})
        if udhcpc_once(vm):
            via_udhcpc.append((time.perf_counter() - start) * 1000)
        wait(agent.idle, 10)
    agent.stop()

    report("new port -> OFFER, raw DISCOVER (median ms)", statistics.median(raw), "ms",
           "~20 ms", statistics.median(raw) <= 25)
    report("new port -> OFFER, raw DISCOVER (max ms)", max(raw), "ms", "", None)
    if via_udhcpc:
        med = statistics.median(via_udhcpc)
        report(f"new port -> udhcpc lease, 1 try ({len(via_udhcpc)}/{trials} got one)",
               med, "ms", "", None)
    if udhcpc_known:
        alone = statistics.median(udhcpc_known)
        report("  udhcpc alone, MAC already known (median ms)", alone, "ms", "", None)
        if via_udhcpc:
            # udhcpc's own start-up and exchange dominate; what the new port adds to it:
            extra = statistics.median(via_udhcpc) - alone
            report("  new port's extra over udhcpc alone", extra, "ms", "~20 ms",
                   extra <= 25)


def bench_port_changes(lab: Lab, ports: int, networks: int = 4) -> None:
    net_ids = [lab.plugin.add_network(subnet_cidr(i, 21)) for i in range(networks)]
    agent, counting = lab.agent(threads=4)
    agent.start()
    wait(settled(agent, networks), 120)
    counting.reset()

    made = [lab.plugin.add_port(net_ids[i % networks]) for i in range(ports)]
    macs = {net: [p["mac_address"] for p in made if p["network_id"] == net] for net in net_ids}

    def all_written() -> bool:
        for net, wanted in macs.items():
            with open(conf_files(lab.confs, net).hosts) as f:
                text = f.read()
            if not all(m in text for m in wanted):
                return False
        return True

    start = time.perf_counter()
    for port in made:
        agent.port_create_end({"port": port})
    end = wait(lambda: agent.idle() and all_written(), 120)
    rate = ports / (end - start)
    report(f"port changes applied, burst of {ports} on {networks} networks", rate, "/s",
           "200/s", rate >= 200)
    report("  reconciles (hosts rewrite + SIGHUP each)", counting.actions.get("reload", 0),
           "", "coalesced", None)

    # Paced at 250 casts/s: does the agent keep up (lag after the last cast)?
    counting.reset()
    paced = [lab.plugin.add_port(net_ids[i % networks]) for i in range(min(ports, 500))]
    for port in paced:
        macs[port["network_id"]].append(port["mac_address"])
    start = time.perf_counter()
    for i, port in enumerate(paced):
        delay = start + i / 250 - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        agent.port_create_end({"port": port})
    last = time.perf_counter()
    end = wait(lambda: agent.idle() and all_written(), 120)
    report(f"  paced 250/s x {len(paced)}: lag after last cast", (end - last) * 1000, "ms",
           "", None)
    report("  paced: reconciles", counting.actions.get("reload", 0), "", "", None)
    agent.stop()


def bench_start_restart(lab: Lab, count: int, threads: int) -> None:
    for i in range(count):
        lab.plugin.add_network(subnet_cidr(i))
    agent, counting = lab.agent(threads)
    start = time.perf_counter()
    agent.start()
    end = wait(settled(agent, count), max(120, count * 1.0), interval=0.02)
    pids = {net: s.pid for net, s in agent.served().items()}
    first = end - start
    report(f"first start, {count} networks (spawning dnsmasq)", first, "s", "(compare)",
           None)
    report("  dnsmasq started", counting.actions.get("start", 0), "", "", None)
    agent.stop()

    agent, counting = lab.agent(threads)
    start = time.perf_counter()
    agent.start()
    end = wait(settled(agent, count), max(60, count * 0.5), interval=0.02)
    again = {net: s.pid for net, s in agent.served().items()}
    restart = end - start
    same = again == pids and not counting.actions.get("start") \
        and not counting.actions.get("restart")
    report(f"restart, {count} networks adopted (same pids: {same})", restart, "s",
           "< 5 s / 1000", same and restart < 5 * max(count, 100) / 1000 + 0.5)
    report("  dnsmasq reloaded on adoption", counting.actions.get("reload", 0), "", "0",
           None)
    agent.stop()


@contextlib.contextmanager
def bounded(seconds: int) -> Iterator[None]:
    def expire(*_: object) -> None:
        raise TimeoutError(f"benchmark ran over {seconds}s")

    def terminate(*_: object) -> None:
        raise KeyboardInterrupt

    old_alarm = signal.signal(signal.SIGALRM, expire)
    old_term = signal.signal(signal.SIGTERM, terminate)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_alarm)
        signal.signal(signal.SIGTERM, old_term)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", type=int, default=100)
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--threads", type=int, default=4, help="num_sync_threads")
    parser.add_argument("--only", choices=["port", "rate", "start"], action="append")
    parser.add_argument("--timeout", type=int, default=900, help="whole run, seconds")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root", file=sys.stderr)
        return 2
    only = set(args.only or ["port", "rate", "start"])
    print(f"# DHCP agent benchmarks (in-memory plugin, real dnsmasq); run {uuid.uuid4().hex[:6]}")
    with bounded(args.timeout):
        for name, run in (("port", lambda lab: bench_new_port(lab, args.trials)),
                          ("rate", lambda lab: bench_port_changes(lab, args.ports)),
                          ("start", lambda lab: bench_start_restart(lab, args.networks,
                                                                    args.threads))):
            if name not in only:
                continue
            lab = Lab()
            try:
                run(lab)
            finally:
                lab.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
