"""No SQL error leaves Core's public methods."""

import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from neutrino.conf.settings import ConfigError, CoreSettings
from neutrino.core import exceptions as exc
from neutrino.core.resources import Resources
from neutrino.core.service import _guarded
from neutrino.db.engine import RetryRequest


@_guarded
class Thing:
    def raise_(self, error):
        raise error

    def _private(self, error):
        raise error


@pytest.mark.parametrize("error,expected", [
    (RetryRequest(), exc.Conflict),
    (IntegrityError("INSERT", {}, Exception("dup")), exc.Conflict),
    (OperationalError("SELECT 1", {}, Exception("gone")), exc.ServiceUnavailable),
])
def test_sql_errors_become_neutron_errors(error, expected):
    with pytest.raises(expected):
        Thing().raise_(error)


def test_neutron_errors_pass_unchanged():
    with pytest.raises(exc.AgentNotFound):
        Thing().raise_(exc.AgentNotFound(id="x"))


def test_private_methods_are_left_alone():
    with pytest.raises(RetryRequest):
        Thing()._private(RetryRequest())


@pytest.mark.parametrize("error", [
    DataError("INSERT", {}, Exception("value too long")),
    ValueError("not an address"),
])
def test_bad_values_are_invalid_input_not_500(error):
    with pytest.raises(exc.InvalidInput):
        Thing().raise_(error)


def test_config_errors_are_not_blamed_on_the_request():
    with pytest.raises(ConfigError):
        Thing().raise_(ConfigError("bad setting"))


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
def test_resources_map_errors_as_core_does(error, expected):
    resources = Resources(FailingDatabase(error), CoreSettings())
    with pytest.raises(expected):
        resources.run(lambda s: None, lambda: exc.NetworkInUse(net_id="n"))
    with pytest.raises(expected if expected is not exc.NetworkInUse else exc.Conflict):
        Thing().raise_(error)
