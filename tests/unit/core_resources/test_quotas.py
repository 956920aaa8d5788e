"""The quota decision, as a pure function: who would go over, and what check_limit allows."""

from __future__ import annotations

import pytest

from neutrino.conf import opts, settings
from neutrino.core.resources.quotas import check_limit_allows, over_limit

LIMITS = {"network": 2, "subnet": 0, "port": -1}
USED = {"network": 1, "subnet": 0, "port": 10_000}


@pytest.mark.parametrize(("deltas", "overs"), [
    ({"network": 1}, []),  # exactly at the limit is allowed
    ({"network": 2}, ["network"]),  # a bulk counts all of its items
    ({"subnet": 1}, ["subnet"]),  # 0 allows none
    ({"subnet": 0}, []),
    ({"port": 5000}, []),  # -1 is unlimited
    ({"port": 1, "subnet": 1, "network": 3}, ["network", "subnet"]),  # sorted, as Neutron
])
def test_over_limit(deltas, overs):
    assert over_limit(LIMITS, USED, deltas) == overs


def test_a_project_already_above_a_lowered_limit_gets_nothing_more():
    assert over_limit({"port": 3}, {"port": 5}, {"port": 1}) == ["port"]


@pytest.mark.parametrize(("limit", "used", "allowed"), [
    (5, 5, True), (4, 5, False), (-1, 5, True), (0, 0, True), (0, 1, False)])
def test_check_limit(limit, used, allowed):
    assert check_limit_allows(limit, used) is allowed


def test_quotas_section_gives_neutrons_defaults_and_overrides(tmp_path):
    conf = opts.load([], "test")
    assert settings.core_settings(conf).quotas.defaults() == {
        "network": 100, "subnet": 100, "port": 500, "security_group": 10,
        "security_group_rule": 100}
    assert conf.quotas.default_quota == -1
    path = tmp_path / "neutron.conf"
    path.write_text("[quotas]\nquota_network = 10\nquota_port = -1\n")
    conf = opts.load(["--config-file", str(path)], "test")
    assert settings.core_settings(conf).quotas.defaults() == {
        "network": 10, "subnet": 100, "port": -1, "security_group": 10,
        "security_group_rule": 100}
