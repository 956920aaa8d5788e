"""Which builtin tokens are revoked, as this process knows it: a copy of the database's
list, refreshed at most every `interval` seconds, so validating a token stays an in-memory
lookup. A revocation made here is known here at once; another replica learns it at its
next refresh (within `interval`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import anyio
import anyio.to_thread
from starlette.concurrency import run_in_threadpool

from neutrino.core.services.tokens import TokenRevocationService

LOG = logging.getLogger(__name__)
REFRESH_WAIT = 2.0  # seconds


class RevocationList:
    def __init__(self, service: TokenRevocationService, interval: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._service = service
        self._interval = interval
        self._monotonic = monotonic
        self._revoked: frozenset[str] = frozenset()
        # Revoked here (audit id -> expiry, epoch seconds) and maybe not yet in _revoked.
        self._local: dict[str, int] = {}
        self._loaded_at: float | None = None
        self._refreshing = False

    def is_revoked(self, audit_id: str) -> bool:
        return audit_id in self._revoked or audit_id in self._local

    def _stale(self) -> bool:
        return self._loaded_at is None or \
            self._monotonic() - self._loaded_at >= self._interval

    async def refresh(self) -> None:
        """Reload the list when it is older than `interval`. One reload at a time: requests
        arriving meanwhile use the list they have."""
        if self._refreshing or not self._stale():
            return
        self._refreshing = True
        try:
            fresh: frozenset[str] | None = None
            # Bounded: a silent database must not hold up every authenticated request.
            with anyio.move_on_after(REFRESH_WAIT):
                fresh = await anyio.to_thread.run_sync(self._service.active,
                                                       abandon_on_cancel=True)
            if fresh is None:
                raise TimeoutError(f"no answer within {REFRESH_WAIT}s")
            now = time.time()
            # Kept until the database's list shows them (a reload may have read it before
            # our revocation committed) or they expire.
            self._local = {a: e for a, e in self._local.items()
                           if a not in fresh and e > now}
            self._revoked = fresh
        except Exception as error:  # noqa: BLE001 - the database's trouble is the API's
            # The last list stays; the request goes on and meets the database itself.
            LOG.warning("cannot refresh revoked tokens: %s", error)
        finally:
            # Also after a failure: a database that is down is not asked on every request.
            self._loaded_at = self._monotonic()
            self._refreshing = False

    async def revoke(self, audit_id: str, expires_at: int) -> None:
        expires = datetime.fromtimestamp(expires_at, UTC).replace(tzinfo=None)
        await run_in_threadpool(self._service.revoke, audit_id, expires)
        self._local[audit_id] = expires_at
