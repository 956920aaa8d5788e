"""Whether the message broker of a transport URL is reachable: a TCP connection to any of
its hosts. Cheap enough for every health probe (no AMQP handshake, no channel, nothing left
open); a broker that accepts connections but refuses our credentials shows in the logs of
the RPC servers instead."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

IN_PROCESS_SCHEMES = ("fake", "kombu+memory")
_DEFAULT_PORTS = {"rabbit": 5672, "amqp": 5672, "kombu+amqp": 5672}


def broker_hosts(url: str) -> list[tuple[str, int]]:
    """(host, port) of every broker in an oslo.messaging transport URL
    (`rabbit://user:pass@h1:5672,user:pass@h2:5672/vhost`); [] for in-process ones."""
    parts = urlsplit(url)
    if parts.scheme in IN_PROCESS_SCHEMES:
        return []
    hosts = []
    for entry in parts.netloc.split(","):
        address = entry.rpartition("@")[2]
        if not address:
            continue
        if address.startswith("["):  # [v6]:port
            host, _, rest = address[1:].partition("]")
            port = rest.lstrip(":")
        else:
            host, _, port = address.partition(":")
        hosts.append((host or "localhost",
                      int(port) if port else _DEFAULT_PORTS.get(parts.scheme, 5672)))
    return hosts or [("localhost", _DEFAULT_PORTS.get(parts.scheme, 5672))]


class BrokerProbe:
    name = "rabbitmq"

    def __init__(self, transport_url: str, timeout: float = 2.0) -> None:
        self._hosts = broker_hosts(transport_url)
        self._timeout = timeout

    def __call__(self) -> str:
        """Which broker answered; raises OSError when none does."""
        if not self._hosts:
            return "in-process transport"
        errors = []
        for host, port in self._hosts:
            try:
                with socket.create_connection((host, port), timeout=self._timeout):
                    return f"{host}:{port}"
            except OSError as exc:
                errors.append(f"{host}:{port}: {exc}")
        raise OSError("; ".join(errors))
