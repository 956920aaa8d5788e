"""Quotas: what a project may create, what it uses, and the limits admins set. Who may
ask is the API's policy; enforcement runs inside each create (core/resources/quotas.py)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from neutrino.core.resources import quotas
from neutrino.core.services.base import Env
from neutrino.lib import exceptions as exc

Limits = dict[str, int]


class QuotaService:
    def __init__(self, env: Env) -> None:
        self.env = env

    @property
    def resources(self) -> tuple[str, ...]:
        return quotas.RESOURCES

    def defaults(self) -> Limits:
        return self.env.settings.quotas.defaults()

    def get(self, project_id: str) -> Limits:
        settings = self.env.settings.quotas
        return self.env.tx.read(lambda s: quotas.limits(s, settings, project_id))

    def details(self, project_id: str) -> dict[str, dict[str, int]]:
        """{resource: {limit, used, reserved}}; nothing is ever reserved here (creates
        count and insert in one transaction), so reserved is 0, as Neutron's no-lock
        driver reports once a request has finished."""
        settings = self.env.settings.quotas

        def work(session: Session) -> dict[str, dict[str, int]]:
            limits = quotas.limits(session, settings, project_id)
            return {name: {"limit": limits[name], "used": quotas.used(session, project_id, name),
                           "reserved": 0} for name in quotas.RESOURCES}
        return self.env.tx.read(work)

    def list(self) -> list[tuple[str, Limits]]:
        """(project, limits) of every project with a limit of its own, by project id."""
        defaults = self.defaults()
        found = self.env.tx.read(quotas.overrides)
        return [(project, {**defaults, **own}) for project, own in sorted(found.items())]

    def update(self, project_id: str, limits: Limits, check_limit: bool = False) -> Limits:
        """Set `limits` for the project. `check_limit` refuses a limit below what the
        project already uses (counted under the creates' lock, so no create slips in
        between the count and the new limit)."""
        unknown = sorted(set(limits) - set(quotas.RESOURCES))
        if unknown:
            raise exc.HTTPBadRequest(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        settings = self.env.settings.quotas

        def work(session: Session) -> Limits:
            for name, limit in sorted(limits.items()):
                if check_limit:
                    quotas.lock(session, project_id, name)
                    in_use = quotas.used(session, project_id, name)
                    if not quotas.check_limit_allows(limit, in_use):
                        raise exc.HTTPBadRequest(
                            f"Quota limit {limit} for {name} must be greater than or equal "
                            f"to already used {in_use}")
                quotas.set_limit(session, project_id, name, limit)
            return quotas.limits(session, settings, project_id)
        return self.env.tx.run(work)

    def delete(self, project_id: str) -> None:
        """Back to the defaults; TenantQuotaNotFound when the project had none of its own."""
        if self.env.tx.run(lambda s: quotas.delete_limits(s, project_id)) < 1:
            raise exc.TenantQuotaNotFound(tenant_id=project_id)
