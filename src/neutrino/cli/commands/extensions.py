"""ext-list, ext-show."""

from __future__ import annotations

import argparse
from urllib.parse import quote

from cliff.show import ShowOne

from neutrino.cli.columns import ShowRow, show_row
from neutrino.cli.commands.base import ClientMixin, ListCommand


class ExtList(ListCommand):
    """List the API extensions the server implements."""

    resource = "extension"
    collection = "extensions"
    list_columns = ("alias", "name")
    extra_columns = ("description", "updated")


class ExtShow(ClientMixin, ShowOne):
    """Show one API extension."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("EXT_ALIAS", help="Alias of the extension")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> ShowRow:
        body = self.client.request("GET", f"/extensions/{quote(parsed_args.EXT_ALIAS, safe='')}")
        return show_row(body["extension"])


COMMANDS = {"ext-list": ExtList, "ext-show": ExtShow}
