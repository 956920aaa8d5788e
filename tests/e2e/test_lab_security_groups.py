"""Security groups in the lab, end to end: the API, the server's casts and RPC, the real
Linux bridge agents (firewall_driver = iptables) on two hosts, and VMs talking (ping, a TCP
listener) through `neutrino-lab vm exec`, as a person would try it by hand.

Two VMs on one network, on different hosts, in different groups: ping and TCP are blocked,
allowed by adding a rule, blocked again by deleting it; a remote_group_id rule follows a VM
that joins the group; a spoofed source is dropped unless an allowed address pair says so;
DHCP works throughout; port_security_enabled = False lets everything through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from neutrino.lab.api import Credentials, NetworkApi
from neutrino.lab.lab import Lab
from neutrino.lab.system import wait_for
from neutrino.lab.vm import Vms

pytestmark = [pytest.mark.root, pytest.mark.rabbit]

LISTENER = textwrap.dedent("""
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 8022))
    s.listen(8)
    while True:
        c, _ = s.accept()
        c.sendall(b"hello")
        c.close()
""")
CONNECT = textwrap.dedent("""
    import socket, sys
    c = socket.create_connection((sys.argv[1], 8022), timeout=2)
    sys.exit(0 if c.recv(10) == b"hello" else 1)
""")


def lab_argv(lab: Lab, *args: str) -> list[str]:
    """`neutrino-lab GROUP COMMAND` with this lab's names, then `args[2:]` (the names go
    first: everything after `vm exec NAME` is the command)."""
    names = lab.names
    return ["neutrino-lab", *args[:2], "--name", names.lab, "--run-base", names.run_base,
            "--state-base", names.state_base, *args[2:]]


def lab_cli(lab: Lab, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(lab_argv(lab, *args), capture_output=True, text=True,
                          timeout=timeout)


def vm_exec(lab: Lab, vm: str, *argv: str) -> bool:
    return lab_cli(lab, "vm", "exec", vm, "--", *argv).returncode == 0


def pings(lab: Lab, vm: str, ip: str, source: str | None = None) -> bool:
    return vm_exec(lab, vm, "ping", "-c", "1", "-W", "1",
                   *(["-I", source] if source else []), ip)


def connects(lab: Lab, vm: str, ip: str) -> bool:
    return vm_exec(lab, vm, sys.executable, "-c", CONNECT, ip)


def rule(api: NetworkApi, group: str, **fields: Any) -> str:
    body = {"security_group_rule": {"security_group_id": group, "direction": "ingress",
                                    "ethertype": "IPv4", **fields}}
    created: str = api.call("POST", "security-group-rules", body)["security_group_rule"]["id"]
    return created


def test_security_groups_on_the_hosts(lab_factory):
    lab = lab_factory()
    st = lab.up("rabbit", hosts=("HostA", "HostB"), firewall_driver="iptables")
    api = NetworkApi(Credentials(f"http://127.0.0.1:{st.api_port}/v2.0/", "admin",
                                 "adminpassword", "admin"))
    net = api.call("POST", "networks", {"network": {"name": "sgnet"}})["network"]
    api.call("POST", "subnets", {"subnet": {"network_id": net["id"], "cidr": "10.6.0.0/24",
                                            "ip_version": 4}})
    group_a = api.call("POST", "security-groups",
                       {"security_group": {"name": "sg-a"}})["security_group"]["id"]
    group_b = api.call("POST", "security-groups",
                       {"security_group": {"name": "sg-b"}})["security_group"]["id"]
    vms = Vms(lab, api)
    vm1 = vms.boot("vm1", net["id"], "HostA")
    vm2 = vms.boot("vm2", net["id"], "HostB")
    api.call("PUT", f"ports/{vm1.port_id}", {"port": {"security_groups": [group_a]}})
    api.call("PUT", f"ports/{vm2.port_id}", {"port": {"security_groups": [group_b]}})
    wait_for(lambda: {r.name for r in vms.rows() if r.status == "ACTIVE"} == {"vm1", "vm2"},
             90, 0.5, "both VMs ACTIVE")
    ip1 = api.get_port(vm1.port_id)["fixed_ips"][0]["ip_address"]
    ip2 = api.get_port(vm2.port_id)["fixed_ips"][0]["ip_address"]
    # DHCP works with the groups' default rules (egress only).
    assert wait_for(lambda: vms.dhcp("vm1") == ip1, 60, 0, "vm1's lease")
    assert wait_for(lambda: vms.dhcp("vm2") == ip2, 60, 0, "vm2's lease")

    # Its own session: the listener (a grandchild, in vm2's namespace) goes with the group.
    listener = subprocess.Popen(
        lab_argv(lab, "vm", "exec", "vm2", "--", sys.executable, "-c", LISTENER),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_for(lambda: ":8022" in lab_cli(lab, "vm", "exec", "vm2", "--", "ss",
                                            "-ltn").stdout, 30, 0.2, "vm2's listener")
        assert not pings(lab, "vm1", ip2) and not connects(lab, "vm1", ip2)

        # Allowed by adding rules ...
        icmp = rule(api, group_b, protocol="icmp")
        tcp = rule(api, group_b, protocol="tcp", port_range_min=8022, port_range_max=8022)
        wait_for(lambda: pings(lab, "vm1", ip2), 30, 0.2, "ping allowed")
        assert connects(lab, "vm1", ip2)
        # ... blocked again by deleting them.
        api.call("DELETE", f"security-group-rules/{icmp}")
        api.call("DELETE", f"security-group-rules/{tcp}")
        wait_for(lambda: not pings(lab, "vm1", ip2), 30, 0.2, "ping blocked")
        assert not connects(lab, "vm1", ip2)

        # A remote group rule follows a VM joining the group.
        rule(api, group_b, protocol="icmp", remote_group_id=group_b)
        assert not pings(lab, "vm1", ip2)
        api.call("PUT", f"ports/{vm1.port_id}",
                 {"port": {"security_groups": [group_a, group_b]}})
        wait_for(lambda: pings(lab, "vm1", ip2), 30, 0.2, "vm1 in sg-b reaches vm2")

        # A spoofed source is dropped, unless an allowed address pair says so.
        assert vm_exec(lab, "vm1", "ip", "addr", "add", "10.6.0.250/24", "dev", "eth0")
        assert not pings(lab, "vm1", ip2, source="10.6.0.250")
        api.call("PUT", f"ports/{vm1.port_id}", {"port": {
            "allowed_address_pairs": [{"ip_address": "10.6.0.250"}]}})
        wait_for(lambda: pings(lab, "vm1", ip2, source="10.6.0.250"), 30, 0.2,
                 "the allowed pair's source passes")

        # Port security off: everything through (no rule allows TCP to vm2 now).
        assert not connects(lab, "vm1", ip2)
        api.call("PUT", f"ports/{vm2.port_id}", {"port": {
            "security_groups": [], "port_security_enabled": False}})
        wait_for(lambda: connects(lab, "vm1", ip2), 30, 0.2, "vm2 unfiltered")

        # DHCP still works for every VM.
        assert vms.dhcp("vm1") == ip1 and vms.dhcp("vm2") == ip2
    finally:
        os.killpg(listener.pid, signal.SIGKILL)
        listener.wait()
