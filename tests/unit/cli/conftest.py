"""The CLI run in-process against an in-memory stand-in for the API client."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import pytest

from neutrino.cli import resolve
from neutrino.cli.app import NeutrinoApp
from neutrino.cli.errors import NeutronClientError

NET1 = "89dca1c6-c7d4-4f7a-b730-549af0fb6e34"
NET2 = "9b96b14f-71b8-4918-90aa-c5d705606b1a"
SUB1 = "f6c832e3-9968-46fd-8e45-d5cf646db9d1"
SUB2 = "6979b71a-0ae8-448c-aa87-65f68eedcaaa"
AGENT_A = "a0c1c21c-d4f4-4577-9ec7-908f2d48622d"
AGENT_B = "f28aa126-6edb-4ea5-a81e-8850876bc0a8"
LB_A = "1b69828d-6a9b-4826-87cd-1757f0e27f31"


def agent(agent_id, agent_type, host, alive=True, **extra):
    body = {"id": agent_id, "agent_type": agent_type, "host": host, "alive": alive,
            "admin_state_up": True, "binary": "neutrino-dhcp-agent",
            "availability_zone": "nova", "topic": "dhcp_agent", "description": None,
            "configurations": {"networks": 1, "subnets": 1, "ports": 3,
                               "dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq"}}
    body.update(extra)
    return body


class FakeClient:
    """The NetworkClient interface over dicts; records writes."""

    def __init__(self):
        self.data = {
            "networks": [
                {"id": NET1, "name": "net1", "subnets": [SUB1], "shared": False},
                {"id": NET2, "name": "net2", "subnets": [SUB2], "shared": False},
            ],
            "subnets": [
                {"id": SUB1, "name": "subnet1", "cidr": "10.0.1.0/24", "network_id": NET1,
                 "allocation_pools": [{"start": "10.0.1.2", "end": "10.0.1.254"}]},
                {"id": SUB2, "name": "subnet2", "cidr": "9.0.1.0/24", "network_id": NET2,
                 "allocation_pools": [{"start": "9.0.1.2", "end": "9.0.1.254"}]},
            ],
            "ports": [],
            "agents": [
                agent(LB_A, "Linux bridge agent", "HostA", binary="neutrino-linuxbridge-agent",
                      topic="N/A", availability_zone=None),
                agent(AGENT_A, "DHCP agent", "HostA"),
                agent(AGENT_B, "DHCP agent", "HostB", alive=False),
            ],
            "extensions": [{"alias": "agent", "name": "agent", "description": "d",
                            "updated": "2013-02-03T10:00:00-00:00", "links": []}],
        }
        self.hosting = {NET1: [AGENT_A]}
        self.writes = []
        self.quotas = {}

    def list(self, collection, params=None, path=None):
        rows = self.data[collection]
        filters = {}
        for key, value in params or []:
            if key != "fields":
                filters.setdefault(key, []).append(value)
        return [dict(r) for r in rows
                if all(str(r.get(k)) in v or r.get(k) in v for k, v in filters.items())]

    def _get(self, collection, resource_id):
        for row in self.data[collection]:
            if row["id"] == resource_id:
                return row
        raise NeutronClientError(f"{collection[:-1].capitalize()} {resource_id} could not be "
                                 "found.", 404)

    def show(self, resource, collection, resource_id):
        return dict(self._get(collection, resource_id))

    def create(self, resource, collection, attrs):
        self.writes.append(("create", resource, attrs))
        row = {"id": "11111111-2222-3333-4444-555555555555", **attrs}
        self.data[collection].append(row)
        return row

    def update(self, resource, collection, resource_id, attrs):
        self.writes.append(("update", resource, resource_id, attrs))
        self._get(collection, resource_id).update(attrs)
        return self._get(collection, resource_id)

    def delete(self, collection, resource_id):
        self._get(collection, resource_id)
        self.writes.append(("delete", collection, resource_id))

    def find_id(self, resource, collection, ref):
        return resolve.find_id(resource, ref, lambda a, v: self.list(collection, [(a, v)]))

    def list_by_ids(self, collection, ids, fields):
        return [r for r in self.data[collection] if r["id"] in ids]

    def dhcp_agents_hosting_network(self, network_id):
        return [self._get("agents", a) for a in self.hosting.get(network_id, [])]

    def networks_on_dhcp_agent(self, agent_id):
        return [self._get("networks", n) for n, agents in self.hosting.items()
                if agent_id in agents]

    def add_network_to_dhcp_agent(self, agent_id, network_id):
        self.writes.append(("add", agent_id, network_id))

    def remove_network_from_dhcp_agent(self, agent_id, network_id):
        self.writes.append(("remove", agent_id, network_id))

    def request(self, method, path, body=None, params=None):
        if path.startswith("/quotas"):
            return self._quota_request(method, path, body)
        alias = path.rsplit("/", 1)[1]
        for ext in self.data["extensions"]:
            if ext["alias"] == alias:
                return {"extension": ext}
        raise NeutronClientError(f"Extension with alias {alias} does not exist", 404)


    def _quota_request(self, method, path, body):
        self.writes.append((method, path, body))
        if path == "/quotas/tenant":
            return {"tenant": {"tenant_id": "own-project"}}
        project = path.split("/")[2]
        if method == "DELETE":
            if self.quotas.pop(project, None) is None:
                raise NeutronClientError(f"Quota for tenant {project} could not be found.",
                                         404)
            return None
        if method == "PUT":
            self.quotas.setdefault(project, {}).update(body["quota"])
        return {"quota": {"network": 100, "subnet": 100, "port": 500,
                          **self.quotas.get(project, {})}}


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def fake_client():
    return FakeClient()


@pytest.fixture
def cli(fake_client):
    def run(*argv: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        app = NeutrinoApp(stdout=out, stderr=err)
        app._client = fake_client
        root = logging.getLogger()
        handlers = list(root.handlers)
        try:
            code = app.run(list(argv))
        finally:
            for handler in root.handlers[:]:
                if handler not in handlers:
                    root.removeHandler(handler)
        return Result(code, out.getvalue(), err.getvalue())
    return run
