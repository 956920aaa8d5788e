"""The walk-through's configuration files load unchanged and take effect."""

import re
from pathlib import Path

import pytest

from neutrino.conf import opts, settings

ETC = Path(__file__).resolve().parents[3] / "etc"
WALK = ETC / "walkthrough"


def load(*files: str):
    return opts.load([arg for f in files for arg in ("--config-file", str(WALK / f))], "test")


def test_controller_files_take_effect():
    conf = load("neutron.conf", "linuxbridge_conf.ini")
    core = settings.core_settings(conf)
    assert core.host == "controlnode"
    assert core.agent_down_time == 5
    assert core.allow_overlapping_ips is True
    assert core.tenant_network_type == "vlan"
    assert core.vlan_ranges == (settings.VlanRange("physnet1", 1000, 2999),)
    db = settings.database_settings(conf)
    assert db.url == "mysql://root:root@127.0.0.1:3306/neutron_linux_bridge"
    assert db.retry_interval == 2
    assert settings.rpc_settings(conf).transport_url == "rabbit://guest:guest@controlnode:5672/"


def test_host_files_take_effect():
    conf = load("neutron-hostA.conf", "linuxbridge_conf.ini", "dhcp_agent.ini")
    dhcp = settings.dhcp_agent_settings(conf)
    assert dhcp.agent.host == "HostA"
    assert dhcp.interface_driver == "linuxbridge"
    assert dhcp.lease_duration == 86400
    assert settings.agent_settings(conf).report_interval == 30
    assert settings.rpc_settings(conf).transport_url == (
        "rabbit://guest:openstack@controlnode:5672/")
    assert settings.linuxbridge_settings(conf).interface_mappings == {"physnet1": "eth0"}


def test_transport_url_wins_over_rabbit_keys(tmp_path):
    f = tmp_path / "n.conf"
    f.write_text("[DEFAULT]\ntransport_url = rabbit://u:p@h:1234/v\nrabbit_host = other\n")
    conf = opts.load(["--config-file", str(f)], "test")
    assert settings.rpc_settings(conf).transport_url == "rabbit://u:p@h:1234/v"


def test_max_allowed_address_pair_is_read(tmp_path):
    f = tmp_path / "n.conf"
    f.write_text("[DEFAULT]\nmax_allowed_address_pair = 3\n")
    conf = opts.load(["--config-file", str(f)], "test")
    assert settings.core_settings(conf).max_allowed_address_pair == 3


def test_deprecated_lease_time_name_and_unknown_keys(tmp_path):
    f = tmp_path / "d.ini"
    f.write_text("[DEFAULT]\ndhcp_lease_time = 120\nsome_nova_option = x\n[nova]\nfoo = 1\n")
    conf = opts.load(["--config-file", str(f)], "test")
    assert settings.dhcp_agent_settings(conf).lease_duration == 120


def test_defaults():
    conf = opts.load([], "test")
    core = settings.core_settings(conf)
    assert (core.agent_down_time, core.dhcp_agents_per_network, core.network_scheduler) == (
        75, 1, "weight")
    assert core.max_allowed_address_pair == 10
    assert conf.bind_port == 9696
    assert conf.AGENT.availability_zone == "nova"
    api = settings.api_settings(conf)
    assert api.auth_strategy == "builtin"
    assert [u.name for u in api.users] == ["admin", "demo"]
    assert settings.database_settings(conf).url.startswith("sqlite:///")


@pytest.mark.parametrize("driver, expected", [
    ("neutron.scheduler.dhcp_agent_scheduler.ChanceScheduler", "chance"),
    ("neutron.scheduler.dhcp_agent_scheduler.WeightScheduler", "weight"),
    ("chance", "chance"),
])
def test_scheduler_names(tmp_path, driver, expected):
    f = tmp_path / "s.conf"
    f.write_text(f"[DEFAULT]\nnetwork_scheduler_driver = {driver}\n")
    conf = opts.load(["--config-file", str(f)], "test")
    assert settings.core_settings(conf).network_scheduler == expected


@pytest.mark.parametrize("text", [
    "[DEFAULT]\nnetwork_scheduler_driver = nonsense\n",
    "[DEFAULT]\ncore_plugin = ovn\n",
    "[vlans]\nnetwork_vlan_ranges = physnet1:3000:1000\n",
    "[vlans]\nnetwork_vlan_ranges = physnet1:x:9\n",
    "[identity]\nuser = admin:onlythree:admin\n",
])
def test_bad_values_are_refused(tmp_path, text):
    f = tmp_path / "bad.conf"
    f.write_text(text)
    conf = opts.load(["--config-file", str(f)], "test")
    with pytest.raises(settings.ConfigError):
        settings.core_settings(conf)
        settings.api_settings(conf)


