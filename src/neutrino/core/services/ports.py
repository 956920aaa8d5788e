"""Ports: the one path to read and change them. A port, any scheduling it triggers and its
provisioning blocks commit together, so no agent can report it up before its blocks exist;
the agents hosting its network hear of it after the commit."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from neutrino.core.agents import nova, provisioning, revisions
from neutrino.core.agents import securitygroups as secgroup_view
from neutrino.core.agents.bindings import DhcpBindings
from neutrino.core.agents.notify import (
    Outbox,
    hosting_hosts,
    port_changed_for_dhcp,
)
from neutrino.core.context import Context
from neutrino.core.resources import networks, paging, portbindings, ports, quotas, views
from neutrino.core.resources.viewmemo import SETTLE, ViewMemo
from neutrino.core.services.base import Body, Env, Filters, Page, PageRequest
from neutrino.core.services.scheduling import schedule_for_new_ports, served
from neutrino.db.models import Port, ProvisioningBlock
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib import payloads

# Checks the locked row before an update writes, in the same transaction.
Guard = Callable[[Session, Port], None]
# The caller's right to change a port, decided in the change's own transaction on the
# locked row: (the port's dict, a reader of its network's policy_targets entry); raises
# to refuse. One transaction instead of a read for the check and another for the change;
# the network is read only if the caller's rules look at it (an admin's do not).
Authorize = Callable[[Body, Callable[[], Body]], None]


def rebind(session: Session, row: Port) -> None:
    """A port bound to a new host (or unbound) is wired again from scratch there."""
    provisioning.rebind_blocks(session, row.id, row.device_owner, row.host_id,
                               served(session, row.network_id))
    row.status = const.PORT_STATUS_DOWN
    session.flush()


def tell_dhcp_agents(session: Session, before: Body, after: Body, now: datetime) -> Outbox:
    """In the update's transaction: if the change matters to DHCP, its network's revision
    moves and port_update_end to the agents hosting it is recorded."""
    outbox = Outbox()
    if port_changed_for_dhcp(before, after):
        network_id = after["network_id"]
        outbox.to_hosts(hosting_hosts(session, [network_id])[network_id],
                        const.PORT_UPDATE_END, payloads.port_event(after))
        record_and_bump(session, outbox, [network_id], now)
    return outbox


def record_and_bump(session: Session, outbox: Outbox, network_ids: Iterable[str],
                    now: datetime) -> Outbox:
    """The casts recorded, then the networks' DHCP revisions moved: last, because the bump
    locks the networks' rows until the commit and every write to their ports waits for it."""
    outbox.record(session, now)
    revisions.bump(session, network_ids)
    return outbox


def _check(session: Session, authorize: Authorize | None, port: Body) -> None:
    """`authorize` on a port read for a change, with its network's policy target."""
    if authorize is not None:
        network_id = port["network_id"]
        authorize(port, lambda: networks.policy_targets(session, [network_id]).get(
            network_id, {}))


