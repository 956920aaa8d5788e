"""standard-attr-tag: /v2.0/{networks,subnets,ports}/{id}/tags[/{tag}], as Neutron's
tagging extension answers them. A tag in the URL is checked first, then the resource (one
the caller cannot see is absent: TagResourceNotFound), then the policy
`<action>_<collection>_tags` on the resource's own policy target."""

from __future__ import annotations

from typing import Any

from neutrino.api.controllers import Controller
from neutrino.api.policy import Policy
from neutrino.core.context import Context
from neutrino.core.services.tags import TagService
from neutrino.lib import exceptions as exc
from neutrino.lib import validators as v
from neutrino.lib.attributes import TAGGABLE

Item = dict[str, Any]


def _tag(value: str) -> str:
    try:
        return v.tag(value)
    except v.Invalid as err:
        raise exc.InvalidInput(error_message=str(err)) from None


def _body_tags(payload: Any) -> list[str]:
    if not isinstance(payload, dict) or "tags" not in payload:
        raise exc.InvalidInput(error_message="Invalid tags body")
    try:
        return v.tags(payload["tags"])
    except v.Invalid as err:
        raise exc.InvalidInput(error_message=str(err)) from None


class TagController:
    def __init__(self, resources: Controller, tags: TagService, policy: Policy) -> None:
        self.resources = resources
        self.tags = tags
        self.policy = policy

    def _authorize(self, ctx: Context, collection: str, resource_id: str,
                   action: str) -> None:
        try:
            target = self.resources.policy_target(ctx, TAGGABLE[collection], resource_id)
        except exc.NotFound:
            raise exc.TagResourceNotFound(resource=collection,
                                          resource_id=resource_id) from None
        self.policy.enforce(f"{action}_{collection}_tags", target, ctx)

    def index(self, ctx: Context, collection: str, resource_id: str) -> Item:
        self._authorize(ctx, collection, resource_id, "get")
        return {"tags": self.tags.list(ctx, collection, resource_id)}

    def show(self, ctx: Context, collection: str, resource_id: str, tag: str) -> None:
        tag = _tag(tag)
        self._authorize(ctx, collection, resource_id, "get")
        self.tags.check(ctx, collection, resource_id, tag)

    def create(self, ctx: Context, collection: str, resource_id: str, payload: Any) -> Item:
        """POST .../tags: the tags given are added to those the resource has."""
        new = _body_tags(payload)
        self._authorize(ctx, collection, resource_id, "create")
        self.tags.add(ctx, collection, resource_id, new)
        return {"tags": new}

    def update(self, ctx: Context, collection: str, resource_id: str, tag: str) -> None:
        """PUT .../tags/{tag}: 201 whether or not the resource had it; the body is
        Neutron's `null`."""
        tag = _tag(tag)
        self._authorize(ctx, collection, resource_id, "update")
        self.tags.add(ctx, collection, resource_id, [tag])

    def update_all(self, ctx: Context, collection: str, resource_id: str,
                   payload: Any) -> Item:
        wanted = _body_tags(payload)
        self._authorize(ctx, collection, resource_id, "update")
        return {"tags": self.tags.replace(ctx, collection, resource_id, wanted)}

    def delete(self, ctx: Context, collection: str, resource_id: str, tag: str) -> None:
        tag = _tag(tag)
        self._authorize(ctx, collection, resource_id, "delete")
        self.tags.remove(ctx, collection, resource_id, tag)

    def delete_all(self, ctx: Context, collection: str, resource_id: str) -> None:
        self._authorize(ctx, collection, resource_id, "delete")
        self.tags.clear(ctx, collection, resource_id)
