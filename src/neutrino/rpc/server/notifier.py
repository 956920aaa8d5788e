"""Core's notifier over RPC: casts to one host's DHCP agent, and fanout casts to every
Linux bridge agent (security group and port updates)."""

from __future__ import annotations

import logging

import oslo_messaging
from prometheus_client import Counter

from neutrino.lib import constants
from neutrino.lib.metrics import process_label
from neutrino.lib.payloads import FanoutPayload, Payload

LOG = logging.getLogger(__name__)

# A cast happens after core committed; it must neither fail the API request nor hold it for
# long while the broker is unreachable. The recorded cast is sent again by a sweeper.
_CAST_RETRIES = 1

CASTS = Counter("neutrino_rpc_casts",
                "Casts to agents this process sent (result=sent) or dropped (failed).",
                ["process", "method", "result"])


class RpcDhcpNotifier:
    def __init__(self, transport: oslo_messaging.Transport) -> None:
        self._client = oslo_messaging.get_rpc_client(
            transport, oslo_messaging.Target(topic=constants.TOPIC_DHCP_AGENT))

    def cast(self, host: str, method: str, payload: Payload) -> bool:
        try:
            self._client.prepare(server=host, retry=_CAST_RETRIES).cast(
                {}, method, payload=payload)
        except Exception as exc:  # noqa: BLE001 - nothing may escape into core
            CASTS.labels(process_label(), method, "failed").inc()
            LOG.warning("Dropped %s cast to the DHCP agent on %s: %s", method, host, exc)
            return False
        CASTS.labels(process_label(), method, "sent").inc()
        return True

    def fanout(self, topic: str, method: str, payload: FanoutPayload) -> None:
        # The payload's keys are the method's keyword arguments (security_groups=,
        # port=), as Neutron's agents take them.
        try:
            self._client.prepare(topic=topic, fanout=True, retry=_CAST_RETRIES).cast(
                {}, method, **payload)
        except Exception as exc:  # noqa: BLE001 - nothing may escape into core
            CASTS.labels(process_label(), method, "failed").inc()
            LOG.warning("Dropped %s fanout on %s: %s", method, topic, exc)
            return
        CASTS.labels(process_label(), method, "sent").inc()
