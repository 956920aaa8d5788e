"""The Nova client against a fake Keystone and Nova over real HTTP (keystoneauth does the
tokens and the catalog), and the sender's settle-or-retry decisions."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest
from oslo_config import cfg
from support.fake_nova import TOKEN, fake_nova

from neutrino.conf import opts
from neutrino.conf.settings import ConfigError, nova_settings
from neutrino.core.agents.nova import Claim, Claimed, Event
from neutrino.nova.client import NovaClient, Reply
from neutrino.nova.sender import NovaSender

SERVER = "6f3c3cbb-7d41-4b8e-9a43-0b1c2d3e4f50"
EVENTS = [{"name": "network-vif-plugged", "server_uuid": SERVER, "tag": "p1",
           "status": "completed"},
          {"name": "network-changed", "server_uuid": SERVER, "tag": "p2"}]


def test_a_batch_is_one_post_with_a_keystone_token() -> None:
    with fake_nova() as nova:
        client = NovaClient(nova.settings())
        reply = client.post(EVENTS)
        assert reply.final, reply
        assert nova.batches == [EVENTS]
        assert nova.headers[0]["X-Auth-Token"] == TOKEN
        assert nova.headers[0]["X-OpenStack-Nova-API-Version"] == "2.1"
        client.post(EVENTS[:1])
        assert nova.tokens_issued == 1  # the token is kept, not fetched per batch


@pytest.mark.parametrize(("status", "final"), [
    (207, True), (404, True), (400, True), (500, False), (503, False), (403, False)])
def test_which_answers_settle_a_batch(status: int, final: bool) -> None:
    with fake_nova() as nova:
        nova.status = status
        assert NovaClient(nova.settings()).post(EVENTS).final is final


def test_nova_unreachable_is_retried_later() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with fake_nova() as nova:
            settings = nova.settings()
        options = dict(settings.auth_options)
        options["auth_url"] = f"http://127.0.0.1:{port}/identity/v3"
        reply = NovaClient(replace(settings, auth_options=tuple(options.items()))).post(EVENTS)
    assert not reply.final
    assert "Connect" in reply.detail


def test_a_wrong_password_is_retried_later() -> None:
    with fake_nova() as nova:
        options = dict(nova.settings().auth_options, password="wrong")
        client = NovaClient(replace(nova.settings(), auth_options=tuple(options.items())))
        assert not client.post(EVENTS).final
        assert nova.requests == 0


def _conf(tmp_path, text: str) -> cfg.ConfigOpts:  # noqa: ANN001
    path = tmp_path / "neutrino.conf"
    path.write_text(text)
    return opts.load(["--config-file", str(path)], "test")


def test_the_nova_section_as_neutron_writes_it(tmp_path) -> None:  # noqa: ANN001
    conf = _conf(tmp_path, "[DEFAULT]\nsend_events_interval = 5\n"
                 "notify_nova_on_port_data_changes = false\n"
                 "[nova]\nauth_type = password\nauth_url = http://ks:5000/v3\n"
                 "username = nova\npassword = pw\nproject_name = service\n"
                 "user_domain_name = Default\nproject_domain_name = Default\n"
                 "region_name = RegionTwo\nendpoint_type = internal\n")
    settings = nova_settings(conf)
    assert settings.enabled
    assert dict(settings.auth_options)["username"] == "nova"
    assert (settings.region_name, settings.endpoint_type) == ("RegionTwo", "internal")
    assert settings.send_events_interval == 5
    assert (settings.notify_on_port_status, settings.notify_on_port_data) == (True, False)
    assert "pw" not in repr(settings)


@pytest.mark.parametrize("text", ["", "[nova]\nauth_type = password\n",
                                  "[nova]\nregion_name = RegionOne\n"])
def test_no_nova_without_auth_type_and_auth_url(tmp_path, text: str) -> None:  # noqa: ANN001
    assert not nova_settings(_conf(tmp_path, text)).enabled


def test_an_unknown_auth_type_is_refused(tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError):
        nova_settings(_conf(tmp_path, "[nova]\nauth_type = no-such-plugin\n"))


class FakeQueue:
    def __init__(self, batches: list[int]) -> None:
        self.claims = [Claim(f"t{i}", tuple(Claimed(j, Event("network-changed", SERVER, "p"), 0)
                                             for j in range(n)))
                       for i, n in enumerate(batches)]
        self.log: list[str] = []

    def claim(self, limit: int, lease_seconds: float) -> Claim | None:
        return self.claims.pop(0) if self.claims else None

    def done(self, claim: Claim) -> int:
        self.log.append(f"done {claim.token}")
        return len(claim.items)

    def retry(self, claim: Claim, base: float, cap: float, max_attempts: int) -> list[Claimed]:
        self.log.append(f"retry {claim.token}")
        return []


class Poster:
    def __init__(self, replies: list[bool]) -> None:
        self.replies = replies
        self.posts: list[int] = []

    def post(self, events: list[dict[str, str]]) -> Reply:
        self.posts.append(len(events))
        return Reply(self.replies.pop(0), "")


def test_full_batches_are_sent_until_one_is_short() -> None:
    queue, poster = FakeQueue([3, 3, 1, 3]), Poster([True, True, True])
    assert NovaSender(queue, poster, 2, batch=3).tick() == 7  # type: ignore[arg-type]
    assert poster.posts == [3, 3, 1]
    assert queue.log == ["done t0", "done t1", "done t2"]


def test_a_failed_batch_goes_back_and_the_tick_ends() -> None:
    queue, poster = FakeQueue([3, 3]), Poster([False])
    assert NovaSender(queue, poster, 2, batch=3).tick() == 0  # type: ignore[arg-type]
    assert queue.log == ["retry t0"]
    assert len(queue.claims) == 1
