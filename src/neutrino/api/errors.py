"""Errors as Neutron returns them: `{"NeutronError": {"type", "message", "detail"}}`.

Core raises `neutrino.lib.exceptions` types and the API maps them by `.kind`; errors the
HTTP layer itself detects (a bad body, an unknown URL) carry webob's class names as their
`type`, exactly as Neutron's do.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from neutrino.api.jsonbody import encode_json
from neutrino.lib import exceptions as exc

STATUS_BY_KIND = {
    exc.BAD_REQUEST: 400,
    exc.FORBIDDEN: 403,
    exc.NOT_FOUND: 404,
    exc.CONFLICT: 409,
    exc.SERVICE_UNAVAILABLE: 503,
}


RETRY_AFTER = "5"  # seconds


class ApiError(Exception):
    """An error the HTTP layer raises itself."""

    def __init__(self, status: int, type_: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.type = type_
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError(400, "HTTPBadRequest", message)


def not_found(message: str = "The resource could not be found.") -> ApiError:
    return ApiError(404, "HTTPNotFound", message)


def method_not_allowed(allowed: list[str]) -> ApiError:
    return ApiError(405, "HTTPMethodNotAllowed",
                    "The server could not comply with the request since it is either "
                    "malformed or otherwise incorrect.", {"Allow": ", ".join(allowed)})


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None
                  ) -> Response:
    return Response(encode_json(body), status_code=status, headers=headers,
                    media_type="application/json")


def error_body(type_: str, message: str) -> dict[str, Any]:
    return {"NeutronError": {"type": type_, "message": message, "detail": ""}}


def to_response(error: Exception) -> Response:
    """The response for an error; anything unknown is a 500 that leaks nothing."""
    if isinstance(error, ApiError):
        return json_response(error_body(error.type, error.message), error.status,
                             error.headers)
    if isinstance(error, exc.NeutronException):
        status = STATUS_BY_KIND.get(error.kind, 500)
        # A 503 is temporary (database busy or silent, no network left...): say when to
        # come back, as clients and load balancers honour it.
        headers = {"Retry-After": RETRY_AFTER} if status == 503 else None
        return json_response(error_body(error.type, str(error)), status, headers)
    return json_response(error_body(
        "HTTPInternalServerError",
        "Request Failed: internal server error while processing your request."), 500)


def unauthorized(www_authenticate: str | None = None) -> Response:
    """401 as keystonemiddleware writes it, so clients re-authenticate the same way."""
    headers = {"WWW-Authenticate": www_authenticate} if www_authenticate else None
    return json_response({"error": {
        "code": 401, "title": "Unauthorized",
        "message": "The request you have made requires authentication."}}, 401, headers)
