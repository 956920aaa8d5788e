"""Processes started in a named network namespace, found again later through pid files."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from neutrino.linux.host import HostNamespaces


class ProcessError(RuntimeError):
    pass


def run_in_namespace(host: HostNamespaces, namespace: str, argv: list[str],
                     timeout: float = 30) -> None:
    """Run `argv` inside the named namespace until it exits (daemons fork and return).

    nsenter takes a namespace *path*, so this works for namespaces in any directory.
    """
    path = host.namespace_path(namespace)
    done = subprocess.run(["nsenter", f"--net={path}", "--", *argv], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if done.returncode:
        raise ProcessError(f"{argv[0]} exited {done.returncode}: "
                           f"{(done.stderr or done.stdout).strip()}")


def read_pid_file(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def cmdline(pid: int) -> list[str] | None:
    """A live process's argv, or None when it is gone (or a zombie)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if not raw:
        return None  # zombies and kernel threads have no command line
    return [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")]


def alive(pid: int) -> bool:
    return cmdline(pid) is not None


def send_signal(pid: int, sig: int) -> bool:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    return True


def terminate(pid: int, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; returns once the process is gone."""
    if not send_signal(pid, signal.SIGTERM):
        return
    deadline = time.monotonic() + grace
    while alive(pid):
        if time.monotonic() > deadline:
            send_signal(pid, signal.SIGKILL)
            deadline = time.monotonic() + grace
        time.sleep(0.02)
