"""Keystone's HTTP API, as much of it as clients need: v3 password/token authentication
with project scope, token validation (keystonemiddleware), the catalog, and the legacy
v2.0 `POST /tokens`. Bodies follow Keystone's so keystoneauth1 parses them unchanged."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from neutrino.api.identity.revocations import RevocationList
from neutrino.api.identity.tokens import (
    DEFAULT_DOMAIN_ID,
    DEFAULT_DOMAIN_NAME,
    Identity,
    InvalidCredentials,
    Project,
    Token,
    User,
    stable_id,
)

V3_MEDIA = "application/vnd.openstack.identity-v3+json"
V2_MEDIA = "application/vnd.openstack.identity-v2.0+json"
_UPDATED = "2024-01-01T00:00:00Z"


class IdentityError(Exception):
    def __init__(self, code: int, title: str, message: str) -> None:
        super().__init__(message)
        self.code, self.title, self.message = code, title, message


def _unauthorized() -> IdentityError:
    return IdentityError(401, "Unauthorized",
                         "The request you have made requires authentication.")


def _bad(message: str) -> IdentityError:
    return IdentityError(400, "Bad Request", message)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status, headers, media_type="application/json")


def _iso(ts: int, fraction: bool = True) -> str:
    text = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return text + (".000000Z" if fraction else "Z")


def base_url(request: Request, public_endpoint: str | None) -> str:
    if public_endpoint:
        return public_endpoint.rstrip("/")
    return f"{request.url.scheme}://{request.url.netloc}"


def version_v3(base: str) -> dict[str, Any]:
    return {"id": "v3.14", "status": "stable", "updated": _UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v3/"}],
            "media-types": [{"base": "application/json", "type": V3_MEDIA}]}


def version_v2(base: str) -> dict[str, Any]:
    return {"id": "v2.0", "status": "stable", "updated": _UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v2.0/"}],
            "media-types": [{"base": "application/json", "type": V2_MEDIA}]}


class IdentityApi:
    def __init__(self, identity: Identity, region: str, public_endpoint: str | None,
                 revocations: RevocationList | None = None) -> None:
        self.identity = identity
        self.region = region
        self.public_endpoint = public_endpoint
        self.revocations = revocations

    # --- documents -----------------------------------------------------------------

    def catalog_v3(self, base: str) -> list[dict[str, Any]]:
        def service(kind: str, name: str, url: str) -> dict[str, Any]:
            return {"id": stable_id("service", kind), "type": kind, "name": name,
                    "endpoints": [
                        {"id": stable_id("endpoint", f"{kind}-{interface}"),
                         "interface": interface, "region": self.region,
                         "region_id": self.region, "url": url}
                        for interface in ("public", "internal", "admin")]}
        return [service("network", "neutron", base),
                service("identity", "keystone", f"{base}/v3")]

    def catalog_v2(self, base: str) -> list[dict[str, Any]]:
        def service(kind: str, name: str, url: str) -> dict[str, Any]:
            return {"type": kind, "name": name, "endpoints_links": [], "endpoints": [
                {"id": stable_id("endpoint", kind), "region": self.region,
                 "publicURL": url, "internalURL": url, "adminURL": url}]}
        return [service("network", "neutron", base),
                service("identity", "keystone", f"{base}/v2.0")]

    @staticmethod
    def _domain() -> dict[str, str]:
        return {"id": DEFAULT_DOMAIN_ID, "name": DEFAULT_DOMAIN_NAME}

    def token_v3(self, token: Token, base: str, catalog: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "methods": list(token.methods),
            "user": {"id": token.user.id, "name": token.user.name, "domain": self._domain(),
                     "password_expires_at": None},
            "audit_ids": [token.audit_id],
            "issued_at": _iso(token.issued_at),
            "expires_at": _iso(token.expires_at),
        }
        if token.project is not None:
            body["project"] = {"id": token.project.id, "name": token.project.name,
                               "domain": self._domain()}
            body["is_domain"] = False
            body["roles"] = [{"id": stable_id("role", r), "name": r} for r in token.roles]
            if catalog:
                body["catalog"] = self.catalog_v3(base)
        return {"token": body}

    def access_v2(self, token: Token, base: str) -> dict[str, Any]:
        project = token.project
        token_body: dict[str, Any] = {"id": token.id, "issued_at": _iso(token.issued_at),
                                      "expires": _iso(token.expires_at, fraction=False),
                                      "audit_ids": [token.audit_id]}
        if project is not None:
            token_body["tenant"] = {"id": project.id, "name": project.name,
                                    "enabled": True, "description": None}
        roles = [{"name": r} for r in token.roles]
        return {"access": {
            "token": token_body,
            "serviceCatalog": self.catalog_v2(base) if project else [],
            "user": {"id": token.user.id, "name": token.user.name,
                     "username": token.user.name, "roles": roles, "roles_links": []},
            "metadata": {"is_admin": 0,
                         "roles": [stable_id("role", r) for r in token.roles]},
        }}

    # --- v3 --------------------------------------------------------------------------

    def _v3_user(self, password: Any) -> User:
        if not isinstance(password, dict) or not isinstance(password.get("user"), dict):
            raise _bad("Expecting to find user in password.")
        spec = password["user"]
        name, user_id = spec.get("name"), spec.get("id")
        if name is None and user_id is None:
            raise _bad("Expecting to find id or name in user.")
        if name is not None:
            domain = spec.get("domain")
            if not isinstance(domain, dict) or not (domain.get("id") or domain.get("name")):
                raise _bad("Expecting to find domain in user.")
            if not self._default_domain(domain):
                raise InvalidCredentials()
        if not isinstance(name, str | None) or not isinstance(user_id, str | None):
            raise InvalidCredentials()
        return self.identity.check_password(self.identity.user(name, user_id),
                                            spec.get("password"))

    @staticmethod
    def _default_domain(domain: dict[str, Any]) -> bool:
        return (domain.get("id") in (None, DEFAULT_DOMAIN_ID)
                and domain.get("name") in (None, DEFAULT_DOMAIN_NAME))

    def _v3_project(self, scope: Any) -> Project | None:
        if scope is None:
            return None
        if not isinstance(scope, dict):
            raise _bad("Expecting to find scope as an object.")
        if "project" not in scope:
            raise InvalidCredentials()  # domain and system scopes are not offered
        spec = scope["project"]
        if not isinstance(spec, dict):
            raise _bad("Expecting to find project as an object.")
        name, project_id = spec.get("name"), spec.get("id")
        if name is None and project_id is None:
            raise _bad("Expecting to find id or name in project.")
        if name is not None:
            domain = spec.get("domain")
            if not isinstance(domain, dict) or not self._default_domain(domain):
                raise InvalidCredentials()
        project = self.identity.project(name if isinstance(name, str) else None,
                                        project_id if isinstance(project_id, str) else None)
        if project is None or (name is not None and not isinstance(name, str)):
            raise InvalidCredentials()
        return project

    def authenticate_v3(self, body: Any) -> Token:
        try:
            auth = body["auth"]
            identity = auth["identity"]
            methods = identity["methods"]
        except (KeyError, TypeError):
            raise _bad("Expecting to find identity in auth.") from None
        if not isinstance(methods, list) or not methods:
            raise _bad("Expecting to find methods in identity.")
        scope = auth.get("scope") if isinstance(auth, dict) else None
        if "password" in methods:
            user = self._v3_user(identity.get("password"))
            expires = None
        elif "token" in methods:
            spec = identity.get("token")
            if not isinstance(spec, dict) or not isinstance(spec.get("id"), str):
                raise _bad("Expecting to find id in token.")
            previous = self.identity.validate(spec["id"])
            user, expires = previous.user, previous.expires_at
        else:
            raise InvalidCredentials()
        project = self._v3_project(scope)
        return self.identity.issue(user, project, tuple(m for m in methods
                                                        if isinstance(m, str)), expires)

    async def post_v3_tokens(self, request: Request) -> Response:
        token = self.authenticate_v3(await _body(request))
        base = base_url(request, self.public_endpoint)
        return _json(self.token_v3(token, base), 201, {"X-Subject-Token": token.id})

    def _caller(self, request: Request) -> Token:
        return self.identity.validate(request.headers.get("x-auth-token"))

    def _subject(self, request: Request) -> Token:
        """The X-Subject-Token, which a user may act on for its own tokens, an admin for
        anyone's."""
        caller = self._caller(request)
        try:
            subject = self.identity.validate(request.headers.get("x-subject-token"))
        except InvalidCredentials:
            raise IdentityError(404, "Not Found", "Could not find token.") from None
        if "admin" not in caller.roles and caller.user.id != subject.user.id:
            raise IdentityError(403, "Forbidden",
                                "You are not authorized to perform the requested action.")
        return subject

    async def get_v3_tokens(self, request: Request) -> Response:
        subject = self._subject(request)
        if request.method == "HEAD":
            return Response(status_code=200, headers={"X-Subject-Token": subject.id})
        catalog = "nocatalog" not in request.query_params
        body = self.token_v3(subject, base_url(request, self.public_endpoint), catalog)
        return _json(body, 200, {"X-Subject-Token": subject.id})

    async def delete_v3_tokens(self, request: Request) -> Response:
        """Keystone's revocation: a user revokes its own tokens, an admin anyone's."""
        assert self.revocations is not None  # routed only with a revocation list
        subject = self._subject(request)
        await self.revocations.revoke(subject.audit_id, subject.expires_at)
        return Response(status_code=204)

    async def get_v3_catalog(self, request: Request) -> Response:
        caller = self._caller(request)
        base = base_url(request, self.public_endpoint)
        return _json({"catalog": self.catalog_v3(base) if caller.project else [],
                      "links": {"self": f"{base}/v3/auth/catalog", "previous": None,
                                "next": None}})

    @staticmethod
    def _project_body(project: Project, base: str) -> dict[str, Any]:
        return {"id": project.id, "name": project.name, "domain_id": DEFAULT_DOMAIN_ID,
                "enabled": True, "is_domain": False, "parent_id": DEFAULT_DOMAIN_ID,
                "description": "", "links": {"self": f"{base}/v3/projects/{project.id}"}}

    async def get_v3_projects(self, request: Request) -> Response:
        caller = self._caller(request)
        base = base_url(request, self.public_endpoint)
        return _json({"projects": [self._project_body(caller.user.project, base)],
                      "links": {"self": f"{base}/v3/auth/projects", "previous": None,
                                "next": None}})

    # `openstack quota show/set PROJECT` looks the project up by id, then by name: a
    # caller sees its own project, an admin every configured one (Keystone's defaults).

    async def get_v3_project(self, request: Request) -> Response:
        caller = self._caller(request)
        project = self.identity.project(None, request.path_params["project_id"])
        if project is None:
            raise IdentityError(404, "Not Found", "Could not find project: "
                                f"{request.path_params['project_id']}.")
        if "admin" not in caller.roles and project.id != (
                caller.project.id if caller.project else None):
            raise IdentityError(403, "Forbidden",
                                "You are not authorized to perform the requested action.")
        return _json({"project": self._project_body(project, base_url(
            request, self.public_endpoint))})

    async def list_v3_projects(self, request: Request) -> Response:
        caller = self._caller(request)
        if "admin" not in caller.roles:
            raise IdentityError(403, "Forbidden",
                                "You are not authorized to perform the requested action.")
        base = base_url(request, self.public_endpoint)
        name = request.query_params.get("name")
        found = [p for p in self.identity.projects.values() if name is None or p.name == name]
        return _json({"projects": [self._project_body(p, base) for p in found],
                      "links": {"self": f"{base}/v3/projects", "previous": None,
                                "next": None}})

    async def get_v3(self, request: Request) -> Response:
        return _json({"version": version_v3(base_url(request, self.public_endpoint))})

    # --- v2.0 ------------------------------------------------------------------------

    def authenticate_v2(self, body: Any) -> Token:
        auth = body.get("auth") if isinstance(body, dict) else None
        if not isinstance(auth, dict):
            raise _bad("Expecting to find auth in request body.")
        if isinstance(auth.get("passwordCredentials"), dict):
            creds = auth["passwordCredentials"]
            name, user_id = creds.get("username"), creds.get("userId")
            if not isinstance(name, str | None) or not isinstance(user_id, str | None):
                raise InvalidCredentials()
            user = self.identity.check_password(self.identity.user(name, user_id),
                                                creds.get("password"))
            expires = None
        elif isinstance(auth.get("token"), dict):
            previous = self.identity.validate(auth["token"].get("id"))
            user, expires = previous.user, previous.expires_at
        else:
            raise _bad("Expecting to find passwordCredentials or token in auth.")
        name, project_id = auth.get("tenantName"), auth.get("tenantId")
        project = None
        if name is not None or project_id is not None:
            if not isinstance(name, str | None) or not isinstance(project_id, str | None):
                raise InvalidCredentials()
            project = self.identity.project(name, project_id)
            if project is None:
                raise InvalidCredentials()
        return self.identity.issue(user, project, ("password",), expires)

    async def post_v2_tokens(self, request: Request) -> Response:
        token = self.authenticate_v2(await _body(request))
        return _json(self.access_v2(token, base_url(request, self.public_endpoint)))

    # --- wiring ----------------------------------------------------------------------

    def routes(self) -> list[Route]:
        def guard(handler: Any) -> Any:
            return _guard(handler, self.revocations)

        routes = [
            Route("/v3", guard(self.get_v3), methods=["GET"]),
            Route("/v3/auth/tokens", guard(self.post_v3_tokens), methods=["POST"]),
            Route("/v3/auth/tokens", guard(self.get_v3_tokens), methods=["GET", "HEAD"]),
            Route("/v3/auth/catalog", guard(self.get_v3_catalog), methods=["GET"]),
            Route("/v3/auth/projects", guard(self.get_v3_projects), methods=["GET"]),
            Route("/v3/projects", guard(self.list_v3_projects), methods=["GET"]),
            Route("/v3/projects/{project_id}", guard(self.get_v3_project), methods=["GET"]),
            Route("/v2.0/tokens", guard(self.post_v2_tokens), methods=["POST"]),
        ]
        if self.revocations is not None:
            routes.append(Route("/v3/auth/tokens", guard(self.delete_v3_tokens),
                                methods=["DELETE"]))
        return routes


async def _body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _bad("Malformed request body.") from None


Endpoint = Callable[[Request], Awaitable[Response]]


def _guard(handler: Endpoint, revocations: RevocationList | None = None) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        try:
            if revocations is not None:
                await revocations.refresh()
            return await handler(request)
        except InvalidCredentials:
            error = _unauthorized()
        except IdentityError as caught:
            error = caught
        headers = None
        if error.code == 401:
            base = f"{request.url.scheme}://{request.url.netloc}"
            headers = {"WWW-Authenticate": f'Keystone uri="{base}/v3"'}
        return _json({"error": {"code": error.code, "title": error.title,
                                "message": error.message}}, error.code, headers)
    return endpoint
