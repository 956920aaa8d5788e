"""Small database helpers core's resource code shares."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    CursorResult,
    Executable,
    Result,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from neutrino.core.interfaces import Clock
from neutrino.db.engine import integrity_kind
from neutrino.lib import exceptions as exc


def new_id() -> str:
    return str(uuid.uuid4())


def now(clock: Clock) -> datetime:
    """The clock's time to the second: what every backend stores and shows alike."""
    return clock.now().replace(microsecond=0)


def precise_now(session: Session, clock: Clock) -> datetime:
    """The clock's time to the microsecond where the database keeps it (SQLite,
    PostgreSQL; every backend still shows the second). MariaDB/MySQL's DATETIME keeps whole
    seconds, and MySQL would round a fraction up to the next one: there, `now`."""
    stamp = clock.now()
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        return stamp.replace(microsecond=0)
    return stamp


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


def execute(session: Session, statement: Executable, params: Any = None
            ) -> CursorResult[*tuple[Any, ...]]:
    """A Core statement (columns, not mapped objects) run on the session's connection,
    after writing what the ORM holds, as autoflush would: Session.execute's ORM layer costs
    more than the statement itself (about 60 us, twice a small query's whole cost)."""
    session.flush()
    return session.connection().execute(statement, params)


def kind_column(name: str) -> Any:
    """A constant text column naming which branch of a UNION ALL a row came from."""
    return literal_column(f"'{name}'", String)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched. Session.execute is typed to return a Result;
    for those statements it is a CursorResult, which carries rowcount."""
    return cast(CursorResult[Any], result).rowcount


@functools.lru_cache(maxsize=64)
def _insert_statement(table: Table, dialect: str, conflict_on: tuple[str, ...]) -> Executable:
    """Built once per table and run with parameters: this skips SQLAlchemy's per-call
    construction and cache-key work, a good part of a small insert's cost."""
    if dialect in ("sqlite", "postgresql"):
        make = sqlite_insert if dialect == "sqlite" else pg_insert
        # RETURNING, not rowcount: psycopg 3 with SQLAlchemy 2.1 reports -1 for an INSERT.
        return make(table).on_conflict_do_nothing(
            index_elements=list(conflict_on) or None,
        ).returning(*table.primary_key.columns)
    return insert(table)


def insert_row_unless_duplicate(session: Session, table: Table, values: dict[str, Any],
                                conflict_on: Sequence[str] | None = None) -> bool:
    """One INSERT; False when a unique key (`conflict_on`'s columns, or any) already holds
    its values. One statement where the database can skip a duplicate itself (ON CONFLICT
    DO NOTHING), a savepoint around it elsewhere. Other errors (a vanished parent row, a
    clash on another key) propagate."""
    dialect = session.get_bind().dialect.name
    stmt = _insert_statement(table, dialect, tuple(conflict_on or ()))
    if dialect in ("sqlite", "postgresql"):
        return execute(session, stmt, values).first() is not None
    savepoint = session.begin_nested()
    try:
        session.execute(stmt, values)
    except IntegrityError as err:
        savepoint.rollback()
        if integrity_kind(err) == "duplicate":
            return False
        raise
    savepoint.commit()
    return True


# Claims one transaction takes at most. A claim holds one of PostgreSQL's shared lock slots
# until the commit (max_locks_per_transaction, 64 a connection by default), so a bulk
# create of thousands of rows claims its first few only and inserts the rest unclaimed:
# those wait on a key a concurrent writer is inserting, as inserts without claims do.
MAX_CLAIMS = 16
_CLAIMS = "neutrino.claims"


@functools.lru_cache(maxsize=16)
def _claimed_insert_statement(table: Table, columns: tuple[str, ...]) -> Executable:
    """PostgreSQL's INSERT of one row that first claims an advisory lock for the
    transaction, without waiting: a row whose claim another transaction holds is not
    written (nor waited for)."""
    row = select(*[bindparam(name, type_=table.c[name].type) for name in columns]).where(
        func.pg_try_advisory_xact_lock(bindparam("claim", type_=BigInteger)))
    return pg_insert(table).from_select(list(columns), row).on_conflict_do_nothing() \
        .returning(*table.primary_key.columns)


def insert_claimed_unless_duplicate(session: Session, table: Table, values: dict[str, Any],
                                    claim: int) -> bool:
    """`insert_row_unless_duplicate`, and on PostgreSQL also False, at once, when another
    transaction holds the claim `claim` (a 64-bit advisory lock key): a creator in flight
    with the same row. Without it an insert of a row another uncommitted transaction has
    written waits for that transaction's end, only to find the row taken. Past MAX_CLAIMS
    in a transaction, an insert without a claim."""
    claims = session.info.get(_CLAIMS, 0)
    if claims >= MAX_CLAIMS or session.get_bind().dialect.name != "postgresql":
        return insert_row_unless_duplicate(session, table, values)
    session.info[_CLAIMS] = claims + 1
    stmt = _claimed_insert_statement(table, tuple(values))
    return execute(session, stmt, {**values, "claim": claim}).first() is not None


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def check_lengths(body: dict[str, Any], limits: dict[str, int]) -> None:
    """Strings longer than their column: Neutron's 400, not a database error."""
    for key, limit in limits.items():
        value = body.get(key)
        if isinstance(value, str) and len(value) > limit:
            raise exc.InvalidInput(error_message=(
                f"'{value}' exceeds maximum length of {limit}"))
