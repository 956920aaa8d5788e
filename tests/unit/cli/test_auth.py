import pytest

from neutrino.cli.auth import AuthOptions, identity_version, make_session, plan_auth
from neutrino.cli.errors import CliError

PASSWORD = {"username": "admin", "password": "adminpassword", "project_name": "admin"}


@pytest.mark.parametrize("url,version", [
    ("http://controlnode:5000/v2.0/", "v2.0"), ("http://controlnode:5000/v2.0", "v2.0"),
    ("http://h:5000/v3", "v3"), ("http://h:5000/identity/v3/", "v3"),
    ("http://h:5000/", None), ("http://h:5000", None), ("http://h/identity", None)])
def test_identity_version_from_the_url(url, version):
    assert identity_version(url) == version


def test_the_walkthrough_v2_url_uses_v2_password_with_the_tenant():
    plan = plan_auth(AuthOptions(auth_url="http://controlnode:5000/v2.0/", **PASSWORD))
    assert plan.kind == "v2"
    assert plan.kwargs == {"auth_url": "http://controlnode:5000/v2.0/", "username": "admin",
                           "password": "adminpassword", "tenant_name": "admin"}


def test_v3_defaults_both_domains_to_default():
    plan = plan_auth(AuthOptions(auth_url="http://h:5000/v3", **PASSWORD))
    assert plan.kind == "v3"
    assert plan.kwargs["user_domain_name"] == "Default"
    assert plan.kwargs["project_domain_name"] == "Default"
    assert plan.kwargs["project_name"] == "admin"


def test_v3_domains_given_are_kept():
    plan = plan_auth(AuthOptions(auth_url="http://h:5000/v3", user_domain_name="users",
                                 project_domain_id="d1", **PASSWORD))
    assert plan.kwargs["user_domain_name"] == "users"
    assert plan.kwargs["project_domain_id"] == "d1"
    assert "project_domain_name" not in plan.kwargs


def test_an_unversioned_url_is_discovered_with_default_as_the_v3_fallback():
    plan = plan_auth(AuthOptions(auth_url="http://h:5000/", **PASSWORD))
    assert plan.kind == "discover"
    assert plan.kwargs["default_domain_name"] == "Default"
    assert "user_domain_name" not in plan.kwargs
    given = plan_auth(AuthOptions(auth_url="http://h:5000/", user_domain_name="users",
                                  **PASSWORD))
    assert given.kwargs["user_domain_name"] == "users"


def test_a_token_with_a_url_needs_no_identity_service():
    plan = plan_auth(AuthOptions(token="tok", url="http://h:9696/"))
    assert plan.kind == "token"
    assert plan.kwargs == {"endpoint": "http://h:9696/", "token": "tok"}


@pytest.mark.parametrize("opts,message", [
    (AuthOptions(token="t"), "--os-url"),
    (AuthOptions(url="http://h:9696"), "--os-token"),
    (AuthOptions(auth_url="http://h/v3", password="p", project_name="p"), "--os-username"),
    (AuthOptions(auth_url="http://h/v3", username="u", project_name="p"), "--os-password"),
    (AuthOptions(auth_url="http://h/v3", username="u", password="p"), "--os-tenant-name"),
    (AuthOptions(**PASSWORD), "--os-auth-url"),
])
def test_missing_settings_are_named(opts, message):
    with pytest.raises(CliError, match=message):
        plan_auth(opts)


def test_sessions_are_built_for_every_kind_without_io():
    for opts in (AuthOptions(auth_url="http://h/v2.0", **PASSWORD),
                 AuthOptions(auth_url="http://h/v3", **PASSWORD),
                 AuthOptions(auth_url="http://h/", **PASSWORD),
                 AuthOptions(token="t", url="http://h:9696")):
        session = make_session(plan_auth(opts), timeout=5)
        assert session.auth is not None
