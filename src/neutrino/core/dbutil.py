"""Small database helpers core's resource code shares."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.interfaces import Clock
from neutrino.db.engine import integrity_kind


def new_id() -> str:
    return str(uuid.uuid4())


def now(clock: Clock) -> datetime:
    """The clock's time to the second: what every backend stores and shows alike."""
    return clock.now().replace(microsecond=0)


def insert_unless_duplicate(session: Session, row: Any) -> bool:
    """Insert `row` inside a savepoint. False when a unique key already holds its values
    (the savepoint is rolled back and the transaction goes on); other errors propagate."""
    savepoint = session.begin_nested()
    try:
        session.add(row)
        session.flush()
    except IntegrityError as err:
        savepoint.rollback()
        if integrity_kind(err) == "duplicate":
            return False
        raise
    savepoint.commit()
    return True


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def check_lengths(body: dict[str, Any], limits: dict[str, int]) -> None:
    """Strings longer than their column: Neutron's 400, not a database error."""
    for key, limit in limits.items():
        value = body.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise exc.InvalidInput(error_message=(
                f"'{value}' exceeds maximum length of {limit}"))
