"""Who is asking: the caller's identity as core needs it for visibility and ownership."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from neutrino.lib import exceptions as exc


@dataclass(frozen=True)
class Context:
    user_id: str | None = None
    project_id: str | None = None
    roles: tuple[str, ...] = field(default_factory=tuple)
    is_admin: bool = False

    @classmethod
    def admin(cls) -> Context:
        """The server's own context (RPC handlers, the HA monitor)."""
        return cls(user_id=None, project_id=None, roles=("admin",), is_admin=True)


def resolve_project(ctx: Context, body: Mapping[str, Any], fallback: str | None = None) -> str:
    """The project a new resource belongs to, as Neutron's API decides it."""
    tenant, project = body.get("tenant_id"), body.get("project_id")
    if tenant is not None and project is not None and tenant != project:
        raise exc.HTTPBadRequest("'project_id' and 'tenant_id' do not match")
    given = project if project is not None else tenant
    if given is not None and not ctx.is_admin and given != ctx.project_id:
        raise exc.HTTPBadRequest(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges")
    chosen = given if given is not None else (ctx.project_id or fallback)
    if not chosen:
        raise exc.HTTPBadRequest(
            "Running without keystone AuthN requires that project_id is specified")
    return chosen
