"""The recorded casts to DHCP agents (see `core.agents.notify`), kept by every process that
runs core: the ones it sent are deleted in batches, and those that no replica sent within
a grace are sent again."""

from __future__ import annotations

from neutrino.core.agents.notify import CastQueue
from neutrino.core.services.base import Env

# Longer than a commit-to-send takes on a busy replica plus the batching of deletes (one
# tick), so the sweeper rarely sends what its sender is about to delete; recorded times are
# whole seconds, so casts wait GRACE to GRACE + 1 s.
GRACE = 2.0
BATCH = 200
# Past this a cast is dropped unsent (say, after a long broker outage): agents' revision
# checks have caught up with it long before.
MAX_AGE = 600.0


class CastService:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.queue = CastQueue(env.tx, env.clock)

    def tick(self) -> int:
        """Delete what this process sent, then sweep; how many casts were sent again."""
        sent = self.env.delivered.take()
        try:
            self.queue.forget(sent)
        except Exception:
            self.env.delivered.add(sent)  # the database is away: next tick
            raise
        resent = 0
        while True:
            count = self.queue.sweep(self.env.notifier, GRACE, BATCH, MAX_AGE)
            resent += count
            if count == 0:
                return resent
