"""The Networking v2.0 API over a keystoneauth1 session, with errors made one-liners."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session

from neutrino.cli import resolve
from neutrino.cli.errors import CliError, NeutronClientError

API_VERSION = "v2.0"
# Filters by id are sent in chunks so that URLs stay short.
ID_FILTER_CHUNK = 40


def api_root(endpoint: str) -> str:
    """The catalog may list the endpoint with or without the version; requests need it."""
    base = endpoint.rstrip("/")
    if base.endswith("/" + API_VERSION):
        return base
    return f"{base}/{API_VERSION}"


def connection_error_message(exc: Exception) -> str:
    """keystoneauth's message embeds urllib3's whole repr; keep the URL and the reason."""
    text = str(exc)
    m = re.match(r"Unable to establish connection to (\S+?):? ", text)
    reason = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m and reason:
        return f"Unable to establish connection to {m.group(1)}: {reason.group(1).strip()}"
    return first_line(text) or type(exc).__name__


def first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def bare_message(message: str) -> str:
    """keystoneauth's message without the "(HTTP 401) (Request-ID: ...)" it appends."""
    return re.sub(r"(\s*\((HTTP \d+|Request-ID: [^)]*)\))+\s*$", "", message or "") or "Error"


def error_from_response(status: int, body: Any, reason: str = "") -> NeutronClientError:
    """Neutron's {"NeutronError": {"type", "message", "detail"}}, or whatever else came back."""
    if isinstance(body, dict):
        err = body.get("NeutronError")
        if isinstance(err, dict) and err.get("message"):
            return NeutronClientError(str(err["message"]), status, err.get("type"))
        if isinstance(err, str) and err:
            return NeutronClientError(err, status)
        for value in body.values():
            if isinstance(value, dict) and value.get("message"):
                return NeutronClientError(str(value["message"]), status, value.get("type"))
        if isinstance(body.get("message"), str):
            return NeutronClientError(body["message"], status)
        if isinstance(body.get("detail"), str):
            return NeutronClientError(body["detail"], status)
    text = reason or "Error"
    return NeutronClientError(f"{text} (HTTP {status})", status)


# NetworkClient.list shadows the builtin in its class body, annotations included.
Rows = list[dict[str, Any]]


