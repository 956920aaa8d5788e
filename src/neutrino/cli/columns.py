"""How values look in tables (like the old neutron client) and stay raw in json/yaml."""

from __future__ import annotations

import json
from typing import Any

from cliff.columns import FormattableColumn

# What a ShowOne returns: the field names and their cells.
ShowRow = tuple[tuple[str, ...], tuple[Any, ...]]


def human(value: Any, json_indent: int | None = None) -> str:
    """A value as a table cell: lists one item per line, dicts as JSON, None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value, indent=json_indent, sort_keys=json_indent is not None)
    if isinstance(value, list | tuple):
        return "\n".join(
            json.dumps(v) if isinstance(v, dict) else human(v) for v in value)
    return str(value)


class ValueColumn(FormattableColumn[Any]):
    """Any API value: human form as `human()`, raw for machine formats."""

    json_indent: int | None = None

    def human_readable(self) -> str:
        return human(self._value, self.json_indent)


class PrettyJsonColumn(ValueColumn):
    """An object spread over several lines (agent `configurations`)."""

    json_indent = 5


class AliveColumn(FormattableColumn[Any]):
    def human_readable(self) -> str:
        return alive_face(self._value)


def alive_face(alive: Any) -> str:
    return ":-)" if alive else "xxx"


class SubnetsColumn(FormattableColumn[list[str]]):
    """A network's subnets as "<id> <cidr>" lines; `cidrs` maps subnet id to CIDR."""

    def __init__(self, subnet_ids: list[str], cidrs: dict[str, str]) -> None:
        super().__init__(list(subnet_ids))
        self._cidrs = cidrs

    def human_readable(self) -> str:
        return "\n".join(subnet_cell(s, self._cidrs) for s in self._value)

    def machine_readable(self) -> list[str]:
        return [subnet_cell(s, self._cidrs) for s in self._value]


def subnet_cell(subnet_id: str, cidrs: dict[str, str]) -> str:
    cidr = cidrs.get(subnet_id)
    return f"{subnet_id} {cidr}" if cidr else subnet_id


def show_row(resource: dict[str, Any],
             formatters: dict[str, type[FormattableColumn[Any]]] | None = None
             ) -> ShowRow:
    """Field/Value data for a ShowOne: every attribute, sorted, each value formattable."""
    formatters = formatters or {}
    names = tuple(sorted(resource))
    values = tuple(_cell(resource[n], formatters.get(n)) for n in names)
    return names, values


def list_rows(rows: list[dict[str, Any]], columns: list[str],
              formatters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    """Table rows for `columns`; a formatter takes (value, row) and returns a cell."""
    formatters = formatters or {}
    out = []
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            fmt = formatters.get(col)
            if fmt is not None:
                cells.append(fmt(value, row))
            else:
                cells.append(_cell(value, None))
        out.append(tuple(cells))
    return out


def _cell(value: Any, column_type: type[FormattableColumn[Any]] | None) -> Any:
    if column_type is not None:
        return column_type(value)
    if isinstance(value, dict | list | tuple) or value is None:
        return ValueColumn(value)
    return value
