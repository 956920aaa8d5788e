"""How many requests an API worker serves at once."""

from neutrino.api.app import (
    SERVER_REQUEST_THREADS,
    SQLITE_REQUEST_THREADS,
    request_threads,
)


def test_the_operator_says_or_the_database_decides():
    assert request_threads(7, "sqlite") == 7
    assert request_threads(7, "postgresql") == 7
    assert request_threads(None, "sqlite") == SQLITE_REQUEST_THREADS == 2
    for dialect in ("postgresql", "mysql", "mariadb"):
        assert request_threads(None, dialect) == SERVER_REQUEST_THREADS == 40

