"""The API over the real Services on SQLite, through HTTP (Starlette's TestClient, httpx)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.conf.settings import ApiSettings, CoreSettings, IdentityUser, VlanRange
from neutrino.core.interfaces import RecordingNotifier
from neutrino.core.services import Services, build_services
from neutrino.lib import constants

USERS = (IdentityUser("admin", "adminpassword", "admin", "admin"),
         IdentityUser("demo", "demopassword", "demo", "member"),
         IdentityUser("alt", "altpassword", "alt", "member"))


def password_auth(user: str, password: str, project: str) -> dict[str, Any]:
    return {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}


class Api:
    """A client logged in as admin, demo (member) and alt (member of another project)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.tokens = {name: self.token(name, f"{name}password", name)
                       for name in ("admin", "demo", "alt")}

    def token(self, user: str, password: str, project: str) -> str:
        response = self.client.post("/v3/auth/tokens",
                                    json=password_auth(user, password, project))
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def headers(self, who: str) -> dict[str, str]:
        return {"X-Auth-Token": self.tokens[who]}

    def call(self, method: str, url: str, who: str = "admin", **kwargs: Any) -> Any:
        headers = {**self.headers(who), **kwargs.pop("headers", {})}
        return self.client.request(method, url, headers=headers, **kwargs)

    def create(self, resource: str, who: str = "admin", **attrs: Any) -> dict[str, Any]:
        response = self.call("POST", f"/v2.0/{resource}s", who, json={resource: attrs})
        assert response.status_code == 201, response.text
        return response.json()[resource]


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture
def core(sqlite_database: Any, notifier: RecordingNotifier) -> Services:
    settings = CoreSettings(host="controlnode", agent_down_time=5, tenant_network_type="vlan",
                            vlan_ranges=(VlanRange("physnet1", 1000, 1010),),
                            network_scheduler="chance")
    return build_services(sqlite_database, settings, notifier)


@pytest.fixture
def api_settings(tmp_path: Any) -> ApiSettings:
    return ApiSettings(state_path=str(tmp_path / "state"), users=USERS, region="RegionOne")


@pytest.fixture
def client(core: Services, api_settings: ApiSettings) -> Iterator[TestClient]:
    with TestClient(create_app(core, api_settings)) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client)


@pytest.fixture
def register_agent(core: Services) -> Any:
    """register_agent(host, zone="nova") -> the agent dict of a DHCP agent's first report."""
    return lambda host, zone="nova": register_dhcp_agent(core, host, zone)


@pytest.fixture
def make_api() -> Any:
    """make_api(test_client) -> Api logged in on that client."""
    return Api


def register_dhcp_agent(core: Services, host: str, zone: str = "nova") -> dict[str, Any]:
    core.agents.report_state({"agent_state": {
        "binary": constants.BINARY_DHCP, "host": host, "topic": constants.TOPIC_DHCP_AGENT,
        "agent_type": constants.AGENT_TYPE_DHCP, "availability_zone": zone,
        "start_flag": True, "configurations": {"networks": 0, "subnets": 0, "ports": 0}}})
    from neutrino.core.context import Context
    agents = core.agents.list(Context.admin(), {"host": [host],
                                                "agent_type": [constants.AGENT_TYPE_DHCP]})
    return agents[0]


def _services(db, settings, clock=None):
    """Services's services, as the API and RPC use them, casting into a recorder."""
    return build_services(db, settings, RecordingNotifier(), clock)
