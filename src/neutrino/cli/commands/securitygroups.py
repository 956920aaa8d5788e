"""security-group-list/show/create/update/delete and security-group-rule-list/show/create/
delete."""

from __future__ import annotations

import argparse
from typing import Any

from neutrino.cli.commands.base import (
    CreateCommand,
    DeleteCommand,
    ListCommand,
    ShowCommand,
    UpdateCommand,
    add_name_filter,
    set_if,
)


class GroupMixin:
    resource = "security_group"
    collection = "security-groups"


class RuleMixin:
    resource = "security_group_rule"
    collection = "security-group-rules"
    allow_names = False  # rules have no names


class GroupList(GroupMixin, ListCommand):
    """List security groups."""

    list_columns = ("id", "name", "description")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        add_name_filter(parser)
        return parser

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        return [("name", n) for n in parsed_args.name]


class GroupShow(GroupMixin, ShowCommand):
    """Show a security group and its rules."""


class GroupCreate(GroupMixin, CreateCommand):
    """Create a security group (with rules letting all its traffic out)."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("NAME", help="Name of the security group")
        parser.add_argument("--description", help="Description of the security group")
        parser.add_argument("--stateless", dest="stateful", action="store_false",
                            default=None, help="Filter without connection tracking")
        parser.add_argument("--tenant-id", "--project-id", dest="project_id",
                            help="Owner project (admin only)")
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body: dict[str, Any] = {"name": parsed_args.NAME}
        set_if(body, "description", parsed_args.description)
        set_if(body, "stateful", parsed_args.stateful)
        set_if(body, "tenant_id", parsed_args.project_id)
        return body


class GroupUpdate(GroupMixin, UpdateCommand):
    """Update a security group."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--name", help="New name")
        parser.add_argument("--description", help="New description")
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body: dict[str, Any] = {}
        set_if(body, "name", parsed_args.name)
        set_if(body, "description", parsed_args.description)
        return body


class GroupDelete(GroupMixin, DeleteCommand):
    """Delete security groups."""


class RuleList(RuleMixin, ListCommand):
    """List security group rules."""

    list_columns = ("id", "security_group_id", "direction", "ethertype", "protocol",
                    "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--security-group", metavar="SECURITY_GROUP",
                            help="Only the rules of this group (ID or name)")
        return parser

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        if parsed_args.security_group is None:
            return []
        return [("security_group_id", self.client.find_id(
            "security_group", "security-groups", parsed_args.security_group))]


class RuleShow(RuleMixin, ShowCommand):
    """Show a security group rule."""


class RuleCreate(RuleMixin, CreateCommand):
    """Create a security group rule."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("SECURITY_GROUP", help="ID or name of the rule's group")
        parser.add_argument("--direction", choices=("ingress", "egress"), default="ingress",
                            help="Traffic into the port (ingress, the default) or out of it")
        parser.add_argument("--ethertype", help="IPv4 (the default) or IPv6")
        parser.add_argument("--protocol", help="Name (tcp, udp, icmp, ...) or number 0-255")
        parser.add_argument("--port-range-min", "--port_range_min", dest="port_range_min",
                            type=int, help="First port, or the ICMP type")
        parser.add_argument("--port-range-max", "--port_range_max", dest="port_range_max",
                            type=int, help="Last port, or the ICMP code")
        parser.add_argument("--remote-ip-prefix", "--remote_ip_prefix",
                            dest="remote_ip_prefix", help="CIDR the traffic is to or from")
        parser.add_argument("--remote-group-id", "--remote_group_id", dest="remote_group",
                            metavar="REMOTE_GROUP",
                            help="Group (ID or name) whose members the traffic is to or from")
        parser.add_argument("--description", help="Description of the rule")
        parser.add_argument("--tenant-id", "--project-id", dest="project_id",
                            help="Owner project (admin only)")
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        def group(ref: str) -> str:
            return self.client.find_id("security_group", "security-groups", ref)

        body: dict[str, Any] = {"security_group_id": group(parsed_args.SECURITY_GROUP),
                                "direction": parsed_args.direction}
        for key in ("ethertype", "protocol", "port_range_min", "port_range_max",
                    "remote_ip_prefix", "description"):
            set_if(body, key, getattr(parsed_args, key))
        if parsed_args.remote_group is not None:
            body["remote_group_id"] = group(parsed_args.remote_group)
        set_if(body, "tenant_id", parsed_args.project_id)
        return body


class RuleDelete(RuleMixin, DeleteCommand):
    """Delete security group rules."""


COMMANDS = {"security-group-list": GroupList, "security-group-show": GroupShow,
            "security-group-create": GroupCreate, "security-group-update": GroupUpdate,
            "security-group-delete": GroupDelete,
            "security-group-rule-list": RuleList, "security-group-rule-show": RuleShow,
            "security-group-rule-create": RuleCreate, "security-group-rule-delete": RuleDelete}
