"""Networks: the one path the API (and the tests) take to read and change them."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from neutrino.core.agents import revisions
from neutrino.core.agents.notify import Outbox, hosting_hosts, network_update_for_dhcp
from neutrino.core.context import Context
from neutrino.core.resources import networks, paging, quotas, views
from neutrino.core.services.base import Body, Env, Filters, Page, PageRequest
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib import payloads


class NetworkService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def create(self, ctx: Context, body: Body) -> Body:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: Context, bodies: list[Body]) -> list[Body]:
        # Not scheduled yet (as Neutron): that waits until the network needs DHCP, which
        # leaves the admin the chance to place it by hand.
        env = self.env

        def work(session: Session) -> list[Body]:
            quotas.enforce_create(session, ctx, env.settings.quotas, quotas.NETWORK, bodies)
            created = [networks.create(session, ctx, env.settings, env.clock, body)
                       for body in bodies]
            return views.network_dicts(session, created)
        return env.tx.run(work, exc.NoNetworkAvailable)

    def get(self, ctx: Context, id: str) -> Body:
        return self.env.tx.read(
            lambda s: views.network_dicts(s, [networks.get(s, ctx, id)])[0])

    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]:
        return self.env.tx.read(
            lambda s: views.network_dicts(s, networks.query(s, ctx, filters)))

    def policy_targets(self, ids: Collection[str]) -> dict[str, Body]:
        """What subnets' and ports' policy targets take from their networks (project_id,
        shared), for any caller: read without building the networks' views."""
        return self.env.tx.read(lambda s: networks.policy_targets(s, ids))

    sort_keys = frozenset(paging.NETWORK_SORTS)

    def list_page(self, ctx: Context, filters: Filters | None,
                  request: PageRequest) -> Page[Body]:
        return self.env.tx.read(lambda s: networks.page(s, ctx, filters, request))

    def update(self, ctx: Context, id: str, body: Body) -> Body:
        env = self.env

        def work(session: Session) -> tuple[Body, Outbox]:
            net = networks.update(session, ctx, env.settings, env.clock, id, body)
            shown = views.network_dicts(session, [net])[0]
            outbox = Outbox()
            if network_update_for_dhcp(body):
                revisions.bump(session, [id])
                outbox.to_hosts(hosting_hosts(session, [id])[id], const.NETWORK_UPDATE_END,
                                payloads.network_update(shown))
            return shown, outbox.record(session, env.now())
        network, outbox = env.tx.run(work)
        env.send(outbox)
        return network

    def delete(self, ctx: Context, id: str) -> None:
        def work(session: Session) -> Outbox:
            # The bindings go with the network: read them under the network's row lock,
            # in the delete's transaction, so an agent placed just before is told too.
            networks.get_owned(session, ctx, id, "delete_network", for_update=True)
            outbox = Outbox()
            outbox.to_hosts(hosting_hosts(session, [id])[id], const.NETWORK_DELETE_END,
                            payloads.network_delete(id))
            networks.delete(session, ctx, id)
            return outbox.record(session, self.env.now())
        self.env.send(self.env.tx.run(work, lambda: exc.NetworkInUse(net_id=id)))
