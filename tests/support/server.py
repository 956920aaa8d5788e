"""A real `neutrino-server` process for tests, on a free port of 127.0.0.1.

    with NeutrinoServer(tmp_path, transport_url=vhost_url) as server:
        subprocess.run(["neutrino", "net-list"], env=server.cli_env(), check=True)
        server.url            # http://127.0.0.1:<port>
        server.admin_env()    # OS_* variables of the builtin admin (v3; or identity="v2.0")

The server gets its own config file and state directory under `workdir` (SQLite there unless
`database_url` is given), the builtin identity by default, a short `agent_down_time`, and the
given `transport_url` (`fake://` when no agent is involved, a RabbitMQ URL otherwise). It is
stopped (SIGTERM to its process group, then SIGKILL) on leaving the `with`, pass or fail; its
output is in `server.log_path` and the tail is included in start-up errors.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

ADMIN = ("admin", "adminpassword", "admin")
MEMBER = ("demo", "demopassword", "demo")
REGION = "RegionOne"
# Values are strings, or lists for options that repeat (oslo.config MultiStrOpt).
Options = Mapping[str, Mapping[str, "str | int | bool | list[str]"]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def executable(name: str) -> str:
    """A console script of this installation (next to the interpreter when not on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    raise FileNotFoundError(f"{name} is not installed (pip install -e .)")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any OS_* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(extra or {})
    return env


def render_config(options: Options) -> str:
    lines: list[str] = []
    for section, values in options.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key} = {item}")
        lines.append("")
    return "\n".join(lines)


def merge(base: Options, extra: Options | None) -> dict[str, dict]:
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in (extra or {}).items():
        merged.setdefault(section, {}).update(values)
    return merged


def exited_unreaped(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` for a child to exit, leaving it unreaped (its pid stays taken)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


class ServerStartError(RuntimeError):
    pass


class NeutrinoServer:
    def __init__(self, workdir: Path, *, transport_url: str = "fake://",
                 auth_strategy: str = "builtin", agent_down_time: int = 5,
                 database_url: str | None = None, host: str = "controlnode",
                 options: Options | None = None, start_timeout: float = 60.0) -> None:
        self.workdir = Path(workdir)
        self.state_path = self.workdir / "state"
        self.config_path = self.workdir / "neutrino-server.conf"
        self.log_path = self.workdir / "neutrino-server.log"
        self.transport_url = transport_url
        self.auth_strategy = auth_strategy
        self.agent_down_time = agent_down_time
        self.database_url = database_url or f"sqlite:///{self.state_path / 'neutrino.sqlite'}"
        self.host = host
        self.extra_options = options
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def __enter__(self) -> NeutrinoServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config(self) -> dict[str, dict]:
        base: Options = {
            "DEFAULT": {
                "host": self.host,
                "state_path": str(self.state_path),
                "bind_host": "127.0.0.1",
                "bind_port": self.port,
                "auth_strategy": self.auth_strategy,
                "agent_down_time": self.agent_down_time,
                "transport_url": self.transport_url,
                "debug": "true",
            },
            "database": {"connection": self.database_url, "retry_interval": 1,
                         "max_retries": 10},
            "vlans": {"tenant_network_type": "vlan",
                      "network_vlan_ranges": "physnet1:1000:2999"},
        }
        return merge(base, self.extra_options)

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_path.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(render_config(self.config()))
        return self.config_path

    def start(self) -> None:
        """Start and wait until the API answers; a port taken meanwhile gets a retry."""
        last_error: ServerStartError | None = None
        for _ in range(3):
            self.port = free_port()
            self.write_config()
            try:
                self._spawn_and_wait()
                return
            except ServerStartError as exc:
                last_error = exc
                self.stop()
                if "address already in use" not in str(exc).lower():
                    raise
        assert last_error is not None
        raise last_error

    def _spawn_and_wait(self) -> None:
        with open(self.log_path, "ab") as log:
            # A session of its own: stop() signals the whole group (API workers included).
            self.process = subprocess.Popen(
                [executable("neutrino-server"), "--config-file", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, cwd=self.workdir)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if exited_unreaped(self.process.pid, 0):
                code = self.process.wait()
                raise ServerStartError(
                    f"neutrino-server exited with {code} during start-up:\n" + self.log_tail())
            if self.answers():
                return
            time.sleep(0.2)
        raise ServerStartError(f"neutrino-server did not answer on {self.url} within "
                               f"{self.start_timeout:.0f}s:\n" + self.log_tail())

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/", timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer (even 401) means it is serving
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, timeout: float = 15.0) -> None:
        proc = self.process
        if proc is None:
            return
        self.process = None
        if proc.returncode is None:
            self._signal_group(proc, signal.SIGTERM)
            if not exited_unreaped(proc.pid, timeout):
                self._signal_group(proc, signal.SIGKILL)
                exited_unreaped(proc.pid, timeout)
            # The leader is a zombie until reaped below, so the group id is still ours:
            # children (API workers) that outlived it go too.
            self._signal_group(proc, signal.SIGKILL)
        proc.wait(timeout)

    @staticmethod
    def _signal_group(proc: subprocess.Popen, sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- clients -------------------------------------------------------------------------

    def auth_url(self, identity: str = "v3") -> str:
        if identity == "v2.0":
            return f"{self.url}/v2.0/"
        if identity == "v3":
            return f"{self.url}/v3"
        raise ValueError(f"identity must be 'v3' or 'v2.0', not {identity!r}")

    def user_env(self, user: str, password: str, project: str,
                 identity: str = "v3") -> dict[str, str]:
        env = {"OS_USERNAME": user, "OS_PASSWORD": password,
               "OS_AUTH_URL": self.auth_url(identity), "OS_REGION_NAME": REGION}
        if identity == "v2.0":
            # The walk-through's variables.
            env["OS_TENANT_NAME"] = project
        else:
            env.update({"OS_PROJECT_NAME": project, "OS_USER_DOMAIN_NAME": "Default",
                        "OS_PROJECT_DOMAIN_NAME": "Default", "OS_IDENTITY_API_VERSION": "3",
                        "OS_INTERFACE": "public"})
        return env

    def admin_env(self, identity: str = "v3") -> dict[str, str]:
        return self.user_env(*ADMIN, identity=identity)

    def member_env(self, identity: str = "v3") -> dict[str, str]:
        return self.user_env(*MEMBER, identity=identity)

    def cli_env(self, identity: str = "v3", member: bool = False) -> dict[str, str]:
        """A whole environment for running `neutrino`/`openstack` against this server."""
        env = self.member_env(identity) if member else self.admin_env(identity)
        return clean_env(env)
