"""`neutrino demo`: the scalable and highly available DHCP walk-through, run for real.

Builds the lab, then runs every step of the walk-through in order. Each command is printed as
an operator would type it, followed by its real output (the real `neutrino` CLI, run as a
subprocess with the walk-through's OS_* variables). Every outcome is checked, through the API
or the CLI's output; a summary with the time of each step ends the run.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from neutrino.lab.api import Credentials, NetworkApi
from neutrino.lab.config import DEMO_ADMIN
from neutrino.lab.lab import Lab
from neutrino.lab.system import wait_for
from neutrino.lab.vm import Vms, nova_table

DHCP = "DHCP agent"
LINUXBRIDGE = "Linux bridge agent"
WAIT = 60  # seconds any one condition may take before the step fails
VMS_NET1 = (("myserver1", "HostA"), ("myserver2", "HostB"), ("myserver3", "HostA"))


class StepFailed(AssertionError):
    pass


def check(condition: object, message: str) -> None:
    if not condition:
        raise StepFailed(message)


def table_rows(text: str) -> list[list[str]]:
    """Cells of a prettytable's one-line rows (header included)."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("|") and line.endswith("|"):
            rows.append([c.strip() for c in line[1:-1].split("|")])
    return rows


def table_dicts(text: str) -> list[dict[str, str]]:
    rows = table_rows(text)
    if not rows:
        return []
    header = rows[0]
    return [dict(zip(header, r, strict=False)) for r in rows[1:]]


@dataclass
class StepResult:
    title: str
    ok: bool | None  # None: not run
    seconds: float = 0.0
    error: str = ""


@dataclass
class Context:
    """What the steps learn as they go (ids of networks and agents)."""
    nets: dict[str, str] = field(default_factory=dict)
    dhcp_agents: dict[str, str] = field(default_factory=dict)  # host -> agent id
    first_net2_host: str = ""
    deleted_agent: str = ""


