"""Removes everything a lab made, found by its name and state directories.

Works after a crash or `kill -9` of any part: the lab's record is only a hint. Order matters:
processes first (they hold namespaces and mounts), then mounts, namespaces, links, RabbitMQ
objects, files, and the cgroup.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal

from neutrino.lab import state, vlans
from neutrino.lab.naming import LabNames
from neutrino.lab.system import (
    Cgroup,
    cmdline,
    mounts_under,
    named_netns,
    ns_inode,
    pid_alive,
    pids_in_mnt_ns,
    pids_in_netns,
    root_links,
    run,
    umount,
    wait_for,
)

LOG = logging.getLogger(__name__)
RABBIT_MARKER = "rabbit"


def lab_netns(names: LabNames) -> list[str]:
    return [n for n in named_netns() if n.startswith(names.netns_prefix)]


def lab_links(names: LabNames) -> list[str]:
    return [n for n in root_links() if n.startswith(names.link_prefix)]


def _netns_inodes(names: LabNames) -> set[int]:
    """Network namespaces of the lab: its named ones and any kept under its directories."""
    inodes = set()
    for n in lab_netns(names):
        ino = ns_inode(f"/run/netns/{n}")
        if ino is not None:
            inodes.add(ino)
    nsfs = os.stat("/proc/self/ns/net").st_dev
    for point in mounts_under([names.state_dir, names.run_dir]):
        try:
            st = os.stat(point)
        except OSError:
            continue
        if st.st_dev == nsfs:
            inodes.add(st.st_ino)
    own = ns_inode("/proc/self/ns/net")
    inodes.discard(own)  # never kill processes of the root namespace by inode
    return inodes


def _recorded_mnt_inodes(names: LabNames) -> set[int]:
    st = state.load(names.state_file)
    if st is None:
        return set()
    return {h.mnt_inode for h in st.hosts.values() if h.mnt_inode is not None}


def kill_stragglers(names: LabNames) -> None:
    """Processes living in the lab's namespaces but outside its cgroup (the all-in-one's
    dnsmasq when cgroups are missing, anything an agent forked oddly)."""
    inodes = _netns_inodes(names)
    pids = [p for p in pids_in_netns(inodes) if p != os.getpid()]
    for mnt in _recorded_mnt_inodes(names):
        pids += [p for p in pids_in_mnt_ns(mnt) if p != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if pids:
        wait_for(lambda: not [p for p in pids if pid_alive(p)], 10, 0.05,
                 "lab processes to exit")


def rabbit_cleanup(names: LabNames) -> None:
    run(["rabbitmqctl", "-q", "delete_vhost", names.rabbit_vhost], check=False, timeout=60)
    run(["rabbitmqctl", "-q", "delete_user", names.rabbit_user], check=False, timeout=60)


def kill_recorded(names: LabNames) -> None:
    """The services the record names, if their command line still names this lab (a pid
    may have been reused since a crash: never kill what the lab did not start)."""
    st = state.load(names.state_file)
    if st is None:
        return
    pids = [st.server_pid, st.aio_pid, st.forwarder_pid, st.vlan_follower_pid]
    pids += [p for h in st.hosts.values() for p in h.agents.values()]
    marks = (names.state_dir + "/", f"/run/netns/{names.mgmt_netns} ",
             " ".join([vlans.MODULE, *vlans.follower_args(names)]))
    for pid in pids:
        if pid and pid != os.getpid() and any(m in cmdline(pid) for m in marks):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def teardown(names: LabNames, cgroup: Cgroup) -> None:
    cgroup.kill()
    kill_recorded(names)
    kill_stragglers(names)
    for point in mounts_under([names.state_dir, names.run_dir]):
        umount(point)
    for ns in lab_netns(names):
        run(["ip", "netns", "delete", ns], check=False)
    for link in lab_links(names):
        run(["ip", "link", "delete", link], check=False)
    if os.path.exists(os.path.join(names.run_dir, RABBIT_MARKER)):
        rabbit_cleanup(names)
    for d in (names.state_dir, names.run_dir):
        shutil.rmtree(d, ignore_errors=True)
    for base in (names.state_base, names.run_base):
        try:
            os.rmdir(base)  # only when no other lab is in it
        except OSError:
            pass
    cgroup.remove()


def leftovers(names: LabNames, cgroup: Cgroup) -> list[str]:
    """What of the lab is still on the machine (empty when `down` did its job)."""
    found = [f"netns {n}" for n in lab_netns(names)]
    found += [f"link {n}" for n in lab_links(names)]
    found += [f"pid {p}" for p in cgroup.pids()]
    found += [f"mount {m}" for m in mounts_under([names.state_dir, names.run_dir])]
    found += [f"dir {d}" for d in (names.state_dir, names.run_dir) if os.path.exists(d)]
    if cgroup.path and os.path.exists(cgroup.path):
        found.append(f"cgroup {cgroup.path}")
    return found
