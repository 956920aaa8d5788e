"""`openstack token revoke` through the real python-openstackclient (issue 13, item 4):
the revoked token is then refused."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import NeutrinoServer

from .conftest import make_runner


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeutrinoServer]:
    # Identity needs no broker: the in-process transport will do.
    with NeutrinoServer(Path(tmp_path_factory.mktemp("revoke_server"))) as srv:
        yield srv


def _status(server: NeutrinoServer, token: str) -> int:
    request = urllib.request.Request(server.url + "/v2.0/networks",
                                     headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_openstack_token_revoke(plain_server: NeutrinoServer) -> None:
    openstack = make_runner("openstack", plain_server, "v3")
    token = openstack("token", "issue", "-f", "value", "-c", "id").out.strip()
    assert _status(plain_server, token) == 200
    openstack("token", "revoke", token)
    assert _status(plain_server, token) == 401
    # The CLI's own (new) token still works.
    assert openstack("network", "list", "-f", "value").code == 0
