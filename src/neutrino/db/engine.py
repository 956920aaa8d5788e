"""The database: engine, sessions, Alembic upgrades and the transaction retry core relies on.

Server replicas settle races in the database (unique constraints, row locks); what loses a
race gets a deadlock, a lock timeout, a serialization failure or a duplicate key. The first
three, and a connection dropped in flight, mean "run the whole transaction again":
`Database.transaction` does that. Duplicate keys need the caller's judgement (another
candidate IP, or a 409), so callers raise `RetryRequest` when they want a fresh attempt.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from neutrino.conf.settings import DatabaseSettings
from neutrino.db.sqlite_writes import QueueTimeout, WriteQueue, connection_class, lock_path

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.pool import ConnectionPoolEntry

LOG = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# MySQL/MariaDB error numbers worth a new attempt: deadlock, lock wait timeout, "record has
# changed since last read" (MariaDB's snapshot isolation), a connection lost in flight, and
# "SAVEPOINT does not exist": a deadlock inside a savepoint ends the whole transaction, and
# the rollback to that savepoint then fails with 1305 in place of the deadlock.
_MYSQL_RETRY = {1213, 1205, 1020, 1305, 2006, 2013, 2055, 4031}
# PostgreSQL SQLSTATEs: serialization failure, deadlock, lock not available.
_PG_RETRY = {"40001", "40P01", "55P03"}
# Alembic keeps the running migration in module globals (`alembic.context`, `alembic.op`):
# one migration at a time per process, whatever the database.
_ALEMBIC = threading.Lock()
_MIGRATION_LOCK_KEY = 0x6E65757472696E6F  # "neutrino"
_SQLITE_RETRY = ("database is locked", "database table is locked", "database is busy")


# TCP keepalives on database connections: a peer that vanished (host down, NAT entry
# dropped) is noticed in about idle + interval * count seconds instead of never.
_KEEPALIVE_IDLE, _KEEPALIVE_INTERVAL, _KEEPALIVE_COUNT = 30, 10, 3
# A pooled connection back from use within this many seconds is handed out without a ping:
# under load every request's ping was a round trip of its own. One that died meanwhile
# fails its transaction's first statement, which is retried on a new connection.
PING_AFTER_IDLE = 2.0
# When this thread's work must be finished (time.monotonic()), set per API request.
_DEADLINE: ContextVar[float | None] = ContextVar("neutrino_db_deadline", default=None)


class DeadlineExceeded(Exception):
    """The request this transaction serves has timed out: nothing is committed for it."""


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Transactions run inside refuse to commit, and stop retrying, after `at`
    (time.monotonic()): an answered request's change must not appear later."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_deadline() -> None:
    at = _DEADLINE.get()
    if at is not None and time.monotonic() >= at:
        raise DeadlineExceeded()


def _take_turn(queue: WriteQueue, connection: object, busy: float) -> bool:
    """Wait for the turn to write as SQLite's busy timeout would, and fail as it does:
    "database is locked", which the retries and the 503 mapping know. A request's deadline
    cuts the wait short: its thread stops queueing for a change nobody will see."""
    at = _DEADLINE.get()
    timeout = busy
    if at is not None:
        timeout = min(busy, at - time.monotonic())
    try:
        return queue.acquire(connection, timeout)
    except QueueTimeout:
        if at is not None and time.monotonic() >= at:
            raise DeadlineExceeded() from None
        raise OperationalError("BEGIN IMMEDIATE", None,
                               sqlite3.OperationalError("database is locked")) from None


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's pool_pre_ping, for connections idle over PING_AFTER_IDLE only."""

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["neutrino_returned"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        returned = record.info.get("neutrino_returned")
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE:
            return  # new, or used a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # noqa: BLE001 - any failure means "use another"
            raise DisconnectionError(str(err)) from err
        if not alive:
            raise DisconnectionError("the database did not answer a ping")


class RetryRequest(Exception):
    """Raised inside a transaction to have `Database.transaction` run it again."""


class CommitUnknown(Exception):
    """The connection to the database was lost during COMMIT: the transaction may have
    committed or not. Never run again: that could make the same change twice."""


_MYSQL_LOST = {2006, 2013, 2055}


def lost_connection(exc: BaseException) -> bool:
    """Whether `exc` says the connection to the database went away (not a lost race)."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_LOST:
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate.startswith("08"):
        return True
    return sqlstate in (None, "") and "psycopg" in type(orig).__module__


class DatabaseUnreachable(RuntimeError):
    """The database did not answer within the configured retries."""


def normalize_url(url: str) -> URL:
    """Pick the drivers we ship (PyMySQL, psycopg 3) for bare scheme names."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if parsed.drivername in ("mysql", "mariadb"):
        parsed = parsed.set(drivername=f"{backend}+pymysql")
    elif parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_retriable(exc: BaseException) -> bool:
    """True for errors after which the same transaction, run again, may succeed: also when
    the error was raised while cleaning up after such an error."""
    if _is_retriable_one(exc):
        return True
    # Only database errors hide an earlier one; an application error (a 409 raised after a
    # duplicate key, say) is final whatever it was handling.
    seen = 0
    current: BaseException | None = exc
    while isinstance(current, DBAPIError) and seen < 5:
        current = current.__cause__ or current.__context__
        if current is not None and _is_retriable_one(current):
            return True
        seen += 1
    return False


def _is_retriable_one(exc: BaseException) -> bool:
    if isinstance(exc, RetryRequest):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _MYSQL_RETRY:
        return True
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate in _PG_RETRY:
        return True
    if isinstance(exc, OperationalError):
        message = str(orig).lower()
        if any(m in message for m in _SQLITE_RETRY):
            return True
        # psycopg reports a lost connection as OperationalError without a SQLSTATE (or 08xxx).
        if getattr(orig, "sqlstate", "x") in (None, "") and "psycopg" in type(orig).__module__:
            return True
        if isinstance(sqlstate, str) and sqlstate.startswith("08"):
            return True
    return False


def _is_permanent_connect_error(exc: DBAPIError) -> bool:
    """Waiting does not fix a missing database or wrong credentials: say so at once."""
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in (1044, 1045, 1049):
        return True
    if getattr(orig, "sqlstate", None) in ("3D000", "28P01", "28000"):
        return True
    message = str(orig)
    return ("password authentication failed" in message
            or ("database" in message and "does not exist" in message))


def integrity_kind(exc: IntegrityError) -> str:
    """'duplicate' for a unique/primary key clash, 'foreign_key' for a missing parent or a
    parent still referenced, 'other' otherwise."""
    orig = exc.orig
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int):
        if args[0] in (1062, 1586):
            return "duplicate"
        if args[0] in (1451, 1452, 1216, 1217):
            return "foreign_key"
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate == "23505":
        return "duplicate"
    if sqlstate == "23503":
        return "foreign_key"
    message = str(orig).lower()
    if "unique constraint failed" in message:
        return "duplicate"
    if "foreign key constraint failed" in message:
        return "foreign_key"
    return "other"


