"""quota-show, quota-update, quota-delete: the old neutron client's quota commands.

Without --tenant-id they act on the caller's own project, which the server names
(GET /quotas/tenant), as the neutron client did."""

from __future__ import annotations

import argparse
from urllib.parse import quote

from cliff.command import Command
from cliff.show import ShowOne

from neutrino.cli.columns import ShowRow, show_row
from neutrino.cli.commands.base import ClientMixin, set_if

RESOURCES = ("network", "subnet", "port")


class QuotaMixin(ClientMixin):
    def add_tenant(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--tenant-id", "--project-id", dest="tenant_id", metavar="TENANT_ID",
                            help="The owner project (default: your own)")
        parser.add_argument("pos_tenant_id", nargs="?", metavar="TENANT_ID",
                            help=argparse.SUPPRESS)

    def tenant(self, parsed_args: argparse.Namespace) -> str:
        given = parsed_args.tenant_id or parsed_args.pos_tenant_id
        if given:
            return str(given)
        return str(self.client.request("GET", "/quotas/tenant")["tenant"]["tenant_id"])

    def path(self, parsed_args: argparse.Namespace) -> str:
        return f"/quotas/{quote(self.tenant(parsed_args), safe='')}"


class QuotaShow(QuotaMixin, ShowOne):
    """Show the quotas of a project (default: your own)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        self.add_tenant(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> ShowRow:
        return show_row(self.client.request("GET", self.path(parsed_args))["quota"])


class QuotaUpdate(QuotaMixin, ShowOne):
    """Set a project's quotas (admin); -1 is unlimited."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        self.add_tenant(parser)
        for name in RESOURCES:
            parser.add_argument(f"--{name}", metavar=name, type=int,
                                help=f"The limit of {name}s")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> ShowRow:
        limits: dict[str, int] = {}
        for name in RESOURCES:
            set_if(limits, name, getattr(parsed_args, name))
        body = self.client.request("PUT", self.path(parsed_args), body={"quota": limits})
        return show_row(body["quota"])


class QuotaDelete(QuotaMixin, Command):
    """Put a project's quotas back to the defaults (admin)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        self.add_tenant(parser)
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        tenant = self.tenant(parsed_args)
        self.client.request("DELETE", f"/quotas/{quote(tenant, safe='')}")
        self.app.stdout.write(f"Deleted quota: {tenant}\n")
        return 0


COMMANDS = {"quota-show": QuotaShow, "quota-update": QuotaUpdate, "quota-delete": QuotaDelete}
