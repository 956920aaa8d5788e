"""Test namespaces, links and a DHCP client, each named uniquely and removed afterwards.

Built on the `ip` and `nsenter` commands (not on `neutrino.linux`), so tests of the linux
layer check it against an independent view of the kernel.

    with NetnsResources() as res:
        host = res.namespace()             # a path like /run/netns/nt-3f2a9c
        res.veth("nt-a", "nt-b", ns_b=host)
        lease = run_udhcpc(host, "nt-b")
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

RUN_NETNS = "/run/netns"


def kernel_supports(kind: str) -> bool:
    """Whether the kernel can make links of `kind` (e.g. "vlan": some VM kernels lack 8021q)."""
    probe = unique("ntp")
    done = subprocess.run(["ip", "link", "add", probe, "type", "bridge"] if kind == "bridge"
                          else ["ip", "link", "add", "link", "lo", "name", probe, "type", kind,
                                "id", "5"] if kind == "vlan"
                          else ["ip", "link", "add", probe, "type", kind],
                          capture_output=True, timeout=10)
    if done.returncode == 0:
        subprocess.run(["ip", "link", "del", probe], capture_output=True, timeout=10)
    return done.returncode == 0


def unique(prefix: str = "nt") -> str:
    """A short name that fits in an interface name (15 chars) for prefixes up to 8 chars."""
    return f"{prefix}{secrets.token_hex(3)}"


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    argv = ["ip", *args]
    if netns:
        argv = ["nsenter", f"--net={netns}", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and done.returncode:
        raise RuntimeError(f"{argv}: {done.stderr.strip()}")
    return done.stdout


def links(netns: str | None = None) -> list[str]:
    out = ip("-o", "link", "show", netns=netns)
    return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())


def addresses(name: str, netns: str | None = None) -> list[str]:
    out = ip("-o", "addr", "show", "dev", name, netns=netns)
    return sorted(line.split()[3] for line in out.splitlines()
                  if line.split()[2] in ("inet", "inet6") and "fe80:" not in line.split()[3])


def link_master(name: str, netns: str | None = None) -> str | None:
    words = ip("-o", "link", "show", "dev", name, netns=netns).split()
    return words[words.index("master") + 1] if "master" in words else None


def link_mac(name: str, netns: str | None = None) -> str:
    words = ip("-o", "link", "show", "dev", name, netns=netns).split()
    return words[words.index("link/ether") + 1]


def umount_and_remove(path: str) -> None:
    subprocess.run(["umount", "-l", path], capture_output=True)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def kill_pid_file(path: str, must_contain: str) -> None:
    """Kill the process named in a pid file if its command line contains `must_contain`."""
    try:
        pid = int(Path(path).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (OSError, ValueError):
        return
    if must_contain in cmdline:
        os.kill(pid, signal.SIGKILL)


class NetnsResources:
    """Makes namespaces, bridges, veths and directories; `close()` removes them all."""

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def __enter__(self) -> NetnsResources:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def defer(self, fn: Callable[[], None]) -> None:
        self._undo.append(fn)

    def close(self) -> None:
        errors = []
        while self._undo:
            try:
                self._undo.pop()()
            except Exception as e:  # keep cleaning; report at the end
                errors.append(e)
        if errors:
            raise RuntimeError(f"cleanup failed: {errors}")

    def namespace(self, prefix: str = "nt-") -> str:
        """A new network namespace in /run/netns; returns its path."""
        name = unique(prefix)
        ip("netns", "add", name)
        path = os.path.join(RUN_NETNS, name)
        self.defer(lambda: ip("netns", "del", name, check=False))
        ip("link", "set", "lo", "up", netns=path)
        return path

    def directory(self, prefix: str = "nt-") -> str:
        """A scratch directory; named namespaces left in it are unmounted on cleanup."""
        path = tempfile.mkdtemp(prefix=prefix)

        def remove() -> None:
            for root, _dirs, files in os.walk(path):
                for f in files:
                    full = os.path.join(root, f)
                    if os.stat(full).st_dev != os.stat(root).st_dev:
                        umount_and_remove(full)
            shutil.rmtree(path, ignore_errors=True)

        self.defer(remove)
        return path

    def bridge(self, name: str | None = None, netns: str | None = None) -> str:
        name = name or unique("ntbr")
        ip("link", "add", name, "type", "bridge", netns=netns)
        ip("link", "set", name, "up", netns=netns)
        self.defer(lambda: ip("link", "del", name, netns=netns, check=False))
        return name

    def veth(self, a: str, b: str, ns_a: str | None = None, ns_b: str | None = None,
             mac_b: str | None = None, mac_a: str | None = None) -> tuple[str, str]:
        """A veth pair `a` (in ns_a) – `b` (in ns_b), both up. Removed with either end."""
        args = ["link", "add", a, *(["address", mac_a] if mac_a else []),
                "type", "veth", "peer", "name", b]
        if mac_b:
            args += ["address", mac_b]
        if ns_b:
            args += ["netns", ns_b]
        ip(*args, netns=ns_a)
        self.defer(lambda: ip("link", "del", a, netns=ns_a, check=False))
        ip("link", "set", a, "up", netns=ns_a)
        ip("link", "set", b, "up", netns=ns_b)
        return a, b

    def track_pid_file(self, path: str, must_contain: str) -> None:
        """On cleanup, kill what the pid file names (if it is ours: checked by cmdline)."""
        self.defer(lambda: kill_pid_file(path, must_contain))


_UDHCPC_SCRIPT = """#!/bin/sh
# Prints the lease instead of configuring anything; lists are joined with commas.
case "$1" in
  bound|renew) echo "LEASE ip=$ip mask=$mask router=$router \
dns=$(echo $dns | tr ' ' ',') mtu=$mtu domain=$domain hostname=$hostname \
staticroutes=$(echo $staticroutes | tr ' ' ',') serverid=$serverid";;
esac
exit 0
"""


@dataclass(frozen=True)
class Lease:
    ip: str
    fields: dict[str, str]


def run_udhcpc(netns: str, interface: str, tries: int = 3, timeout: int = 2,
               extra_options: tuple[str, ...] = ("mtu", "staticroutes")) -> Lease | None:
    """Ask for a lease on `interface` inside `netns`; the lease or None when none came."""
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(_UDHCPC_SCRIPT)
        script = f.name
    os.chmod(script, 0o755)
    argv = ["nsenter", f"--net={netns}", "udhcpc", "-f", "-q", "-n", "-i", interface,
            "-t", str(tries), "-T", str(timeout), "-s", script]
    for opt in extra_options:
        argv += ["-O", opt]
    try:
        done = subprocess.run(argv, capture_output=True, text=True,
                              timeout=tries * timeout + 20)
    finally:
        os.unlink(script)
    for line in done.stdout.splitlines():
        if line.startswith("LEASE "):
            fields = dict(w.split("=", 1) for w in line[6:].split(" ") if "=" in w)
            return Lease(fields.get("ip", ""), fields)
    return None


def wait_for(predicate: Callable[[], object], timeout: float = 20,
             interval: float = 0.1) -> object:
    """Poll until `predicate()` is truthy; its value, or AssertionError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(interval)


