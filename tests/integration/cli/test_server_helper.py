"""tests/support/server.py: the real server comes up, answers, and is gone afterwards."""

from __future__ import annotations

import os
import socket

import pytest
from support.server import NeutrinoServer, ServerStartError, render_config


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_starts_answers_and_stops(tmp_path):
    with NeutrinoServer(tmp_path) as server:
        assert server.answers()
        proc = server.process
        assert proc is not None and proc.poll() is None
        port = server.port
        config = server.config_path.read_text()
        assert f"bind_port = {port}" in config and "transport_url = fake://" in config
        env = server.admin_env()
        assert env["OS_AUTH_URL"] == f"http://127.0.0.1:{port}/v3"
        assert server.admin_env("v2.0")["OS_TENANT_NAME"] == "admin"
    assert proc.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    assert not port_open(port)


def test_a_server_that_cannot_start_is_reported_with_its_log(tmp_path):
    server = NeutrinoServer(tmp_path, options={"DEFAULT": {"auth_strategy": "bogus"}})
    with pytest.raises(ServerStartError) as exc:
        with server:
            pass
    assert "exited with" in str(exc.value) and "auth_strategy" in str(exc.value)
    assert server.process is None


def test_render_config_repeats_multi_valued_options():
    text = render_config({"identity": {"user": ["a:b:c:admin", "d:e:f:member"]},
                          "DEFAULT": {"debug": True}})
    assert text.splitlines() == ["[identity]", "user = a:b:c:admin", "user = d:e:f:member", "",
                                 "[DEFAULT]", "debug = True"]