def test_bad_interface_driver_is_refused(tmp_path):
    f = tmp_path / "d.ini"
    f.write_text("[DEFAULT]\ninterface_driver = openvswitch\n")
    with pytest.raises(settings.ConfigError):
        settings.dhcp_agent_settings(opts.load(["--config-file", str(f)], "test"))


def test_sample_config_lists_every_option():
    sample = (ETC / "neutrino.conf.sample").read_text()
    for group, options in opts.list_opts():
        assert f"[{group.lower() if group != 'DEFAULT' else group}]" in sample
        for opt in options:
            assert re.search(rf"^#{re.escape(opt.dest)} =", sample, re.M), opt.name


def test_settings_defaults_are_the_options_defaults():
    """A settings object built by hand is the one an empty config file gives."""
    conf = opts.load([], "test")
    agent = settings.AgentSettings(conf.host, conf.state_path)
    assert settings.agent_settings(conf) == agent
    assert settings.dhcp_agent_settings(conf) == settings.DhcpAgentSettings(agent)
    assert settings.core_settings(conf) == settings.CoreSettings(host=conf.host)
    users = settings.api_settings(conf).users
    assert settings.api_settings(conf) == settings.ApiSettings(users=users)
    db = settings.database_settings(conf)
    assert db == settings.DatabaseSettings(db.url)
    rpc = settings.rpc_settings(conf)
    assert rpc == settings.RpcSettings(rpc.transport_url)


def test_a_minimal_config_gives_tenant_networks_a_type_that_needs_no_ranges(tmp_path):
    # Issue 13, item 7: with the old default (vlan) and no ranges, every non-admin network
    # create failed with 503 "No tenant network is available".
    f = tmp_path / "minimal.conf"
    f.write_text("[DEFAULT]\ncore_plugin = ml2\n")
    core = settings.core_settings(opts.load(["--config-file", str(f)], "test"))
    assert core.tenant_network_type == "local" and core.vlan_ranges == ()


@pytest.mark.parametrize("text", [
    "[vlans]\ntenant_network_type = vlan\n",
    "[vlans]\ntenant_network_type = vlan\nnetwork_vlan_ranges = physnet1\n",
    "[ml2]\ntenant_network_types = vlan\n",
])
def test_vlan_tenant_networks_without_a_range_refuse_to_start(tmp_path, text):
    f = tmp_path / "vlan.conf"
    f.write_text(text)
    with pytest.raises(settings.ConfigError, match="tenant_network_type = vlan needs "
                                                   "network_vlan_ranges"):
        settings.core_settings(opts.load(["--config-file", str(f)], "test"))


@pytest.mark.parametrize("text", [
    "[DEFAULT]\ndns_domain = bad domain\n",
    "[DEFAULT]\ndhcp_domain = evil\\n--dhcp-range\n",
    "[DEFAULT]\ndnsmasq_dns_servers = 8.8.8.8,not-an-ip\n",
    "[DEFAULT]\ndnsmasq_config_file = relative.conf\n",
])
def test_bad_dhcp_values_are_refused(tmp_path, text):
    f = tmp_path / "d.ini"
    f.write_text(text)
    with pytest.raises(settings.ConfigError):
        settings.dhcp_agent_settings(opts.load(["--config-file", str(f)], "test"))


def test_dhcp_and_metadata_options(tmp_path):
    f = tmp_path / "d.ini"
    f.write_text("[DEFAULT]\ndhcp_domain = old.example.org\ndnsmasq_dns_servers = 9.9.9.9\n"
                 "dhcp_renewal_time = 600\ndhcp_broadcast_reply = true\n"
                 "enable_isolated_metadata = true\nnova_metadata_host = nova.example.org\n"
                 "metadata_proxy_shared_secret = s\n")
    conf = opts.load(["--config-file", str(f)], "test")
    dhcp = settings.dhcp_agent_settings(conf)
    assert dhcp.domain == "old.example.org" == settings.core_settings(conf).dns_domain
    assert dhcp.dns_servers == ("9.9.9.9",) and dhcp.renewal_time == 600
    assert dhcp.broadcast_reply and dhcp.metadata.enabled
    assert dhcp.metadata.nova_host == "nova.example.org" and dhcp.metadata.shared_secret == "s"