class Database:
    """One database, used by every thread of one process. Constructing it does no I/O."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self.url = normalize_url(settings.url)
        self.backend = self.url.get_backend_name()
        self._write_queue: WriteQueue | None = None
        self.engine = self._create_engine()
        self._readonly_bind = self.engine.execution_options(
            neutrino_readonly=True,
            **({"isolation_level": "AUTOCOMMIT"} if self.backend == "postgresql" else {}))
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)

    def _create_engine(self, bounded: bool = True) -> Engine:
        if self.backend == "sqlite":
            return self._create_sqlite_engine()
        if not bounded:
            # For migrations: one may rightly run (or wait for another's lock) for minutes.
            from sqlalchemy.pool import NullPool
            unbounded: dict[str, Any] = {"poolclass": NullPool, "future": True}
            if self.backend in ("mysql", "mariadb"):
                unbounded["isolation_level"] = "READ COMMITTED"
                unbounded["connect_args"] = {"charset": "utf8mb4"}
            return create_engine(self.url, **unbounded)
        settings = self.settings
        kwargs: dict[str, Any] = {"pool_recycle": settings.recycle_time,
                        "future": True, "pool_size": settings.pool_size,
                        "max_overflow": settings.max_overflow,
                        # A request waits this long for a connection, then gets a 503.
                        "pool_timeout": settings.pool_timeout}
        if self.backend in ("mysql", "mariadb"):
            # READ COMMITTED: fewer gap locks (fewer deadlocks) under concurrent inserts, and
            # a retried statement sees what the winner committed.
            kwargs["isolation_level"] = "READ COMMITTED"
            kwargs["connect_args"] = {
                "charset": "utf8mb4", "connect_timeout": settings.connect_timeout,
                # PyMySQL's socket timeouts bound a read from a silent server; a few
                # seconds beyond the server's own lock wait limit, which fires first.
                "read_timeout": settings.statement_timeout + 5,
                "write_timeout": settings.statement_timeout + 5,
                "init_command": "SET SESSION innodb_lock_wait_timeout = "
                                f"{int(settings.statement_timeout)}"}
        elif self.backend == "postgresql":
            kwargs["connect_args"] = {
                "connect_timeout": settings.connect_timeout,
                "options": f"-c statement_timeout={int(settings.statement_timeout * 1000)}"
                           f" -c lock_timeout={int(settings.statement_timeout * 1000)}",
                "keepalives": 1, "keepalives_idle": _KEEPALIVE_IDLE,
                "keepalives_interval": _KEEPALIVE_INTERVAL,
                "keepalives_count": _KEEPALIVE_COUNT,
                # Unacknowledged data (the server's host gone) fails the socket after this.
                "tcp_user_timeout": (settings.statement_timeout + 5) * 1000}
        engine = create_engine(self.url, **kwargs)
        _ping_when_idle(engine)
        if self.backend in ("mysql", "mariadb"):
            @event.listens_for(engine, "connect")
            def _keepalive(dbapi_conn: Any, conn_rec: Any) -> None:
                # PyMySQL has no keepalive option: set it on its socket.
                sock = getattr(dbapi_conn, "_sock", None)
                if sock is None:
                    return
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                for name, value in (("TCP_KEEPIDLE", _KEEPALIVE_IDLE),
                                    ("TCP_KEEPINTVL", _KEEPALIVE_INTERVAL),
                                    ("TCP_KEEPCNT", _KEEPALIVE_COUNT)):
                    if hasattr(socket, name):
                        sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
        return engine

    def _create_sqlite_engine(self) -> Engine:
        path = self.url.database
        in_memory = not path or path == ":memory:"
        busy = self.settings.statement_timeout
        queue = WriteQueue(None if in_memory else lock_path(path or ""))
        self._write_queue = queue
        # Durable commits flush the write-ahead log after COMMIT, not inside it (see
        # connection_class), so SQLite itself runs at NORMAL either way.
        wal = None if in_memory or not self.settings.sqlite_synchronous \
            else os.path.abspath(path or "") + "-wal"
        kwargs: dict[str, Any] = {"connect_args": {
            "timeout": busy, "check_same_thread": False,
            "factory": connection_class(queue, sync_after_commit=wal)}}
        if in_memory:
            from sqlalchemy.pool import StaticPool
            kwargs["poolclass"] = StaticPool
        engine = create_engine(self.url, **kwargs)

        @event.listens_for(engine, "do_connect")
        def _make_dir(dialect: Any, conn_rec: ConnectionPoolEntry, cargs: list[Any],
                      cparams: dict[str, Any]) -> None:
            if path and not in_memory:
                os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, conn_rec: ConnectionPoolEntry) -> None:
            # Take transaction control from pysqlite so BEGIN IMMEDIATE and savepoints work.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy * 1000)}")
            if not in_memory:
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front: a deferred transaction that reads then
            # writes can fail at once with SQLITE_BUSY, which the busy timeout cannot wait out.
            if conn.get_execution_options().get("neutrino_readonly"):
                conn.exec_driver_sql("BEGIN")
                return
            # Writers queue for their turn (sqlite_writes) rather than poll in SQLite's
            # busy handler; readers never wait in WAL mode.
            raw = conn.connection.driver_connection
            queued = _take_turn(queue, raw, busy)
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                if queued:
                    queue.release(raw)
                raise

        return engine

    @contextmanager
    def session(self, readonly: bool = False) -> Iterator[Session]:
        """A Session in one transaction: committed when the block ends, rolled back on error.

        `readonly` lets SQLite readers run beside a writer. On PostgreSQL its statements
        run without BEGIN and COMMIT: at READ COMMITTED each statement sees the data as of
        its own start inside a transaction too, so only the two round trips go.
        """
        bind = self._readonly_bind if readonly else self.engine
        session = self._sessions(bind=bind)
        committing = False
        try:
            with session.begin():
                yield session
                # Last thing before COMMIT: a request already answered (timed out) must
                # not have its change appear later; raising here rolls it back.
                check_deadline()
                session.flush()  # errors of pending changes are not the COMMIT's
                committing = True
        except DBAPIError as exc:
            if committing and not readonly and self.backend != "sqlite" \
                    and lost_connection(exc):
                raise CommitUnknown(str(exc)) from exc
            raise
        finally:
            session.close()

    def transaction(self, fn: Callable[[Session], T], *, readonly: bool = False,
                    max_attempts: int = 20) -> T:
        """Run fn(session) in one transaction, again from scratch (after a short random
        pause) when it loses a race to another transaction or its connection drops."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.session(readonly=readonly) as session:
                    return fn(session)
            except Exception as exc:
                if attempt >= max_attempts or not is_retriable(exc):
                    raise
                check_deadline()  # no new attempt for a request already answered
                LOG.debug("transaction attempt %d failed (%s); retrying", attempt, exc)
                time.sleep(random.uniform(0, min(0.01 * 2 ** attempt, 0.5)))

    def upgrade(self, revision: str = "head") -> None:
        """Alembic upgrade to `revision` (head by default). Replicas starting together on
        an empty database take turns: the second finds the schema done."""
        from alembic import command
        with _ALEMBIC, self._migrations() as conn, self._migration_lock(conn):
            command.upgrade(self._alembic_config(conn), revision)

    def downgrade(self, revision: str) -> None:
        from alembic import command
        with _ALEMBIC, self._migrations() as conn, self._migration_lock(conn):
            command.downgrade(self._alembic_config(conn), revision)

    @contextmanager
    def _migrations(self) -> Iterator[Connection]:
        """A connection in a transaction, without the API's statement and read timeouts."""
        if self.backend == "sqlite":
            with self._sqlite_migrations() as conn:
                yield conn
            return
        engine = self._create_engine(False)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()

    @contextmanager
    def _sqlite_migrations(self) -> Iterator[Connection]:
        """SQLite alters a table by copying it and dropping the old one; with foreign keys
        on, that DROP deletes (and cascades to) every row referring to it, or fails. So
        foreign keys are off while migrations run (the pragma cannot change inside a
        transaction) and checked as a whole before the commit."""
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            raw.execute("PRAGMA foreign_keys=OFF")
            try:
                with conn.begin():
                    yield conn
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken references: {broken[:5]}")
            finally:
                raw.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def _migration_lock(self, conn: Connection) -> Iterator[None]:
        """A database-wide lock around migrations (SQLite's BEGIN IMMEDIATE is one already)."""
        if self.backend == "postgresql":
            # Released with the transaction the migration runs in (PostgreSQL's DDL is
            # transactional, so the waiter then sees the finished schema).
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
            yield
        elif self.backend in ("mysql", "mariadb"):
            got = conn.execute(text("SELECT GET_LOCK(:name, :timeout)"),
                               {"name": "neutrino-migrations", "timeout": 600}).scalar()
            if got != 1:
                raise DatabaseUnreachable("timed out waiting for another migration to finish")
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": "neutrino-migrations"})
        else:
            yield

    def current_revision(self) -> str | None:
        from alembic.migration import MigrationContext
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def head_revision(self) -> str | None:
        from alembic.script import ScriptDirectory
        return ScriptDirectory.from_config(self._alembic_config(None)).get_current_head()

    def _alembic_config(self, connection: Connection | None) -> Config:
        from alembic.config import Config
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        return config

    def wait_until_reachable(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Block until a trivial query succeeds; `max_retries` -1 waits forever."""
        attempt = 0
        while True:
            try:
                with self.engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
                return
            except DBAPIError as exc:
                if _is_permanent_connect_error(exc):
                    raise DatabaseUnreachable(
                        f"database {self.url.render_as_string(hide_password=True)} refused "
                        f"the connection: {exc.orig}") from exc
                attempt += 1
                retries = self.settings.max_retries
                if retries >= 0 and attempt > retries:
                    raise DatabaseUnreachable(
                        f"database {self.url.render_as_string(hide_password=True)} "
                        f"unreachable after {attempt} attempts: {exc.orig}") from exc
                LOG.warning("database unreachable (%s); retry %d in %ss", exc.orig, attempt,
                            self.settings.retry_interval)
                sleep(self.settings.retry_interval)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._write_queue is not None:
            self._write_queue.close()
