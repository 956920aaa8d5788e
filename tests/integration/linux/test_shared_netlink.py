"""The host's kept netlink client: one per HostNamespaces, shared by threads, in the host's
namespace, replaced when that namespace is, reopened after an error."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from support import netns as tn

from neutrino.linux import links, netns
from neutrino.linux.host import HostNamespaces, run

pytestmark = pytest.mark.root


@pytest.fixture
def res() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as r:
        yield r


def test_one_client_for_many_calls_from_many_threads(res: tn.NetnsResources) -> None:
    host = HostNamespaces(netns=res.namespace(), netns_dir=res.directory())
    res.defer(host.close)
    bridges = [tn.unique("ntb") for _ in range(8)]
    errors: list[BaseException] = []

    def work(bridge: str) -> None:
        try:
            for _ in range(3):
                links.ensure_bridge(host, bridge)
                assert bridge in links.list_links(host, "ntb")
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(b,)) for b in bridges]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert host._netlink.opened == 1
    # Made in the host's namespace, not in the namespace of the threads that asked.
    assert sorted(b for b in tn.links(host.netns) if b.startswith("ntb")) == sorted(bridges)
    assert not set(bridges) & set(tn.links())


def test_replaced_namespace_gets_a_new_client(res: tn.NetnsResources) -> None:
    keeper = HostNamespaces(None, res.directory())
    name = tn.unique("nth-")
    path = netns.ensure_namespace(keeper, name)
    res.defer(lambda: netns.delete_namespace(keeper, name))
    host = HostNamespaces(netns=path, netns_dir=res.directory())
    res.defer(host.close)
    bridge = tn.unique("ntb")
    links.ensure_bridge(host, bridge)
    assert links.link_exists(host, bridge)

    netns.delete_namespace(keeper, name)
    with pytest.raises(FileNotFoundError):
        links.link_exists(host, bridge)
    netns.ensure_namespace(keeper, name)  # a new, empty namespace at the same path
    assert not links.link_exists(host, bridge)
    assert links.list_links(host) == ["lo"]
    assert host._netlink.opened == 2


def test_client_reopened_after_a_socket_error(res: tn.NetnsResources) -> None:
    host = HostNamespaces(netns=res.namespace(), netns_dir=res.directory())
    res.defer(host.close)
    assert links.list_links(host) == ["lo"]

    def broken(ipr: object) -> None:
        raise OSError("connection lost (test)")

    with pytest.raises(OSError):
        run(host, broken)
    assert links.list_links(host) == ["lo"]
    assert host._netlink.opened == 2
    # A kernel error (no such link) keeps the client.
    with pytest.raises(links.LinkNotFound):
        links.set_up(host, "nosuchlink0")
    assert links.list_links(host) == ["lo"]
    assert host._netlink.opened == 2


def test_close_releases_and_reopens(res: tn.NetnsResources) -> None:
    host = HostNamespaces(netns=res.namespace(), netns_dir=res.directory())
    assert links.list_links(host) == ["lo"]
    host.close()
    assert links.list_links(host) == ["lo"]
    host.close()
    assert host._netlink.opened == 2
