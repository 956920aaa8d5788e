"""Who is calling: one authenticator per `auth_strategy`, each turning a request's headers
into a core `Context` (or None: 401).

- builtin: tokens of the server's own identity service.
- keystone: keystonemiddleware's `AuthProtocol` validates the token against Keystone. It is
  WSGI middleware; rather than bridging the whole ASGI app to WSGI we call it as a WSGI
  application with a header-only environ (the body never matters for token validation)
  in a worker thread, wrapping a tiny WSGI app that records the identity headers it sets.
  `delay_auth_decision` is forced on so the API, not the middleware, writes the 401.
- noauth: trusts X-Project-Id / X-User-Id / X-Roles (tests only); a caller naming no
  project is an admin of `NOAUTH_PROJECT`, as Neutron's `fake_project_id` filter makes it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool

from neutrino.api.identity.revocations import RevocationList
from neutrino.api.identity.tokens import Identity, InvalidCredentials
from neutrino.core.context import Context

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Authenticator(Protocol):
    async def authenticate(self, headers: Mapping[str, str]) -> Context | None: ...

    def www_authenticate(self, base_url: str) -> str | None: ...


def _roles(text: str) -> tuple[str, ...]:
    return tuple(r.strip() for r in text.split(",") if r.strip())


class BuiltinAuth:
    def __init__(self, identity: Identity, revocations: RevocationList | None = None) -> None:
        self.identity = identity
        self.revocations = revocations

    async def authenticate(self, headers: Mapping[str, str]) -> Context | None:
        if self.revocations is not None:
            await self.revocations.refresh()
        try:
            token = self.identity.validate(headers.get("x-auth-token"))
        except InvalidCredentials:
            return None
        if token.project is None:
            return None  # unscoped tokens reach no project's resources
        return Context(user_id=token.user.id, project_id=token.project.id,
                       roles=token.roles)

    def www_authenticate(self, base_url: str) -> str | None:
        return f'Keystone uri="{base_url}/v3"'


# Neutron's noauth pipeline gives callers without a project this one (and admin), so
# clients that never send X-Project-Id can still create without naming a project.
NOAUTH_PROJECT = "fake_project_id"


class NoAuth:
    async def authenticate(self, headers: Mapping[str, str]) -> Context | None:
        project = headers.get("x-project-id") or headers.get("x-tenant-id")
        if project is None:
            return Context(user_id=headers.get("x-user-id"), project_id=NOAUTH_PROJECT,
                           roles=_roles(headers.get("x-roles", "")) + ("admin",))
        roles = _roles(headers.get("x-roles", ""))
        return Context(user_id=headers.get("x-user-id"), project_id=project, roles=roles)

    def www_authenticate(self, base_url: str) -> str | None:
        return None


class KeystoneAuth:
    """`make_middleware(app)` builds keystonemiddleware's AuthProtocol around `app`;
    the caller (cmd/server.py) binds it to the `[keystone_authtoken]` configuration."""

    _PASSED = ("HTTP_X_IDENTITY_STATUS", "HTTP_X_USER_ID", "HTTP_X_PROJECT_ID",
               "HTTP_X_ROLES")

    def __init__(self, make_middleware: Callable[[WsgiApp], WsgiApp],
                 www_authenticate_uri: str | None = None) -> None:
        self._middleware = make_middleware(self._record)
        self._www_authenticate = (f'Keystone uri="{www_authenticate_uri}"'
                                  if www_authenticate_uri else None)

    @staticmethod
    def _record(environ: dict[str, Any], start_response: Callable[..., Any]
                ) -> Iterable[bytes]:
        environ["neutrino.identity"] = {k: environ.get(k) for k in KeystoneAuth._PASSED}
        start_response("204 No Content", [])
        return [b""]

    def _validate(self, headers: Mapping[str, str]) -> dict[str, Any] | None:
        environ: dict[str, Any] = {
            "REQUEST_METHOD": "GET", "PATH_INFO": "/", "SCRIPT_NAME": "",
            "QUERY_STRING": "", "SERVER_NAME": "localhost", "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        }
        for name in ("x-auth-token", "x-service-token"):
            if headers.get(name):
                environ["HTTP_" + name.upper().replace("-", "_")] = headers[name]
        status: list[str] = []

        def start_response(line: str, response_headers: list[tuple[str, str]],
                           exc_info: Any = None) -> Callable[[bytes], None]:
            status.append(line)
            return lambda _data: None

        for _ in self._middleware(environ, start_response):
            pass
        return environ.get("neutrino.identity")

    async def authenticate(self, headers: Mapping[str, str]) -> Context | None:
        if not headers.get("x-auth-token"):
            return None
        identity = await run_in_threadpool(self._validate, headers)
        if not identity or identity.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":
            return None
        return Context(user_id=identity.get("HTTP_X_USER_ID"),
                       project_id=identity.get("HTTP_X_PROJECT_ID"),
                       roles=_roles(identity.get("HTTP_X_ROLES") or ""))

    def www_authenticate(self, base_url: str) -> str | None:
        return self._www_authenticate
