"""What every service is built from, and the shape the API relies on for resources."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from neutrino.conf.settings import CoreSettings
from neutrino.core.agents.notify import Delivered, Outbox, SendingThread
from neutrino.core.agents.registry import server_time
from neutrino.core.context import Context
from neutrino.core.interfaces import Clock, DhcpAgentNotifier
from neutrino.core.resources.paging import Page, PageRequest
from neutrino.core.transaction import Transactions

Body = dict[str, Any]
__all__ = ["Body", "Collection", "Creatable", "Env", "Filters", "Page", "PageRequest",
           "ResourceService"]
Filters = Mapping[str, Sequence[Any]]


class Collection(Protocol):
    """A collection as the API sees it: read, change, delete (agents are no more).
    Results carry every attribute (the API strips by visibility and `fields=`); `filters`
    hold already converted values, OR within a key, AND across. Errors are
    `neutrino.lib.exceptions` types; NotFound also for what the caller may not see."""

    def get(self, ctx: Context, id: str) -> Body: ...
    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]: ...
    def update(self, ctx: Context, id: str, body: Body) -> Body: ...
    def delete(self, ctx: Context, id: str) -> None: ...


class Creatable(Collection, Protocol):
    """A collection the API creates in. Bodies have passed the API's type validation and
    carry its defaults for omitted attributes; a bulk create is all or nothing."""

    def create(self, ctx: Context, body: Body) -> Body: ...
    def create_bulk(self, ctx: Context, bodies: list[Body]) -> list[Body]: ...


class ResourceService(Creatable, Protocol):
    """Networks, subnets and ports. `list_page` sorts and pages in SQL: one page read
    whatever the collection's size; `sort_keys` are the attributes it can sort by (the
    API sorts by others itself)."""

    sort_keys: frozenset[str]

    def list_page(self, ctx: Context, filters: Filters | None,
                  request: PageRequest) -> Page[Body]: ...


@dataclass(frozen=True)
class Env:
    tx: Transactions
    settings: CoreSettings
    notifier: DhcpAgentNotifier
    clock: Clock
    # Recorded casts this process sent, for the cast loop to delete (see core.agents.notify).
    delivered: Delivered = field(default_factory=Delivered)
    # Where outboxes go to be sent by a thread of their own; None: by the caller.
    sender: SendingThread | None = None

    def now(self) -> datetime:
        """The server's time as stored (whole seconds)."""
        return server_time(self.clock.now())

    def send(self, outbox: Outbox) -> None:
        """After the commit: the outbox's casts, recorded ones marked delivered."""
        if self.sender is not None:
            self.sender(outbox)
        else:
            outbox.send(self.notifier, self.delivered)
