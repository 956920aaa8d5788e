"""Networks, subnets and ports: the resource half of core, free of agent logic.

Each method is one transaction (bulk creates included: all or nothing), run again from the
start when it loses a race (deadlock, serialization failure, a parent deleted under it).
No SQL error leaves this class: what is left after the retries becomes a Neutron error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.conf.settings import ConfigError, CoreSettings
from neutrino.core import exceptions as exc
from neutrino.core import filters as flt
from neutrino.core import macs, networks, ports, sqlerrors, subnets, views
from neutrino.core.context import Context
from neutrino.core.interfaces import Clock, SystemClock
from neutrino.db.engine import Database, RetryRequest, integrity_kind

LOG = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ATTEMPTS = 30
FOREIGN_KEY_RETRIES = 3


class Resources:
    def __init__(self, db: Database, settings: CoreSettings,
                 clock: Clock | None = None) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock or SystemClock()
        try:
            macs.parse_base_mac(settings.base_mac)
        except ValueError as err:
            raise ConfigError(str(err)) from None

    # --- plumbing -----------------------------------------------------------------------

    def run(self, work: Callable[[Session], T], exhausted: Callable[[], exc.NeutronException],
            readonly: bool = False) -> T:
        """Run work(session) as one retried transaction; SQL errors become Neutron's."""
        vanished = 0

        def attempt(session: Session) -> T:
            nonlocal vanished
            try:
                return work(session)
            except IntegrityError as err:
                # A parent row vanished under us (a concurrent delete): start again, and
                # the next attempt reports it as not found. Once or twice is a race; more
                # is not, and retrying longer would not help.
                if integrity_kind(err) != "foreign_key":
                    raise
                vanished += 1
                if vanished > FOREIGN_KEY_RETRIES:
                    raise exhausted() from None
                raise RetryRequest() from err

        try:
            return self.db.transaction(attempt, readonly=readonly, max_attempts=MAX_ATTEMPTS)
        except exc.NeutronException:
            raise
        except Exception as err:
            mapped = sqlerrors.to_neutron(err, exhausted)
            if mapped is None:
                raise
            raise mapped from None

    _busy = staticmethod(sqlerrors.busy)

    # --- networks -----------------------------------------------------------------------

    def create_network(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_networks(ctx, [body])[0]

    def create_networks(self, ctx: Context, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            created = [networks.create(session, ctx, self.settings, self.clock, body)
                       for body in bodies]
            return views.network_dicts(session, created)
        return self.run(work, exc.NoNetworkAvailable)

    def get_network(self, ctx: Context, network_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return views.network_dicts(session, [networks.get(session, ctx, network_id)])[0]
        return self.run(work, self._busy, readonly=True)

    def list_networks(self, ctx: Context,
                      filters: flt.Filters | None = None) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            return views.network_dicts(session, networks.query(session, ctx, filters))
        return self.run(work, self._busy, readonly=True)

    def update_network(self, ctx: Context, network_id: str,
                       body: dict[str, Any]) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            net = networks.update(session, ctx, self.settings, self.clock, network_id, body)
            return views.network_dicts(session, [net])[0]
        return self.run(work, self._busy)

    def delete_network(self, ctx: Context, network_id: str) -> dict[str, Any]:
        """Deletes the network (and its DHCP ports); returns what it was."""
        def work(session: Session) -> dict[str, Any]:
            return networks.delete(session, ctx, network_id)
        return self.run(work, lambda: exc.NetworkInUse(net_id=network_id))

    # --- subnets ------------------------------------------------------------------------

    def create_subnet(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_subnets(ctx, [body])[0]

    def create_subnets(self, ctx: Context, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            return [views.subnet_dict(subnets.create(session, ctx, self.settings, self.clock, b))
                    for b in bodies]
        return self.run(work, self._busy)

    def get_subnet(self, ctx: Context, subnet_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return views.subnet_dict(subnets.get(session, ctx, subnet_id))
        return self.run(work, self._busy, readonly=True)

    def list_subnets(self, ctx: Context,
                     filters: flt.Filters | None = None) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            return [views.subnet_dict(s) for s in subnets.query(session, ctx, filters)]
        return self.run(work, self._busy, readonly=True)

    def update_subnet(self, ctx: Context, subnet_id: str,
                      body: dict[str, Any]) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return views.subnet_dict(
                subnets.update(session, ctx, self.settings, self.clock, subnet_id, body))
        return self.run(work, self._busy)

    def delete_subnet(self, ctx: Context, subnet_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            shown = views.subnet_dict(subnets.get(session, ctx, subnet_id))
            subnets.delete(session, ctx, subnet_id)
            return shown
        return self.run(work, lambda: exc.SubnetInUse(subnet_id=subnet_id))

    # --- ports --------------------------------------------------------------------------

    def create_port(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]:
        return self.create_ports(ctx, [body])[0]

    def create_ports(self, ctx: Context, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            return [views.port_dict(ports.create(session, ctx, self.settings, self.clock, b))
                    for b in bodies]
        net_id = bodies[0].get("network_id") if bodies else None
        return self.run(work, lambda: exc.IpAddressGenerationFailure(net_id=net_id))

    def get_port(self, ctx: Context, port_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return views.port_dict(ports.get(session, ctx, port_id))
        return self.run(work, self._busy, readonly=True)

    def list_ports(self, ctx: Context, filters: flt.Filters | None = None) -> list[dict[str, Any]]:
        def work(session: Session) -> list[dict[str, Any]]:
            return [views.port_dict(p) for p in ports.query(session, ctx, filters)]
        return self.run(work, self._busy, readonly=True)

    def update_port(self, ctx: Context, port_id: str, body: dict[str, Any]) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return views.port_dict(
                ports.update(session, ctx, self.settings, self.clock, port_id, body))
        return self.run(work, self._busy)

    def delete_port(self, ctx: Context, port_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            return ports.delete(session, ctx, port_id)
        return self.run(work, self._busy)
