"""Real agent processes for tests, acting in a test namespace and stopped pass or fail."""

from __future__ import annotations

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
    log = open(workdir / "agent.log", "ab")  # noqa: SIM115 - closed by the finalizer
    proc = subprocess.Popen(
        [executable("neutrino-linuxbridge-agent"),
         "--config-file", str(WALKTHROUGH / "neutron-hostA.conf"),
         "--config-file", str(WALKTHROUGH / "linuxbridge_conf.ini"),
         "--config-file", str(local)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)

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
