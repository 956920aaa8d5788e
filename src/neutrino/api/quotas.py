"""The `quotas` and `quota_details` extensions: Neutron's /v2.0/quotas URLs and who may
call them. A project's own quota is readable by its members without any policy check (as
Neutron's controller does it); other projects' need `get_quota`, changes `update_quota` /
`delete_quota` (admin by default)."""

from __future__ import annotations

from typing import Any

from neutrino.api import request
from neutrino.api.errors import ApiError, bad_request
from neutrino.api.policy import Policy
from neutrino.core.context import Context
from neutrino.core.services.quotas import QuotaService
from neutrino.lib import exceptions as exc
from neutrino.lib import validators as v
from neutrino.lib.attributes import QUOTA

Item = dict[str, Any]


class QuotaController:
    def __init__(self, quotas: QuotaService, policy: Policy) -> None:
        self.quotas = quotas
        self.policy = policy

    def _enforce(self, ctx: Context, action: str) -> None:
        # Neutron checks these against the caller's own project, not the one in the URL.
        self.policy.enforce(action, {"project_id": ctx.project_id,
                                     "tenant_id": ctx.project_id}, ctx)

    def _may_read(self, ctx: Context, project_id: str) -> None:
        if project_id != ctx.project_id:
            self._enforce(ctx, "get_quota")

    def list(self, ctx: Context) -> Item:
        self._enforce(ctx, "get_quota")
        return {"quotas": [{**limits, "project_id": project, "tenant_id": project}
                           for project, limits in self.quotas.list()]}

    def show(self, ctx: Context, project_id: str) -> Item:
        self._may_read(ctx, project_id)
        return {"quota": self.quotas.get(project_id)}

    def default(self, ctx: Context, project_id: str) -> Item:
        self._may_read(ctx, project_id)
        return {"quota": self.quotas.defaults()}

    def details(self, ctx: Context, project_id: str) -> Item:
        # quota_details answers as Neutron's does: AdminRequired, not a policy error.
        if project_id != ctx.project_id and not ctx.is_admin:
            raise exc.AdminRequired(
                reason="Only admin is authorized to access quotas for another tenant")
        return {"quota": self.quotas.details(project_id)}

    def current_project(self, ctx: Context, key: str) -> Item:
        """GET /v2.0/quotas/project (and the deprecated /tenant): the caller's project."""
        if not ctx.project_id:
            raise exc.QuotaMissingTenant()
        return {key: {f"{key}_id": ctx.project_id}}

    def create(self, ctx: Context) -> None:
        raise ApiError(501, "HTTPNotImplemented",
                       "POST requests are not supported on this resource.")

    def update(self, ctx: Context, project_id: str, payload: Any) -> Item:
        self._enforce(ctx, "update_quota")
        items, _ = request.resource_items(payload, QUOTA, allow_bulk=False)
        item = items[0]
        if not isinstance(item, dict):
            raise bad_request(request.INVALID_BODY)
        item = dict(item)
        # What `openstack quota set` sends beside the limits: check_limit refuses a limit
        # below the current usage, force (the opposite) is the default here.
        check_limit = v.to_boolean(item.pop("check_limit", False))
        item.pop("force", None)
        limits = request.prepare_update(QUOTA, item)
        return {"quota": self.quotas.update(project_id, limits, check_limit)}

    def delete(self, ctx: Context, project_id: str) -> None:
        self._enforce(ctx, "delete_quota")
        self.quotas.delete(project_id)
