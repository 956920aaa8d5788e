"""Security groups and rules: the one path to read and change them, and what the Linux
bridge agents fetch over RPC. Every change tells the agents after its commit (fanout):
rules of a group changed, or the filtering of a port did."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from neutrino.core.agents import securitygroups as agent_view
from neutrino.core.agents.notify import Outbox
from neutrino.core.context import Context
from neutrino.core.resources import quotas
from neutrino.core.resources import securitygroups as sg
from neutrino.core.services.base import Body, Env, Filters
from neutrino.lib import exceptions as exc
from neutrino.lib.payloads import SecurityGroupInfo

# A new group's initial rules (egress for IPv4 and IPv6) count against the rule quota.
INITIAL_RULES = 2


class SecurityGroupService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def create(self, ctx: Context, body: Body) -> Body:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: Context, bodies: list[Body]) -> list[Body]:
        env = self.env

        def work(session: Session) -> list[Body]:
            limits = env.settings.quotas
            projects = [p for p in (quotas.project_of(session, ctx, b) for b in bodies)
                        if p is not None]
            quotas.enforce(session, limits, quotas.SECURITY_GROUP, projects)
            quotas.enforce(session, limits, quotas.SECURITY_GROUP_RULE,
                           projects * INITIAL_RULES)
            return [sg.group_dict(sg.create_group(session, ctx, env.clock, b))
                    for b in bodies]
        return env.tx.run(work)

    def get(self, ctx: Context, id: str) -> Body:
        return self.env.tx.read(lambda s: sg.group_dict(sg.get_group(s, ctx, id)))

    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]:
        def work(session: Session) -> list[Body]:
            sg.ensure_default_for(session, ctx, filters, self.env.clock)
            return [sg.group_dict(g) for g in sg.query_groups(session, ctx, filters)]
        return self.env.tx.run(work)

    def update(self, ctx: Context, id: str, body: Body) -> Body:
        # Nothing to tell the agents: `stateful` changes only on a group no port uses.
        return self.env.tx.run(lambda s: sg.group_dict(
            sg.update_group(s, ctx, self.env.clock, id, body)))

    def delete(self, ctx: Context, id: str) -> None:
        # A port joining the group meanwhile breaks the delete's foreign key: the retry
        # finds it and answers SecurityGroupInUse.
        referring = self.env.tx.run(lambda s: sg.delete_group(s, ctx, id),
                                    lambda: exc.SecurityGroupInUse(id=id))
        _tell(self.env, rules=referring)


class SecurityGroupRuleService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def create(self, ctx: Context, body: Body) -> Body:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: Context, bodies: list[Body]) -> list[Body]:
        env = self.env

        def work(session: Session) -> list[Body]:
            return [sg.rule_dict(r) for r in sg.create_rules(
                session, ctx, env.clock, bodies,
                lambda project, count: quotas.enforce(
                    session, env.settings.quotas, quotas.SECURITY_GROUP_RULE,
                    [project] * count))]
        created = env.tx.run(work)
        _tell(env, rules=[r["security_group_id"] for r in created])
        return created

    def get(self, ctx: Context, id: str) -> Body:
        return self.env.tx.read(lambda s: sg.rule_dict(sg.get_rule(s, ctx, id)))

    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]:
        def work(session: Session) -> list[Body]:
            sg.ensure_default_for(session, ctx, filters, self.env.clock)
            return [sg.rule_dict(r) for r in sg.query_rules(session, ctx, filters)]
        return self.env.tx.run(work)

    def update(self, ctx: Context, id: str, body: Body) -> Body:
        return self.env.tx.run(
            lambda s: sg.rule_dict(sg.update_rule(s, ctx, self.env.clock, id, body)))

    def delete(self, ctx: Context, id: str) -> None:
        group_id = self.env.tx.run(lambda s: sg.delete_rule(s, ctx, id))
        _tell(self.env, rules=[group_id])


class SecurityGroupRpcService:
    """security_group_info_for_devices, for the Linux bridge agents."""

    def __init__(self, env: Env) -> None:
        self.env = env

    def info_for_devices(self, devices: Iterable[str]) -> SecurityGroupInfo:
        wanted = [d for d in devices if isinstance(d, str)]
        return self.env.tx.read(lambda s: agent_view.info_for_devices(s, wanted))


def _tell(env: Env, rules: Iterable[str]) -> None:
    outbox = Outbox()
    outbox.rules_changed(rules)
    outbox.send(env.notifier)
