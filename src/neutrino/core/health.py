"""Whether this server can reach its database: one `SELECT 1` on a pooled connection."""

from __future__ import annotations

from sqlalchemy import text

from neutrino.db.engine import Database


class DatabaseProbe:
    name = "database"

    def __init__(self, db: Database) -> None:
        self._db = db

    def __call__(self) -> str:
        """A short description when the database answers; raises when it does not."""
        with self._db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return self._db.engine.dialect.name
