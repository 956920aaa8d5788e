"""A connection lost during COMMIT is not retried (found by the fault test of issue 13: a
database cut mid-commit made the retry create the same port twice)."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event, func, insert, select

from neutrino.core import sqlerrors
from neutrino.db.engine import CommitUnknown
from neutrino.db.models import DhcpCast
from neutrino.lib import exceptions as exc


def kill_own_connection_before_commit(db) -> None:
    """At the first COMMIT, the server drops this session's connection."""
    admin = create_engine(db.url)
    fired = []

    @event.listens_for(db.engine, "commit")
    def before_commit(conn) -> None:
        if fired:
            return
        fired.append(True)
        if db.backend == "postgresql":
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with admin.connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        else:
            pid = conn.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
            with admin.connect() as other:
                other.exec_driver_sql(f"KILL {int(pid)}")
        admin.dispose()


def test_a_commit_that_lost_its_connection_is_not_run_again(server_database) -> None:
    db = server_database
    runs = []

    def work(session) -> None:
        runs.append(1)
        session.execute(insert(DhcpCast).values(id="x" * 36, host="h", method="m",
                                                payload="{}", created_at=func.now()))

    kill_own_connection_before_commit(db)
    with pytest.raises(CommitUnknown):
        db.transaction(work)
    assert len(runs) == 1  # once: run again, it could have made the change twice
    assert db.transaction(lambda s: s.scalar(select(func.count()).select_from(DhcpCast)),
                          readonly=True) in (0, 1)
    mapped = sqlerrors.to_neutron(CommitUnknown("lost"))
    assert isinstance(mapped, exc.ServiceUnavailable)
