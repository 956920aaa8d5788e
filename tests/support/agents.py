"""Real agent processes for tests, acting in a test namespace and stopped pass or fail."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from support import netns as tn
from support.server import Options, executable, merge, render_config

WALKTHROUGH = Path(__file__).resolve().parents[2] / "etc" / "walkthrough"


def start_linuxbridge_agent(workdir: Path, host: str, netns: str, transport_url: str,
                            resources: tn.NetnsResources,
                            options: Options | None = None) -> subprocess.Popen:
    """`neutrino-linuxbridge-agent` with the walk-through's files unchanged, then what places
    it in the test: its host name, the transport, and the namespace it acts in."""
    workdir.mkdir(parents=True)
    local = workdir / "local.conf"
    local.write_text(render_config(merge({
        "DEFAULT": {"host": host, "transport_url": transport_url, "host_netns": netns,
                    "netns_dir": str(workdir / "netns"), "state_path": str(workdir),
                    "debug": "true"},
        "AGENT": {"report_interval": 1},
    }, options)))
    return _start("neutrino-linuxbridge-agent",
                  [WALKTHROUGH / "neutron-hostA.conf", WALKTHROUGH / "linuxbridge_conf.ini",
                   local], workdir, resources)


def start_dhcp_agent(workdir: Path, host: str, netns: str, transport_url: str,
                     resources: tn.NetnsResources,
                     options: Options | None = None) -> subprocess.Popen:
    """`neutrino-dhcp-agent` with the walk-through's dhcp_agent.ini, acting in `netns`; its
    state (dnsmasq's files, `netns_dir`) under `workdir`, which dnsmasq must be able to read
    after dropping root. Its dnsmasq processes are killed on cleanup if still running."""
    workdir.mkdir(parents=True)
    os.chmod(workdir, 0o755)
    local = workdir / "local.conf"
    local.write_text(render_config(merge({
        "DEFAULT": {"host": host, "transport_url": transport_url, "host_netns": netns,
                    "netns_dir": str(workdir / "netns"), "state_path": str(workdir),
                    "resync_interval": 1, "debug": "true"},
        "AGENT": {"report_interval": 1},
    }, options)))

    def kill_dnsmasq() -> None:
        dhcp = workdir / "dhcp"
        for network in os.listdir(dhcp) if dhcp.is_dir() else []:
            tn.kill_pid_file(str(dhcp / network / "pid"), "dnsmasq")
        for name in os.listdir(workdir / "netns") if (workdir / "netns").is_dir() else []:
            tn.umount_and_remove(str(workdir / "netns" / name))

    resources.defer(kill_dnsmasq)  # after the agent's stop (undone in reverse)
    return _start("neutrino-dhcp-agent", [local, WALKTHROUGH / "dhcp_agent.ini"], workdir,
                  resources)


def _start(binary: str, configs: list[Path], workdir: Path,
           resources: tn.NetnsResources) -> subprocess.Popen:
    log = open(workdir / "agent.log", "ab")  # noqa: SIM115 - closed by the finalizer
    argv = [executable(binary)]
    for conf in configs:
        argv += ["--config-file", str(conf)]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        log.close()

    resources.defer(stop)
    return proc