_DHCLIENT_SCRIPT = """#!/bin/sh
# dhclient's hook: records what it was given instead of configuring anything.
case "$reason" in
  BOUND6|RENEW6|REBIND6|INFORM6) echo "LEASE6 reason=$reason ip=$new_ip6_address \
prefixlen=$new_ip6_prefixlen dns=$(echo $new_dhcp6_name_servers | tr ' ' ',') \
search=$new_dhcp6_domain_search" >> {out};;
esac
exit 0
"""


def run_dhclient6(res: NetnsResources, netns: str, interface: str, stateless: bool = False,
                  timeout: float = 30) -> Lease | None:
    """`dhclient -6` once on `interface` inside `netns` (`-S`: information only); what it
    was given, or None. Its lease, pid and script files are in a scratch directory, and
    the client is killed afterwards (it stays to renew once bound)."""
    # dhclient binds to the link-local address: wait until duplicate address detection
    # has made it usable (about a second after the link comes up).
    wait_for(lambda: "inet6 fe80" in (text := ip("-6", "addr", "show", "dev", interface,
                                                 netns=netns))
             and "tentative" not in text, timeout=10)
    work = res.directory("ntdhc-")
    out = os.path.join(work, "out")
    script = os.path.join(work, "script")
    Path(script).write_text(_DHCLIENT_SCRIPT.replace("{out}", out))
    os.chmod(script, 0o755)
    pid_file = os.path.join(work, "pid")
    argv = ["nsenter", f"--net={netns}", "dhclient", "-6", "-1", "-d",
            "-lf", os.path.join(work, "leases"), "-pf", pid_file, "-sf", script]
    if stateless:
        argv.append("-S")
    with open(os.path.join(work, "log"), "wb") as log:
        proc = subprocess.Popen([*argv, interface], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    res.defer(stop)
    try:
        wait_for(lambda: os.path.exists(out) or proc.poll() is not None, timeout=timeout)
    except AssertionError:
        return None
    finally:
        stop()
    if not os.path.exists(out):
        print(Path(work, "log").read_text())  # what dhclient said, shown when a test fails
        return None
    line = Path(out).read_text().splitlines()[0]
    fields = dict(w.split("=", 1) for w in line.split(" ")[1:] if "=" in w)
    return Lease(fields.get("ip", ""), fields)
