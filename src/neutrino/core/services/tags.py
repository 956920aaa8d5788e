"""Tags of networks, subnets and ports (standard-attr-tag): each write one transaction,
under the resource's row lock, bumping its revision_number when the tags change."""

from __future__ import annotations

import builtins

from sqlalchemy.orm import Session

from neutrino.core.context import Context
from neutrino.core.resources import tags
from neutrino.core.services.base import Env
from neutrino.lib import exceptions as exc


class TagService:
    collections = tags.COLLECTIONS

    def __init__(self, env: Env) -> None:
        self.env = env

    def list(self, ctx: Context, collection: str, resource_id: str) -> list[str]:
        return self.env.tx.read(
            lambda s: tags.names(tags.parent(s, ctx, collection, resource_id)))

    def check(self, ctx: Context, collection: str, resource_id: str, tag: str) -> None:
        """Nothing if the resource carries `tag`; TagNotFound otherwise."""
        if tag not in self.list(ctx, collection, resource_id):
            raise exc.TagNotFound(tag=tag)

    def replace(self, ctx: Context, collection: str, resource_id: str,
                wanted: builtins.list[str]) -> builtins.list[str]:
        def work(session: Session) -> builtins.list[str]:
            row = tags.parent(session, ctx, collection, resource_id, for_update=True)
            return tags.replace(session, row, wanted, self.env.clock)
        return self.env.tx.run(work)

    def add(self, ctx: Context, collection: str, resource_id: str,
            new: builtins.list[str]) -> builtins.list[str]:
        """Idempotent: a tag the resource has already changes nothing."""
        def work(session: Session) -> builtins.list[str]:
            row = tags.parent(session, ctx, collection, resource_id, for_update=True)
            return tags.add(session, row, new, self.env.clock)
        return self.env.tx.run(work)

    def remove(self, ctx: Context, collection: str, resource_id: str, tag: str) -> None:
        def work(session: Session) -> None:
            row = tags.parent(session, ctx, collection, resource_id, for_update=True)
            tags.remove(session, row, tag, self.env.clock)
        self.env.tx.run(work)

    def clear(self, ctx: Context, collection: str, resource_id: str) -> None:
        self.replace(ctx, collection, resource_id, [])
