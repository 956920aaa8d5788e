"""Insert-or-skip inside a savepoint, safe when the database kills the transaction.

MySQL/MariaDB end the whole transaction on a deadlock, taking the savepoints with it, so
rolling back to the savepoint would fail with "SAVEPOINT does not exist" and hide the
deadlock. Only a unique/foreign key clash is rolled back to the savepoint here; anything
else propagates untouched, so `Database.transaction` sees the real error and retries.
"""

from __future__ import annotations

from sqlalchemy import Executable
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def execute_or_skip(session: Session, statement: Executable) -> bool:
    """Run one INSERT in a savepoint; False (and the transaction goes on) on a key clash."""
    savepoint = session.begin_nested()
    try:
        session.execute(statement)
    except IntegrityError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True
