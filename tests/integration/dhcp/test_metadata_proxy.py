"""The metadata proxy through real parts: a VM namespace gets its lease (and the route to
169.254.169.254) from the agent's dnsmasq with udhcpc, then fetches its metadata with curl
through the proxy from a stand-in for Nova's metadata API that checks the signature as Nova
does."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support import netns as tn
from support.dhcp_lab import DhcpLab

from neutrino.agent.dhcp.metadata import MetadataProxy
from neutrino.agent.dhcp.plan import Instance
from neutrino.conf.settings import MetadataSettings
from neutrino.linux.host import socket_in

pytestmark = pytest.mark.root

SECRET = "s3cret-shared"
URL = "http://169.254.169.254/openstack/latest/meta_data.json"


class FakeNova(ThreadingHTTPServer):
    """Nova's metadata API as far as the proxy can tell: 400 without an instance id, 403
    when the signature is not HMAC-SHA256(secret, id), 404 for an instance not of that
    project."""

    def __init__(self, instances: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", 0), _NovaHandler)
        self.secret = SECRET
        self.instances = instances  # instance id -> project id
        self.seen: list[dict[str, list[str]]] = []


class _NovaHandler(BaseHTTPRequestHandler):
    server: FakeNova

    def do_GET(self) -> None:  # noqa: N802
        seen = {k.lower(): self.headers.get_all(k) or [] for k in self.headers.keys()}
        self.server.seen.append(seen)
        ids = self.headers.get_all("X-Instance-ID") or []
        if len(ids) != 1:
            return self._answer(400, {"error": "one X-Instance-ID expected"})
        expected = hmac.new(self.server.secret.encode(), ids[0].encode(),
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-Instance-ID-Signature", "")):
            return self._answer(403, {"error": "Invalid proxy request signature."})
        if self.server.instances.get(ids[0]) != self.headers.get("X-Tenant-ID"):
            return self._answer(404, {"error": "no such instance"})
        self._answer(200, {"uuid": ids[0], "path": self.path,
                           "forwarded_for": self.headers.get("X-Forwarded-For")})

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture
def nova() -> Iterator[FakeNova]:
    server = FakeNova({"inst-1": "p1", "inst-2": "p1"})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def curl(ns: str, *args: str) -> tuple[int, str]:
    """(HTTP status, body) of a request from inside `ns`; status 0 when none came."""
    done = subprocess.run(["nsenter", f"--net={ns}", "curl", "-s", "-m", "10",
                           "-o", "-", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True, timeout=30)
    body, _, code = done.stdout.rpartition("\n")
    return int(code or 0), body


def configure(ns: str, lease: tn.Lease) -> None:
    """What a VM's DHCP client does with the lease: the address and the classless routes."""
    tn.ip("addr", "add", f"{lease.ip}/{lease.fields['mask']}", "dev", "eth0", netns=ns)
    words = lease.fields["staticroutes"].split(",")
    for destination, via in zip(words[::2], words[1::2], strict=True):
        tn.ip("route", "replace", destination, "via", via, netns=ns)


