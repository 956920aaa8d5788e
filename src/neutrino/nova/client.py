"""Nova's `POST /os-server-external-events`, through a keystoneauth session built from the
[nova] section (tokens, the service catalog's compute endpoint and re-authentication are
keystoneauth's)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from keystoneauth1 import adapter
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1 import session as ks_session

from neutrino.conf.settings import NovaSettings

LOG = logging.getLogger(__name__)

EVENTS_PATH = "/os-server-external-events"
# The API version Neutron's notifier speaks; every event name we send exists in it.
MICROVERSION = "2.1"
# Statuses after which sending the same batch again cannot help: it was taken (200, 207 with
# per-event codes), none of its servers exists (404), or Nova refuses its shape (400).
_FINAL = {200, 207, 400, 404}


@dataclass(frozen=True)
class Reply:
    """`final`: the batch is settled (delete it); otherwise try again later."""

    final: bool
    detail: str


class EventPoster(Protocol):
    def post(self, events: list[dict[str, str]]) -> Reply: ...


def _summary(body: Any) -> str:
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        return "no per-event results"
    failed = [e for e in events if isinstance(e, dict) and e.get("code") != 200]
    if not failed:
        return f"{len(events)} event(s) accepted"
    return (f"{len(events) - len(failed)} event(s) accepted, {len(failed)} refused: "
            + "; ".join(f"{e.get('name')} {e.get('server_uuid')} tag {e.get('tag')}: "
                        f"{e.get('code')}" for e in failed))


class NovaClient:
    def __init__(self, settings: NovaSettings) -> None:
        if settings.auth_type is None:
            raise ValueError("Nova is not configured ([nova] auth_type)")
        values = dict(settings.auth_options)
        loader: Any = ks_loading.get_plugin_loader(settings.auth_type)
        auth = loader.load_from_options_getter(lambda opt: values.get(opt.dest))
        self.session = ks_session.Session(auth=auth, verify=settings.verify,
                                          cert=settings.cert, timeout=settings.timeout)
        self.adapter = adapter.Adapter(
            self.session, service_type="compute", interface=settings.endpoint_type,
            region_name=settings.region_name, default_microversion=MICROVERSION)

    def post(self, events: list[dict[str, str]]) -> Reply:
        try:
            response = self.adapter.post(EVENTS_PATH, json={"events": events}, raise_exc=False)
        except ks_exc.EndpointNotFound as err:
            # The catalog may change (Nova registered late): look it up again next time.
            self.session.invalidate()
            return Reply(False, f"no compute endpoint in the catalog: {err}")
        except ks_exc.ClientException as err:  # connection, timeout, authentication...
            return Reply(False, f"{type(err).__name__}: {err}")
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if status in (200, 207):
            return Reply(True, f"HTTP {status}: {_summary(body)}")
        if status in _FINAL:
            return Reply(True, f"HTTP {status} (not retried): {response.text[:200]}")
        return Reply(False, f"HTTP {status}: {response.text[:200]}")
