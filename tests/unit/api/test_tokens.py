"""Builtin identity: users from settings, signed expiring tokens, the key file."""

import os
import stat

import pytest

from neutrino.api.identity.tokens import Identity, InvalidCredentials, load_key
from neutrino.conf.settings import ApiSettings, IdentityUser

USERS = (IdentityUser("admin", "adminpassword", "admin", "admin"),
         IdentityUser("demo", "demopassword", "demo", "member"))


class FakeTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_issue_and_validate():
    clock = FakeTime()
    identity = Identity(USERS, b"k" * 32, 60, now=clock)
    user = identity.check_password(identity.user("admin"), "adminpassword")
    token = identity.issue(user, identity.project("admin"), ("password",))
    again = identity.validate(token.id)
    assert again.user.name == "admin" and again.project.name == "admin"
    assert set(again.roles) == {"admin", "member", "reader"}
    assert again.expires_at == int(clock.now) + 60


def test_bad_password_and_unknown_user():
    identity = Identity(USERS, b"k" * 32, 60)
    with pytest.raises(InvalidCredentials):
        identity.check_password(identity.user("admin"), "wrong")
    with pytest.raises(InvalidCredentials):
        identity.check_password(identity.user("nobody"), "x")
    with pytest.raises(InvalidCredentials):
        identity.check_password(identity.user("admin"), None)


def test_expired_forged_and_foreign_tokens():
    clock = FakeTime()
    identity = Identity(USERS, b"k" * 32, 60, now=clock)
    user = identity.user("demo")
    token = identity.issue(user, identity.project("demo"), ("password",))
    other = Identity(USERS, b"x" * 32, 60, now=clock)
    with pytest.raises(InvalidCredentials):
        other.validate(token.id)  # signed with another key
    with pytest.raises(InvalidCredentials):
        identity.validate(token.id[:-2] + "xx")
    with pytest.raises(InvalidCredentials):
        identity.issue(user, identity.project("admin"), ("password",))  # not a member
    identity.validate(token.id)
    clock.now += 61
    with pytest.raises(InvalidCredentials):
        identity.validate(token.id)


def test_default_users_when_none_configured():
    identity = Identity((), b"k" * 32, 60)
    assert identity.user("admin").project.name == "admin"
    assert identity.user("demo").roles[0] == "member"


def test_key_file_created_once_private(tmp_path):
    settings = ApiSettings(state_path=str(tmp_path / "state"))
    key = load_key(settings)
    path = tmp_path / "state" / "identity.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(settings) == key
    assert load_key(ApiSettings(token_secret="s3cret", state_path=str(tmp_path))) == b"s3cret"
