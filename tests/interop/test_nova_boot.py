"""Issue 11: a real Nova (with Keystone, Placement, Glance from PyPI, fake compute driver) boots
servers on Neutrino with `auth_strategy = keystone`.

Needs `tools/interop/install-openstack.sh` (its own venv; `tools/install.sh --test` runs
it), MariaDB and RabbitMQ on 127.0.0.1, and root (a namespace for the compute host); start-up
takes about 80 s. NEUTRINO_INTEROP=0 leaves it out of a quick run; a missing install fails
it. Every Neutron call Nova makes goes through a RecordingProxy: on failure the test prints
them (also in <tmp>/neutron-calls.jsonl).
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from support import netns as tn
from support.agents import start_linuxbridge_agent
from support.openstack import OpenStackCloud, installed
from support.rabbit import RabbitVhost
from support.recorder import RecordingProxy
from support.server import NeutrinoServer

from neutrino.lib import naming

pytestmark = [
    pytest.mark.interop,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(os.environ.get("NEUTRINO_INTEROP") == "0",
                       reason="NEUTRINO_INTEROP=0 leaves the Nova interop test out"),
]

HOST = "novahost1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Keystone, Placement, Glance and Nova (fake driver, compute host `novahost1`); Neutrino
    behind a recording proxy; and for `novahost1` a namespace with Neutrino's Linux bridge
    agent, where the test plays libvirt's part: with `vif_type: tap` libvirt makes the tap
    `tap<port id[:11]>` with the port's MAC and leaves the rest to the agent."""
    if not installed():
        pytest.fail("OpenStack for the interop test is not installed: run "
                    "tools/interop/install-openstack.sh (tools/install.sh --test does)")
    workdir = tmp_path_factory.mktemp("nova-interop")
    with RecordingProxy(log_path=workdir / "neutron-calls.jsonl") as proxy, \
            RabbitVhost() as vhost, tn.NetnsResources() as hosts, \
            OpenStackCloud(workdir / "cloud", proxy.url, compute_hosts=(HOST,)) as cloud:
        nova_section = {k: v for k, v in cloud.keystone_authtoken("neutron").items()
                        if k not in ("www_authenticate_uri", "memcached_servers")}
        options = {
            "keystone_authtoken": cloud.keystone_authtoken("neutron"),
            # Neutron's names, for the notifier the issue asks for (ignored until it exists).
            "DEFAULT": {"notify_nova_on_port_status_changes": "true",
                        "notify_nova_on_port_data_changes": "true",
                        "send_events_interval": 1},
            "nova": {**nova_section, "endpoint_type": "public"},
            # A VLAN needs 802.1Q, which this kernel lacks: tenant networks are local
            # (one bridge per network on the host, no uplink).
            "vlans": {"tenant_network_type": "local"},
        }
        with NeutrinoServer(workdir / "neutrino", auth_strategy="keystone",
                            transport_url=vhost.url, options=options) as neutrino:
            proxy.target = neutrino.url
            hypervisor = hosts.namespace("novahost1-")
            hosts.veth("eth0", tn.unique("phy"), ns_a=hypervisor, ns_b=hosts.namespace())
            start_linuxbridge_agent(workdir / "lb-agent", HOST, hypervisor, vhost.url, hosts)
            yield cloud, proxy, neutrino, hypervisor, hosts


def plug_tap(hypervisor: str, hosts: tn.NetnsResources, port: dict) -> str:
    """What libvirt's plug_tap does for `vif_type: tap`: the device, the MAC, up."""
    tap = naming.tap_name(port["id"])
    tn.ip("tuntap", "add", "dev", tap, "mode", "tap", netns=hypervisor)
    hosts.defer(lambda: tn.ip("link", "del", tap, netns=hypervisor, check=False))
    tn.ip("link", "set", tap, "address", port["mac_address"], "up", netns=hypervisor)
    return tap