class NetworkClient:
    """One instance per CLI run; the endpoint is looked up once, lazily."""

    def __init__(self, session: ks_session.Session, *, endpoint_override: str | None = None,
                 region_name: str | None = None, interface: str = "public") -> None:
        self._session = session
        self._endpoint_override = endpoint_override
        self._region_name = region_name
        self._interface = interface
        self._root: str | None = None

    # -- transport ---------------------------------------------------------------------

    def _api_root(self) -> str:
        if self._root is None:
            endpoint = self._endpoint_override or self._call(
                self._session.get_endpoint, service_type="network",
                interface=self._interface, region_name=self._region_name)
            if not endpoint:
                where = f" in region {self._region_name}" if self._region_name else ""
                raise CliError(f"No network endpoint ({self._interface}){where} in the "
                               "service catalog")
            self._root = api_root(endpoint)
        return self._root

    @staticmethod
    def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ks_exc.ConnectionError as exc:
            raise CliError(connection_error_message(exc)) from None
        except ks_exc.HttpError as exc:
            raise CliError(f"Authentication failed: {bare_message(exc.message)} "
                           f"(HTTP {exc.http_status})") from None
        except ks_exc.EndpointNotFound as exc:
            raise CliError(f"No network endpoint in the service catalog: {exc}") from None
        except ks_exc.ClientException as exc:
            raise CliError(first_line(str(exc)) or type(exc).__name__) from None

    def request(self, method: str, path: str, *, body: Any = None,
                params: list[tuple[str, str]] | None = None) -> Any:
        url = self._api_root() + path
        kwargs: dict[str, Any] = {"raise_exc": False,
                                  "headers": {"Accept": "application/json"}}
        if body is not None:
            kwargs["json"] = body
        if params:
            kwargs["params"] = params
        resp = self._call(self._session.request, url, method, **kwargs)
        payload = _json_or_none(resp)
        if resp.status_code == 401:
            # Not a NeutronError: the token was refused (expired, revoked, or not a token).
            error = error_from_response(401, payload, resp.reason or "")
            raise CliError(f"Authentication failed: {bare_message(str(error))} (HTTP 401)")
        if resp.status_code >= 400:
            raise error_from_response(resp.status_code, payload, resp.reason or "")
        return payload

    # -- resources ---------------------------------------------------------------------

    def list(self, collection: str, params: list[tuple[str, str]] | None = None,
             path: str | None = None) -> list[dict[str, Any]]:
        """Every page of a collection (following `<collection>_links` when the server pages)."""
        items: list[dict[str, Any]] = []
        next_path: str | None = path or f"/{collection}"
        next_params = params
        # The URL's "security-groups" are the body's "security_groups".
        key = collection.replace("-", "_")
        while next_path:
            body = self.request("GET", next_path, params=next_params) or {}
            items.extend(body.get(key, []))
            next_path, next_params = self._next_page(body.get(f"{key}_links", []))
        return items

    def _next_page(self, links: Rows) -> tuple[str | None, None]:
        """The path (with its query) of the next page, relative to the API root."""
        for link in links:
            href = link.get("href") if link.get("rel") == "next" else None
            if not href:
                continue
            root = self._api_root()
            if href.startswith(root):
                return href[len(root):], None
            marker = f"/{API_VERSION}/"
            idx = href.find(marker)
            if idx >= 0:
                return href[idx + len(marker) - 1:], None
        return None, None

    def show(self, resource: str, collection: str, resource_id: str) -> dict[str, Any]:
        found: dict[str, Any] = self.request("GET", f"/{collection}/{_q(resource_id)}")[resource]
        return found

    def create(self, resource: str, collection: str, attrs: dict[str, Any]) -> dict[str, Any]:
        body = self.request("POST", f"/{collection}", body={resource: attrs})
        created: dict[str, Any] = body[resource]
        return created

    def update(self, resource: str, collection: str, resource_id: str,
               attrs: dict[str, Any]) -> dict[str, Any]:
        body = self.request("PUT", f"/{collection}/{_q(resource_id)}", body={resource: attrs})
        updated: dict[str, Any] = body[resource]
        return updated

    def delete(self, collection: str, resource_id: str) -> None:
        self.request("DELETE", f"/{collection}/{_q(resource_id)}")

    def find_id(self, resource: str, collection: str, ref: str) -> str:
        def lookup(attribute: str, value: str) -> Rows:
            return self.list(collection, [(attribute, value), ("fields", "id")])
        return resolve.find_id(resource, ref, lookup)

    def list_by_ids(self, collection: str, ids: Sequence[str], fields: Sequence[str]) -> Rows:
        rows: Rows = []
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ID_FILTER_CHUNK):
            params = [("id", i) for i in unique[start:start + ID_FILTER_CHUNK]]
            params += [("fields", f) for f in fields]
            rows.extend(self.list(collection, params))
        return rows

    # -- DHCP agent scheduler ----------------------------------------------------------

    def dhcp_agents_hosting_network(self, network_id: str) -> Rows:
        return self.list("agents", path=f"/networks/{_q(network_id)}/dhcp-agents")

    def networks_on_dhcp_agent(self, agent_id: str) -> Rows:
        return self.list("networks", path=f"/agents/{_q(agent_id)}/dhcp-networks")

    def add_network_to_dhcp_agent(self, agent_id: str, network_id: str) -> None:
        self.request("POST", f"/agents/{_q(agent_id)}/dhcp-networks",
                     body={"network_id": network_id})

    def remove_network_from_dhcp_agent(self, agent_id: str, network_id: str) -> None:
        self.request("DELETE", f"/agents/{_q(agent_id)}/dhcp-networks/{_q(network_id)}")


def _q(segment: str) -> str:
    return quote(segment, safe="")


def _json_or_none(resp: Any) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None
