import pytest

from neutrino.linux.host import HostNamespaces


def test_paths() -> None:
    host = HostNamespaces(netns="/run/netns/hostA", netns_dir="/var/lib/x/netns")
    assert host.namespace_path("qdhcp-1") == "/var/lib/x/netns/qdhcp-1"
    assert host.netns_path() == "/run/netns/hostA"
    assert host.netns_path("qdhcp-1") == "/var/lib/x/netns/qdhcp-1"
    assert HostNamespaces().netns_path() is None
    assert HostNamespaces().namespace_path("a") == "/run/netns/a"


@pytest.mark.parametrize("bad", ["", "..", ".", "a/b", "../etc"])
def test_names_cannot_escape_the_directory(bad: str) -> None:
    with pytest.raises(ValueError):
        HostNamespaces().namespace_path(bad)
