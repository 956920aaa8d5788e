"""The Database wrapper: URLs, SQLite set-up, sessions, retries, reachability."""

from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from neutrino.conf.settings import DatabaseSettings
from neutrino.db import engine as engine_module
from neutrino.db import models, sqlite_writes
from neutrino.db.engine import (
    Database,
    DatabaseUnreachable,
    RetryRequest,
    integrity_kind,
    normalize_url,
)


@pytest.mark.parametrize(("given", "driver"), [
    ("mysql://u:p@h/db", "mysql+pymysql"),
    ("mysql+pymysql://u:p@h/db", "mysql+pymysql"),
    ("mariadb://u:p@h/db", "mariadb+pymysql"),
    ("postgresql://u@h/db", "postgresql+psycopg"),
    ("postgres://u@h/db", "postgresql+psycopg"),
    ("sqlite:////tmp/x.sqlite", "sqlite"),
])
def test_url_drivers(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


def test_sqlite_creates_directory_and_sets_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deeper" / "neutrino.sqlite"
    db = Database(DatabaseSettings(f"sqlite:///{path}"))
    assert not path.parent.exists()  # constructing does no I/O
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            # Durable all the same: commits flush the log themselves (see below).
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert path.exists()
    finally:
        db.dispose()


def test_sqlite_synchronous_false_syncs_at_checkpoints_only(tmp_path: Path) -> None:
    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'n.sqlite'}",
                                   sqlite_synchronous=False))
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        db.dispose()


def _flushes(monkeypatch: pytest.MonkeyPatch, db: Database) -> list[tuple[str, bool]]:
    """The files flushed by commits, each with whether the writers' turn was free then."""
    flushed: list[tuple[str, bool]] = []

    def record(path: str) -> None:
        flushed.append((path, not db._write_queue._turn.locked()))
        real_sync(path)

    real_sync = sqlite_writes.sync_file
    monkeypatch.setattr(sqlite_writes, "sync_file", record)
    return flushed


def test_sqlite_commit_flushes_the_log_after_giving_up_the_turn(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "n.sqlite"
    db = Database(DatabaseSettings(f"sqlite:///{path}"))
    try:
        models.Base.metadata.create_all(db.engine)
        flushed = _flushes(monkeypatch, db)
        with db.session() as s:
            s.add(_network("11111111-1111-1111-1111-111111111111"))
        # Once, on the write-ahead log, with the next writer free to start.
        assert flushed == [(f"{path}-wal", True)]
        with db.session(readonly=True) as s:
            assert s.scalar(select(models.Network.name)) == "n"
        with db.session() as s:  # a write transaction that changed nothing
            s.execute(select(models.Network.id)).all()
        assert len(flushed) == 1
    finally:
        db.dispose()


def test_sqlite_synchronous_false_commits_without_flushing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'n.sqlite'}",
                                   sqlite_synchronous=False))
    try:
        models.Base.metadata.create_all(db.engine)
        flushed = _flushes(monkeypatch, db)
        with db.session() as s:
            s.add(_network("11111111-1111-1111-1111-111111111111"))
        assert flushed == []
    finally:
        db.dispose()