def openstack(cloud: OpenStackCloud, *args: str, check: bool = True, timeout: float = 400):
    done = subprocess.run(["openstack", *args], env=cloud.cli_env(), capture_output=True,
                          text=True, timeout=timeout)
    if check and done.returncode:
        raise AssertionError(f"openstack {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def show(cloud: OpenStackCloud, *args: str) -> dict:
    return json.loads(openstack(cloud, *args, "-f", "json").stdout)


def explain(proxy: RecordingProxy, mark: int, cloud: OpenStackCloud) -> str:
    log = cloud.log_tail(f"nova-compute-{HOST}", 2000).splitlines()
    errors = [line[:300] for line in log if " ERROR " in line and "Traceback" not in line]
    return ("Neutron calls:\n" + RecordingProxy.summary(proxy.since(mark))
            + "\nnova-compute errors (last 8):\n" + "\n".join(errors[-8:]))


def wait_for_events(cloud: OpenStackCloud, want: set[tuple[str, str]], timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        seen = set(cloud.external_events())
        if want <= seen or time.monotonic() > deadline:
            return seen
        time.sleep(1)


def test_the_cloud_is_up(stack):
    cloud = stack[0]
    token, body = cloud.token()
    assert token and {r["name"] for r in body["token"]["roles"]} >= {"admin"}
    assert show(cloud, "image", "show", cloud.image_id)["status"] == "active"
    assert show(cloud, "flavor", "show", cloud.flavor_id)["name"] == "m1.tiny"
    services = {(s["host"], s["state"]) for s in cloud.compute_services()}
    assert (HOST, "up") in services
    assert openstack(cloud, "network", "list").returncode == 0  # catalog -> Neutrino


@pytest.fixture(scope="module")
def net1(stack):
    cloud = stack[0]
    net = show(cloud, "network", "create", "net1")
    show(cloud, "subnet", "create", "--network", "net1", "--subnet-range", "192.0.2.0/24",
         "sub1")
    return net


def test_boot_and_delete_on_network(stack, net1):
    cloud, proxy = stack[:2]
    mark = proxy.mark()
    # `--security-group default` (issue 14): Nova finds the group by name, then puts it
    # on the port it makes.
    done = openstack(cloud, "server", "create", "--flavor", cloud.flavor_id, "--image",
                     cloud.image_id, "--network", "net1", "--security-group", "default",
                     "--wait", "-f", "json", "vm1", check=False)
    assert done.returncode == 0, done.stderr + "\n" + explain(proxy, mark, cloud)
    server = json.loads(done.stdout)
    assert server["status"] == "ACTIVE"
    ports = json.loads(openstack(cloud, "port", "list", "--device-id", server["id"],
                                 "-f", "json", "--long").stdout)
    assert len(ports) == 1
    port = show(cloud, "port", "show", ports[0]["ID"])
    assert port["binding_host_id"] == HOST
    assert port["binding_vif_type"] == "tap"
    assert port["device_owner"].startswith("compute:")
    assert len(port["security_group_ids"]) == 1, port
    group = show(cloud, "security", "group", "show", port["security_group_ids"][0])
    assert (group["name"], group["project_id"]) == ("default", port["project_id"])
    seen = wait_for_events(cloud, {("network-changed", port["id"])})
    assert ("network-changed", port["id"]) in seen, seen
    assert ("network-vif-plugged", port["id"]) not in seen  # no tap yet, no agent report

    hypervisor, hosts = stack[3], stack[4]
    tap = plug_tap(hypervisor, hosts, port)
    tn.wait_for(lambda: show(cloud, "port", "show", port["id"])["status"] == "ACTIVE", 60)
    assert tn.link_master(tap, hypervisor) == naming.bridge_name(net1["id"])
    seen = wait_for_events(cloud, {("network-vif-plugged", port["id"])})
    assert ("network-vif-plugged", port["id"]) in seen, seen

    openstack(cloud, "server", "delete", "--wait", "vm1")
    assert openstack(cloud, "port", "show", port["id"], check=False).returncode != 0


def test_boot_with_a_port_the_user_made(stack, net1):
    cloud, proxy = stack[:2]
    port = show(cloud, "port", "create", "--network", "net1", "p1")
    mark = proxy.mark()
    done = openstack(cloud, "server", "create", "--flavor", cloud.flavor_id, "--image",
                     cloud.image_id, "--port", port["id"], "--wait", "-f", "json", "vm2",
                     check=False)
    assert done.returncode == 0, done.stderr + "\n" + explain(proxy, mark, cloud)
    server = json.loads(done.stdout)
    assert server["status"] == "ACTIVE"
    bound = show(cloud, "port", "show", port["id"])
    assert (bound["binding_host_id"], bound["device_id"]) == (HOST, server["id"])

    openstack(cloud, "server", "delete", "--wait", "vm2")
    after = openstack(cloud, "port", "show", port["id"], "-f", "json", check=False)
    assert after.returncode == 0, "Nova deleted the user's port:\n" + explain(proxy, mark, cloud)
    kept = json.loads(after.stdout)
    assert kept["binding_host_id"] in ("", None)
    assert kept["device_id"] == "" and kept["device_owner"] == ""
    assert kept["status"] == "DOWN"
    unbinds = [c for c in proxy.since(mark) if c.method == "PUT"
               and c.path.endswith(port["id"]) and c.body.get("port", {}).get("device_id") == ""]
    assert unbinds and all(c.status == 200 for c in unbinds), explain(proxy, mark, cloud)


def test_quotas_answer(stack):
    cloud = stack[0]
    _, body = cloud.token()
    project = body["token"]["project"]["id"]
    quota = show(cloud, "quota", "show", "--network", project)
    assert quota  # Nova's API reads GET /v2.0/quotas/{project} on every --network boot
