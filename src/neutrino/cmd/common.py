"""What every Neutrino process does at its edge: logging from the config, waiting for a
signal to stop."""

from __future__ import annotations

import logging
import signal
import threading

from oslo_config import cfg

# Libraries whose routine chatter (connections, policy loads, access lines) drowns our own
# messages; DEBUG brings the ones in _CHATTY_UNLESS_DEBUG back.
_ALWAYS_QUIET = ("oslo.messaging", "oslo_messaging", "oslo_policy", "uvicorn.access")
_CHATTY_UNLESS_DEBUG = ("keystonemiddleware", "keystoneauth", "sqlalchemy", "alembic")


def setup_logging(conf: cfg.ConfigOpts) -> None:
    handler: logging.Handler = (logging.FileHandler(conf.log_file) if conf.log_file
                                else logging.StreamHandler())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if conf.debug else logging.INFO)
    quiet = list(_ALWAYS_QUIET)
    if not conf.debug:
        quiet += _CHATTY_UNLESS_DEBUG
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)


def wait_for_signal() -> None:
    """Block until SIGTERM or SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
