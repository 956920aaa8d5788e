"""Quotas through the real clients against a real server process: `openstack quota
show/set` (python-openstackclient, openstacksdk) and the `neutrino quota-*` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.server import NeutrinoServer


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NeutrinoServer]:
    # No agents needed here: the in-memory transport keeps this off RabbitMQ.
    workdir: Path = tmp_path_factory.mktemp("quota_server")
    with NeutrinoServer(workdir, transport_url="fake://",
                        options={"quotas": {"quota_network": 3}}) as srv:
        yield srv


def test_openstack_quota_show_and_set(openstack, neutrino, api):
    project = api.get("/quotas/project")["project"]["project_id"]
    shown = {r["Resource"]: r["Limit"] for r in json.loads(
        openstack("quota", "show", "--network", "-f", "json").out)}
    assert {k: shown[k] for k in ("networks", "subnets", "ports", "security_groups",
                                  "security_group_rules")} == {
        "networks": 3, "subnets": 100, "ports": 500, "security_groups": 10,
        "security_group_rules": 100}

    openstack("quota", "set", "--networks", "7", "--ports", "9", "--secgroups", "4", project)
    assert api.get(f"/quotas/{project}")["quota"] == {
        "network": 7, "subnet": 100, "port": 9, "security_group": 4,
        "security_group_rule": 100}
    named = {r["Resource"]: r["Limit"] for r in json.loads(
        openstack("quota", "show", "--network", project, "-f", "json").out)}
    assert (named["networks"], named["ports"]) == (7, 9)

    openstack("network", "create", "q-net")
    usage = {r["Resource"]: r for r in json.loads(
        openstack("quota", "show", "--network", "--usage", "-f", "json").out)}
    assert usage["networks"]["In Use"] == 1 and usage["networks"]["Limit"] == 7

    # The neutron-style commands see the same.
    assert json.loads(neutrino("quota-show", "-f", "json").out)["network"] == 7
    updated = json.loads(neutrino("quota-update", "--tenant-id", project, "--subnet", "2",
                                  "-f", "json").out)
    assert updated == {"network": 7, "subnet": 2, "port": 9, "security_group": 4,
                       "security_group_rule": 100}
    assert neutrino("quota-delete", "--tenant-id", project).out == \
        f"Deleted quota: {project}\n"
    assert api.get(f"/quotas/{project}")["quota"] == {
        "network": 3, "subnet": 100, "port": 500, "security_group": 10,
        "security_group_rule": 100}
