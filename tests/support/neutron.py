"""Neutron 29 from PyPI for the Neutron interop test: its server and its DHCP agent.

    with Neutron(workdir) as neutron:
        neutron.start_server()                 # API + RPC workers, ML2, own database and vhost
        neutron.api("POST", "/networks", {"network": {...}})
        neutron.rabbit.url                     # the vhost its RPC listens on, for agents
        neutron.start_dhcp_agent("hostA", transport_url, state_path)

The services come from the virtual environment `tools/interop/install-openstack.sh neutron`
makes (NEUTRINO_INTEROP_NEUTRON_VENV, default /var/lib/neutrino-interop/neutron-venv).
Neutron 29 has no `neutron-server` command: its API (`neutron.wsgi.api`) is served by
`tools/interop/wsgi_serve.py` and its RPC by `neutron-rpc-server`, as a uwsgi deployment
splits them. On leaving the `with`, besides the processes, database and vhost, the DHCP
agents' dnsmasq (daemons outside the agent's process group) and `qdhcp-*` namespaces go too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from support import netns as tn
from support.openstack import CloudError, VenvServices, db_url, http
from support.server import Options, free_port, merge, render_config

NEUTRON_VENV = Path(os.environ.get("NEUTRINO_INTEROP_NEUTRON_VENV",
                                   "/var/lib/neutrino-interop/neutron-venv"))


class Neutron(VenvServices):
    def __init__(self, workdir: Path, *, venv: Path = NEUTRON_VENV,
                 start_timeout: float = 120.0) -> None:
        super().__init__(workdir, venv, databases=("neutron",),
                         vhost_prefix="neutron-interop", start_timeout=start_timeout)
        self.agent_states: list[Path] = []

    def start(self) -> None:
        self.require_installed()
        self.workdir.mkdir(parents=True, exist_ok=True)

    # -- the server ---------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.url("neutron-api") + "/v2.0"

    def api(self, method: str, path: str, body: object = None) -> tuple[int, object]:
        # noauth: Neutron makes every caller admin and wants project_id in create bodies.
        status, _, parsed = http(method, self.api_url + path, body)
        return status, parsed

    def start_server(self, options: Options | None = None) -> None:
        """neutron-server with ML2: VLAN tenant networks on physnet1, no authentication."""
        self.ports["neutron-api"] = free_port()
        self._create_backends()
        etc = self._dir("server")
        conf = etc / "neutron.conf"
        conf.write_text(render_config(merge({
            "DEFAULT": {"debug": "true", "host": "neutronserver", "core_plugin": "ml2",
                        "service_plugins": "", "auth_strategy": "noauth",
                        "transport_url": self.rabbit.url,
                        "state_path": str(self._dir("server", "state")),
                        "api_paste_config": str(self.venv / "etc" / "neutron" /
                                                "api-paste.ini"),
                        "rpc_workers": 1, "rpc_state_report_workers": 1,
                        "agent_down_time": 30, "dhcp_agents_per_network": 1,
                        "graceful_shutdown_timeout": 2,
                        "notify_nova_on_port_status_changes": "false",
                        "notify_nova_on_port_data_changes": "false"},
            "database": {"connection": db_url(self.databases["neutron"])},
            # ML2's agent-based mechanism drivers (Neutron 29 has no other without OVN)
            # offer a network to a DHCP agent only on a host whose Neutron L2 agent reaches
            # its segment; hosts with only Neutrino's agents are offered none: the network is
            # added to their DHCP agent by hand (or auto-scheduled when that agent resyncs).
            # Port binding fails for want of an Open vSwitch agent; DHCP does not need it.
            "ml2": {"type_drivers": "flat,vlan", "tenant_network_types": "vlan",
                    "mechanism_drivers": "openvswitch", "extension_drivers": ""},
            "ml2_type_vlan": {"network_vlan_ranges": "physnet1:1000:1999"},
            "oslo_concurrency": {"lock_path": str(self._dir("server", "locks"))},
        }, options)))
        self._step("db-sync", lambda: self.manage(
            "neutron-db-manage", "--config-file", str(conf), "upgrade", "heads"))
        self._serve("neutron-api", "neutron.wsgi.api",
                    {"OS_NEUTRON_CONFIG_DIR": str(etc), "OS_NEUTRON_CONFIG_FILES": conf.name})
        self._spawn("neutron-rpc-server", [str(self.venv / "bin" / "neutron-rpc-server"),
                                           "--config-file", str(conf)])
        self._step("api", lambda: self._wait_http("neutron-api", self.api_url + "/networks"))

    # -- agents -------------------------------------------------------------------------------

    def start_dhcp_agent(self, host: str, transport_url: str,
                         options: Options | None = None) -> Path:
        """neutron-dhcp-agent for `host` in the root namespace (its `qdhcp-<network>`
        namespaces in /run/netns), with the `null` interface driver: Neutron 29's only other
        one is `openvswitch`, and this machine has no Open vSwitch. Whoever runs it plugs the
        DHCP port's device `tap<port id[:11]>` into the namespace, as with any `null` set-up;
        the agent retries every second until it is there. Returns its state_path (dnsmasq's
        files in dhcp/<network>/); its log is log_path(f"neutron-dhcp-agent-{host}")."""
        # Outside pytest's private tmp: dnsmasq rereads its files after dropping root.
        state_path = Path(tempfile.mkdtemp(prefix="ntnq-"))
        os.chmod(state_path, 0o755)
        self.agent_states.append(state_path)
        conf = self._dir(f"dhcp-{host}") / "dhcp_agent.ini"
        conf.write_text(render_config(merge({
            "DEFAULT": {"debug": "true", "host": host, "transport_url": transport_url,
                        "state_path": str(state_path), "interface_driver": "null",
                        "resync_interval": 1, "enable_isolated_metadata": "false"},
            # Root already, and no sudo here: `env` is a root helper that changes nothing
            # (an empty one means sudo to oslo.privsep).
            "AGENT": {"report_interval": 1, "root_helper": "env"},
            "oslo_concurrency": {"lock_path": str(self._dir(f"dhcp-{host}", "locks"))},
        }, options)))
        self._spawn(f"neutron-dhcp-agent-{host}", [
            str(self.venv / "bin" / "neutron-dhcp-agent"), "--config-file", str(conf)])
        return state_path

    def stop(self) -> None:
        errors: list[str] = []
        try:
            super().stop()
        except CloudError as exc:
            errors.append(str(exc))
        for state in self.agent_states:
            dhcp = state / "dhcp"
            for network in os.listdir(dhcp) if dhcp.is_dir() else []:
                tn.kill_pid_file(str(dhcp / network / "pid"), "dnsmasq")
                tn.ip("netns", "del", f"qdhcp-{network}", check=False)
            shutil.rmtree(state, ignore_errors=True)
        self.agent_states = []
        if errors:
            raise CloudError("; ".join(errors))


def api_ok(result: tuple[int, object], *codes: int) -> dict:
    status, body = result
    if status not in (codes or (200, 201, 204)):
        raise CloudError(f"HTTP {status}: {body}")
    return body if isinstance(body, dict) else {}

