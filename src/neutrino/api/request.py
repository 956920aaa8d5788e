"""Request bodies: JSON parsing and per-attribute checks derived from the resource tables."""

from __future__ import annotations

import copy
import json
from typing import Any

from neutrino.api.errors import bad_request
from neutrino.core.context import Context, resolve_project
from neutrino.lib.attributes import REQUIRED, UNSET, Resource
from neutrino.lib.exceptions import NeutronException
from neutrino.lib.validators import Invalid

INVALID_BODY = "Body contains invalid data"


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)  # NaN and Infinity are not JSON


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise bad_request("Resource body required")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request(INVALID_BODY) from None


def resource_items(body: Any, resource: Resource, allow_bulk: bool) -> tuple[list[Any], bool]:
    """The item(s) of a POST/PUT body and whether it was a bulk request."""
    if not isinstance(body, dict):
        raise bad_request(INVALID_BODY)
    if allow_bulk and resource.plural in body:
        items = body[resource.plural]
        if not isinstance(items, list) or not items:
            raise bad_request("Resources required")
        unwrapped = [i[resource.singular] if isinstance(i, dict) and resource.singular in i
                     and len(i) == 1 else i for i in items]
        return unwrapped, True
    if resource.singular not in body:
        raise bad_request(f"Unable to find '{resource.singular}' in request body")
    return [body[resource.singular]], False


def _check_known(resource: Resource, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise bad_request(INVALID_BODY)
    unknown = sorted(k for k in item if k not in resource)
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{', '.join(map(str, unknown))}'")
    return item


def _validate(resource: Resource, name: str, value: Any) -> Any:
    attr = resource.get(name)
    if attr is None or attr.validate is None:
        return value
    try:
        return attr.validate(value)
    except NeutronException:
        raise
    except Invalid as error:
        raise bad_request(f"Invalid input for {name}. Reason: {error}.") from None
    except (TypeError, ValueError, OverflowError):
        raise bad_request(f"Invalid input for {name}. Reason: '{value}' is not valid.") \
            from None


def prepare_create(resource: Resource, item: Any, ctx: Context) -> dict[str, Any]:
    """Validated, converted body with defaults filled in, as core's create_* takes it."""
    item = _check_known(resource, item)
    for name in item:
        if not resource.get(name).allow_post:  # type: ignore[union-attr]
            raise bad_request(f"Attribute '{name}' not allowed in POST")
    body: dict[str, Any] = {}
    for attr in resource.attributes:
        if not attr.allow_post or attr.name in ("tenant_id", "project_id"):
            continue
        if attr.name in item:
            body[attr.name] = _validate(resource, attr.name, item[attr.name])
        elif attr.default is REQUIRED:
            raise bad_request(f"Failed to parse request. Required attribute '{attr.name}' "
                              "not specified")
        elif attr.default is not UNSET:
            body[attr.name] = copy.deepcopy(attr.default)
    if resource.owned:
        project = _project(resource, item, ctx)
        body["tenant_id"] = body["project_id"] = project
    return body


def _project(resource: Resource, item: dict[str, Any], ctx: Context) -> str:
    # An empty id counts as none given, as in Neutron.
    given: dict[str, Any] = {k: _validate(resource, k, item[k]) for k in ("tenant_id", "project_id")
             if k in item and item[k] != ""}
    return resolve_project(ctx, given)


def prepare_update(resource: Resource, item: Any) -> dict[str, Any]:
    item = _check_known(resource, item)
    for name in item:
        if not resource.get(name).allow_put:  # type: ignore[union-attr]
            raise bad_request(f"Cannot update read-only attribute {name}")
    return {name: _validate(resource, name, value) for name, value in item.items()}
