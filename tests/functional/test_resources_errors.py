"""No SQL error leaves core: what the retries cannot fix becomes a Neutron error."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text

from neutrino.conf.settings import CoreSettings
from neutrino.core.context import Context
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import build_services
from neutrino.core.transaction import Transactions
from neutrino.db import models
from neutrino.db.engine import Database
from neutrino.lib import exceptions as exc

NOW = datetime(2026, 1, 1)


def _net(net_id: str) -> models.Network:
    return models.Network(id=net_id, project_id="p", name="n", status="ACTIVE", mtu=1500,
                          created_at=NOW, updated_at=NOW)


def test_broken_sql_is_service_unavailable(sqlite_database: Database) -> None:
    with pytest.raises(exc.ServiceUnavailable):
        Transactions(sqlite_database).run(lambda s: s.execute(text("SELECT * FROM no_such_table")))


def test_unexpected_duplicate_is_conflict(database: Database) -> None:
    def twice(s):  # noqa: ANN001, ANN202
        s.add(_net("same"))
        s.flush()
        s.add(_net("same"))
        s.flush()

    with pytest.raises(exc.Conflict) as err:
        Transactions(database).run(twice)
    assert type(err.value) is exc.Conflict and err.value.kind == exc.CONFLICT


def test_vanished_parent_is_retried_then_reported(database: Database) -> None:
    attempts = []

    def orphan(s):  # noqa: ANN001, ANN202
        attempts.append(1)
        s.add(models.Subnet(id=f"s{len(attempts)}", project_id="p", network_id="gone",
                            ip_version=4, cidr="10.0.0.0/24", created_at=NOW, updated_at=NOW))
        s.flush()

    with pytest.raises(exc.NetworkNotFound):
        Transactions(database).run(orphan, lambda: exc.NetworkNotFound(net_id="gone"))
    assert len(attempts) > 1


def test_overlong_values_are_bad_requests(database: Database) -> None:
    admin = Context(user_id="a", project_id="p", roles=("admin",), is_admin=True)
    res = _services(database, CoreSettings(tenant_network_type="local"))
    with pytest.raises(exc.InvalidInput):
        res.networks.create(admin, {"name": "x" * 256})
    with pytest.raises(exc.InvalidInput):
        res.networks.create(admin, {"availability_zone_hints": [f"z-{i:03}" for i in range(40)]})
    net = res.networks.create(admin, {"name": "ok"})
    with pytest.raises(exc.InvalidInput):
        res.ports.create(admin, {"network_id": net["id"], "device_id": "d" * 300})
    with pytest.raises(exc.InvalidInput):
        res.ports.create(admin, {"network_id": net["id"], "extra_dhcp_opts": [
            {"opt_name": "n" * 65, "opt_value": "v"}]})
    with pytest.raises(exc.InvalidInput):
        res.networks.update(admin, net["id"], {"description": "d" * 256})


def test_value_too_long_for_its_column_is_a_bad_request(server_database: Database) -> None:
    """(SQLite does not enforce lengths, so only the server databases can refuse.)"""
    with server_database.session() as s:
        s.add(_net("n1"))

    def overlong(s):  # noqa: ANN001, ANN202
        s.get(models.Network, "n1").status = "S" * 40
        s.flush()

    with pytest.raises(exc.InvalidInput):
        Transactions(server_database).run(overlong)


def test_bad_base_mac_refuses_to_start(sqlite_database: Database) -> None:
    from neutrino.conf.settings import ConfigError
    with pytest.raises(ConfigError):
        _services(sqlite_database, CoreSettings(base_mac="fa:16:3e"))


def _services(db, settings, clock=None):
    """Core's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
