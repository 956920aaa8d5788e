"""List semantics: filters, `fields=`, sorting and pagination, from the resource tables.

Core filters (OR within a key, AND across keys); sorting and paging happen here, as
Neutron's emulated helpers do, with `<collection>_links` pointing at the next and previous
pages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from neutrino.api.errors import bad_request
from neutrino.lib import exceptions as exc
from neutrino.lib.attributes import Resource

RESERVED = frozenset({"fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse"})
# `fixed_ips=ip_address=X`, `subnet_id=X` and `ip_address_substr=X` go to core as
# {key: value}; one address must match all that are given.
_FIXED_IP_KEYS = ("ip_address", "subnet_id", "ip_address_substr")


@dataclass
class ListQuery:
    filters: dict[str, list[Any]] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    sorts: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    # A filter none of whose values can match a stored row (see parse_filters).
    matches_nothing: bool = False


def group(params: list[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for key, value in params:
        grouped.setdefault(key, []).append(value)
    return grouped


def parse_filters(resource: Resource, grouped: dict[str, list[str]]) -> dict[str, list[Any]]:
    filters: dict[str, list[Any]] = {}
    invalid = []
    for key, raw_values in grouped.items():
        if key in RESERVED:
            continue
        attr = resource.get(key)
        if attr is None or not attr.filter:
            invalid.append(key)
            continue
        if key == "fixed_ips":
            for raw in raw_values:
                sub, sep, value = raw.partition("=")
                if not sep or sub not in _FIXED_IP_KEYS:
                    raise bad_request(f"Invalid input for fixed_ips. Reason: '{raw}' is not "
                                      "of the form ip_address=X, subnet_id=X or "
                                      "ip_address_substr=X.")
                filters.setdefault("fixed_ips", []).append({sub: value})
            if any("\x00" in raw for raw in raw_values):
                # One address must match every fixed_ips term; one holding a NUL matches
                # no address (see below).
                filters["fixed_ips"] = []
            continue
        convert = attr.convert_filter
        # No stored value holds a NUL (PostgreSQL refuses one even in a query): such a value
        # matches nothing, on every backend.
        matching = [value for value in raw_values if "\x00" not in value]
        filters[key] = [convert(value) if convert else value for value in matching]
    if invalid:
        raise bad_request(f"{sorted(invalid)} is invalid attribute for filtering")
    # tenant_id and project_id are one attribute under two names.
    if "tenant_id" in filters:
        tenants = filters.pop("tenant_id")
        if "project_id" in filters:
            filters["project_id"] = [p for p in filters["project_id"] if p in tenants]
        else:
            filters["project_id"] = tenants
    return filters


def parse_sorts(resource: Resource, grouped: dict[str, list[str]]) -> list[tuple[str, bool]]:
    keys = [k for k in grouped.get("sort_key", []) if k]
    dirs = [d for d in grouped.get("sort_dir", []) if d]
    if len(keys) != len(dirs):
        raise bad_request("The number of sort_keys and sort_dirs must be same")
    absent = [k for k in keys if (attr := resource.get(k)) is None or not attr.sortable]
    if absent:
        raise bad_request(f"{absent} is invalid attribute for sort_keys")
    invalid_dirs = [d for d in dirs if d not in ("asc", "desc")]
    if invalid_dirs:
        raise bad_request(f"{invalid_dirs} is invalid value for sort_dirs, valid value is "
                          "'asc' and 'desc'")
    return [(k, d == "asc") for k, d in zip(keys, dirs, strict=True)]


def parse_limit(grouped: dict[str, list[str]], max_limit: int) -> int | None:
    raw = grouped.get("limit", ["0"])[-1]
    try:
        limit = int(raw)
    except ValueError:
        limit = -1
    if limit < 0:
        raise exc.BadRequest(resource="limit",
                             msg=f"Limit must be an integer 0 or greater and not '{raw}'")
    if max_limit > 0:
        limit = min(max_limit, limit) or max_limit
    return limit or None


def parse_query(resource: Resource, params: list[tuple[str, str]],
                max_limit: int = -1) -> ListQuery:
    grouped = group(params)
    filters = parse_filters(resource, grouped)
    # A key whose every value was dropped by parse_filters.
    nothing = any(not values for values in filters.values())
    limit = parse_limit(grouped, max_limit)
    marker = grouped.get("marker", [None])[-1] or None
    return ListQuery(
        filters=filters,
        fields=[f for f in grouped.get("fields", []) if f],
        sorts=parse_sorts(resource, grouped),
        limit=limit, marker=marker if limit else None,
        page_reverse=grouped.get("page_reverse", ["False"])[-1].lower() == "true",
        matches_nothing=nothing,
    )


def _compare(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is not None) - (b is not None)
    try:
        return int(a > b) - int(a < b)
    except TypeError:  # mixed types never fail a list
        return (str(a) > str(b)) - (str(a) < str(b))


def sort_items(items: list[dict[str, Any]], sorts: list[tuple[str, bool]],
               primary_key: str) -> list[dict[str, Any]]:
    keys = list(sorts)
    if primary_key not in dict(keys):
        keys.append((primary_key, True))

    def cmp(x: dict[str, Any], y: dict[str, Any]) -> int:
        for key, ascending in keys:
            result = _compare(x.get(key), y.get(key))
            if result:
                return result if ascending else -result
        return 0
    return sorted(items, key=functools.cmp_to_key(cmp))


@dataclass
class Page:
    items: list[dict[str, Any]]
    has_before: bool
    has_after: bool


def paginate(items: list[dict[str, Any]], query: ListQuery, resource: Resource) -> Page:
    if not query.limit:
        return Page(items, False, False)
    key = resource.primary_key
    if query.marker is not None:
        index = next((i for i, item in enumerate(items) if item.get(key) == query.marker),
                     None)
        if index is None:
            raise resource.not_found(query.marker)
    else:
        index = len(items) if query.page_reverse else -1
    if query.page_reverse:
        start = max(index - query.limit, 0)
        return Page(items[start:index], start > 0, index < len(items))
    end = index + 1 + query.limit
    return Page(items[index + 1:end], index >= 0, end < len(items))


def links(page: Page, query: ListQuery, url: str, params: list[tuple[str, str]],
          resource: Resource) -> list[dict[str, str]]:
    if not query.limit:
        return []
    kept = [(k, v) for k, v in params if k not in ("marker", "page_reverse")]
    result = []
    key = resource.primary_key
    if page.items and page.has_after:
        result.append({"rel": "next", "href": f"{url}?" + urlencode(
            kept + [("marker", str(page.items[-1][key]))])})
    if page.items and page.has_before:
        result.append({"rel": "previous", "href": f"{url}?" + urlencode(
            kept + [("marker", str(page.items[0][key])), ("page_reverse", "True")])})
    return result


def list_page(items: list[dict[str, Any]], query: ListQuery, resource: Resource
              ) -> Page:
    ordered = sort_items(items, query.sorts, resource.primary_key)
    return paginate(ordered, query, resource)
