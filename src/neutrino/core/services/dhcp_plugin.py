"""What the DHCP agents call over RPC (on behalf of the agent on `host`): what they serve,
and their DHCP ports."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.core import metrics
from neutrino.core.agents import dhcp, provisioning, revisions
from neutrino.core.agents import securitygroups as secgroup_view
from neutrino.core.agents.bindings import DhcpBindings
from neutrino.core.agents.notify import Outbox, hosting_hosts
from neutrino.core.context import Context
from neutrino.core.liveness import is_alive
from neutrino.core.resources import ports, views
from neutrino.core.services.base import Body, Env, Filters
from neutrino.core.services.networks import NetworkService
from neutrino.core.services.ports import PortService, rebind
from neutrino.core.services.scheduling import blocks_for
from neutrino.db.models import Network, Port
from neutrino.lib import constants as const
from neutrino.lib import exceptions as exc
from neutrino.lib import payloads
from neutrino.lib.naming import dhcp_device_id

# What an agent may change on its own DHCP port.
_AGENT_UPDATABLE = ("name", "fixed_ips", "admin_state_up", "extra_dhcp_opts", "dns_name",
                    "description")


class DhcpPluginService:
    def __init__(self, env: Env, bindings: DhcpBindings, ports: PortService,
                 networks: NetworkService) -> None:
        self.env = env
        self.bindings = bindings
        self.ports = ports
        self.networks = networks

    def get_active_networks_info(self, host: str) -> list[Body]:
        """Every network the agent serves (auto-scheduling first, when enabled)."""
        env = self.env
        now = env.clock.now()
        if env.settings.network_auto_schedule:
            def auto_schedule(session: Session) -> int:
                agent = dhcp.dhcp_agent(session, host)
                if agent is None or not agent.admin_state_up or not is_alive(
                        agent.heartbeat_timestamp, now, env.settings.agent_down_time):
                    return 0
                return self.bindings.auto_schedule_host(session, agent, now)
            metrics.count_scheduled(metrics.TRIGGER_AGENT_START, env.tx.run(auto_schedule))

        def read(session: Session) -> list[Body]:
            agent = dhcp.dhcp_agent(session, host)
            if agent is None or not agent.admin_state_up:
                return []
            return dhcp.network_infos(session, dhcp.hosted_network_ids(session, agent.id),
                                      self.env.settings.dns_domain)
        return env.tx.read(read)

    def get_network_info(self, network_id: str, host: str) -> Body | None:
        """None unless `host`'s admin-up agent hosts the admin-up network: the agent then
        stops serving it."""
        def read(session: Session) -> Body | None:
            agent = dhcp.dhcp_agent(session, host)
            if agent is None or not agent.admin_state_up:
                return None
            if not dhcp.hosts_network(session, host, network_id):
                return None
            infos = dhcp.network_infos(session, [network_id], self.env.settings.dns_domain)
            return infos[0] if infos and infos[0]["admin_state_up"] else None
        return self.env.tx.read(read)

    def get_network_revisions(self, host: str) -> dict[str, int]:
        """The DHCP revision of every network `host`'s agent serves (see
        `core.agents.revisions`)."""
        return self.env.tx.read(lambda s: revisions.for_host(s, host))

    def create_dhcp_port(self, host: str, port: Body) -> Body:
        env = self.env
        body = dhcp.unwrap_port(port)
        network_id = body.get("network_id")
        if not isinstance(network_id, str):
            raise exc.InvalidInput(error_message="a DHCP port needs a network_id")
        admin = Context.admin()

        def claim(session: Session) -> tuple[Body, str | None]:
            # The network's row lock serialises DHCP port set-up per network, so an agent
            # retrying its request cannot end up with two ports.
            network = session.get(Network, network_id, with_for_update=True)
            if network is None or not dhcp.hosts_network(session, host, network_id):
                raise exc.NetworkNotFound(net_id=network_id)
            found = dhcp.own_or_reserved_port(session, host, network_id)
            row: Port | None
            if found is None:
                row = ports.create(session, admin, env.settings, env.clock,
                                   dhcp.dhcp_port_body(host, network, body))
                provisioning.add_blocks(session, row.id, blocks_for(
                    session, network_id, row.device_owner, row.host_id))
                return views.port_dict(row, env.settings.dns_domain), const.PORT_CREATE_END
            port_id, own = found
            row = session.get(Port, port_id)
            if row is None:  # found under the network's lock: cannot vanish
                raise exc.PortNotFound(port_id=port_id)
            if own and row.host_id == host:
                return views.port_dict(row, env.settings.dns_domain), None
            moved = row.host_id != host
            row = ports.update(session, admin, env.settings, env.clock, port_id,
                               {"binding:host_id": host,
                                "device_id": dhcp_device_id(host, network_id)})
            if moved:
                rebind(session, row)
            return views.port_dict(row, env.settings.dns_domain), const.PORT_UPDATE_END

        def claim_and_tell(session: Session) -> tuple[Body, Outbox]:
            port_dict, cast = claim(session)
            outbox = Outbox()
            if cast is not None:
                revisions.bump(session, [network_id])
                outbox.to_hosts(hosting_hosts(session, [network_id])[network_id], cast,
                                payloads.port_event(port_dict))
            if cast == const.PORT_CREATE_END:
                outbox.members_changed(
                    secgroup_view.dhcp_servers_changed(session, None, port_dict))
            return port_dict, outbox.record(session, env.now())

        port_dict, outbox = env.tx.run(
            claim_and_tell, lambda: exc.IpAddressGenerationFailure(net_id=network_id))
        env.send(outbox)
        return port_dict

    def update_dhcp_port(self, host: str, port_id: str, port: Body) -> Body:
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
        network_id = self.env.tx.read(read)
        allowed = {k: v for k, v in body.items() if k in _AGENT_UPDATABLE}
        device_id = body.get("device_id")
        if device_id is not None and device_id != dhcp_device_id(host, network_id):
            raise dhcp.DhcpPortInUse(port_id=port_id)
        allowed["device_id"] = dhcp_device_id(host, network_id)
        allowed["binding:host_id"] = host
        return self.ports.update(Context.admin(), port_id, allowed, guard=check)

    def release_dhcp_port(self, host: str, network_id: str, device_id: str) -> None:
        if device_id == const.DEVICE_ID_RESERVED_DHCP_PORT:
            return  # reserved ports are kept for the network's next agent

        def find(session: Session) -> list[str]:
            return list(session.scalars(select(Port.id).where(
                Port.network_id == network_id, Port.device_id == device_id,
                Port.device_owner == const.DEVICE_OWNER_DHCP)))
        for port_id in self.env.tx.read(find):
            try:
                self.ports.delete(Context.admin(), port_id)
            except exc.PortNotFound:
                continue

    def dhcp_ready_on_ports(self, port_ids: list[str]) -> None:
        """Lifts the DHCP provisioning block of these ports."""
        now = self.env.now()
        self.env.tx.run(lambda s: provisioning.lift(s, port_ids, provisioning.DHCP, now,
                                                    only_if_lifted=True))

    # --- Neutron's generic reads on q-plugin, called with an admin context -----------------

    def get_ports(self, filters: object) -> list[Body]:
        """Neutron's `get_ports(filters)` (the metadata callback, 1.0): every port matching
        the filters, whoever owns it. Neutron's DHCP agent asks for the OVN metadata port
        while writing its options file."""
        return self.ports.list(Context.admin(), rpc_filters(filters))

    def get_networks(self, filters: object = None, fields: object = None) -> list[Body]:
        """Neutron's `get_networks(filters, fields)` (DHCP callback 1.7)."""
        found = self.networks.list(Context.admin(), rpc_filters(filters))
        wanted = rpc_fields(fields)
        if not wanted:
            return found
        return [{k: v for k, v in net.items() if k in wanted} for net in found]

    def get_dhcp_port(self, port_id: str) -> Body:
        """Neutron's `get_dhcp_port(port_id)` (DHCP callback 1.8): any port by id."""
        if not isinstance(port_id, str):
            raise exc.InvalidInput(error_message="port_id must be a string")
        return self.ports.get(Context.admin(), port_id)


def rpc_filters(filters: object) -> Filters:
    """Filters as Neutron's plugin API takes them: {attribute: [values]} (OR within an
    attribute, AND across); anything else is refused rather than read one character at a
    time, as a bare string would be."""
    if filters is None:
        return {}
    if not isinstance(filters, dict) or not all(isinstance(k, str) for k in filters):
        raise exc.InvalidInput(error_message="filters must map attribute names to lists")
    for key, values in filters.items():
        if not isinstance(values, (list, tuple)):
            raise exc.InvalidInput(
                error_message=f"filter {key!r} must be a list of values")
    return {k: list(v) for k, v in filters.items()}


def rpc_fields(fields: object) -> set[str]:
    if fields is None:
        return set()
    if not isinstance(fields, (list, tuple)) or not all(isinstance(f, str) for f in fields):
        raise exc.InvalidInput(error_message="fields must be a list of attribute names")
    return set(fields)
