"""The lab with its services: `host add` (HostC joins with its agents) and the VM commands."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from neutrino.lab.api import ApiError, Credentials, NetworkApi
from neutrino.lab.system import wait_for
from neutrino.lab.vm import Vms

pytestmark = [pytest.mark.root, pytest.mark.rabbit]


def test_host_add_and_vm_boot_list_dhcp_delete(lab_factory):
    lab = lab_factory()
    st = lab.up("rabbit", hosts=("HostA",))
    api = NetworkApi(Credentials(f"http://127.0.0.1:{st.api_port}/v2.0/", "admin",
                                 "adminpassword", "admin"))
    lab.add_host("HostC")

    expected = {(h, t) for h in ("HostA", "HostC")
                for t in ("DHCP agent", "Linux bridge agent")}

    def alive() -> set[tuple[str, str]]:
        return {(a["host"], a["agent_type"]) for a in api.list_agents() if a["alive"]}
    wait_for(lambda: alive() == expected, 60, 0.5, "HostA's and HostC's agents")

    net = api.call("POST", "networks", {"network": {"name": "labnet"}})["network"]
    api.call("POST", "subnets", {"subnet": {"network_id": net["id"], "cidr": "10.5.0.0/24",
                                            "ip_version": 4}})
    vms = Vms(lab, api)
    rec = vms.boot("vmc", net["id"], "HostC")
    port = api.get_port(rec.port_id)
    assert port["binding:host_id"] == "HostC"
    assert port["device_owner"] == "compute:nova" and port["device_id"] == rec.id
    want = port["fixed_ips"][0]["ip_address"]
    wait_for(lambda: [r for r in vms.rows() if r.name == "vmc" and r.status == "ACTIVE"],
             60, 0.5, "vmc to be ACTIVE")

    listed = subprocess.run(["neutrino-lab", "vm", "list", "--name", lab.names.lab,
                             "--run-base", lab.names.run_base, "--state-base",
                             lab.names.state_base], capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert f"| vmc  | ACTIVE | labnet={want} |" in listed.stdout

    try:
        wait_for(lambda: vms.dhcp("vmc") == want, 60, 0, f"vmc to lease {want}")
    except TimeoutError:
        pytest.fail(f"vmc did not lease {want}\n{lab.diagnostics()}")
    # stop-agent leaves dnsmasq serving; the restarted agent adopts it (same process):
    # the host's qdhcp namespace lives in the host's own mount namespace, not in the agent.
    host = api.dhcp_agents_hosting(net["id"])[0]["host"]

    def host_dnsmasq() -> set[int]:
        return {p for p in lab.cgroup.pids(f"{host}-dhcp")
                if Path(f"/proc/{p}/comm").read_text().strip() == "dnsmasq"}
    def dhcp_agent() -> dict:
        return [a for a in api.list_agents()
                if a["host"] == host and a["agent_type"] == "DHCP agent"][0]
    serving = host_dnsmasq()
    assert serving
    started = dhcp_agent()["started_at"]
    lab.stop_agent(host, "dhcp")
    assert host_dnsmasq() == serving
    assert vms.dhcp("vmc") == want
    lab.start_agent(host, "dhcp")
    wait_for(lambda: dhcp_agent()["started_at"] != started, 30, 0.2,
             f"{host}'s restarted DHCP agent to report")
    # Its full sync has had time to run once the new agent reports; dnsmasq is the same.
    wait_for(lambda: dhcp_agent()["configurations"].get("networks") == 1, 30, 0.2,
             f"{host}'s DHCP agent to report the network")
    assert host_dnsmasq() == serving
    assert vms.dhcp("vmc") == want
    vms.delete("vmc")
    with pytest.raises(ApiError) as err:
        api.get_port(rec.port_id)
    assert err.value.status == 404
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert lab.names.vm_netns("vmc") not in netns
    assert "vmc" not in lab.load().vms


def test_down_after_kill_9_of_the_all_in_one_removes_its_dnsmasq_and_mounts(lab_factory):
    import os
    import signal

    from neutrino.lab.system import mounts_under, pid_alive
    lab = lab_factory()
    st = lab.up("inproc", hosts=("HostA",))
    api = NetworkApi(Credentials(f"http://127.0.0.1:{st.api_port}/v2.0/", "admin",
                                 "adminpassword", "admin"))
    wait_for(lambda: len([a for a in api.list_agents() if a["alive"]]) == 2, 60, 0.5,
             "HostA's agents")
    net = api.call("POST", "networks", {"network": {"name": "killnet"}})["network"]
    api.call("POST", "subnets", {"subnet": {"network_id": net["id"], "cidr": "10.6.0.0/24",
                                            "ip_version": 4}})

    def dnsmasq_pids() -> list[int]:
        return [p for p in lab.cgroup.pids()
                if Path(f"/proc/{p}/comm").read_text().strip() == "dnsmasq"]
    wait_for(dnsmasq_pids, 60, 0.5, "HostA's dnsmasq")
    spawned = dnsmasq_pids()
    qdhcp = [m for m in mounts_under([lab.names.state_dir]) if "qdhcp-" in m]
    assert qdhcp, "the all-in-one keeps HostA's qdhcp namespace under the lab's state"
    os.kill(st.aio_pid, signal.SIGKILL)
    os.unlink(lab.names.state_file)
    lab.down()
    assert not [p for p in spawned if pid_alive(p)]
    assert mounts_under([lab.names.state_dir]) == []
    assert lab.leftovers() == []


def test_without_cgroups_stop_dhcp_and_down_still_find_every_process():
    from neutrino.lab.lab import Lab
    from neutrino.lab.naming import LabNames
    from neutrino.lab.system import Cgroup, pid_alive, pids_in_mnt_ns

    from .conftest import machine_leftovers, unique_lab_name
    names = LabNames(unique_lab_name())
    lab = Lab(names, Cgroup(names.cgroup, enabled=False))
    try:
        st = lab.up("rabbit", hosts=("HostA",))
        api = NetworkApi(Credentials(f"http://127.0.0.1:{st.api_port}/v2.0/", "admin",
                                     "adminpassword", "admin"))
        wait_for(lambda: len([a for a in api.list_agents() if a["alive"]]) == 2, 60, 0.5,
                 "HostA's agents")
        net = api.call("POST", "networks", {"network": {"name": "nocg"}})["network"]
        api.call("POST", "subnets", {"subnet": {"network_id": net["id"],
                                                "cidr": "10.4.0.0/24", "ip_version": 4}})
        mnt = lab.load().hosts["HostA"].mnt_inode

        def dnsmasq() -> list[int]:
            return [p for p in pids_in_mnt_ns(mnt)
                    if Path(f"/proc/{p}/comm").read_text().strip() == "dnsmasq"]
        wait_for(dnsmasq, 60, 0.5, "HostA's dnsmasq")
        lab.stop_dhcp("HostA")
        assert dnsmasq() == [] and not lab.agent_running("HostA", "dhcp")
        lab.start_dhcp("HostA")
        wait_for(dnsmasq, 60, 0.5, "HostA's dnsmasq again")
        services = [lab.load().server_pid, lab.load().forwarder_pid]
        spawned = dnsmasq() + list(lab.load().hosts["HostA"].agents.values())
    finally:
        lab.down()
    assert not [p for p in services + spawned if pid_alive(p)]
    assert machine_leftovers(lab) == []
