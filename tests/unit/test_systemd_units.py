"""The units in etc/systemd/ pass `systemd-analyze verify`, pointed at this installation's
console scripts (verify checks that each ExecStart exists)."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parents[2] / "etc" / "systemd"
NAMES = ["neutrino-server.service", "neutrino-dhcp-agent.service",
         "neutrino-linuxbridge-agent.service"]


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


def test_every_service_has_a_unit_and_dnsmasq_survives_a_dhcp_agent_restart():
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(NAMES)
    assert unit("neutrino-dhcp-agent.service")["Service"]["KillMode"] == "process"
    for name in NAMES:
        service = unit(name)["Service"]
        # The journal: no StandardOutput redirection to files.
        assert "StandardOutput" not in service and "log-file" not in service["ExecStart"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed here")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    prefix = str(Path(sys.executable).parent.parent)
    for name in NAMES:
        text = (UNITS / name).read_text().replace("/opt/neutrino", prefix)
        (tmp_path / name).write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", *(str(tmp_path / n) for n in NAMES)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "neutrino" not in done.stderr, done.stderr
