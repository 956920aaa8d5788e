"""Which brokers a transport URL names, for /healthcheck and --config-check."""

from __future__ import annotations

import socket

import pytest

from neutrino.rpc.health import BrokerProbe, broker_hosts


@pytest.mark.parametrize(("url", "hosts"), [
    ("fake://", []),
    ("kombu+memory:////", []),
    ("rabbit://guest:guest@10.0.0.1:5673/vhost", [("10.0.0.1", 5673)]),
    ("rabbit://u:p@h1,u:p@h2:5674/", [("h1", 5672), ("h2", 5674)]),
    ("rabbit://u:p@[fd00::1]:5672/", [("fd00::1", 5672)]),
    ("rabbit://", [("localhost", 5672)]),
])
def test_broker_hosts(url, hosts):
    assert broker_hosts(url) == hosts


def test_probe_answers_for_a_listening_port_and_raises_for_a_closed_one():
    with socket.create_server(("127.0.0.1", 0)) as listening:
        port = listening.getsockname()[1]
        assert BrokerProbe(f"rabbit://u:p@127.0.0.1:{port}/")() == f"127.0.0.1:{port}"
    with pytest.raises(OSError):
        BrokerProbe(f"rabbit://u:p@127.0.0.1:{port}/", timeout=2)()
