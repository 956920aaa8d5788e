"""The lab's namespaces and links: physnet1, the management network, the hosts.

Each step is one idempotent-enough command list; `down` removes everything by name.
"""

from __future__ import annotations

import fcntl
import os

from neutrino.lab import config
from neutrino.lab.naming import (
    CONTROLLER_ADDRESS,
    HOST_MGMT_IF,
    HOST_PHYS_IF,
    MGMT_BRIDGE,
    MGMT_NETWORK,
    LabNames,
    host_mgmt_address,
)
from neutrino.lab.system import Cgroup, ns_inode, run, start, wait_for

HOLDER_LEAF = "hosts"
PREFIXLEN = MGMT_NETWORK.prefixlen


def physnet_commands(names: LabNames) -> list[list[str]]:
    """physnet1: a plain bridge in the root namespace; without VLAN filtering it is a trunk."""
    br = names.physnet_bridge
    return [["ip", "link", "add", br, "type", "bridge", "stp_state", "0"],
            ["ip", "link", "set", br, "up"]]


def mgmt_commands(names: LabNames) -> list[list[str]]:
    ns = names.mgmt_netns
    return [["ip", "netns", "add", ns],
            ["ip", "-n", ns, "link", "set", "lo", "up"],
            ["ip", "-n", ns, "link", "add", MGMT_BRIDGE, "type", "bridge"],
            ["ip", "-n", ns, "addr", "add", f"{CONTROLLER_ADDRESS}/{PREFIXLEN}",
             "dev", MGMT_BRIDGE],
            ["ip", "-n", ns, "link", "set", MGMT_BRIDGE, "up"]]


def host_link_commands(names: LabNames, host: str, index: int) -> list[list[str]]:
    """A host's eth0 on physnet1 and mgmt0 on the management network."""
    hns, mns = names.host_netns(host), names.mgmt_netns
    root_end, peer = names.phys_veth(index), names.mgmt_peer(index)
    return [
        ["ip", "-n", hns, "link", "set", "lo", "up"],
        ["ip", "link", "add", root_end, "type", "veth", "peer", "name", HOST_PHYS_IF,
         "netns", hns],
        ["ip", "link", "set", root_end, "master", names.physnet_bridge, "up"],
        ["ip", "-n", hns, "link", "set", HOST_PHYS_IF, "up"],
        ["ip", "link", "add", HOST_MGMT_IF, "netns", hns, "type", "veth", "peer", "name",
         peer, "netns", mns],
        ["ip", "-n", mns, "link", "set", peer, "master", MGMT_BRIDGE, "up"],
        ["ip", "-n", hns, "addr", "add", f"{host_mgmt_address(index)}/{PREFIXLEN}",
         "dev", HOST_MGMT_IF],
        ["ip", "-n", hns, "link", "set", HOST_MGMT_IF, "up"],
    ]


def holder_command() -> list[str]:
    """A process that owns a fresh network and private mount namespace and does nothing."""
    return ["unshare", "--net", "--mount", "--propagation", "private", "--",
            "sleep", "infinity"]


def host_mount_commands(pid: int, hosts_file: str) -> list[list[str]]:
    """Inside the host's mount namespace: its own /run/netns and /etc/hosts."""
    enter = ["nsenter", "-t", str(pid), "-m", "--"]
    return [enter + ["mkdir", "-p", "/run/netns"],
            enter + ["mount", "-t", "tmpfs", "-o", "mode=0755", "neutrino-lab", "/run/netns"],
            enter + ["mount", "--bind", hosts_file, "/etc/hosts"]]


def run_all(commands: list[list[str]]) -> None:
    for argv in commands:
        run(argv)


def create_physnet(names: LabNames) -> None:
    run_all(physnet_commands(names))


def create_mgmt(names: LabNames) -> None:
    run_all(mgmt_commands(names))


