"""What the Linux bridge agents call over RPC (on behalf of the agent on `host`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from neutrino.core.agents import l2, provisioning
from neutrino.core.services.base import Body, Env
from neutrino.lib import constants as const


class L2PluginService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def get_device_details(self, host: str, device: str) -> Body:
        """{"device", "port_id", "network_id", "mac_address", ...}, or {"device"} alone
        when no port bound to `host` matches the tap."""
        return self.env.tx.read(lambda s: l2.details_for(s, host, device))

    def update_device_up(self, host: str, device: str) -> None:
        now = self.env.now()

        def up(session: Session) -> None:
            row = l2.find_port(session, host, device)
            if row is not None:
                provisioning.lift(session, [row.id], provisioning.L2, now,
                                  only_if_lifted=False)
        self.env.tx.run(up)

    def update_device_down(self, host: str, device: str) -> None:
        now = self.env.now()

        def down(session: Session) -> None:
            row = l2.find_port(session, host, device)
            if row is not None:
                provisioning.set_status(session, [row.id], const.PORT_STATUS_DOWN, now)
        self.env.tx.run(down)

    def get_ports_on_host(self, host: str) -> list[Body]:
        return self.env.tx.read(lambda s: l2.ports_on_host(s, host))
