"""The ASGI application: Neutron's v2.0 URLs, plus (auth_strategy = builtin) a
Keystone-compatible identity API on the same host and port."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio.to_thread
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from neutrino.api import health, openapi
from neutrino.api import metrics as api_metrics
from neutrino.api.auth import Authenticator, BuiltinAuth, KeystoneAuth, NoAuth
from neutrino.api.controllers import Controller
from neutrino.api.errors import (
    ApiError,
    json_response,
    method_not_allowed,
    not_found,
    to_response,
    unauthorized,
)
from neutrino.api.extensions import EXTENSIONS
from neutrino.api.identity.revocations import RevocationList
from neutrino.api.identity.routes import IdentityApi, base_url, version_v2
from neutrino.api.identity.tokens import Identity, load_key
from neutrino.api.policy import Policy
from neutrino.api.quotas import QuotaController
from neutrino.api.request import parse_json
from neutrino.api.tags import TagController
from neutrino.conf.settings import ApiSettings
from neutrino.core.context import Context
from neutrino.core.services import Services
from neutrino.core.transaction import deadline
from neutrino.lib.attributes import (
    AGENT,
    NETWORK,
    PORT,
    RESOURCES,
    SECURITY_GROUP,
    SECURITY_GROUP_RULE,
    SUBNET,
    TAGGABLE,
    Resource,
)
from neutrino.lib.exceptions import NeutronException, ServiceUnavailable
from neutrino.lib.metrics import CONTENT_TYPE_LATEST, exposition

LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger("neutrino.api.access")
MAX_BODY = 1024 * 1024
REQUEST_ID_HEADER = b"x-openstack-request-id"
# Requests a worker serves at once when [DEFAULT] wsgi_default_pool_size does not say. On
# SQLite, 2: writes take turns anyway, and a worker's 40 threads queued at its interpreter
# lock instead of in order (bench_api_load.py, 8 clients: p99 83-86 against 119-138 ms,
# requests/s the same within the noise). On a database server, 40 (anyio's default
# thread limit): a worker waits out every statement's round trip, which across a network
# few threads would spend idle.
SQLITE_REQUEST_THREADS = 2
SERVER_REQUEST_THREADS = 40


def request_threads(configured: int | None, dialect: str) -> int:
    """The threads an API worker serves requests on, for a database of `dialect`."""
    if configured:
        return configured
    return SQLITE_REQUEST_THREADS if dialect == "sqlite" else SERVER_REQUEST_THREADS


Handler = Callable[[Request], Awaitable[Response]]


def _route_template(scope: Scope) -> str:
    route = scope.get("route")  # set by Starlette's router on the scope we handed it
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else api_metrics.UNMATCHED


_OWS = (b" ", b"\t")


def _trimmed(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]] | None:
    """`headers` without whitespace ending a value, or None when no value ends so. The
    spaces and tabs after a field value are not part of it (RFC 9110 5.5): h11 dropped
    them, httptools keeps them (a token followed by a space would be refused)."""
    for _, value in headers:
        if value.endswith(_OWS):
            return [(name, value.rstrip(b" \t")) for name, value in headers]
    return None


class EdgeMiddleware:
    """Request ids, Neutron's optional `.json` suffix and trailing slashes, request metrics,
    and a last line of defence: whatever escapes becomes a 500 NeutronError, never a
    traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path.startswith("/v2.0/") and path.endswith(".json"):
            path = path[: -len(".json")]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
        scope = dict(scope, path=path)
        headers = _trimmed(scope["headers"])
        if headers is not None:
            scope["headers"] = headers
        request_id = f"req-{uuid.uuid4()}"
        started = False
        began = time.monotonic()

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                elapsed = time.monotonic() - began
                # One line per request, as Neutron's API logs them.
                ACCESS_LOG.info("%s %s %s status: %s time: %.3f", request_id,
                                scope.get("method"), path, message["status"], elapsed)
                api_metrics.observe(str(scope.get("method")), _route_template(scope),
                                    int(message["status"]), elapsed)
                message = dict(message)
                message["headers"] = [*message.get("headers", []),
                                      (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            LOG.exception("Unhandled error serving %s %s", scope.get("method"), path)
            if not started:
                await to_response(RuntimeError())(scope, receive, send_with_id)


def _params(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, "HTTPRequestEntityTooLarge", "Request is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


class NeutronApi:
    def __init__(self, services: Services, settings: ApiSettings, policy: Policy,
                 authenticator: Authenticator, identity_api: IdentityApi | None,
                 collectors: Sequence[Collector] = (),
                 probes: Sequence[health.Probe] = ()) -> None:
        self.settings = settings
        self.collectors = list(collectors)
        self.probes = list(probes)
        self.started_at = time.monotonic()
        self.policy = policy
        self.auth = authenticator
        self.identity_api = identity_api
        self.controller = Controller(services, policy, settings.pagination_max_limit)
        # The threads requests' work runs on. Handed the work directly rather than through
        # anyio.to_thread: under 8 clients the server's CPU per request went from 0.29 to
        # 0.24 ms for an extension, and from 2.7 to 2.4 ms for a port shown
        # (bench/bench_api_edge.py).
        self._threads = ThreadPoolExecutor(
            settings.request_threads or SERVER_REQUEST_THREADS,
            thread_name_prefix="api-request")
        self.quotas = QuotaController(services.quotas, policy)
        self.tags = TagController(self.controller, services.tags, policy)

    # --- plumbing ----------------------------------------------------------------------

    def _base(self, request: Request) -> str:
        return base_url(request, self.settings.public_endpoint)

    async def _context(self, request: Request) -> Context | None:
        ctx = await self.auth.authenticate(request.headers)
        if ctx is None:
            return None
        return dataclasses.replace(ctx, is_admin=self.policy.is_admin(ctx))

    def endpoint(self, action: Callable[..., Any], status: int = 200,
                 needs_body: bool = False, authenticated: bool = True) -> Handler:
        """An HTTP handler: authenticate, parse the body, run `action(ctx, request,
        payload)` in a worker thread, and map any error to Neutron's error body."""
        async def handler(request: Request) -> Response:
            began = time.monotonic()
            try:
                ctx = None
                if authenticated:
                    ctx = await self._context(request)
                    if ctx is None:
                        return unauthorized(self.auth.www_authenticate(self._base(request)))
                payload = parse_json(await _read_body(request)) if needs_body else None
                result = await self._bounded(began, action, ctx, request, payload)
            except (ApiError, NeutronException) as error:
                return to_response(error)
            except Exception as error:  # a bug, never the user's fault: log it, hide it
                LOG.exception("Error serving %s %s", request.method, request.url.path)
                return to_response(error)
            if status == 204:
                return Response(status_code=204)
            return json_response(result, status)
        return handler

    async def _bounded(self, began: float, action: Callable[..., Any], *args: Any) -> Any:
        """`action(*args)` in a worker thread, answered within `request_timeout` of
        `began`: after that the client gets a 503 and the thread is left to finish alone;
        its transaction, past the same deadline, refuses to commit."""
        at = began + self.settings.request_timeout

        def work() -> Any:
            with deadline(at):
                return action(*args)

        left = at - time.monotonic()
        if left > 0:
            try:
                async with asyncio.timeout(left) as limit:
                    # In the caller's context, as anyio.to_thread would run it.
                    return await asyncio.get_running_loop().run_in_executor(
                        self._threads, contextvars.copy_context().run, work)
            except TimeoutError:
                if not limit.expired():
                    raise  # the action's own
        LOG.warning("request timed out after %ss", self.settings.request_timeout)
        raise ServiceUnavailable("The request timed out; any change it asked for was not "
                                 "made. Try again.")

    # --- documents -----------------------------------------------------------------------

    def versions(self, ctx: Context | None, request: Request, _: Any) -> Any:
        return {"versions": [{"id": "v2.0", "status": "CURRENT", "links": [
            {"rel": "self", "href": f"{self._base(request)}/v2.0/"}]}]}

    def v2_root(self, ctx: Context | None, request: Request, _: Any) -> Any:
        base = self._base(request)
        body: dict[str, Any] = {"resources": [
            {"name": r.singular, "collection": r.path,
             "links": [{"rel": "self", "href": f"{base}/v2.0/{r.path}"}]}
            for r in RESOURCES.values()]}
        if self.identity_api is not None:
            # Clients given OS_AUTH_URL=.../v2.0/ discover the identity API here.
            body["version"] = version_v2(base)
        return body

    def extensions(self, ctx: Context, request: Request, _: Any) -> Any:
        return {"extensions": list(EXTENSIONS.values())}

    def extension(self, ctx: Context, request: Request, _: Any) -> Any:
        alias = request.path_params["alias"]
        if alias not in EXTENSIONS:
            raise not_found(f"Extension with alias {alias} does not exist")
        return {"extension": EXTENSIONS[alias]}

    def openapi(self, ctx: Context | None, request: Request, _: Any) -> Any:
        return openapi.document(self._base(request))

    # --- operations: metrics and health ------------------------------------------------

    async def _admin_or_error(self, request: Request) -> Response | None:
        """None for an admin; the 401 or 403 to answer otherwise."""
        ctx = await self._context(request)
        if ctx is None:
            return unauthorized(self.auth.www_authenticate(self._base(request)))
        if not ctx.is_admin:
            return to_response(ApiError(403, "PolicyNotAuthorized",
                                        "This operation is restricted to admins."))
        return None

    async def metrics(self, request: Request) -> Response:
        if self.settings.metrics_require_admin:
            refused = await self._admin_or_error(request)
            if refused is not None:
                return refused
        # The collectors read the database: off the event loop.
        body = await anyio.to_thread.run_sync(exposition, self.collectors)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def healthcheck(self, request: Request) -> Response:
        want_detail = request.query_params.get("detail", "").lower() in ("1", "true", "yes")
        if want_detail:
            refused = await self._admin_or_error(request)
            if refused is not None:
                return refused
        results = await health.run_checks(self.probes)
        code = health.status_code(results)
        if want_detail:
            return json_response(health.detailed(results, self.started_at, time.monotonic()),
                                 code)
        return PlainTextResponse(health.summary(results), status_code=code)

    # --- resources -----------------------------------------------------------------------

    def _collection_routes(self, resource: Resource, post: bool = True,
                           put: bool = True) -> list[Route]:
        c = self.controller
        url = f"/v2.0/{resource.path}"

        def list_(ctx: Context, request: Request, _: Any) -> Any:
            return c.list(ctx, resource, _params(request), f"{self._base(request)}{url}")

        def show(ctx: Context, request: Request, _: Any) -> Any:
            return c.show(ctx, resource, request.path_params["id"], _params(request))

        def create(ctx: Context, request: Request, payload: Any) -> Any:
            return c.create(ctx, resource, payload)

        def update(ctx: Context, request: Request, payload: Any) -> Any:
            return c.update(ctx, resource, request.path_params["id"], payload)

        def delete(ctx: Context, request: Request, _: Any) -> Any:
            c.delete(ctx, resource, request.path_params["id"])

        collection = [Route(url, self.endpoint(list_), methods=["GET"])]
        if post:
            collection.append(Route(url, self.endpoint(create, 201, True), methods=["POST"]))
        member = [Route(url + "/{id}", self.endpoint(show), methods=["GET"]),
                  Route(url + "/{id}", self.endpoint(delete, 204), methods=["DELETE"])]
        if put:
            member.append(Route(url + "/{id}", self.endpoint(update, needs_body=True),
                                methods=["PUT"]))
        return collection + member

    def routes(self) -> list[Route]:
        c = self.controller
        routes = [
            Route("/", self.endpoint(self.versions, authenticated=False), methods=["GET"]),
            Route("/v2.0", self.endpoint(self.v2_root, authenticated=False),
                  methods=["GET"]),
            Route("/openapi.json", self.endpoint(self.openapi, authenticated=False),
                  methods=["GET"]),
            Route("/metrics", self.metrics, methods=["GET"]),
            Route("/healthcheck", self.healthcheck, methods=["GET"]),
            Route("/v2.0/extensions", self.endpoint(self.extensions), methods=["GET"]),
            Route("/v2.0/extensions/{alias}", self.endpoint(self.extension),
                  methods=["GET"]),
        ]
        for resource in (NETWORK, SUBNET, PORT, SECURITY_GROUP, SECURITY_GROUP_RULE):
            routes += self._collection_routes(resource)
        routes += self._collection_routes(AGENT, post=False)
        routes += [
            Route("/v2.0/agents", self.endpoint(
                lambda ctx, request, _: c.create_agent(ctx), 201, True), methods=["POST"]),
            Route("/v2.0/agents/{id}/dhcp-networks", self.endpoint(
                lambda ctx, request, _: c.dhcp_networks(
                    ctx, request.path_params["id"], _params(request))), methods=["GET"]),
            Route("/v2.0/agents/{id}/dhcp-networks", self.endpoint(
                lambda ctx, request, payload: c.add_dhcp_network(
                    ctx, request.path_params["id"], payload), 201, True), methods=["POST"]),
            Route("/v2.0/agents/{id}/dhcp-networks/{network_id}", self.endpoint(
                lambda ctx, request, _: c.remove_dhcp_network(
                    ctx, request.path_params["id"], request.path_params["network_id"]),
                204), methods=["DELETE"]),
            Route("/v2.0/networks/{id}/dhcp-agents", self.endpoint(
                lambda ctx, request, _: c.dhcp_agents(
                    ctx, request.path_params["id"], _params(request))), methods=["GET"]),
            Route("/v2.0/ports/{id}/bindings", self.endpoint(
                lambda ctx, request, _: c.port_bindings(
                    ctx, request.path_params["id"], _params(request))), methods=["GET"]),
            Route("/v2.0/ports/{id}/bindings", self.endpoint(
                lambda ctx, request, payload: c.create_port_binding(
                    ctx, request.path_params["id"], payload), 201, True), methods=["POST"]),
            Route("/v2.0/ports/{id}/bindings/{host}", self.endpoint(
                lambda ctx, request, _: c.port_binding(
                    ctx, request.path_params["id"], request.path_params["host"],
                    _params(request))), methods=["GET"]),
            Route("/v2.0/ports/{id}/bindings/{host}", self.endpoint(
                lambda ctx, request, _: c.delete_port_binding(
                    ctx, request.path_params["id"], request.path_params["host"]), 204),
                methods=["DELETE"]),
            Route("/v2.0/ports/{id}/bindings/{host}/activate", self.endpoint(
                lambda ctx, request, _: c.activate_port_binding(
                    ctx, request.path_params["id"], request.path_params["host"])),
                methods=["PUT"]),
            # No advanced services (routers, load balancers, VPN) are served, so there is no
            # provider to list; clients (Horizon, Heat, SDKs) only need the call to answer.
            Route("/v2.0/service-providers", self.endpoint(
                lambda ctx, request, _: {"service_providers": []}), methods=["GET"]),
            Route("/v2.0/availability_zones", self.endpoint(
                lambda ctx, request, _: c.availability_zones(
                    ctx, _params(request),
                    f"{self._base(request)}/v2.0/availability_zones")), methods=["GET"]),
        ]
        routes += self._quota_routes()
        routes += self._tag_routes()
        if self.identity_api is not None:
            routes = self.identity_api.routes() + routes
        return routes

    def _quota_routes(self) -> list[Route]:
        q = self.quotas
        url = "/v2.0/quotas"

        def project(request: Request) -> str:
            return str(request.path_params["project_id"])

        return [
            Route(url, self.endpoint(lambda ctx, request, _: q.list(ctx)), methods=["GET"]),
            Route(url, self.endpoint(lambda ctx, request, _: q.create(ctx)),
                  methods=["POST"]),
            # Before {project_id}: these names are Neutron's collection actions.
            Route(url + "/project", self.endpoint(
                lambda ctx, request, _: q.current_project(ctx, "project")), methods=["GET"]),
            Route(url + "/tenant", self.endpoint(
                lambda ctx, request, _: q.current_project(ctx, "tenant")), methods=["GET"]),
            Route(url + "/{project_id}", self.endpoint(
                lambda ctx, request, _: q.show(ctx, project(request))), methods=["GET"]),
            Route(url + "/{project_id}", self.endpoint(
                lambda ctx, request, payload: q.update(ctx, project(request), payload),
                needs_body=True), methods=["PUT"]),
            Route(url + "/{project_id}", self.endpoint(
                lambda ctx, request, _: q.delete(ctx, project(request)), 204),
                methods=["DELETE"]),
            Route(url + "/{project_id}/default", self.endpoint(
                lambda ctx, request, _: q.default(ctx, project(request))), methods=["GET"]),
            Route(url + "/{project_id}/details", self.endpoint(
                lambda ctx, request, _: q.details(ctx, project(request))), methods=["GET"]),
        ]


    def _tag_routes(self) -> list[Route]:
        t = self.tags
        routes = []
        for collection in TAGGABLE:
            url = f"/v2.0/{collection}/{{id}}/tags"

            def on(action: Callable[..., Any], collection: str = collection,
                   body: bool = False) -> Callable[[Context, Request, Any], Any]:
                # action(ctx, collection, id[, tag][, payload]), from the URL and, for the
                # routes taking one, the body (`null` too: the action says it is invalid).
                def call(ctx: Context, request: Request, payload: Any) -> Any:
                    args: list[Any] = [ctx, collection, request.path_params["id"]]
                    if "tag" in request.path_params:
                        args.append(request.path_params["tag"])
                    if body:
                        args.append(payload)
                    return action(*args)
                return call

            routes += [
                Route(url, self.endpoint(on(t.index)), methods=["GET"]),
                Route(url, self.endpoint(on(t.create, body=True), 201, True),
                      methods=["POST"]),
                Route(url, self.endpoint(on(t.update_all, body=True), needs_body=True),
                      methods=["PUT"]),
                Route(url, self.endpoint(on(t.delete_all), 204), methods=["DELETE"]),
                # Starlette's default converter stops at "/", as Neutron's router does.
                Route(url + "/{tag}", self.endpoint(on(t.show), 204), methods=["GET"]),
                Route(url + "/{tag}", self.endpoint(on(t.update), 201), methods=["PUT"]),
                Route(url + "/{tag}", self.endpoint(on(t.delete), 204), methods=["DELETE"]),
            ]
        return routes


async def _http_error(request: Request, error: Exception) -> Response:
    if isinstance(error, HTTPException) and error.status_code == 405:
        allowed = (error.headers or {}).get("Allow", "")
        return to_response(method_not_allowed([m.strip() for m in allowed.split(",")
                                               if m.strip()]))
    return to_response(not_found())


def _authenticator(settings: ApiSettings, keystone: KeystoneAuth | None,
                   services: Services) -> tuple[Authenticator, IdentityApi | None]:
    if settings.auth_strategy == "noauth":
        return NoAuth(), None
    if settings.auth_strategy == "keystone":
        if keystone is None:
            raise ValueError("auth_strategy = keystone needs a keystonemiddleware "
                             "authenticator")
        return keystone, None
    if settings.auth_strategy != "builtin":
        raise ValueError(f"unknown auth_strategy {settings.auth_strategy!r}")
    revocations = RevocationList(services.token_revocations,
                                 settings.token_revocation_refresh)
    identity = Identity(settings.users, load_key(settings), settings.token_expiration,
                        revoked=revocations.is_revoked)
    return BuiltinAuth(identity, revocations), IdentityApi(
        identity, settings.region, settings.public_endpoint, revocations)


def create_app(services: Services, api_settings: ApiSettings, *,
               policy_file: str | None = None, keystone: KeystoneAuth | None = None,
               collectors: Sequence[Collector] = (), probes: Sequence[health.Probe] = ()
               ) -> ASGIApp:
    """The Neutron API over core's `services`. `policy_file` overrides the default rules;
    `keystone` is required for `auth_strategy = keystone` (built by cmd/server.py).
    `/metrics` serves the process's metrics plus `collectors` (read at scrape time);
    `/healthcheck` runs `probes` (none: always 503, nothing was checked)."""
    authenticator, identity_api = _authenticator(api_settings, keystone, services)
    api = NeutronApi(services, api_settings, Policy(policy_file), authenticator, identity_api,
                     collectors, probes)
    app = Starlette(routes=api.routes(),
                    exception_handlers={HTTPException: _http_error})
    return EdgeMiddleware(app)
