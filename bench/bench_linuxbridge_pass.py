"""The Linux bridge agent's reconcile pass on a converged host: what it costs in netlink.

A host namespace with `--taps` taps plugged into bridges; each pass reads every link and
finds nothing to do (the agent's loop runs one per second). Prints the mean pass time.

Run as root:  python bench/bench_linuxbridge_pass.py [--taps 50] [--passes 50]
Everything is made under one fresh directory and removed, pass or fail.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time

from neutrino.agent.linuxbridge.executor import apply_plan
from neutrino.agent.linuxbridge.links import LinuxHostLinks
from neutrino.agent.linuxbridge.plan import plan_links
from neutrino.linux import links, netns
from neutrino.linux.host import HostNamespaces


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=50)
    parser.add_argument("--passes", type=int, default=50)
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="nbench-lb-")
    keeper = HostNamespaces(None, base)
    host_ns = netns.ensure_namespace(keeper, "host")
    netns.ensure_namespace(keeper, "peers")
    host = HostNamespaces(host_ns, base)
    try:
        devices = {}
        for i in range(args.taps):
            tap = f"tap{i:011d}"
            links.ensure_veth(host, tap, f"p{i}", "peers")
            devices[tap] = {"device": tap, "network_id": f"{i // 5:011d}",
                            "network_type": "local", "physical_network": None,
                            "segmentation_id": None, "port_id": f"{i:011d}",
                            "admin_state_up": True}
        host_links = LinuxHostLinks(host)
        apply_plan(plan_links(devices, {}, host_links.links()), host_links)
        times = []
        for _ in range(args.passes):
            start = time.perf_counter()
            plan = plan_links(devices, {}, host_links.links())
            apply_plan(plan, host_links)
            times.append(time.perf_counter() - start)
        assert not plan.bridges and not plan.enslave and not plan.set_up, plan
        mean = sum(times) / len(times) * 1000
        print(f"{'linuxbridge pass, converged, ' + str(args.taps) + ' taps (mean)':<52} "
              f"{mean:>9.2f} ms       target  (was ~56 ms, 49 of it opening netlink)")
        print(f"{'  first pass (opens the kept socket)':<52} {times[0] * 1000:>9.2f} ms")
    finally:
        with contextlib.suppress(Exception):
            getattr(host, "close", lambda: None)()
        for name in ("peers", "host"):
            with contextlib.suppress(OSError):
                netns.delete_namespace(keeper, name)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("run as root")
    sys.exit(main())
