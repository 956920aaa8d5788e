"""port-list, port-show, port-create, port-update, port-delete."""

from __future__ import annotations

import argparse
from typing import Any

from neutrino.cli import parsing
from neutrino.cli.client import NetworkClient
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


class PortMixin:
    resource = "port"
    collection = "ports"


class PortList(PortMixin, ListCommand):
    """List ports."""

    list_columns = ("id", "name", "mac_address", "fixed_ips")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_name_filter(parser)
        add_network_filter(parser, "ports")
        parser.add_argument("--device-owner", help="Only ports with this device owner")
        return parser

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        params = [("name", n) for n in parsed_args.name]
        params += network_filter(self.client, parsed_args)
        if parsed_args.device_owner is not None:
            params.append(("device_owner", parsed_args.device_owner))
        return params


class PortShow(PortMixin, ShowCommand):
    """Show a port."""


def add_port_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fixed-ip", dest="fixed_ips", action="append",
                        type=parsing.fixed_ip, metavar="subnet_id=SUBNET,ip_address=IP_ADDR",
                        help="Address for the port; SUBNET may be a name (repeatable)")
    parser.add_argument("--mac-address", help="MAC address of the port")
    parser.add_argument("--device-id", help="Device using the port, e.g. a VM's id")
    parser.add_argument("--device-owner", help="Owner of the device, e.g. compute:nova")
    parser.add_argument("--binding:host_id", "--binding:host-id", dest="binding_host_id",
                        metavar="<host>", help="Host the port is bound to")
    parser.add_argument("--description", help="Description of the port")
    parser.add_argument("--security-group", dest="security_groups", action="append",
                        metavar="SECURITY_GROUP",
                        help="ID or name of a security group for the port (repeatable)")
    parser.add_argument("--no-security-groups", action="store_true",
                        help="The port in no security group")
    parser.add_argument("--allowed-address-pair", dest="allowed_address_pairs",
                        action="append", type=parsing.address_pair,
                        metavar="ip_address=IP_ADDR|CIDR[,mac_address=MAC_ADDR]",
                        help="Another address the port may send from (repeatable)")
    parser.add_argument("--no-allowed-address-pairs", action="store_true",
                        help="The port with no allowed address pairs")
    parser.add_argument("--port-security-enabled", type=parsing.boolean,
                        metavar="{True,False}", help="Whether the port is filtered")


def port_common_attrs(client: NetworkClient, parsed_args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if parsed_args.fixed_ips is not None:
        body["fixed_ips"] = [resolve_fixed_ip(client, ip) for ip in parsed_args.fixed_ips]
    set_if(body, "mac_address", parsed_args.mac_address)
    set_if(body, "device_id", parsed_args.device_id)
    set_if(body, "device_owner", parsed_args.device_owner)
    set_if(body, "binding:host_id", parsed_args.binding_host_id)
    set_if(body, "description", parsed_args.description)
    if parsed_args.no_security_groups:
        body["security_groups"] = []
    elif parsed_args.security_groups is not None:
        body["security_groups"] = [client.find_id("security_group", "security-groups", g)
                                   for g in parsed_args.security_groups]
    if parsed_args.no_allowed_address_pairs:
        body["allowed_address_pairs"] = []
    else:
        set_if(body, "allowed_address_pairs", parsed_args.allowed_address_pairs)
    set_if(body, "port_security_enabled", parsed_args.port_security_enabled)
    return body


def resolve_fixed_ip(client: NetworkClient, fixed_ip: dict[str, str]) -> dict[str, str]:
    resolved = dict(fixed_ip)
    if "subnet_id" in resolved:
        resolved["subnet_id"] = client.find_id("subnet", "subnets", resolved["subnet_id"])
    return resolved


class PortCreate(PortMixin, CreateCommand):
    """Create a port on a network."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("NETWORK", help="ID or name of the network")
        parser.add_argument("--name", help="Name of the port")
        parser.add_argument("--admin-state-down", dest="admin_state_up",
                            action="store_false", default=None,
                            help="Create the port administratively down")
        parser.add_argument("--tenant-id", "--project-id", dest="project_id",
                            help="Owner project (admin only)")
        add_port_options(parser)
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body: dict[str, Any] = {"network_id": self.client.find_id("network", "networks",
                                                        parsed_args.NETWORK)}
        set_if(body, "name", parsed_args.name)
        set_if(body, "admin_state_up", parsed_args.admin_state_up)
        set_if(body, "tenant_id", parsed_args.project_id)
        body.update(port_common_attrs(self.client, parsed_args))
        return body


class PortUpdate(PortMixin, UpdateCommand):
    """Update a port."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="New name")
        parser.add_argument("--admin-state-up", type=parsing.boolean,
                            metavar="{True,False}", help="Administrative state")
        add_port_options(parser)
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body = port_common_attrs(self.client, parsed_args)
        set_if(body, "name", parsed_args.name)
        set_if(body, "admin_state_up", parsed_args.admin_state_up)
        return body


class PortDelete(PortMixin, DeleteCommand):
    """Delete ports."""


COMMANDS = {"port-list": PortList, "port-show": PortShow, "port-create": PortCreate,
            "port-update": PortUpdate, "port-delete": PortDelete}
