"""What every resource command shares: the client, name-or-id lookup, output conventions."""

from __future__ import annotations

import argparse
from typing import Any

from cliff.command import Command
from cliff.lister import Lister
from cliff.show import ShowOne

from neutrino.cli.client import NetworkClient
from neutrino.cli.columns import ShowRow, list_rows, show_row
from neutrino.cli.errors import CliError


class ClientMixin:
    app: Any

    @property
    def client(self) -> NetworkClient:
        # `app` is the NeutrinoApp running this command (untyped here: base.py cannot import it).
        client: NetworkClient = self.app.client
        return client


class ResourceMixin(ClientMixin):
    resource: str = ""
    collection: str = ""
    # Agents have no names: their references are ids only.
    allow_names: bool = True

    def resolve(self, ref: str) -> str:
        if not self.allow_names:
            return ref
        return self.client.find_id(self.resource, self.collection, ref)

    @property
    def metavar(self) -> str:
        return self.resource.upper()


class ListCommand(ResourceMixin, Lister):
    """A table of `list_columns`; `-c` may also name `extra_columns` or any attribute."""

    list_columns: tuple[str, ...] = ("id",)
    extra_columns: tuple[str, ...] = ()

    def fetch(self, parsed_args: argparse.Namespace) -> list[dict[str, Any]]:
        return self.client.list(self.collection, self.filters(parsed_args))

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        return []

    def formatters(self, rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
        return {}

    def take_action(self, parsed_args: argparse.Namespace
                    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        rows = self.fetch(parsed_args)
        columns = select_columns(self.list_columns, self.extra_columns, rows,
                                 bool(parsed_args.columns))
        return columns, list_rows(rows, columns, self.formatters(rows, columns))


def select_columns(defaults: tuple[str, ...], extras: tuple[str, ...], rows: list[dict[str, Any]],
                   asked: bool) -> list[str]:
    """The defaults, or (when the operator picks with -c) everything cliff may pick from.

    cliff keeps the order returned here, whatever order the -c options came in.
    """
    columns = list(defaults)
    if not asked:
        return columns
    for name in extras:
        if name not in columns:
            columns.append(name)
    seen = {key for row in rows for key in row}
    columns.extend(sorted(seen - set(columns)))
    return columns


class ShowCommand(ResourceMixin, ShowOne):
    formatters: dict[str, Any] = {}

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(self.metavar, help=f"ID or name of the {self.resource} to show"
                            if self.allow_names else f"ID of the {self.resource} to show")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> ShowRow:
        ref = getattr(parsed_args, self.metavar)
        data = self.client.show(self.resource, self.collection, self.resolve(ref))
        return show_row(data, self.formatters)


class CreateCommand(ResourceMixin, ShowOne):
    formatters: dict[str, Any] = {}

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        raise NotImplementedError

    def take_action(self, parsed_args: argparse.Namespace) -> ShowRow:
        data = self.client.create(self.resource, self.collection, self.build_body(parsed_args))
        if parsed_args.formatter == "table":
            self.app.stdout.write(f"Created a new {self.resource}:\n")
        return show_row(data, self.formatters)


class UpdateCommand(ResourceMixin, Command):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(self.metavar, help=f"ID or name of the {self.resource} to update"
                            if self.allow_names else f"ID of the {self.resource} to update")
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        raise NotImplementedError

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        body = self.build_body(parsed_args)
        if not body:
            raise CliError(f"Must specify new values to update {self.resource}")
        ref = getattr(parsed_args, self.metavar)
        self.client.update(self.resource, self.collection, self.resolve(ref), body)
        self.app.stdout.write(f"Updated {self.resource}: {ref}\n")
        return 0


class DeleteCommand(ResourceMixin, Command):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument(self.metavar, nargs="+",
                            help=f"ID or name of the {self.resource} to delete"
                            if self.allow_names else f"ID of the {self.resource} to delete")
        return parser

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        failed = []
        for ref in getattr(parsed_args, self.metavar):
            try:
                self.client.delete(self.collection, self.resolve(ref))
            except CliError as exc:
                failed.append(str(exc))
                continue
            self.app.stdout.write(f"Deleted {self.resource}: {ref}\n")
        if failed:
            raise CliError("; ".join(failed))
        return 0


def add_name_filter(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", action="append", default=[],
                        help="Only resources with this name (repeatable)")


def add_network_filter(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--network", help=f"Only {what} of this network (ID or name)")


def network_filter(client: NetworkClient, parsed_args: argparse.Namespace
                   ) -> list[tuple[str, str]]:
    """The `network_id` query parameter for `--network`, if given."""
    if not parsed_args.network:
        return []
    return [("network_id", client.find_id("network", "networks", parsed_args.network))]


def set_if(body: dict[str, Any], key: str, value: Any) -> None:
    """Put `value` in the request only when the operator gave it."""
    if value is not None:
        body[key] = value
