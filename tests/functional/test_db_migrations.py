"""`upgrade head` builds exactly the schema of neutrino.db.models, on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from neutrino.db.engine import Database
from neutrino.db.models import Base


def _diff(db: Database) -> list:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)


def test_upgrade_head_matches_models(database: Database) -> None:
    assert database.current_revision() == database.head_revision()
    assert _diff(database) == []
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def test_unique_constraints_exist(database: Database) -> None:
    insp = inspect(database.engine)
    names = {uc["name"] for uc in insp.get_unique_constraints("ports")}
    # MariaDB reports unique constraints as unique indexes.
    names |= {ix["name"] for ix in insp.get_indexes("ports") if ix.get("unique")}
    assert "uniq_ports0network_id0mac_address" in names


def test_downgrade_to_base_and_up_again(database: Database) -> None:
    database.downgrade("base")
    assert database.current_revision() is None
    assert set(inspect(database.engine).get_table_names()) <= {"alembic_version"}
    database.upgrade()
    assert _diff(database) == []


def _replica(url: str, barrier, results) -> None:  # noqa: ANN001
    from neutrino.conf.settings import DatabaseSettings
    db = Database(DatabaseSettings(url))
    try:
        barrier.wait(60)
        db.upgrade()
        results.put("ok")
    except BaseException as err:  # noqa: BLE001
        results.put(f"{type(err).__name__}: {err}")
    finally:
        db.dispose()


def test_replicas_upgrading_an_empty_database_at_once(empty_database_url: str) -> None:
    """Server replicas (processes) start together on an empty database: each upgrades, the
    database-wide lock makes them take turns, and none fails."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(3), ctx.Queue()
    procs = [ctx.Process(target=_replica, args=(empty_database_url, barrier, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    try:
        outcomes = [results.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(30)
            if p.is_alive():
                p.kill()
    assert outcomes == ["ok"] * 3
    from neutrino.conf.settings import DatabaseSettings
    db = Database(DatabaseSettings(empty_database_url))
    try:
        assert db.current_revision() == db.head_revision()
        assert _diff(db) == []
    finally:
        db.dispose()
