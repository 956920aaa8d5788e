"""Applying a link plan; one failed step spoils only the taps that depend on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from neutrino.agent.linuxbridge.links import HostLinks
from neutrino.agent.linuxbridge.plan import Plan

LOG = logging.getLogger(__name__)


FailureLog = Callable[[str, str], None]


def _log_failure(target: str, message: str) -> None:
    LOG.warning("%s", message)


def apply_plan(plan: Plan, host: HostLinks,
               on_failure: FailureLog = _log_failure) -> dict[str, str]:
    """Apply `plan`; returns tap -> bridge for the taps that are now plugged.

    `on_failure(link, message)` hears of each failed step (default: a warning).
    """
    failed: set[str] = set()

    def step(target: str, action: Callable[[], None], what: str) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - one broken link must not stop the rest
            on_failure(target, f"Could not {what}: {exc!r}")
            failed.add(target)

    for bridge in plan.bridges:
        step(bridge, partial(host.ensure_bridge, bridge), f"create bridge {bridge}")
    for vlan in plan.vlans:
        tag = vlan.vlan
        assert tag is not None, "plan_links lists only tagged uplinks as VLAN devices"
        step(vlan.device, partial(host.ensure_vlan, vlan.interface, tag, vlan.device),
             f"create VLAN device {vlan.device}")
    for device, bridge in plan.enslave:
        if bridge in failed:
            failed.add(device)
            continue
        step(device, partial(host.enslave, device, bridge),
             f"add {device} to {bridge}")
    for device in plan.set_up:
        step(device, partial(host.set_up, device), f"set {device} up")
    for name in plan.delete:
        step(name, partial(host.delete, name), f"delete {name}")

    return {tap: bridge for tap, bridge in plan.plugged.items()
            if tap not in failed and not failed.intersection(plan.needs.get(tap, ()))}
