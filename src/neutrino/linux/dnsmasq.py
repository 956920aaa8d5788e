"""dnsmasq processes: start in a namespace, find by pid file, reload, stop.

A dnsmasq is ours for a network only when its command line names that network's pid file:
a stale pid file whose number now belongs to another process is never signalled.
"""

from __future__ import annotations

import os
import signal
import time

from neutrino.linux import process
from neutrino.linux.host import HostNamespaces


def find(pid_file: str) -> tuple[int, list[str]] | None:
    """(pid, argv) of the running dnsmasq that owns `pid_file`, or None."""
    pid = process.read_pid_file(pid_file)
    if pid is None:
        return None
    argv = process.cmdline(pid)
    if not argv or os.path.basename(argv[0]) != "dnsmasq":
        return None
    if f"--pid-file={pid_file}" not in argv:
        return None
    return pid, argv


def start(host: HostNamespaces, namespace: str, argv: list[str], pid_file: str,
          timeout: float = 10) -> int:
    """Start dnsmasq (it daemonizes, so it outlives the agent) and return its pid."""
    try:
        os.unlink(pid_file)
    except FileNotFoundError:
        pass
    process.run_in_namespace(host, namespace, argv, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        found = find(pid_file)
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise process.ProcessError(f"dnsmasq wrote no pid to {pid_file}")
        time.sleep(0.02)


def reload(pid: int) -> bool:
    """SIGHUP: dnsmasq re-reads its hosts and options files and keeps its leases."""
    return process.send_signal(pid, signal.SIGHUP)


def stop(pid_file: str) -> bool:
    """Stop the dnsmasq owning `pid_file` if it runs; True when one was stopped."""
    found = find(pid_file)
    if not found:
        return False
    process.terminate(found[0])
    return True
