"""Commands run in-process over a fake client: arguments become the right requests and
results become the walk-through's tables and confirmations."""

import json

import pytest

AGENT_A = "a0c1c21c-d4f4-4577-9ec7-908f2d48622d"
AGENT_B = "f28aa126-6edb-4ea5-a81e-8850876bc0a8"
NET1 = "89dca1c6-c7d4-4f7a-b730-549af0fb6e34"
NET2 = "9b96b14f-71b8-4918-90aa-c5d705606b1a"
SUB2 = "6979b71a-0ae8-448c-aa87-65f68eedcaaa"


def table_rows(out: str) -> list[list[str]]:
    """The cells of a prettytable, header first, border lines dropped."""
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in out.splitlines() if line.startswith("|")]


def test_agent_list_has_the_walkthrough_columns_and_faces(cli):
    r = cli("agent-list")
    assert r.code == 0, r.err
    rows = table_rows(r.out)
    assert rows[0] == ["id", "agent_type", "host", "alive", "admin_state_up"]
    assert [AGENT_A, "DHCP agent", "HostA", ":-)", "True"] in rows
    assert [AGENT_B, "DHCP agent", "HostB", "xxx", "True"] in rows
    assert r.out.startswith("+----")


def test_agent_list_extra_columns_on_request_in_table_order(cli):
    rows = table_rows(cli("agent-list", "-c", "binary", "-c", "id",
                          "-c", "availability_zone").out)
    assert rows[0] == ["id", "availability_zone", "binary"]
    assert [AGENT_A, "nova", "neutrino-dhcp-agent"] in rows


def test_agent_list_json_keeps_alive_a_boolean(cli):
    data = json.loads(cli("agent-list", "-f", "json").out)
    assert {a["id"]: a["alive"] for a in data}[AGENT_B] is False


def test_agent_show_spreads_configurations_over_lines(cli):
    r = cli("agent-show", AGENT_A)
    rows = table_rows(r.out)
    assert rows[0] == ["Field", "Value"]
    start = rows.index(["configurations", "{"])
    assert rows[start + 1] == ["", '"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",']
    assert ["", "}"] in rows[start:]
    assert ["alive", "True"] in rows
    assert ["description", ""] in rows


def test_agent_update_and_delete_confirmations(cli, fake_client):
    r = cli("agent-update", "--admin-state-up", "False", AGENT_A)
    assert (r.code, r.out) == (0, f"Updated agent: {AGENT_A}\n")
    assert fake_client.writes[-1] == ("update", "agent", AGENT_A, {"admin_state_up": False})
    r = cli("agent-update", "--description", "spare", AGENT_B)
    assert fake_client.writes[-1] == ("update", "agent", AGENT_B, {"description": "spare"})
    r = cli("agent-delete", AGENT_A)
    assert (r.code, r.out) == (0, f"Deleted agent: {AGENT_A}\n")


def test_agent_update_needs_something_to_change(cli):
    r = cli("agent-update", AGENT_A)
    assert r.code == 1
    assert r.err.strip() == "Must specify new values to update agent"


def test_agent_update_rejects_a_non_boolean(cli):
    with pytest.raises(SystemExit) as exc:
        cli("agent-update", "--admin-state-up", "sometimes", AGENT_A)
    assert exc.value.code == 2


def test_net_list_shows_subnets_with_their_cidrs(cli):
    rows = table_rows(cli("net-list").out)
    assert rows[0] == ["id", "name", "subnets"]
    assert [NET2, "net2", f"{SUB2} 9.0.1.0/24"] in rows


def test_net_create_prints_the_banner_only_for_tables(cli, fake_client):
    r = cli("net-create", "net3", "--shared", "--provider:network_type", "vlan",
            "--provider:physical_network", "physnet1", "--provider:segmentation_id", "1001",
            "--availability-zone-hint", "nova")
    assert r.out.startswith("Created a new network:\n+")
    assert fake_client.writes[-1] == ("create", "network", {
        "name": "net3", "shared": True, "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": 1001,
        "availability_zone_hints": ["nova"]})
    r = cli("net-create", "-f", "json", "net4")
    assert json.loads(r.out)["name"] == "net4"
    assert fake_client.writes[-1] == ("create", "network", {"name": "net4"})


def test_net_update_and_delete_by_name(cli, fake_client):
    r = cli("net-update", "net2", "--name", "net2b", "--admin-state-up", "false")
    assert r.out == "Updated network: net2\n"
    assert fake_client.writes[-1] == ("update", "network", NET2,
                                      {"name": "net2b", "admin_state_up": False})
    r = cli("net-delete", "net1")
    assert r.out == "Deleted network: net1\n"
    assert fake_client.writes[-1] == ("delete", "networks", NET1)


