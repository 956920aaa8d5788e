"""subnet-list, subnet-show, subnet-create, subnet-update, subnet-delete."""

from __future__ import annotations

import argparse
from typing import Any

from neutrino.cli import parsing
from neutrino.cli.commands.base import (
    CreateCommand,
    DeleteCommand,
    ListCommand,
    ShowCommand,
    UpdateCommand,
    add_name_filter,
    add_network_filter,
    network_filter,
    set_if,
)


class SubnetMixin:
    resource = "subnet"
    collection = "subnets"


class SubnetList(SubnetMixin, ListCommand):
    """List subnets."""

    list_columns = ("id", "name", "cidr", "allocation_pools")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_name_filter(parser)
        add_network_filter(parser, "subnets")
        return parser

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        params = [("name", n) for n in parsed_args.name]
        params += network_filter(self.client, parsed_args)
        return params


class SubnetShow(SubnetMixin, ShowCommand):
    """Show a subnet."""


def add_subnet_options(parser: argparse.ArgumentParser) -> None:
    gateway = parser.add_mutually_exclusive_group()
    gateway.add_argument("--gateway", dest="gateway_ip", metavar="GATEWAY_IP",
                         help="Gateway address (default: the first address of the CIDR)")
    gateway.add_argument("--no-gateway", action="store_true", help="No gateway")
    parser.add_argument("--allocation-pool", dest="allocation_pools", action="append",
                        type=parsing.allocation_pool, metavar="start=IP_ADDR,end=IP_ADDR",
                        help="Range of addresses to allocate from (repeatable)")
    parser.add_argument("--dns-nameserver", dest="dns_nameservers", action="append",
                        metavar="DNS_NAMESERVER", help="DNS server for the subnet (repeatable)")
    parser.add_argument("--host-route", dest="host_routes", action="append",
                        type=parsing.host_route,
                        metavar="destination=CIDR,nexthop=IP_ADDR",
                        help="Route handed out by DHCP (repeatable)")
    dhcp = parser.add_mutually_exclusive_group()
    dhcp.add_argument("--enable-dhcp", dest="enable_dhcp", action="store_true", default=None,
                      help="Serve DHCP on the subnet (the default)")
    dhcp.add_argument("--disable-dhcp", dest="enable_dhcp", action="store_false",
                      help="Do not serve DHCP on the subnet")
    parser.add_argument("--description", help="Description of the subnet")


def subnet_common_attrs(parsed_args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if parsed_args.no_gateway:
        body["gateway_ip"] = None
    else:
        set_if(body, "gateway_ip", parsed_args.gateway_ip)
    set_if(body, "allocation_pools", parsed_args.allocation_pools)
    set_if(body, "dns_nameservers", parsed_args.dns_nameservers)
    set_if(body, "host_routes", parsed_args.host_routes)
    set_if(body, "enable_dhcp", parsed_args.enable_dhcp)
    set_if(body, "description", parsed_args.description)
    return body


class SubnetCreate(SubnetMixin, CreateCommand):
    """Create a subnet on a network."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("NETWORK", help="ID or name of the network")
        parser.add_argument("CIDR", help="CIDR of the subnet, e.g. 9.0.1.0/24")
        parser.add_argument("--name", help="Name of the subnet")
        parser.add_argument("--ip-version", type=int, choices=(4, 6), default=4,
                            help="IP version (default 4)")
        parser.add_argument("--tenant-id", "--project-id", dest="project_id",
                            help="Owner project (admin only)")
        add_subnet_options(parser)
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        network_id = self.client.find_id("network", "networks", parsed_args.NETWORK)
        return subnet_create_body(parsed_args, network_id)


def subnet_create_body(parsed_args: argparse.Namespace, network_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"network_id": network_id, "cidr": parsed_args.CIDR,
                  "ip_version": parsed_args.ip_version}
    set_if(body, "name", parsed_args.name)
    set_if(body, "tenant_id", parsed_args.project_id)
    body.update(subnet_common_attrs(parsed_args))
    return body


class SubnetUpdate(SubnetMixin, UpdateCommand):
    """Update a subnet."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="New name")
        add_subnet_options(parser)
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body = subnet_common_attrs(parsed_args)
        set_if(body, "name", parsed_args.name)
        return body


class SubnetDelete(SubnetMixin, DeleteCommand):
    """Delete subnets."""


COMMANDS = {"subnet-list": SubnetList, "subnet-show": SubnetShow,
            "subnet-create": SubnetCreate, "subnet-update": SubnetUpdate,
            "subnet-delete": SubnetDelete}
