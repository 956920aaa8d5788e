"""A RabbitMQ virtual host of a test's own, removed afterwards whether the test passed or not.

    with RabbitVhost() as vhost:
        settings = RpcSettings(vhost.url)

Queues and exchanges made by the test live in the vhost and go with it. Uses `rabbitmqctl`
(root) on the broker at NEUTRINO_TEST_RABBIT (default 127.0.0.1:5672, guest/guest).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from urllib.parse import quote

BROKER = os.environ.get("NEUTRINO_TEST_RABBIT", "127.0.0.1:5672")
USER = os.environ.get("NEUTRINO_TEST_RABBIT_USER", "guest")
PASSWORD = os.environ.get("NEUTRINO_TEST_RABBIT_PASSWORD", "guest")


def rabbitmqctl(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True, text=True,
                          timeout=60)
    if check and done.returncode:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")
    return done


class RabbitVhost:
    def __init__(self, prefix: str = "neutrino-test") -> None:
        self.name = f"{prefix}-{secrets.token_hex(4)}"
        self._created = False

    @property
    def url(self) -> str:
        return (f"rabbit://{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@{BROKER}/"
                f"{quote(self.name, safe='')}")

    def create(self) -> None:
        rabbitmqctl("add_vhost", self.name)
        self._created = True
        rabbitmqctl("set_permissions", "-p", self.name, USER, ".*", ".*", ".*")

    def delete(self) -> None:
        if self._created:
            rabbitmqctl("delete_vhost", self.name, check=False)
            self._created = False

    def exists(self) -> bool:
        out = rabbitmqctl("list_vhosts", "name").stdout.split()
        return self.name in out

    def __enter__(self) -> RabbitVhost:
        try:
            self.create()
        except BaseException:
            self.delete()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.delete()


@contextmanager
def rabbit_vhost(prefix: str = "neutrino-test") -> Iterator[RabbitVhost]:
    """For fixtures: `yield from`-friendly form of `RabbitVhost`."""
    with RabbitVhost(prefix) as vhost:
        yield vhost
