"""[SECURITYGROUP]: Neutron's option names, the drivers the Linux bridge agent knows."""

from __future__ import annotations

from pathlib import Path

import pytest

from neutrino.conf import opts, settings


def lb(tmp_path: Path, text: str) -> settings.LinuxBridgeSettings:
    f = tmp_path / "lb.ini"
    f.write_text(text)
    return settings.linuxbridge_settings(opts.load(["--config-file", str(f)], "test"))


@pytest.mark.parametrize(("text", "driver"), [
    ("", "noop"),
    ("[SECURITYGROUP]\nfirewall_driver = iptables\n", "iptables"),
    ("[SECURITYGROUP]\nfirewall_driver = iptables_hybrid\n", "iptables"),
    ("[SECURITYGROUP]\nfirewall_driver = "
     "neutron.agent.linux.iptables_firewall.IptablesFirewallDriver\n", "iptables"),
    ("[SECURITYGROUP]\nfirewall_driver = iptables\nenable_security_group = false\n", "noop"),
    ("[SECURITYGROUP]\nfirewall_driver = neutron.agent.firewall.NoopFirewallDriver\n",
     "noop"),
])
def test_firewall_driver(tmp_path: Path, text: str, driver: str) -> None:
    assert lb(tmp_path, text).firewall_driver == driver


def test_an_unknown_firewall_driver_is_refused(tmp_path: Path) -> None:
    with pytest.raises(settings.ConfigError, match="firewall_driver"):
        lb(tmp_path, "[SECURITYGROUP]\nfirewall_driver = openvswitch\n")
