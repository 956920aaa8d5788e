"""neutrino-dhcp-agent reads the walk-through's files unchanged."""

from __future__ import annotations

from pathlib import Path

from neutrino.conf import opts
from neutrino.conf.settings import dhcp_agent_settings, rpc_settings

ETC = Path(__file__).resolve().parents[3] / "etc" / "walkthrough"


def test_walkthrough_files_load() -> None:
    conf = opts.load(["--config-file", str(ETC / "neutron-hostA.conf"),
                      "--config-file", str(ETC / "dhcp_agent.ini")],
                     prog="neutrino-dhcp-agent")
    settings = dhcp_agent_settings(conf)
    assert settings.interface_driver == "linuxbridge"
    assert settings.dhcp_driver == "neutron.agent.linux.dhcp.Dnsmasq"
    assert settings.agent.host == "HostA"
    assert settings.agent.host_netns is None
    assert settings.agent.netns_dir == "/run/netns"
    assert rpc_settings(conf).transport_url == "rabbit://guest:openstack@controlnode:5672/"


def test_lease_time_old_name(tmp_path: Path) -> None:
    ini = tmp_path / "dhcp_agent.ini"
    ini.write_text("[DEFAULT]\ndhcp_lease_time = 120\nnum_sync_threads = 7\n"
                   "host_netns = /run/netns/hostA\nnetns_dir = /srv/hostA/netns\n")
    settings = dhcp_agent_settings(opts.load(["--config-file", str(ini)], prog="x"))
    assert settings.lease_duration == 120
    assert settings.num_sync_threads == 7
    assert settings.agent.host_netns == "/run/netns/hostA"
    assert settings.agent.netns_dir == "/srv/hostA/netns"
