"""Subnets: the one path to read and change them; a first DHCP-enabled subnet schedules
its network."""

from __future__ import annotations

from sqlalchemy.orm import Session

from neutrino.core.agents import revisions
from neutrino.core.agents.bindings import DhcpBindings
from neutrino.core.agents.notify import Outbox, hosting_hosts
from neutrino.core.context import Context
from neutrino.core.resources import paging, quotas, subnets, views
from neutrino.core.services.base import Body, Env, Filters, Page, PageRequest
from neutrino.core.services.scheduling import schedule_after_commit
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib import payloads


class SubnetService:
    def __init__(self, env: Env, bindings: DhcpBindings) -> None:
        self.env = env
        self.bindings = bindings

    def create(self, ctx: Context, body: Body) -> Body:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: Context, bodies: list[Body]) -> list[Body]:
        env = self.env

        def work(session: Session) -> tuple[list[Body], dict[str, list[str]], Outbox]:
            quotas.enforce_create(session, ctx, env.settings.quotas, quotas.SUBNET, bodies)
            created = [views.subnet_dict(subnets.create(session, ctx, env.settings,
                                                        env.clock, b)) for b in bodies]
            network_ids = {s["network_id"] for s in created}
            revisions.bump(session, network_ids)
            hosts = hosting_hosts(session, network_ids)
            outbox = Outbox()
            for subnet in created:
                outbox.to_hosts(hosts[subnet["network_id"]], const.SUBNET_CREATE_END,
                                payloads.subnet_event(subnet))
            return created, hosts, outbox.record(session, env.now())
        created, hosts, outbox = env.tx.run(work)
        # The casts to agents placed now are not recorded: if one is lost, the agent's
        # revision check finds the network new to it.
        for network_id in sorted({s["network_id"] for s in created if s["enable_dhcp"]}):
            placed = [h for h in schedule_after_commit(self.bindings, network_id, env.now(),
                                                       outbox)
                      if h not in hosts[network_id]]
            for subnet in created:
                if subnet["network_id"] == network_id:
                    outbox.to_hosts(placed, const.SUBNET_CREATE_END,
                                    payloads.subnet_event(subnet))
        env.send(outbox)
        return created

    def get(self, ctx: Context, id: str) -> Body:
        return self.env.tx.read(lambda s: views.subnet_dict(subnets.get(s, ctx, id)))

    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]:
        return self.env.tx.read(
            lambda s: [views.subnet_dict(x) for x in subnets.query(s, ctx, filters)])

    sort_keys = frozenset(paging.SUBNET_SORTS)

    def list_page(self, ctx: Context, filters: Filters | None,
                  request: PageRequest) -> Page[Body]:
        def work(session: Session) -> Page[Body]:
            found = subnets.page(session, ctx, filters, request)
            return Page([views.subnet_dict(x) for x in found.items], found.has_before,
                        found.has_after)
        return self.env.tx.read(work)

    def update(self, ctx: Context, id: str, body: Body) -> Body:
        env = self.env

        def work(session: Session) -> tuple[Body, list[str], Outbox]:
            shown = views.subnet_dict(
                subnets.update(session, ctx, env.settings, env.clock, id, body))
            network_id = shown["network_id"]
            revisions.bump(session, [network_id])
            hosts = hosting_hosts(session, [network_id])[network_id]
            outbox = Outbox()
            outbox.to_hosts(hosts, const.SUBNET_UPDATE_END, payloads.subnet_event(shown))
            return shown, hosts, outbox.record(session, env.now())
        subnet, hosts, outbox = env.tx.run(work)
        if subnet["enable_dhcp"] and body.get("enable_dhcp"):
            placed = [h for h in schedule_after_commit(
                self.bindings, subnet["network_id"], env.now(), outbox) if h not in hosts]
            outbox.to_hosts(placed, const.SUBNET_UPDATE_END, payloads.subnet_event(subnet))
        env.send(outbox)
        return subnet

    def delete(self, ctx: Context, id: str) -> None:
        def work(session: Session) -> Outbox:
            shown = views.subnet_dict(subnets.get(session, ctx, id))
            subnets.delete(session, ctx, self.env.clock, id)
            network_id = shown["network_id"]
            revisions.bump(session, [network_id])
            outbox = Outbox()
            outbox.to_hosts(hosting_hosts(session, [network_id])[network_id],
                            const.SUBNET_DELETE_END, payloads.subnet_delete(shown))
            return outbox.record(session, self.env.now())
        self.env.send(self.env.tx.run(work, lambda: exc.SubnetInUse(subnet_id=id)))
