"""The oslo.messaging transport every RPC piece is built on."""

from __future__ import annotations

import importlib

import oslo_messaging
from oslo_config import cfg
from oslo_messaging import opts as messaging_opts

from neutrino.conf.settings import RpcSettings

IN_PROCESS_URL = "fake://"

# Option groups oslo.messaging reads from the transport's conf but registers only on its
# global CONF (oslo.messaging's own ConfFixture registers the same).
_GLOBAL_ONLY_OPTS = (
    ("oslo_messaging._metrics.client", "oslo_messaging_metrics", "oslo_messaging_metrics"),
    ("oslo_messaging._tracing.client", "oslo_messaging_tracing", "oslo_messaging_tracing"),
)


def _messaging_conf(settings: RpcSettings) -> cfg.ConfigOpts:
    # oslo.messaging insists on a ConfigOpts; a private one keeps the process-wide CONF
    # untouched and makes the typed settings the only input.
    conf = cfg.ConfigOpts()
    for group, opts in messaging_opts.list_opts():
        conf.register_opts(list(opts), group=group)
    for module_name, attribute, group in _GLOBAL_ONLY_OPTS:
        try:
            opts = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError):  # another oslo.messaging release
            continue
        conf.register_opts(list(opts), group=group)
    conf([], project="neutrino", default_config_files=[], default_config_dirs=[])
    conf.set_override("control_exchange", settings.control_exchange)
    conf.set_override("rpc_response_timeout", settings.response_timeout)
    for name, value in settings.rabbit:
        conf.set_override(name, value, group="oslo_messaging_rabbit")
    return conf


def get_transport(settings: RpcSettings) -> oslo_messaging.Transport:
    """An RPC transport for `settings.transport_url`.

    `fake://` is oslo.messaging's in-process transport (the all-in-one mode): every client
    and server of one process that share the control exchange reach each other.
    Servers built on it use the threading executor (eventlet is never monkey-patched).
    """
    return oslo_messaging.get_rpc_transport(_messaging_conf(settings),
                                            url=settings.transport_url)
