"""A VM resolves another VM's dns_name through the DHCP port's dnsmasq: real dnsmasq,
udhcpc and busybox nslookup in namespaces."""

from __future__ import annotations

import subprocess

import pytest
from support import netns as tn
from support.dhcp_lab import DhcpLab

pytestmark = pytest.mark.root

DOMAIN = "cloud.example.org"


def assignment(ip: str, name: str) -> list[dict[str, str]]:
    """As the server's API shows it with dns_domain = cloud.example.org."""
    return [{"ip_address": ip, "hostname": name, "fqdn": f"{name}.{DOMAIN}."}]


def resolve(ns: str, name: str, server: str) -> list[str]:
    done = subprocess.run(["nsenter", f"--net={ns}", "busybox", "nslookup", name, server],
                          capture_output=True, text=True, timeout=30)
    lines = done.stdout.splitlines()
    # The answer's addresses follow the "Name:" line (the server's own come before it).
    after = lines[next((i for i, line in enumerate(lines) if line.startswith("Name:")),
                       len(lines)):]
    return [line.split()[-1] for line in after if line.startswith("Address")]


def test_a_vm_resolves_another_vm_s_dns_name() -> None:
    with tn.NetnsResources() as res:
        lab = DhcpLab(res)
        plugin = lab.plugin
        net = plugin.add_network(cidr="10.94.0.0/24")
        web1 = plugin.add_port(net, ip="10.94.0.11", dns_name="web-1",
                               dns_assignment=assignment("10.94.0.11", "web-1"))
        plugin.add_port(net, ip="10.94.0.12", dns_name="web-2",
                        dns_assignment=assignment("10.94.0.12", "web-2"))
        agent = lab.agent(domain=DOMAIN)
        agent.start()
        tn.wait_for(lambda: net in agent.served(), timeout=30)
        dhcp_ip = lab.dhcp_port(net)["fixed_ips"][0]["ip_address"]

        client = lab.vm(net, web1["mac_address"])
        lease = tn.run_udhcpc(client, "eth0", tries=3, timeout=1,
                              extra_options=("domain", "hostname"))
        assert lease is not None and lease.ip == "10.94.0.11"
        # The DNS server handed out is the DHCP port's dnsmasq; the VM's name and domain.
        assert lease.fields["dns"] == dhcp_ip
        assert lease.fields["domain"] == DOMAIN
        assert lease.fields["hostname"] == "web-1"
        tn.ip("addr", "add", "10.94.0.11/24", "dev", "eth0", netns=client)

        assert resolve(client, f"web-2.{DOMAIN}", dhcp_ip) == ["10.94.0.12"]
        # The names of ports without a dns_name resolve too, as dns_assignment shows them.
        assert resolve(client, f"host-{dhcp_ip.replace('.', '-')}.{DOMAIN}", dhcp_ip) == \
            [dhcp_ip]
        assert resolve(client, f"nobody.{DOMAIN}", dhcp_ip) == []

        # A port created later: its name is served after the cast (SIGHUP, same dnsmasq).
        pid = agent.served()[net].pid
        web3 = plugin.add_port(net, ip="10.94.0.13", dns_name="web-3",
                               dns_assignment=assignment("10.94.0.13", "web-3"))
        agent.port_create_end({"port": web3})
        tn.wait_for(lambda: web3["id"] in agent.served()[net].ports)
        assert resolve(client, f"web-3.{DOMAIN}", dhcp_ip) == ["10.94.0.13"]
        assert agent.served()[net].pid == pid
