"""The lab's side effects on the machine: commands, cgroups, mounts, processes.

Commands are argument lists (never a shell). Processes the lab starts join the lab's cgroup
(cgroup v2), so that `down` finds and kills them — and everything they spawned, dnsmasq
included — even when the lab's own records are lost.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence

LOG = logging.getLogger(__name__)


class CommandError(RuntimeError):
    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        super().__init__(f"{' '.join(argv)} exited {returncode}: {output.strip()}")
        self.returncode = returncode
        self.output = output


def run(argv: Sequence[str], *, check: bool = True, timeout: float = 60,
        input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    LOG.debug("run %s", argv)
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                          input=input_text, stdin=None if input_text else subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise CommandError(argv, proc.returncode, proc.stderr + proc.stdout)
    return proc


def run_until(argv: Sequence[str], done: Callable[[], bool], timeout: float) -> None:
    """Run a command that does not end by itself (a DHCP client in the foreground) until
    `done()` or it exits, at most `timeout` seconds; then stop it."""
    LOG.debug("run until done %s", argv)
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while proc.poll() is None and not done() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
def run_attached(argv: Sequence[str]) -> int:
    """Run `argv` with this process's stdin, stdout and stderr; its exit status."""
    LOG.debug("run %s", argv)
    return subprocess.run(list(argv), check=False).returncode


def wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.2,
             what: str = "condition") -> object:
    """Poll `predicate` until it returns something true; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


# --- cgroups ------------------------------------------------------------------------------

def cgroup2_root() -> str | None:
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[2] == "cgroup2":
                    return parts[1]
    except OSError:
        pass
    return None


class Cgroup:
    """The lab's cgroup: one leaf per kind of process (`hosts`, `HostA-dhcp`, ...)."""

    def __init__(self, name: str, root: str | None = None, enabled: bool = True) -> None:
        # Disabled (or no cgroup2 on the machine): the lab finds its processes by their
        # namespaces and command lines instead.
        self.root = (root if root is not None else cgroup2_root()) if enabled else None
        self.name = name

    @property
    def path(self) -> str | None:
        return None if self.root is None else os.path.join(self.root, self.name)

    def leaf(self, leaf: str) -> str | None:
        return None if self.path is None else os.path.join(self.path, leaf)

    def ensure(self, leaf: str) -> str | None:
        path = self.leaf(leaf)
        if path is not None:
            os.makedirs(path, exist_ok=True)
        return path

    def joiner(self, leaf: str) -> Callable[[], None] | None:
        """A preexec_fn that moves the child into `leaf` before it runs anything."""
        path = self.ensure(leaf)
        if path is None:
            return None
        procs = os.path.join(path, "cgroup.procs")

        def join() -> None:
            with open(procs, "w") as f:
                f.write("0")
        return join

    def pids(self, leaf: str | None = None) -> list[int]:
        top = self.path if leaf is None else self.leaf(leaf)
        if top is None or not os.path.isdir(top):
            return []
        found: list[int] = []
        for dirpath, _dirs, _files in os.walk(top):
            try:
                with open(os.path.join(dirpath, "cgroup.procs")) as f:
                    found.extend(int(x) for x in f.read().split())
            except OSError:
                continue
        return found

    def kill(self, leaf: str | None = None, timeout: float = 10) -> None:
        top = self.path if leaf is None else self.leaf(leaf)
        if top is None or not os.path.isdir(top):
            return
        try:
            with open(os.path.join(top, "cgroup.kill"), "w") as f:
                f.write("1")
        except OSError:
            for pid in self.pids(leaf):
                _kill(pid, signal.SIGKILL)
        wait_for(lambda: not self.pids(leaf), timeout, 0.05, f"cgroup {top} to empty")

    def remove(self) -> None:
        if self.path is None or not os.path.isdir(self.path):
            return
        self.kill()
        for dirpath, _dirs, _files in sorted(os.walk(self.path), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                LOG.warning("cannot remove cgroup %s: %s", dirpath, e)


def _kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def terminate(pid: int, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after `timeout`; returns once the process is gone."""
    _kill(pid, signal.SIGTERM)
    try:
        wait_for(lambda: not pid_alive(pid), timeout, 0.05, f"pid {pid} to exit")
    except TimeoutError:
        _kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 5, 0.05, f"pid {pid} to die")


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone; our children are reaped elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        return False
    return True


# The lab's daemons outlive the call that starts them: the lab finds them again by pid (its
# state, its cgroups) and reaps them there. Their Popen objects are kept until they have
# exited, so that dropping one does not warn of a child nobody waited for.
_RUNNING: list[subprocess.Popen[bytes]] = []


def start(argv: Sequence[str], *, log_path: str, cgroup: Cgroup, leaf: str,
          env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    _RUNNING[:] = [p for p in _RUNNING if p.poll() is None]
    with open(log_path, "ab") as log:
        LOG.debug("start %s", argv)
        proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=cgroup.joiner(leaf), env=env)
    _RUNNING.append(proc)
    return proc


# --- namespaces and mounts -----------------------------------------------------------------

def ns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def pids_in_netns(inodes: set[int]) -> list[int]:
    """Every process whose network namespace is one of `inodes`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        ino = ns_inode(f"/proc/{entry}/ns/net")
        if ino is not None and ino in inodes:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pids_in_mnt_ns(inode: int | None) -> list[int]:
    """Every process in the mount namespace `inode` (none for None or our own)."""
    if inode is None or inode == ns_inode("/proc/self/ns/mnt"):
        return []
    return [int(e) for e in os.listdir("/proc")
            if e.isdigit() and ns_inode(f"/proc/{e}/ns/mnt") == inode]


def mounts_under(prefixes: Sequence[str]) -> list[str]:
    """Mount points at or below any of `prefixes`, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if any(point == p or point.startswith(p.rstrip("/") + "/") for p in prefixes):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def umount(point: str) -> None:
    run(["umount", "-l", point], check=False)


def named_netns() -> list[str]:
    try:
        return sorted(os.listdir("/run/netns"))
    except FileNotFoundError:
        return []


def root_links() -> list[str]:
    out = run(["ip", "-o", "link", "show"]).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            names.append(parts[1].strip().split("@", 1)[0])
    return names
