from __future__ import annotations

from pathlib import Path

from neutrino.agent.dhcp.executor import DnsmasqAction, LinuxDhcpHost, dnsmasq_action
from neutrino.linux.host import HostNamespaces

NET = "8d5a1c3e-0000-4000-8000-000000000001"
NET2 = "8d5a1c3e-0000-4000-8000-000000000002"


def test_dnsmasq_action() -> None:
    argv = ("dnsmasq", "--a")
    assert dnsmasq_action(None, argv, False) is DnsmasqAction.START
    assert dnsmasq_action(["dnsmasq", "--b"], argv, False) is DnsmasqAction.RESTART
    assert dnsmasq_action(["dnsmasq", "--b"], argv, True) is DnsmasqAction.RESTART
    assert dnsmasq_action(list(argv), argv, True) is DnsmasqAction.RELOAD
    assert dnsmasq_action(list(argv), argv, False) is DnsmasqAction.NONE


def test_existing_networks_only_counts_ours(tmp_path: Path) -> None:
    confs, nsdir = tmp_path / "dhcp", tmp_path / "netns"
    (confs / NET).mkdir(parents=True)
    (confs / "lost+found").mkdir()
    (confs / "stray-file").write_text("")
    nsdir.mkdir()
    (nsdir / f"qdhcp-{NET2}").write_text("")
    (nsdir / "qrouter-x").write_text("")
    (nsdir / "qdhcp-..").mkdir()
    host = LinuxDhcpHost(HostNamespaces(None, str(nsdir)), str(confs))
    assert host.existing_networks() == {NET, NET2}


def test_no_io_in_constructor(tmp_path: Path) -> None:
    LinuxDhcpHost(HostNamespaces("/nonexistent", str(tmp_path / "a")), str(tmp_path / "b"))
    assert list(tmp_path.iterdir()) == []
