"""RabbitMQ for the RPC integration tests: a vhost of each test's own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.rabbit import RabbitVhost


@pytest.fixture
def rabbit() -> Iterator[RabbitVhost]:
    with RabbitVhost() as vhost:
        yield vhost
