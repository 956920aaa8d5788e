"""The `neutrino` commands, by the names the old neutron client gave them."""

from __future__ import annotations

from cliff.command import Command

from neutrino.cli.commands import (
    agents,
    extensions,
    networks,
    ports,
    quotas,
    scheduler,
    securitygroups,
    subnets,
)


def all_commands() -> dict[str, type[Command]]:
    commands: dict[str, type[Command]] = {}
    for module in (extensions, agents, networks, subnets, ports, scheduler, quotas,
                   securitygroups):
        commands.update(module.COMMANDS)
    return commands