class Demo:
    def __init__(self, lab: Lab, out: TextIO = sys.stdout, step: bool = False,
                 wait: float = WAIT) -> None:
        self.lab = lab
        self.out = out
        self.pause = step
        self.wait = wait
        self.ctx = Context()
        self.api: NetworkApi | None = None
        self.vms: Vms | None = None
        self.env: dict[str, str] = {}

    # --- printing and running ------------------------------------------------------------
    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def neutrino(self, *args: str, ok: bool = True) -> str:
        self.say("$ neutrino " + shlex.join(args))
        binary = shutil.which("neutrino") or "neutrino"
        proc = subprocess.run([binary, *args], env=self.env, capture_output=True, text=True,
                              timeout=120)
        output = proc.stdout + proc.stderr
        if output:
            self.say(output.rstrip("\n"))
        if ok and proc.returncode != 0:
            raise StepFailed(f"`neutrino {shlex.join(args)}` exited {proc.returncode}")
        return proc.stdout

    def lab_command(self, *args: str) -> None:
        self.say("$ neutrino lab " + shlex.join(args))

    def nova_list(self) -> list[dict[str, str]]:
        self.lab_command("vm", "list")
        assert self.vms is not None
        rows = self.vms.rows()
        self.say(nova_table(rows))
        return [{"name": r.name, "status": r.status, "networks": r.networks} for r in rows]

    def vm_dhcp(self, vm: str, tries: int = 3) -> str | None:
        assert self.vms is not None
        self.lab_command("vm", "dhcp", vm)
        got = self.vms.dhcp(vm, tries=tries)
        self.say(f"{vm}: got {got}" if got else f"{vm}: no DHCP lease")
        return got

    def poll_dhcp(self, vm: str, expected: str, timeout: float) -> str | None:
        """Run the VM's DHCP client until it gets `expected` or `timeout` passes."""
        deadline = time.monotonic() + timeout
        got = None
        while time.monotonic() < deadline:
            got = self.vm_dhcp(vm)
            if got == expected:
                return got
        return got

    # --- API views -----------------------------------------------------------------------
    def _api(self) -> NetworkApi:
        assert self.api is not None
        return self.api

    def agents(self, agent_type: str | None = None, host: str | None = None
               ) -> list[dict[str, Any]]:
        return [a for a in self._api().list_agents()
                if (agent_type is None or a["agent_type"] == agent_type)
                and (host is None or a["host"] == host)]

    def dhcp_agent(self, host: str) -> dict[str, Any] | None:
        found = self.agents(DHCP, host)
        return found[0] if found else None

    def hosting(self, net: str) -> list[dict[str, Any]]:
        return self._api().dhcp_agents_hosting(self.ctx.nets[net])

    def port_ip(self, vm: str) -> str:
        assert self.vms is not None
        port = self._api().get_port(self.vms.get(vm).port_id)
        return str(port["fixed_ips"][0]["ip_address"])

    def wait_until(self, predicate: Callable[[], object], what: str,
                   timeout: float | None = None) -> object:
        try:
            return wait_for(predicate, timeout or self.wait, 0.3, what)
        except TimeoutError as e:
            raise StepFailed(str(e)) from None

    def create_net(self, name: str, cidr: str) -> None:
        self.neutrino("net-create", name)
        self.neutrino("subnet-create", name, cidr, "--name", name.replace("net", "subnet"))
        nets = [n for n in self._api().list_networks(name=name)]
        check(len(nets) == 1, f"the API lists {len(nets)} networks named {name}")
        self.ctx.nets[name] = nets[0]["id"]
        check(nets[0]["subnets"], f"{name} has no subnet")
        assert self.vms is not None
        self.vms.sync_vlans()

    def boot(self, vm: str, net: str, host: str) -> None:
        assert self.vms is not None
        self.lab_command("vm", "boot", vm, "--nic", f"net-id={self.ctx.nets[net]}",
                         "--host", host)
        rec = self.vms.boot(vm, self.ctx.nets[net], host)
        self.say(f"{rec.name} {rec.id} port {rec.port_id} on {rec.host}")

    def wait_active(self, vms: list[str]) -> None:
        assert self.vms is not None

        def all_active() -> bool:
            rows = {r.name: r for r in self.vms.rows()}  # type: ignore[union-attr]
            return all(rows[v].status == "ACTIVE" for v in vms)
        self.wait_until(all_active, f"{', '.join(vms)} to be ACTIVE")

    # --- the steps -----------------------------------------------------------------------
    def step_extensions(self) -> None:
        out = self.neutrino("ext-list", "-c", "name", "-c", "alias")
        aliases = {r.get("alias") for r in table_dicts(out)}
        for alias in ("agent", "binding"):
            check(alias in aliases, f"extension {alias!r} is missing")
        check(aliases & {"agent_scheduler", "dhcp_agent_scheduler"},
              "the DHCP agent scheduler extension is missing")

    def step_agents(self) -> None:
        hosts = list(self.lab.load().hosts)
        self.wait_until(lambda: len([a for a in self.agents() if a["alive"]]) >=
                        2 * len(hosts), f"{2 * len(hosts)} agents to report alive")
        out = self.neutrino("agent-list")
        rows = table_dicts(out)
        for host in hosts:
            for kind in (DHCP, LINUXBRIDGE):
                match = [r for r in rows if r.get("host") == host
                         and r.get("agent_type") == kind]
                check(len(match) == 1 and match[0].get("alive") == ":-)",
                      f"agent-list: no live {kind} on {host}")
                if kind == DHCP:
                    self.ctx.dhcp_agents[host] = match[0]["id"]

    def step_net1_vms(self) -> None:
        self.create_net("net1", "10.0.1.0/24")
        for vm, host in VMS_NET1:
            self.boot(vm, "net1", host)
        self.wait_active([vm for vm, _ in VMS_NET1])
        rows = self.nova_list()
        for vm, _ in VMS_NET1:
            row = [r for r in rows if r["name"] == vm]
            check(row and row[0]["status"] == "ACTIVE", f"{vm} is not ACTIVE")
            check(row[0]["networks"].startswith("net1=10.0.1."), f"{vm}: {row[0]['networks']}")

    def step_net_list(self) -> None:
        out = self.neutrino("net-list")
        check("net1" in out and "10.0.1.0/24" in out, "net-list does not show net1's subnet")

    def step_hosting_net1(self) -> None:
        self.wait_until(lambda: self.hosting("net1"), "net1 to be scheduled")
        out = self.neutrino("dhcp-agent-list-hosting-net", "net1")
        rows = table_dicts(out)
        ids = {a["id"] for a in self.hosting("net1")}
        check(rows and {r.get("id") for r in rows} == ids,
              "dhcp-agent-list-hosting-net net1 disagrees with the API")

    def step_net_list_on_agent(self) -> None:
        agent = self.hosting("net1")[0]["id"]
        out = self.neutrino("net-list-on-dhcp-agent", agent)
        check(self.ctx.nets["net1"][:8] in out and "net1" in out,
              "net1 is not listed on its DHCP agent")

    def step_agent_show(self) -> None:
        agent = self.hosting("net1")[0]
        self.wait_until(lambda: (self._api().get_agent(agent["id"])
                                 ["configurations"].get("networks", 0) >= 1),
                        "the DHCP agent to report its network")
        out = self.neutrino("agent-show", agent["id"])
        check("DHCP agent" in out and '"networks": ' in out.replace("'", '"'),
              "agent-show of the DHCP agent lacks its configurations")
        lb = self.agents(LINUXBRIDGE, "HostB")
        check(lb, "no Linux bridge agent on HostB")
        out = self.neutrino("agent-show", lb[0]["id"])
        check("physnet1" in out and "eth0" in out and "devices" in out,
              "agent-show of the Linux bridge agent lacks physnet1: eth0 or devices")

    def step_default_scheduling(self) -> None:
        self.create_net("net2", "9.0.1.0/24")
        self.neutrino("port-create", "net2")
        self.wait_until(lambda: self.hosting("net2"), "net2 to be scheduled")
        out = self.neutrino("dhcp-agent-list-hosting-net", "net2")
        rows = table_dicts(out)
        check(len(rows) == 1, f"net2 is hosted by {len(rows)} agents, not one")
        self.ctx.first_net2_host = rows[0]["host"]

    def _other_host(self) -> str:
        return "HostB" if self.ctx.first_net2_host == "HostA" else "HostA"

    def step_network_add(self) -> None:
        other = self._other_host()
        self.neutrino("dhcp-agent-network-add", self.ctx.dhcp_agents[other], "net2")
        out = self.neutrino("dhcp-agent-list-hosting-net", "net2")
        hosts = {r.get("host") for r in table_dicts(out)}
        check(hosts == {"HostA", "HostB"}, f"net2 is hosted on {sorted(hosts, key=str)}")

    def step_network_remove(self) -> None:
        first = self.ctx.first_net2_host
        self.neutrino("dhcp-agent-network-remove", self.ctx.dhcp_agents[first], "net2")
        out = self.neutrino("dhcp-agent-list-hosting-net", "net2")
        hosts = {r.get("host") for r in table_dicts(out)}
        check(hosts == {self._other_host()}, f"net2 is hosted on {sorted(hosts, key=str)}")

    def step_boot_myserver4(self) -> None:
        self.neutrino("net-list")
        self.boot("myserver4", "net2", "HostA")
        self.wait_active(["myserver4"])
        rows = self.nova_list()
        row = [r for r in rows if r["name"] == "myserver4"]
        check(row and row[0]["networks"].startswith("net2=9.0.1."),
              f"myserver4: {row[0]['networks'] if row else 'missing'}")

    def step_both_host_net2(self) -> None:
        first = self.ctx.first_net2_host
        self.neutrino("dhcp-agent-network-add", self.ctx.dhcp_agents[first], "net2")
        out = self.neutrino("dhcp-agent-list-hosting-net", "net2")
        hosts = {r.get("host") for r in table_dicts(out)}
        check(hosts == {"HostA", "HostB"}, f"net2 is hosted on {sorted(hosts, key=str)}")

    def step_ha(self) -> None:
        want = self.port_ip("myserver4")
        self.say(f"# myserver4's port has {want}; both DHCP agents serve net2")
        check(self.poll_dhcp("myserver4", want, self.wait) == want,
              f"myserver4 did not get {want}")
        # Both dnsmasq must serve before one goes: wait for each agent to report the port.
        self.wait_until(lambda: all(
            a["configurations"].get("ports", 0) >= 2 for a in self.hosting("net2")),
            "both DHCP agents to serve net2's ports")
        self.lab_command("host", "stop-dhcp", "HostA")
        self.lab.stop_dhcp("HostA")
        self.say("# HostA's DHCP agent and its dnsmasq are stopped")
        check(self.poll_dhcp("myserver4", want, self.wait) == want,
              f"with HostA down, myserver4 did not get {want}")
        self.lab_command("host", "stop-dhcp", "HostB")
        self.lab.stop_dhcp("HostB")
        self.say("# HostB's DHCP agent and its dnsmasq are stopped too")
        got = self.vm_dhcp("myserver4")
        check(got is None, f"with both DHCP agents down, myserver4 still got {got}")
        self.lab_command("host", "start-dhcp", "HostB")
        self.lab.start_dhcp("HostB")
        check(self.poll_dhcp("myserver4", want, self.wait) == want,
              f"after HostB's agent came back, myserver4 did not get {want}")

    def step_disable(self) -> None:
        self.lab_command("host", "start-dhcp", "HostA")
        self.lab.start_dhcp("HostA")
        agent = self.ctx.dhcp_agents["HostA"]
        self.wait_until(lambda: any(a["id"] == agent and a["alive"] for a in self.agents()),
                        "HostA's DHCP agent to be alive")
        self.neutrino("agent-update", "--admin-state-up", "False", agent)
        out = self.neutrino("agent-list")
        row = [r for r in table_dicts(out) if r.get("id") == agent]
        check(row and row[0].get("admin_state_up") == "False",
              "agent-list does not show HostA's DHCP agent disabled")
        self.say("# a new network is not scheduled to the disabled agent")
        self.create_net("net3", "10.0.3.0/24")
        self.wait_until(lambda: self.hosting("net3"), "net3 to be scheduled")
        out = self.neutrino("dhcp-agent-list-hosting-net", "net3")
        ids = {r.get("id") for r in table_dicts(out)}
        check(ids and agent not in ids, "net3 was scheduled to the disabled agent")

    def step_delete(self) -> None:
        agent = self.ctx.dhcp_agents["HostA"]
        self.lab_command("host", "stop-dhcp", "HostA")
        self.lab.stop_dhcp("HostA")
        self.neutrino("agent-delete", agent)
        out = self.neutrino("agent-list")
        check(agent not in out, "the deleted agent is still listed")
        self.ctx.deleted_agent = agent

    def step_return(self) -> None:
        self.lab_command("host", "start-dhcp", "HostA")
        self.lab.start_dhcp("HostA")
        self.wait_until(lambda: (a := self.dhcp_agent("HostA")) and a["alive"],
                        "HostA's DHCP agent to register again")
        out = self.neutrino("agent-list")
        row = [r for r in table_dicts(out)
               if r.get("host") == "HostA" and r.get("agent_type") == DHCP]
        check(row and row[0]["id"] != self.ctx.deleted_agent and row[0]["alive"] == ":-)",
              "HostA's DHCP agent did not come back as a new agent")

    def diagnose(self) -> str:
        try:
            return self.lab.diagnostics()
        except Exception as e:  # noqa: BLE001 - diagnostics never raise
            return f"# no diagnostics: {e}"

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("The agent and scheduler extensions are enabled", self.step_extensions),
            ("Four agents report in", self.step_agents),
            ("net1 and three VMs (nova list)", self.step_net1_vms),
            ("net-list", self.step_net_list),
            ("DHCP agents hosting net1", self.step_hosting_net1),
            ("Networks on a DHCP agent", self.step_net_list_on_agent),
            ("agent-show of a DHCP and a Linux bridge agent", self.step_agent_show),
            ("Default scheduling of net2", self.step_default_scheduling),
            ("dhcp-agent-network-add", self.step_network_add),
            ("dhcp-agent-network-remove", self.step_network_remove),
            ("Boot myserver4 on net2", self.step_boot_myserver4),
            ("Both DHCP agents host net2", self.step_both_host_net2),
            ("HA: DHCP survives one agent, not two, and returns", self.step_ha),
            ("Disabled agent gets no new network", self.step_disable),
            ("agent-delete", self.step_delete),
            ("A restarted deleted agent registers again", self.step_return),
        ]

    def wait_for_enter(self) -> None:
        try:
            input("-- press Enter to continue --")
        except EOFError:  # no one at the keyboard: go on
            self.pause = False

    # --- the run -------------------------------------------------------------------------
    def setup(self, transport: str | None) -> None:
        self.say("# Building the lab: controlnode, HostA, HostB, physnet1 ...")
        st = self.lab.up(transport)
        url = f"http://127.0.0.1:{st.api_port}/v2.0/"
        user, password, project = DEMO_ADMIN
        self.env = dict(os.environ, OS_USERNAME=user, OS_PASSWORD=password,
                        OS_TENANT_NAME=project, OS_PROJECT_NAME=project, OS_AUTH_URL=url)
        for key in ("OS_TOKEN", "OS_CLOUD", "OS_URL", "OS_ENDPOINT"):
            self.env.pop(key, None)
        self.api = NetworkApi(Credentials(url, user, password, project))
        self.vms = Vms(self.lab, self.api)
        self.say(f"# transport: {st.transport}; hosts: {', '.join(st.hosts)}")
        for key in ("OS_USERNAME", "OS_PASSWORD", "OS_TENANT_NAME", "OS_AUTH_URL"):
            self.say(f"$ export {key}={self.env[key]}")

    def run(self) -> list[StepResult]:
        results: list[StepResult] = []
        failed = False
        for title, fn in self.steps():
            if failed:
                results.append(StepResult(title, None))
                continue
            self.say("")
            self.say(f"## {len(results) + 1}. {title}")
            start = time.monotonic()
            try:
                fn()
                results.append(StepResult(title, True, time.monotonic() - start))
            except Exception as e:  # any failure ends the walk-through; shown in the summary
                failed = True
                results.append(StepResult(title, False, time.monotonic() - start,
                                          f"{type(e).__name__}: {e}"))
                self.say(f"!! FAILED: {e}")
                self.say(self.diagnose())
            if self.pause and not failed:
                self.wait_for_enter()
        return results


