"""Databases for functional tests.

`database` runs a test on every backend named in NEUTRINO_TEST_DBS (comma list, default
`sqlite,mariadb,postgresql`). Each run gets its own database `nt_<random>` on the server,
upgraded to head, dropped afterwards whether the test passed or not. `sqlite_database` is
the fast one for behaviour that does not depend on the backend.

Servers: NEUTRINO_TEST_MARIADB_URL (default mysql://root@127.0.0.1:3306/) and
NEUTRINO_TEST_POSTGRESQL_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from neutrino.conf.settings import DatabaseSettings
from neutrino.db.engine import Database, normalize_url

BACKENDS = ("sqlite", "mariadb", "postgresql")
SERVER_URLS = {
    "mariadb": os.environ.get("NEUTRINO_TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/"),
    "postgresql": os.environ.get("NEUTRINO_TEST_POSTGRESQL_URL",
                                 "postgresql://postgres@127.0.0.1:5432/test"),
}


def selected_backends() -> list[str]:
    names = [n.strip() for n in os.environ.get("NEUTRINO_TEST_DBS", ",".join(BACKENDS))
             .split(",") if n.strip()]
    unknown = set(names) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"NEUTRINO_TEST_DBS: unknown backends {sorted(unknown)}")
    return names


@contextmanager
def scratch_database_url(backend: str, tmp_dir: Path) -> Iterator[str]:
    """A new empty database on `backend`; yields its URL and drops it on the way out."""
    name = "nt_" + secrets.token_hex(6)
    if backend == "sqlite":
        yield f"sqlite:///{tmp_dir / (name + '.sqlite')}"
        return
    admin_url = normalize_url(SERVER_URLS[backend])
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "mariadb":
                conn.execute(text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
            else:
                conn.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield make_url(SERVER_URLS[backend]).set(database=name).render_as_string(
                hide_password=False)
        finally:
            with admin.connect() as conn:
                if backend == "mariadb":
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
                else:
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        admin.dispose()


@contextmanager
def upgraded_database(backend: str, tmp_dir: Path) -> Iterator[Database]:
    with scratch_database_url(backend, tmp_dir) as url:
        db = Database(DatabaseSettings(url, retry_interval=1, max_retries=3))
        try:
            db.upgrade()
            yield db
        finally:
            db.dispose()


STALE_AFTER_SECONDS = 2 * 3600


def _sweep_stale(backend: str) -> None:
    """Drop scratch databases a killed run (SIGKILL skips finalizers) left behind: only
    `nt_` ones hours old that nobody is connected to."""
    admin = create_engine(normalize_url(SERVER_URLS[backend]), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if backend == "postgresql":
                rows = conn.execute(text(
                    "SELECT d.datname FROM pg_database d WHERE d.datname LIKE 'nt\\_%' "
                    "AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
                    "WHERE a.datname = d.datname) AND now() - (pg_stat_file("
                    "'base/' || d.oid || '/PG_VERSION')).modification "
                    "> make_interval(secs => :age)"), {"age": STALE_AFTER_SECONDS})
            else:
                rows = conn.execute(text(
                    "SELECT t.table_schema FROM information_schema.tables t "
                    "WHERE t.table_schema LIKE 'nt\\_%' GROUP BY t.table_schema "
                    "HAVING MAX(t.create_time) < NOW() - INTERVAL :age SECOND "
                    "AND t.table_schema NOT IN (SELECT p.db FROM "
                    "information_schema.processlist p WHERE p.db IS NOT NULL)"),
                    {"age": STALE_AFTER_SECONDS})
            for (name,) in list(rows):
                if name.startswith("nt_") and name[3:].isalnum():
                    conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
    except Exception:  # noqa: BLE001 - sweeping is best effort; the tests decide
        pass
    finally:
        admin.dispose()


def pytest_sessionstart(session: pytest.Session) -> None:
    for backend in selected_backends():
        if backend != "sqlite":
            _sweep_stale(backend)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        metafunc.parametrize("database", selected_backends(), indirect=True)
    servers = [b for b in selected_backends() if b != "sqlite"]
    for name in ("server_database", "empty_database_url"):
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, servers, indirect=True)


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with upgraded_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """Like `database`, on the client/server backends only (concurrency: SQLite runs one
    writer at a time, so races there prove nothing)."""
    with upgraded_database(request.param, tmp_path) as db:
        yield db


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new database without any schema on a server backend (dropped afterwards)."""
    with scratch_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One upgraded SQLite file, copied for each test instead of migrating every time."""
    path = tmp_path_factory.mktemp("nt_template") / "template.sqlite"
    db = Database(DatabaseSettings(f"sqlite:///{path}"))
    try:
        db.upgrade()
    finally:
        # Closing the last connection checkpoints the WAL into the file we copy.
        db.dispose()
    return path


@pytest.fixture
def sqlite_database(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / ("nt_" + secrets.token_hex(6) + ".sqlite")
    shutil.copyfile(_sqlite_template, path)
    db = Database(DatabaseSettings(f"sqlite:///{path}"))
    try:
        yield db
    finally:
        db.dispose()


class SteppingClock:
    """A settable clock for core (naive UTC)."""

    def __init__(self) -> None:
        from datetime import datetime
        self.current = datetime(2026, 11, 25, 22, 31, 53)

    def now(self):  # noqa: ANN201
        return self.current

    def advance(self, seconds: float) -> None:
        from datetime import timedelta
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> SteppingClock:
    return SteppingClock()
