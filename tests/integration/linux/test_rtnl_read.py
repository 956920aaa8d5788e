"""The plain-socket netlink reader agrees with pyroute2 on links and addresses."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support import netns as tn

from neutrino.linux import links, netns, rtnl
from neutrino.linux.host import HostNamespaces, read

pytestmark = pytest.mark.root


@pytest.fixture
def res() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as r:
        yield r


def test_reads_match_pyroute2(res: tn.NetnsResources) -> None:
    host = HostNamespaces(netns=res.namespace(), netns_dir=res.directory())
    res.defer(host.close)
    inner_ns = tn.unique("qdhcp-")
    netns.ensure_namespace(host, inner_ns)
    res.defer(lambda: netns.delete_namespace(host, inner_ns))
    bridge, tap = tn.unique("ntb"), tn.unique("ntt")
    links.ensure_bridge(host, bridge)
    links.ensure_veth(host, tap, "ns-x", inner_ns, peer_mac="fa:16:3e:00:00:07", mtu=1400)
    links.enslave(host, tap, bridge)
    links.set_up(host, "ns-x", namespace=inner_ns)
    links.set_addresses(host, "ns-x", ["10.9.0.2/24", "fd00::2/64"], namespace=inner_ns)

    for namespace in (None, inner_ns):
        expected = links.links_info(host, namespace=namespace)
        got = read(host, rtnl.dump_links, namespace)
        assert {n: {k: v for k, v in i.items() if k != "index"} for n, i in got.items()} \
            == expected
    assert read(host, lambda s: rtnl.get_link(s, "nosuch0")) is None
    tap_link = read(host, lambda s: rtnl.get_link(s, tap))
    bridge_link = read(host, lambda s: rtnl.get_link(s, bridge))
    assert tap_link["master"] == bridge_link["index"] and tap_link["mtu"] == 1400
    inner = read(host, rtnl.dump_links, inner_ns)["ns-x"]
    assert inner["mac"] == "fa:16:3e:00:00:07"
    got = read(host, lambda s: rtnl.addresses(s, inner["index"]), inner_ns)
    assert got == links.get_addresses(host, "ns-x", namespace=inner_ns)
    assert {"10.9.0.2/24", "fd00::2/64"} <= set(got)
