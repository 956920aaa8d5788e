"""A small client of the public Networking API, as the lab's `nova`-like commands need it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:500]}")
        self.status = status


@dataclass(frozen=True)
class Credentials:
    auth_url: str  # e.g. http://127.0.0.1:9696/v2.0/
    username: str
    password: str
    project: str


def _request(method: str, url: str, body: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None, timeout: float = 30
             ) -> tuple[int, dict[str, str], dict[str, Any] | None]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, dict(resp.headers), json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raise ApiError(e.code, e.read().decode(errors="replace")) from None


def _member(data: dict[str, Any] | None, key: str) -> dict[str, Any]:
    """The resource under `key` in an answer that always carries one."""
    assert data is not None, f"an empty answer where {key!r} was expected"
    found: dict[str, Any] = data[key]
    return found


def _members(data: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    """The collection under `key` in an answer that always carries one."""
    assert data is not None, f"an empty answer where {key!r} was expected"
    found: list[dict[str, Any]] = data[key]
    return found


class NetworkApi:
    """Authenticates once (Identity v2.0, as the walk-through's OS_AUTH_URL) and calls /v2.0."""

    def __init__(self, creds: Credentials) -> None:
        self.creds = creds
        self._token: str | None = None
        self._endpoint: str | None = None

    def _auth(self) -> None:
        base = self.creds.auth_url.rstrip("/")
        body = {"auth": {"passwordCredentials": {"username": self.creds.username,
                                                 "password": self.creds.password},
                         "tenantName": self.creds.project}}
        _, _, data = _request("POST", base + "/tokens", body)
        assert data is not None
        access = data["access"]
        self._token = access["token"]["id"]
        endpoint = None
        for service in access.get("serviceCatalog", []):
            if service.get("type") == "network" and service.get("endpoints"):
                endpoint = service["endpoints"][0].get("publicURL")
        if not endpoint:
            parts = urlsplit(self.creds.auth_url)
            endpoint = f"{parts.scheme}://{parts.netloc}/"
        self._endpoint = endpoint.rstrip("/")

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             query: dict[str, str] | None = None) -> dict[str, Any] | None:
        if self._token is None:
            self._auth()
        url = f"{self._endpoint}/v2.0/{path.lstrip('/')}"
        if query:
            url += "?" + urlencode(query, doseq=True)
        assert self._token is not None
        _, _, data = _request(method, url, body, {"X-Auth-Token": self._token})
        return data

    # --- the few calls the lab makes --------------------------------------------------
    def create_port(self, body: dict[str, Any]) -> dict[str, Any]:
        return _member(self.call("POST", "ports", {"port": body}), "port")

    def get_port(self, port_id: str) -> dict[str, Any]:
        return _member(self.call("GET", f"ports/{port_id}"), "port")

    def get_agent(self, agent_id: str) -> dict[str, Any]:
        return _member(self.call("GET", f"agents/{agent_id}"), "agent")

    def delete_port(self, port_id: str) -> None:
        self.call("DELETE", f"ports/{port_id}")

    def get_network(self, network_id: str) -> dict[str, Any]:
        return _member(self.call("GET", f"networks/{network_id}"), "network")

    def list_networks(self, **query: str) -> list[dict[str, Any]]:
        return _members(self.call("GET", "networks", query=query), "networks")

    def list_agents(self, **query: str) -> list[dict[str, Any]]:
        return _members(self.call("GET", "agents", query=query), "agents")

    def dhcp_agents_hosting(self, network_id: str) -> list[dict[str, Any]]:
        data = self.call("GET", f"networks/{network_id}/dhcp-agents")
        return _members(data, "agents")