def test_ambiguous_and_unknown_names_are_one_line_errors(cli, fake_client):
    fake_client.data["networks"].append({"id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                                         "name": "net1", "subnets": []})
    r = cli("net-show", "net1")
    assert r.code == 1
    assert r.err == ("Multiple network matches found for name 'net1', use an ID to be "
                     "more specific.\n")
    r = cli("net-delete", "nope")
    assert (r.code, r.err) == (1, "Unable to find network with name or id 'nope'\n")


def test_subnet_create_body(cli, fake_client):
    r = cli("subnet-create", "net2", "9.0.2.0/24", "--name", "subnet3", "--no-gateway",
            "--allocation-pool", "start=9.0.2.10,end=9.0.2.20", "--dns-nameserver", "8.8.8.8",
            "--host-route", "destination=10.0.0.0/8,nexthop=9.0.2.1", "--disable-dhcp")
    assert r.out.startswith("Created a new subnet:\n")
    assert fake_client.writes[-1] == ("create", "subnet", {
        "network_id": NET2, "cidr": "9.0.2.0/24", "ip_version": 4, "name": "subnet3",
        "gateway_ip": None, "allocation_pools": [{"start": "9.0.2.10", "end": "9.0.2.20"}],
        "dns_nameservers": ["8.8.8.8"],
        "host_routes": [{"destination": "10.0.0.0/8", "nexthop": "9.0.2.1"}],
        "enable_dhcp": False})


def test_subnet_list_and_update(cli, fake_client):
    rows = table_rows(cli("subnet-list").out)
    assert rows[0] == ["id", "name", "cidr", "allocation_pools"]
    assert [SUB2, "subnet2", "9.0.1.0/24", '{"start": "9.0.1.2", "end": "9.0.1.254"}'] in rows
    r = cli("subnet-update", "subnet2", "--gateway", "9.0.1.254", "--enable-dhcp")
    assert r.out == "Updated subnet: subnet2\n"
    assert fake_client.writes[-1] == ("update", "subnet", SUB2,
                                      {"gateway_ip": "9.0.1.254", "enable_dhcp": True})


def test_port_create_resolves_the_subnet_of_a_fixed_ip(cli, fake_client):
    r = cli("port-create", "net2", "--name", "p1", "--fixed-ip",
            "subnet_id=subnet2,ip_address=9.0.1.5", "--mac-address", "fa:16:3e:00:00:01",
            "--device-id", "vm1", "--device-owner", "compute:nova",
            "--binding:host_id", "HostA")
    assert r.out.startswith("Created a new port:\n")
    assert fake_client.writes[-1] == ("create", "port", {
        "network_id": NET2, "name": "p1",
        "fixed_ips": [{"subnet_id": SUB2, "ip_address": "9.0.1.5"}],
        "mac_address": "fa:16:3e:00:00:01", "device_id": "vm1",
        "device_owner": "compute:nova", "binding:host_id": "HostA"})


def test_port_list_columns(cli, fake_client):
    fake_client.data["ports"].append({
        "id": "p-1", "name": "p1", "mac_address": "fa:16:3e:00:00:01",
        "fixed_ips": [{"subnet_id": SUB2, "ip_address": "9.0.1.5"}]})
    rows = table_rows(cli("port-list").out)
    assert rows[0] == ["id", "name", "mac_address", "fixed_ips"]
    assert rows[1] == ["p-1", "p1", "fa:16:3e:00:00:01",
                       f'{{"subnet_id": "{SUB2}", "ip_address": "9.0.1.5"}}']


def test_subnet_and_port_lists_filter_by_network_name(cli, fake_client):
    fake_client.data["ports"] += [
        {"id": "p-1", "name": "p1", "network_id": NET1, "mac_address": "m1", "fixed_ips": []},
        {"id": "p-2", "name": "p2", "network_id": NET2, "mac_address": "m2", "fixed_ips": []}]
    rows = table_rows(cli("subnet-list", "--network", "net2").out)
    assert [row[0] for row in rows[1:]] == [SUB2]
    rows = table_rows(cli("port-list", "--network", "net1").out)
    assert [row[0] for row in rows[1:]] == ["p-1"]


def test_dhcp_scheduler_commands(cli, fake_client):
    rows = table_rows(cli("dhcp-agent-list-hosting-net", "net1").out)
    assert rows == [["id", "host", "admin_state_up", "alive"],
                    [AGENT_A, "HostA", "True", ":-)"]]
    rows = table_rows(cli("net-list-on-dhcp-agent", AGENT_A).out)
    assert rows[1] == [NET1, "net1", "f6c832e3-9968-46fd-8e45-d5cf646db9d1 10.0.1.0/24"]
    r = cli("dhcp-agent-network-add", AGENT_B, "net2")
    assert r.out == "Added network net2 to dhcp agent\n"
    assert fake_client.writes[-1] == ("add", AGENT_B, NET2)
    r = cli("dhcp-agent-network-remove", AGENT_A, "net2")
    assert r.out == "Removed network net2 to dhcp agent\n"
    assert fake_client.writes[-1] == ("remove", AGENT_A, NET2)


def test_ext_list_keeps_alias_first_whatever_the_c_order(cli):
    rows = table_rows(cli("ext-list", "-c", "name", "-c", "alias").out)
    assert rows == [["alias", "name"], ["agent", "agent"]]


def test_ext_show(cli):
    rows = table_rows(cli("ext-show", "agent").out)
    assert ["alias", "agent"] in rows
    r = cli("ext-show", "router")
    assert (r.code, r.err) == (1, "Extension with alias router does not exist\n")


@pytest.mark.parametrize("fmt,check", [
    ("value", lambda out: out.split() == [NET1, NET2]),
    ("csv", lambda out: out.splitlines()[0] == '"id"'),
    ("yaml", lambda out: f"- id: {NET1}" in out),
])
def test_other_formats(cli, fmt, check):
    r = cli("net-list", "-f", fmt, "-c", "id")
    assert r.code == 0
    assert check(r.out), r.out
