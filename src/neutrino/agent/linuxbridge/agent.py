"""The Linux bridge agent: a reconcile loop over the host's taps.

Every `polling_interval` it lists the host's links; a tap it has not seen is looked up on
the server (`get_device_details`), and the links the known taps need are planned and
applied. A tap in place is reported up, a tap that vanished down. A full sync refreshes
every tap's details in one call: at start, after the server or broker came back, and every
`full_sync_interval`.

With security groups on (`security_groups`), a tap is plugged only once its filter is in
place (`SecurityGroupSync`); the server's casts only mark its work.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from neutrino.agent import metrics
from neutrino.agent.clock import SYSTEM_CLOCK, Clock
from neutrino.agent.linuxbridge.executor import apply_plan
from neutrino.agent.linuxbridge.firewall_plan import trusted
from neutrino.agent.linuxbridge.links import HostLinks
from neutrino.agent.linuxbridge.plan import TAP_PREFIX, has_port, plan_links
from neutrino.agent.linuxbridge.security_groups import SecurityGroupSync
from neutrino.agent.report import ReportClient, StateReporter
from neutrino.conf.settings import LinuxBridgeSettings
from neutrino.lib import constants

LOG = logging.getLogger(__name__)

# A tap without a port may get one soon (the port is created or bound after the tap).
_UNKNOWN_TAP_RETRY = 5.0


class L2Plugin(Protocol):
    def get_device_details(self, device: str) -> dict[str, Any]: ...
    def update_device_up(self, device: str) -> None: ...
    def update_device_down(self, device: str) -> None: ...
    def get_ports_on_host(self) -> list[dict[str, Any]]: ...


def agent_state(settings: LinuxBridgeSettings) -> dict[str, Any]:
    return {"binary": constants.BINARY_LINUXBRIDGE, "topic": constants.TOPIC_LINUXBRIDGE,
            "agent_type": constants.AGENT_TYPE_LINUXBRIDGE}


class LinuxBridgeAgent:
    def __init__(self, settings: LinuxBridgeSettings, host_links: HostLinks,
                 plugin_client: L2Plugin, report_client: ReportClient,
                 full_sync_interval: float = 60.0, clock: Clock = SYSTEM_CLOCK,
                 security_groups: SecurityGroupSync | None = None) -> None:
        self._settings = settings
        self._sg = security_groups
        self._filtered: set[str] = set()  # taps whose filter was in place after the last sync
        self._sg_error: str | None = None
        self._clock = clock
        self._host = host_links
        self._plugin = plugin_client
        self._full_sync_interval = full_sync_interval
        self._details: dict[str, dict[str, Any]] = {}  # present taps -> device details
        self._asked_at: dict[str, float] = {}  # taps without a port -> when last asked
        self._up: dict[str, str] = {}  # taps reported up -> their bridge
        self._pending_down: set[str] = set()
        self._changed: set[str] = set()  # taps whose port changed: report them again
        self._ask_failing: set[str] = set()
        self._warned: dict[str, str] = {}  # tap or link -> the last problem logged
        self._resync = threading.Event()
        self._stop = threading.Event()
        # Set by stop() and by the casts: a rule change need not wait out polling_interval.
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._reporter = StateReporter(
            report_client, agent_state(settings), self.configurations,
            settings.agent.report_interval, on_resync=self.request_resync,
            log_heartbeats=settings.agent.log_agent_heartbeats, clock=clock,
            health_file=settings.agent.health_file)

    def configurations(self) -> dict[str, Any]:
        # firewall_driver: the server binds this host's ports with port_filter from it.
        return {"interface_mappings": dict(self._settings.interface_mappings),
                "bridge_mappings": {}, "devices": len(self._up),
                "firewall_driver": self._settings.firewall_driver}

    def metrics_collector(self) -> metrics.StateCollector:
        """This agent's state gauges, read when scraped."""
        return metrics.StateCollector({
            "neutrino_linuxbridge_agent_devices": (
                "Taps plugged into their network's bridge and reported up.",
                lambda: float(len(self._up))),
            "neutrino_linuxbridge_agent_devices_pending": (
                "Taps waiting for their port's details or for a down report.",
                lambda: float(len(self._asked_at) + len(self._pending_down))),
        })

    def request_resync(self) -> None:
        """Re-read every tap's port and report every plugged tap again."""
        self._resync.set()

    # -- one pass -------------------------------------------------------------------

    def reconcile_once(self, full: bool = False, resync: bool = False) -> None:
        links = self._host.links()
        taps = {name for name in links if name.startswith(TAP_PREFIX)}
        self._forget_vanished(taps)
        if resync:
            self._changed |= set(self._up)  # the server may have lost what we told it
        if full:
            self._refresh_all(taps, sweep_down=resync)
        else:
            self._look_up_new(taps)
        self._report_down_pending()
        devices = self._with_filters(
            {tap: d for tap, d in self._details.items() if tap in taps}, full)
        plan = plan_links(devices, self._settings.interface_mappings, links)
        failing: dict[str, str] = {}
        plugged = apply_plan(plan, self._host, lambda t, m: failing.__setitem__(t, m))
        self._log_problems(failing, plan.unpluggable)
        self._report(plugged)

    def _with_filters(self, devices: dict[str, dict[str, Any]],
                      full: bool) -> dict[str, dict[str, Any]]:
        """The devices that may be plugged: with security groups, those filtered."""
        if self._sg is None:
            return devices
        # The network's own ports (DHCP) are trusted, never filtered: not even asked about.
        ports = {tap: d["port_id"] for tap, d in devices.items()
                 if has_port(d) and not trusted(d)}
        try:
            self._filtered = self._sg.sync(ports, full=full)
            if self._sg_error is not None:
                LOG.info("Security group filters updated again")
            self._sg_error = None
        except Exception as exc:  # noqa: BLE001 - retried next pass; the rest goes on
            # The same failure every second is logged once.
            log = LOG.debug if repr(exc) == self._sg_error else LOG.warning
            log("Could not update the security group filters: %r", exc)
            self._sg_error = repr(exc)
            # The rules installed before stay; a new tap waits for its own.
            self._filtered &= set(ports)
        return {tap: d for tap, d in devices.items()
                if tap in self._filtered or tap not in ports}

    # -- casts (only mark work) ------------------------------------------------------

    def security_groups_rule_updated(self, security_groups: list[str]) -> None:
        if self._sg is not None:
            self._sg.rule_updated(security_groups)
            self._wake.set()

    def security_groups_member_updated(self, security_groups: list[str]) -> None:
        if self._sg is not None:
            self._sg.member_updated(security_groups)
            self._wake.set()

    def port_update(self, port: dict[str, Any]) -> None:
        if self._sg is not None and port.get("id"):
            self._sg.port_updated(str(port["id"]))
            self._wake.set()

    def _forget_vanished(self, taps: set[str]) -> None:
        for tap in set(self._details) - taps:
            if has_port(self._details.pop(tap)):
                self._pending_down.add(tap)
            self._asked_at.pop(tap, None)
            self._up.pop(tap, None)
            self._changed.discard(tap)
            self._ask_failing.discard(tap)
        self._pending_down -= taps

    def _refresh_all(self, taps: set[str], sweep_down: bool) -> None:
        ports = {d["device"]: d for d in self._plugin.get_ports_on_host()}
        for tap in taps:
            if tap in ports:
                self._store(tap, ports[tap])
            else:
                self._ask(tap)
        if sweep_down:
            # Taps that vanished while nobody watched: their ports are still up.
            self._pending_down |= set(ports) - taps

    def _look_up_new(self, taps: set[str]) -> None:
        now = self._clock.monotonic()
        for tap in sorted(taps):
            if tap not in self._details:
                self._ask(tap)
            elif tap in self._asked_at and now - self._asked_at[tap] >= _UNKNOWN_TAP_RETRY:
                self._ask(tap)

    def _ask(self, tap: str) -> None:
        try:
            details = self._plugin.get_device_details(tap)
        except Exception as exc:  # noqa: BLE001 - retried on the next pass
            log = LOG.debug if tap in self._ask_failing else LOG.warning
            log("Could not get the details of %s: %s", tap, exc)
            metrics.failed(metrics.LINUXBRIDGE, "device_details")
            self._ask_failing.add(tap)
            return
        self._ask_failing.discard(tap)
        self._store(tap, details)

    def _store(self, tap: str, details: dict[str, Any]) -> None:
        if has_port(details):
            self._asked_at.pop(tap, None)
        else:
            self._asked_at[tap] = self._clock.monotonic()
        if self._details.get(tap) != details:
            self._details[tap] = details
            self._changed.add(tap)

    def _report_down_pending(self) -> None:
        for tap in sorted(self._pending_down):
            try:
                self._plugin.update_device_down(tap)
            except Exception as exc:  # noqa: BLE001
                LOG.warning("Could not report %s down: %s", tap, exc)
                metrics.failed(metrics.LINUXBRIDGE, "device_report")
                continue
            self._pending_down.discard(tap)

    def _log_problems(self, failing: dict[str, str], unpluggable: Mapping[str, str]) -> None:
        # A problem that lasts is logged once, not on every pass.
        problems = dict(failing)
        problems.update({tap: f"Cannot plug {tap}: {why}" for tap, why in unpluggable.items()})
        for name, message in problems.items():
            if self._warned.get(name) != message:
                LOG.warning("%s", message)
            else:
                LOG.debug("%s", message)
        for name in set(self._warned) - set(problems):
            LOG.info("%s: fixed", name)
        self._warned = problems

    def _report(self, plugged: dict[str, str]) -> None:
        for tap in sorted(set(self._up) - set(plugged)):
            try:
                self._plugin.update_device_down(tap)
            except Exception as exc:  # noqa: BLE001
                LOG.warning("Could not report %s down: %s", tap, exc)
                metrics.failed(metrics.LINUXBRIDGE, "device_report")
                continue
            del self._up[tap]
        self._changed -= set(self._details) - set(plugged)
        for tap, bridge in sorted(plugged.items()):
            if self._up.get(tap) == bridge and tap not in self._changed:
                continue
            try:
                self._plugin.update_device_up(tap)
            except Exception as exc:  # noqa: BLE001
                LOG.warning("Could not report %s up: %s", tap, exc)
                metrics.failed(metrics.LINUXBRIDGE, "device_report")
                continue
            LOG.info("%s plugged into %s", tap, bridge)
            self._up[tap] = bridge
            self._changed.discard(tap)

    # -- the loop -------------------------------------------------------------------

    def run(self) -> None:
        """Reconcile every `polling_interval` until `stop()`, in this thread (`start` runs it
        in one)."""
        next_full = 0.0
        last_error: str | None = None
        while not self._stop.is_set():
            self._wake.clear()  # work marked from here on gets this pass or the next
            resync = self._resync.is_set()
            self._resync.clear()
            full = resync or self._clock.monotonic() >= next_full
            try:
                with metrics.Pass(metrics.LINUXBRIDGE) as reconcile_pass:
                    self.reconcile_once(full=full, resync=resync)
                    reconcile_pass.ok()
                if full:
                    metrics.full_sync_done(metrics.LINUXBRIDGE)
                    next_full = self._clock.monotonic() + self._full_sync_interval
                if last_error is not None:
                    LOG.info("Reconciling again")
                last_error = None
            except Exception as exc:  # noqa: BLE001 - the loop must outlive any failure
                # The same failure every second is logged in full once.
                if repr(exc) != last_error:
                    LOG.exception("Reconcile failed; retrying")
                else:
                    LOG.debug("Reconcile still failing: %r", exc)
                last_error = repr(exc)
                metrics.failed(metrics.LINUXBRIDGE, "reconcile")
                if resync:
                    self._resync.set()
            self._clock.wait(self._wake, self._settings.polling_interval)

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._resync.set()
        self._reporter.start()
        self._thread = threading.Thread(target=self.run, name="linuxbridge-agent",
                                        daemon=True)
        self._thread.start()
        LOG.info("Linux bridge agent on %s started, mappings %s", self._settings.agent.host,
                 self._settings.interface_mappings)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._reporter.stop()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

