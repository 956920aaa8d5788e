"""`Core`: the one facade the API, the RPC endpoints and the tests call.

Resource methods delegate to `Resources` and add what a change means for the DHCP and L2
agents: scheduling when a network first needs DHCP, the ports' provisioning blocks (in the
port's own transaction, so no agent can report a port up before its blocks exist), and
casts to the admin-up DHCP agents hosting the network once the change has committed.
Agents, scheduling, the DHCP plugin API, the L2 API and the HA monitor are here too; the
decisions live in the small modules next to this one.

No SQL error leaves Core: a transaction that still loses after its retries is a 409, a
database that does not answer a 503 (as `Resources` does).
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from neutrino.conf.settings import CoreSettings
from neutrino.core import (
    dhcp,
    ha,
    l2,
    networks,
    ports,
    provisioning,
    sqlerrors,
    subnets,
    views,
)
from neutrino.core import exceptions as exc
from neutrino.core.agents import AgentRegistry, agent_dict, is_alive, server_time
from neutrino.core.bindings import DhcpBindings, has_binding, has_dhcp_subnet
from neutrino.core.context import Context
from neutrino.core.interfaces import Clock, DhcpAgentNotifier, SystemClock
from neutrino.core.notify import (
    Outbox,
    hosting_hosts,
    network_create_payload,
    network_delete_payload,
    port_changed_for_dhcp,
    port_delete_payload,
    subnet_delete_payload,
)
from neutrino.core.resources import Resources
from neutrino.db.engine import Database, RetryRequest
from neutrino.db.models import Agent, Network, NetworkDhcpAgentBinding, Port, ProvisioningBlock
from neutrino.lib import constants as const
from neutrino.lib.naming import dhcp_device_id

LOG = logging.getLogger(__name__)
T = TypeVar("T")

Filters = Mapping[str, Sequence[Any]]


def _no_sql_errors(method: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return method(*args, **kwargs)
        except exc.NeutronException:
            raise
        except Exception as err:
            mapped = sqlerrors.to_neutron(err)
            if mapped is None:
                raise
            raise mapped from None
    return wrapper


def _joined(hosts: list[str], more: list[str]) -> list[str]:
    """`hosts` and then those of `more` not in it already."""
    return hosts + [h for h in more if h not in hosts]


def _guarded(cls: type) -> type:
    for name, member in list(vars(cls).items()):
        if not name.startswith("_") and callable(member):
            setattr(cls, name, _no_sql_errors(member))
    return cls


@_guarded
class Core:
    def __init__(self, db: Database, settings: CoreSettings, notifier: DhcpAgentNotifier,
                 clock: Clock = SystemClock(), rng: random.Random | None = None) -> None:
        self.db = db
        self.settings = settings
        self.notifier = notifier
        self.clock = clock
        self.resources = Resources(db, settings, clock)
        self.agents = AgentRegistry(db, settings)
        self.agents.on_revival = lambda session, now: ha.note_revival(
            session, settings.agent_down_time, now)
        self.bindings = DhcpBindings(db, settings, rng)
        self.started_at = clock.now()
        self.ha_monitor = ha.HaMonitor(db, settings, self.bindings, clock, self.started_at)

    def _now(self) -> datetime:
        return server_time(self.clock.now())

    def _schedule(self, network_id: str, outbox: Outbox) -> list[str]:
        """Schedule the network if it needs agents; network_create_end to the new ones.

        The change that asked for it has committed already: a failure here is logged, and
        the agents' next sync (auto-scheduling) places the network instead.
        """
        try:
            new_hosts = self.bindings.schedule(network_id, self._now())
        except (RetryRequest, DBAPIError) as err:
            LOG.warning("scheduling network %s failed (%s); agents will pick it up",
                        network_id, err)
            return []
        for host in new_hosts:
            outbox.add(host, const.NETWORK_CREATE_END, network_create_payload(network_id))
        return new_hosts

    # -- networks -------------------------------------------------------------------------

    def create_network(self, ctx: Context, body: dict) -> dict:
        # Not scheduled yet (as Neutron): that waits until the network needs DHCP, which
        # leaves the admin the chance to place it by hand.
        return self.resources.create_network(ctx, body)

    def create_networks(self, ctx: Context, bodies: list[dict]) -> list[dict]:
        return self.resources.create_networks(ctx, bodies)

    def get_network(self, ctx: Context, id: str) -> dict:
        return self.resources.get_network(ctx, id)

    def list_networks(self, ctx: Context, filters: Filters) -> list[dict]:
        return self.resources.list_networks(ctx, filters)

    def update_network(self, ctx: Context, id: str, body: dict) -> dict:
        def work(session: Session) -> tuple[dict, list[str]]:
            net = networks.update(session, ctx, self.settings, self.clock, id, body)
            return (views.network_dicts(session, [net])[0],
                    hosting_hosts(session, [id])[id])
        network, hosts = self.resources.run(work, sqlerrors.busy)
        outbox = Outbox()
        outbox.to_hosts(hosts, const.NETWORK_UPDATE_END, {"network": network})
        outbox.send(self.notifier)
        return network

    def delete_network(self, ctx: Context, id: str) -> None:
        def work(session: Session) -> list[str]:
            # The bindings go with the network: read them under the network's row lock,
            # in the delete's transaction, so an agent placed just before is told too.
            networks.get_owned(session, ctx, id, "delete_network", for_update=True)
            hosts = hosting_hosts(session, [id])[id]
            networks.delete(session, ctx, id)
            return hosts
        hosts = self.resources.run(work, lambda: exc.NetworkInUse(net_id=id))
        outbox = Outbox()
        outbox.to_hosts(hosts, const.NETWORK_DELETE_END, network_delete_payload(id))
        outbox.send(self.notifier)

    # -- subnets --------------------------------------------------------------------------

    def create_subnet(self, ctx: Context, body: dict) -> dict:
        return self.create_subnets(ctx, [body])[0]

    def create_subnets(self, ctx: Context, bodies: list[dict]) -> list[dict]:
        def work(session: Session) -> tuple[list[dict], dict[str, list[str]]]:
            created = [views.subnet_dict(subnets.create(session, ctx, self.settings,
                                                        self.clock, b)) for b in bodies]
            return created, hosting_hosts(session, {s["network_id"] for s in created})
        created, hosts = self.resources.run(work, sqlerrors.busy)
        outbox = Outbox()
        for network_id in sorted({s["network_id"] for s in created if s["enable_dhcp"]}):
            hosts[network_id] = _joined(hosts[network_id], self._schedule(network_id, outbox))
        for subnet in created:
            outbox.to_hosts(hosts[subnet["network_id"]], const.SUBNET_CREATE_END,
                            {"subnet": subnet})
        outbox.send(self.notifier)
        return created

    def get_subnet(self, ctx: Context, id: str) -> dict:
        return self.resources.get_subnet(ctx, id)

    def list_subnets(self, ctx: Context, filters: Filters) -> list[dict]:
        return self.resources.list_subnets(ctx, filters)

    def update_subnet(self, ctx: Context, id: str, body: dict) -> dict:
        def work(session: Session) -> tuple[dict, list[str]]:
            shown = views.subnet_dict(
                subnets.update(session, ctx, self.settings, self.clock, id, body))
            network_id = shown["network_id"]
            return shown, hosting_hosts(session, [network_id])[network_id]
        subnet, hosts = self.resources.run(work, sqlerrors.busy)
        outbox = Outbox()
        if subnet["enable_dhcp"] and body.get("enable_dhcp"):
            hosts = _joined(hosts, self._schedule(subnet["network_id"], outbox))
        outbox.to_hosts(hosts, const.SUBNET_UPDATE_END, {"subnet": subnet})
        outbox.send(self.notifier)
        return subnet

    def delete_subnet(self, ctx: Context, id: str) -> None:
        def work(session: Session) -> tuple[dict, list[str]]:
            shown = views.subnet_dict(subnets.get(session, ctx, id))
            subnets.delete(session, ctx, id)
            network_id = shown["network_id"]
            return shown, hosting_hosts(session, [network_id])[network_id]
        subnet, hosts = self.resources.run(work, lambda: exc.SubnetInUse(subnet_id=id))
        outbox = Outbox()
        outbox.to_hosts(hosts, const.SUBNET_DELETE_END, subnet_delete_payload(subnet))
        outbox.send(self.notifier)

    # -- ports ----------------------------------------------------------------------------

    def create_port(self, ctx: Context, body: dict) -> dict:
        return self.create_ports(ctx, [body])[0]

    def create_ports(self, ctx: Context, bodies: list[dict]) -> list[dict]:
        """The ports, any scheduling they trigger and their provisioning blocks commit
        together, so no agent can report a port up before its blocks exist."""
        now = self._now()

        def work(session: Session
                 ) -> tuple[list[dict], list[tuple[str, str]], dict[str, list[str]]]:
            created = [ports.create(session, ctx, self.settings, self.clock, b)
                       for b in bodies]
            new_hosts, served = self._schedule_for_ports(session, created, now)
            l2_on = {h: provisioning.l2_agent_on_host(session, h)
                     for h in {p.host_id for p in created}}
            # The ports are new in this transaction, so they have no blocks yet: one
            # multi-row insert for all of them.
            rows = [{"port_id": port.id, "entity": entity}
                    for port in created
                    for entity in sorted(provisioning.initial_blocks(
                        port.device_owner, port.host_id, l2_on[port.host_id],
                        served[port.network_id]))]
            if rows:
                session.execute(insert(ProvisioningBlock), rows)
            # Who to tell, read in the same transaction rather than in one of its own.
            hosts = hosting_hosts(session, {p.network_id for p in created})
            return [views.port_dict(p) for p in created], new_hosts, hosts

        net_id = bodies[0].get("network_id") if bodies else None
        created, new_hosts, hosts = self.resources.run(
            work, lambda: exc.IpAddressGenerationFailure(net_id=net_id))
        outbox = Outbox()
        for host, network_id in new_hosts:
            outbox.add(host, const.NETWORK_CREATE_END, network_create_payload(network_id))
        for port in created:
            outbox.to_hosts(hosts[port["network_id"]], const.PORT_CREATE_END, {"port": port})
        outbox.send(self.notifier)
        return created

    def _schedule_for_ports(self, session: Session, created: list[Port], now: datetime
                            ) -> tuple[list[tuple[str, str]], dict[str, bool]]:
        """A port on a network that needs DHCP but has no agent yet (say, every agent was
        down when its subnet was made) places the network now. Returns the new (host,
        network) pairs, and per network whether a DHCP agent serves it (its ports wait
        for DHCP)."""
        new_hosts: list[tuple[str, str]] = []
        served: dict[str, bool] = {}
        schedulable = {p.network_id for p in created
                       if p.device_id != const.DEVICE_ID_RESERVED_DHCP_PORT}
        for network_id in sorted({p.network_id for p in created}):
            dhcp_needed = has_dhcp_subnet(session, network_id)
            bound = dhcp_needed and has_binding(session, network_id)
            if (dhcp_needed and not bound and self.settings.network_auto_schedule
                    and network_id in schedulable):
                try:
                    placed = self.bindings.schedule_in(session, network_id, now)
                except IntegrityError as e:
                    raise RetryRequest() from e  # another server placed it: look again
                new_hosts.extend((a.host, network_id) for a in placed)
                bound = has_binding(session, network_id)
            served[network_id] = bound
        return new_hosts, served

    @staticmethod
    def _served(session: Session, network_id: str) -> bool:
        """Whether a DHCP agent serves the network, so its ports wait for DHCP."""
        return has_dhcp_subnet(session, network_id) and has_binding(session, network_id)

    def _blocks_for(self, session: Session, network_id: str, device_owner: str,
                    host: str) -> set[str]:
        return provisioning.initial_blocks(device_owner, host,
                                           provisioning.l2_agent_on_host(session, host),
                                           self._served(session, network_id))

    def get_port(self, ctx: Context, id: str) -> dict:
        return self.resources.get_port(ctx, id)

    def list_ports(self, ctx: Context, filters: Filters) -> list[dict]:
        return self.resources.list_ports(ctx, filters)

    def update_port(self, ctx: Context, id: str, body: dict) -> dict:
        return self._update_port(ctx, id, body)

    def _update_port(self, ctx: Context, id: str, body: dict,
                     guard: Callable[[Session, Port], None] | None = None) -> dict:
        """`guard` checks the locked row before the write, in the same transaction, so a
        check and the change it allows cannot be split by another writer."""
        def work(session: Session) -> tuple[dict, list[str]]:
            row = ports.get(session, ctx, id, for_update=True)
            if guard is not None:
                guard(session, row)
            before = views.port_dict(row)
            row = ports.update(session, ctx, self.settings, self.clock, id, body, port=row)
            if row.host_id != before["binding:host_id"]:
                self._rebind(session, row)
            after = views.port_dict(row)
            hosts = hosting_hosts(session, [row.network_id])[row.network_id] \
                if port_changed_for_dhcp(before, after) else []
            return after, hosts

        port, hosts = self.resources.run(work, sqlerrors.busy)
        if hosts:
            outbox = Outbox()
            outbox.to_hosts(hosts, const.PORT_UPDATE_END, {"port": port})
            outbox.send(self.notifier)
        return port

    def _rebind(self, session: Session, row: Port) -> None:
        """A port bound to a new host (or unbound) is wired again from scratch there."""
        provisioning.rebind_blocks(session, row.id, row.device_owner, row.host_id,
                                   self._served(session, row.network_id))
        row.status = const.PORT_STATUS_DOWN
        session.flush()

    def delete_port(self, ctx: Context, id: str) -> None:
        def work(session: Session) -> tuple[dict, list[str]]:
            shown = ports.delete(session, ctx, id)
            return shown, hosting_hosts(session, [shown["network_id"]])[shown["network_id"]]

        port, hosts = self.resources.run(work, sqlerrors.busy)
        outbox = Outbox()
        outbox.to_hosts(hosts, const.PORT_DELETE_END, port_delete_payload(port))
        outbox.send(self.notifier)

    # -- agents ---------------------------------------------------------------------------

    def list_agents(self, ctx: Context, filters: Filters) -> list[dict]:
        return self.agents.list(filters, self.clock.now())

    def get_agent(self, ctx: Context, id: str) -> dict:
        return self.agents.get(id, self.clock.now())

    def update_agent(self, ctx: Context, id: str, body: dict) -> dict:
        before, after = self.agents.update(id, body, self.clock.now())
        if (after["agent_type"] == const.AGENT_TYPE_DHCP and "admin_state_up" in body
                and before["admin_state_up"] != after["admin_state_up"]):
            outbox = Outbox()
            outbox.add(after["host"], const.AGENT_UPDATED,
                       {"admin_state_up": after["admin_state_up"]})
            outbox.send(self.notifier)
        return after

    def delete_agent(self, ctx: Context, id: str) -> None:
        self.agents.delete(id, self.clock.now())

    def report_state(self, agent_state: dict, time: str | None = None) -> str:
        return self.agents.report_state(agent_state, self.clock.now(), time)

    def list_availability_zones(self, ctx: Context, filters: Filters) -> list[dict]:
        return self.agents.availability_zones(filters)

    # -- DHCP scheduling (admin) -------------------------------------------------------------

    def list_dhcp_agents_hosting_network(self, ctx: Context, network_id: str) -> list[dict]:
        self.resources.get_network(ctx, network_id)  # 404 for unknown or invisible ones
        now = self.clock.now()

        def read(session: Session) -> list[dict]:
            agents = session.scalars(
                select(Agent).join(NetworkDhcpAgentBinding,
                                   NetworkDhcpAgentBinding.dhcp_agent_id == Agent.id)
                .where(NetworkDhcpAgentBinding.network_id == network_id)
                .order_by(Agent.host))
            return [agent_dict(a, now, self.settings.agent_down_time) for a in agents]
        return self.db.transaction(read, readonly=True)

    def list_networks_on_dhcp_agent(self, ctx: Context, agent_id: str) -> list[dict]:
        def read(session: Session) -> list[str]:
            agent = session.get(Agent, agent_id)
            if agent is None:
                raise exc.AgentNotFound(id=agent_id)
            return list(session.scalars(
                select(NetworkDhcpAgentBinding.network_id)
                .where(NetworkDhcpAgentBinding.dhcp_agent_id == agent_id)))
        ids = self.db.transaction(read, readonly=True)
        if not ids:
            return []
        return self.resources.list_networks(ctx, {"id": sorted(ids)})

    def add_network_to_dhcp_agent(self, ctx: Context, agent_id: str, network_id: str) -> None:
        host = self.bindings.add(agent_id, network_id)
        outbox = Outbox()
        outbox.add(host, const.NETWORK_CREATE_END, network_create_payload(network_id))
        outbox.send(self.notifier)

    def remove_network_from_dhcp_agent(self, ctx: Context, agent_id: str,
                                       network_id: str) -> None:
        host = self.bindings.remove(agent_id, network_id, self._now())
        outbox = Outbox()
        outbox.add(host, const.NETWORK_DELETE_END, network_delete_payload(network_id))
        outbox.send(self.notifier)

    def reschedule_networks_from_down_agents(self) -> int:
        outbox = Outbox()
        moved = self.ha_monitor.tick(outbox)
        outbox.send(self.notifier)
        return moved

    # -- DHCP plugin API ----------------------------------------------------------------------

    def get_active_networks_info(self, host: str) -> list[dict]:
        now = self.clock.now()
        if self.settings.network_auto_schedule:
            def auto_schedule(session: Session) -> int:
                agent = dhcp.dhcp_agent(session, host)
                if agent is None or not agent.admin_state_up or not is_alive(
                        agent.heartbeat_timestamp, now, self.settings.agent_down_time):
                    return 0
                return self.bindings.auto_schedule_host(session, agent, now)
            self.db.transaction(auto_schedule)

        def read(session: Session) -> list[dict]:
            agent = dhcp.dhcp_agent(session, host)
            if agent is None or not agent.admin_state_up:
                return []
            return dhcp.network_infos(session, dhcp.hosted_network_ids(session, agent.id))
        return self.db.transaction(read, readonly=True)

    def get_network_info(self, network_id: str, host: str) -> dict | None:
        """None unless `host`'s admin-up agent hosts the admin-up network: the agent then
        stops serving it."""
        def read(session: Session) -> dict | None:
            agent = dhcp.dhcp_agent(session, host)
            if agent is None or not agent.admin_state_up:
                return None
            if not dhcp.hosts_network(session, host, network_id):
                return None
            infos = dhcp.network_infos(session, [network_id])
            return infos[0] if infos and infos[0]["admin_state_up"] else None
        return self.db.transaction(read, readonly=True)

    def create_dhcp_port(self, host: str, port: dict) -> dict:
        body = dhcp.unwrap_port(port)
        network_id = body.get("network_id")
        if not isinstance(network_id, str):
            raise exc.InvalidInput(error_message="a DHCP port needs a network_id")

        admin = Context.admin()

        def claim(session: Session) -> tuple[dict, str | None]:
            # The network's row lock serialises DHCP port set-up per network, so an agent
            # retrying its request cannot end up with two ports.
            network = session.get(Network, network_id, with_for_update=True)
            if network is None or not dhcp.hosts_network(session, host, network_id):
                raise exc.NetworkNotFound(net_id=network_id)
            found = dhcp.own_or_reserved_port(session, host, network_id)
            if found is None:
                row = ports.create(session, admin, self.settings, self.clock,
                                   dhcp.dhcp_port_body(host, network, body))
                provisioning.add_blocks(session, row.id, self._blocks_for(
                    session, network_id, row.device_owner, row.host_id))
                return views.port_dict(row), const.PORT_CREATE_END
            port_id, own = found
            row = session.get(Port, port_id)
            if own and row.host_id == host:
                return views.port_dict(row), None
            moved = row.host_id != host
            row = ports.update(session, admin, self.settings, self.clock, port_id,
                               {"binding:host_id": host,
                                "device_id": dhcp_device_id(host, network_id)})
            if moved:
                self._rebind(session, row)
            return views.port_dict(row), const.PORT_UPDATE_END

        def claim_and_hosts(session: Session) -> tuple[dict, str | None, list[str]]:
            port_dict, cast = claim(session)
            hosts = hosting_hosts(session, [network_id])[network_id] if cast else []
            return port_dict, cast, hosts

        port_dict, cast, hosts = self.resources.run(
            claim_and_hosts, lambda: exc.IpAddressGenerationFailure(net_id=network_id))
        if cast is not None:
            outbox = Outbox()
            outbox.to_hosts(hosts, cast, {"port": port_dict})
            outbox.send(self.notifier)
        return port_dict

    def update_dhcp_port(self, host: str, port_id: str, port: dict) -> dict:
        body = dhcp.unwrap_port(port)

        def check(session: Session, row: Port) -> None:
            if not dhcp.hosts_network(session, host, row.network_id):
                raise exc.NetworkNotFound(net_id=row.network_id)
            dhcp.check_port_owner(row, host)

        def read(session: Session) -> str:
            row = session.get(Port, port_id)
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            check(session, row)
            return row.network_id
        # A port's network never changes, so this early read may name it; the owner is
        # checked again on the locked row in the update's own transaction (another agent
        # may adopt the port in between).
        network_id = self.db.transaction(read, readonly=True)
        allowed = {k: v for k, v in body.items()
                   if k in ("name", "fixed_ips", "admin_state_up", "extra_dhcp_opts",
                            "dns_name", "description")}
        device_id = body.get("device_id")
        if device_id is not None and device_id != dhcp_device_id(host, network_id):
            raise dhcp.DhcpPortInUse(port_id=port_id)
        allowed["device_id"] = dhcp_device_id(host, network_id)
        allowed["binding:host_id"] = host
        return self._update_port(Context.admin(), port_id, allowed, guard=check)

    def release_dhcp_port(self, host: str, network_id: str, device_id: str) -> None:
        if device_id == const.DEVICE_ID_RESERVED_DHCP_PORT:
            return  # reserved ports are kept for the network's next agent

        def find(session: Session) -> list[str]:
            return list(session.scalars(select(Port.id).where(
                Port.network_id == network_id, Port.device_id == device_id,
                Port.device_owner == const.DEVICE_OWNER_DHCP)))
        for port_id in self.db.transaction(find, readonly=True):
            try:
                self.delete_port(Context.admin(), port_id)
            except exc.PortNotFound:
                continue

    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None:
        now = self._now()
        self.db.transaction(lambda s: provisioning.lift(s, port_ids, provisioning.DHCP, now,
                                                        only_if_lifted=True))

    # -- L2 agent API -------------------------------------------------------------------------

    def get_device_details(self, host: str, device: str) -> dict:
        return self.db.transaction(lambda s: l2.details_for(s, host, device), readonly=True)

    def update_device_up(self, host: str, device: str) -> None:
        now = self._now()

        def up(session: Session) -> None:
            row = l2.find_port(session, host, device)
            if row is not None:
                provisioning.lift(session, [row.id], provisioning.L2, now,
                                  only_if_lifted=False)
        self.db.transaction(up)

    def update_device_down(self, host: str, device: str) -> None:
        now = self._now()

        def down(session: Session) -> None:
            row = l2.find_port(session, host, device)
            if row is not None:
                provisioning.set_status(session, [row.id], const.PORT_STATUS_DOWN, now)
        self.db.transaction(down)

    def get_ports_on_host(self, host: str) -> list[dict]:
        return self.db.transaction(lambda s: l2.ports_on_host(s, host), readonly=True)
