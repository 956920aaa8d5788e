"""The lab: controlnode (the root namespace), hosts, physnet1, management, services, VMs.

    lab = Lab(LabNames("lab"))
    lab.up(transport="rabbit")      # cleans a dirty machine first
    lab.stop_dhcp("HostA"); lab.start_dhcp("HostA")
    lab.down()
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import urllib.error
import urllib.request
from typing import Any

from neutrino.lab import cleanup, config, fabric, state, vlans
from neutrino.lab.forwarder import in_netns
from neutrino.lab.naming import (
    CONTROLLER_ADDRESS,
    CONTROLNODE,
    LabNames,
    check_host_name,
    host_mgmt_address,
    next_host_index,
)
from neutrino.lab.state import HostRecord, LabState
from neutrino.lab.system import (
    Cgroup,
    ns_inode,
    pid_alive,
    pids_in_mnt_ns,
    pids_in_netns,
    run,
    start,
    terminate,
    wait_for,
)

LOG = logging.getLogger(__name__)

DEFAULT_HOSTS = ("HostA", "HostB")
RABBIT_PORT = 5672
MGMT_API_PORT = 9696
AGENTS = ("dhcp", "linuxbridge")
TRANSPORTS = ("rabbit", "inproc")


class LabError(RuntimeError):
    """Something the operator asked for that the lab cannot do (printed, no traceback)."""


def rabbit_answers(host: str = "127.0.0.1", port: int = RABBIT_PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def default_transport() -> str:
    # The lab makes its own vhost and user with rabbitmqctl: a broker answering on the port
    # is no use without it (a chroot or container sharing another machine's network).
    usable = shutil.which("rabbitmqctl") is not None and rabbit_answers()
    return "rabbit" if usable else "inproc"


def agent_metrics_port(base: int, agent: str) -> int:
    """Each agent of a host on its own port: `base` for the DHCP agent, `base + 1` next."""
    return base + AGENTS.index(agent)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _binary(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path=os.path.dirname(sys.executable))
    if not found:
        raise LabError(f"{name} is not installed")
    return found


def _write(path: str, text: str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


class Lab:
    def __init__(self, names: LabNames, cgroup: Cgroup | None = None) -> None:
        self.names = names
        self.cgroup = cgroup or Cgroup(names.cgroup)

    # --- record ----------------------------------------------------------------------
    def load(self) -> LabState:
        st = state.load(self.names.state_file)
        if st is None:
            raise LabError(f"lab {self.names.lab!r} is not up")
        return st

    def save(self, st: LabState) -> None:
        state.save(self.names.state_file, st)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.load().api_port}/v2.0/"

    # --- up / down -------------------------------------------------------------------
    def up(self, transport: str | None = None, hosts: tuple[str, ...] = DEFAULT_HOSTS,
           services: bool = True, agent_down_time: int = 5,
           report_interval: float = 1, agent_metrics_port: int | None = None,
           api_workers: int | None = None, firewall_driver: str = "noop") -> LabState:
        """`agent_metrics_port`: every agent serves `/metrics` on its host's management
        address (see `agent_metrics_port()`); `api_workers`: the server's (default: its own,
        one per CPU); `firewall_driver`: the Linux bridge agents' (iptables or noop)."""
        for h in hosts:
            check_host_name(h)
        transport = transport or default_transport()
        if transport not in TRANSPORTS:
            raise LabError(f"transport {transport!r} is not one of {TRANSPORTS}")
        if agent_metrics_port is not None and not 0 < agent_metrics_port < 65535:
            raise LabError(f"agent metrics port {agent_metrics_port}: 1 to 65534 (the Linux "
                           f"bridge agent takes the next one)")
        if agent_metrics_port is not None and transport != "rabbit":
            raise LabError("agents serve metrics with --transport rabbit only (the "
                           "all-in-one runs every host's agents in one process)")
        self.down()
        n = self.names
        os.makedirs(n.run_dir, mode=0o755, exist_ok=True)
        os.makedirs(n.state_dir, mode=0o755, exist_ok=True)
        if firewall_driver not in config.FIREWALL_DRIVERS:
            raise LabError(f"firewall driver {firewall_driver!r} is not one of "
                           f"{config.FIREWALL_DRIVERS}")
        st = LabState(lab=n.lab, transport=transport if services else None,
                      agent_metrics_port=agent_metrics_port, firewall_driver=firewall_driver)
        self.save(st)
        try:
            if services:
                _check_traversable(n.state_dir)
            fabric.create_physnet(n)
            fabric.create_mgmt(n)
            if not fabric.kernel_has_vlans():
                st.emulated_vlans = True
                fabric.run_all(fabric.switch_commands(n))
            for i, h in enumerate(hosts):
                pid = fabric.create_host(n, self.cgroup, h, i)
                st.hosts[h] = HostRecord(h, i, pid, mnt_inode=_mnt_inode(pid))
                self.save(st)
            if services:
                self._start_services(st, agent_down_time, report_interval, api_workers)
        except BaseException:
            LOG.error("lab up failed; cleaning up")
            self.down()
            raise
        return st

    def down(self) -> None:
        cleanup.teardown(self.names, self.cgroup)

    def leftovers(self) -> list[str]:
        return cleanup.leftovers(self.names, self.cgroup)

    # --- services --------------------------------------------------------------------
    def _rabbit(self, for_host: bool) -> config.Rabbit:
        return config.Rabbit(CONTROLNODE if for_host else "127.0.0.1", RABBIT_PORT,
                             self.names.rabbit_user, config.RABBIT_PASSWORD,
                             self.names.rabbit_vhost)

    def _setup_rabbit(self) -> None:
        n = self.names
        _write(os.path.join(n.run_dir, cleanup.RABBIT_MARKER), "")
        cleanup.rabbit_cleanup(n)
        run(["rabbitmqctl", "-q", "add_vhost", n.rabbit_vhost])
        run(["rabbitmqctl", "-q", "add_user", n.rabbit_user, config.RABBIT_PASSWORD])
        run(["rabbitmqctl", "-q", "set_permissions", "-p", n.rabbit_vhost, n.rabbit_user,
             ".*", ".*", ".*"])

    def _controller_files(self, st: LabState, agent_down_time: int,
                          report_interval: float, api_workers: int | None) -> list[str]:
        d = self.names.controller_dir
        rabbit = self._rabbit(False) if st.transport == "rabbit" else None
        assert st.api_port is not None
        conf = _write(f"{d}/neutron.conf", config.server_conf(
            state_path=d, api_port=st.api_port, rabbit=rabbit,
            agent_down_time=agent_down_time, report_interval=report_interval,
            api_workers=api_workers))
        lb = _write(f"{d}/linuxbridge_conf.ini", config.linuxbridge_conf(st.firewall_driver))
        return [conf, lb]

    def _host_files(self, st: LabState, host: str,
                    report_interval: float) -> dict[str, str]:
        d = self.names.host_dir(host)
        agent_files = {"linuxbridge": ("linuxbridge_conf.ini",
                                       config.linuxbridge_conf(st.firewall_driver)),
                       "dhcp": ("dhcp_agent.ini", config.dhcp_agent_ini())}
        files = {"neutron": _write(f"{d}/neutron.conf", config.host_conf(
            host=host, state_path=f"{d}/state", rabbit=self._rabbit(True),
            report_interval=report_interval))}
        for agent, (name, text) in agent_files.items():
            if st.agent_metrics_port is not None:
                text += "\n" + config.agent_metrics_ini(
                    host_mgmt_address(st.hosts[host].index),
                    agent_metrics_port(st.agent_metrics_port, agent))
            files[agent] = _write(f"{d}/{name}", text)
        return files

    def _start_services(self, st: LabState, agent_down_time: int,
                        report_interval: float, api_workers: int | None) -> None:
        n = self.names
        st.api_port = free_port()
        self._write_report_interval(report_interval)
        files = self._controller_files(st, agent_down_time, report_interval, api_workers)
        args = [a for f in files for a in ("--config-file", f)]
        mappings = [f"{CONTROLLER_ADDRESS}:{MGMT_API_PORT}={st.api_port}"]
        if st.transport == "rabbit":
            self._setup_rabbit()
            st.rabbit = True
            mappings.append(f"{CONTROLLER_ADDRESS}:{RABBIT_PORT}={RABBIT_PORT}")
        self._start_forwarder(st, mappings)
        if st.transport == "rabbit":
            st.server_pid = start([_binary("neutrino-server")] + args,
                                  log_path=n.log_file("server"), cgroup=self.cgroup,
                                  leaf="server").pid
            self.save(st)
            self._wait_api(st)
            for h in st.hosts:
                for agent in AGENTS:
                    self._start_agent(st, h, agent)
        else:
            hosts = [a for h in st.hosts for a in ("--host", f"{h}=/run/netns/{n.host_netns(h)}")]
            st.aio_pid = start([_binary("neutrino-aio")] + args + hosts,
                               log_path=n.log_file("aio"), cgroup=self.cgroup,
                               leaf="aio").pid
            self.save(st)
            self._wait_api(st)
        if st.emulated_vlans:
            self._start_vlan_follower(st)
        self.save(st)

    def _start_vlan_follower(self, st: LabState) -> None:
        """Segments for every VLAN network, whoever creates it (see lab/vlans.py)."""
        st.vlan_follower_pid = start(
            [sys.executable, "-m", vlans.MODULE, *vlans.follower_args(self.names)],
            log_path=self.names.log_file("vlans"), cgroup=self.cgroup, leaf="vlans").pid
        self.save(st)

    def _write_report_interval(self, report_interval: float) -> None:
        _write(os.path.join(self.names.run_dir, "report_interval"), str(report_interval))

    def _report_interval(self) -> float:
        try:
            with open(os.path.join(self.names.run_dir, "report_interval")) as f:
                return float(f.read())
        except (OSError, ValueError):
            return 1.0

    def _start_forwarder(self, st: LabState, mappings: list[str]) -> None:
        n = self.names
        ready = os.path.join(n.run_dir, "forwarder.ready")
        proc = start([sys.executable, "-m", "neutrino.lab.forwarder", "--netns",
                      f"/run/netns/{n.mgmt_netns}", "--ready-file", ready] + mappings,
                     log_path=n.log_file("forwarder"), cgroup=self.cgroup, leaf="forwarder")
        st.forwarder_pid = proc.pid
        self.save(st)

        def ready_now() -> bool:
            if proc.poll() is not None:
                raise LabError(f"the forwarder exited:\n{_tail(n.log_file('forwarder'))}")
            return os.path.exists(ready)
        wait_for(ready_now, 20, 0.05, "the forwarder")

    def _wait_api(self, st: LabState, timeout: float = 60) -> None:
        pid = st.server_pid or st.aio_pid
        url = f"http://127.0.0.1:{st.api_port}/"

        def answers() -> bool:
            if pid is not None and not pid_alive(pid):
                what = "server" if st.server_pid else "aio"
                raise LabError(f"the {what} exited:\n{_tail(self.names.log_file(what))}")
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
        wait_for(answers, timeout, 0.2, f"the API on {url}")

    def _agent_leaf(self, host: str, agent: str) -> str:
        return f"{host}-{agent}"

    def _start_agent(self, st: LabState, host: str, agent: str) -> int:
        rec = st.hosts[host]
        files = self._host_files(st, host, self._report_interval())
        binary = _binary("neutrino-dhcp-agent" if agent == "dhcp"
                         else "neutrino-linuxbridge-agent")
        argv = fabric.in_host(rec.holder_pid, [binary, "--config-file", files["neutron"],
                                               "--config-file", files[agent]])
        pid = start(argv, log_path=self.names.log_file(f"{host}-{agent}-agent"),
                    cgroup=self.cgroup, leaf=self._agent_leaf(host, agent)).pid
        rec.agents[agent] = pid
        self.save(st)
        return pid

    def agent_metrics_url(self, host: str, agent: str) -> str:
        st = self.load()
        rec = self._host(st, host)
        if st.agent_metrics_port is None:
            raise LabError("the lab's agents serve no metrics (up --agent-metrics-port)")
        return (f"http://{host_mgmt_address(rec.index)}:"
                f"{agent_metrics_port(st.agent_metrics_port, agent)}/metrics")

    def scrape_agent(self, host: str, agent: str, timeout: float = 10) -> str:
        """An agent's `/metrics` as controlnode's Prometheus would read it: over the
        management network (from its namespace). OSError when the agent does not answer."""
        url = self.agent_metrics_url(host, agent)
        # No proxy from the environment: the address is the lab's own.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

        def fetch() -> str:
            with opener.open(url, timeout=timeout) as response:
                return str(response.read().decode())
        return in_netns(f"/run/netns/{self.names.mgmt_netns}", fetch)

    def ensure_vlans(self, vlans: set[int]) -> None:
        """Make physnet1's VLANs `vlans` reach every host (a no-op where the kernel tags)."""
        st = self.load()
        if not st.emulated_vlans:
            return
        fabric.ensure_vlan_segments(self.names, vlans,
                                    {h: r.index for h, r in st.hosts.items()})
        st.vlans = sorted(set(st.vlans) | vlans)
        self.save(st)

    # --- hosts -----------------------------------------------------------------------
    def add_host(self, host: str) -> HostRecord:
        check_host_name(host)
        st = self.load()
        if host in st.hosts:
            raise LabError(f"host {host} already exists")
        if st.transport == "inproc":
            raise LabError("the all-in-one takes its hosts when it starts: add hosts with "
                           "--transport rabbit, or `up --host` them")
        index = next_host_index({r.index for r in st.hosts.values()})
        pid = fabric.create_host(self.names, self.cgroup, host, index)
        rec = HostRecord(host, index, pid, mnt_inode=_mnt_inode(pid))
        st.hosts[host] = rec
        self.save(st)
        if st.emulated_vlans:
            # Those the VLAN follower made as well as those `vm boot` recorded.
            wanted = set(st.vlans) | fabric.switch_vlans(self.names)
            fabric.ensure_vlan_segments(self.names, wanted, {host: index})
        if st.transport == "rabbit":
            for agent in AGENTS:
                self._start_agent(st, host, agent)
        return rec

    def _host(self, st: LabState, host: str) -> HostRecord:
        if host not in st.hosts:
            raise LabError(f"no host {host!r} in lab {self.names.lab!r} "
                           f"(hosts: {', '.join(st.hosts)})")
        return st.hosts[host]

    def agent_running(self, host: str, agent: str) -> bool:
        st = self.load()
        rec = self._host(st, host)
        pid = rec.agents.get(agent)
        return pid is not None and pid_alive(pid)

    def stop_agent(self, host: str, agent: str = "dhcp") -> None:
        """The agent only: its dnsmasq keeps serving."""
        st = self.load()
        rec = self._host(st, host)
        if st.transport == "inproc":
            self._aio(host, agent, "stop")
            return
        pid = rec.agents.pop(agent, None)
        if pid is not None and pid_alive(pid):
            terminate(pid)
        self.save(st)

    def start_agent(self, host: str, agent: str = "dhcp") -> None:
        st = self.load()
        rec = self._host(st, host)
        if st.transport == "inproc":
            self._aio(host, agent, "start")
            return
        pid = rec.agents.get(agent)
        if pid is None or not pid_alive(pid):
            self._start_agent(st, host, agent)

    def stop_dhcp(self, host: str) -> None:
        """The DHCP agent and its dnsmasq processes, as the walk-through's HA test asks."""
        st = self.load()
        rec = self._host(st, host)
        if st.transport == "inproc":
            self._aio(host, "dhcp", "stop")
            self._kill_host_dnsmasq(host)
            return
        self.cgroup.kill(self._agent_leaf(host, "dhcp"))
        # Without cgroups (or should one have escaped): the agent by pid, and the dnsmasq
        # processes that share the host's mount namespace (the agent starts them there).
        pid = rec.agents.pop("dhcp", None)
        if pid is not None and pid_alive(pid):
            terminate(pid)
        for other in pids_in_mnt_ns(rec.mnt_inode):
            if _comm(other) == "dnsmasq":
                terminate(other, 5)
        self.save(st)

    def start_dhcp(self, host: str) -> None:
        self.start_agent(host, "dhcp")

    def _kill_host_dnsmasq(self, host: str) -> None:
        """All-in-one: the host's dnsmasq run in the namespaces kept in its netns_dir."""
        d = os.path.join(self.names.controller_dir, host, "netns")
        inodes = {i for i in (ns_inode(os.path.join(d, f)) for f in _listdir(d)) if i}
        for pid in pids_in_netns(inodes):
            terminate(pid, 5)

    def _aio(self, host: str, agent: str, op: str) -> dict[str, Any]:
        path = os.path.join(self.names.controller_dir, "aio.sock")
        request = json.dumps({"op": op, "host": host, "agent": agent}) + "\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(30)
            s.connect(path)
            s.sendall(request.encode())
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        reply = json.loads(data) if data.strip() else {}
        if isinstance(reply, dict) and reply.get("error"):
            raise LabError(f"all-in-one: {reply['error']}")
        return reply

    def diagnostics(self) -> str:
        """What an operator looks at after a failure: links, namespaces, bridge ports,
        dnsmasq host files, the tails of the logs."""
        st = self.load()
        lines = ["", "# diagnostics"]
        for host, rec in st.hosts.items():
            for argv in (["ip", "-br", "link"], ["ip", "netns", "list"], ["bridge", "link"]):
                proc = run(fabric.in_host(rec.holder_pid, argv), check=False)
                lines += [f"## {host}: {' '.join(argv)}",
                          (proc.stdout or proc.stderr).rstrip()]
        for root in (self.names.state_dir,):
            for dirpath, _dirs, files in os.walk(root):
                for name in files:
                    if f"{os.sep}dhcp{os.sep}" in dirpath + os.sep and not name.endswith(".pid"):
                        path = os.path.join(dirpath, name)
                        lines.append(f"## {path}")
                        if name.endswith(".log"):  # its reloads, then its last words
                            with open(path, errors="replace") as f:
                                lines += [x.rstrip() for x in f if " read " in x]
                        lines.append(_tail(path, 12).rstrip())
        log_dir = os.path.dirname(self.names.log_file("x"))
        for name in sorted(_listdir(log_dir)):
            lines += [f"## log {name}", _tail(os.path.join(log_dir, name), 25).rstrip()]
        return "\n".join(lines)

    # --- status ----------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        st = state.load(self.names.state_file)
        if st is None:
            return {"lab": self.names.lab, "up": False, "leftovers": self.leftovers()}
        hosts = {}
        for h, rec in st.hosts.items():
            hosts[h] = {
                "netns": self.names.host_netns(h), "holder": pid_alive(rec.holder_pid),
                "agents": {a: pid_alive(p) for a, p in rec.agents.items()},
            }
        out = {"lab": st.lab, "up": True, "transport": st.transport, "hosts": hosts,
               "vms": sorted(st.vms),
               "physnet1": ("one segment per VLAN (the kernel lacks 802.1Q)"
                            if st.emulated_vlans else "802.1Q trunk")}
        if st.api_port:
            out["api"] = f"http://127.0.0.1:{st.api_port}/v2.0/"
        if st.agent_metrics_port is not None:
            out["agent_metrics"] = {f"{h}/{a}": self.agent_metrics_url(h, a)
                                    for h in st.hosts for a in AGENTS}
        for what, pid in (("server", st.server_pid), ("aio", st.aio_pid),
                          ("forwarder", st.forwarder_pid)):
            if pid:
                out[what] = pid_alive(pid)
        return out


def _listdir(d: str) -> list[str]:
    try:
        return os.listdir(d)
    except OSError:
        return []


def _tail(path: str, lines: int = 15) -> str:
    """The end of a log (`down` removes the file, so errors quote it)."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def _check_traversable(path: str) -> None:
    """dnsmasq drops to `nobody`: every directory above its files must let others in."""
    current = os.path.abspath(path)
    while True:
        if not os.stat(current).st_mode & 0o001:
            raise LabError(f"{current} does not let other users in; dnsmasq (as nobody) "
                           f"could not read its files below {path}: choose another "
                           f"--state-base")
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def _mnt_inode(pid: int) -> int | None:
    return ns_inode(f"/proc/{pid}/ns/mnt")


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""
