"""The DHCP agent: a reconciler driven by casts, full syncs and retries.

Casts only mark networks dirty; `num_sync_threads` workers reconcile dirty networks through
`Reconciler.reconcile`, the one code path that touches the host. A full sync (at start, when
the heartbeat says the server's view changed, after RPC errors, and every
`resync_interval * 60` s) re-reads every hosted network and offers the info to the queue.
Every `revision_check_interval` s the agent compares the server's DHCP revision of each
network it serves with the one it last read and fetches only those that differ: a cast lost
to a dying server or broker connection is caught in seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from neutrino.agent import metrics
from neutrino.agent.clock import SYSTEM_CLOCK, Clock
from neutrino.agent.dhcp import plan as planning
from neutrino.agent.dhcp.executor import DhcpHost, LinuxDhcpHost
from neutrino.agent.dhcp.metadata import MetadataProxy
from neutrino.agent.dhcp.reconciler import DhcpPlugin, Reconciler, Served
from neutrino.agent.dhcp.workqueue import FETCH, Work, WorkQueue
from neutrino.agent.report import ReportClient, StateReporter
from neutrino.conf.settings import DhcpAgentSettings
from neutrino.lib import constants, payloads
from neutrino.linux import files
from neutrino.linux.host import HostNamespaces

LOG = logging.getLogger(__name__)

READY_BATCH = 64  # port ids per dhcp_ready_on_ports call
READY_INTERVAL = 0.2
MAX_BACKOFF = 60.0


def backoff(resync_interval: float, attempts: int) -> float:
    """Delay before retrying a network that failed `attempts` times in a row (>= 1)."""
    return min(resync_interval * (1 << max(attempts - 1, 0)),
               max(MAX_BACKOFF, float(resync_interval)))


class DhcpAgent:
    def __init__(self, settings: DhcpAgentSettings, host_namespaces: HostNamespaces,
                 plugin_client: DhcpPlugin, report_client: ReportClient | None,
                 dhcp_host: DhcpHost | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        self._clock = clock
        self._plugin = plugin_client
        self._report_client = report_client
        metadata = settings.metadata
        self._metadata = MetadataProxy(metadata) if metadata.enabled else None
        self._dhcp_host = dhcp_host or LinuxDhcpHost(host_namespaces, settings.confs_dir,
                                                     metadata=self._metadata)
        self._params = planning.PlanParams(
            host=settings.agent.host, confs_dir=settings.confs_dir, domain=settings.domain,
            lease_duration=settings.lease_duration, dns_servers=settings.dns_servers,
            local_resolv=settings.local_resolv, renewal_time=settings.renewal_time,
            rebinding_time=settings.rebinding_time,
            broadcast_reply=settings.broadcast_reply,
            config_file=settings.dnsmasq_config_file,
            lease_max=settings.lease_max, enable_ra=settings.enable_ra,
            isolated_metadata=metadata.enable_isolated_metadata,
            force_metadata=metadata.force_metadata,
            metadata_network=metadata.enable_metadata_network)
        self._reconciler = Reconciler(plugin_client, self._dhcp_host, self._params)
        self._queue = WorkQueue(self._clock.monotonic)
        self._lock = threading.Lock()
        self._served: dict[str, Served] = {}
        self._reported: dict[str, dict[str, str]] = {}  # network -> port -> fingerprint
        # network -> the newest DHCP revision read from the server (see check_revisions)
        self._revisions: dict[str, int] = {}
        self._revisions_failing = False
        self._ready: set[str] = set()
        self._stop = threading.Event()
        self._sync_now = threading.Event()
        self._syncing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reporter: StateReporter | None = None
        self.full_syncs = 0  # completed full syncs (for tests and logs)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        """Register and start serving; the first full sync runs in the background."""
        self._stop.clear()
        if self._metadata is not None:
            self._metadata.start()
        blocked = files.blocking_ancestor(self._settings.confs_dir)
        if blocked:
            LOG.error("dhcp_confs %s: other users cannot enter %s, so dnsmasq (running as "
                      "nobody) cannot re-read its files and port changes will not reach "
                      "it; chmod o+x %s", self._settings.confs_dir, blocked, blocked)
        if self._report_client is not None:
            self._reporter = StateReporter(
                self._report_client, self._agent_state(), self.configurations,
                self._settings.agent.report_interval, on_resync=self.request_full_sync,
                log_heartbeats=self._settings.agent.log_agent_heartbeats, clock=self._clock,
                health_file=self._settings.agent.health_file)
            # One report first, so the server knows this agent before the sync asks it to
            # schedule networks here.
            self._reporter.report_once()
        self._sync_now.set()
        self._spawn("dhcp-sync", self._sync_loop)
        for i in range(self._settings.num_sync_threads):
            self._spawn(f"dhcp-worker-{i}", self._worker_loop)
        self._spawn("dhcp-ready", self._ready_loop)
        self._spawn("dhcp-monitor", self._monitor_loop)
        if self._settings.revision_check_interval > 0:
            self._spawn("dhcp-revisions", self._revision_loop)
        if self._reporter is not None:
            self._reporter.start()

    def stop(self) -> None:
        """Stop working; dnsmasq keeps serving (a restarted agent adopts it)."""
        self._stop.set()
        self._sync_now.set()
        self._queue.close()
        if self._reporter is not None:
            self._reporter.stop()
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads = []
        if self._metadata is not None:
            self._metadata.stop()
        self._queue = WorkQueue(self._clock.monotonic)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # -- what the server hears -----------------------------------------------------------

    def _agent_state(self) -> dict[str, Any]:
        return {
            "binary": constants.BINARY_DHCP,
            "host": self._settings.agent.host,
            "topic": constants.TOPIC_DHCP_AGENT,
            "agent_type": constants.AGENT_TYPE_DHCP,
            "availability_zone": self._settings.agent.availability_zone,
        }

    def configurations(self) -> dict[str, Any]:
        with self._lock:
            served = list(self._served.values())
        return {
            "networks": len(served),
            "subnets": sum(s.subnets for s in served),
            "ports": sum(len(s.ports) for s in served),
            "dhcp_driver": self._settings.dhcp_driver,
            "dhcp_lease_time": self._settings.lease_duration,
            "dhcp_lease_duration": self._settings.lease_duration,
            "use_namespaces": True,
            "log_agent_heartbeats": self._settings.agent.log_agent_heartbeats,
        }

    def metrics_collector(self) -> metrics.StateCollector:
        """This agent's state gauges, read when scraped."""
        return metrics.StateCollector({
            "neutrino_dhcp_agent_dnsmasq_processes": (
                "dnsmasq processes this agent runs (one per served network).",
                lambda: float(sum(1 for s in self.served().values() if s.pid))),
            "neutrino_dhcp_agent_work_queue_depth": (
                "Networks waiting for a reconcile or in one.",
                lambda: float(len(self._queue.pending()))),
            "neutrino_dhcp_agent_metadata_listeners": (
                "Namespaces the agent's metadata proxy listens in.",
                lambda: float(len(self._metadata.listening()) if self._metadata else 0)),
        })

    @property
    def metadata_proxy(self) -> MetadataProxy | None:
        return self._metadata

    def served(self) -> dict[str, Served]:
        with self._lock:
            return dict(self._served)

    def idle(self) -> bool:
        """No sync requested and no network waiting (for tests and orderly shutdown)."""
        return (not self._sync_now.is_set() and not self._syncing.is_set()
                and self._queue.idle())

    # -- casts: each only marks work -----------------------------------------------------

    def network_create_end(self, payload: payloads.NetworkCreateEnd) -> None:
        self._queue.mark(payload["network"]["id"])

    def network_update_end(self, payload: payloads.NetworkUpdateEnd) -> None:
        self._queue.mark(payload["network"]["id"])

    def network_delete_end(self, payload: payloads.NetworkDeleteEnd) -> None:
        # Also cast when the network is only removed from this agent: not hosted here now.
        self._queue.mark(payload["network_id"], None)

    def subnet_create_end(self, payload: payloads.SubnetEnd) -> None:
        self._queue.mark(payload["subnet"]["network_id"])

    def subnet_update_end(self, payload: payloads.SubnetEnd) -> None:
        self._queue.mark(payload["subnet"]["network_id"])

    def subnet_delete_end(self, payload: payloads.SubnetDeleteEnd) -> None:
        self._queue.mark(payload["network_id"])

    # A port cast carries the port: it updates the desired state without an RPC, and the
    # reconcile applies it like any other.
    def port_create_end(self, payload: payloads.PortEnd) -> None:
        port = payload["port"]
        self._queue.mark_with(port["network_id"], lambda info: planning.with_port(info, port))

    def port_update_end(self, payload: payloads.PortEnd) -> None:
        self.port_create_end(payload)

    def port_delete_end(self, payload: payloads.PortDeleteEnd) -> None:
        port_id = payload["port_id"]
        self._queue.mark_with(payload["network_id"],
                              lambda info: planning.without_port(info, port_id))

    def agent_updated(self, payload: payloads.AgentUpdated) -> None:
        self.request_full_sync()

    def request_full_sync(self) -> None:
        self._sync_now.set()

    # -- loops ---------------------------------------------------------------------------

    def _sync_loop(self) -> None:
        period = self._settings.resync_interval * 60
        while not self._stop.is_set():
            self._clock.wait(self._sync_now, period)
            if self._stop.is_set():
                return
            self._syncing.set()
            self._sync_now.clear()
            try:
                synced = self._full_sync()
            except Exception:  # noqa: BLE001 - this thread must outlive any one bad sync
                LOG.exception("Full sync failed unexpectedly, retrying in %ss",
                              self._settings.resync_interval)
                synced = False
            finally:
                self._syncing.clear()
            if not synced:
                self._clock.wait(self._stop, self._settings.resync_interval)
                self._sync_now.set()

    def _full_sync(self) -> bool:
        try:
            # Reading the host (netns and confs directories) can fail too, e.g. EACCES.
            known = self._dhcp_host.existing_networks() | set(self.served())
            epoch = self._queue.epoch()
            infos = self._plugin.get_active_networks_info()
        except Exception as exc:  # noqa: BLE001 - retried; the server may be restarting
            LOG.warning("Full sync failed, retrying in %ss: %s",
                        self._settings.resync_interval, exc)
            metrics.failed(metrics.DHCP, "full_sync")
            return False
        hosted = {info["id"]: info for info in infos}
        # Casts that arrived while the RPC ran win over what it returned (see `offer`).
        for network_id in known | set(hosted):
            self._queue.offer(network_id, hosted.get(network_id), epoch)
        self.full_syncs += 1
        metrics.full_sync_done(metrics.DHCP)
        LOG.info("Full sync: %d networks hosted, %d known on the host", len(hosted),
                 len(known))
        return True

    def _worker_loop(self) -> None:
        while not self._stop.is_set():
            work = self._queue.take(timeout=1.0)
            if work is None:
                continue
            info = work.info
            with metrics.Pass(metrics.DHCP) as reconcile_pass:
                if self._reconcile(work, info):
                    reconcile_pass.ok()

    def _reconcile(self, work: Work, info: object) -> bool:
        """One network's reconcile; False when it failed (and was queued again)."""
        try:
            if info is FETCH:
                try:
                    info = self._plugin.get_network_info(work.network_id)
                except Exception:
                    # The server's view may have moved on: catch up with a full sync.
                    self.request_full_sync()
                    raise
                if info is None:
                    # The server does not (or no longer) give this host the network: deleted,
                    # unscheduled, admin-down, or a server that read the request as coming
                    # from a project that cannot see it. Whatever we served stops; say so.
                    LOG.warning("Network %s: the server returned no network for this host; "
                                "not serving it", work.network_id)
            with self._lock:
                was_served = work.network_id in self._served
            served = self._reconciler.reconcile(work.network_id, info, was_served)  # type: ignore[arg-type]
        except Exception as exc:  # noqa: BLE001 - one network never stops the others
            delay = backoff(self._settings.resync_interval, work.attempts + 1)
            LOG.warning("Network %s: reconcile failed (retry in %.0fs): %s",
                        work.network_id, delay, exc, exc_info=LOG.isEnabledFor(10))
            metrics.failed(metrics.DHCP, "reconcile")
            self._queue.failed(work.network_id, FETCH, delay)
            return False
        self._record(work.network_id, served)
        if isinstance(info, dict) and isinstance(info.get("dhcp_revision"), int):
            self._read_revision(work.network_id, info["dhcp_revision"])
        self._queue.known(work.network_id, served.info if served else None)
        self._queue.done(work.network_id)
        return True

    def _record(self, network_id: str, served: Served | None) -> None:
        with self._lock:
            if served is None:
                self._served.pop(network_id, None)
                self._reported.pop(network_id, None)
                return
            self._served[network_id] = served
            reported = self._reported.setdefault(network_id, {})
            for port_id in planning.ready_port_ids(served.ports, reported):
                self._ready.add(port_id)
            reported.clear()
            reported.update(served.ports)

    def _ready_loop(self) -> None:
        while not self._clock.wait(self._stop, READY_INTERVAL):
            self.flush_ready()

    def flush_ready(self) -> None:
        with self._lock:
            batch = sorted(self._ready)[:READY_BATCH]
            self._ready.difference_update(batch)
        if not batch:
            return
        try:
            self._plugin.dhcp_ready_on_ports(batch)
        except Exception as exc:  # noqa: BLE001 - retried with the next flush
            LOG.warning("dhcp_ready_on_ports failed, will retry: %s", exc)
            metrics.failed(metrics.DHCP, "ready_report")
            with self._lock:
                self._ready.update(batch)
            self._clock.wait(self._stop, self._settings.resync_interval)

    def _read_revision(self, network_id: str, revision: int) -> None:
        with self._lock:
            self._revisions[network_id] = max(revision, self._revisions.get(network_id, -1))

    def _revision_loop(self) -> None:
        while not self._clock.wait(self._stop, self._settings.revision_check_interval):
            # A full sync reads everything anyway; the check starts after the first one.
            if self.full_syncs and not self._syncing.is_set() and not self._sync_now.is_set():
                self.check_revisions()

    def check_revisions(self) -> list[str]:
        """Queue a fetch of every network whose server revision differs from the one read
        last (or that the server no longer gives this agent); the networks queued."""
        try:
            server = self._plugin.get_network_revisions()
        except Exception as exc:  # noqa: BLE001 - the next check tries again
            if not self._revisions_failing:
                LOG.warning("Could not read the networks' DHCP revisions (a server restarting, "
                            "or one without the call): %s", exc)
            self._revisions_failing = True
            metrics.failed(metrics.DHCP, "revision_check")
            return []
        self._revisions_failing = False
        with self._lock:
            changed, gone = planning.stale_networks(server, self._revisions,
                                                    set(self._served), self._queue.pending())
            # What a fetch queued now reads is at least this revision.
            for network_id in changed:
                self._revisions[network_id] = server[network_id]
            for network_id in gone:
                self._revisions.pop(network_id, None)
        if changed or gone:
            LOG.info("Networks changed without a cast reaching this agent: %s; no longer "
                     "given to it: %s; fetching them", changed, gone)
        for network_id in changed + gone:
            self._queue.mark(network_id)
        return changed + gone

    def _monitor_loop(self) -> None:
        """A dnsmasq that died (killed, crashed) is restarted by a reconcile."""
        while not self._clock.wait(self._stop, self._settings.resync_interval):
            for network_id, served in self.served().items():
                if self._dhcp_host.serving(network_id) != served.pid:
                    LOG.warning("Network %s: dnsmasq %s is gone", network_id, served.pid)
                    metrics.failed(metrics.DHCP, "dnsmasq_gone")
                    # Nothing changed on the server's side: restart from what we know.
                    self._queue.mark_with(network_id, lambda info: info)
