"""Tags through the real `openstack` client (python-openstackclient, openstacksdk) against
a real server process: `--tag` on set/unset/list of networks, subnets and ports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import NeutrinoServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeutrinoServer]:
    # No agents needed here: the in-memory transport keeps this off RabbitMQ.
    workdir: Path = tmp_path_factory.mktemp("tags_server")
    with NeutrinoServer(workdir, transport_url="fake://") as srv:
        yield srv


def names(openstack, *args: str) -> list[str]:
    return sorted(r["Name"] for r in json.loads(openstack(*args, "-f", "json").out))


def test_openstack_network_tags(openstack, api):
    net1 = json.loads(openstack("network", "create", "net1", "-f", "json").out)
    openstack("network", "create", "net2")
    # OSC reads the extension list to decide whether to send tags at all.
    openstack("network", "set", "--tag", "x", "--tag", "y", "net1")
    assert api.get(f"/networks/{net1['id']}")["network"]["tags"] == ["x", "y"]
    assert json.loads(openstack("network", "show", "net1", "-f", "json").out)["tags"] == [
        "x", "y"]
    assert names(openstack, "network", "list", "--tags", "x") == ["net1"]
    assert names(openstack, "network", "list", "--tags", "x,y") == ["net1"]
    assert names(openstack, "network", "list", "--any-tags", "y,z") == ["net1"]
    assert names(openstack, "network", "list", "--not-tags", "x") == ["net2"]

    openstack("network", "unset", "--tag", "x", "net1")
    assert api.get(f"/networks/{net1['id']}/tags") == {"tags": ["y"]}
    assert names(openstack, "network", "list", "--tags", "x") == []
    openstack("network", "set", "--no-tag", "net1")
    assert api.get(f"/networks/{net1['id']}/tags") == {"tags": []}


def test_openstack_subnet_and_port_tags(openstack, api):
    openstack("network", "create", "tnet")
    subnet = json.loads(openstack("subnet", "create", "--network", "tnet", "--subnet-range",
                                  "10.77.0.0/24", "tsub", "-f", "json").out)
    port = json.loads(openstack("port", "create", "--network", "tnet", "tport", "-f",
                                "json").out)
    openstack("subnet", "set", "--tag", "s1", "tsub")
    openstack("port", "set", "--tag", "p1", "tport")
    assert api.get(f"/subnets/{subnet['id']}/tags") == {"tags": ["s1"]}
    assert api.get(f"/ports/{port['id']}/tags") == {"tags": ["p1"]}
    assert names(openstack, "subnet", "list", "--tags", "s1") == ["tsub"]
    assert names(openstack, "port", "list", "--tags", "p1") == ["tport"]
    openstack("port", "unset", "--all-tag", "tport")
    assert api.get(f"/ports/{port['id']}/tags") == {"tags": []}
