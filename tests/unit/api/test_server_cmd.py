"""neutrino-server's pieces that decide things: the HA monitor loop and the policy file."""

import logging
import threading

import pytest

from neutrino.cmd.server import (
    PeriodicLoop,
    Server,
    _uvicorn,
    cast_loop,
    policy_file,
    register_edge_opts,
    warn_unshared_token_key,
)
from neutrino.conf import opts
from neutrino.conf.settings import ApiSettings, ConfigError


def test_ha_monitor_survives_failing_ticks():
    calls = []
    done = threading.Event()

    def tick():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        if len(calls) >= 3:
            done.set()
        return 0

    monitor = PeriodicLoop(tick, 0.01, "HA monitor", "moved %d")
    monitor.start()
    try:
        assert done.wait(10), "the monitor stopped after a failing tick"
    finally:
        monitor.stop()
    count = len(calls)
    assert count >= 3
    done.wait(0.1)
    assert len(calls) == count  # stopped means stopped


class _Casts:
    def __init__(self):
        self.calls = []
        self.called = threading.Event()

    def tick(self):
        self.calls.append("sweep")
        self.called.set()
        return 0

    def forget_sent(self):
        self.calls.append("forget")
        self.called.set()


class _Services:
    def __init__(self):
        self.dhcp_casts = _Casts()


@pytest.mark.parametrize(("sweep", "expected"), [(True, "sweep"), (False, "forget")])
def test_only_the_sweeping_process_sweeps_casts(monkeypatch, sweep, expected):
    # API workers forget what they sent; the parent alone sweeps (a locking transaction).
    monkeypatch.setattr("neutrino.cmd.server.CAST_LOOP_INTERVAL", 0.01)
    services = _Services()
    loop = cast_loop(services, sweep=sweep)
    loop.start()
    try:
        assert services.dhcp_casts.called.wait(10)
    finally:
        loop.stop()
    assert set(services.dhcp_casts.calls) == {expected}


def test_stopping_the_server_closes_its_pool_watch_before_the_database():
    steps = []

    class Step:
        def __init__(self, name):
            self.name = name

        def __getattr__(self, method):
            return lambda: steps.append(f"{self.name}.{method}")

    Server(Step("db"), Step("rpc"), Step("monitor"), None, pool=Step("pool")).stop()
    assert steps == ["monitor.stop", "rpc.stop", "pool.close", "db.dispose"]


def _conf(tmp_path, text=""):
    path = tmp_path / "neutron.conf"
    path.write_text(text)
    conf = opts.load(["--config-file", str(path)], prog="test")
    register_edge_opts(conf)
    return conf


def test_policy_file_found_beside_the_config(tmp_path):
    assert policy_file(_conf(tmp_path)) is None  # the default name, absent: defaults
    (tmp_path / "policy.yaml").write_text('"get_agent": ""\n')
    assert policy_file(_conf(tmp_path)) == str(tmp_path / "policy.yaml")


def test_policy_file_named_but_missing_is_a_config_error(tmp_path):
    conf = _conf(tmp_path, "[oslo_policy]\npolicy_file = /nonexistent/custom.yaml\n")
    with pytest.raises(ConfigError, match="custom.yaml"):
        policy_file(conf)


def test_builtin_tokens_without_a_shared_secret_are_warned_about(caplog):
    with caplog.at_level(logging.WARNING, logger="neutrino-server"):
        assert warn_unshared_token_key(ApiSettings(auth_strategy="builtin",
                                                   state_path="/srv/nt"))
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "token_secret" in record.getMessage()
    assert "Every server replica needs the same key" in record.getMessage()
    assert "/srv/nt/identity.key" in record.getMessage()


@pytest.mark.parametrize("settings", [ApiSettings(auth_strategy="builtin", token_secret="s"),
                                      ApiSettings(auth_strategy="keystone")])
def test_no_token_key_warning_with_a_secret_or_keystone(caplog, settings):
    with caplog.at_level(logging.WARNING):
        assert not warn_unshared_token_key(settings)
    assert not caplog.records


def test_an_api_worker_serves_with_its_startup_objects_frozen(tmp_path, monkeypatch):
    """A full collection must not walk what the worker made starting: frozen first."""
    import gc
    import socket

    from neutrino.cmd import server as server_cmd
    from neutrino.conf.settings import database_settings
    from neutrino.db.engine import Database

    url = f"sqlite:///{tmp_path / 'neutrino.sqlite'}"
    db = Database(database_settings(_conf(tmp_path, f"[database]\nconnection = {url}\n")))
    db.upgrade()
    db.dispose()
    conf = _conf(tmp_path, f"[DEFAULT]\ntransport_url = fake:/\nstate_path = {tmp_path}\n"
                           f"[database]\nconnection = {url}\n")
    frozen_when_serving = []

    class Served:
        def run(self, sockets):
            frozen_when_serving.append(gc.get_freeze_count())

    monkeypatch.setattr(server_cmd, "_uvicorn", lambda *args: Served())
    before = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    sock = socket.socket()
    try:
        assert server_cmd.run_worker(conf, sock) == 0
    finally:
        sock.close()
        gc.unfreeze()  # the rest of the test session collects as usual
        gc.set_threshold(*thresholds)
    assert frozen_when_serving and frozen_when_serving[0] > before + 10000


def test_the_api_is_served_by_httptools_on_uvloop():
    # Named, not "auto": a missing package fails the start instead of going slow.
    import uvloop
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from neutrino.cmd.http_protocol import HttpProtocol

    async def app(scope, receive, send):  # pragma: no cover - never called
        pass

    config = _uvicorn(app, "127.0.0.1", 9696).config
    assert config.loop == "uvloop"
    config.load()
    # httptools' protocol, each response in one write (cmd/http_protocol.py).
    assert config.http_protocol_class is HttpProtocol
    assert issubclass(HttpProtocol, HttpToolsProtocol)
    assert config.get_loop_factory() is uvloop.new_event_loop
