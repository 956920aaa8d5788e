"""The OpenAPI document, derived from the resource tables (served at /openapi.json).

What each attribute accepts (UUIDs, enums, integer ranges, lengths, item shapes) is read off
its validator, so the document refuses what the server refuses. Left out on purpose: the
identity API (Keystone's, documented there), quotas and port bindings (not yet described in
the tables), and /metrics and /healthcheck (operations, not Neutron's API).
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

from neutrino.lib import validators as v
from neutrino.lib.attributes import (
    ARRAY,
    BOOLEAN,
    INTEGER,
    OBJECT,
    REQUIRED,
    RESOURCES,
    TAGGABLE,
    UNSET,
    Attribute,
    Resource,
)

_ERROR = {"$ref": "#/components/schemas/NeutronError"}
_UUID = {"type": "string", "format": "uuid"}
# safe_string refuses control characters (they would land in dnsmasq files and logs).
_NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]*$"
_NO_NUL = "^[^\\u0000]*$"
# dns_host_name / dns_domain_name: labels of letters, digits and '-' (not at either end),
# optionally ending with a dot; "" clears the name.
_DNS_LABEL = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_NAME = f"^({_DNS_LABEL}(\\.{_DNS_LABEL})*\\.?)?$"
_MAC = "^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$"
_DB_INT = {"minimum": v.INT_MIN, "maximum": v.INT_MAX}


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "required": required}


# What the module-level validators accept, beyond the attribute's JSON type.
_FIXED: dict[v.Validator, dict[str, Any]] = {
    v.uuid_: _UUID,
    v.int_or_none: {"minimum": 0, "maximum": v.INT_MAX, "nullable": True},
    v.mac_address: {"pattern": _MAC},
    v.ip_address_or_none: {"nullable": True},
    v.subnet_or_none: {"nullable": True},
    v.dict_or_none: {"nullable": True},
    v.ip_pools: {"items": _object({"start": {"type": "string"},
                                   "end": {"type": "string"}}, ["start", "end"])},
    v.nameservers: {"items": {"type": "string"}, "uniqueItems": True},
    v.tags: {"items": {"type": "string", "maxLength": v.MAX_TAG_LEN, "pattern": _NO_NUL},
             "uniqueItems": True},
    v.hostroutes: {"uniqueItems": True, "items": _object(
        {"destination": {"type": "string"}, "nexthop": {"type": "string"}},
        ["destination", "nexthop"])},
    v.fixed_ips: {"items": {"type": "object", "additionalProperties": False,
                            "minProperties": 1, "properties": {
                                "subnet_id": _UUID, "ip_address": {"type": "string"}}}},
    v.extra_dhcp_opts: {"nullable": True, "items": _object({
        "opt_name": {"type": "string", "minLength": 1},
        "opt_value": {"type": "string", "nullable": True, "maxLength": 255,
                      "pattern": _NO_CONTROL},
        "ip_version": {"type": "integer", "enum": [4, 6]}}, ["opt_name", "opt_value"])},
    v.segments: {"nullable": True, "items": {
        "type": "object", "additionalProperties": False, "properties": {
            "provider:network_type": {"type": "string", "nullable": True, "maxLength": 32},
            "provider:physical_network": {"type": "string", "nullable": True,
                                          "maxLength": 64},
            "provider:segmentation_id": {"type": "integer", "nullable": True,
                                         "minimum": 0, "maximum": v.INT_MAX}}}},
}


def _accepts(check: v.Validator | None) -> dict[str, Any]:
    """JSON-schema keywords for what `check` accepts. The parametrised validators are
    closures: their parameters (allowed values, bounds, lengths) are read from the closure,
    so the document follows the tables without a second copy of each limit."""
    if check is None:
        return {}
    if check in _FIXED:
        return copy.deepcopy(_FIXED[check])
    maker = getattr(check, "__qualname__", "").split(".")[0]
    free = inspect.getclosurevars(check).nonlocals
    if maker == "values":
        return {"enum": list(free["allowed"])}
    if maker == "int_range":
        return {"minimum": free["low"], "maximum": free["high"]}
    if maker == "string":
        return {"maxLength": free["max_len"]} if free["max_len"] is not None else {}
    if maker == "string_or_none":
        return {"maxLength": free["max_len"], "nullable": True}
    if maker == "safe_string":
        return {"maxLength": free["max_len"], "pattern": _NO_CONTROL}
    if maker in ("values_or_none", "safe_string_or_none"):
        inner = _accepts(free["inner"])
        if "enum" in inner:  # OpenAPI 3.0: a nullable enum lists null among its values
            inner["enum"].append(None)
        return {**inner, "nullable": True}
    if maker == "_dns_name":
        return {"maxLength": free["max_len"], "pattern": _DNS_NAME}
    if maker == "name_list":
        inner = _accepts(free["inner"])
        return {"items": {"type": "string", **inner}, "uniqueItems": True}
    return {}


def _schema(attr: Attribute) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": attr.type}
    if attr.type == ARRAY:
        schema["items"] = {}
    if attr.type == OBJECT:
        schema["additionalProperties"] = True
    if attr.type == INTEGER and attr.convert_filter is v.to_db_int:
        schema.update(_DB_INT)  # an integer column: signed 32 bits
    schema.update(_accepts(attr.validate))
    if attr.nullable:
        schema["nullable"] = True
        if "enum" in schema and None not in schema["enum"]:
            schema["enum"].append(None)
    if attr.default not in (REQUIRED, UNSET):
        schema["default"] = attr.default
    if not (attr.allow_post or attr.allow_put):
        schema["readOnly"] = True
    if attr.description:
        schema["description"] = attr.description
    return schema


def _body_schema(resource: Resource, method: str) -> dict[str, Any]:
    allowed = [a for a in resource.attributes
               if (a.allow_post if method == "post" else a.allow_put)]
    item = {"type": "object", "additionalProperties": False,
            "properties": {a.name: _schema(a) for a in allowed}}
    required = [a.name for a in allowed if method == "post" and a.default is REQUIRED]
    if required:
        item["required"] = required
    return item


_DESCRIPTIONS = {400: "Bad request", 403: "Forbidden by policy", 404: "Not found",
                 409: "Conflict", 413: "Body too large",
                 503: "Service unavailable (database unreachable or busy, pool exhausted, "
                      "request timed out); retry after Retry-After seconds"}


def _errors(*codes: int) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for code in codes:
        if code == 401:
            responses["401"] = {"$ref": "#/components/responses/Unauthorized"}
            continue
        response: dict[str, Any] = {"description": _DESCRIPTIONS[code], "content": {
            "application/json": {"schema": _ERROR}}}
        if code == 503:
            response["headers"] = {"Retry-After": {
                "required": True, "description": "Seconds to wait before retrying",
                "schema": {"type": "integer", "minimum": 0}}}
        responses[str(code)] = response
    return responses


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _filter_schema(attr: Attribute) -> dict[str, Any]:
    if attr.type == BOOLEAN:
        return {"type": "boolean"}
    if attr.type == INTEGER:
        return {"type": "integer", **_DB_INT}  # filters convert with to_db_int
    return {"type": "string"}


def _array_param(name: str, items: dict[str, Any], description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": False, "style": "form",
             "explode": True, "schema": {"type": "array", "items": items}}
    if description:
        param["description"] = description
    return param


def _fields_param(resource: Resource) -> dict[str, Any]:
    return _array_param("fields", {"type": "string", "enum": resource.visible_names})


def _list_parameters(resource: Resource) -> list[dict[str, Any]]:
    params = [_array_param(a.name, _filter_schema(a)) for a in resource.attributes
              if a.filter]
    params += [
        _fields_param(resource),
        _array_param("sort_key", {"type": "string", "enum": [
            a.name for a in resource.attributes if a.sortable]},
            "Sort keys; as many sort_dir as sort_key must be given (else 400)."),
        _array_param("sort_dir", {"type": "string", "enum": ["asc", "desc"]},
                     "One direction per sort_key, in the same order (else 400)."),
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "marker", "in": "query", "schema": {"type": "string"},
         "description": "The last item of the previous page; 404 if it does not exist."},
        {"name": "page_reverse", "in": "query", "schema": {"type": "boolean"}},
    ]
    return params


def _list_body(resource: Resource) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{resource.singular}"}
    return _object({resource.plural: {"type": "array", "items": ref},
                    f"{resource.plural}_links": {"type": "array", "items": {
                        "$ref": "#/components/schemas/Link"}}}, [resource.plural])


def _resource_paths(resource: Resource, writable: bool, creatable: bool
                    ) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{resource.singular}"}
    # The wrappers name one key and nothing else, so a single and a bulk body (or
    # response) can never both match the oneOf.
    one = _object({resource.singular: ref}, [resource.singular])
    many = _object({resource.plural: {"type": "array", "items": ref}}, [resource.plural])
    collection: dict[str, Any] = {"get": {
        "operationId": f"list_{resource.plural}", "tags": [resource.plural],
        "parameters": _list_parameters(resource),
        "responses": {"200": _json(_list_body(resource)), **_errors(400, 401, 404, 503)}}}
    if creatable:
        item = _body_schema(resource, "post")
        collection["post"] = {
            "operationId": f"create_{resource.singular}", "tags": [resource.plural],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [
                    _object({resource.singular: item}, [resource.singular]),
                    _object({resource.plural: {"type": "array", "minItems": 1,
                                               "items": item}}, [resource.plural])]}}}},
            "responses": {"201": _json({"oneOf": [one, many]}, "Created"),
                          **_errors(400, 401, 403, 404, 409, 413, 503)}}
    if resource.primary_key != "id":
        return {f"/v2.0/{resource.path}": collection}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    member: dict[str, Any] = {
        "parameters": id_param,
        "get": {"operationId": f"show_{resource.singular}", "tags": [resource.plural],
                "parameters": [_fields_param(resource)],
                "responses": {"200": _json(one), **_errors(401, 404, 503)}},
        "delete": {"operationId": f"delete_{resource.singular}", "tags": [resource.plural],
                   "responses": {"204": {"description": "Deleted"},
                                 **_errors(401, 403, 404, 409, 503)}},
    }
    if writable:
        member["put"] = {
            "operationId": f"update_{resource.singular}", "tags": [resource.plural],
            "requestBody": {"required": True, "content": {"application/json": {"schema":
                _object({resource.singular: _body_schema(resource, "put")},
                        [resource.singular])}}},
            "responses": {"200": _json(one), **_errors(400, 401, 403, 404, 409, 413, 503)}}
    return {f"/v2.0/{resource.path}": collection,
            f"/v2.0/{resource.path}/{{id}}": member}


def _path_param(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": schema or {"type": "string"}}


def _scheduler_paths() -> dict[str, Any]:
    networks = _object({"networks": {"type": "array", "items": {
        "$ref": "#/components/schemas/network"}}}, ["networks"])
    agents = _object({"agents": {"type": "array", "items": {
        "$ref": "#/components/schemas/agent"}}}, ["agents"])
    return {
        "/v2.0/agents/{id}/dhcp-networks": {
            "parameters": [_path_param("id")],
            "get": {"operationId": "list_networks_on_dhcp_agent", "tags": ["agents"],
                    "parameters": [_fields_param(RESOURCES["networks"])],
                    "responses": {"200": _json(networks), **_errors(401, 403, 404, 503)}},
            "post": {"operationId": "add_network_to_dhcp_agent", "tags": ["agents"],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["network_id"],
                                    "properties": {"network_id": _UUID}}}}},
                     "responses": {"201": _json({"type": "object", "nullable": True,
                                                 "enum": [None]}, "Added; body null"),
                                   **_errors(400, 401, 403, 404, 409, 413, 503)}}},
        "/v2.0/agents/{id}/dhcp-networks/{network_id}": {
            "parameters": [_path_param("id"), _path_param("network_id")],
            "delete": {"operationId": "remove_network_from_dhcp_agent", "tags": ["agents"],
                       "responses": {"204": {"description": "Removed"},
                                     **_errors(401, 403, 404, 409, 503)}}},
        "/v2.0/networks/{id}/dhcp-agents": {
            "parameters": [_path_param("id")],
            "get": {"operationId": "list_dhcp_agents_hosting_network", "tags": ["agents"],
                    "parameters": [_fields_param(RESOURCES["agents"])],
                    "responses": {"200": _json(agents), **_errors(401, 403, 404, 503)}}},
    }


def _tag_paths() -> dict[str, Any]:
    """standard-attr-tag: a resource's tags as a whole, and one tag (the path segment ends at
    "/", so a tag holding one cannot be named in a URL)."""
    paths: dict[str, Any] = {}
    for plural, resource in TAGGABLE.items():
        (attr,) = (a for a in resource.attributes if a.name == "tags")
        tags = {"type": "array", **_accepts(attr.validate)}
        body = _object({"tags": tags}, ["tags"])
        request = {"required": True, "content": {"application/json": {"schema": body}}}
        name, group = resource.singular, ["tags"]
        paths[f"/v2.0/{plural}/{{id}}/tags"] = {
            "parameters": [_path_param("id")],
            "get": {"operationId": f"list_{name}_tags", "tags": group,
                    "responses": {"200": _json(body), **_errors(401, 403, 404, 503)}},
            "post": {"operationId": f"add_{name}_tags", "tags": group,
                     "description": "Adds the tags given to those the resource has; "
                                    "answers with the tags given.",
                     "requestBody": request,
                     "responses": {"201": _json(body, "Added"),
                                   **_errors(400, 401, 403, 404, 413, 503)}},
            "put": {"operationId": f"replace_{name}_tags", "tags": group,
                    "requestBody": request,
                    "responses": {"200": _json(body), **_errors(400, 401, 403, 404, 413, 503)}},
            "delete": {"operationId": f"remove_all_{name}_tags", "tags": group,
                       "responses": {"204": {"description": "Removed"},
                                     **_errors(401, 403, 404, 503)}},
        }
        paths[f"/v2.0/{plural}/{{id}}/tags/{{tag}}"] = {
            "parameters": [_path_param("id"), _path_param("tag", tags["items"])],
            "get": {"operationId": f"check_{name}_tag", "tags": group,
                    "responses": {"204": {"description": "The resource has the tag"},
                                  **_errors(400, 401, 403, 404, 503)}},
            "put": {"operationId": f"add_{name}_tag", "tags": group,
                    "responses": {"201": _json({"type": "object", "nullable": True,
                                                "enum": [None]}, "Added; body null"),
                                  **_errors(400, 401, 403, 404, 503)}},
            "delete": {"operationId": f"remove_{name}_tag", "tags": group,
                       "responses": {"204": {"description": "Removed"},
                                     **_errors(400, 401, 403, 404, 503)}},
        }
    return paths


def _other_paths() -> dict[str, Any]:
    link = {"$ref": "#/components/schemas/Link"}
    versions = _object({"versions": {"type": "array", "items": {
        "type": "object", "properties": {"id": {"type": "string"},
                                         "status": {"type": "string"},
                                         "links": {"type": "array", "items": link}}}}},
                       ["versions"])
    extension = {"type": "object", "properties": {
        k: {"type": "string"} for k in ("alias", "name", "description", "updated")}}
    public: list[dict[str, Any]] = []  # no token needed
    return {
        "/": {"get": {"operationId": "list_api_versions", "tags": ["versions"],
                      "security": public, "responses": {"200": _json(versions)}}},
        "/v2.0": {"get": {"operationId": "show_api_v2", "tags": ["versions"],
                          "security": public, "responses": {"200": _json({
                              "type": "object", "required": ["resources"], "properties": {
                                  "resources": {"type": "array", "items": {
                                      "type": "object"}},
                                  "version": {"type": "object"}}})}}},
        "/openapi.json": {"get": {"operationId": "show_openapi", "tags": ["versions"],
                                  "security": public,
                                  "responses": {"200": _json({"type": "object"})}}},
        "/v2.0/extensions": {"get": {
            "operationId": "list_extensions", "tags": ["extensions"],
            "responses": {"200": _json(_object({"extensions": {
                "type": "array", "items": extension}}, ["extensions"])),
                **_errors(401, 503)}}},
        "/v2.0/extensions/{alias}": {
            "parameters": [_path_param("alias")],
            "get": {"operationId": "show_extension", "tags": ["extensions"],
                    "responses": {"200": _json(_object({"extension": extension},
                                                       ["extension"])),
                                  **_errors(401, 404, 503)}}},
        "/v2.0/service-providers": {"get": {
            "operationId": "list_service_providers", "tags": ["service-providers"],
            "responses": {"200": _json(_object({"service_providers": {
                "type": "array", "items": {"type": "object"}}}, ["service_providers"])),
                **_errors(401, 503)}}},
    }


def _agent_create() -> dict[str, Any]:
    # Neutron's agent extension has the URL but refuses every creation.
    return {"post": {"operationId": "create_agent", "tags": ["agents"],
                     "description": "Always refused: agents register themselves over RPC.",
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object"}}}},
                     "responses": _errors(400, 401, 413, 503)}}


def document(server_url: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource in RESOURCES.values():
        writable = any(a.allow_put for a in resource.attributes)
        creatable = any(a.allow_post for a in resource.attributes)
        paths.update(_resource_paths(resource, writable, creatable))
    paths["/v2.0/agents"].update(_agent_create())
    paths.update(_scheduler_paths())
    paths.update(_tag_paths())
    paths.update(_other_paths())
    schemas: dict[str, Any] = {
        r.singular: {"type": "object", "additionalProperties": False, "properties": {
            a.name: _schema(a) for a in r.attributes if a.visible}}
        for r in RESOURCES.values()}
    schemas["Link"] = _object({"rel": {"type": "string"}, "href": {"type": "string"}},
                              ["rel", "href"])
    schemas["NeutronError"] = _object({"NeutronError": _object({
        "type": {"type": "string"}, "message": {"type": "string"},
        "detail": {"type": "string"}}, ["type", "message", "detail"])}, ["NeutronError"])
    # 401 is written as keystonemiddleware writes it (errors.unauthorized), not as a
    # NeutronError: clients re-authenticate on it the same way.
    schemas["Unauthorized"] = _object({"error": _object({
        "code": {"type": "integer", "enum": [401]}, "title": {"type": "string"},
        "message": {"type": "string"}}, ["code", "title", "message"])}, ["error"])
    unauthorized = {"description": "Missing, invalid, expired or revoked token",
                    "headers": {"WWW-Authenticate": {
                        "description": "Where to get a token (builtin and keystone auth)",
                        "schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Unauthorized"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Neutrino Networking API (Neutron v2.0)", "version": "2.0"},
        "servers": [{"url": server_url}] if server_url else [],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": {"Unauthorized": unauthorized},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                          "name": "X-Auth-Token"}}},
        "security": [{"token": []}],
    }
