"""Forgetting tracked connections (`conntrack -D`) in a host's namespace."""

from __future__ import annotations

import subprocess

from neutrino.linux.host import HostNamespaces


class ConntrackError(RuntimeError):
    pass


def delete(host: HostNamespaces, filters: list[str]) -> None:
    """Delete the entries matching `filters` (conntrack's own arguments, e.g. ["-f", "ipv4",
    "-d", "10.0.0.5", "-p", "tcp", "--dport", "22"]); none matching is fine."""
    argv = ["conntrack", "-D", *filters]
    if host.netns is not None:
        argv = ["nsenter", f"--net={host.netns}", "--", *argv]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ConntrackError(f"conntrack: {exc}") from exc
    # It exits 1 when nothing matched, saying so.
    if done.returncode and "0 flow entries" not in done.stderr:
        raise ConntrackError(f"{' '.join(argv)} exited {done.returncode}: "
                             f"{done.stderr.strip()[:500]}")
