"""What the Linux bridge agents call over RPC (on behalf of the agent on `host`)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from neutrino.core.agents import l2, provisioning
from neutrino.core.dbutil import dumps
from neutrino.core.resources import portbinding
from neutrino.core.services.base import Body, Env
from neutrino.lib import constants as const


class L2PluginService:
    def __init__(self, env: Env) -> None:
        self.env = env

    def _retry_failed(self, host: str, device: str | None = None) -> None:
        """Bind again the ports on `host` whose binding failed, as ML2 does when an agent
        asks: the agent asking is alive, and may have started after the port was bound."""
        now = self.env.now()
        down_time = self.env.settings.agent_down_time

        def work(session: Session) -> None:
            for port in l2.failed_on_host(session, host, device):
                binding = portbinding.bind_for_host(session, port.network_id, port.host_id,
                                                    port.vnic_type, now, down_time)
                if binding.bound:
                    port.vif_type = binding.vif_type
                    port.vif_details = dumps(binding.vif_details)
                    port.revision_number += 1
                    port.updated_at = now
        self.env.tx.run(work)

    def get_device_details(self, host: str, device: str) -> Body:
        """{"device", "port_id", "network_id", "mac_address", ...}, or {"device"} alone
        when no port bound to `host` matches the tap (or its binding failed)."""
        details = self.env.tx.read(lambda s: l2.details_for(s, host, device))
        if "port_id" not in details and self.env.tx.read(
                lambda s: bool(l2.failed_on_host(s, host, device))):
            self._retry_failed(host, device)
            details = self.env.tx.read(lambda s: l2.details_for(s, host, device))
        return details

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
        if self.env.tx.read(lambda s: bool(l2.failed_on_host(s, host))):
            self._retry_failed(host)
        return self.env.tx.read(lambda s: l2.ports_on_host(s, host))
