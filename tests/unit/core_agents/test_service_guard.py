"""No SQL error leaves Core's public methods."""

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from neutrino.core import exceptions as exc
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
