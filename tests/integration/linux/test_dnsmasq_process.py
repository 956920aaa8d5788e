"""neutrino.linux.dnsmasq: a pid file is trusted only when it names our dnsmasq."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from support import netns as tn

from neutrino.linux import dnsmasq, files, netns
from neutrino.linux.host import HostNamespaces

pytestmark = pytest.mark.root


@pytest.fixture
def res() -> Iterator[tn.NetnsResources]:
    with tn.NetnsResources() as r:
        yield r


def test_start_find_reload_stop_and_foreign_pid_files(res: tn.NetnsResources) -> None:
    host = HostNamespaces(res.namespace(), res.directory())
    conf = res.directory()
    os.chmod(conf, 0o755)
    ns = tn.unique("qdhcp-")
    netns.ensure_namespace(host, ns)
    pid_file = os.path.join(conf, "pid")
    res.track_pid_file(pid_file, "dnsmasq")
    files.write_atomic(os.path.join(conf, "host"), "fa:16:3e:00:00:01,h,10.6.0.5\n")
    argv = ["dnsmasq", "--conf-file=", "--no-hosts", "--no-resolv", "--port=0",
            f"--pid-file={pid_file}", f"--dhcp-hostsfile={conf}/host",
            f"--dhcp-leasefile={conf}/leases", "--interface=lo",
            "--dhcp-range=10.6.0.0,static,255.255.255.0,120s"]
    pid = dnsmasq.start(host, ns, argv, pid_file)
    try:
        assert dnsmasq.find(pid_file) == (pid, argv)
        # It runs inside the named namespace, not the host's or ours.
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
        assert os.stat(f"/proc/{pid}/ns/net").st_ino == \
            os.stat(host.namespace_path(ns)).st_ino
        assert dnsmasq.reload(pid)
        assert dnsmasq.find(pid_file)[0] == pid  # SIGHUP keeps the process

        # A pid file naming a process that is not our dnsmasq is never trusted or signalled.
        sleeper = subprocess.Popen(["sleep", "60"])
        res.defer(lambda: (sleeper.kill(), sleeper.wait()))
        other = os.path.join(conf, "other.pid")
        with open(other, "w") as f:
            f.write(f"{sleeper.pid}\n")
        assert dnsmasq.find(other) is None
        assert not dnsmasq.stop(other)
        assert sleeper.poll() is None
        # Nor is our dnsmasq when the pid file is another network's.
        with open(other, "w") as f:
            f.write(f"{pid}\n")
        assert dnsmasq.find(other) is None
        assert not dnsmasq.stop(other)
        assert tn.pid_alive(pid)
    finally:
        assert dnsmasq.stop(pid_file)
        netns.delete_namespace(host, ns)
    assert not tn.pid_alive(pid)
    assert dnsmasq.find(pid_file) is None


def test_write_atomic_reports_changes(res: tn.NetnsResources) -> None:
    path = os.path.join(res.directory(), "opts")
    assert files.write_atomic(path, "a\n")
    assert not files.write_atomic(path, "a\n")
    assert files.write_atomic(path, "b\n")
    assert files.read_text(path) == "b\n"
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert os.listdir(os.path.dirname(path)) == ["opts"]  # no temporary files left
