"""The SQL statements an engine runs while a block runs, for tests that count them or look
for one: each with its whitespace collapsed to single spaces, so a test can look for
"SELECT x FROM y" whatever line breaks SQLAlchemy put in.

    with recorded(db.engine) as seen:
        ...
    selects = of_verbs(seen, "SELECT")
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def recorded(engine: Engine) -> Iterator[list[str]]:
    """The list the statements run on `engine` are appended to until the block ends."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def of_verbs(statements: list[str], *verbs: str) -> list[str]:
    """The statements that start with one of `verbs` (SELECT, INSERT, ...), in order."""
    return [s for s in statements if s.split(" ", 1)[0].upper() in verbs]
