"""agent-list, agent-show, agent-update, agent-delete."""

from __future__ import annotations

import argparse
from typing import Any

from neutrino.cli import parsing
from neutrino.cli.columns import AliveColumn, PrettyJsonColumn
from neutrino.cli.commands.base import (
    DeleteCommand,
    ListCommand,
    ShowCommand,
    UpdateCommand,
    set_if,
)


class AgentMixin:
    resource = "agent"
    collection = "agents"
    allow_names = False


def alive_cell(value: Any, row: dict[str, Any]) -> AliveColumn:
    return AliveColumn(value)


class AgentList(AgentMixin, ListCommand):
    """List the agents that registered with the server."""

    list_columns = ("id", "agent_type", "host", "alive", "admin_state_up")
    extra_columns = ("availability_zone", "binary")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("--agent-type", help="Only agents of this type, e.g. 'DHCP agent'")
        parser.add_argument("--host", help="Only agents on this host")
        return parser

    def filters(self, parsed_args: argparse.Namespace) -> list[tuple[str, str]]:
        params = []
        if parsed_args.agent_type:
            params.append(("agent_type", parsed_args.agent_type))
        if parsed_args.host:
            params.append(("host", parsed_args.host))
        return params

    def formatters(self, rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
        return {"alive": alive_cell}


class AgentShow(AgentMixin, ShowCommand):
    """Show an agent's details."""

    formatters = {"configurations": PrettyJsonColumn}


class AgentUpdate(AgentMixin, UpdateCommand):
    """Enable or disable an agent, or change its description."""

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        state = parser.add_mutually_exclusive_group()
        state.add_argument("--admin-state-up", type=parsing.boolean, metavar="{True,False}",
                           help="Whether the scheduler may give the agent work")
        state.add_argument("--admin-state-down", dest="admin_state_up",
                           action="store_false", help="Same as --admin-state-up False")
        parser.add_argument("--description", help="Description of the agent")
        return parser

    def build_body(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        body: dict[str, Any] = {}
        set_if(body, "admin_state_up", parsed_args.admin_state_up)
        set_if(body, "description", parsed_args.description)
        return body


class AgentDelete(AgentMixin, DeleteCommand):
    """Delete agents (they register again at their next report)."""


COMMANDS = {"agent-list": AgentList, "agent-show": AgentShow, "agent-update": AgentUpdate,
            "agent-delete": AgentDelete}
