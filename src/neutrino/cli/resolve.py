"""Turn the name-or-id an operator types into a resource id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from neutrino.cli.errors import AmbiguousName, ResourceNotFound

# lookup(attribute, value) -> the rows (each carrying "id") whose attribute equals value.
Lookup = Callable[[str, str], list[dict[str, Any]]]


def looks_like_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def find_id(resource: str, ref: str, lookup: Lookup) -> str:
    """An id matches first; otherwise exactly one resource must carry `ref` as its name.

    Only UUID-shaped references are tried as ids: servers reject malformed id filters.
    """
    if looks_like_uuid(ref):
        rows = lookup("id", ref)
        if rows:
            return str(rows[0]["id"])
    rows = lookup("name", ref)
    if len(rows) == 1:
        return str(rows[0]["id"])
    if not rows:
        raise ResourceNotFound(f"Unable to find {resource} with name or id '{ref}'")
    raise AmbiguousName(f"Multiple {resource} matches found for name '{ref}', "
                        "use an ID to be more specific.")
