"""SQLite writers' queue (neutrino.db.sqlite_writes): every write transaction holds the lock
file `<database>.wlock` from its BEGIN to its end, readers never take it, a writer that
cannot get it in time fails as a busy SQLite does, and a holder's death frees it."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from neutrino.conf.settings import DatabaseSettings
from neutrino.db.engine import Database, DeadlineExceeded, deadline, is_retriable

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _open(path: Path, timeout: int = 30) -> Database:
    return Database(DatabaseSettings(f"sqlite:///{path}", statement_timeout=timeout))


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "queue.sqlite"
    db = _open(path)
    try:
        with db.session() as s:
            s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    finally:
        db.dispose()
    yield path


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = _open(db_path)
    try:
        yield database
    finally:
        database.dispose()


def _open_lock(db_path: Path) -> int:
    """The writers' lock file as another process opens it: another open file, as far as
    flock is concerned."""
    return os.open(f"{db_path}.wlock", os.O_RDONLY)


def lock_is_free(db_path: Path) -> bool:
    """Whether another process could take the writers' lock now."""
    fd = _open_lock(db_path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        return True
    finally:
        os.close(fd)  # drops the lock if taken


class ExternalHolder:
    """The writers' lock held as another process would hold it."""

    def __init__(self, db_path: Path) -> None:
        self.fd = _open_lock(db_path)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self) -> None:
        os.close(self.fd)


def _count(db: Database) -> int:
    with db.session(readonly=True) as s:
        return int(s.execute(text("SELECT count(*) FROM t")).scalar_one())


def test_lock_held_from_begin_to_commit_only(db: Database, db_path: Path) -> None:
    assert lock_is_free(db_path)
    with db.session() as s:
        s.execute(text("INSERT INTO t (who) VALUES ('a')"))
        assert not lock_is_free(db_path)
    assert lock_is_free(db_path)

    with pytest.raises(RuntimeError), db.session() as s:
        s.execute(text("INSERT INTO t (who) VALUES ('b')"))
        assert not lock_is_free(db_path)
        raise RuntimeError("roll back")
    assert lock_is_free(db_path)
    assert _count(db) == 1


def test_readers_take_no_lock(db: Database, db_path: Path) -> None:
    holder = ExternalHolder(db_path)
    try:
        with db.session(readonly=True) as s:
            assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        holder.release()


def test_lock_released_when_connection_invalidated(db: Database, db_path: Path) -> None:
    with db.engine.connect() as conn:
        conn.begin()
        conn.execute(text("INSERT INTO t (who) VALUES ('a')"))
        assert not lock_is_free(db_path)
        conn.invalidate()
        assert lock_is_free(db_path)
    with db.session() as s:  # and the next writer gets its turn
        s.execute(text("INSERT INTO t (who) VALUES ('b')"))
    assert _count(db) == 1


def test_writer_waits_for_the_lock_then_writes(db: Database, db_path: Path) -> None:
    holder = ExternalHolder(db_path)
    done = threading.Event()

    def write() -> None:
        with db.session() as s:
            s.execute(text("INSERT INTO t (who) VALUES ('waited')"))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert not done.wait(0.5)  # queued behind the holder, not failed, not through
    finally:
        holder.release()
    writer.join(timeout=30)
    assert done.is_set()
    assert _count(db) == 1


