"""The recorded casts to DHCP agents (see `core.agents.notify`): every process that runs
core deletes the ones it sent, in batches; one process per replica (`tick`) also sends
again those that no replica sent within a grace."""

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

    def flush(self, timeout: float = 30.0) -> None:
        """At shutdown: send the outboxes waiting for this process's sending thread."""
        if self.env.sender is not None:
            self.env.sender.close(timeout)

    def tick(self) -> int:
        """Delete what this process sent, then sweep; how many casts were sent again."""
        self.forget_sent()
        return self.sweep()

    def forget_sent(self) -> None:
        """Delete the recorded casts this process sent, in one batch."""
        sent = self.env.delivered.take()
        try:
            self.queue.forget(sent)
        except Exception:
            self.env.delivered.add(sent)  # the database is away: next tick
            raise

    def sweep(self) -> int:
        """Send the recorded casts nobody sent within the grace; how many."""
        resent = 0
        while True:
            count = self.queue.sweep(self.env.notifier, GRACE, BATCH, MAX_AGE)
            resent += count
            if count == 0:
                return resent