class PortService:
    def __init__(self, env: Env, bindings: DhcpBindings) -> None:
        self.env = env
        self.bindings = bindings
        # The views lists and shows made, by row: a port read again unchanged is not
        # read further nor built again.
        self.memo = ViewMemo()

    def _settled(self) -> datetime:
        return self.env.now() - SETTLE

    def _view(self, row: Port) -> Body:
        return views.port_dict(row, self.env.settings.dns_domain)

    def create(self, ctx: Context, body: Body) -> Body:
        return self.create_bulk(ctx, [body])[0]

    def create_bulk(self, ctx: Context, bodies: list[Body],
                    authorize: Callable[[dict[str, Body]], None] | None = None
                    ) -> list[Body]:
        """`authorize` gets the policy_targets of the ports' networks first thing in the
        create's transaction, and raises to refuse."""
        env = self.env
        now = env.now()

        def work(session: Session
                 ) -> tuple[list[Body], list[tuple[Any, ...] | None], Outbox]:
            # Read once, for the policy check and the creates; with the project's quota and
            # default group when the bodies name one project.
            read, project_reads = ports.networks_for_create(session, {
                b["network_id"] for b in bodies if isinstance(b.get("network_id"), str)},
                ports.creating_project(ctx, bodies))
            if authorize is not None:
                authorize({i: net.policy_target() for i, net in read.items()})
            # Only creates through here are limited: the DHCP ports agents make over RPC
            # (dhcp_plugin) are not, as in Neutron, though they count as the project's.
            quotas.enforce_create(
                session, ctx, env.settings.quotas, quotas.PORT, bodies,
                None if project_reads is None
                else {project_reads.project_id: project_reads.own_limit})
            created = [ports.create(session, ctx, env.settings, env.clock, b, read,
                                    project_reads)
                       for b in bodies]
            network_ids = {p.network_id for p in created}
            schedulable = {p.network_id for p in created
                           if p.device_id != const.DEVICE_ID_RESERVED_DHCP_PORT}
            new_hosts, dhcp = schedule_for_new_ports(
                session, env.settings, self.bindings, network_ids, schedulable, now)
            l2_on = {h: provisioning.l2_agent_on_host(session, h)
                     for h in {p.host_id for p in created}}
            # The ports are new in this transaction, so they have no blocks yet: one
            # multi-row insert for all of them.
            rows = [{"port_id": port.id, "entity": entity}
                    for port in created
                    for entity in sorted(provisioning.initial_blocks(
                        port.device_owner, port.host_id, l2_on[port.host_id],
                        dhcp[port.network_id].served))]
            if rows:
                session.execute(insert(ProvisioningBlock.__table__), rows)
            shown = [self._view(p) for p in created]
            keys = [ports.new_key(session, p) for p in created]
            outbox = Outbox()
            for host, network_id in new_hosts:
                outbox.add(host, const.NETWORK_CREATE_END, payloads.network_create(network_id))
            for port in shown:
                outbox.to_hosts(dhcp[port["network_id"]].hosts, const.PORT_CREATE_END,
                                payloads.port_event(port))
                outbox.port_security(None, port)
                outbox.members_changed(secgroup_view.dhcp_servers_changed(session, None, port))
            return shown, keys, record_and_bump(session, outbox, network_ids, now)

        net_id = bodies[0].get("network_id") if bodies else None
        created, keys, outbox = env.tx.run(
            work, lambda: exc.IpAddressGenerationFailure(net_id=net_id))
        # Remembered once committed: a list or the delete that follows reads no more of
        # them than their keys.
        for key, port in zip(keys, created, strict=True):
            if key is not None:
                self.memo.put(key, port)
        env.send(outbox)
        return created

    def get(self, ctx: Context, id: str) -> Body:
        return self.env.tx.read(
            lambda s: ports.get_view(s, ctx, id, self.env.settings.dns_domain, self.memo,
                                     self._settled()))

    def list(self, ctx: Context, filters: Filters | None = None) -> list[Body]:
        return self.env.tx.read(
            lambda s: [self._view(p) for p in ports.query(s, ctx, filters)])

    sort_keys = frozenset(paging.PORT_SORTS)

    def list_page(self, ctx: Context, filters: Filters | None,
                  request: PageRequest) -> Page[Body]:
        return self.env.tx.read(lambda s: ports.page(s, ctx, filters, request,
                                                     self.env.settings.dns_domain, self.memo,
                                                     self._settled()))

    def _locked(self, session: Session, ctx: Context, id: str,
                authorize: Authorize | None) -> tuple[Port, Body]:
        """The port's row, locked, and its dict, once `authorize` has let the change go."""
        row = ports.get(session, ctx, id, for_update=True)
        before = self._view(row)
        _check(session, authorize, before)
        return row, before

    def update(self, ctx: Context, id: str, body: Body, guard: Guard | None = None,
               authorize: Authorize | None = None) -> Body:
        """`guard` checks the locked row before the write, in the same transaction, so a
        check and the change it allows cannot be split by another writer."""
        env = self.env

        def work(session: Session) -> tuple[Body, Outbox, list[Any] | None]:
            after: Body | None = None
            changed: list[Any] | None = None
            if guard is None and body.keys() <= ports.COLUMN_ONLY:
                # A rename and the like: no Port object, read or written.
                found, before = ports.locked_view(session, ctx, id, env.settings.dns_domain,
                                                  self.memo)
                _check(session, authorize, before)
                changed = ports.update_columns(session, ctx, env.settings, env.clock, found,
                                               body)
                if changed is not None:
                    after = views.port_view(changed, env.settings.dns_domain,
                                            views.view_parts(before))
            if after is None:
                row, before = self._locked(session, ctx, id, authorize)
                if guard is not None:
                    guard(session, row)
                row = ports.update(session, ctx, env.settings, env.clock, id, body, port=row)
                if row.host_id != before["binding:host_id"]:
                    rebind(session, row)
                after = self._view(row)
            nova.record_update(session, before, after, env.now())
            outbox = tell_dhcp_agents(session, before, after, env.now())
            outbox.port_security(before, after)
            outbox.members_changed(secgroup_view.dhcp_servers_changed(session, before, after))
            return after, outbox, changed

        port, outbox, changed = env.tx.run(work)
        if changed is not None:
            # A rename's new row and dict, remembered once committed: a rolled-back change
            # must not leave a view under a revision another change will take.
            ports.remember(self.memo, changed, port, self._settled())
        env.send(outbox)
        return port

    def delete(self, ctx: Context, id: str, authorize: Authorize | None = None) -> None:
        def work(session: Session) -> Outbox:
            _, shown = ports.locked_view(session, ctx, id, self.env.settings.dns_domain,
                                         self.memo)
            _check(session, authorize, shown)
            ports.delete(session, id)
            nova.record_delete(session, shown, self.env.now())
            network_id = shown["network_id"]
            outbox = Outbox()
            outbox.to_hosts(hosting_hosts(session, [network_id])[network_id],
                            const.PORT_DELETE_END, payloads.port_delete(shown))
            outbox.port_security(shown, None)
            outbox.members_changed(secgroup_view.dhcp_servers_changed(session, shown, None))
            return record_and_bump(session, outbox, [network_id], self.env.now())

        self.env.send(self.env.tx.run(work))

    # --- bindings (binding-extended) ---------------------------------------------------

    def list_bindings(self, ctx: Context, id: str) -> builtins.list[Body]:
        return self.env.tx.read(
            lambda s: portbindings.listing(s, ports.get(s, ctx, id)))

    def get_binding(self, ctx: Context, id: str, host: str) -> Body:
        return self.env.tx.read(
            lambda s: portbindings.show(s, ports.get(s, ctx, id), host))

    def create_binding(self, ctx: Context, id: str, body: Body) -> Body:
        env = self.env

        def work(session: Session) -> tuple[Body, Outbox]:
            row = ports.get(session, ctx, id, for_update=True)
            before = self._view(row)
            shown, bound_port = portbindings.create(session, ctx, env.settings, env.clock,
                                                    row, body)
            if bound_port:
                rebind(session, row)
            return shown, tell_dhcp_agents(session, before, self._view(row), env.now())

        shown, outbox = env.tx.run(work)
        env.send(outbox)
        return shown

    def delete_binding(self, ctx: Context, id: str, host: str) -> None:
        self.env.tx.run(lambda s: portbindings.delete(
            s, ports.get(s, ctx, id, for_update=True), host))

    def activate_binding(self, ctx: Context, id: str, host: str) -> Body:
        """The port moves to `host`: wired from scratch there (provisioning blocks, DOWN
        until the destination's agent reports the tap up)."""
        env = self.env

        def work(session: Session) -> tuple[Body, Outbox]:
            row = ports.get(session, ctx, id, for_update=True)
            before = self._view(row)
            shown = portbindings.activate(session, env.settings, env.clock, row, host)
            rebind(session, row)
            return shown, tell_dhcp_agents(session, before, self._view(row), env.now())

        shown, outbox = env.tx.run(work)
        env.send(outbox)
        return shown
