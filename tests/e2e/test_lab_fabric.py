"""The lab's hosts, physnet1, management link, forwarder, VMs and cleanup, for real."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from neutrino.lab import fabric
from neutrino.lab.lab import LabError
from neutrino.lab.state import VmRecord
from neutrino.lab.system import pid_alive, run, start
from neutrino.lab.vm import Vms, vm_link_commands

pytestmark = pytest.mark.root

PY = sys.executable


def in_host(lab, host, argv, check=True, timeout=30):
    pid = lab.load().hosts[host].holder_pid
    return run(fabric.in_host(pid, argv), check=check, timeout=timeout)


def test_up_makes_isolated_hosts_and_down_removes_everything(lab_factory):
    lab = lab_factory()
    lab.up(hosts=("HostA", "HostB"), services=False)
    st = lab.load()
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for host in ("HostA", "HostB"):
        assert lab.names.host_netns(host) in netns
        assert pid_alive(st.hosts[host].holder_pid)
        links = in_host(lab, host, ["ip", "-o", "link"]).stdout
        assert " eth0@" in links and " mgmt0@" in links
        hosts_file = in_host(lab, host, ["cat", "/etc/hosts"]).stdout
        assert "172.30.0.10\tcontrolnode" in hosts_file and host in hosts_file
    # Each host's /run/netns is its own: a qdhcp namespace made in HostA is HostA's alone.
    in_host(lab, "HostA", ["ip", "netns", "add", "qdhcp-labtest"])
    assert "qdhcp-labtest" in in_host(lab, "HostA", ["ip", "netns", "list"]).stdout
    assert "qdhcp-labtest" not in in_host(lab, "HostB", ["ip", "netns", "list"]).stdout
    assert not os.path.exists("/run/netns/qdhcp-labtest")
    # ... and it outlives the process that made it (as dnsmasq outlives an agent restart).
    assert "qdhcp-labtest" in in_host(lab, "HostA", ["ip", "netns", "list"]).stdout
    # The root end of every eth0 is a port of physnet1.
    for index in (0, 1):
        out = run(["ip", "-o", "link", "show", lab.names.phys_veth(index)]).stdout
        assert f"master {lab.names.physnet_bridge}" in out
    lab.down()
    assert lab.leftovers() == []


def test_hosts_reach_each_other_on_the_management_network(lab_factory):
    lab = lab_factory()
    lab.up(hosts=("HostA", "HostB"), services=False)
    server = start(fabric.in_host(lab.load().hosts["HostB"].holder_pid,
                                  [PY, "-m", "http.server", "--bind", "172.30.0.12", "8765"]),
                   log_path=lab.names.log_file("http"), cgroup=lab.cgroup, leaf="test")
    code = ("import urllib.request,time\n"
            "for _ in range(100):\n"
            "    try: print(urllib.request.urlopen('http://172.30.0.12:8765/').status); break\n"
            "    except OSError: time.sleep(0.1)\n")
    assert in_host(lab, "HostA", [PY, "-c", code]).stdout.strip() == "200"
    server.kill()
    server.wait()


def test_forwarder_brings_controlnode_loopback_services_to_the_hosts(lab_factory):
    lab = lab_factory()
    lab.up(hosts=("HostA",), services=False)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]

    def echo_once():
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"hello " + conn.recv(100))
    t = threading.Thread(target=echo_once, daemon=True)
    t.start()
    st = lab.load()
    lab._start_forwarder(st, [f"172.30.0.10:{port}={port}"])
    code = ("import socket\n"
            f"s = socket.create_connection(('controlnode', {port}), timeout=10)\n"
            "s.sendall(b'HostA'); print(s.recv(100).decode())\n")
    assert in_host(lab, "HostA", [PY, "-c", code]).stdout.strip() == "hello HostA"
    t.join(5)
    listener.close()
    # Nothing listens on the management address in the root namespace.
    with pytest.raises(OSError):
        socket.create_connection(("172.30.0.10", port), timeout=1)


def test_physnet_vlans_are_separate_segments(lab_factory):
    lab = lab_factory()
    lab.up(hosts=("HostA", "HostB"), services=False)
    st = lab.load()
    if st.emulated_vlans:
        lab.ensure_vlans({1000, 1001})
    else:
        for host in ("HostA", "HostB"):
            for vlan in (1000, 1001):
                in_host(lab, host, ["ip", "link", "add", "link", "eth0", "name",
                                    f"eth0.{vlan}", "type", "vlan", "id", str(vlan)])
                in_host(lab, host, ["ip", "link", "set", f"eth0.{vlan}", "up"])
    # Hosts answer ARP only on the interface holding the address (as separate VMs would).
    for host in ("HostA", "HostB"):
        in_host(lab, host, ["sysctl", "-q", "-w", "net.ipv4.conf.all.arp_ignore=1"])
    in_host(lab, "HostA", ["ip", "addr", "add", "10.9.0.1/24", "dev", "eth0.1000"])
    in_host(lab, "HostB", ["ip", "addr", "add", "10.9.0.2/24", "dev", "eth0.1001"])
    server = start(fabric.in_host(st.hosts["HostA"].holder_pid,
                                  [PY, "-m", "http.server", "--bind", "10.9.0.1", "8765"]),
                   log_path=lab.names.log_file("http"), cgroup=lab.cgroup, leaf="test")
    probe = ("import urllib.request,time,sys\n"
             "for _ in range(int(sys.argv[1])):\n"
             "    try: print(urllib.request.urlopen('http://10.9.0.1:8765/', timeout=1).status);"
             " break\n"
             "    except OSError: time.sleep(0.2)\n"
             "else: print('unreachable')\n")
    # Other VLAN: HostA's VLAN 1000 address is out of reach.
    assert in_host(lab, "HostB", [PY, "-c", probe, "3"]).stdout.strip() == "unreachable"
    in_host(lab, "HostB", ["ip", "addr", "del", "10.9.0.2/24", "dev", "eth0.1001"])
    in_host(lab, "HostB", ["ip", "addr", "add", "10.9.0.3/24", "dev", "eth0.1000"])
    assert in_host(lab, "HostB", [PY, "-c", probe, "50"]).stdout.strip() == "200"
    server.kill()
    server.wait()


def test_vm_gets_its_address_from_a_dhcp_server_on_its_host(lab_factory, tmp_path):
    lab = lab_factory()
    lab.up(hosts=("HostA",), services=False)
    names = lab.names
    port_id, mac = "0123456789abcdef0123", "fa:16:3e:12:34:56"
    for argv in vm_link_commands(names.vm_netns("vm1"), names.host_netns("HostA"), port_id,
                                 mac):
        run(argv)
    st = lab.load()
    st.vms["vm1"] = VmRecord("vm1", "vm-id", "HostA", port_id, "net", mac)
    lab.save(st)
    vms = Vms(lab, api=None)  # dhcp() needs no API
    assert vms.dhcp("vm1", tries=2) is None  # nothing serves DHCP yet
    in_host(lab, "HostA", ["ip", "addr", "add", "10.7.0.1/24", "dev", "tap0123456789a"])
    start(fabric.in_host(st.hosts["HostA"].holder_pid, [
        "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--no-hosts",
        "--interface=tap0123456789a", "--bind-interfaces", "--dhcp-range=10.7.0.0,static,120",
        f"--dhcp-host={mac},10.7.0.5", f"--dhcp-leasefile={tmp_path}/leases",
        "--pid-file="]), log_path=names.log_file("dnsmasq"), cgroup=lab.cgroup, leaf="test")
    got = None
    for _ in range(5):
        got = vms.dhcp("vm1", tries=3)
        if got:
            break
    assert got == "10.7.0.5"
    addrs = run(["ip", "-n", names.vm_netns("vm1"), "-o", "addr", "show", "eth0"]).stdout
    assert "10.7.0.5/" in addrs


def test_down_after_kill_9_of_everything_and_up_on_a_dirty_machine(lab_factory):
    lab = lab_factory()
    lab.up(hosts=("HostA", "HostB"), services=False)
    st = lab.load()
    for rec in st.hosts.values():
        os.kill(rec.holder_pid, signal.SIGKILL)
    os.unlink(lab.names.state_file)  # the record is lost too
    lab.up(hosts=("HostA",), services=False)  # up on the dirty machine cleans first
    assert list(lab.load().hosts) == ["HostA"]
    assert lab.names.host_netns("HostB") not in subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True).stdout
    for rec in lab.load().hosts.values():
        os.kill(rec.holder_pid, signal.SIGKILL)
    lab.down()
    assert lab.leftovers() == []


def test_add_host_joins_physnet_and_management(lab_factory):
    lab = lab_factory()
    lab.up(hosts=("HostA", "HostB"), services=False)
    rec = lab.add_host("HostC")
    assert rec.index == 2
    out = in_host(lab, "HostC", ["ip", "-o", "addr", "show", "mgmt0"]).stdout
    assert "172.30.0.13/24" in out
    with pytest.raises(LabError):
        lab.add_host("HostC")


def test_cli_up_status_down(tmp_path):
    import json
    import secrets
    name = "c" + secrets.token_hex(2)
    base = ["neutrino-lab"]
    opts = ["--name", name, "--run-base", str(tmp_path / "r"), "--state-base",
            str(tmp_path / "s")]
    try:
        up = subprocess.run(base + ["up", "--no-services", "--host", "HostA"] + opts,
                            capture_output=True, text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        status = json.loads(subprocess.run(base + ["status"] + opts, capture_output=True,
                                           text=True, timeout=60).stdout)
        assert status["up"] and list(status["hosts"]) == ["HostA"]
        assert status["hosts"]["HostA"]["holder"] is True
        bad = subprocess.run(base + ["host", "stop-dhcp", "NoSuchHost"] + opts,
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1 and "no host 'NoSuchHost'" in bad.stderr
        assert "Traceback" not in bad.stderr
    finally:
        down = subprocess.run(base + ["down"] + opts, capture_output=True, text=True,
                              timeout=120)
    assert down.returncode == 0, down.stderr
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"nlab-{name}-" not in netns


@pytest.mark.rabbit
def test_agents_inside_a_host_reach_rabbitmq_through_the_forwarder(lab_factory):

    from neutrino.lab.system import wait_for
    lab = lab_factory()
    st = lab.up(hosts=("HostA",), services=False)
    st.transport, st.api_port = "rabbit", 1
    lab._write_report_interval(1)
    lab._setup_rabbit()
    st.rabbit = True
    lab._start_forwarder(st, ["172.30.0.10:5672=5672"])
    for agent in ("linuxbridge", "dhcp"):
        lab._start_agent(st, "HostA", agent)

    def connections() -> int:
        out = run(["rabbitmqctl", "-q", "list_connections", "-p", lab.names.rabbit_vhost,
                   "user", "vhost"]).stdout
        return sum(1 for line in out.splitlines()
                   if line.split() == [lab.names.rabbit_user, lab.names.rabbit_vhost])
    assert wait_for(connections, 60, 0.5, "agent connections")
    # stop-agent stops the agent alone; stop-dhcp takes everything in its cgroup leaf.
    lab.stop_agent("HostA", "dhcp")
    assert not lab.agent_running("HostA", "dhcp") and lab.agent_running("HostA", "linuxbridge")
    lab.start_agent("HostA", "dhcp")
    assert lab.agent_running("HostA", "dhcp")
    lab.stop_dhcp("HostA")
    assert lab.cgroup.pids("HostA-dhcp") == []
    assert lab.agent_running("HostA", "linuxbridge")
    lab.down()
    vhosts = run(["rabbitmqctl", "-q", "list_vhosts"]).stdout.split()
    assert lab.names.rabbit_vhost not in vhosts
