"""neutrino.linux against the real kernel, inside throw-away test namespaces."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support import netns as tn

from neutrino.linux import links, netns
from neutrino.linux.host import HostNamespaces

pytestmark = pytest.mark.root


@pytest.fixture
def res() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as r:
        yield r


@pytest.fixture
def host(res: tn.NetnsResources) -> HostNamespaces:
    return HostNamespaces(netns=res.namespace(), netns_dir=res.directory())


def test_named_namespace_lifecycle(host: HostNamespaces) -> None:
    name = tn.unique("qdhcp-")
    assert not netns.namespace_exists(host, name)
    path = netns.ensure_namespace(host, name)
    assert path == os.path.join(host.netns_dir, name)
    assert netns.namespace_exists(host, name)
    assert netns.ensure_namespace(host, name) == path  # idempotent
    assert netns.list_namespaces(host, "qdhcp-") == [name]
    # A real, separate network namespace: only a loopback device, not the host's links.
    assert tn.links(path) == ["lo"]
    assert os.stat(path).st_ino != os.stat(host.netns).st_ino
    assert netns.delete_namespace(host, name)
    assert not os.path.exists(path)
    assert not netns.delete_namespace(host, name)
    assert netns.list_namespaces(host) == []


def test_bridge_enslave(host: HostNamespaces, res: tn.NetnsResources) -> None:
    # No dummy driver on every kernel: a veth end stands in for the physical interface.
    res.veth("eth0", "eth0p", ns_a=host.netns, ns_b=host.netns)
    assert links.ensure_bridge(host, "brqtest")
    assert not links.ensure_bridge(host, "brqtest")
    links.enslave(host, "eth0", "brqtest")
    links.enslave(host, "eth0", "brqtest")
    assert tn.link_master("eth0", host.netns) == "brqtest"
    assert links.link_info(host, "eth0")["master"] == "brqtest"
    info = links.link_info(host, "brqtest")
    assert info is not None and info["up"] and info["kind"] == "bridge"
    assert links.list_links(host, "brq") == ["brqtest"]
    assert links.list_links(host, "eth0") == ["eth0", "eth0p"]
    everything = links.links_info(host)
    assert set(everything) == {"lo", "eth0", "eth0p", "brqtest"}
    assert everything["eth0"] == links.link_info(host, "eth0")
    assert everything["brqtest"] == info
    assert set(links.links_info(host, "eth0")) == {"eth0", "eth0p"}
    assert links.delete_link(host, "brqtest")
    assert not links.delete_link(host, "brqtest")
    assert "brqtest" not in tn.links(host.netns)
    with pytest.raises(links.LinkNotFound):
        links.ensure_vlan(host, "nosuch", 5, "nosuch.5")
    # Nothing leaked into the test process's own namespace.
    assert "brqtest" not in tn.links()


@pytest.mark.skipif(not tn.kernel_supports("vlan"),
                    reason="this kernel has no 802.1Q (8021q) support")
def test_vlan_device(host: HostNamespaces, res: tn.NetnsResources) -> None:
    res.veth("eth0", "eth0p", ns_a=host.netns, ns_b=host.netns)
    links.ensure_bridge(host, "brqtest")
    assert links.ensure_vlan(host, "eth0", 1000, "eth0.1000")
    assert not links.ensure_vlan(host, "eth0", 1000, "eth0.1000")
    links.enslave(host, "eth0.1000", "brqtest")
    assert tn.link_master("eth0.1000", host.netns) == "brqtest"
    out = tn.ip("-d", "-o", "link", "show", "eth0.1000", netns=host.netns)
    assert "vlan protocol 802.1Q id 1000" in out


def test_veth_into_named_namespace(host: HostNamespaces) -> None:
    ns = tn.unique("qdhcp-")
    netns.ensure_namespace(host, ns)
    try:
        assert links.ensure_veth(host, "tapabc", "ns-abc", ns, peer_mac="fa:16:3e:11:22:33",
                                 mtu=1450)
        assert not links.ensure_veth(host, "tapabc", "ns-abc", ns)
        path = host.namespace_path(ns)
        assert "ns-abc" in tn.links(path)
        assert "tapabc" in tn.links(host.netns)
        assert tn.link_mac("ns-abc", path) == "fa:16:3e:11:22:33"
        assert links.link_info(host, "ns-abc", ns)["mtu"] == 1450
        links.set_mac(host, "ns-abc", "fa:16:3e:11:22:44", namespace=ns)
        assert tn.link_mac("ns-abc", path) == "fa:16:3e:11:22:44"
        links.set_mtu(host, "tapabc", 1400)
        assert links.link_info(host, "tapabc")["mtu"] == 1400
        links.set_up(host, "ns-abc", namespace=ns)
        links.set_addresses(host, "ns-abc", ["10.1.0.2/24", "10.2.0.2/16"], namespace=ns)
        assert tn.addresses("ns-abc", path) == ["10.1.0.2/24", "10.2.0.2/16"]
        links.set_addresses(host, "ns-abc", ["10.1.0.3/24"], namespace=ns)
        assert tn.addresses("ns-abc", path) == ["10.1.0.3/24"]
        assert links.get_addresses(host, "ns-abc", namespace=ns) == ["10.1.0.3/24"]
        # A half pair (peer gone) is replaced.
        tn.ip("link", "del", "ns-abc", netns=path)
        assert "tapabc" not in tn.links(host.netns)
        tn.ip("link", "add", "tapabc", "type", "veth", "peer", "name", "tapabcp",
              netns=host.netns)
        assert links.ensure_veth(host, "tapabc", "ns-abc", ns)
        assert "ns-abc" in tn.links(path)
        assert "tapabcp" not in tn.links(host.netns)
        assert links.delete_link(host, "tapabc")
        assert "ns-abc" not in tn.links(path)
    finally:
        netns.delete_namespace(host, ns)


def test_own_namespace_when_netns_is_none(res: tn.NetnsResources) -> None:
    host = HostNamespaces(netns=None, netns_dir=res.directory())
    name = tn.unique("ntbr")
    try:
        assert links.ensure_bridge(host, name)
        assert name in tn.links()
    finally:
        links.delete_link(host, name)
    assert name not in tn.links()


def test_missing_host_namespace_is_not_created(res: tn.NetnsResources) -> None:
    missing = os.path.join(res.directory(), "nosuch")
    host = HostNamespaces(netns=missing, netns_dir=res.directory())
    with pytest.raises(OSError):
        links.list_links(host)
    assert not os.path.exists(missing)
