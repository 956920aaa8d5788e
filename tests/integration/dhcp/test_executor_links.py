"""LinuxDhcpHost checks a network's links when what they are made from changes, and every
`verify_links_every` seconds; port changes in between only touch dnsmasq's files."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from support import netns as tn

from neutrino.agent.dhcp import plan as planning
from neutrino.agent.dhcp.executor import DnsmasqAction, LinuxDhcpHost
from neutrino.agent.dhcp.fakes import FakeDhcpPlugin
from neutrino.agent.dhcp.plan import conf_files
from neutrino.agent.dhcp.reconciler import Reconciler
from neutrino.lib import naming
from neutrino.linux.host import HostNamespaces

pytestmark = pytest.mark.root


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def setup() -> Iterator[tuple]:
    with tn.NetnsResources() as res:
        host = HostNamespaces(res.namespace("nthost-"), res.directory("ntns-"))
        res.defer(host.close)
        confs = res.directory("ntconf-")
        os.chmod(confs, 0o755)
        plugin = FakeDhcpPlugin()
        clock = Clock()
        dhcp_host = LinuxDhcpHost(host, confs, verify_links_every=60, clock=clock)
        params = planning.PlanParams(host="HostA", confs_dir=confs, domain="openstacklocal",
                                     lease_duration=120, dns_servers=(), lease_max=2 ** 24)
        rec = Reconciler(plugin, dhcp_host, params)
        res.defer(lambda: [dhcp_host.teardown(n) for n in plugin.networks])
        res.defer(lambda: [tn.kill_pid_file(os.path.join(confs, n, "pid"), "dnsmasq")
                           for n in plugin.networks])
        yield host, plugin, clock, dhcp_host, rec


def test_links_checked_on_change_and_periodically(setup: tuple) -> None:
    host, plugin, clock, dhcp_host, rec = setup
    net = plugin.add_network(cidr="10.78.0.0/24", mtu=1450)
    served = rec.reconcile(net, plugin.info(net), False)
    assert served is not None
    tap = naming.tap_name(served.dhcp_port_id)
    assert tn.link_master(tap, host.netns) == naming.bridge_name(net)

    # Someone unplugs the tap. A port change within the period only rewrites the hosts
    # file and reloads dnsmasq.
    tn.ip("link", "set", tap, "nomaster", netns=host.netns)
    vm = plugin.add_port(net)
    served = rec.reconcile(net, plugin.info(net), True)
    with open(conf_files(dhcp_host._confs_dir, net).hosts) as f:
        hosts = f.read()
    assert vm["mac_address"] in hosts
    assert tn.link_master(tap, host.netns) is None

    # After the period the links are checked again and repaired; dnsmasq is kept.
    clock.now += 61
    again = rec.reconcile(net, plugin.info(net), True)
    assert tn.link_master(tap, host.netns) == naming.bridge_name(net)
    assert again is not None and again.pid == served.pid

    # A change in what the links are made from (the MTU) is applied at once.
    plugin.networks[net]["mtu"] = 1400
    rec.reconcile(net, plugin.info(net), True)
    assert "mtu 1400" in tn.ip("link", "show", tap, netns=host.netns)


def test_a_new_host_object_checks_everything(setup: tuple) -> None:
    host, plugin, clock, dhcp_host, rec = setup
    net = plugin.add_network(cidr="10.79.0.0/24")
    served = rec.reconcile(net, plugin.info(net), False)
    assert served is not None
    tap = naming.tap_name(served.dhcp_port_id)
    tn.ip("link", "set", tap, "down", netns=host.netns)
    flags = tn.ip("link", "show", tap, netns=host.netns).split("<", 1)[1].split(">", 1)[0]
    assert "UP" not in flags.split(",")
    # A restarted agent (a fresh LinuxDhcpHost) adopts dnsmasq and repairs the links.
    fresh = LinuxDhcpHost(host, dhcp_host._confs_dir, clock=clock)
    applied = fresh.apply(planning.build_plan(
        served.info, planning.own_dhcp_port(served.info, rec.device_id(net)), rec._params))
    assert applied.pid == served.pid and applied.action is DnsmasqAction.NONE
    flags = tn.ip("link", "show", tap, netns=host.netns).split("<", 1)[1].split(">", 1)[0]
    assert "UP" in flags.split(",")


def _accept_ra(namespace: str, interface: str, value: str | None = None) -> str:
    path = f"/proc/sys/net/ipv6/conf/{interface}/accept_ra"
    argv = ["sh", "-c", f"echo {value} > {path}"] if value else ["cat", path]
    done = subprocess.run(["nsenter", f"--net={namespace}", *argv],
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip()


def test_a_dhcp_port_made_again_takes_no_router_advertisements(setup: tuple) -> None:
    host, plugin, clock, dhcp_host, rec = setup
    net = plugin.add_network(cidr="10.80.0.0/24")
    served = rec.reconcile(net, plugin.info(net), False)
    assert served is not None
    namespace = host.namespace_path(naming.dhcp_namespace(net))
    inner = naming.ns_device_name(served.dhcp_port_id)
    assert _accept_ra(namespace, inner) == "0"
    assert _accept_ra(namespace, "default") == "0"
    # Someone resets the default and deletes the port's device: the device the next check
    # makes would inherit accept_ra 1, but is set again.
    _accept_ra(namespace, "default", "1")
    tn.ip("link", "del", inner, netns=namespace)
    clock.now += 61
    rec.reconcile(net, plugin.info(net), True)
    assert _accept_ra(namespace, inner) == "0"
    assert _accept_ra(namespace, "default") == "0"
