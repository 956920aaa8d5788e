"""The walk-through's `neutron ...` commands, run as `neutrino ...` against a real server.

Marked `rabbit`: the agents register through real report_state calls over RabbitMQ.
"""

from __future__ import annotations

import json
import secrets

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from support.server import ADMIN, clean_env, free_port

pytestmark = pytest.mark.rabbit


def uniq(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def agents_by(neutrino) -> dict[tuple[str, str], dict]:
    data = json.loads(neutrino("agent-list", "-f", "json", "-c", "id", "-c", "agent_type",
                               "-c", "host", "-c", "alive", "-c", "admin_state_up").out)
    return {(a["agent_type"], a["host"]): a for a in data}


def show(neutrino, *args: str, **kwargs) -> dict:
    return json.loads(neutrino(*args, "-f", "json", **kwargs).out)


def test_walkthrough(neutrino, fleet, rows, until):
    # ext-list -c name -c alias: the seed's table, alias first.
    ext = rows(neutrino("ext-list", "-c", "name", "-c", "alias").out)
    assert ext[0] == ["alias", "name"]
    names = {alias: name for alias, name in ext[1:]}
    assert names["agent"] == "agent"
    assert names["dhcp_agent_scheduler"] == "DHCP Agent Scheduler"
    assert {"binding", "provider"} <= set(names)
    shown = rows(neutrino("ext-show", "dhcp_agent_scheduler").out)
    assert ["alias", "dhcp_agent_scheduler"] in shown
    assert ["name", "DHCP Agent Scheduler"] in shown

    # agent-list: the four agents, alive, up.
    table = rows(neutrino("agent-list").out)
    assert table[0] == ["id", "agent_type", "host", "alive", "admin_state_up"]
    assert sorted((r[1], r[2], r[3], r[4]) for r in table[1:]) == [
        ("DHCP agent", "HostA", ":-)", "True"), ("DHCP agent", "HostB", ":-)", "True"),
        ("Linux bridge agent", "HostA", ":-)", "True"),
        ("Linux bridge agent", "HostB", ":-)", "True")]
    agents = agents_by(neutrino)
    dhcp = {host: agents[("DHCP agent", host)]["id"] for host in ("HostA", "HostB")}
    lb_b = agents[("Linux bridge agent", "HostB")]["id"]

    extra = rows(neutrino("agent-list", "-c", "id", "-c", "binary",
                          "-c", "availability_zone").out)
    assert extra[0] == ["id", "availability_zone", "binary"]
    assert [dhcp["HostA"], "nova", "neutrino-dhcp-agent"] in extra
    assert any(r[0] == lb_b and r[2] == "neutrino-linuxbridge-agent" for r in extra)

    filtered = rows(neutrino("agent-list", "--host", "HostB", "--agent-type", "DHCP agent").out)
    assert [r[0] for r in filtered[1:]] == [dhcp["HostB"]]

    # agent-show: Field/Value, configurations over several lines.
    detail = rows(neutrino("agent-show", dhcp["HostA"]).out)
    assert detail[0] == ["Field", "Value"]
    for row in (["agent_type", "DHCP agent"], ["host", "HostA"], ["id", dhcp["HostA"]],
                ["topic", "dhcp_agent"], ["binary", "neutrino-dhcp-agent"],
                ["admin_state_up", "True"]):
        assert row in detail
    conf_at = detail.index(["configurations", "{"])
    conf_lines = [r[1] for r in detail[conf_at + 1:conf_at + 8]]
    assert '"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq",' in conf_lines
    assert "}" in conf_lines
    lb_detail = rows(neutrino("agent-show", lb_b).out)
    assert ["configurations", "{"] in lb_detail
    assert ["", '"interface_mappings": {'] in lb_detail

    # Default scheduling: net2, subnet2, a port; one DHCP agent hosts net2.
    created = neutrino("net-create", "net2")
    assert created.out.startswith("Created a new network:\n+")
    net = dict((r[0], r[1]) for r in rows(created.out)[1:])
    assert net["name"] == "net2"
    net_id = net["id"]
    created = neutrino("subnet-create", "net2", "9.0.1.0/24", "--name", "subnet2")
    assert created.out.startswith("Created a new subnet:\n")
    subnet = dict((r[0], r[1]) for r in rows(created.out)[1:])
    assert (subnet["cidr"], subnet["name"], subnet["network_id"]) == (
        "9.0.1.0/24", "subnet2", net_id)
    created = neutrino("port-create", "net2")
    assert created.out.startswith("Created a new port:\n")
    port = show(neutrino, "port-show", dict((r[0], r[1]) for r in rows(created.out)[1:])["id"])
    assert port["network_id"] == net_id
    assert port["fixed_ips"][0]["ip_address"].startswith("9.0.1.")

    def hosting() -> list[list[str]]:
        return rows(neutrino("dhcp-agent-list-hosting-net", "net2").out)

    first = until(lambda: hosting()[1:], what="net2 to be scheduled")
    assert hosting()[0] == ["id", "host", "admin_state_up", "alive"]
    assert len(first) == 1
    first_id, first_host = first[0][0], first[0][1]
    assert first[0][1:] == [first_host, "True", ":-)"]
    assert first_id == dhcp[first_host]
    other_host = "HostB" if first_host == "HostA" else "HostA"
    other_id = dhcp[other_host]

    # dhcp-agent-network-add: both agents host net2.
    added = neutrino("dhcp-agent-network-add", other_id, "net2")
    assert added.out == "Added network net2 to dhcp agent\n"
    assert sorted(r[1] for r in hosting()[1:]) == ["HostA", "HostB"]

    on_agent = rows(neutrino("net-list-on-dhcp-agent", other_id).out)
    assert on_agent[0] == ["id", "name", "subnets"]
    assert [net_id, "net2", f"{subnet['id']} 9.0.1.0/24"] in on_agent

    # dhcp-agent-network-remove: the seed's words; only the other agent is left.
    removed = neutrino("dhcp-agent-network-remove", first_id, "net2")
    assert removed.out == "Removed network net2 to dhcp agent\n"
    assert [r[0] for r in hosting()[1:]] == [other_id]
    assert net_id not in neutrino("net-list-on-dhcp-agent", first_id).out

    listed = rows(neutrino("net-list").out)
    assert listed[0] == ["id", "name", "subnets"]
    assert [net_id, "net2", f"{subnet['id']} 9.0.1.0/24"] in listed

    # Disable, then delete the agent that no longer hosts anything.
    updated = neutrino("agent-update", "--admin-state-up", "False", first_id)
    assert updated.out == f"Updated agent: {first_id}\n"
    row = next(r for r in rows(neutrino("agent-list").out) if r[0] == first_id)
    assert row[4] == "False"
    assert show(neutrino, "agent-show", first_id)["admin_state_up"] is False
    updated = neutrino("agent-update", "--description", "going away", first_id)
    assert updated.out == f"Updated agent: {first_id}\n"
    assert ["description", "going away"] in rows(neutrino("agent-show", first_id).out)

    fleet.pause("dhcp", first_host)
    try:
        deleted = neutrino("agent-delete", first_id)
        assert deleted.out == f"Deleted agent: {first_id}\n"
        after = rows(neutrino("agent-list").out)
        assert len(after) == 4 and first_id not in {r[0] for r in after}
    finally:
        fleet.resume("dhcp", first_host)
    # "After deletion, if you restart the DHCP agent, it appears on the agent list again."
    again = until(lambda: agents_by(neutrino).get(("DHCP agent", first_host)),
                  what="the deleted agent to register again")
    assert again["id"] != first_id

    assert neutrino("port-delete", port["id"]).out == f"Deleted port: {port['id']}\n"
    assert neutrino("subnet-delete", "subnet2").out == "Deleted subnet: subnet2\n"
    assert neutrino("net-delete", "net2").out == "Deleted network: net2\n"
    assert net_id not in neutrino("net-list").out
    assert not fleet.errors


def test_networks_subnets_ports_by_name_with_v3(neutrino, fleet, rows):
    run = lambda *a, **k: neutrino(*a, identity="v3", **k)  # noqa: E731
    name, renamed, sub, port = uniq("blue"), uniq("green"), uniq("sb"), uniq("pt")

    created = rows(run("net-create", name, "--provider:network_type", "vlan",
                       "--provider:physical_network", "physnet1",
                       "--provider:segmentation_id", "1234",
                       "--availability-zone-hint", "nova").out)
    fields = dict((r[0], r[1]) for r in created[1:])
    assert fields["provider:segmentation_id"] == "1234"
    assert fields["provider:physical_network"] == "physnet1"
    assert fields["availability_zone_hints"] == "nova"
    net = show(run, "net-show", name)
    assert net["name"] == name and net["provider:network_type"] == "vlan"

    shared = show(run, "net-create", uniq("shared"), "--shared")
    assert shared["shared"] is True
    assert run("net-delete", shared["id"]).out == f"Deleted network: {shared['id']}\n"

    assert run("net-update", name, "--name", renamed).out == f"Updated network: {name}\n"
    assert show(run, "net-show", renamed)["id"] == net["id"]
    assert net["id"] in run("net-list", "-f", "value", "-c", "id").out.split()
    assert rows(run("net-show", renamed).out)[0] == ["Field", "Value"]

    created = show(run, "subnet-create", renamed, "10.20.0.0/24", "--name", sub,
                   "--gateway", "10.20.0.1",
                   "--allocation-pool", "start=10.20.0.10,end=10.20.0.20",
                   "--dns-nameserver", "8.8.4.4",
                   "--host-route", "destination=10.30.0.0/24,nexthop=10.20.0.254",
                   "--disable-dhcp")
    assert created["gateway_ip"] == "10.20.0.1"
    assert created["allocation_pools"] == [{"start": "10.20.0.10", "end": "10.20.0.20"}]
    assert created["dns_nameservers"] == ["8.8.4.4"]
    assert created["host_routes"] == [{"destination": "10.30.0.0/24", "nexthop": "10.20.0.254"}]
    assert created["enable_dhcp"] is False
    listed = rows(run("subnet-list").out)
    assert listed[0] == ["id", "name", "cidr", "allocation_pools"]
    assert [created["id"], sub, "10.20.0.0/24",
            '{"start": "10.20.0.10", "end": "10.20.0.20"}'] in listed
    assert run("subnet-update", sub, "--enable-dhcp", "--no-gateway").out == \
        f"Updated subnet: {sub}\n"
    updated = show(run, "subnet-show", sub)
    assert updated["enable_dhcp"] is True and updated["gateway_ip"] is None

    made = show(run, "port-create", renamed, "--name", port,
                "--fixed-ip", f"subnet_id={sub},ip_address=10.20.0.15",
                "--mac-address", "fa:16:3e:12:34:56", "--device-id", "vm-1",
                "--device-owner", "compute:nova", "--binding:host_id", "HostA")
    assert made["fixed_ips"] == [{"subnet_id": created["id"], "ip_address": "10.20.0.15"}]
    assert made["mac_address"] == "fa:16:3e:12:34:56"
    assert (made["device_id"], made["device_owner"], made["binding:host_id"]) == (
        "vm-1", "compute:nova", "HostA")
    ports = rows(run("port-list").out)
    assert ports[0] == ["id", "name", "mac_address", "fixed_ips"]
    assert [made["id"], port, "fa:16:3e:12:34:56",
            f'{{"subnet_id": "{created["id"]}", "ip_address": "10.20.0.15"}}'] in ports
    assert run("port-update", port, "--name", port + "x", "--device-id", "vm-2").out == \
        f"Updated port: {port}\n"
    again = show(run, "port-show", port + "x")
    assert (again["id"], again["device_id"]) == (made["id"], "vm-2")

    # A network with a port in use cannot go: the server's NetworkInUse, in one line.
    refused = run("net-delete", renamed, ok=False)
    assert refused.code == 1 and refused.out == ""
    assert len(refused.err.strip().splitlines()) == 1
    assert "in use" in refused.err.lower() and net["id"] in refused.err

    assert run("port-delete", port + "x").out == f"Deleted port: {port}x\n"
    assert run("subnet-delete", sub).out == f"Deleted subnet: {sub}\n"
    assert run("net-delete", renamed).out == f"Deleted network: {renamed}\n"


def one_line_error(result, expected: str | None = None) -> str:
    assert result.code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result
    if expected is not None:
        assert lines[0] == expected
    return lines[0]


def test_errors_are_one_line(neutrino, fleet, server):
    dup = uniq("dup")
    ids = [show(neutrino, "net-create", dup)["id"] for _ in range(2)]
    try:
        one_line_error(neutrino("net-show", dup, ok=False),
                       f"Multiple network matches found for name '{dup}', use an ID to be "
                       "more specific.")
        one_line_error(neutrino("dhcp-agent-network-add", ids[0], dup, ok=False),
                       f"Multiple network matches found for name '{dup}', use an ID to be "
                       "more specific.")
        one_line_error(neutrino("net-delete", "no-such-net", ok=False),
                       "Unable to find network with name or id 'no-such-net'")

        missing = "00000000-0000-4000-8000-000000000000"
        one_line_error(neutrino("agent-show", missing, ok=False),
                       f"Agent {missing} could not be found.")
        agents = agents_by(neutrino)
        dhcp_a = agents[("DHCP agent", "HostA")]["id"]
        lb_a = agents[("Linux bridge agent", "HostA")]["id"]
        one_line_error(neutrino("dhcp-agent-network-remove", dhcp_a, ids[0], ok=False),
                       f"The network {ids[0]} is not hosted by the DHCP Agent {dhcp_a}.")
        one_line_error(neutrino("dhcp-agent-network-add", lb_a, ids[0], ok=False),
                       f"Agent {lb_a} is not a valid DHCP Agent or has been disabled.")
        bad = one_line_error(neutrino("subnet-create", ids[0], "9.0.300.0/24", ok=False))
        assert "9.0.300.0/24" in bad
    finally:
        for net_id in ids:
            neutrino("net-delete", net_id)

    env = server.cli_env("v2.0")
    env["OS_PASSWORD"] = "wrong"
    message = one_line_error(neutrino("net-list", env=env, ok=False))
    assert message.startswith("Authentication failed: ") and message.endswith("(HTTP 401)")
    assert message.count("401") == 1
    message = one_line_error(neutrino("--os-token", "not-a-token", "--os-url", server.url,
                                      "net-list", env=clean_env(), ok=False))
    assert message.startswith("Authentication failed: ") and message.endswith("(HTTP 401)")

    # A policy refusal (403) for the walk-through's member user.
    message = one_line_error(neutrino("net-create", uniq("mine"), "--shared",
                                      env=server.cli_env("v2.0", member=True), ok=False))
    assert "policy" in message

    port = free_port()
    env = server.cli_env("v2.0")
    env["OS_AUTH_URL"] = f"http://127.0.0.1:{port}/v2.0/"
    one_line_error(neutrino("net-list", env=env, ok=False),
                   f"Unable to establish connection to http://127.0.0.1:{port}/v2.0/tokens: "
                   "Connection refused")


def test_token_and_url_instead_of_a_password(neutrino, server):
    user, password, project = ADMIN
    auth = v3.Password(auth_url=server.auth_url("v3"), username=user, password=password,
                       project_name=project, user_domain_name="Default",
                       project_domain_name="Default")
    token = ks_session.Session(auth=auth).get_token()
    name = uniq("tok")
    env = clean_env({"OS_TOKEN": token, "OS_URL": server.url + "/"})
    created = show(neutrino, "net-create", name, env=env)
    listed = neutrino("--os-token", token, "--os-url", server.url, "net-list", "-f", "value",
                      "-c", "name", env=clean_env())
    assert name in listed.out.split()
    neutrino("net-delete", created["id"], env=env)


def test_global_options_instead_of_variables(neutrino, server):
    user, password, project = ADMIN
    result = neutrino("--os-auth-url", server.auth_url("v3"), "--os-username", user,
                      "--os-password", password, "--os-project-name", project,
                      "--os-region-name", "RegionOne", "ext-list", "-f", "value", "-c", "alias",
                      env=clean_env())
    assert "agent" in result.out.split()
    wrong_region = neutrino("--os-auth-url", server.auth_url("v3"), "--os-username", user,
                            "--os-password", password, "--os-project-name", project,
                            "--os-region-name", "Elsewhere", "ext-list", env=clean_env(),
                            ok=False)
    assert wrong_region.code == 1 and "network endpoint" in wrong_region.err.lower()
    # An auth URL without a version: keystoneauth discovers one.
    discovered = neutrino("--os-auth-url", server.url, "--os-username", user,
                          "--os-password", password, "--os-project-name", project,
                          "ext-list", "-f", "value", "-c", "alias", env=clean_env())
    assert "agent" in discovered.out.split()
    # --os-url replaces the catalog's endpoint, so the region no longer matters.
    overridden = neutrino("--os-region-name", "Elsewhere", "--os-url", server.url,
                          "ext-list", "-f", "value", "-c", "alias")
    assert "dhcp_agent_scheduler" in overridden.out.split()


def test_dead_agents_show_xxx_and_come_back(neutrino, fleet, rows, until):
    def face(host: str) -> str | None:
        for row in rows(neutrino("agent-list").out)[1:]:
            if row[1] == "Linux bridge agent" and row[2] == host:
                return row[3]
        return None

    fleet.pause("linuxbridge", "HostB")
    try:
        until(lambda: face("HostB") == "xxx", timeout=40, what="HostB's L2 agent to be dead")
        assert face("HostA") == ":-)"
        dead = agents_by(neutrino)[("Linux bridge agent", "HostB")]
        assert show(neutrino, "agent-show", dead["id"])["alive"] is False
    finally:
        fleet.resume("linuxbridge", "HostB")
    until(lambda: face("HostB") == ":-)", timeout=40, what="HostB's L2 agent to revive")


@pytest.mark.parametrize("fmt", ["json", "yaml", "csv", "value"])
def test_output_formats(neutrino, fleet, fmt):
    out = neutrino("agent-list", "-f", fmt, "-c", "host", "-c", "agent_type").out
    if fmt == "json":
        assert {(a["agent_type"], a["host"]) for a in json.loads(out)} >= {
            ("DHCP agent", "HostA"), ("Linux bridge agent", "HostB")}
    elif fmt == "yaml":
        assert "agent_type: DHCP agent" in out and "host: HostA" in out
    elif fmt == "csv":
        assert out.splitlines()[0] == '"agent_type","host"'
        assert '"DHCP agent","HostA"' in out.splitlines()
    else:
        assert "DHCP agent HostA" in out.splitlines()
