"""Every transaction core runs, and the one place its SQL errors become Neutron's.

A unit of work runs again from the start when it loses a race (deadlock, serialization
failure, a parent row deleted under it); what still fails after the retries leaves as a
Neutron error, so no SQL error ever reaches the API or an RPC caller.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.core import sqlerrors
from neutrino.db.engine import Database, RetryRequest, deadline, integrity_kind

# The API sets a deadline per request (neutrino.db stays out of its imports).
__all__ = ["Transactions", "deadline"]
from neutrino.lib import exceptions as exc

T = TypeVar("T")
MAX_ATTEMPTS = 30
FOREIGN_KEY_RETRIES = 3

Exhausted = Callable[[], exc.NeutronException]


class Transactions:
    def __init__(self, db: Database, session_info: Mapping[str, object] | None = None) -> None:
        """`session_info` goes into every session's `info`: what hooks deep inside a unit
        of work read (whether to record events for Nova, see core/nova.py)."""
        self.db = db
        self.session_info = dict(session_info or {})

    def run(self, work: Callable[[Session], T], exhausted: Exhausted = sqlerrors.busy,
            readonly: bool = False) -> T:
        """work(session) as one retried transaction; `exhausted` names the error for one
        that still loses after its retries."""
        vanished = 0

        def attempt(session: Session) -> T:
            nonlocal vanished
            session.info.update(self.session_info)
            try:
                return work(session)
            except IntegrityError as err:
                # A parent row vanished under us (a concurrent delete): start again, and
                # the next attempt reports it as not found. Once or twice is a race; more
                # is not, and retrying longer would not help.
                if integrity_kind(err) != "foreign_key":
                    raise
                vanished += 1
                if vanished > FOREIGN_KEY_RETRIES:
                    raise exhausted() from None
                raise RetryRequest() from err

        try:
            return self.db.transaction(attempt, readonly=readonly, max_attempts=MAX_ATTEMPTS)
        except exc.NeutronException:
            raise
        except Exception as err:
            mapped = sqlerrors.to_neutron(err, exhausted)
            if mapped is None:
                raise
            raise mapped from None

    def read(self, work: Callable[[Session], T]) -> T:
        return self.run(work, readonly=True)
