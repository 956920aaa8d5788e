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


def test_blocking_ancestor() -> None:
    import os
    import shutil
    import tempfile

    from neutrino.linux.files import blocking_ancestor
    base = tempfile.mkdtemp(prefix="nt-unit-")  # in /tmp, which everyone may enter
    try:
        os.chmod(base, 0o755)
        outer = os.path.join(base, "outer")
        inner = os.path.join(outer, "inner")
        os.makedirs(inner)
        os.chmod(outer, 0o700)
        assert blocking_ancestor(os.path.join(inner, "dhcp")) == outer
        os.chmod(outer, 0o711)
        assert blocking_ancestor(os.path.join(inner, "dhcp")) is None
    finally:
        shutil.rmtree(base)
