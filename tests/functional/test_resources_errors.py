"""No SQL error leaves core: what the retries cannot fix becomes a Neutron error."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from neutrino.conf.settings import CoreSettings
from neutrino.core import exceptions as exc
from neutrino.core.resources import Resources
from neutrino.db import models
from neutrino.db.engine import Database

NOW = datetime(2026, 1, 1)


def _net(net_id: str) -> models.Network:
    return models.Network(id=net_id, project_id="p", name="n", status="ACTIVE", mtu=1500,
                          created_at=NOW, updated_at=NOW)


def test_broken_sql_is_service_unavailable(sqlite_database: Database) -> None:
    res = Resources(sqlite_database, CoreSettings())
    with pytest.raises(exc.ServiceUnavailable):
        res.run(lambda s: s.execute(text("SELECT * FROM no_such_table")), res._busy)


def test_unexpected_duplicate_is_conflict(database: Database) -> None:
    res = Resources(database, CoreSettings())

    def twice(s):  # noqa: ANN001, ANN202
        s.add(_net("same"))
        s.flush()
        s.add(_net("same"))
        s.flush()

    with pytest.raises(exc.Conflict) as err:
        res.run(twice, res._busy)
    assert type(err.value) is exc.Conflict and err.value.kind == exc.CONFLICT


def test_vanished_parent_is_retried_then_reported(database: Database) -> None:
    res = Resources(database, CoreSettings())
    attempts = []

    def orphan(s):  # noqa: ANN001, ANN202
        attempts.append(1)
        s.add(models.Subnet(id=f"s{len(attempts)}", project_id="p", network_id="gone",
                            ip_version=4, cidr="10.0.0.0/24", created_at=NOW, updated_at=NOW))
        s.flush()

    with pytest.raises(exc.NetworkNotFound):
        res.run(orphan, lambda: exc.NetworkNotFound(net_id="gone"))
    assert len(attempts) > 1
