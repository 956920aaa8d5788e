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


def counting_decodes(monkeypatch):
    import jwt

    calls = []
    real = jwt.decode

    def decode(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(jwt, "decode", decode)
    return calls


def test_a_signature_is_verified_once(monkeypatch):
    decodes = counting_decodes(monkeypatch)
    identity = Identity(USERS, b"k" * 32, 60)
    token = identity.issue(identity.user("demo"), identity.project("demo"), ("password",))
    first, again = identity.validate(token.id), identity.validate(token.id)
    assert decodes == [token.id]
    assert first == again and again.user.name == "demo" and again.project.name == "demo"
    with pytest.raises(InvalidCredentials):
        identity.validate(token.id[:-2] + "xx")  # forged: checked, and not remembered
    with pytest.raises(InvalidCredentials):
        identity.validate(token.id[:-2] + "xx")
    assert len(decodes) == 3


def test_a_remembered_token_still_expires_and_is_revoked():
    clock = FakeTime()
    revoked: set[str] = set()
    identity = Identity(USERS, b"k" * 32, 60, now=clock, revoked=revoked.__contains__)
    user = identity.user("demo")
    token = identity.issue(user, identity.project("demo"), ("password",))
    other = identity.issue(user, identity.project("demo"), ("password",))
    identity.validate(token.id)
    identity.validate(other.id)
    revoked.add(token.audit_id)
    with pytest.raises(InvalidCredentials):
        identity.validate(token.id)
    clock.now += 61
    with pytest.raises(InvalidCredentials):
        identity.validate(other.id)


def test_a_remembered_token_of_a_user_gone_from_the_configuration():
    identity = Identity(USERS, b"k" * 32, 60)
    token = identity.issue(identity.user("demo"), identity.project("demo"), ("password",))
    identity.validate(token.id)
    del identity.users["demo"]
    with pytest.raises(InvalidCredentials):
        identity.validate(token.id)


def test_remembered_tokens_are_bounded(monkeypatch):
    from neutrino.api.identity import tokens

    monkeypatch.setattr(tokens, "VERIFIED_TOKENS", 3)
    decodes = counting_decodes(monkeypatch)
    identity = Identity(USERS, b"k" * 32, 60)
    user = identity.user("admin")
    issued = [identity.issue(user, identity.project("admin"), ("password",)).id
              for _ in range(4)]
    for token_id in issued:
        identity.validate(token_id)
    assert len(identity._verified) == 3
    identity.validate(issued[0])  # the oldest was forgotten: verified again
    identity.validate(issued[3])
    assert decodes == [*issued, issued[0]]
