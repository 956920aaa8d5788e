"""The OpenAPI document, derived from the resource tables (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from neutrino.lib.attributes import (
    ARRAY,
    OBJECT,
    REQUIRED,
    RESOURCES,
    UNSET,
    Attribute,
    Resource,
)

_ERROR = {"$ref": "#/components/schemas/NeutronError"}


def _schema(attr: Attribute) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": attr.type}
    if attr.type == ARRAY:
        schema["items"] = {}
    if attr.type == OBJECT:
        schema["additionalProperties"] = True
    if attr.nullable:
        schema["nullable"] = True
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


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": "error", "content": {"application/json": {
        "schema": _ERROR}}} for c in codes}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _list_parameters(resource: Resource) -> list[dict[str, Any]]:
    params = [{"name": a.name, "in": "query", "required": False,
               "schema": {"type": "array", "items": {"type": a.type if a.type in (
                   "boolean", "integer") else "string"}}, "style": "form", "explode": True}
              for a in resource.attributes if a.filter]
    params += [
        {"name": "fields", "in": "query", "schema": {"type": "array", "items": {
            "type": "string", "enum": resource.visible_names}}},
        {"name": "sort_key", "in": "query", "schema": {"type": "array", "items": {
            "type": "string", "enum": [a.name for a in resource.attributes if a.sortable]}}},
        {"name": "sort_dir", "in": "query", "schema": {"type": "array", "items": {
            "type": "string", "enum": ["asc", "desc"]}}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 0}},
        {"name": "marker", "in": "query", "schema": {"type": "string"}},
        {"name": "page_reverse", "in": "query", "schema": {"type": "boolean"}},
    ]
    return params


def _resource_paths(resource: Resource, writable: bool, creatable: bool
                    ) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{resource.singular}"}
    one = {"type": "object", "properties": {resource.singular: ref}}
    many = {"type": "object", "properties": {
        resource.plural: {"type": "array", "items": ref},
        f"{resource.plural}_links": {"type": "array", "items": {"type": "object"}}}}
    collection: dict[str, Any] = {"get": {
        "operationId": f"list_{resource.plural}", "tags": [resource.plural],
        "parameters": _list_parameters(resource),
        "responses": {"200": _json(many), **_errors(400, 401)}}}
    if creatable:
        collection["post"] = {
            "operationId": f"create_{resource.singular}", "tags": [resource.plural],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "oneOf": [
                    {"type": "object", "required": [resource.singular], "properties": {
                        resource.singular: _body_schema(resource, "post")}},
                    {"type": "object", "required": [resource.plural], "properties": {
                        resource.plural: {"type": "array",
                                          "items": _body_schema(resource, "post")}}}]}}}},
            "responses": {"201": _json({"oneOf": [one, many]}, "Created"),
                          **_errors(400, 401, 403, 404, 409, 503)}}
    if resource.primary_key != "id":
        return {f"/v2.0/{resource.plural}": collection}
    id_param = [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}]
    member: dict[str, Any] = {
        "parameters": id_param,
        "get": {"operationId": f"show_{resource.singular}", "tags": [resource.plural],
                "parameters": [{"name": "fields", "in": "query", "schema": {
                    "type": "array", "items": {"type": "string"}}}],
                "responses": {"200": _json(one), **_errors(401, 404)}},
        "delete": {"operationId": f"delete_{resource.singular}", "tags": [resource.plural],
                   "responses": {"204": {"description": "Deleted"},
                                 **_errors(401, 403, 404, 409)}},
    }
    if writable:
        member["put"] = {
            "operationId": f"update_{resource.singular}", "tags": [resource.plural],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": [resource.singular], "properties": {
                    resource.singular: _body_schema(resource, "put")}}}}},
            "responses": {"200": _json(one), **_errors(400, 401, 403, 404, 409)}}
    return {f"/v2.0/{resource.plural}": collection,
            f"/v2.0/{resource.plural}/{{id}}": member}


def _scheduler_paths() -> dict[str, Any]:
    agent_id = [{"name": "agent_id", "in": "path", "required": True,
                 "schema": {"type": "string"}}]
    networks = {"type": "object", "properties": {"networks": {
        "type": "array", "items": {"$ref": "#/components/schemas/network"}}}}
    agents = {"type": "object", "properties": {"agents": {
        "type": "array", "items": {"$ref": "#/components/schemas/agent"}}}}
    return {
        "/v2.0/agents/{agent_id}/dhcp-networks": {
            "parameters": agent_id,
            "get": {"operationId": "list_networks_on_dhcp_agent", "tags": ["agents"],
                    "responses": {"200": _json(networks), **_errors(401, 403, 404)}},
            "post": {"operationId": "add_network_to_dhcp_agent", "tags": ["agents"],
                     "requestBody": {"required": True, "content": {"application/json": {
                         "schema": {"type": "object", "required": ["network_id"],
                                    "properties": {"network_id": {"type": "string"}}}}}},
                     "responses": {"201": _json({"nullable": True}, "Added; body null"),
                                   **_errors(400, 401, 403, 404, 409)}}},
        "/v2.0/agents/{agent_id}/dhcp-networks/{network_id}": {
            "parameters": agent_id + [{"name": "network_id", "in": "path",
                                       "required": True, "schema": {"type": "string"}}],
            "delete": {"operationId": "remove_network_from_dhcp_agent", "tags": ["agents"],
                       "responses": {"204": {"description": "Removed"},
                                     **_errors(401, 403, 404, 409)}}},
        "/v2.0/networks/{network_id}/dhcp-agents": {
            "parameters": [{"name": "network_id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "get": {"operationId": "list_dhcp_agents_hosting_network", "tags": ["agents"],
                    "responses": {"200": _json(agents), **_errors(401, 403, 404)}}},
    }


def document(server_url: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for resource in RESOURCES.values():
        writable = any(a.allow_put for a in resource.attributes)
        creatable = any(a.allow_post for a in resource.attributes)
        paths.update(_resource_paths(resource, writable, creatable))
    paths.update(_scheduler_paths())
    schemas: dict[str, Any] = {
        r.singular: {"type": "object", "properties": {
            a.name: _schema(a) for a in r.attributes if a.visible}}
        for r in RESOURCES.values()}
    schemas["NeutronError"] = {"type": "object", "required": ["NeutronError"],
                               "properties": {"NeutronError": {
                                   "type": "object", "required": ["type", "message"],
                                   "properties": {"type": {"type": "string"},
                                                  "message": {"type": "string"},
                                                  "detail": {"type": "string"}}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Neutrino Networking API (Neutron v2.0)", "version": "2.0"},
        "servers": [{"url": server_url}] if server_url else [],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"token": {"type": "apiKey", "in": "header",
                                          "name": "X-Auth-Token"}}},
        "security": [{"token": []}],
    }
