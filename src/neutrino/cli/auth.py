"""Choose how the CLI authenticates, from the --os-* options and OS_* variables.

`plan_auth` decides (pure, unit-tested); `make_session` builds the keystoneauth1 objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from keystoneauth1 import session as ks_session
from keystoneauth1 import token_endpoint
from keystoneauth1.identity import generic, v2, v3

from neutrino.cli.errors import CliError

DEFAULT_DOMAIN = "Default"


@dataclass(frozen=True)
class AuthOptions:
    auth_url: str | None = None
    username: str | None = None
    user_id: str | None = None
    password: str | None = None
    project_name: str | None = None
    project_id: str | None = None
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    token: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class AuthPlan:
    """kind: "token" (a token and a network URL, no identity service), "v2", "v3", or
    "discover" (an auth URL without a version: let keystoneauth ask the server)."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def identity_version(auth_url: str) -> str | None:
    """"v2.0" or "v3" from the auth URL's path, None when the path names no version."""
    segments = [s for s in urlsplit(auth_url).path.split("/") if s]
    if not segments:
        return None
    last = segments[-1].lower()
    if last.startswith("v2"):
        return "v2.0"
    if last.startswith("v3"):
        return "v3"
    return None


def plan_auth(opts: AuthOptions) -> AuthPlan:
    if opts.token:
        if not opts.url:
            raise CliError("You must provide a service URL via either --os-url or "
                           "env[OS_URL] when using a token")
        return AuthPlan("token", {"endpoint": opts.url, "token": opts.token})
    if opts.url and not opts.auth_url:
        raise CliError("You must provide a token via either --os-token or env[OS_TOKEN] "
                       "when providing a service URL")
    if not (opts.username or opts.user_id):
        raise CliError("You must provide a username or user ID via --os-username, "
                       "env[OS_USERNAME] or --os-user-id, env[OS_USER_ID]")
    if not opts.password:
        raise CliError("You must provide a password via either --os-password or "
                       "env[OS_PASSWORD]")
    if not (opts.project_name or opts.project_id):
        raise CliError("You must provide a tenant name or project name via "
                       "--os-tenant-name, --os-project-name, env[OS_TENANT_NAME] or "
                       "env[OS_PROJECT_NAME]")
    if not opts.auth_url:
        raise CliError("You must provide an auth url via either --os-auth-url or "
                       "via env[OS_AUTH_URL]")
    version = identity_version(opts.auth_url)
    if version == "v2.0":
        kwargs = {"auth_url": opts.auth_url, "password": opts.password}
        kwargs.update(_present(username=opts.username, user_id=opts.user_id,
                               tenant_name=opts.project_name, tenant_id=opts.project_id))
        return AuthPlan("v2", kwargs)
    kwargs = {"auth_url": opts.auth_url, "password": opts.password}
    kwargs.update(_present(username=opts.username, user_id=opts.user_id,
                           project_name=opts.project_name, project_id=opts.project_id))
    if version is None:
        # Discovery may settle on v2.0, which refuses domains: give the domains only when
        # the operator did, and Default as the fallback v3 alone uses.
        kwargs.update(_present(user_domain_name=opts.user_domain_name,
                               user_domain_id=opts.user_domain_id,
                               project_domain_name=opts.project_domain_name,
                               project_domain_id=opts.project_domain_id))
        kwargs["default_domain_name"] = DEFAULT_DOMAIN
        return AuthPlan("discover", kwargs)
    # Names are only unique inside a domain; Default is what single-domain clouds use.
    if not opts.user_id:
        kwargs.update(_domain("user", opts.user_domain_name, opts.user_domain_id))
    if not opts.project_id:
        kwargs.update(_domain("project", opts.project_domain_name, opts.project_domain_id))
    return AuthPlan("v3", kwargs)


def _present(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


def _domain(prefix: str, name: str | None, domain_id: str | None) -> dict[str, str]:
    if domain_id:
        return {f"{prefix}_domain_id": domain_id}
    return {f"{prefix}_domain_name": name or DEFAULT_DOMAIN}


_PLUGINS = {"v2": v2.Password, "v3": v3.Password, "discover": generic.Password,
            "token": token_endpoint.Token}


def make_session(plan: AuthPlan, *, verify: bool | str = True,
                 timeout: float | None = None) -> ks_session.Session:
    plugin = _PLUGINS[plan.kind](**plan.kwargs)
    return ks_session.Session(auth=plugin, verify=verify, timeout=timeout,
                              app_name="neutrino")