def summary(results: list[StepResult], total: float) -> str:
    lines = ["", "Summary", "-------"]
    for i, r in enumerate(results, 1):
        mark = {True: "PASS", False: "FAIL", None: "skip"}[r.ok]
        lines.append(f"{i:2}. {mark}  {r.seconds:6.1f}s  {r.title}")
        if r.error:
            lines.append(f"              {r.error}")
    passed = sum(1 for r in results if r.ok)
    failed = sum(1 for r in results if r.ok is False)
    lines.append(f"{passed} passed, {failed} failed, {len(results) - passed - failed} not run"
                 f" in {total:.1f}s")
    return "\n".join(lines)


def run_demo(lab: Lab, transport: str | None = None, step: bool = False,
             keep: bool = False, out: TextIO = sys.stdout) -> int:
    started = time.monotonic()
    demo = Demo(lab, out=out, step=step)
    results: list[StepResult] = []
    setup = StepResult("Build the lab", True)
    try:
        demo.setup(transport)
        setup.seconds = time.monotonic() - started
        results = [setup] + demo.run()
    except Exception as e:  # the lab could not be built: report it like a failed step
        setup.ok, setup.error = False, f"{type(e).__name__}: {e}"
        setup.seconds = time.monotonic() - started
        results = [setup]
    finally:
        if keep:
            out.write(f"\n# --keep: the lab stays up; `neutrino lab down --name "
                      f"{lab.names.lab}` removes it\n")
        else:
            lab.down()
    out.write(summary(results, time.monotonic() - started) + "\n")
    out.flush()
    return 0 if all(r.ok for r in results) else 1
