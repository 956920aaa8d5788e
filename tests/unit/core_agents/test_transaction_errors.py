"""No SQL error leaves core: every transaction maps them in one place."""

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from neutrino.conf.settings import ConfigError
from neutrino.core.transaction import Transactions
from neutrino.db.engine import RetryRequest
from neutrino.lib import exceptions as exc


class FailingDatabase:
    def __init__(self, error):
        self.error = error

    def transaction(self, work, **kwargs):
        raise self.error


@pytest.mark.parametrize("error,expected", [
    (RetryRequest(), exc.NetworkInUse),
    (DataError("INSERT", {}, Exception("value too long")), exc.InvalidInput),
    (ValueError("not an address"), exc.InvalidInput),
    (IntegrityError("INSERT", {}, Exception("dup")), exc.Conflict),
    (OperationalError("SELECT 1", {}, Exception("gone")), exc.ServiceUnavailable),
])
def test_sql_errors_become_neutron_errors(error, expected):
    tx = Transactions(FailingDatabase(error))
    with pytest.raises(expected):
        tx.run(lambda s: None, lambda: exc.NetworkInUse(net_id="n"))


def test_a_lost_race_is_busy_by_default():
    with pytest.raises(exc.Conflict):
        Transactions(FailingDatabase(RetryRequest())).run(lambda s: None)


def test_neutron_errors_pass_unchanged():
    with pytest.raises(exc.AgentNotFound):
        Transactions(FailingDatabase(exc.AgentNotFound(id="x"))).run(lambda s: None)


def test_config_errors_are_not_blamed_on_the_request():
    with pytest.raises(ConfigError):
        Transactions(FailingDatabase(ConfigError("bad setting"))).run(lambda s: None)
