"""VMs: a namespace per VM, wired to its host like nova wires an instance.

`boot` creates the port through the API (`binding:host_id`, `device_owner = compute:nova`,
`device_id` = the VM's id), then a veth whose host end is `tap<port id[:11]>` in the host's
namespace (the host's Linux bridge agent plugs it) and whose VM end `eth0` carries the port's
MAC. `dhcp` runs udhcpc (IPv4) or dhclient (IPv4, or `-6` DHCPv6) once inside the VM;
`exec` runs any command there.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from typing import Any

from neutrino.lab import config
from neutrino.lab.api import ApiError, NetworkApi
from neutrino.lab.lab import Lab, LabError
from neutrino.lab.naming import PHYSNET, VM_IF, check_vm_name
from neutrino.lab.state import VmRecord
from neutrino.lab.system import remove_file, run, run_attached, run_until, wait_for
from neutrino.lib.naming import tap_name

_LEASE = re.compile(r"^NEUTRINO_LAB_LEASE (\S+(?: dns=\S*)?)$", re.M)
CLIENTS = ("udhcpc", "dhclient")


@dataclass(frozen=True)
class VmRow:
    id: str
    name: str
    status: str
    networks: str


def vm_link_commands(vm_ns: str, host_ns: str, port_id: str, mac: str) -> list[list[str]]:
    tap = tap_name(port_id)
    return [
        ["ip", "netns", "add", vm_ns],
        ["ip", "-n", vm_ns, "link", "set", "lo", "up"],
        ["ip", "link", "add", tap, "netns", host_ns, "type", "veth", "peer", "name", VM_IF,
         "netns", vm_ns],
        ["ip", "-n", vm_ns, "link", "set", VM_IF, "address", mac],
        ["ip", "-n", vm_ns, "link", "set", VM_IF, "up"],
        ["ip", "-n", host_ns, "link", "set", tap, "up"],
    ]


def udhcpc_command(vm_ns: str, script: str, tries: int = 3, timeout: int = 1) -> list[str]:
    # -n: give up instead of backgrounding; -q: quit once bound; -f: stay in the foreground.
    return ["ip", "netns", "exec", vm_ns, "udhcpc", "-f", "-q", "-n", "-i", VM_IF,
            "-t", str(tries), "-T", str(timeout), "-A", "1", "-s", script]


def dhclient_command(vm_ns: str, files: DhclientFiles, ipv6: bool = False,
                     stateless: bool = False) -> list[str]:
    """dhclient in the foreground (-d) for one try (-1), its files in the lab's run
    directory; `-S`: DHCPv6 information only (stateless)."""
    argv = ["ip", "netns", "exec", vm_ns, "dhclient", "-1", "-d", "-6" if ipv6 else "-4",
            "-lf", files.leases, "-pf", files.pid, "-sf", files.script]
    if ipv6 and stateless:
        argv.append("-S")
    return [*argv, VM_IF]


@dataclass(frozen=True)
class DhclientFiles:
    """One VM's dhclient files for one IP version; the hook writes `lease`."""

    prefix: str  # <run dir>/dhclient-<vm>-<4|6>

    @property
    def script(self) -> str:
        return self.prefix + ".script"

    @property
    def lease(self) -> str:
        return self.prefix + ".lease"

    @property
    def leases(self) -> str:
        return self.prefix + ".leases"

    @property
    def pid(self) -> str:
        return self.prefix + ".pid"
def exec_command(vm_ns: str, argv: list[str]) -> list[str]:
    # An argument list end to end: nothing the user typed passes through a shell.
    return ["ip", "netns", "exec", vm_ns, *argv]


def parse_lease(output: str) -> str | None:
    found = _LEASE.findall(output)
    return found[-1] if found else None


def format_networks(port: dict[str, Any], network_name: str) -> str:
    ips = ", ".join(ip["ip_address"] for ip in port.get("fixed_ips", []))
    return f"{network_name}={ips}" if ips else ""


def nova_table(rows: list[VmRow]) -> str:
    """`nova list`'s table."""
    headers = ("ID", "Name", "Status", "Networks")
    data = [(r.id, r.name, r.status, r.networks) for r in rows]
    widths = [max([len(h)] + [len(d[i]) for d in data]) for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"

    def fmt(cells: tuple[str, ...]) -> str:
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths, strict=True)) + "|"
    return "\n".join([line, fmt(headers), line] + [fmt(d) for d in data] + [line])


