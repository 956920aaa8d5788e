"""The lab's pure plans: names, addresses, config files, commands, parsing."""

import argparse
import configparser

import pytest

from neutrino.lab import config, fabric, vm
from neutrino.lab.forwarder import parse_mapping
from neutrino.lab.naming import (
    LabNameError,
    LabNames,
    check_host_name,
    check_vm_name,
    host_mgmt_address,
    next_host_index,
)
from neutrino.lab.state import HostRecord, LabState, VmRecord


def _ini(text: str) -> configparser.ConfigParser:
    p = configparser.ConfigParser(strict=False, interpolation=None)
    p.read_string(text)
    return p


def test_every_root_link_name_fits_in_15_characters():
    n = LabNames("abcdefgh")
    for name in [n.physnet_bridge, n.phys_veth(0), n.phys_veth(63), n.mgmt_peer(63)]:
        assert len(name) <= 15, name
    assert all(x.startswith("nl-abcdefgh-") for x in (n.physnet_bridge, n.phys_veth(5)))


@pytest.mark.parametrize("bad", ["", "toolongname", "Lab", "a-b", "a b", "../x"])
def test_bad_lab_names_are_refused(bad):
    with pytest.raises(LabNameError):
        LabNames(bad)


@pytest.mark.parametrize("bad", ["", "1Host", "controlnode", "a/b", "x;rm", "A" * 33])
def test_bad_host_names_are_refused(bad):
    with pytest.raises(LabNameError):
        check_host_name(bad)


@pytest.mark.parametrize("bad", ["", "-x", "a/b", "my server", "$(id)"])
def test_bad_vm_names_are_refused(bad):
    with pytest.raises(LabNameError):
        check_vm_name(bad)


def test_names_carry_the_lab_and_do_not_collide_between_labs():
    a, b = LabNames("lab"), LabNames("lab2")
    assert a.host_netns("HostA") == "nlab-lab-HostA"
    assert not b.host_netns("HostA").startswith(a.netns_prefix)
    assert not b.physnet_bridge.startswith(a.link_prefix)
    assert a.cgroup == "neutrino-lab-lab" and a.rabbit_vhost == "neutrino-lab-lab"
    assert a.run_dir == "/run/neutrino-lab/lab"
    assert a.state_dir == "/var/lib/neutrino-lab/lab"


def test_management_addresses_and_host_indexes():
    assert host_mgmt_address(0) == "172.30.0.11"
    assert host_mgmt_address(2) == "172.30.0.13"
    assert next_host_index({0, 1}) == 2
    assert next_host_index({1}) == 0
    with pytest.raises(LabNameError):
        next_host_index(set(range(64)))


def test_host_config_is_the_walk_throughs():
    rabbit = config.Rabbit("controlnode", 5672, "u", "openstack", "vh")
    conf = _ini(config.host_conf(host="HostA", state_path="/s", rabbit=rabbit))
    assert conf["DEFAULT"]["host"] == "HostA"
    assert conf["DEFAULT"]["rabbit_host"] == "controlnode"
    assert conf["DEFAULT"]["rabbit_password"] == "openstack"
    assert conf["AGENT"]["report_interval"] == "1"
    lb = _ini(config.linuxbridge_conf())
    assert lb["linux_bridge"]["physical_interface_mappings"] == "physnet1:eth0"
    assert lb["vlans"]["tenant_network_type"] == "vlan"
    assert lb["vlans"]["network_vlan_ranges"] == "physnet1:1000:2999"
    dhcp = _ini(config.dhcp_agent_ini())
    assert dhcp["DEFAULT"]["interface_driver"] == \
        "neutron.agent.linux.interface.BridgeInterfaceDriver"


