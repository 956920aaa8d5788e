"""net-list, net-show, net-create, net-update, net-delete."""

from __future__ import annotations

import argparse
from typing import Any

from neutrino.cli import parsing
from neutrino.cli.client import NetworkClient
from neutrino.cli.columns import SubnetsColumn
from neutrino.cli.commands.base import (
    CreateCommand,
    DeleteCommand,
    ListCommand,
    ShowCommand,
    UpdateCommand,
    add_name_filter,
    set_if,
)


class NetworkMixin:
    resource = "network"
    collection = "networks"


def subnet_cidrs(client: NetworkClient, networks: list[dict[str, Any]]) -> dict[str, str]:
    """CIDR of every subnet the networks list, fetched in as few requests as possible."""
    ids = [s for net in networks for s in net.get("subnets") or []]
    if not ids:
        return {}
    rows = client.list_by_ids("subnets", ids, ["id", "cidr"])
    return {row["id"]: row.get("cidr") or "" for row in rows}


def subnets_formatter(client: NetworkClient, rows: list[dict[str, Any]],
                      columns: list[str]) -> dict[str, Any]:
    if "subnets" not in columns:
        return {}
    cidrs = subnet_cidrs(client, rows)
    return {"subnets": lambda value, row: SubnetsColumn(value or [], cidrs)}


class NetList(NetworkMixin, ListCommand):
    """List networks."""

    list_columns = ("id", "name", "subnets")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_name_filter(parser)
        return parser

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        return [("name", n) for n in parsed_args.name]

    def formatters(self, rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
        return subnets_formatter(self.client, rows, columns)


class NetShow(NetworkMixin, ShowCommand):
    """Show a network."""


def add_provider_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--provider:network_type", dest="provider_network_type",
                        metavar="<network_type>", help="vlan, flat or local")
    parser.add_argument("--provider:physical_network", dest="provider_physical_network",
                        metavar="<physical_network_name>",
                        help="Physical network the network is on, e.g. physnet1")
    parser.add_argument("--provider:segmentation_id", dest="provider_segmentation_id",
                        type=int, metavar="<segmentation_id>", help="VLAN id")


def provider_attrs(parsed_args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    set_if(body, "provider:network_type", parsed_args.provider_network_type)
    set_if(body, "provider:physical_network", parsed_args.provider_physical_network)
    set_if(body, "provider:segmentation_id", parsed_args.provider_segmentation_id)
    return body


class NetCreate(NetworkMixin, CreateCommand):
    """Create a network."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("NAME", help="Name of the network")
        parser.add_argument("--shared", action="store_true", default=None,
                            help="Share the network with every project")
        parser.add_argument("--admin-state-down", dest="admin_state_up",
                            action="store_false", default=None,
                            help="Create the network administratively down")
        parser.add_argument("--availability-zone-hint", dest="availability_zone_hints",
                            action="append", metavar="<availability_zone>",
                            help="Availability zone for the network's DHCP agents "
                                 "(repeatable)")
        parser.add_argument("--description", help="Description of the network")
        parser.add_argument("--tenant-id", "--project-id", dest="project_id",
                            help="Owner project (admin only)")
        add_provider_options(parser)
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        return network_create_body(parsed_args)


def network_create_body(parsed_args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"name": parsed_args.NAME}
    set_if(body, "shared", parsed_args.shared)
    set_if(body, "admin_state_up", parsed_args.admin_state_up)
    set_if(body, "availability_zone_hints", parsed_args.availability_zone_hints)
    set_if(body, "description", parsed_args.description)
    set_if(body, "tenant_id", parsed_args.project_id)
    body.update(provider_attrs(parsed_args))
    return body


class NetUpdate(NetworkMixin, UpdateCommand):
    """Update a network."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="New name")
        parser.add_argument("--admin-state-up", type=parsing.boolean,
                            metavar="{True,False}", help="Administrative state")
        parser.add_argument("--shared", type=parsing.boolean, metavar="{True,False}",
                            help="Whether every project may use the network")
        parser.add_argument("--description", help="New description")
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body: dict[str, Any] = {}
        set_if(body, "name", parsed_args.name)
        set_if(body, "admin_state_up", parsed_args.admin_state_up)
        set_if(body, "shared", parsed_args.shared)
        set_if(body, "description", parsed_args.description)
        return body


class NetDelete(NetworkMixin, DeleteCommand):
    """Delete networks."""


COMMANDS = {"net-list": NetList, "net-show": NetShow, "net-create": NetCreate,
            "net-update": NetUpdate, "net-delete": NetDelete}