class Vms:
    def __init__(self, lab: Lab, api: NetworkApi) -> None:
        self.lab = lab
        self.api = api

    def _script(self) -> str:
        path = os.path.join(self.lab.names.run_dir, "udhcpc.script")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(config.udhcpc_script())
            os.chmod(path, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP)
        return path

    def boot(self, name: str, network_id: str, host: str) -> VmRecord:
        check_vm_name(name)
        st = self.lab.load()
        if host not in st.hosts:
            raise LabError(f"no host {host!r} (hosts: {', '.join(st.hosts)})")
        if name in st.vms:
            raise LabError(f"a VM named {name!r} exists")
        self.sync_vlans()
        vm_id = str(uuid.uuid4())
        port = self.api.create_port({
            "network_id": network_id, "binding:host_id": host,
            "device_owner": "compute:nova", "device_id": vm_id})
        names = self.lab.names
        vm_ns = names.vm_netns(name)
        try:
            for argv in vm_link_commands(vm_ns, names.host_netns(host), port["id"],
                                         port["mac_address"]):
                run(argv)
        except BaseException:
            run(["ip", "netns", "delete", vm_ns], check=False)
            self.api.delete_port(port["id"])
            raise
        rec = VmRecord(name, vm_id, host, port["id"], network_id, port["mac_address"])
        st = self.lab.load()
        st.vms[name] = rec
        self.lab.save(st)
        return rec

    def sync_vlans(self) -> None:
        """physnet1 VLANs of the API's networks, for kernels that cannot tag."""
        vlans = {int(net["provider:segmentation_id"]) for net in self.api.list_networks()
                 if net.get("provider:network_type") == "vlan"
                 and net.get("provider:physical_network") == PHYSNET
                 and net.get("provider:segmentation_id") is not None}
        self.lab.ensure_vlans(vlans)

    def get(self, name: str) -> VmRecord:
        st = self.lab.load()
        if name not in st.vms:
            raise LabError(f"no VM {name!r} in lab {self.lab.names.lab!r}")
        return st.vms[name]

    def rows(self) -> list[VmRow]:
        st = self.lab.load()
        net_names: dict[str, str] = {}
        rows = []
        for rec in st.vms.values():
            try:
                port = self.api.get_port(rec.port_id)
            except ApiError as e:
                if e.status != 404:
                    raise
                rows.append(VmRow(rec.id, rec.name, "ERROR", ""))
                continue
            if rec.network_id not in net_names:
                net_names[rec.network_id] = self.api.get_network(rec.network_id)["name"]
            status = "ACTIVE" if port.get("status") == "ACTIVE" else "BUILD"
            rows.append(VmRow(rec.id, rec.name, status,
                              format_networks(port, net_names[rec.network_id])))
        return rows

    def dhcp(self, name: str, tries: int = 3, client: str | None = None, ipv6: bool = False,
             stateless: bool = False) -> str | None:
        """Runs a DHCP client once in the VM: udhcpc (the IPv4 default) or dhclient (the
        IPv6 one); what it was given (the address, and for DHCPv6 the DNS servers), or
        None."""
        self.get(name)
        client = client or ("dhclient" if ipv6 else "udhcpc")
        if client not in CLIENTS:
            raise LabError(f"--client {client!r}: one of {', '.join(CLIENTS)}")
        if ipv6 and client != "dhclient":
            raise LabError("-6: only dhclient speaks DHCPv6 here")
        if not shutil.which(client):
            raise LabError(f"{client} is not installed")
        vm_ns = self.lab.names.vm_netns(name)
        if client == "udhcpc":
            proc = run(udhcpc_command(vm_ns, self._script(), tries), check=False,
                       timeout=tries * 3 + 15)
            return parse_lease(proc.stdout) if proc.returncode == 0 else None
        return self._dhclient(name, vm_ns, ipv6, stateless, timeout=tries * 5 + 10)

    def _dhclient(self, name: str, vm_ns: str, ipv6: bool, stateless: bool,
                  timeout: float) -> str | None:
        files = DhclientFiles(os.path.join(self.lab.names.run_dir,
                                           f"dhclient-{name}-{6 if ipv6 else 4}"))
        with open(files.script, "w") as f:
            f.write(config.dhclient_script())
        os.chmod(files.script, stat.S_IRWXU)
        remove_file(files.lease)  # the leases file stays: dhclient keeps its DUID there
        if ipv6:
            # dhclient -6 binds to eth0's link-local address: usable once DAD is done.
            wait_for(lambda: not run(["ip", "-n", vm_ns, "-6", "addr", "show", "dev", VM_IF,
                                      "tentative"]).stdout.strip(),
                     timeout=10, what=f"{VM_IF}'s link-local address")
        # It stays to renew once bound: stopped as soon as the hook has written the lease.
        run_until(dhclient_command(vm_ns, files, ipv6, stateless),
                  lambda: os.path.exists(files.lease), timeout)
        remove_file(files.pid)
        if not os.path.exists(files.lease):
            return None
        with open(files.lease) as f:
            return parse_lease(f.read())

    def exec(self, name: str, argv: list[str]) -> int:
        """Run `argv` in the VM's namespace, attached to this terminal; its exit status."""
        self.get(name)
        return run_attached(exec_command(self.lab.names.vm_netns(name), argv))

    def delete(self, name: str) -> None:
        rec = self.get(name)
        try:
            self.api.delete_port(rec.port_id)
        except ApiError as e:
            if e.status != 404:
                raise
        run(["ip", "netns", "delete", self.lab.names.vm_netns(name)], check=False)
        st = self.lab.load()
        st.vms.pop(name, None)
        self.lab.save(st)
