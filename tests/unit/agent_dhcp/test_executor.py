from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from neutrino.agent.dhcp import executor
from neutrino.agent.dhcp.executor import DnsmasqAction, LinuxDhcpHost, dnsmasq_action
from neutrino.agent.dhcp.plan import NetworkPlan, conf_files
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


class _FakeLinks:
    """Records what the executor changes; sessions yield nothing (the fake needs none)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: self.calls.append(name)


class _FakeHost:
    """A converged network's links as the executor reads them; `index` is the ns- end's."""

    def __init__(self, plan: NetworkPlan) -> None:
        self.plan = plan
        self.index = 7
        self.sysctl_writes: list[dict[str, str]] = []
        self.ipv6 = True

    def get_link(self, sock: object, name: str) -> dict[str, object]:
        if name == self.plan.bridge:
            return {"up": True, "index": 3}
        return {"up": True, "index": 4, "master": 3, "mtu": self.plan.mtu}

    def dump_links(self, sock: object) -> dict[str, dict[str, object]]:
        return {"lo": {"up": True, "index": 1},
                self.plan.interface: {"up": True, "index": self.index,
                                      "mac": self.plan.mac, "mtu": self.plan.mtu}}

    def addresses(self, sock: object, index: int) -> list[str]:
        return list(self.plan.addresses)

    def write_sysctls_in(self, path: str, values: dict[str, str]) -> None:
        if not self.ipv6:  # a host booted with ipv6.disable=1 has no /proc/sys/net/ipv6
            raise FileNotFoundError(2, "No such file or directory")
        self.sysctl_writes.append(values)


def _converged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
               ) -> tuple[LinuxDhcpHost, NetworkPlan, _FakeHost, _FakeLinks]:
    nsdir = tmp_path / "netns"
    nsdir.mkdir()
    plan = NetworkPlan(
        network_id=NET, namespace=f"qdhcp-{NET}", bridge="brq8d5a1c3e-00", tap="tap1",
        interface="ns-1", mac="fa:16:3e:00:00:01", mtu=1500, addresses=("10.0.0.2/24",),
        dhcp_port_id="p", files=conf_files(str(tmp_path / "dhcp"), NET), hosts="", opts="",
        dns_hosts="", argv=())
    (nsdir / plan.namespace).write_text("")  # the namespace's mount point (its identity)
    fake, fake_links = _FakeHost(plan), _FakeLinks()
    monkeypatch.setattr(executor, "rtnl", fake)
    monkeypatch.setattr(executor, "rtnl_read", lambda host, fn, namespace=None: fn(None))
    monkeypatch.setattr(executor, "links", fake_links)
    monkeypatch.setattr(executor.netns, "ensure_namespace", lambda host, name: "")
    monkeypatch.setattr(executor, "write_sysctls_in", fake.write_sysctls_in)
    host = LinuxDhcpHost(HostNamespaces(None, str(nsdir)), str(tmp_path / "dhcp"))
    return host, plan, fake, fake_links


def test_links_check_writes_sysctls_only_for_a_new_namespace_or_link(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host, plan, fake, fake_links = _converged(tmp_path, monkeypatch)
    host._apply_links(plan)  # first sight in this process: written once
    assert fake.sysctl_writes == [{"ipv6/conf/default/accept_ra": "0",
                                   "ipv6/conf/ns-1/accept_ra": "0"}]
    host._apply_links(plan)  # nothing changed: nothing done
    host._apply_links(plan)
    assert len(fake.sysctl_writes) == 1
    assert fake_links.calls == []
    fake.index = 8  # the ns- end made again
    host._apply_links(plan)
    assert len(fake.sysctl_writes) == 2
    # The namespace made again: a new inode (made before the old one goes, so not reused).
    again = tmp_path / "netns" / "again"
    again.write_text("")
    again.replace(tmp_path / "netns" / plan.namespace)
    host._apply_links(plan)
    assert len(fake.sysctl_writes) == 3


def test_links_check_tolerates_a_host_without_ipv6(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host, plan, fake, fake_links = _converged(tmp_path, monkeypatch)
    fake.ipv6 = False
    host._apply_links(plan)
    host._apply_links(plan)
    assert fake.sysctl_writes == [] and fake_links.calls == []
