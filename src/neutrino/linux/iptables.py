"""iptables, ip6tables, ebtables, ipset and the bridge's netfilter switch, in a host's
namespace.

Thin wrappers around the tools' save and restore forms: what to write is decided elsewhere
(`agent.linuxbridge.firewall_plan`); input goes to the tools on stdin, never through a shell.
"""

from __future__ import annotations

import subprocess

from neutrino.linux.host import HostNamespaces

_TIMEOUT = 60.0
_SAVE = {"IPv4": "iptables-save", "IPv6": "ip6tables-save", "ebtables": "ebtables-save"}
_RESTORE = {"IPv4": "iptables-restore", "IPv6": "ip6tables-restore",
            "ebtables": "ebtables-restore"}
# Bridged frames reach iptables only with these on (br_netfilter; per namespace since 5.3).
_BRIDGE_SYSCTLS = ("net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables")


class FirewallError(RuntimeError):
    pass


def _run(host: HostNamespaces, argv: list[str], stdin: str | None = None) -> str:
    if host.netns is not None:
        argv = ["nsenter", f"--net={host.netns}", "--", *argv]
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=_TIMEOUT, stdin=None if stdin is not None
                              else subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FirewallError(f"{argv[0]}: {exc}") from exc
    if done.returncode:
        raise FirewallError(f"{' '.join(argv)} exited {done.returncode}: "
                            f"{(done.stderr or done.stdout).strip()[:2000]}")
    return done.stdout


def save(host: HostNamespaces, family: str) -> str:
    """The filter table in iptables-save form; `family` is "IPv4", "IPv6" or "ebtables"."""
    return _run(host, [_SAVE[family], "-t", "filter"])


def restore(host: HostNamespaces, family: str, text: str) -> None:
    """Apply iptables-restore input without flushing what it does not name (atomic)."""
    _run(host, [_RESTORE[family], "--noflush"], stdin=text)


def ipset_save(host: HostNamespaces) -> str:
    return _run(host, ["ipset", "save"])


def ipset_restore(host: HostNamespaces, text: str) -> None:
    _run(host, ["ipset", "restore", "-exist"], stdin=text)


def ipset_destroy(host: HostNamespaces, name: str) -> None:
    _run(host, ["ipset", "destroy", name])


def enable_bridge_netfilter(host: HostNamespaces) -> None:
    """Make bridged IPv4 and IPv6 frames pass through iptables in the host's namespace."""
    current = _run(host, ["sysctl", "-n", *_BRIDGE_SYSCTLS]).split()
    if current != ["1", "1"]:
        _run(host, ["sysctl", "-q", "-w", *(f"{name}=1" for name in _BRIDGE_SYSCTLS)])
