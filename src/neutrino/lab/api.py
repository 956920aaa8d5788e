"""A small client of the public Networking API, as the lab's `nova`-like commands need it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
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


def _request(method: str, url: str, body: dict | None = None,
             headers: dict[str, str] | None = None, timeout: float = 30
             ) -> tuple[int, dict[str, str], dict | None]:
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

    def call(self, method: str, path: str, body: dict | None = None,
             query: dict[str, str] | None = None) -> dict | None:
        if self._token is None:
            self._auth()
        url = f"{self._endpoint}/v2.0/{path.lstrip('/')}"
        if query:
            url += "?" + urlencode(query, doseq=True)
        assert self._token is not None
        _, _, data = _request(method, url, body, {"X-Auth-Token": self._token})
        return data

    # --- the few calls the lab makes --------------------------------------------------
    def create_port(self, body: dict) -> dict:
        return self.call("POST", "ports", {"port": body})["port"]  # type: ignore[index]

    def get_port(self, port_id: str) -> dict:
        return self.call("GET", f"ports/{port_id}")["port"]  # type: ignore[index]

    def delete_port(self, port_id: str) -> None:
        self.call("DELETE", f"ports/{port_id}")

    def get_network(self, network_id: str) -> dict:
        return self.call("GET", f"networks/{network_id}")["network"]  # type: ignore[index]

    def list_networks(self, **query: str) -> list[dict]:
        return self.call("GET", "networks", query=query)["networks"]  # type: ignore[index]

    def list_agents(self, **query: str) -> list[dict]:
        return self.call("GET", "agents", query=query)["agents"]  # type: ignore[index]

    def dhcp_agents_hosting(self, network_id: str) -> list[dict]:
        data = self.call("GET", f"networks/{network_id}/dhcp-agents")
        return data["agents"]  # type: ignore[index]