def create_host(names: LabNames, cgroup: Cgroup, host: str, index: int) -> int:
    """Starts the host's holder, gives it its mounts and links; returns the holder's pid."""
    hdir = names.host_dir(host)
    os.makedirs(hdir, exist_ok=True)
    hosts_file = os.path.join(hdir, "hosts")
    with open(hosts_file, "w") as f:
        f.write(config.etc_hosts(host))
    proc = start(holder_command(), log_path=names.log_file(f"holder-{host}"), cgroup=cgroup,
                 leaf=HOLDER_LEAF)
    own_net, own_mnt = ns_inode("/proc/self/ns/net"), ns_inode("/proc/self/ns/mnt")

    def unshared() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"the holder of {host} exited with {proc.returncode}")
        return (ns_inode(f"/proc/{proc.pid}/ns/net") not in (None, own_net)
                and ns_inode(f"/proc/{proc.pid}/ns/mnt") not in (None, own_mnt))

    wait_for(unshared, 10, 0.02, f"{host}'s namespaces")
    run(["ip", "netns", "attach", names.host_netns(host), str(proc.pid)])
    run_all(host_mount_commands(proc.pid, hosts_file))
    run_all(host_link_commands(names, host, index))
    return proc.pid


def in_host(pid: int, argv: list[str]) -> list[str]:
    """`argv` run inside a host: its network and mount namespaces."""
    return ["nsenter", "-t", str(pid), "-n", "-m", "--"] + argv


# --- physnet1 VLANs on kernels without 802.1Q ----------------------------------------------
#
# Some kernels (VM kernels built without CONFIG_VLAN_8021Q) cannot make VLAN devices, so the
# Linux bridge agent cannot create eth0.<vlan>. The lab then realises each VLAN of physnet1 as
# its own segment: a bridge `v<vlan>` in the lab's switch namespace, and in every host a veth
# already named `eth0.<vlan>` that the agent finds and enslaves as the network's uplink. VLANs
# stay separate L2 segments, as on a trunk.

def kernel_has_vlans() -> bool:
    probe = f"nlvlanprobe{os.getpid() % 1000}"
    made = run(["ip", "link", "add", probe, "type", "bridge"], check=False)
    if made.returncode != 0:
        return False
    try:
        return run(["ip", "link", "add", "link", probe, "name", f"{probe[:10]}.7", "type",
                    "vlan", "id", "7"], check=False).returncode == 0
    finally:
        run(["ip", "link", "delete", probe], check=False)


def switch_commands(names: LabNames) -> list[list[str]]:
    ns = names.switch_netns
    return [["ip", "netns", "add", ns], ["ip", "-n", ns, "link", "set", "lo", "up"]]


def vlan_segment_commands(names: LabNames, vlan: int, hosts: dict[str, int],
                          present: set[str]) -> list[list[str]]:
    """What makes VLAN `vlan` reach every host; `present`: links already in the switch."""
    ns, bridge = names.switch_netns, f"v{vlan}"
    cmds: list[list[str]] = []
    if bridge not in present:
        cmds += [["ip", "-n", ns, "link", "add", bridge, "type", "bridge", "stp_state", "0"],
                 ["ip", "-n", ns, "link", "set", bridge, "up"]]
    for host, index in sorted(hosts.items()):
        peer = f"h{index}v{vlan}"
        if peer in present:
            continue
        hns = names.host_netns(host)
        cmds += [["ip", "link", "add", f"{HOST_PHYS_IF}.{vlan}", "netns", hns, "type", "veth",
                  "peer", "name", peer, "netns", ns],
                 ["ip", "-n", ns, "link", "set", peer, "master", bridge, "up"],
                 ["ip", "-n", hns, "link", "set", f"{HOST_PHYS_IF}.{vlan}", "up"]]
    return cmds


def switch_links(names: LabNames) -> set[str]:
    out = run(["ip", "-n", names.switch_netns, "-o", "link", "show"]).stdout
    return {line.split(":", 2)[1].strip().split("@", 1)[0]
            for line in out.splitlines() if ":" in line}


def switch_vlans(names: LabNames) -> set[int]:
    """The VLANs that have a segment bridge `v<vlan>` in the switch."""
    return {int(name[1:]) for name in switch_links(names)
            if name.startswith("v") and name[1:].isdigit()}


def ensure_vlan_segments(names: LabNames, vlans: set[int], hosts: dict[str, int]) -> None:
    # The VLAN follower (lab/vlans.py) and `lab vm boot` both add segments: one at a time,
    # so neither trips over a link the other has just made.
    with open(os.path.join(names.run_dir, "vlans.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        present = switch_links(names)
        for vlan in sorted(vlans):
            run_all(vlan_segment_commands(names, vlan, hosts, present))