def test_writer_blocked_past_busy_timeout_gets_busy_error(db_path: Path) -> None:
    db = _open(db_path, timeout=1)
    holder = ExternalHolder(db_path)
    try:
        with pytest.raises(OperationalError, match="database is locked") as caught:
            db.transaction(lambda s: s.execute(text("INSERT INTO t (who) VALUES ('x')")),
                           max_attempts=1)
        assert is_retriable(caught.value)
        # Another thread of the same process waits on the process's turn, not the file.
        errors: list[BaseException] = []

        def second() -> None:
            try:
                with db.session() as s:
                    s.execute(text("INSERT INTO t (who) VALUES ('y')"))
            except BaseException as err:  # noqa: BLE001 - recorded for the assertion
                errors.append(err)
        threads = [threading.Thread(target=second) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(errors) == 2
        assert all(isinstance(e, OperationalError) and is_retriable(e) for e in errors)
    finally:
        holder.release()
    with db.session() as s:  # a timed-out wait leaves nothing held behind
        s.execute(text("INSERT INTO t (who) VALUES ('z')"))
    assert lock_is_free(db_path)
    db.dispose()


def test_request_deadline_ends_the_wait(db: Database, db_path: Path) -> None:
    """A request past its deadline stops queueing (busy timeout 30 s here): its
    transaction never starts, even when the lock frees up soon after."""
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: statements.append(statement))
    holder = ExternalHolder(db_path)
    at = time.monotonic() + 0.3
    releaser = threading.Timer(1.0, holder.release)  # after the deadline
    releaser.start()
    try:
        with deadline(at), pytest.raises(DeadlineExceeded):
            db.transaction(lambda s: s.execute(text("INSERT INTO t (who) VALUES ('x')")),
                           max_attempts=1)
    finally:
        releaser.join()
    assert statements == []
    # The turn it gave up passes on: the next writer gets it, and leaves the lock free.
    with db.session() as s:
        s.execute(text("INSERT INTO t (who) VALUES ('next')"))
    assert lock_is_free(db_path)
    assert _count(db) == 1


def test_second_write_transaction_of_a_thread_does_not_wait_for_itself(tmp_path: Path
                                                                       ) -> None:
    """In memory, one connection serves all: a write inside a write fails at once, as
    SQLite says, rather than waiting for the turn its own thread holds."""
    db = Database(DatabaseSettings("sqlite://", statement_timeout=30))
    try:
        with db.session() as outer:
            outer.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            with pytest.raises(OperationalError, match="within a transaction"), \
                    db.session() as inner:
                inner.execute(text("INSERT INTO t DEFAULT VALUES"))
    finally:
        db.dispose()


def test_in_memory_writers_of_many_threads_take_turns() -> None:
    db = Database(DatabaseSettings("sqlite://"))
    try:
        with db.session() as s:
            s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
        errors: list[BaseException] = []

        def write(who: str) -> None:
            try:
                for _ in range(20):
                    with db.session() as s:
                        s.execute(text("INSERT INTO t (who) VALUES (:w)"), {"w": who})
            except BaseException as err:  # noqa: BLE001 - recorded for the assertion
                errors.append(err)
        threads = [threading.Thread(target=write, args=(str(i),)) for i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        with db.session() as s:
            assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 80
    finally:
        db.dispose()


WRITER = """
import sys, threading
from sqlalchemy import event, text
from neutrino.conf.settings import DatabaseSettings
from neutrino.db.engine import Database
db = Database(DatabaseSettings("sqlite:///" + sys.argv[1]))
errors = []
def write(n):
    try:
        for i in range(int(sys.argv[2])):
            db.transaction(lambda s: s.execute(text("INSERT INTO t (who) VALUES (:w)"),
                                               {"w": f"{sys.argv[3]}-{n}-{i}"}))
    except BaseException as err:
        errors.append(err)
threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
for t in threads: t.start()
for t in threads: t.join()
db.dispose()
print(repr(errors))
sys.exit(1 if errors else 0)
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [SRC, *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_processes_writing_one_file_all_succeed(db: Database, db_path: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), "25", name],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for name in ("p1", "p2", "p3")]
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0, out.decode()
    assert _count(db) == 3 * 4 * 25
    assert lock_is_free(db_path)


HOLDER = """
import sys, time
from sqlalchemy import event, text
from neutrino.conf.settings import DatabaseSettings
from neutrino.db.engine import Database
db = Database(DatabaseSettings("sqlite:///" + sys.argv[1]))
with db.session() as s:
    s.execute(text("INSERT INTO t (who) VALUES ('dies')"))
    print("holding", flush=True)
    time.sleep(600)
"""


def test_killed_holder_releases_the_lock(db: Database, db_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db_path)], env=_env(),
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"holding\n"
        assert not lock_is_free(db_path)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
    assert lock_is_free(db_path)
    with db.session() as s:
        s.execute(text("INSERT INTO t (who) VALUES ('after')"))
    with db.session(readonly=True) as s:
        assert s.execute(text("SELECT who FROM t")).scalars().all() == ["after"]