def test_server_config_loads_into_neutrinos_options(tmp_path):
    from neutrino.conf import opts, settings
    text = config.server_conf(state_path="/st", api_port=12345,
                              rabbit=config.Rabbit("127.0.0.1", 5672, "u", "p", "vh"))
    path, lb = tmp_path / "neutron.conf", tmp_path / "linuxbridge_conf.ini"
    path.write_text(text)
    lb.write_text(config.linuxbridge_conf())
    conf = opts.load(["--config-file", str(path), "--config-file", str(lb)], "test")
    core = settings.core_settings(conf)
    assert core.agent_down_time == 5 and core.host == "controlnode"
    assert core.vlan_ranges[0].physical_network == "physnet1"
    assert (core.vlan_ranges[0].minimum, core.vlan_ranges[0].maximum) == (1000, 2999)
    api = settings.api_settings(conf)
    assert (api.bind_host, api.bind_port) == ("127.0.0.1", 12345)
    assert ("admin", "adminpassword", "admin", "admin") in [
        (u.name, u.password, u.project, u.role) for u in api.users]
    assert settings.rpc_settings(conf).transport_url == "rabbit://u:p@127.0.0.1:5672/vh"


def test_each_agent_of_a_host_serves_metrics_on_its_own_port_of_the_mgmt_address(tmp_path):
    from neutrino.conf import opts, settings
    from neutrino.lab.lab import agent_metrics_port
    ports = {agent_metrics_port(9110, "dhcp"), agent_metrics_port(9110, "linuxbridge")}
    assert ports == {9110, 9111}
    host = tmp_path / "neutron.conf"
    host.write_text(config.host_conf(host="HostA", state_path="/s",
                                     rabbit=config.Rabbit("controlnode", 5672, "u", "p", "v")))
    dhcp = tmp_path / "dhcp_agent.ini"
    dhcp.write_text(config.dhcp_agent_ini() + "\n" + config.agent_metrics_ini(
        host_mgmt_address(0), 9110))
    conf = opts.load(["--config-file", str(host), "--config-file", str(dhcp)], "test")
    agent = settings.agent_settings(conf)
    assert (agent.metrics_bind_host, agent.metrics_port) == ("172.30.0.11", 9110)
    assert agent.report_interval == 1  # the host file's [AGENT] is kept


def test_agent_metrics_need_the_rabbit_transport_and_two_ports():
    from neutrino.lab.lab import Lab, LabError
    with pytest.raises(LabError, match="rabbit only"):
        Lab(LabNames("x")).up("inproc", agent_metrics_port=9110)
    with pytest.raises(LabError, match="1 to 65534"):
        Lab(LabNames("x")).up("rabbit", agent_metrics_port=65535)


def test_server_config_can_fix_the_api_workers():
    conf = _ini(config.server_conf(state_path="/st", api_port=1, rabbit=None, api_workers=1))
    assert conf["DEFAULT"]["api_workers"] == "1"
    assert "api_workers" not in _ini(config.server_conf(state_path="/st", api_port=1,
                                                        rabbit=None))["DEFAULT"]


def test_inproc_server_config_uses_the_in_process_transport():
    conf = _ini(config.server_conf(state_path="/st", api_port=1, rabbit=None))
    assert conf["DEFAULT"]["transport_url"] == "fake://"
    assert "rabbit_host" not in conf["DEFAULT"]


def test_config_values_with_line_breaks_are_refused():
    with pytest.raises(ValueError):
        config.host_conf(host="A\nrabbit_host = evil", state_path="/s",
                         rabbit=config.Rabbit("h", 1, "u", "p", "v"))


def test_etc_hosts_maps_controlnode_to_the_management_address():
    lines = config.etc_hosts("HostA").splitlines()
    assert "172.30.0.10\tcontrolnode" in lines
    assert "127.0.1.1\tHostA" in lines


def test_host_link_plan_joins_eth0_to_physnet_and_mgmt0_to_management():
    n = LabNames("x")
    plan = fabric.host_link_commands(n, "HostB", 1)
    assert ["ip", "link", "add", "nl-x-e1", "type", "veth", "peer", "name", "eth0",
            "netns", "nlab-x-HostB"] in plan
    assert ["ip", "link", "set", "nl-x-e1", "master", "nl-x-pn", "up"] in plan
    assert ["ip", "-n", "nlab-x-HostB", "addr", "add", "172.30.0.12/24", "dev",
            "mgmt0"] in plan
    # Nothing of the management network lands in the root namespace.
    assert not any(argv[:3] == ["ip", "addr", "add"] for argv in plan)


