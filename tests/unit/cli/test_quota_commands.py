"""quota-show / quota-update / quota-delete in-process, against the fake client."""

from __future__ import annotations

import json

import pytest


def test_quota_show_defaults_to_the_callers_project(cli, fake_client):
    result = cli("quota-show", "-f", "json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"network": 100, "subnet": 100, "port": 500}
    assert [w[1] for w in fake_client.writes] == ["/quotas/tenant", "/quotas/own-project"]


def test_quota_update_sends_only_the_given_limits_and_shows_the_result(cli, fake_client):
    result = cli("quota-update", "--tenant-id", "p1", "--network", "5", "--port", "-1")
    assert result.code == 0, result.err
    assert fake_client.writes == [("PUT", "/quotas/p1",
                                   {"quota": {"network": 5, "port": -1}})]
    rows = {line.split("|")[1].strip(): line.split("|")[2].strip()
            for line in result.out.splitlines() if line.startswith("| ") and "Field" not in line}
    assert rows == {"network": "5", "port": "-1", "subnet": "100"}


def test_quota_update_refuses_a_non_integer(cli, fake_client):
    with pytest.raises(SystemExit) as caught:  # argparse's usage error, as for any command
        cli("quota-update", "--tenant-id", "p1", "--port", "lots")
    assert caught.value.code == 2
    assert fake_client.writes == []


def test_quota_delete(cli, fake_client):
    cli("quota-update", "p1", "--subnet", "3")
    result = cli("quota-delete", "--tenant-id", "p1")
    assert result.code == 0 and result.out == "Deleted quota: p1\n"
    again = cli("quota-delete", "--tenant-id", "p1")
    assert again.code == 1
    assert "Quota for tenant p1 could not be found." in again.err
