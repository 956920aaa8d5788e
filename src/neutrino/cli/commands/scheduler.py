"""The DHCP agent scheduler commands: which agents host which networks."""

from __future__ import annotations

import argparse
from typing import Any

from cliff.command import Command

from neutrino.cli.commands.agents import alive_cell
from neutrino.cli.commands.base import ClientMixin, ListCommand
from neutrino.cli.commands.networks import subnets_formatter


class DhcpAgentListHostingNet(ListCommand):
    """List the DHCP agents hosting a network."""

    resource = "agent"
    collection = "agents"
    list_columns = ("id", "host", "admin_state_up", "alive")
    extra_columns = ("agent_type", "availability_zone", "binary")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("NETWORK", help="ID or name of the network")
        return parser

    def fetch(self, parsed_args: argparse.Namespace) -> list[dict[str, Any]]:
        network_id = self.client.find_id("network", "networks", parsed_args.NETWORK)
        return self.client.dhcp_agents_hosting_network(network_id)

    def formatters(self, rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
        return {"alive": alive_cell}


class NetListOnDhcpAgent(ListCommand):
    """List the networks a DHCP agent hosts."""

    resource = "network"
    collection = "networks"
    list_columns = ("id", "name", "subnets")

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("DHCP_AGENT", help="ID of the DHCP agent")
        return parser

    def fetch(self, parsed_args: argparse.Namespace) -> list[dict[str, Any]]:
        return self.client.networks_on_dhcp_agent(parsed_args.DHCP_AGENT)

    def formatters(self, rows: list[dict[str, Any]], columns: list[str]) -> dict[str, Any]:
        return subnets_formatter(self.client, rows, columns)


class _AgentNetworkCommand(ClientMixin, Command):
    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        parser.add_argument("DHCP_AGENT", help="ID of the DHCP agent")
        parser.add_argument("NETWORK", help="ID or name of the network")
        return parser


class DhcpAgentNetworkAdd(_AgentNetworkCommand):
    """Add a network to a DHCP agent."""

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        network_id = self.client.find_id("network", "networks", parsed_args.NETWORK)
        self.client.add_network_to_dhcp_agent(parsed_args.DHCP_AGENT, network_id)
        self.app.stdout.write(f"Added network {parsed_args.NETWORK} to dhcp agent\n")
        return 0


class DhcpAgentNetworkRemove(_AgentNetworkCommand):
    """Remove a network from a DHCP agent."""

    def take_action(self, parsed_args: argparse.Namespace) -> int:
        network_id = self.client.find_id("network", "networks", parsed_args.NETWORK)
        self.client.remove_network_from_dhcp_agent(parsed_args.DHCP_AGENT, network_id)
        # The walk-through's (and the old client's) exact words.
        self.app.stdout.write(f"Removed network {parsed_args.NETWORK} to dhcp agent\n")
        return 0


COMMANDS = {"dhcp-agent-list-hosting-net": DhcpAgentListHostingNet,
            "net-list-on-dhcp-agent": NetListOnDhcpAgent,
            "dhcp-agent-network-add": DhcpAgentNetworkAdd,
            "dhcp-agent-network-remove": DhcpAgentNetworkRemove}
