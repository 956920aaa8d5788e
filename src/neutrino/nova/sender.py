"""The sender every server replica runs: every `send_events_interval` it claims a batch of
due events from the outbox, posts it to Nova in one request, deletes what Nova settled and
puts the rest back for later, waiting twice as long after each failed attempt. It runs in
its own thread, never on an API request's path; Nova being down only delays events."""

from __future__ import annotations

import logging
import threading

from neutrino.core.agents.nova import NovaEventQueue
from neutrino.nova.client import EventPoster

LOG = logging.getLogger(__name__)

BATCH = 100
# Longer than a request can take (keystoneauth's timeout, token fetch included), so a claim
# never runs out while its batch is on the wire and another replica cannot send it again.
LEASE_SECONDS = 300.0
BACKOFF_CAP = 300.0
# 24 attempts with waits capped at five minutes: about an hour and a half of trying, beyond
# Nova's vif_plugging_timeout and what any boot waits for.
MAX_ATTEMPTS = 24


class NovaSender:
    def __init__(self, queue: NovaEventQueue, client: EventPoster, interval: float,
                 batch: int = BATCH, lease_seconds: float = LEASE_SECONDS,
                 backoff_cap: float = BACKOFF_CAP, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.queue = queue
        self.client = client
        self.interval = interval
        self.batch = batch
        self.lease_seconds = lease_seconds
        self.backoff_cap = backoff_cap
        self.max_attempts = max_attempts

    def tick(self) -> int:
        """Send what is due, batch after batch until a batch fails or nothing is left;
        returns how many events were settled."""
        settled = 0
        while True:
            claim = self.queue.claim(self.batch, self.lease_seconds)
            if claim is None:
                return settled
            events = claim.bodies()
            LOG.debug("Sending %d event(s) to Nova: %s", len(events), events)
            reply = self.client.post(events)
            if reply.final:
                settled += self.queue.done(claim)
                LOG.info("Nova events sent (%s)", reply.detail)
            else:
                dropped = self.queue.retry(claim, self.interval, self.backoff_cap,
                                           self.max_attempts)
                LOG.warning("Could not send %d event(s) to Nova, will retry: %s",
                            len(events) - len(dropped), reply.detail)
                if dropped:
                    LOG.error("Gave up on %d Nova event(s) after %d attempts: %s",
                              len(dropped), self.max_attempts,
                              [item.event.body() for item in dropped])
                return settled
            if len(claim.items) < self.batch:
                return settled


class SenderLoop:
    """`sender.tick()` about every interval in a daemon thread; a failing tick (database
    away) is logged and the next one runs anyway."""

    def __init__(self, sender: NovaSender) -> None:
        self._sender = sender
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nova-notifier", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._sender.interval):
            try:
                self._sender.tick()
            except Exception:
                LOG.exception("Nova notifier tick failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