def test_vm_fetches_its_metadata_through_the_proxy(nova: FakeNova) -> None:
    with tn.NetnsResources() as res:
        lab = DhcpLab(res)
        plugin = lab.plugin
        net = plugin.add_network(cidr="10.93.0.0/24")
        vm1 = plugin.add_port(net, device_id="inst-1")
        vm2 = plugin.add_port(net, device_id="inst-2")
        agent = lab.agent(metadata=MetadataSettings(
            enable_isolated_metadata=True, nova_host="127.0.0.1",
            nova_port=nova.server_address[1], shared_secret=SECRET))
        agent.start()
        tn.wait_for(lambda: net in agent.served(), timeout=30)
        dhcp_ip = lab.dhcp_port(net)["fixed_ips"][0]["ip_address"]

        client = lab.vm(net, vm1["mac_address"])
        lease = tn.run_udhcpc(client, "eth0", tries=3, timeout=1)
        assert lease is not None and lease.ip == vm1["fixed_ips"][0]["ip_address"]
        # Option 121 carries the metadata route and, since it replaces option 3, the default.
        assert lease.fields["staticroutes"] == \
            f"169.254.169.254/32,{dhcp_ip},0.0.0.0/0,10.93.0.1"
        configure(client, lease)

        status, body = curl(client, URL)
        assert status == 200, body
        assert json.loads(body) == {"uuid": "inst-1", "forwarded_for": lease.ip,
                                    "path": "/openstack/latest/meta_data.json"}

        # Headers a VM sets to pass for another instance are dropped, not forwarded.
        status, body = curl(client, "-H", "X-Instance-ID: inst-2",
                            "-H", "X-Forwarded-For: " + vm2["fixed_ips"][0]["ip_address"],
                            "-H", "X-Tenant-ID: p1",
                            "-H", "X-Instance-ID-Signature: 00",
                            # Spellings some WSGI servers take for the same headers.
                            "-H", "X_Tenant_ID: p1", "-H", "X_Instance_ID: inst-2",
                            "-H", "X_Forwarded_For: 10.93.0.99", URL)
        assert status == 200, body
        assert json.loads(body)["uuid"] == "inst-1"
        assert nova.seen[-1]["x-instance-id"] == ["inst-1"]
        assert nova.seen[-1]["x-forwarded-for"] == [lease.ip]
        assert [name for name in nova.seen[-1] if "_" in name] == []

        # A proxy whose secret is not Nova's is refused, as Nova refuses it.
        nova.secret = "another-secret"
        assert curl(client, URL)[0] == 403
        nova.secret = SECRET

        # An address no port has on this network is nobody's: the proxy answers 404 and
        # Nova is not asked.
        stranger = lab.vm(net, "fa:16:3e:77:77:77")
        tn.ip("addr", "add", "10.93.0.200/24", "dev", "eth0", netns=stranger)
        tn.ip("route", "add", "169.254.169.254/32", "via", dhcp_ip, netns=stranger)
        asked = len(nova.seen)
        assert curl(stranger, "http://169.254.169.254/")[0] == 404
        assert len(nova.seen) == asked

        # The instance table follows port changes without a server call.
        moved = dict(vm1, device_id="inst-2", revision_number=2)
        plugin.ports[vm1["id"]].update(moved)
        agent.port_update_end({"port": moved})
        tn.wait_for(lambda: json.loads(curl(client, URL)[1] or "{}").get("uuid") == "inst-2")

        # No longer hosted: the proxy stops listening in that namespace.
        plugin.hosted.discard(net)
        agent.network_delete_end({"network_id": net})
        tn.wait_for(lambda: net not in agent.served() and agent.idle())
        assert agent.metadata_proxy is not None
        assert agent.metadata_proxy.listening() == set()


def test_one_network_cannot_take_every_worker(nova: FakeNova) -> None:
    with tn.NetnsResources() as res:
        proxy = MetadataProxy(MetadataSettings(nova_port=nova.server_address[1],
                                               shared_secret=SECRET), workers=2)
        proxy.start()
        res.defer(proxy.stop)
        spaces = {}
        for network in ("a", "b"):
            ns = res.namespace("ntmd-")
            for address in ("169.254.169.254/32", "10.0.0.5/32"):
                tn.ip("addr", "add", address, "dev", "lo", netns=ns)
            proxy.serve(network, ns, {"10.0.0.5": Instance("inst-1", "p1")})
            spaces[network] = ns

        def connect(ns: str) -> socket.socket:
            sock = socket_in(ns, socket.AF_INET, socket.SOCK_STREAM, 0)
            res.defer(sock.close)
            sock.settimeout(10)
            sock.bind(("10.0.0.5", 0))
            sock.connect(("169.254.169.254", 80))
            return sock

        idle = connect(spaces["a"])  # sends nothing: holds network a's one slot
        refused = connect(spaces["a"])
        assert refused.recv(100) == b""  # closed at once, unanswered
        status, body = curl(spaces["b"], "--interface", "10.0.0.5", URL)
        assert status == 200 and json.loads(body)["uuid"] == "inst-1"
        idle.close()
        tn.wait_for(lambda: curl(spaces["a"], "--interface", "10.0.0.5", URL)[0] == 200)
