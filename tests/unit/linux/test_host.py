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


def test_release_packet() -> None:
    from neutrino.linux.dhcp_release import parse_client_id, release_packet
    pkt = release_packet("10.0.0.5", "fa:16:3e:aa:bb:cc", "10.0.0.2",
                         parse_client_id("01:fa:16:3e:aa:bb:cc"), xid=0x01020304)
    assert pkt[:4] == bytes((1, 1, 6, 0))  # BOOTREQUEST, ethernet
    assert pkt[4:8] == bytes((1, 2, 3, 4))
    assert pkt[12:16] == bytes((10, 0, 0, 5))  # ciaddr
    assert pkt[28:34] == bytes.fromhex("fa163eaabbcc")  # chaddr
    assert pkt[236:240] == bytes((99, 130, 83, 99))
    assert pkt[240:] == bytes((53, 1, 7, 54, 4, 10, 0, 0, 2, 61, 7, 1, 0xfa, 0x16, 0x3e,
                               0xaa, 0xbb, 0xcc, 255))
    assert parse_client_id("*") is None and parse_client_id("zz") is None


def test_release6_packet() -> None:
    from neutrino.linux.dhcp_release import release6_packet
    pkt = release6_packet(bytes.fromhex("00030001fa163eaabbcc"), bytes.fromhex("0003000102"),
                          7, "2001:db8::5", xid=0x010203)
    assert pkt[:4] == bytes((8, 1, 2, 3))  # RELEASE, transaction id
    assert pkt[4:18] == bytes.fromhex("0001000a" "00030001fa163eaabbcc")  # client id
    assert pkt[18:27] == bytes.fromhex("00020005" "0003000102")  # server id
    # IA_NA: IAID 7, T1 = T2 = 0, one IAADDR with both lifetimes 0.
    assert pkt[27:] == bytes.fromhex("00030028" "00000007" "00000000" "00000000"
                                     "00050018" "20010db8000000000000000000000005"
                                     "00000000" "00000000")
