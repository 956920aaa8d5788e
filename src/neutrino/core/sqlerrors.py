"""The one mapping from what the database (or a stray ValueError) raises to Neutron's
errors: `Resources.run` and Core's guard both use it, so the API sees the same status for
the same failure whichever path it took."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from neutrino.conf.settings import ConfigError
from neutrino.db.engine import CommitUnknown, DeadlineExceeded, RetryRequest
from neutrino.lib import exceptions as exc

LOG = logging.getLogger(__name__)


def busy() -> exc.NeutronException:
    return exc.Conflict("Too many concurrent changes; try again.")


def to_neutron(err: Exception, exhausted: Callable[[], exc.NeutronException] = busy
               ) -> exc.NeutronException | None:
    """The Neutron error for `err`, or None for what is not ours to translate.

    `exhausted` names the error for a transaction that still lost after its retries."""
    if isinstance(err, exc.NeutronException):
        return err
    if isinstance(err, RetryRequest):
        return exhausted()
    if isinstance(err, PoolTimeout):
        # "QueuePool limit ... reached": every connection is busy (or stuck on a silent
        # database) for longer than pool_timeout.
        LOG.warning("no database connection free: %s", err)
        return exc.ServiceUnavailable("The database is busy or not answering; try again.")
    if isinstance(err, CommitUnknown):
        LOG.error("connection to the database lost during COMMIT: %s", err)
        return exc.ServiceUnavailable("The database connection was lost while the change "
                                      "was being committed: it may or may not have been "
                                      "made. Check before trying again.")
    if isinstance(err, DeadlineExceeded):
        LOG.warning("request timed out before its transaction committed; rolled back")
        return exc.ServiceUnavailable("The request timed out; nothing was changed. "
                                      "Try again.")
    if isinstance(err, DataError):
        # Before IntegrityError/DBAPIError: a value too long or out of range is the
        # caller's, not the database's, fault.
        LOG.warning("value refused by the database: %s", err)
        return exc.InvalidInput(
            error_message="a value does not fit the attribute it is given for")
    if isinstance(err, IntegrityError):
        LOG.warning("integrity error left core: %s", err)
        return exc.Conflict("The request conflicts with the current state of the "
                            "resource.")
    if isinstance(err, DBAPIError):
        LOG.error("database error left core: %s", err)
        return exc.ServiceUnavailable("The database is unavailable; try again.")
    if isinstance(err, UnicodeEncodeError):
        # A lone surrogate the API's validators did not see (an RPC caller's, say): the
        # codec's own words mean nothing to a client.
        LOG.warning("text refused by the database: %s", err)
        return exc.InvalidInput(error_message="a value contains a lone surrogate, which "
                                              "is not a valid character")
    if isinstance(err, OverflowError):
        # A driver refusing an integer beyond its range (SQLite: 64 bits): the caller's
        # value, as PostgreSQL's "out of range" DataError is.
        LOG.warning("integer refused by the database driver: %s", err)
        return exc.InvalidInput(error_message="an integer is out of range")
    if isinstance(err, ValueError) and not isinstance(err, ConfigError):
        # A value core could not use: the request's fault, never a 500. (A bad setting
        # is the operator's and stays a server error.)
        LOG.warning("value refused by core: %s", err)
        return exc.InvalidInput(error_message=str(err) or "a value is not valid")
    return None
