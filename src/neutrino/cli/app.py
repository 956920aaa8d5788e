"""The cliff application: global --os-* options, logging, and the lazily built client."""

from __future__ import annotations

import argparse
import importlib.metadata
import logging
import os
from typing import Any, TextIO

from cliff.app import App
from cliff.commandmanager import CommandManager

from neutrino.cli.auth import AuthOptions, make_session, plan_auth
from neutrino.cli.client import NetworkClient
from neutrino.cli.commands import all_commands

# Libraries that would otherwise print their INFO chatter on every run.
QUIET_LOGGERS = ("keystoneauth", "urllib3", "requests", "stevedore", "iso8601")


def env(*names: str, default: Any = None) -> Any:
    """The first of the environment variables that is set and not empty."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def auth_options(options: argparse.Namespace) -> AuthOptions:
    return AuthOptions(
        auth_url=options.os_auth_url,
        username=options.os_username,
        user_id=options.os_user_id,
        password=options.os_password,
        project_name=options.os_project_name or options.os_tenant_name,
        project_id=options.os_project_id or options.os_tenant_id,
        user_domain_name=options.os_user_domain_name,
        user_domain_id=options.os_user_domain_id,
        project_domain_name=options.os_project_domain_name,
        project_domain_id=options.os_project_domain_id,
        token=options.os_token,
        url=options.os_url,
    )


def _package_version() -> str:
    try:
        return importlib.metadata.version("neutrino")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class NeutrinoApp(App):
    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        manager = CommandManager(None)
        for name, command in sorted(all_commands().items()):
            manager.add_command(name, command)
        super().__init__(
            description="Command-line client for the OpenStack Networking (Neutron) v2.0 "
                        "API, as served by neutrino-server.",
            version=_package_version(),
            command_manager=manager,
            deferred_help=True,
            stdout=stdout,
            stderr=stderr,
        )
        self._client: NetworkClient | None = None

    def build_option_parser(self, description: str | None, version: str | None,
                            argparse_kwargs: dict[str, Any] | None = None
                            ) -> argparse.ArgumentParser:
        parser = super().build_option_parser(description, version, argparse_kwargs)
        add = parser.add_argument
        add("--os-auth-url", metavar="<auth-url>", default=env("OS_AUTH_URL"),
            help="Identity URL; .../v2.0/ or .../v3 picks the version (env OS_AUTH_URL)")
        add("--os-username", metavar="<name>", default=env("OS_USERNAME"),
            help="User name (env OS_USERNAME)")
        add("--os-user-id", metavar="<id>", default=env("OS_USER_ID"),
            help="User id (env OS_USER_ID)")
        add("--os-password", metavar="<password>", default=env("OS_PASSWORD"),
            help="Password (env OS_PASSWORD)")
        add("--os-tenant-name", metavar="<name>", default=env("OS_TENANT_NAME"),
            help="Project (tenant) name (env OS_TENANT_NAME)")
        add("--os-project-name", metavar="<name>", default=env("OS_PROJECT_NAME"),
            help="Project name (env OS_PROJECT_NAME)")
        add("--os-tenant-id", metavar="<id>", default=env("OS_TENANT_ID"),
            help="Project (tenant) id (env OS_TENANT_ID)")
        add("--os-project-id", metavar="<id>", default=env("OS_PROJECT_ID"),
            help="Project id (env OS_PROJECT_ID)")
        add("--os-user-domain-name", metavar="<name>", default=env("OS_USER_DOMAIN_NAME"),
            help="User's domain for v3 (env OS_USER_DOMAIN_NAME, default Default)")
        add("--os-user-domain-id", metavar="<id>", default=env("OS_USER_DOMAIN_ID"),
            help="User's domain id for v3 (env OS_USER_DOMAIN_ID)")
        add("--os-project-domain-name", metavar="<name>",
            default=env("OS_PROJECT_DOMAIN_NAME"),
            help="Project's domain for v3 (env OS_PROJECT_DOMAIN_NAME, default Default)")
        add("--os-project-domain-id", metavar="<id>", default=env("OS_PROJECT_DOMAIN_ID"),
            help="Project's domain id for v3 (env OS_PROJECT_DOMAIN_ID)")
        add("--os-region-name", metavar="<region>", default=env("OS_REGION_NAME"),
            help="Region of the network endpoint in the catalog (env OS_REGION_NAME)")
        add("--os-interface", "--os-endpoint-type", dest="os_interface",
            metavar="<interface>",
            default=env("OS_INTERFACE", "OS_ENDPOINT_TYPE", default="public"),
            help="Catalog interface: public, internal or admin (env OS_INTERFACE)")
        add("--os-token", metavar="<token>", default=env("OS_TOKEN", "OS_AUTH_TOKEN"),
            help="A token to use instead of a password; needs --os-url (env OS_TOKEN)")
        add("--os-url", metavar="<url>", default=env("OS_URL"),
            help="Network API URL instead of the catalog's (env OS_URL)")
        add("--os-cacert", metavar="<ca-certificate>", default=env("OS_CACERT"),
            help="CA bundle to verify TLS servers with (env OS_CACERT)")
        add("--insecure", action="store_true", default=bool(env("NEUTRINOCLIENT_INSECURE")),
            help="Do not verify TLS certificates")
        add("--http-timeout", metavar="<seconds>", type=float,
            # A string default goes through `type` too: a bad variable is a usage error.
            default=env("OS_NETWORK_TIMEOUT", default="120"),
            help="Seconds to wait for a response")
        return parser

    def configure_logging(self) -> None:
        super().configure_logging()
        level = logging.DEBUG if self.options.verbose_level >= 2 else logging.WARNING
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(level)

    @property
    def client(self) -> NetworkClient:
        if self._client is None:
            options = self.options
            plan = plan_auth(auth_options(options))
            verify: bool | str = not options.insecure
            if options.os_cacert and not options.insecure:
                verify = options.os_cacert
            session = make_session(plan, verify=verify, timeout=options.http_timeout)
            self._client = NetworkClient(
                session,
                endpoint_override=options.os_url if plan.kind != "token" else None,
                region_name=options.os_region_name,
                interface=options.os_interface,
            )
        return self._client