def test_holder_and_mounts():
    assert fabric.holder_command()[:5] == ["unshare", "--net", "--mount", "--propagation",
                                           "private"]
    mounts = fabric.host_mount_commands(42, "/s/hosts")
    assert ["nsenter", "-t", "42", "-m", "--", "mount", "--bind", "/s/hosts",
            "/etc/hosts"] in mounts
    assert any("/run/netns" in argv and "tmpfs" in argv for argv in mounts)
    assert fabric.in_host(7, ["a", "b"]) == ["nsenter", "-t", "7", "-n", "-m", "--", "a", "b"]


def test_vm_plan_names_the_tap_after_the_port_and_sets_the_mac():
    port = "0123456789abcdef-rest"
    plan = vm.vm_link_commands("vmns", "hostns", port, "fa:16:3e:00:00:01")
    assert ["ip", "link", "add", "tap0123456789a", "netns", "hostns", "type", "veth", "peer",
            "name", "eth0", "netns", "vmns"] in plan
    assert ["ip", "-n", "vmns", "link", "set", "eth0", "address", "fa:16:3e:00:00:01"] in plan


def test_dhclient_command_is_a_list_with_its_files_in_the_run_dir():
    files = vm.DhclientFiles("/run/lab/dhclient-v1-6")
    assert vm.dhclient_command("vmns", files, ipv6=True, stateless=True) == [
        "ip", "netns", "exec", "vmns", "dhclient", "-1", "-d", "-6",
        "-lf", "/run/lab/dhclient-v1-6.leases", "-pf", "/run/lab/dhclient-v1-6.pid",
        "-sf", "/run/lab/dhclient-v1-6.script", "-S", "eth0"]
    assert vm.dhclient_command("vmns", files)[7] == "-4"
    assert "-S" not in vm.dhclient_command("vmns", files, ipv6=False, stateless=True)


def test_lease_parsing_and_nova_table():
    assert vm.parse_lease("udhcpc: started\nNEUTRINO_LAB_LEASE 9.0.1.2\n") == "9.0.1.2"
    assert vm.parse_lease("NEUTRINO_LAB_LEASE 2001:db8::5 dns=2001:db8::53\n") == \
        "2001:db8::5 dns=2001:db8::53"
    assert vm.parse_lease("udhcpc: no lease, failing\n") is None
    port = {"fixed_ips": [{"ip_address": "9.0.1.2", "subnet_id": "s"}]}
    assert vm.format_networks(port, "net2") == "net2=9.0.1.2"
    table = vm.nova_table([vm.VmRow("id-1", "myserver4", "ACTIVE", "net2=9.0.1.2")])
    lines = table.splitlines()
    assert lines[1].split("|")[1:5] == [" ID   ", " Name      ", " Status ", " Networks     "]
    assert "| id-1 | myserver4 | ACTIVE | net2=9.0.1.2 |" in lines


def test_forwarder_mapping_parsing():
    assert parse_mapping("172.30.0.10:5672=5672") == ("172.30.0.10", 5672, 5672)
    with pytest.raises(argparse.ArgumentTypeError):
        parse_mapping("nonsense")


def test_state_round_trips():
    st = LabState(lab="x", transport="rabbit", api_port=5)
    st.hosts["HostA"] = HostRecord("HostA", 0, 10, {"dhcp": 11})
    st.vms["v"] = VmRecord("v", "id", "HostA", "p", "n", "m")
    again = LabState.from_json(st.to_json())
    assert again == st


def test_the_firewall_driver_reaches_the_linuxbridge_config():
    assert _ini(config.linuxbridge_conf())["SECURITYGROUP"]["firewall_driver"] == "noop"
    assert _ini(config.linuxbridge_conf("iptables"))["SECURITYGROUP"]["firewall_driver"] \
        == "iptables"


def test_vm_exec_passes_the_command_as_a_list():
    from neutrino.lab.cli import build_parser
    from neutrino.lab.vm import exec_command
    args = build_parser().parse_args(["vm", "exec", "vm1", "--", "sh", "-c", "echo $HOME; x"])
    assert args.vm == "vm1" and args.argv[-3:] == ["sh", "-c", "echo $HOME; x"]
    assert exec_command("lab-vm1", ["sh", "-c", "echo $HOME; x"]) == \
        ["ip", "netns", "exec", "lab-vm1", "sh", "-c", "echo $HOME; x"]