def test_sqlite_failed_flush_is_an_error_not_a_success(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(DatabaseSettings(f"sqlite:///{tmp_path / 'n.sqlite'}"))
    try:
        models.Base.metadata.create_all(db.engine)

        def broken(path: str) -> None:
            raise OSError(errno.EIO, "Input/output error")
        monkeypatch.setattr(sqlite_writes, "sync_file", broken)
        with pytest.raises(OperationalError, match="may not be on disk"):
            db.transaction(lambda s: s.add(_network("11111111-1111-1111-1111-111111111111")))
        # Not run again (a second port, say): the commit itself went through once.
        with db.session(readonly=True) as s:
            assert s.scalar(select(func.count()).select_from(models.Network)) == 1
    finally:
        db.dispose()


def test_sync_file_flushes_a_file_and_passes_over_a_missing_one(tmp_path: Path) -> None:
    log = tmp_path / "db-wal"
    log.write_bytes(b"frames")
    sqlite_writes.sync_file(str(log))
    sqlite_writes.sync_file(str(tmp_path / "gone-wal"))  # checkpointed and removed


def _network(net_id: str) -> models.Network:
    from datetime import datetime
    now = datetime(2026, 1, 1)
    return models.Network(id=net_id, project_id="p", name="n", status="ACTIVE", mtu=1500,
                          created_at=now, updated_at=now)


def test_session_commits_and_rolls_back(database: Database) -> None:
    with database.session() as s:
        s.add(_network("n1"))
    with pytest.raises(RuntimeError):
        with database.session() as s:
            s.add(_network("n2"))
            s.flush()
            raise RuntimeError("boom")
    with database.session() as s:
        assert s.scalars(select(models.Network.id)).all() == ["n1"]


def test_foreign_keys_enforced_and_classified(database: Database) -> None:
    from datetime import datetime
    now = datetime(2026, 1, 1)
    with pytest.raises(IntegrityError) as err:
        with database.session() as s:
            s.add(models.Subnet(id="s1", project_id="p", network_id="missing", ip_version=4,
                                cidr="10.0.0.0/24", created_at=now, updated_at=now))
    assert integrity_kind(err.value) == "foreign_key"
    with database.session() as s:
        s.add(_network("n1"))
    with pytest.raises(IntegrityError) as err:
        with database.session() as s:
            s.add(_network("n1"))
    assert integrity_kind(err.value) == "duplicate"


def test_transaction_retries_on_request(sqlite_database: Database) -> None:
    calls = []

    def work(s):  # noqa: ANN001, ANN202
        calls.append(1)
        s.add(_network(f"n{len(calls)}"))
        if len(calls) < 3:
            s.flush()
            raise RetryRequest()
        return len(calls)

    assert sqlite_database.transaction(work) == 3
    with sqlite_database.session() as s:
        # The first two attempts were rolled back.
        assert s.scalars(select(models.Network.id)).all() == ["n3"]


def test_transaction_gives_up_and_does_not_retry_other_errors(sqlite_database: Database) -> None:
    calls = []

    def always(s):  # noqa: ANN001, ANN202
        calls.append(1)
        raise RetryRequest()

    with pytest.raises(RetryRequest):
        sqlite_database.transaction(always, max_attempts=4)
    assert len(calls) == 4
    calls.clear()

    def broken(s):  # noqa: ANN001, ANN202
        calls.append(1)
        raise ValueError("not a race")

    with pytest.raises(ValueError):
        sqlite_database.transaction(broken)
    assert len(calls) == 1


@pytest.mark.parametrize("in_savepoint", [False, True])
def test_transaction_survives_deadlocks(server_database: Database, in_savepoint: bool) -> None:
    """Two transactions lock two rows in opposite orders; the loser is retried, both end.
    Also when the deadlock strikes inside a savepoint (MariaDB then reports the failed
    rollback to the savepoint, not the deadlock). SQLite cannot deadlock: it takes its one
    write lock at BEGIN."""
    database = server_database
    with database.session() as s:
        s.add_all([_network("a"), _network("b")])
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []
    attempts = {"x": 0, "y": 0}

    def worker(first: str, second: str, key: str) -> None:
        def work(s):  # noqa: ANN001, ANN202
            attempts[key] += 1
            s.execute(text("UPDATE networks SET name = :k WHERE id = :i"),
                      {"k": key, "i": first})
            if attempts[key] == 1:
                try:
                    barrier.wait()
                except threading.BrokenBarrierError:
                    pass
            savepoint = s.begin_nested() if in_savepoint else None
            s.execute(text("UPDATE networks SET name = :k WHERE id = :i"),
                      {"k": key, "i": second})
            if savepoint is not None:
                savepoint.commit()
        try:
            database.transaction(work)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=("a", "b", "x")),
               threading.Thread(target=worker, args=("b", "a", "y"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert attempts["x"] + attempts["y"] == 3  # exactly one loser, run twice
    with database.session() as s:
        names = set(s.scalars(select(models.Network.name)).all())
    assert len(names) == 1  # one transaction's both updates won, serially


def test_wait_until_reachable_gives_up(tmp_path: Path) -> None:
    db = Database(DatabaseSettings("mysql://root@127.0.0.1:1/nothing", retry_interval=0,
                                   max_retries=2))
    sleeps: list[float] = []
    try:
        with pytest.raises(DatabaseUnreachable):
            db.wait_until_reachable(sleep=sleeps.append)
    finally:
        db.dispose()
    assert sleeps == [0, 0]


def test_wait_until_reachable(database: Database) -> None:
    database.wait_until_reachable(sleep=lambda _: pytest.fail("should not wait"))


def test_transaction_survives_a_connection_killed_in_flight(server_database: Database) -> None:
    """The server drops our connection mid-transaction (failover, restart, idle kill): the
    transaction runs again on a fresh connection."""
    db = server_database
    attempts: list[int] = []

    def work(s):  # noqa: ANN001, ANN202
        attempts.append(1)
        if db.backend == "postgresql":
            pid = s.execute(text("SELECT pg_backend_pid()")).scalar()
            kill = text("SELECT pg_terminate_backend(:pid)")
        else:
            pid = s.execute(text("SELECT CONNECTION_ID()")).scalar()
            kill = text(f"KILL {int(pid)}")
        if len(attempts) == 1:
            with db.engine.connect() as other:
                other.execute(kill, {"pid": pid})
                other.commit()
        s.add(_network("survivor"))
        s.flush()
        return len(attempts)

    assert db.transaction(work) == 2
    with db.session() as s:
        assert s.scalars(select(models.Network.id)).all() == ["survivor"]


def _backend_pid(s) -> int:  # noqa: ANN001
    query = "SELECT pg_backend_pid()" if s.bind.dialect.name == "postgresql" \
        else "SELECT CONNECTION_ID()"
    return int(s.execute(text(query)).scalar())


def _kill(db: Database, pid: int) -> None:
    kill = "SELECT pg_terminate_backend(:pid)" if db.backend == "postgresql" \
        else f"KILL {int(pid)}"
    other = create_engine(db.url, poolclass=NullPool)  # not one of the pool's
    try:
        with other.begin() as conn:
            conn.execute(text(kill), {"pid": pid})
    finally:
        other.dispose()


def test_a_connection_idle_for_a_while_is_pinged_and_a_dead_one_replaced(
        server_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    db = server_database
    db.engine.dispose()  # one connection in the pool from here: the one killed
    with db.session() as s:
        pid = _backend_pid(s)
    _kill(db, pid)
    # Idle past the limit (0 s): checked out, it is pinged, found dead and replaced, so
    # the session's first statement runs, outside any retry.
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 0.0)
    with db.session() as s:
        assert _backend_pid(s) != pid


def test_a_connection_back_a_moment_ago_is_not_pinged(
        server_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # No round trip for a ping under load: a connection that died within the limit fails
    # its first statement (the transaction retry's business, tested above).
    db = server_database
    monkeypatch.setattr(engine_module, "PING_AFTER_IDLE", 3600.0)
    db.engine.dispose()
    with db.session() as s:
        pid = _backend_pid(s)
    _kill(db, pid)
    with pytest.raises(OperationalError), db.session() as s:
        _backend_pid(s)
    assert db.transaction(_backend_pid) != pid


def test_reads_on_postgresql_run_without_a_transaction(server_database: Database) -> None:
    """At READ COMMITTED a statement sees the commits before it, inside a transaction or
    not: read-only sessions skip BEGIN and COMMIT on PostgreSQL; writes keep them."""
    db = server_database

    def status(s) -> str:  # noqa: ANN001
        s.execute(text("SELECT 1"))
        raw = s.connection().connection.driver_connection
        if db.backend == "postgresql":
            return raw.info.transaction_status.name
        return "INTRANS" if s.in_transaction() else "IDLE"

    for _ in range(2):  # the same pooled connection, read then written
        with db.session(readonly=True) as s:
            assert status(s) == ("IDLE" if db.backend == "postgresql" else "INTRANS")
        with db.session() as s:
            assert status(s) == "INTRANS"


def test_missing_database_fails_at_once(server_database: Database) -> None:
    url = server_database.url.set(database="nt_missing_db_x").render_as_string(
        hide_password=False)
    db = Database(DatabaseSettings(url, retry_interval=0, max_retries=5))
    sleeps: list[float] = []
    try:
        with pytest.raises(DatabaseUnreachable, match="refused the connection"):
            db.wait_until_reachable(sleep=sleeps.append)
    finally:
        db.dispose()
    assert sleeps == []
