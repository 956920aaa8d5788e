"""Names and addresses of everything a lab creates: pure functions of the lab's name.

Every object carries the lab's name so that `down` can find it again after a crash, from the
name alone: named namespaces `nlab-<lab>-...` in the root `/run/netns`, links `nl-<lab>-...`
in the root namespace, the cgroup `neutrino-lab-<lab>`, the RabbitMQ vhost and user
`neutrino-lab-<lab>`, and the state directories.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

# Linux interface names hold 15 characters: "nl-" + lab + "-e" + two digits must fit.
MAX_LAB_NAME = 8
_LAB_RE = re.compile(r"^[a-z0-9]{1," + str(MAX_LAB_NAME) + r"}$")
_HOST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
_VM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")

MAX_HOSTS = 64
MGMT_NETWORK = ipaddress.IPv4Network("172.30.0.0/24")
CONTROLLER_ADDRESS = "172.30.0.10"
CONTROLNODE = "controlnode"
PHYSNET = "physnet1"
MGMT_BRIDGE = "mgmt"  # inside the lab's own management namespace
HOST_PHYS_IF = "eth0"
HOST_MGMT_IF = "mgmt0"
VM_IF = "eth0"


class LabNameError(ValueError):
    """A lab, host or VM name the lab refuses (it ends up in file and link names)."""


def check_lab_name(name: str) -> str:
    if not _LAB_RE.match(name):
        raise LabNameError(f"lab name {name!r}: 1 to {MAX_LAB_NAME} of a-z, 0-9")
    return name


def check_host_name(name: str) -> str:
    if not _HOST_RE.match(name) or name == CONTROLNODE:
        raise LabNameError(f"host name {name!r}: a letter, then up to 31 of A-Z a-z 0-9 _ -"
                           f" (and not {CONTROLNODE!r})")
    return name


def check_vm_name(name: str) -> str:
    if not _VM_RE.match(name):
        raise LabNameError(f"VM name {name!r}: up to 32 of A-Z a-z 0-9 _ . -")
    return name


@dataclass(frozen=True)
class LabNames:
    lab: str
    run_base: str = "/run/neutrino-lab"
    state_base: str = "/var/lib/neutrino-lab"

    def __post_init__(self) -> None:
        check_lab_name(self.lab)

    # --- directories -------------------------------------------------------------------
    @property
    def run_dir(self) -> str:
        return f"{self.run_base}/{self.lab}"

    @property
    def state_dir(self) -> str:
        return f"{self.state_base}/{self.lab}"

    @property
    def state_file(self) -> str:
        return f"{self.run_dir}/lab.json"

    def host_dir(self, host: str) -> str:
        return f"{self.state_dir}/hosts/{host}"

    @property
    def controller_dir(self) -> str:
        return f"{self.state_dir}/{CONTROLNODE}"

    def log_file(self, what: str) -> str:
        return f"{self.state_dir}/log/{what}.log"

    # --- root namespace objects ----------------------------------------------------------
    @property
    def netns_prefix(self) -> str:
        return f"nlab-{self.lab}-"

    def host_netns(self, host: str) -> str:
        return f"{self.netns_prefix}{host}"

    @property
    def mgmt_netns(self) -> str:
        return f"{self.netns_prefix}mgmt"

    def vm_netns(self, vm: str) -> str:
        return f"{self.netns_prefix}vm-{vm}"

    @property
    def switch_netns(self) -> str:
        """Where physnet1's VLAN segments live when the kernel cannot tag (see fabric)."""
        return f"{self.netns_prefix}physnet1"

    @property
    def link_prefix(self) -> str:
        return f"nl-{self.lab}-"

    @property
    def physnet_bridge(self) -> str:
        return f"{self.link_prefix}pn"

    def phys_veth(self, index: int) -> str:
        """Root end of host `index`'s eth0, a port of the physnet1 bridge."""
        if not 0 <= index < MAX_HOSTS:
            raise LabNameError(f"host index {index} out of 0..{MAX_HOSTS - 1}")
        return f"{self.link_prefix}e{index}"

    @staticmethod
    def mgmt_peer(index: int) -> str:
        """Management namespace end of host `index`'s management link."""
        return f"h{index}"

    @property
    def cgroup(self) -> str:
        return f"neutrino-lab-{self.lab}"

    @property
    def rabbit_vhost(self) -> str:
        return f"neutrino-lab-{self.lab}"

    @property
    def rabbit_user(self) -> str:
        return f"neutrino-lab-{self.lab}"


def host_mgmt_address(index: int) -> str:
    if not 0 <= index < MAX_HOSTS:
        raise LabNameError(f"host index {index} out of 0..{MAX_HOSTS - 1}")
    return str(MGMT_NETWORK.network_address + 11 + index)


def next_host_index(used: list[int] | set[int]) -> int:
    for i in range(MAX_HOSTS):
        if i not in used:
            return i
    raise LabNameError(f"a lab holds at most {MAX_HOSTS} hosts")
