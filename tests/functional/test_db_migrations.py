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


def test_replicas_upgrading_an_empty_database_at_once(empty_database_url: str) -> None:
    import threading

    from neutrino.conf.settings import DatabaseSettings
    replicas = [Database(DatabaseSettings(empty_database_url)) for _ in range(3)]
    barrier = threading.Barrier(len(replicas), timeout=30)
    errors: list[BaseException] = []

    def start(db: Database) -> None:
        barrier.wait()
        try:
            db.upgrade()
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=start, args=(db,)) for db in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        assert replicas[0].current_revision() == replicas[0].head_revision()
        assert _diff(replicas[0]) == []
    finally:
        for db in replicas:
            db.dispose()
